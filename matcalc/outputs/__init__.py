"""Outputs: a result written out, every format from the same report: text
and JSON (``render``), LaTeX documents (``latex``), code for numpy, JAX and
PyTorch (``codegen`` over ``backends``), SymPy (``sympy_export``)."""
