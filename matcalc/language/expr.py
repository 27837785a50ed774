"""The expression tree: small, immutable, hashable nodes.

Every stage of the pipeline (parse -> shapes -> differentiate -> simplify ->
render/check) speaks this one vocabulary.  Nodes compare and hash by
structure, so equal subexpressions are equal objects as far as dicts and sets
are concerned: sharing and common-subexpression elimination come for free.

Two phases of the same tree:

* the *surface* tree that the parser builds: ``shape`` is ``None`` and a
  juxtaposition ``a b`` is ``Op("mul", (a, b))`` because the parser cannot
  know whether ``a`` is a scalar;
* the *typed* tree that ``infer_shapes`` returns: every node carries its
  shape, ``mul`` has been resolved into ``matmul`` (matrix product) or
  ``scale`` (scalar times anything), and the constants ``I``, ``ones`` and
  zero carry their sizes.

Shapes: ``()`` is a scalar; otherwise ``(rows, cols)`` where each entry is the
int ``1`` or a dimension name (``"n"``, ``"D"``).  A 1x1 shape is always
written ``()``.

The core is small on purpose (the rule base meets few node kinds):
``a - b`` is ``add(a, scale(-1, b))``, ``-a`` is ``scale(-1, a)``, ``a^-T`` is
``T(inv(a))``, ``a / s`` is ``div(a, s)``, ``‖A‖_F`` is ``norm(A)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator, Union

Dim = Union[int, str]
Shape = tuple  # () or (Dim, Dim)
SCALAR: Shape = ()


def make_shape(rows: Dim, cols: Dim) -> Shape:
    """``(1, 1)`` is a scalar; every other pair is kept as is."""
    if rows == 1 and cols == 1:
        return SCALAR
    return (rows, cols)


def rows_of(shape: Shape) -> Dim:
    return 1 if shape == SCALAR else shape[0]


def cols_of(shape: Shape) -> Dim:
    return 1 if shape == SCALAR else shape[1]


def transpose_shape(shape: Shape) -> Shape:
    return SCALAR if shape == SCALAR else (shape[1], shape[0])


def is_vector_shape(shape: Shape) -> bool:
    return shape != SCALAR and 1 in shape


def format_shape(shape: Shape, times: str = "×") -> str:
    """``(1, "n")`` -> ``1×n``; a scalar -> ``scalar``."""
    if shape == SCALAR:
        return "scalar"
    # a vec or kron size m*n reads mn, as the books write it
    return f"{str(shape[0]).replace('*', '')}{times}{str(shape[1]).replace('*', '')}"


class Expr:
    """Base of every node.  Subclasses are frozen dataclasses.

    Equality is structural and the hash is computed once, from the children's
    cached hashes, so hashing a node is O(arity) however deep it is, and
    comparing two trees that share their children is O(1).  Equality of
    equal-but-distinct deep trees is checked with an explicit stack, so depth
    never meets Python's recursion limit.
    """

    __slots__ = ()
    shape: Shape | None

    def _key(self) -> tuple:
        """The fields that define the node, children last."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((type(self).__name__,) + self._key()))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        # rebuilt through the constructor: the cached hash is recomputed in the
        # new process (string hashes differ between processes)
        from dataclasses import fields

        return type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init)

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, Expr):
            return NotImplemented
        stack = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if type(a) is not type(b) or a._hash != b._hash:
                return False
            ka, kb = a._key(), b._key()
            if len(ka) != len(kb):
                return False
            for x, y in zip(ka, kb):
                if isinstance(x, tuple) and x and isinstance(x[0], Expr):
                    if not isinstance(y, tuple) or len(x) != len(y):
                        return False
                    stack.extend(zip(x, y))
                elif x != y:
                    return False
        return True

    def __ne__(self, other) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    @property
    def children(self) -> tuple["Expr", ...]:
        return ()

    def walk(self, prune=None) -> Iterator["Expr"]:
        """Every node once, children before parents (iterative, so deep trees
        do not hit Python's recursion limit).  ``prune(node)`` true: the node
        is yielded but not entered."""
        seen: set = set()
        stack: list = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                yield node
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            if prune is not None and prune(node):
                continue
            for child in reversed(node.children):
                if child not in seen:
                    stack.append((child, False))

    # str(e) is the printer's to_text: matcalc.language.printer installs it (the
    # package imports the printer), so this module imports nothing above it


