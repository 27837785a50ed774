"""Forward mode on the same linear forms the gradient uses: Jacobians,
Hessians and Hessian-vector products with one mechanism.

Every active node is linearised by ``rules/differentials.rules`` exactly as
for the gradient (``differentiate._linearise``).  Then, children first:

* **Jacobian** (numerator layout, of vec for matrices): J(d(v)) is the
  Jacobian of v; J(F(L)) = M J(L) by ``rules/jacobians.rules``; sums add,
  and a broadcast operand gets the Jacobian of the broadcast.
* **JVP** (a directional derivative): the linear form itself, with each d(v)
  replaced by v's tangent.  No rules beyond the differentials, and it costs
  what the forward pass costs.

The Hessian of a scalar J with respect to X is the Jacobian of its gradient
(the gradient inlined: δ's replaced by their expressions); the
Hessian-vector product is the JVP of the gradient along v, never forming the
matrix.  Mixed second derivatives: the Jacobian of ∂J/∂x with respect to y.
"""
from __future__ import annotations

from typing import NamedTuple

from ..language.errors import NotDifferentiableError
from ..language.expr import SCALAR, Expr, Identity, Num, Ones, Op, Sym, Zero, cols_of, format_shape
from ..language.printer import to_text
from ..rewriting.rules import NO_CONTEXT, Context, RuleBase, default_rules, instantiate
from ..rewriting.simplify import Simplifier
from ..shapes.core import build, dim_product, substitute
from .linearise import active_nodes, contains_differential, differentials, linearise, match_linear_map


class ForwardStep(NamedTuple):
    """One node of the forward pass, for ``--steps``: its Jacobian, the
    rules that made it (the differential rule, then the Jacobian rules), and
    the simplifier's rewrites that gave it its form (those that simplified
    its linear form and then its Jacobian, shared nodes the memo had already
    simplified included; none tagged quiet), each list in order, no repeats."""

    node: Expr
    jacobian: Expr
    rules: list
    rewrites: list


def book_form_rules(rules: RuleBase) -> list:
    """The simplify rules that keep a Jacobian in book form (diag(v) W): all
    but those tagged ``evaluation`` (v ∘ W is the cheaper form to evaluate,
    and matcalc.engine.derivatives simplifies with every rule there)."""
    return [r for r in rules.of("simplify") if "evaluation" not in r.tags]


def vec_size(shape):
    """The length of vec of a shape: ``(m, n)`` -> ``"m*n"``; a scalar -> 1."""
    return 1 if shape == SCALAR else dim_product(shape[0], shape[1])


def jacobian(f: Expr, wrt: Sym, ctx: Context = NO_CONTEXT, rules: RuleBase | None = None,
             trace: list | None = None, shown=None) -> Expr:
    """∂vec(f)/∂vec(wrt), numerator layout: size(f) × size(wrt).

    ``jacobian(tanh(W x), x)`` is ``diag(1 − tanh(W x) ∘ tanh(W x)) W``.
    ``trace`` (a list) receives a ``ForwardStep`` for each node, in the
    order computed, for ``--steps``.  ``shown(node)``: the nodes --steps
    prints (f always is); the Jacobian of a node not shown is written inside
    the next shown one, so its rules and rewrites are that step's too.
    """

    rules = rules or default_rules()
    n = vec_size(wrt.shape)
    rows = vec_size(f.shape)
    active = active_nodes(f, {wrt.name})
    if f not in active:
        return zero_matrix(rows, n)
    forward = set(f.walk())
    memo: dict = {node: node for node in forward}
    # the linear forms take every simplify rule, the Jacobians the book form; one memo
    # (and with it what each memoised node was shaped by)
    shaped: dict = {}
    simplifiers = (Simplifier(rules.of("simplify"), ctx, memo=memo, shaped=shaped),
                   Simplifier(book_form_rules(rules), ctx, memo=memo, shaped=shaped))
    jac: dict = {wrt: _identity(n)}
    inputs: dict = {}  # node -> the nodes whose Jacobians its Jacobian is made of
    for node in f.walk(prune=lambda v: v not in active):
        if node not in active or node in jac:
            continue
        with simplifiers[0].recording() as fired:
            form, used, _ = linearise(node, active, rules, ctx, simplifiers[0])
        inputs[node] = [d.args[0] for d in differentials(form, forward)]
        for v in inputs[node]:
            if v not in jac:  # a fused rule reached below a node: go there first
                jac[v] = jacobian_of(v, wrt, ctx, rules, simplifiers, active, jac)
        maps: list = []
        with simplifiers[1].recording() as simplified:
            jac[node] = simplifiers[1](_jacobian_of_form(form, jac, rules, ctx, forward, maps))
        if trace is not None:
            trace.append(ForwardStep(node, jac[node], used + maps,
                                     fired + [n for n in simplified if n not in fired]))
    if trace is not None and shown is not None:
        trace[:] = _folded(trace, inputs, lambda v: v is f or shown(v))
    return jac[f]


