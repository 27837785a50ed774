"""The names a result is written in: the program's definitions, the
forward values a deep result would otherwise repeat (``matcalc.results.sharing``),
the δ terms and the gradients in those names (``name_derivation``).  The
short names of subexpressions a Jacobian or Hessian writes more than once
(``p = σ(X w)``) are ``dag.name_repeats``: the engine gives them."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..language.expr import SCALAR, Expr, Num, Sym, Zero
from ..shapes.dag import name_nodes
from .sharing import shared_values


@dataclass
class Step:
    """One line of a derivation: ``name = expr`` with its shape and rules."""

    name: str
    expr: Expr
    shape: tuple
    rules: list = field(default_factory=list)
    of: Expr | None = None


def assignments(*steps: list) -> list[tuple[str, Expr]]:
    """``(name, expr)`` of each step, in order (the definitions, then the δ terms)."""
    return [(s.name, s.expr) for group in steps for s in group]


def name_derivation(program, derivation) -> tuple[list, list, dict]:
    """``(definitions, intermediates, gradients)`` of ``derivation`` (a
    ``matcalc.engine.reverse.Derivation`` of ``program``) in the program's
    names: definitions as ``Step``s (with the shared forward values before
    their first use), δ terms as ``Step``s, gradients by variable (the zero
    of the variable's shape where J does not depend on it)."""
    names = dict(program.names)
    memo: dict = {}
    definitions = _definitions_naming_shared(program, derivation, names, memo)
    intermediates = [Step(i.name, name_nodes(i.expr, names, memo=memo), i.expr.shape, i.rules, i.of)
                     for i in derivation.intermediates]
    gradients: dict[str, Expr] = {}
    for w in derivation.wrt:
        g = derivation.gradients[w]
        if g is None:  # J does not depend on w: the zero of w's shape
            shape = program.typed.shapes[w]
            g = Zero(shape) if shape != SCALAR else Num(0)
        gradients[w] = name_nodes(g, names, memo=memo)
    return definitions, intermediates, gradients


def _definitions_naming_shared(program, derivation, names: dict, memo: dict) -> list:
    """The program's definitions, and before them (where first used) the
    forward values a deep result would otherwise repeat (``h1 =
    tanh(W4 x)``, see ``matcalc.results.sharing``); ``names`` gains those.  The
    objective, when the δ terms repeat it (tan' = 1 + tan²), keeps its own
    name: its definition's, else J."""
    bodies = [program.nodes[n] for n in program.typed.definitions]
    outputs = [i.expr for i in derivation.intermediates] + [g for g in derivation.gradients.values() if g is not None]
    taken = set(program.typed.shapes) | set(program.typed.dims) | {i.name for i in derivation.intermediates}
    shared = shared_values(bodies + [program.objective] + outputs, set(program.objective.walk()), names,
                           taken) if outputs else {}
    if program.objective in shared and "J" not in taken | set(shared.values()):
        shared[program.objective] = "J"  # an objective given as an expression: named as the output calls it
    names.update(shared)
    steps, placed = [], set()

    def place_shared_below(root):
        for node in root.walk(prune=lambda n: n in placed):
            if node in shared and node not in placed:
                steps.append(Step(shared[node], name_nodes(node, names, True, memo), node.shape))
            placed.add(node)

    for n in program.typed.definitions:
        place_shared_below(program.nodes[n])
        steps.append(Step(n, name_nodes(program.nodes[n], names, True, memo), program.nodes[n].shape))
    place_shared_below(program.objective)
    return steps


def needed_assignments(assignments: list, outputs) -> list:
    """The assignments the outputs use, directly or through each other, in
    order: the objective itself is not computed to return its gradient."""
    needed = {n.name for e in outputs for n in e.walk() if isinstance(n, Sym)}
    kept = []
    for name, expr in reversed(assignments):
        if name in needed:
            kept.append((name, expr))
            needed |= {n.name for n in expr.walk() if isinstance(n, Sym)}
    return kept[::-1]
