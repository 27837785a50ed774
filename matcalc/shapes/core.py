"""Shape inference (SPEC §2): the surface tree in, the typed tree out.

``infer_shapes`` (in ``matcalc.shapes.inference``, the solver built on this
module's signatures) gives every node of a program its shape, resolves each
juxtaposition ``a b`` into ``matmul`` or ``scale``, sizes ``I`` and ``ones``
from what they meet, turns a dimension name used as a scalar into
``DimSize`` and writes integer powers of a square matrix as products.
``build`` makes one typed node from typed arguments (forward only, cheap):
the derivation engine calls it for every node it creates.

How undeclared shapes are found.  Every dimension is a variable, unified
across the whole program (``x W`` forces cols(x) = rows(W)); a variable is
known to be 1, known not to be 1 (maybe with a declared, rigid name), or
unknown.  Each node's rule is a constraint that fires when what it reads
changes; a rule that cannot decide yet (is ``a`` in ``a b`` a scalar? is
this axis of a sum broadcast?) waits.  When nothing more follows, the
weakest default is taken, one at a time, and propagation resumes:

0. kinds by case: uppercase names are matrices, lowercase Latin names
   vectors, lowercase Greek names scalars, each only where nothing has
   forced otherwise (``x W`` makes x a row; ``CE(y, softmax(θ))`` makes θ
   the shape of y);
1. a vector added to a matrix broadcasts as a row (a 1-D numpy array);
2. the undecided axes of a sum are equal (``x W + b1``: b1 is 1×m);
3. a vector of unknown orientation is a column;
4. an unknown dimension is a symbolic size, not 1.

If a default leads to a contradiction, inference starts again with that
default flipped (bounded attempts) before reporting the first error.
Nothing here recurses on the depth of an expression.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from ..language.errors import ShapeError, UnknownFunctionError
from ..language.expr import (
    SCALAR,
    DimSize,
    Expr,
    Identity,
    Num,
    Op,
    Shape,
    Sym,
    cols_of,
    format_shape,
    make_shape,
    rows_of,
    transpose_shape,
)
from ..language.functions import lookup
from ..language.printer import to_text

if TYPE_CHECKING:  # the parser is the stage before this one
    from ..language.parser import Declaration


@dataclass
class TypedProgram:
    """A program with every shape settled.

    ``definitions`` keep the program's order; a reference to another
    definition is ``Sym(name, shape)``.  ``shapes`` lists every variable and
    defined name in order of first appearance, ``dims`` the dimension names.
    """

    declarations: dict[str, "Declaration"]
    definitions: dict[str, Expr]
    objective: Expr
    shapes: dict[str, Shape]
    dims: list[str]
    kinds: dict[str, str]
    # names that are vectors only by the lowercase default (a scalar would
    # also have fitted): the ``read as`` line says so
    defaulted: tuple = ()


def shape_of(e: Expr) -> Shape:
    """The shape of a typed node (``()`` for a scalar)."""
    if e.shape is None:
        raise ShapeError(f"{short_text(e)} has no shape yet (shapes come from infer_shapes)")
    return e.shape


# ---------------------------------------------------------------------------
# signatures: what each operator and function does to shapes

_CORE_SIGNATURES = {
    "mul": "mul", "matmul": "mul", "scale": "scale",
    "add": "broadcast", "had": "broadcast", "div": "broadcast",
    "T": "transpose", "inv": "square", "pow": "pow", "epow": "epow", "kron": "kron",
}
_ARITY = {"mul": 2, "scale": 2, "broadcast": 2, "transpose": 1, "square": 1, "pow": 2,
          "epow": 2, "kron": 2}


def signature(op: str, nargs: int) -> str:
    """What ``op`` does to shapes ("mul", "broadcast", "elementwise", ...);
    a ShapeError for the wrong number of arguments."""
    sig = _CORE_SIGNATURES.get(op)
    arity = _ARITY.get(sig)
    if sig is None:
        f = lookup(op)
        if f is None:
            raise UnknownFunctionError(f"unknown function {op!r}")
        sig, arity = ("elementwise" if f.signature in ("elementwise", "same") else f.signature), f.arity
    if nargs != arity:
        raise ShapeError(f"{op} takes {arity} argument{'s' if arity != 1 else ''}, not {nargs}")
    return sig


def dim_product(*dims):
    """The size of a vec or kron axis: ``dim_product("n", "m") == "m*n"``.

    Factors of 1 drop out and names are sorted, so equal products are equal
    strings (``(Bᵀ ⊗ A) vec(X)`` matches n*m with m*n)."""
    coefficient, names = 1, []
    for d in dims:
        for f in (d.split("*") if isinstance(d, str) else (d,)):
            if isinstance(f, int) or f.isdigit():
                coefficient *= int(f)
            else:
                names.append(f)
    if not names:
        return coefficient
    names.sort()
    return "*".join(([str(coefficient)] if coefficient != 1 else []) + names)


def integer_value(e: Expr):
    """The value of an integer ``Num`` exponent, else None."""
    if isinstance(e, Num) and e.value.denominator == 1:
        return int(e.value)
    return None


# ---------------------------------------------------------------------------
# build: one typed node from typed arguments

def build(op: str, args: tuple, span=None) -> Expr:
    """A typed node ``op(args)`` with its shape computed from the arguments.

    ``build("mul", (x, W))`` is ``matmul`` of a 1×n x and an n×m W and
    ``scale(2, x)`` for ``build("mul", (x, 2))`` (the scalar goes first);
    ``build("pow", (A, 2))`` is ``A A``.  Raises ShapeError when the shapes
    do not fit."""
    args = tuple(args)
    sig = signature(op, len(args))
    shapes = [shape_of(a) for a in args]
    if sig == "mul":
        if shapes[0] == SCALAR or shapes[1] == SCALAR:
            sig = "scale"
        elif cols_of(shapes[0]) != rows_of(shapes[1]):
            raise _build_error(op, args, "cols({a}) ≠ rows({b})")
        else:
            return Op("matmul", args, make_shape(rows_of(shapes[0]), cols_of(shapes[1])), span)
    if sig == "scale":
        if shapes[0] != SCALAR:
            if shapes[1] != SCALAR:
                raise _build_error(op, args, "{a} is not a scalar")
            args, shapes = args[::-1], shapes[::-1]
        return Op("scale", args, shapes[1], span)
    if sig == "pow" and shapes[0] != SCALAR:
        return _matrix_power(args, span)
    if op == "size":  # the number of entries, from the shape: size(X) is n m
        return _entries(shapes[0])
    return Op(op, args, _forward(sig, op, args, shapes), span)


def _forward(sig: str, op: str, args: tuple, shapes: list) -> Shape:
    a = shapes[0]
    square = rows_of(a) == cols_of(a)
    if sig == "broadcast":
        dims = []
        for axis, (x, y) in zip(("rows", "cols"), ((rows_of(a), rows_of(shapes[1])),
                                                    (cols_of(a), cols_of(shapes[1])))):
            if x != y and 1 not in (x, y):
                raise _build_error(op, args, f"{axis}({{a}}) ≠ {axis}({{b}}) and neither is 1")
            dims.append(y if x == 1 else x)
        return make_shape(*dims)
    if sig in ("elementwise", "transpose", "square", "pow", "epow"):
        if sig in ("square", "pow") and not square:
            raise _build_error(op, args, f"{op} needs a square matrix")
        if sig in ("pow", "epow") and shapes[1] != SCALAR:
            raise _build_error(op, args, "the exponent must be a scalar")
        return transpose_shape(a) if sig == "transpose" else a
    if sig == "square-scalar":
        if not square:
            raise _build_error(op, args, f"{op} needs a square matrix")
        return SCALAR
    if sig == "scalar":
        return SCALAR
    if sig == "pair-scalar":
        if a != shapes[1]:
            raise _build_error(op, args, f"{op} needs two arguments of one shape")
        return SCALAR
    if sig == "diag":
        if a == SCALAR:
            return SCALAR
        if square:
            return (rows_of(a), 1)
        if 1 not in a:
            raise _build_error(op, args, "diag needs a vector or a square matrix")
        n = rows_of(a) if cols_of(a) == 1 else cols_of(a)
        return (n, n)
    if sig == "vec":
        return make_shape(dim_product(rows_of(a), cols_of(a)), 1)
    if sig == "kron":
        b = shapes[1]
        return make_shape(dim_product(rows_of(a), rows_of(b)), dim_product(cols_of(a), cols_of(b)))
    if sig == "rowwise-scalar":
        return SCALAR if 1 in (rows_of(a), cols_of(a)) else (rows_of(a), 1)
    if sig == "reshape":
        return make_shape(dim_argument(args[1]), dim_argument(args[2]))
    if sig == "commutation":
        size = dim_product(*(dim_argument(x) for x in args))
        return make_shape(size, size)
    raise ShapeError(f"{op}: no shape rule for signature {sig!r}")


def dim_argument(e: Expr):
    """A dimension given as an argument (``commutation(m, n)``)."""
    if isinstance(e, (DimSize, Sym)):
        return e.name
    if isinstance(e, Op) and e.op in ("mul", "scale", "matmul"):  # m*n, as printed
        return dim_product(*(dim_argument(a) for a in e.args))
    value = integer_value(e)
    if value is None or value < 1:
        raise ShapeError(f"{short_text(e)} is not a dimension")
    return value


def _entries(shape: Shape) -> Expr:
    """The number of entries of a shape, as a number or a product of sizes."""
    count, names = 1, []
    for d in (rows_of(shape), cols_of(shape)):
        for factor in str(d).split("*"):
            if factor.isdigit():
                count *= int(factor)
            else:
                names.append(factor)
    sizes = ([Num(Fraction(count))] if count != 1 or not names else []) + [DimSize(n) for n in names]
    result = sizes[0]
    for size in sizes[1:]:
        result = build("mul", (result, size))
    return result


MAX_EXPANDED_POWER = 8  # A^k with |k| up to this is written as products


def _matrix_power(args: tuple, span) -> Expr:
    """``A^k`` of a square matrix: ``A^2`` → A A, ``A^-1`` → inv(A),
    ``A^-2`` → inv(A) inv(A), ``A^0`` → I (by repeated squaring, so the
    DAG stays small)."""
    a, k = args
    shape = shape_of(a)
    if rows_of(shape) != cols_of(shape):
        raise _build_error("pow", args, "pow needs a square matrix")
    power = integer_value(k)
    if power is None and not isinstance(k, Num):  # X^k, X^(k-1): k declared integer
        return Op("pow", args, shape, span)
    if power is None:
        raise _build_error("pow", args, "a matrix power must be an integer")
    if abs(power) > MAX_EXPANDED_POWER:  # X^1000 stays a power (the rules know tr(X^k))
        return Op("pow", args, shape, span)
    return expand_matrix_power(a, power, span)


def expand_matrix_power(a: Expr, power: int, span=None) -> Expr:
    """``A^k`` for a whole k as products, by repeated squaring (so the DAG
    stays small): A^3 → (A A) A, A^-2 → inv(A) inv(A), A^0 → I."""
    shape = shape_of(a)
    if power == 0:
        return Identity(shape)
    base = Op("inv", (a,), shape, span) if power < 0 else a
    result, power = None, abs(power)
    while power:
        if power & 1:
            result = base if result is None else Op("matmul", (result, base), shape, span)
        power >>= 1
        if power:
            base = Op("matmul", (base, base), shape, span)
    return result


def _build_error(op: str, args: tuple, why: str) -> ShapeError:
    operands = [(short_text(a), format_shape(shape_of(a))) for a in args]
    why = why.format(a=operands[0][0], b=operands[-1][0])
    return ShapeError(mismatch_message(short_text(Op(op, args)), operands, why))


# ---------------------------------------------------------------------------
# messages

def short_text(e: Expr, limit: int = 60) -> str:
    """``e`` as the user would write it, shortened for a message."""
    try:
        text = to_text(e)
    except Exception:  # noqa: BLE001 - a tree the printer cannot print must not hide the error
        text = getattr(e, "name", None) or getattr(e, "op", type(e).__name__)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def mismatch_message(node: str, operands: list, why: str) -> str:
    """``x W: x is 3×1, W is 4×5; cols(x) ≠ rows(W)``."""
    return f"{node}: " + ", ".join(f"{t} is {s}" for t, s in operands) + f"; {why}"


def substitute(e: Expr, env: dict, keep=frozenset(), memo: dict | None = None) -> Expr:
    """``e`` with each ``Sym`` named in ``env`` replaced by its value
    (iterative, memoised: linear in the size of the DAG).  Nodes in ``keep``
    hold no such name: they are left as they are, not entered.  A ``memo``
    shared by several calls (with the same ``env``) visits each node once."""
    memo = {} if memo is None else memo
    for node in e.walk(prune=lambda n: n in keep or n in memo):
        if node in memo:
            continue
        if node in keep:
            memo[node] = node
        elif isinstance(node, Sym) and node.name in env:
            memo[node] = env[node.name]
        elif isinstance(node, Op):
            args = tuple(memo.get(a, a) for a in node.args)
            memo[node] = node if args == node.args else build(node.op, args)
    return memo.get(e, e)
