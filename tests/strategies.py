"""Hypothesis strategies for the matcalc language: random well-typed programs.

The generator itself is a plain function over a ``random.Random``
(``tests/fuzz_programs.py``), shared with the 10,000-program benchmark
(``bench/fuzz.py``).  Here hypothesis drives it through ``st.randoms``: every
random choice the generator makes is a choice hypothesis records, so a
failing program shrinks (fewer definitions, shallower expressions, fewer
variables) like any other example.
"""
from __future__ import annotations

from hypothesis import strategies as st

from fuzz_programs import FuzzCase, generate_case


def programs() -> st.SearchStrategy[FuzzCase]:
    """Random programs with a scalar objective J, the variables to
    differentiate with respect to, and how to draw their inputs."""
    return st.randoms(use_true_random=False).map(generate_case)
