"""Tree utilities that every stage above shapes may use: values replaced
by the program's names (``name_nodes``; names by values is
``shapes.substitute``), short names for subexpressions written more than
once (``name_repeats``), and the sizes of symbolic dimensions read off input arrays
(``dims_from_inputs``).  Iterative and memoised: linear in the size of the
DAG, whatever its depth."""
from __future__ import annotations

from ..language.expr import SCALAR, Expr, Op, Sym
from .core import build


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


# the names the notes give such values: ŷ = softmax(θ), h = tanh(z), p = σ(X w)
CUSTOMARY = {"tanh": "h", "relu": "h", "sigmoid": "p", "softmax": "yhat"}
_READING_NAMES = "pqrstuvabcdefgh"


def name_repeats(e: Expr, taken) -> tuple[Expr, tuple]:
    """Subexpressions written more than once get a short name, largest
    first: ``Xᵀ diag(σ(X w) ∘ (1 − σ(X w))) X`` reads
    ``Xᵀ diag(p ∘ (1 − p)) X`` with ``p = σ(X w)`` (the names the notes give
    such values: ŷ = softmax(θ), h = tanh(z), p = σ(X w))."""
    where = []
    free = [n for n in ["yhat", "h"] + list(_READING_NAMES) if n not in taken]
    plain = [n for n in free if n not in ("yhat", "h")]
    while free:
        counts: dict = {}
        stack = [e]
        while stack:  # occurrences in the written tree, not the shared DAG
            node = stack.pop()
            counts[node] = counts.get(node, 0) + 1
            stack.extend(node.children)
        repeated = [n for n, c in counts.items() if c > 1 and isinstance(n, Op) and _worth_a_name(n)]
        if not repeated:
            break
        biggest = max(repeated, key=lambda n: sum(1 for _ in n.walk()))
        customary = CUSTOMARY.get(biggest.op)
        name = customary if customary in free else next((n for n in plain if n in free), None)
        if name is None:
            break
        free.remove(name)
        where.append((name, biggest))
        e = name_nodes(e, {biggest: name})
    return e, tuple(where)


def _worth_a_name(n: Op) -> bool:
    return n.op not in ("T", "scale", "inv") and sum(1 for _ in n.walk()) >= 2