def _folded(trace: list, inputs: dict, shown) -> list:
    """The trace with each shown step's rules and rewrites preceded by those
    of the steps not shown whose Jacobians it holds (through other steps
    not shown), in the order computed, each once."""
    by_node = {step.node: step for step in trace}
    below: dict = {}  # node -> (rules, rewrites) of the steps not shown under it, itself included

    def gathered(node) -> tuple:
        rules, rewrites = {}, {}
        for v in inputs.get(node, ()):
            if v in by_node and not shown(v):
                r, w = below[v]
                rules.update(dict.fromkeys(r))
                rewrites.update(dict.fromkeys(w))
        step = by_node[node]
        rules.update(dict.fromkeys(step.rules))
        rewrites.update(dict.fromkeys(step.rewrites))
        return list(rules), list(rewrites)

    out = []
    for step in trace:  # children before parents
        below[step.node] = gathered(step.node)
        out.append(step._replace(rules=below[step.node][0], rewrites=below[step.node][1])
                   if shown(step.node) else step)
    return out


def jacobian_of(node, wrt, ctx, rules, simplifiers, active, jac):
    """The Jacobian of an active node not yet reached (walk order)."""

    forward = set(node.walk())
    for v in node.walk(prune=lambda v: v not in active or v in jac):
        if v not in active or v in jac:
            continue
        form, _, _ = linearise(v, active, rules, ctx, simplifiers[0])
        for d in differentials(form, forward):
            if d.args[0] not in jac:
                jac[d.args[0]] = jacobian_of(d.args[0], wrt, ctx, rules, simplifiers, active, jac)
        jac[v] = simplifiers[1](_jacobian_of_form(form, jac, rules, ctx, forward))
    return jac[node]


def _identity(n):
    return Num(1) if n == 1 else Identity((n, n))


def zero_matrix(rows, cols):
    """The rows×cols zero (the number 0 when both are 1)."""
    return Num(0) if rows == 1 and cols == 1 else Zero((rows, cols))


def _jacobian_of_form(form: Expr, jac: dict, rules: RuleBase, ctx: Context, forward: set,
                      used: list | None = None) -> Expr:
    """J(form): the Jacobian of a linear form whose d(v) have Jacobians ``jac``."""
    has_d: dict = {}
    results: dict = {}
    for lin in form.walk(prune=lambda n: n in forward):
        if lin in results or not contains_differential(lin, has_d, forward):
            continue
        if isinstance(lin, Op) and lin.op == "d":
            results[lin] = jac[lin.args[0]]
            continue
        if isinstance(lin, Op) and lin.op == "add":
            parts = [broadcast_jacobian(results[a], a.shape, lin.shape)
                     for a in lin.args if contains_differential(a, has_d, forward)]
            total = parts[0]
            for p in parts[1:]:
                total = build("add", (total, p))
            results[lin] = total
            continue
        found = match_linear_map(rules.matching("jacobian", lin), lin, ctx,
                                 lambda e: contains_differential(e, has_d, forward))
        if found is None:
            raise NotDifferentiableError(f"no Jacobian rule for the linear map {to_text(lin)}")
        rule, b = found
        b["J"] = results[b["L"]]
        if lin.op in ("had", "div") and b["L"].shape != lin.shape:  # L was broadcast first
            b["J"] = broadcast_jacobian(b["J"], b["L"].shape, lin.shape)
        if lin.op in ("had", "div"):  # so was a smaller constant factor: spread it out
            for k, v in b.items():
                if k not in ("L", "J") and v.shape != lin.shape:
                    b[k] = build("had", (v, Ones(lin.shape)))
        results[lin] = instantiate(rule.rhs, b, None)
        if used is not None and rule.name not in used:
            used.append(rule.name)
    if form not in results:  # a constant form (d sgn(u) = 0): the zero Jacobian
        n = cols_of(next(iter(jac.values())).shape) if jac else 1
        return zero_matrix(vec_size(form.shape), n)
    return results[form]


