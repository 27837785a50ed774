"""Sizes and random inputs for the numeric check (SPEC §5): the one
sampler of ``derive --check``, ``check``, ``grade`` and the API.

Dimensions get distinct small sizes (2, 3, 5, 7, ...), so that a transposed
answer cannot pass on square shapes; each variable is drawn by its declared
kind (``spd``, ``onehot``, ...), by a ``draw`` hint of the corpus, or by the
domain of the functions it feeds (``domain_draws``: log and sqrt take
positive inputs, an inverted matrix or Gram factor is drawn well
conditioned).

``Sampler`` searches for valid points: size assignments in the order of
``size_assignments`` (every ordering of the distinct sizes, then larger
sizes), a few draws each, until the objective is finite and every matrix it
inverts (``inv``, ``det``, ``logdet``, negative powers) is finite and has a
condition number at most ``COND_BOUND``.  Each rejected draw says which
subexpression was singular or not finite; when no point is found the
search's ``why`` names it and ``size_hint`` suggests numeric sizes.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..language.errors import MatcalcError
from ..language.evaluate import evaluate, evaluate_program, shape_sizes
from ..language.expr import SCALAR, Num, Op, Shape, Sym, free_symbols
from ..language.printer import to_text


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
    """How the functions in ``expr`` want their inputs drawn: ``{name:
    "positive"}`` for each input that is the direct argument (or the transpose
    of one) of log, sqrt or a fractional power (``sum(log(x))`` draws x positive), and ``{name:
    "invertible"}`` (full rank, condition number at most 2) for each matrix
    input that is inverted (``inv(A)``, ``det(A)``) or is a factor of a
    product that is (``inv(Xᵀ C X)``: X and C).  Anything less direct is left
    to the search of ``Sampler``."""
    out: dict[str, str] = {}
    for node in expr.walk():
        # x .^ p, x^(1/3): a power that is not a whole number needs x > 0
        fractional = (isinstance(node, Op) and node.op in ("pow", "epow")
                      and not (isinstance(node.args[1], Num) and node.args[1].value.denominator == 1))
        if isinstance(node, Op) and (node.op in POSITIVE_DOMAIN or fractional):
            arg = node.args[0]
            arg = arg.args[0] if isinstance(arg, Op) and arg.op == "T" else arg
            if isinstance(arg, Sym):
                out[arg.name] = "positive"
    for inverted in inverted_subexpressions(expr):
        for factor in _chain_factors(inverted):
            if factor.shape != SCALAR and 1 not in factor.shape:
                out.setdefault(factor.name, "invertible")
    return out


def _chain_factors(e) -> list:
    """The variables of a product chain of variables and their transposes
    (``Xᵀ C X`` -> X, C, X); [] when ``e`` is anything else."""
    if isinstance(e, Sym):
        return [e]
    if isinstance(e, Op) and e.op == "T":
        return _chain_factors(e.args[0])
    if isinstance(e, Op) and e.op == "matmul":
        parts = [_chain_factors(a) for a in e.args]
        return [f for p in parts for f in p] if all(parts) else []
    return []


# what an objective inverts: the argument of each of these must be well conditioned
INVERTING = {"inv", "det", "logdet"}
# an inverted matrix with a larger condition number counts as singular: finite
# differences of its inverse (error about cond² · step) could not be trusted
COND_BOUND = 1e6


def inverted_subexpressions(expr) -> list:
    """The matrices ``expr`` inverts (arguments of inv, det, logdet), in order."""
    out: list = []
    for node in expr.walk():
        if isinstance(node, Op) and node.op in INVERTING and node.args:
            arg = node.args[0]
            if arg.shape != SCALAR and arg not in out:
                out.append(arg)
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


# ---------------------------------------------------------------------------
# the search for valid points

BASES = 4             # size sets tried per round: primes from the j-th on, j = start ... start + 3
MAX_ORDERINGS = 24    # orderings of one size set (all of them up to 4 dimensions)
DRAWS_PER_SIZES = 4   # draws at one size assignment (kinks, unlucky draws)
MAX_DRAWS = 48        # draws in one search: the sampler bounds its own work


def _atomic(dims) -> list[str]:
    return [d for d in dict.fromkeys(dims) if isinstance(d, str) and "*" not in d]


def _orderings(base: tuple):
    """``base`` first, then its reverse, then the other orderings."""
    seen = set()
    for order in itertools.chain([base, base[::-1]], itertools.permutations(base)):
        if order not in seen:
            seen.add(order)
            yield order
            if len(seen) == MAX_ORDERINGS:
                return


def size_assignments(dims, start: int = 0, bases: int = BASES):
    """``(j, sizes)`` pairs: the j-th size set (distinct primes from the j-th
    on) in every ordering, for j = start, start + 1, ...: for ``["n", "m"]``
    from 0: (0, n=2 m=3), (0, n=3 m=2), (1, n=3 m=5), (1, n=5 m=3), ..."""
    names = _atomic(dims)
    primes = list(itertools.islice(_primes(), start + bases + len(names)))
    for j in range(start, start + bases):
        for order in _orderings(tuple(primes[j:j + len(names)])):
            yield j, dict(zip(names, order))


@dataclass
class Point:
    """A valid point: sizes, the inputs drawn, and where the search found it."""

    sizes: dict
    inputs: dict
    base: int = 0
    attempt: int = 0


@dataclass
class Rejection:
    """A draw the search rejected: at ``sizes``, ``subexpression`` was
    ``what`` ("singular", "ill conditioned", "not finite", "not evaluable")."""

    sizes: dict
    what: str
    subexpression: str
    detail: str = ""
    names: frozenset = frozenset()  # the inputs the subexpression reads

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.subexpression} is {self.what}{tail}"


def sizes_text(sizes: dict) -> str:
    return ", ".join(f"{d}={n}" for d, n in sizes.items()) or "no dimensions"


class Sampler:
    """The one sampler (SPEC §5): valid points for ``shapes`` (the inputs),
    drawn by ``kinds`` and ``draws``; with ``watch`` (the objective, typed)
    a point is valid only when the objective is finite and everything it
    inverts is finite with condition number at most ``COND_BOUND``.

    ``show(node)`` spells a subexpression for messages (default: its text).
    """

    def __init__(self, shapes: dict, kinds: dict, dims, draws: dict | None = None, watch=None, show=None):
        self.shapes, self.kinds, self.draws = shapes, dict(kinds or {}), dict(draws or {})
        self.dims = _atomic(dims)
        self.watch = watch
        self.inverted = inverted_subexpressions(watch) if watch is not None else []
        self.show = show or to_text
        self.rejections: list[Rejection] = []
        self.tried: list[dict] = []

    def points(self, seed: int = 0, round_: int = 0, start: int = 0):
        """Valid points, lazily: each size assignment from ``start`` on
        (``size_assignments``), ``DRAWS_PER_SIZES`` draws at each, at most
        ``MAX_DRAWS`` draws in all.  The first assignment's draws use the rng
        ``[seed, round_, attempt]``."""
        spent = 0
        for index, (base, sizes) in enumerate(size_assignments(self.dims, start)):
            self.tried.append(sizes)
            singular = 0
            for attempt in range(DRAWS_PER_SIZES):
                if spent == MAX_DRAWS:
                    return
                spent += 1
                key = [seed, round_, attempt] if index == 0 else [seed, round_, attempt, index]
                inputs = sample_inputs(self.shapes, self.kinds, sizes, np.random.default_rng(key), self.draws)
                why = self.invalid(inputs, sizes)
                if why is None:
                    yield Point(sizes, inputs, base, attempt)
                    continue
                self.rejections.append(why)
                singular += why.what == "singular"
                if singular == 2:  # singular at two draws: these sizes, not the draw
                    break

    def reject(self, sizes: dict, what: str, subexpression: str, detail: str = "") -> None:
        """A caller's reason to pass over a point (a kink, a non-finite gradient)."""
        self.rejections.append(Rejection(sizes, what, subexpression, detail))

    def invalid(self, inputs: dict, sizes: dict) -> Rejection | None:
        """Why the point is not valid, or None: each inverted matrix in turn
        (inner ones first) must be finite and well conditioned, then the
        objective finite."""
        if self.watch is None:
            return None
        for e in self.inverted:
            try:
                m = np.asarray(evaluate(e, inputs, sizes), dtype=float)
            except (MatcalcError, ArithmeticError, ValueError) as err:
                return self._rejection(sizes, "not evaluable", e, str(err))
            if not np.all(np.isfinite(m)):
                return self._rejection(sizes, "not finite", e)
            cond = float(np.linalg.cond(m)) if m.ndim == 2 else abs(float(m))
            if not cond <= COND_BOUND:
                what = "singular" if not cond < 1e12 else "ill conditioned"
                return self._rejection(sizes, what, e, f"condition number {cond:.0e} > {COND_BOUND:.0e}")
        try:
            value = np.asarray(evaluate(self.watch, inputs, sizes), dtype=float)
        except (MatcalcError, ArithmeticError, ValueError) as err:
            return self._rejection(sizes, "not evaluable", self.watch, str(err))
        if not np.all(np.isfinite(value)):
            culprit = first_non_finite(self.watch, inputs, sizes)
            return self._rejection(sizes, "not finite", culprit if culprit is not None else self.watch)
        return None

    def _rejection(self, sizes, what, node, detail: str = "") -> Rejection:
        return Rejection(sizes, what, self.show(node), detail, frozenset(free_symbols(node)))

    def why(self) -> str:
        """The reasons no point was found: each distinct reason once, with
        the sizes where it happened (and the first detail, such as a
        condition number)."""
        by_reason: dict[str, tuple] = {}
        for r in self.rejections:
            key = f"{r.subexpression} is {r.what}"
            detail, sizes = by_reason.setdefault(key, (r.detail, []))
            if r.sizes not in sizes:
                sizes.append(r.sizes)
        if not by_reason:
            return "no point was drawn"
        parts = []
        for reason, (detail, sizes) in by_reason.items():
            shown = "; ".join(sizes_text(s) for s in sizes[:4]) + ("; ..." if len(sizes) > 4 else "")
            parts.append(f"{reason}{f' ({detail})' if detail else ''} at sizes {shown}")
        return "; ".join(parts)

    def size_hint(self) -> str:
        """Numeric sizes to try: ``--where "X: (5, 3)"`` for the matrix
        inputs (two symbolic sizes) of the subexpressions that were singular
        or not finite, dimensions in order of appearance from large to small."""
        involved = set().union(*(r.names for r in self.rejections)) if self.rejections else set()
        matrices = [n for n, s in self.shapes.items()
                    if s != SCALAR and all(isinstance(d, str) and "*" not in d for d in s) and s[0] != s[1]]
        names = [n for n in matrices if n in involved] or matrices
        if not names:
            return ""
        primes = list(itertools.islice(_primes(), 1 + len(self.dims)))[1:]
        sizes = dict(zip(self.dims, sorted(primes, reverse=True)))
        parts = []
        for n in names[:3]:
            shape = ", ".join(str(sizes.get(d, d)) for d in self.shapes[n])
            parts.append(f'--where "{n}: ({shape})"')
        return " ".join(parts)

    def inconclusive(self, note: str = "") -> str:
        """The message of a search that found no valid point."""
        hint = self.size_hint()
        head = f"no valid point found ({len(self.rejections)} draws rejected over " \
               f"{len(self.tried)} size assignments)"
        text = f"{head}: {self.why()}" + (f"; {note}" if note else "")
        return text + (f"; try numeric sizes, e.g. {hint}" if hint else "")


def first_non_finite(expr, inputs: dict, sizes: dict):
    """The first subexpression of ``expr`` (children before parents) whose
    value is not finite, or None: ``log(det(Xᵀ X))`` -> ``log(det(Xᵀ X))``
    when det(XᵀX) = 0; at most 2,000 nodes are looked at."""
    nodes = [n for n in itertools.islice(expr.walk(), 2000) if isinstance(n, Op)]
    try:
        values = evaluate_program([], {k: n for k, n in enumerate(nodes)}, inputs, sizes)
    except (MatcalcError, ArithmeticError, ValueError):
        return None
    for k, n in enumerate(nodes):
        if not np.all(np.isfinite(np.asarray(values[k], dtype=float))):
            return n
    return None
