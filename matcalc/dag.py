"""Tree utilities that every stage above shapes may use: values replaced
by the program's names (``name_nodes``; names by values is
``shapes.substitute``), and the sizes of symbolic dimensions read off input arrays
(``dims_from_inputs``).  Iterative and memoised: linear in the size of the
DAG, whatever its depth."""
from __future__ import annotations

from .expr import SCALAR, Expr, Op, Sym
from .shapes import build


def name_nodes(e: Expr, names: dict, keep_root: bool = False, memo: dict | None = None) -> Expr:
    """``e`` with every node the program named replaced by its name
    (``softmax(θ)`` -> ``ŷ``), so results read in the program's terms.
    A ``memo`` shared across calls makes naming many results linear."""
    if keep_root and isinstance(e, Op):  # a definition: its own name stays off its root
        args = tuple(name_nodes(a, names, memo=memo) for a in e.args)
        return e if args == e.args else build(e.op, args)
    memo = {} if memo is None else memo
    for node in e.walk(prune=lambda n: n in memo or n in names):
        if node in memo:
            continue
        if node in names:
            memo[node] = Sym(names[node], node.shape)
        elif isinstance(node, Op):
            args = tuple(memo.get(a, a) for a in node.args)
            memo[node] = node if args == node.args else build(node.op, args)
    return memo.get(e, e)


def dims_from_inputs(shapes: dict, env: dict) -> dict:
    """Sizes of the symbolic dimensions, read off the inputs' shapes."""
    import numpy as np  # loaded on first use: importing matcalc stays cheap

    dims = {}
    for name, shape in shapes.items():
        if shape == SCALAR or name not in env:
            continue
        value = np.asarray(env[name])
        if value.ndim != 2:
            continue
        for d, n in zip(shape, value.shape):
            if isinstance(d, str) and "*" not in d:
                dims.setdefault(d, n)
    return dims
