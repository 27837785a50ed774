"""Reverse-mode differentiation by rules: linearise each node with a
differential rule, then pass cotangents back through the linear forms with the
adjoint rules (the trace tricks).  One mechanism for every derivative.

The backward pass is micrograd's: a topological order of the nodes that lie
between the objective and the variables, then one loop.  For each node

1. its differential ``d(node)`` is written, by the first matching rule of
   ``rules/differentials.rules`` (or the chain rule for an elementwise
   function with f' from ``rules/derivatives.rules``), as a linear form in the
   differentials ``d(v)`` of some nodes ``v`` below it;
2. its cotangent ``G = ∂J/∂node`` (the sum of what its consumers passed it)
   is simplified and, when it is more than a product of names, named δk;
3. the linear form is transposed against ``G`` (``rules/adjoints.rules``),
   giving each ``v`` its share.

Broadcasting is differentiated honestly: the share of an operand that was
broadcast is summed back over the broadcast axis (``onesᵀ G``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..language.errors import NotDifferentiableError
from ..language.expr import SCALAR, Expr, Num, Ones, Op, Sym, format_shape
from ..language.printer import to_text
from ..rewriting.rules import NO_CONTEXT, Context, RuleBase, default_rules, instantiate
from ..rewriting.simplify import Simplifier
from ..shapes.core import build, substitute
from .linearise import active_nodes, contains_differential, differentials, linearise, match_linear_map


@dataclass
class Intermediate:
    """An error term δk = ∂J/∂(node), computed once and shared."""

    name: str  # "delta1"
    of: Expr  # the node it is the cotangent of
    expr: Expr  # its value, in terms of earlier δ's and forward nodes
    rules: list = field(default_factory=list)  # rules that produced it

    @property
    def shape(self):
        return self.expr.shape


@dataclass
class Derivation:
    """What ``differentiate`` found: δ terms in order, then the gradients."""

    objective: Expr
    wrt: list
    intermediates: list
    gradients: dict  # wrt name -> Expr (in terms of δ names and forward nodes)
    assumptions: list
    steps: dict  # node -> names of the rules used to linearise it
    gradient_rules: dict = field(default_factory=dict)  # wrt -> rule names
    trace: list = field(default_factory=list)  # BackwardStep, in the order computed


@dataclass
class BackwardStep:
    """One node of the backward pass: its cotangent ∂J/∂node (before a δ name
    replaced it), the nodes that passed it shares, and its δ name if any."""

    node: Expr
    cotangent: Expr
    consumers: list
    delta: str | None = None
    # the simplifier's rewrites (algebra and rules/simplify.rules, not those tagged quiet) that
    # turned what the rules made into ``cotangent``: those that simplified the consumers' linear
    # forms and then the sum of the shares, including rewrites of shared nodes the memo had
    # already simplified for an earlier step; in the order they first fired
    rewrites: list = field(default_factory=list)


def differentiate(objective: Expr, wrt: list[str], ctx: Context = NO_CONTEXT,
                  rules: RuleBase | None = None, delta_prefix: str = "delta",
                  defined: frozenset = frozenset(), taken: frozenset = frozenset()) -> Derivation:
    """Gradients of the scalar typed ``objective`` with respect to the named
    variables, each with the shape of its variable.

    Error terms δk are the notes' (SPEC §3): the cotangents of the nodes a
    nonlinear function consumes (the pre-activations ``z`` of ``relu(z)``,
    ``θ`` of ``softmax(θ)``) and of the program's ``defined`` nodes, when
    they are more than a product of names.  The cotangent of any other node
    (a transpose, an inverse, a product) is passed on inline, so a gradient
    is never a transposed δ and the simplifier sees it whole.

    ``sum(tanh(W x))`` with respect to ``W`` gives δ1 = 1 − tanh(W x) ∘ tanh(W x)
    and ∂J/∂W = δ1 xᵀ.  Names in ``taken`` (the user's own ``δ1``) are never
    given to an error term.  The ``defined`` nodes are kept whole by the
    simplifier (no rule looks into a value the program named).
    """
    rules = rules or default_rules()
    wanted = set(wrt)
    active = active_nodes(objective, wanted)
    if objective not in active:
        return Derivation(objective, list(wrt), [], {w: None for w in wrt}, [], {}, {w: [] for w in wrt})

    # one simplifier memo for the whole pass, seeded with the forward nodes:
    # they stay as the user wrote them, and each is looked at once (linear cost)
    forward = set(objective.walk())
    simplifier = Simplifier(rules.of("simplify"), ctx, memo={node: node for node in forward}, named=defined)
    linear, steps, assumptions, shaped = _linearise_all(objective, active, rules, ctx, simplifier, forward)
    order = _reverse_topological(objective, linear, forward)

    # each share of a cotangent carries the names of the rules that made it,
    # and the node that passed it (for --steps)
    cotangents: dict = {objective: [(Num(1), [], None)]}
    fresh = (f"{delta_prefix}{k}" for k in itertools.count(1) if f"{delta_prefix}{k}" not in taken)
    trace: list[BackwardStep] = []
    intermediates: list[Intermediate] = []
    gradients: dict = {}
    gradient_rules: dict = {}
    for node in order:
        parts = cotangents.pop(node, [])
        if not parts:
            continue
        with simplifier.recording() as fired:
            g = _simplify_sum([p for p, _, _ in parts], simplifier)
        used = _merge([names for _, names, _ in parts])
        consumers = [c for _, _, c in parts if c is not None]
        step = BackwardStep(node, g, consumers, rewrites=_merge([shaped.get(c, ()) for c in consumers] + [fired]))
        trace.append(step)
        if isinstance(node, Sym):
            gradients[node.name] = g
            gradient_rules[node.name] = used
            continue
        if node is not objective and (node in defined or _feeds_nonlinear(parts, rules)) \
                and _worth_naming(g, forward):
            name = next(fresh)
            intermediates.append(Intermediate(name, node, g, used))
            g, used = Sym(name, g.shape), []
            step.delta = name
        passed = _merge([used, steps.get(node, [])])
        for child, share in _transpose(linear[node], g, rules, ctx, forward):
            cotangents.setdefault(child, []).append((share, passed, node))
    intermediates = _inline_isolated(intermediates, gradients, trace, simplifier, delta_prefix, defined, forward)
    for w in wrt:
        gradients.setdefault(w, None)  # the objective does not depend on it
        gradient_rules.setdefault(w, [])
    return Derivation(objective, list(wrt), intermediates, gradients, assumptions, steps, gradient_rules, trace)


def _inline_isolated(intermediates: list, gradients: dict, trace: list, simplifier, prefix: str,
                     defined: frozenset, forward: set) -> list:
    """A δ of a node the program did not name that is a layer of its own
    (it uses no other δ, no other δ uses it, and one gradient uses it) is
    written into that gradient, as the books write a one-layer model:
    ∂J/∂w = Xᵀ (σ(X w) − y) / N, not δ1 = (σ(X w) − y) / N, ∂J/∂w = Xᵀ δ1.
    The δ's that remain are numbered again in order.  The forward nodes hold
    no δ: they are not entered (linear in the size of the backward pass)."""
    names = {i.name for i in intermediates}
    users: dict = {n: [] for n in names}
    inner: dict = {}
    for i in intermediates:
        inner[i.name] = {n.name for n in i.expr.walk(prune=lambda n: n in forward)
                         if isinstance(n, Sym) and n.name in names}
        for n in inner[i.name]:
            users[n].append(i.name)
    for w, g in gradients.items():
        for n in {n.name for n in g.walk(prune=lambda n: n in forward) if isinstance(n, Sym) and n.name in names}:
            users[n].append(w)
    inline = {i.name: i.expr for i in intermediates
              if i.of not in defined and not inner[i.name]
              and len(users[i.name]) == 1 and users[i.name][0] in gradients}
    if not inline:
        return intermediates
    kept = [i for i in intermediates if i.name not in inline]
    renamed = {i.name: Sym(f"{prefix}{k + 1}", i.expr.shape) for k, i in enumerate(kept)}
    env = {**inline, **renamed}
    for i in kept:
        i.expr = substitute(i.expr, env, forward)
        i.name = renamed[i.name].name
    for w, g in gradients.items():
        new = substitute(g, env, forward)
        gradients[w] = simplifier(new) if new != g else g
    memo: dict = {}
    for step in trace:
        if step.delta in inline:
            step.delta = None
        elif step.delta in renamed:
            step.delta = renamed[step.delta].name
        # what --steps prints, in the δ's that remain (the gradient's line as the gradient reads)
        new = substitute(step.cotangent, env, forward, memo)
        if new != step.cotangent:
            with simplifier.recording() as fired:
                step.cotangent = simplifier(new)
            step.rewrites = _merge([step.rewrites, fired])
    return kept


def _merge(lists) -> list:
    out = []
    for names in lists:
        for n in names:
            if n not in out:
                out.append(n)
    return out


def _linearise_all(objective, active, rules, ctx, simplifier, forward):
    """The linear form of every active node reachable backwards from the
    objective (through the rules' choices: a fused rule skips a node), and
    the simplifier's rewrites that shaped each form."""
    linear, steps, assumptions, shaped = {}, {}, [], {}
    stack = [objective]
    while stack:
        node = stack.pop()
        if node in linear or isinstance(node, Sym):
            continue
        with simplifier.recording() as fired:
            form, used, assumption = linearise(node, active, rules, ctx, simplifier)
        linear[node] = form
        steps[node] = used
        if fired:
            shaped[node] = fired
        if assumption and assumption not in assumptions:
            assumptions.append(assumption)
        for d in differentials(form, forward):
            stack.append(d.args[0])
    return linear, steps, assumptions, shaped


def _reverse_topological(objective: Expr, linear: dict, forward: set) -> list[Expr]:
    """Nodes of the backward graph, each after every node that consumes it."""
    consumers: dict = {}
    children: dict = {}
    for node, form in linear.items():
        kids = []
        for d in differentials(form, forward):
            v = d.args[0]
            if v not in kids:
                kids.append(v)
                consumers[v] = consumers.get(v, 0) + 1
        children[node] = kids
    order, ready = [], [objective]
    while ready:
        node = ready.pop()
        order.append(node)
        for v in children.get(node, ()):
            consumers[v] -= 1
            if consumers[v] == 0:
                ready.append(v)
    return order


def _simplify_sum(parts: list[Expr], simplifier: Simplifier) -> Expr:
    total = parts[0]
    for p in parts[1:]:
        total = build("add", (total, p))
    return simplifier(total)


_SIMPLE_OPS = {"matmul", "scale", "T"}
# functions of a vector or matrix that are not elementwise but whose input the notes call a layer's
_LAYER_FUNCTIONS = {"softmax", "log_softmax", "logsumexp", "CE"}


def _feeds_nonlinear(parts: list, rules: RuleBase) -> bool:
    """Some consumer of the node is a nonlinear elementwise or neural
    function (a layer's activation): its cotangent is an error term."""
    for _, _, consumer in parts:
        if isinstance(consumer, Op) and (consumer.op in rules.derivatives or consumer.op in _LAYER_FUNCTIONS
                                         or consumer.op in rules.definitions):
            return True
    return False


def _worth_naming(g: Expr, forward: set) -> bool:
    """A cotangent gets a δ name unless it is already a forward value, a
    scalar, or a plain product of names (δ1 Uᵀ is written inline, as the
    notes do)."""
    if g in forward or not isinstance(g, Op) or g.shape == SCALAR:
        return False
    return any(isinstance(n, Op) and n.op not in _SIMPLE_OPS and n not in forward
               for n in g.walk(prune=lambda n: n in forward))


def _transpose(form: Expr, g: Expr, rules: RuleBase, ctx: Context, forward: set):
    """Yield (node, share of the cotangent) for every d(node) in the linear
    ``form`` whose cotangent is ``g``."""
    has_d: dict = {}
    stack = [(form, g)]
    while stack:
        lin, g = stack.pop()
        if not contains_differential(lin, has_d, forward):
            continue  # a constant form (sgn'(u) = 0 made d sgn(u) = 0): nothing passes through
        g = unbroadcast(g, lin.shape)
        if isinstance(lin, Op) and lin.op == "d":
            yield lin.args[0], g
            continue
        if isinstance(lin, Op) and lin.op == "add":
            stack.extend((a, g) for a in lin.args if contains_differential(a, has_d, forward))
            continue
        found = match_linear_map(rules.matching("adjoint", lin), lin, ctx,
                                 lambda e: contains_differential(e, has_d, forward))
        if found is None:
            raise NotDifferentiableError(f"no adjoint rule passes a cotangent through {to_text(lin)}")
        rule, b = found
        b["G"] = g
        stack.append((b["L"], instantiate(rule.rhs, b, b["L"].shape)))


def unbroadcast(g: Expr, shape) -> Expr:
    """The cotangent of an operand of ``shape`` that numpy broadcast to
    ``g.shape``: summed over the broadcast axes (``onesᵀ G`` for a row bias)."""
    if g.shape == shape:
        return g
    if shape == SCALAR:
        return build("sum", (g,))
    if g.shape == SCALAR:
        # a scalar cotangent spread over a shape: G times a block of ones
        return build("scale", (g, Ones(shape)))
    (gr, gc), (r, c) = g.shape, shape
    if (gc, gr) == (r, c) and 1 in shape:
        return build("T", (g,))  # a vector of the other orientation
    if r == 1 and gr != 1:
        g = build("matmul", (build("T", (Ones((gr, 1)),)), g))
    if c == 1 and gc != 1:
        g = build("matmul", (g, Ones((gc, 1))))
    if g.shape != shape:
        raise NotDifferentiableError(f"cannot sum a {format_shape(g.shape)} cotangent back to {format_shape(shape)}")
    return g