def broadcast_jacobian(j: Expr, shape, target):
    """The Jacobian of an operand of ``shape`` that numpy broadcast to
    ``target``: vec(1 b) = (I ⊗ 1) vec(b) for a row b, and so on."""
    if shape == target:
        return j
    if shape == SCALAR:
        return build("mul", (Ones((vec_size(target), 1)), j))
    (r, c), (tr_, tc) = shape, target
    if r == 1 and tr_ != 1:  # a row repeated down tr_ rows
        block = Ones((tr_, 1)) if c == 1 else build("kron", (Identity((c, c)), Ones((tr_, 1))))
    elif c == 1 and tc != 1:  # a column repeated across tc columns
        block = Ones((tc, 1)) if r == 1 else build("kron", (Ones((tc, 1)), Identity((r, r))))
    else:
        raise NotDifferentiableError(f"cannot broadcast {format_shape(shape)} to {format_shape(target)}")
    return build("matmul", (block, j))


def jvp(f: Expr, tangents: dict, ctx: Context = NO_CONTEXT, rules: RuleBase | None = None) -> Expr:
    """The directional derivative of ``f`` along ``tangents`` (variable name
    -> an expression of that variable's shape): the linear forms, with each
    d(v) replaced by v's tangent.  Same shape as f."""

    rules = rules or default_rules()
    active = active_nodes(f, set(tangents))
    if f not in active:
        return Zero(f.shape) if f.shape != SCALAR else Num(0)
    forward = set(f.walk())
    simplifier = Simplifier(rules.of("simplify"), ctx, memo={node: node for node in forward})
    tangent: dict = {}
    for node in f.walk(prune=lambda v: v not in active):
        if node not in active:
            continue
        if isinstance(node, Sym):
            tangent[node] = tangents[node.name]
            continue
        form, _, _ = linearise(node, active, rules, ctx, simplifier)
        tangent[node] = simplifier(_substitute_differentials(form, tangent, active, rules, ctx, simplifier, forward))
    return tangent[f]


def _substitute_differentials(form, tangent, active, rules, ctx, simplifier, forward):
    out: dict = {}
    for n in form.walk(prune=lambda v: v in forward):
        if isinstance(n, Op) and n.op == "d":
            v = n.args[0]
            if v not in tangent:  # below a fused rule: linearise it first
                inner, _, _ = linearise(v, active, rules, ctx, simplifier)
                tangent[v] = _substitute_differentials(inner, tangent, active, rules, ctx, simplifier, forward)
            out[n] = tangent[v]
        elif isinstance(n, Op) and n not in forward:
            args = tuple(out.get(a, a) for a in n.args)
            out[n] = n if args == n.args else build(n.op, args)
    return out.get(form, form)


def inline_gradient(derivation, wrt: str) -> Expr:
    """The gradient with its δ names replaced by their expressions."""
    values: dict = {}
    for step in derivation.intermediates:
        values[step.name] = substitute(step.expr, values)
    g = derivation.gradients[wrt]
    if g is None:
        return None
    return substitute(g, values)