@dataclass(frozen=True, slots=True, eq=False)
class Sym(Expr):
    """A variable or a defined name (``x``, ``W_2``, ``yhat``, ``theta``)."""

    name: str
    shape: Shape | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.name, self.shape)



@dataclass(frozen=True, slots=True, eq=False)
class Num(Expr):
    """A numeric constant; exact (``Fraction``) whenever it can be."""

    value: Fraction
    shape: Shape | None = SCALAR
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.value, self.shape)



@dataclass(frozen=True, slots=True, eq=False)
class DimSize(Expr):
    """A dimension name used as a scalar: the ``N`` in ``CE(Y, P) / N``."""

    name: str
    shape: Shape | None = SCALAR
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.name, self.shape)



@dataclass(frozen=True, slots=True, eq=False)
class Identity(Expr):
    """``I``; in the typed tree ``shape`` is ``(n, n)``."""

    shape: Shape | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.shape,)



@dataclass(frozen=True, slots=True, eq=False)
class Ones(Expr):
    """``ones`` / ``𝟙``: all-ones, a vector (or, made by the engine, a matrix)."""

    shape: Shape | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.shape,)



@dataclass(frozen=True, slots=True, eq=False)
class Zero(Expr):
    """The zero of a given shape (made by the engine, printed ``0``)."""

    shape: Shape | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.shape,)



@dataclass(frozen=True, slots=True, eq=False)
class Op(Expr):
    """An operator or function application: ``Op("matmul", (A, B))``.

    ``op`` is one of the core operators in ``OPERATORS`` or a function name
    (``tanh``, ``tr``, ``softmax``, or one a rule file added).
    """

    op: str
    args: tuple
    shape: Shape | None = None
    # where the node came from in the user's text: (line, column) or None.
    # Not part of equality: two equal expressions are equal wherever written.
    span: tuple | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.op, self.shape, self.args)



@dataclass(frozen=True, slots=True, eq=False)
class PatternVar(Expr):
    """A pattern variable of a rule (``A`` in ``(A^T)^T -> A``)."""

    name: str
    shape: Shape | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def _key(self) -> tuple:
        return (self.name, self.shape)



# The core operators.  Everything else is a function application whose name
# the function table (``matcalc.language.functions``) knows.
OPERATORS = {
    "add",     # a + b, numpy broadcasting
    "mul",     # surface only: juxtaposition / * / @ / ·, resolved by shapes
    "matmul",  # matrix product of two non-scalars
    "scale",   # scalar times anything: scale(s, a)
    "had",     # Hadamard product, broadcasting
    "div",     # elementwise division, broadcasting (a / s included)
    "T",       # transpose
    "inv",     # matrix inverse
    "pow",     # a^k: scalar power, or integer power of a square matrix
    "epow",    # a .^ k, elementwise power
}


def num(value) -> Num:
    """``num(2)``, ``num(Fraction(1, 2))``, ``num(0.5)``: exact whenever it can be."""
    if isinstance(value, Fraction):
        return Num(value)
    if isinstance(value, int):
        return Num(Fraction(value))
    return Num(Fraction(repr(float(value))))


def free_symbols(e: Expr) -> set[str]:
    """Names of the ``Sym`` leaves in ``e``."""
    return {n.name for n in e.walk() if isinstance(n, Sym)}


def node_count(e: Expr) -> int:
    """Distinct nodes of the DAG (shared subexpressions counted once)."""
    return sum(1 for _ in e.walk())


def chain_factors(e: Expr) -> list[Expr]:
    """The factors of a nest of matrix products, left to right (iteratively):
    ``(A B) C`` and ``A (B C)`` -> [A, B, C]."""
    factors, stack = [], [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Op) and x.op == "matmul":
            stack.extend(reversed(x.args))
        else:
            factors.append(x)
    return factors
