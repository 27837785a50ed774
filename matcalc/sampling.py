"""Sizes and random inputs for the numeric check (SPEC §5).

Dimensions get distinct small sizes (2, 3, 5, 7, ...), so that a transposed
answer cannot pass on square shapes; each variable is drawn by its declared
kind (``spd``, ``onehot``, ...) or by a ``draw`` hint of the corpus.
"""
from __future__ import annotations

import numpy as np

from .errors import MatcalcError
from .evaluate import shape_sizes
from .expr import SCALAR, Shape


def _primes():
    n = 2
    while True:
        if all(n % p for p in range(2, int(n ** 0.5) + 1)):
            yield n
        n += 1


def assign_sizes(dims, avoid=()) -> dict[str, int]:
    """Distinct sizes 2, 3, 5, 7, 11, ... to the atomic dimensions in order,
    skipping the sizes in ``avoid``: ``assign_sizes(["n", "m"], avoid=(2,))``
    is ``{"n": 3, "m": 5}``.  Products such as ``"m*n"`` follow from their
    factors and get no size of their own."""
    sizes = (p for p in _primes() if p not in set(avoid))
    names = [d for d in dict.fromkeys(dims) if isinstance(d, str) and "*" not in d]
    return {d: next(sizes) for d in names}


def _orthonormal(n: int, k: int, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.sign(np.diagonal(r))  # a uniformly distributed frame


def _well_conditioned(rows: int, cols: int, rng) -> np.ndarray:
    # U diag(s) Vᵀ with singular values in [1, 2]: full rank, condition ≤ 2.
    k = min(rows, cols)
    s = rng.uniform(1.0, 2.0, k)
    return (_orthonormal(rows, k, rng) * s) @ _orthonormal(cols, k, rng).T


def _spd(n: int, rng) -> np.ndarray:
    q = _orthonormal(n, n, rng)
    a = (q * rng.uniform(1.0, 2.0, n)) @ q.T  # eigenvalues in [1, 2]
    return (a + a.T) / 2


def _rows_like(rows: int, cols: int, draw_vector, rng) -> np.ndarray:
    # one vector per row; a column vector is one vector
    if cols == 1 and rows > 1:
        return draw_vector(rows, rng).reshape(rows, 1)
    return np.stack([draw_vector(cols, rng) for _ in range(rows)])


def _onehot_vector(n: int, rng) -> np.ndarray:
    v = np.zeros(n)
    v[rng.integers(n)] = 1.0
    return v


def _distribution_vector(n: int, rng) -> np.ndarray:
    v = rng.uniform(0.5, 2.0, n)  # bounded away from 0, so log p stays tame
    return v / v.sum()


def _symmetric(n: int, rng) -> np.ndarray:
    a = rng.standard_normal((n, n))
    return (a + a.T) / 2


def _square(kind):
    def draw(rows, cols, rng):
        if rows != cols:
            raise MatcalcError(f"a {kind} matrix must be square, not {rows}×{cols}")
        return _spd(rows, rng) if kind == "spd" else _symmetric(rows, rng)
    return draw


# kind -> draw(rows, cols, rng)
DRAWS = {
    "normal": lambda r, c, rng: rng.standard_normal((r, c)),
    "symmetric": _square("symmetric"),
    "spd": _square("spd"),
    "invertible": _well_conditioned,
    "onehot": lambda r, c, rng: _rows_like(r, c, _onehot_vector, rng),
    "binary": lambda r, c, rng: rng.integers(0, 2, (r, c)).astype(float),
    "positive": lambda r, c, rng: rng.uniform(0.5, 2.0, (r, c)),
    "distribution": lambda r, c, rng: _rows_like(r, c, _distribution_vector, rng),
    # a declared integer (an exponent k of X^k): a small whole number ≥ 2
    "integer": lambda r, c, rng: rng.integers(2, 5, (r, c)).astype(float),
}
SYMMETRIC_KINDS = {"symmetric", "spd"}


# functions defined only for positive arguments: an input passed to one
# directly is drawn positive (log(x): x > 0), as a declared kind would be
POSITIVE_DOMAIN = {"log", "sqrt", "log1p"}


def domain_draws(expr) -> dict[str, str]:
    """``{name: "positive"}`` for each input that is the direct argument (or
    the transpose of one) of log or sqrt in ``expr``: ``sum(log(x))`` draws
    x positive.  Anything less direct is left to redraws."""
    from .expr import Num, Op, Sym

    out = {}
    for node in expr.walk():
        # x .^ p, x^(1/3): a power that is not a whole number needs x > 0
        fractional = (isinstance(node, Op) and node.op in ("pow", "epow")
                      and not (isinstance(node.args[1], Num) and node.args[1].value.denominator == 1))
        if isinstance(node, Op) and (node.op in POSITIVE_DOMAIN or fractional):
            arg = node.args[0]
            arg = arg.args[0] if isinstance(arg, Op) and arg.op == "T" else arg
            if isinstance(arg, Sym):
                out[arg.name] = "positive"
    return out


def kind_of(name: str, kinds: dict, draws: dict | None) -> str:
    """How ``name`` is drawn: its ``draw`` hint, else its declared kind, else normal."""
    kind = (draws or {}).get(name) or kinds.get(name) or "normal"
    if kind not in DRAWS:
        raise MatcalcError(f"cannot draw {name} of kind {kind!r}; kinds: {', '.join(sorted(DRAWS))}")
    return kind


def sample_inputs(shapes: dict[str, Shape], kinds: dict[str, str], dims_sizes: dict[str, int],
                  rng: np.random.Generator, draws: dict[str, str] | None = None) -> dict:
    """A random value for every variable in ``shapes``: 2-D float64 arrays, and
    floats for scalars."""
    env = {}
    for name, shape in shapes.items():
        kind = kind_of(name, kinds, draws)
        rows, cols = (1, 1) if shape == SCALAR else shape_sizes(shape, dims_sizes)
        value = DRAWS[kind](rows, cols, rng)
        env[name] = float(value[0, 0]) if shape == SCALAR else value
    return env
