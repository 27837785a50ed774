"""Linearisation, shared by reverse mode (``matcalc.engine.reverse``) and
forward mode (``matcalc.engine.forward``): each node's differential ``d(node)``
written by the first matching rule of ``rules/differentials.rules`` (or the
chain rule of an elementwise function, f' from ``rules/derivatives.rules``)
as a linear form in the differentials ``d(v)`` of the active nodes below it;
and the matching of one linear map F(L) of such a form, which the adjoint
rules (reverse) and the Jacobian rules (forward) both read.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..language.errors import NotDifferentiableError
from ..language.expr import SCALAR, Expr, Num, Op, Sym, Zero, format_shape
from ..language.functions import FUNCTIONS
from ..language.printer import to_text
from ..rewriting.predicates import ASSUMPTIONS
from ..rewriting.rules import Context, RuleBase, conditions_hold, instantiate, match
from ..rewriting.simplify import Simplifier
from ..shapes.core import build, expand_matrix_power


def shown_names(rule) -> list[str]:
    """The rule's name as --steps shows it beside a δ: none for a rule tagged
    quiet (linearity itself is not worth naming)."""
    return [] if "quiet" in rule.tags else [rule.name]


def active_nodes(objective: Expr, wanted: set) -> set:
    """Nodes whose value depends on a wanted variable."""
    active = set()
    for node in objective.walk():
        if isinstance(node, Sym):
            if node.name in wanted:
                active.add(node)
        elif any(c in active for c in node.children):
            active.add(node)
    return active


def linearise(node: Expr, active: set, rules: RuleBase, ctx: Context, simplifier: Simplifier):
    """``d(node)`` as a linear form in ``d(v)`` of active nodes ``v``, simplified
    by ``simplifier``."""

    def differential(v: Expr) -> Expr:
        if v in active:
            return Op("d", (v,), v.shape)
        return Zero(v.shape) if v.shape != SCALAR else Num(0)

    if not isinstance(node, Op):
        raise NotDifferentiableError(f"cannot differentiate {to_text(node)}")
    for rule in rules.matching("differential", node):
        # rule left sides are d(pattern)
        b = match(rule.lhs.args[0], node)
        if b is not None and conditions_hold(rule, b, ctx):
            form = instantiate(rule.rhs, b, node.shape, differential=differential)
            assumption = _assumption(rule, b)
            return simplifier(form), shown_names(rule), assumption
    if node.op in rules.derivatives and len(node.args) == 1:
        # the chain rule of an elementwise function: d f(A) = f'(A) ∘ d(A)
        rule = rules.derivatives[node.op]
        (a,) = node.args
        slope = instantiate(rule.rhs, {rule.params[0]: a}, a.shape)
        form = build("had", (slope, differential(a)))
        return simplifier(form), shown_names(rule), None
    if node.op == "pow" and node.shape != SCALAR and isinstance(node.args[1], Num):
        # a large whole power of a matrix that no rule took (tr(X^k) would
        # have): differentiate it as the product it is
        body = expand_matrix_power(node.args[0], int(node.args[1].value))
        active.update(n for n in body.walk() if any(c in active for c in n.children))
        return Op("d", (body,), body.shape), ["matrix-power"], None
    if node.op == "pow" and node.shape != SCALAR:
        raise NotDifferentiableError(
            f"{to_text(node)}: a matrix to a symbolic power has a differential only inside a trace "
            "(∂tr(X^k)/∂X = k (X^(k−1))ᵀ); a second derivative or tr(A X^k) needs indices")
    if node.op in rules.definitions:
        # a function a rule file defined: differentiate its body
        rule = rules.definitions[node.op]
        body = instantiate(rule.rhs, dict(zip(rule.params, node.args)), node.shape)
        active.update(n for n in body.walk() if any(c in active for c in n.children))
        return Op("d", (body,), body.shape), shown_names(rule), None
    advice = getattr(FUNCTIONS.get(node.op), "advice", None)
    raise NotDifferentiableError(
        f"no rule differentiates {node.op}: {to_text(node)} ({format_shape(node.shape)}); "
        + (advice or "add one to a rule file (matcalc derive ... --rules my.rules)"))


@dataclass(frozen=True)
class Assumption:
    """What a result rests on: ``y sums to 1``; ``draws`` tells the numeric
    check how to sample the variables it concerns."""

    text: str
    draws: tuple = ()  # ((variable name, sampling kind), ...)

    def __str__(self) -> str:
        return self.text


def _assumption(rule, bindings) -> Assumption | None:
    if not rule.assumption:
        return None
    name, var = rule.assumption
    template, kind = ASSUMPTIONS[name]
    node = bindings[var]
    if not isinstance(node, Sym):  # not an input: the rule's conditions proved it (softmax sums to 1)
        return None
    draws = ((node.name, kind),)
    return Assumption(template.format(to_text(node)), draws)


def differentials(form: Expr, forward: set) -> list[Expr]:
    """The d(v) of a linear form (forward nodes hold none: not entered)."""
    return [n for n in form.walk(prune=lambda n: n in forward) if isinstance(n, Op) and n.op == "d"]


def contains_differential(e: Expr, memo: dict, forward: set) -> bool:
    if e in memo:
        return memo[e]
    for n in e.walk(prune=lambda n: n in forward or n in memo):
        if n not in memo:
            memo[n] = n not in forward and ((isinstance(n, Op) and n.op == "d")
                                            or any(memo.get(c, False) for c in n.children))
    return memo[e]


def match_linear_map(rules, lin: Expr, ctx: Context, linear):
    """The first rule whose left side F(L) matches ``lin`` with L bound to
    its linear part (``linear(L)``: it holds differentials) and every other
    variable to a constant: (rule, bindings), or None.  The adjoint rules
    and the Jacobian rules are both read this way."""
    for rule in rules:
        b = match(rule.lhs, lin)
        if b is None or "L" not in b or not conditions_hold(rule, b, ctx):
            continue
        if linear(b["L"]) and not any(linear(v) for k, v in b.items() if k != "L"):
            return rule, b
    return None
