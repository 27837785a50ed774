"""Shapes: typed nodes built with their shapes (``core``), shape inference
over a program (``inference``), tree utilities over typed DAGs (``dag``), and
how the input was read where matcalc decided (``reading``).  Imports only the
language."""
