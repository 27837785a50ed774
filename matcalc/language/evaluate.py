"""Evaluate a typed expression with numpy, in float64.

Values: a non-scalar node is a 2-D array of its shape (vectors 1×n or n×1); a
scalar node is a Python float.  Functions are computed by their numpy
spelling in the function table (``matcalc.language.functions``) over the helpers of
``matcalc.language.runtime``, so the evaluator and the generated ``numpy`` module agree
by construction.

Trees can be thousands of levels deep and share subtrees, so nothing here
recurses on depth or hashes a whole tree: ``build_dag`` numbers the distinct
subexpressions bottom-up (value numbering), and evaluation is one loop over
those numbers.  Example: ``evaluate(<tr(A X)>, {"A": a, "X": x}, {})``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import runtime
from .errors import LimitError, MatcalcError
from .expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, Shape, Sym, Zero, format_shape
from .functions import lookup

# Signatures whose arguments are plain numbers, not arrays: commutation(m, n).
NUMBER_ARGUMENTS = {"commutation", "reshape"}
# Signatures whose numpy spelling already returns a number for a scalar result.
SCALAR_SIGNATURES = {"elementwise", "square-scalar", "scalar", "pair-scalar", "rowwise-scalar"}


def size_of(dim, dims: dict) -> int:
    """The size of a dimension: ``1``, ``"n"``, or a product such as ``"m*n"``."""
    if isinstance(dim, int):
        return dim
    size = 1
    for factor in str(dim).split("*"):
        factor = factor.strip()
        if factor.isdigit():
            size *= int(factor)
        elif factor in dims:
            size *= int(dims[factor])
        else:
            raise MatcalcError(f"the size of dimension {factor} is unknown")
    return size


def shape_sizes(shape: Shape, dims: dict) -> tuple:
    """``("n", 1)`` with n = 3 -> ``(3, 1)``; a scalar -> ``()``."""
    return tuple(size_of(d, dims) for d in shape)


@dataclass
class Dag:
    """The distinct subexpressions of some roots, children before parents.

    ``nodes[i]`` is one representative of class ``i``, ``children[i]`` the
    classes of its arguments, ``roots[k]`` the class of the k-th root.
    Structurally equal subtrees get one class even when they are different
    objects.
    """

    nodes: list = field(default_factory=list)
    children: list = field(default_factory=list)
    roots: list = field(default_factory=list)

    def reachable(self, start, done=()) -> list[int]:
        """Classes the classes in ``start`` depend on (themselves included), in
        order, not looking past the classes in ``done``."""
        seen, stack = set(), [c for c in start if c not in done]
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(k for k in self.children[c] if k not in done)
        return sorted(seen)


def build_dag(roots) -> Dag:
    """Value-number the subexpressions of ``roots`` without recursion.

    A leaf's key is the leaf itself (its hash is shallow); an operator's key is
    its operator, shape and the classes of its arguments, so a deep tree is
    never hashed or compared as a whole.
    """
    dag = Dag()
    class_of_key: dict = {}
    class_of_object: dict[int, int] = {}  # id(node) -> class; the roots keep the nodes alive
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in class_of_object:
                continue
            args = node.args if isinstance(node, Op) else ()
            if not expanded:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(args) if id(a) not in class_of_object)
                continue
            kids = tuple(class_of_object[id(a)] for a in args)
            key = (node.op, node.shape, kids) if isinstance(node, Op) else node
            c = class_of_key.get(key)
            if c is None:
                c = class_of_key[key] = len(dag.nodes)
                dag.nodes.append(node)
                dag.children.append(kids)
            class_of_object[id(node)] = c
        dag.roots.append(class_of_object[id(root)])
    return dag


def bind_dims(dag: Dag, env: dict, dims: dict) -> dict:
    """``dims`` completed with the sizes the input arrays in ``env`` show.

    Raises a MatcalcError when an input's shape contradicts its declaration.
    """
    dims = dict(dims)
    for node in dag.nodes:
        if not isinstance(node, Sym) or node.name not in env or not node.shape:
            continue
        actual = np.shape(env[node.name])
        if len(actual) != 2:
            continue  # a 1-D value is checked against the declared size on use
        for dim, size in zip(node.shape, actual):
            if isinstance(dim, str) and "*" not in dim and dim not in dims:
                dims[dim] = size
            elif size_of_known(dim, dims) not in (None, size):
                raise MatcalcError(
                    f"{node.name} is {actual[0]}×{actual[1]} but declared {format_shape(node.shape)} "
                    f"with {_sizes_text(node.shape, dims)}")
    return dims


def size_of_known(dim, dims: dict):
    """The size of ``dim``, or None while a factor of it is unknown."""
    try:
        return size_of(dim, dims)
    except MatcalcError:
        return None


def _sizes_text(shape, dims) -> str:
    names = [f for d in shape if isinstance(d, str) for f in d.split("*") if f.strip() in dims]
    return ", ".join(f"{n.strip()}={dims[n.strip()]}" for n in names)


def as_value(value, shape: Shape, dims: dict, what: str):
    """``value`` in the evaluator's representation for ``shape``: a float for a
    scalar, a 2-D float64 array otherwise (a 1-D vector takes the declared
    orientation)."""
    if shape == SCALAR:
        arr = np.asarray(value, dtype=float)
        if arr.size != 1:
            raise MatcalcError(f"{what} should be a scalar but has shape {arr.shape}")
        return float(arr.reshape(()))
    arr = np.asarray(value, dtype=float)
    expected = tuple(size_of_known(d, dims) for d in shape)
    if arr.ndim != 2 and None not in expected and arr.size == expected[0] * expected[1]:
        arr = arr.reshape(expected)
    if arr.ndim != 2 or any(e is not None and e != a for e, a in zip(expected, arr.shape)):
        want = "×".join(str(e if e is not None else d) for e, d in zip(expected, shape))
        raise MatcalcError(f"{what} should be {want} ({format_shape(shape)}) but has shape {arr.shape}")
    return arr


_compiled: dict[str, object] = {}


def numpy_function(spelling: str):
    """The callable of a function table spelling over ``a0``, ``a1``.

    The spellings are matcalc's own constants (the table, or a definition a
    rule file made through the engine), never text a user typed.
    """
    f = _compiled.get(spelling)
    if f is None:
        code = compile(f"lambda a0=None, a1=None, a2=None: ({spelling})", "<matcalc function table>", "eval")
        f = _compiled[spelling] = eval(code, runtime.namespace())  # noqa: S307 - our own table
    return f


def _is_scalar(v) -> bool:
    return not isinstance(v, np.ndarray)


def _matmul(a, b):
    # A scalar-shaped operand has no place in a matrix product; if one slips
    # through, a 1×1 times a matrix is the scalar multiple.
    return np.multiply(a, b) if _is_scalar(a) or _is_scalar(b) else a @ b


def _inv(a):
    return np.divide(1.0, a) if _is_scalar(a) else np.linalg.inv(a)


def _pow(a, k):
    if _is_scalar(a):
        return np.power(a, k)
    if float(k) != int(k):
        raise MatcalcError(f"a matrix power needs an integer exponent, not {k}")
    return np.linalg.matrix_power(a, int(k))


def _transpose(a):
    return a if _is_scalar(a) else a.T


OPERATIONS = {
    "add": np.add,
    "matmul": _matmul,
    "scale": np.multiply,
    "had": np.multiply,
    "div": np.divide,
    "T": _transpose,
    "inv": _inv,
    "pow": _pow,
    "epow": np.power,
}


def _call(node: Op, args: list):
    f = lookup(node.op)
    if f is None:
        raise MatcalcError(f"no numpy spelling for the function {node.op}")
    if f.signature == "elementwise":
        args = [np.float64(a) if _is_scalar(a) else a for a in args]
    elif f.signature not in NUMBER_ARGUMENTS:
        args = [np.array([[a]]) if _is_scalar(a) else a for a in args]
    return numpy_function(f.numpy)(*args)


def _leaf(node: Expr, env: dict, dims: dict):
    if isinstance(node, Sym):
        if node.name not in env:
            raise MatcalcError(f"no value for {node.name}: give it as an input")
        return env[node.name]
    if isinstance(node, Num):
        return float(node.value)
    if isinstance(node, DimSize):
        return float(size_of(node.name, dims))
    if node.shape is None:
        raise MatcalcError(f"{type(node).__name__} has no shape: evaluate needs a typed tree")
    if isinstance(node, Identity):
        return np.eye(size_of(node.shape[0], dims))
    if isinstance(node, Ones):
        return 1.0 if node.shape == SCALAR else np.ones(shape_sizes(node.shape, dims))
    if isinstance(node, Zero):
        return 0.0 if node.shape == SCALAR else np.zeros(shape_sizes(node.shape, dims))
    raise MatcalcError(f"cannot evaluate a {type(node).__name__}")


def _compute(node: Expr, args: list, env: dict, dims: dict):
    if not isinstance(node, Op):
        return _leaf(node, env, dims)
    if node.shape is None:
        raise MatcalcError(f"{node.op} has no shape: evaluate needs a typed tree")
    operation = OPERATIONS.get(node.op)
    try:
        return operation(*args) if operation else _call(node, args)
    except (ValueError, TypeError, ArithmeticError) as exc:  # LinAlgError is a ValueError
        shapes = ", ".join("scalar" if _is_scalar(a) else "×".join(map(str, a.shape)) for a in args)
        raise MatcalcError(f"cannot evaluate {node.op} of ({shapes}): {exc}") from exc


def evaluate_program(assignments, outputs: dict, env: dict, dims: dict | None = None) -> dict:
    """Evaluate named intermediates in order, then ``outputs``; returns the outputs.

    ``assignments`` is ``[(name, expr), ...]``: later expressions read earlier
    ones as ``Sym(name)``.  Sizes missing from ``dims`` are read off the
    arrays in ``env``.  Each distinct subexpression is computed once.
    """
    assignments = list(assignments)
    roots = [e for _, e in assignments] + list(outputs.values())
    dag = build_dag(roots)
    if len(dag.nodes) > 1_000_000:
        raise LimitError(f"the expression has {len(dag.nodes)} distinct parts; the limit is 1000000")
    env = dict(env)
    dims = bind_dims(dag, env, dims or {})
    values: dict[int, object] = {}

    def value_of(root_class: int):
        with np.errstate(all="ignore"):  # non-finite values are the caller's to judge
            for c in dag.reachable([root_class], values):
                node = dag.nodes[c]
                what = node.name if isinstance(node, Sym) else node.op if isinstance(node, Op) else "value"
                raw = _compute(node, [values[k] for k in dag.children[c]], env, dims)
                values[c] = as_value(raw, node.shape, dims, what)
        return values[root_class]

    for (name, _), c in zip(assignments, dag.roots):
        env[name] = value_of(c)
    return {name: value_of(c) for name, c in zip(outputs, dag.roots[len(assignments):])}


def evaluate(expr: Expr, env: dict, dims: dict | None = None):
    """The value of a typed expression: a float for a scalar, else a 2-D array.

    ``evaluate(<x^T A x>, {"x": x, "A": a}, {"n": 3})``
    """
    return evaluate_program([], {"value": expr}, env, dims)["value"]
