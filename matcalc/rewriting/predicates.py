"""Side conditions of rules: named predicates over the typed node a pattern
variable matched (``when symmetric(A)``, ``when scalar(s)``), the context
they may consult (declared kinds), and the assumptions a rule may state
(``assume sums_to_one(Y)``) with how the numeric check honours them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..language.expr import (
    SCALAR,
    Expr,
    Identity,
    Num,
    Ones,
    Op,
    Sym,
    Zero,
    chain_factors,
    cols_of,
    is_vector_shape,
    rows_of,
)
from ..language.functions import lookup


def _square(e: Expr) -> bool:
    return e.shape != SCALAR and e.shape[0] == e.shape[1]


def _symmetric(e: Expr, ctx: "Context") -> bool:
    """Declared symmetric/spd, or symmetric by construction (A + Aᵀ, Aᵀ A)."""
    if not _square(e):
        return e.shape == SCALAR
    if isinstance(e, (Identity, Zero, Ones)):
        return True
    if isinstance(e, Sym):
        return e.name in ctx.symmetric
    if isinstance(e, Op):
        if e.op == "add" and len(e.args) == 2:
            a, b = e.args
            if b == Op("T", (a,), a.shape and (cols_of(a.shape), rows_of(a.shape))):
                return True
            return _symmetric(a, ctx) and _symmetric(b, ctx)
        if e.op == "diag" and is_vector_shape(e.args[0].shape):
            return True
        if e.op in ("inv", "T") and len(e.args) == 1:
            return _symmetric(e.args[0], ctx)
        if e.op == "scale":
            return _symmetric(e.args[1], ctx)
        if e.op == "matmul":
            return _symmetric_chain(e, ctx)
    return False


def _symmetric_chain(e: Op, ctx: "Context") -> bool:
    """A product that reads the same transposed: Aᵀ A, B S Bᵀ with S
    symmetric, Aᵀ B S Bᵀ A."""
    factors = chain_factors(e)
    n = len(factors)
    for i in range(n // 2):
        a, b = factors[i], factors[n - 1 - i]
        if not (isinstance(a, Op) and a.op == "T" and a.args[0] == b
                or isinstance(b, Op) and b.op == "T" and b.args[0] == a):
            return False
    return n % 2 == 0 or _symmetric(factors[n // 2], ctx)


def _values(e: Expr) -> str | None:
    """What the function table knows of a call's values (unit, nonnegative, bounded)."""
    f = lookup(e.op) if isinstance(e, Op) else None
    return f.values if f is not None else None


def _unit_interval(e: Expr) -> bool:
    """Values in [0, 1] by construction: σ(u), step(u), 1 − σ(u), h ∘ h for tanh h."""
    if isinstance(e, Num):
        return 0 <= e.value <= 1
    if not isinstance(e, Op):
        return False
    if _values(e) == "unit":
        return True
    if e.op == "had":
        a, b = e.args
        return (_unit_interval(a) and _unit_interval(b)) or (a == b and _bounded_by_one(a))
    if e.op == "add" and isinstance(e.args[0], Num) and e.args[0].value == 1:
        rest = e.args[1]  # 1 − x with x in [0, 1]
        return (isinstance(rest, Op) and rest.op == "scale" and rest.args[0] == Num(-1)
                and _unit_interval(rest.args[1]))
    return False


def _bounded_by_one(e: Expr) -> bool:
    """|value| ≤ 1: tanh, sin, cos, and anything in [0, 1]."""
    return _values(e) == "bounded" or _unit_interval(e)


def _nonnegative(e: Expr, ctx=None) -> bool:
    """Nonnegative by construction (so √v exists): exp, σ, squares, p ∘ (1 − p)."""
    if isinstance(e, (Ones, Identity)):
        return True
    if isinstance(e, Num):
        return e.value >= 0
    if not isinstance(e, Op):
        return False
    if _values(e) in ("unit", "nonnegative") or _unit_interval(e):
        return True
    if e.op in ("had", "matmul", "scale", "div", "add"):
        a, b = e.args
        if e.op == "had" and a == b:
            return True
        return _nonnegative(a) and _nonnegative(b)
    return e.op == "epow" and isinstance(e.args[1], Num) and e.args[1].value % 2 == 0


def _distribution(e: Expr) -> bool:
    """Rows that sum to 1: a softmax, or an input the result may assume does
    (the assumption is printed and the numeric check draws it so); never an
    expression such as σ(u), which need not."""
    return isinstance(e, Sym) or isinstance(e, Op) and e.op == "softmax"


@dataclass(frozen=True)
class Context:
    """What the predicates may know beyond a node: the declared kinds."""

    symmetric: frozenset = frozenset()  # names declared symmetric or spd
    integers: frozenset = frozenset()  # scalars declared integer (k: () integer)

    @classmethod
    def from_kinds(cls, kinds: dict) -> "Context":
        return cls(frozenset(n for n, k in kinds.items() if k in ("symmetric", "spd")),
                   frozenset(n for n, k in kinds.items() if k == "integer"))


NO_CONTEXT = Context()

# What an ``assume name(Y)`` clause says, and how the numeric check draws Y so
# that it holds: (text with {} for Y, the sampling kind).
ASSUMPTIONS = {
    "sums_to_one": ("{} sums to 1 (one-hot or a distribution)", "distribution"),
}

PREDICATES = {
    "scalar": lambda e, ctx: e.shape == SCALAR,
    "vector": lambda e, ctx: is_vector_shape(e.shape),
    "column": lambda e, ctx: e.shape != SCALAR and e.shape[1] == 1,
    "row": lambda e, ctx: e.shape != SCALAR and e.shape[0] == 1,
    "matrix": lambda e, ctx: e.shape != SCALAR and 1 not in e.shape,
    "nonscalar": lambda e, ctx: e.shape != SCALAR,
    "square": lambda e, ctx: _square(e),
    "symmetric": _symmetric,
    "number": lambda e, ctx: isinstance(e, Num),
    # an integer: a whole number, or a scalar declared integer (k: () integer)
    "integer": lambda e, ctx: (isinstance(e, Num) and e.value.denominator == 1
                               or isinstance(e, Sym) and e.name in ctx.integers),
    "nonnegative": _nonnegative,
    "kronecker": lambda e, ctx: isinstance(e, Op) and e.op in ("kron", "commutation"),
    "distribution": lambda e, ctx: _distribution(e),
}
