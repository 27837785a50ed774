"""Which values of the forward pass a result names, so that it prints in
space linear in its DAG.

A single deep expression ``sum(tanh(W1 tanh(W2 … x)))`` has no names of its
own; its δ terms and gradients each contain the layers below them, so spelt
out the result grows with the square of the depth.  The notes name such
values (``h = tanh(W x)``), and so does this: when the written result is
several times its DAG, every unnamed forward value that the written result
would repeat gets a name, as a definition of its own.  Small results are
left as they are (``δ1 = 1 − tanh(W x) ∘ tanh(W x)`` reads best inline).

Linear: one pass children-first for written sizes, one parents-first for
how often each node would be written once its parents are named.
"""
from __future__ import annotations

from ..language.expr import Expr, Op
from ..shapes.dag import CUSTOMARY

# name repeats only when the written result is this many times its DAG
# (and at least FLOOR nodes): the quadratic blow-up of deep expressions
RATIO = 3
FLOOR = 200
PLAIN = {"T", "scale", "inv"}  # cheap to read inline: never worth a name


def shared_values(roots: list[Expr], forward: set, named: dict, taken) -> dict:
    """node -> new name, for the unnamed ``forward`` nodes that the written
    ``roots`` would repeat (a node written twice is written once, named).
    ``named``: nodes that already have names (never entered); ``taken``:
    names not to use."""
    order = _children_first(roots, named)
    written: dict = {}
    for node in order:
        written[node] = 1 + sum(written.get(c, 1) for c in node.children)
    total = sum(written.get(r, 1) for r in roots)
    if total < FLOOR or total < RATIO * len(order):
        return {}
    occurrences: dict = {}
    for r in roots:
        occurrences[r] = occurrences.get(r, 0) + 1
    chosen: list = []
    for node in reversed(order):  # parents first
        times = occurrences.get(node, 0)
        if node in named:  # a root that has a name (the objective J): written once, in its definition
            times = min(times, 1)
        elif (times >= 2 and node in forward and isinstance(node, Op) and node.op not in PLAIN
                and node.children):
            chosen.append(node)
            times = 1  # written once, in its own definition
        for c in node.children:
            if c not in named:
                occurrences[c] = occurrences.get(c, 0) + times
    return _names(reversed(chosen), taken)


def _children_first(roots: list[Expr], named: dict) -> list[Expr]:
    order, seen = [], set()
    for root in roots:
        for node in root.walk(prune=lambda n, root=root: n in seen or (n in named and n is not root)):
            if node not in seen and not (node in named and node is not root):
                seen.add(node)
                order.append(node)
    return order


def _names(nodes, taken) -> dict:
    """h1, h2, … (the notes' letter for the function, else u), deepest
    first, skipping names in ``taken``."""
    out, counts = {}, {}
    taken = set(taken)
    for node in nodes:
        base = CUSTOMARY.get(node.op, "u")
        while True:
            counts[base] = counts.get(base, 0) + 1
            name = f"{base}{counts[base]}"
            if name not in taken:
                break
        taken.add(name)
        out[node] = name
    return out
