"""``--steps``: a derivation written the way the seed notes write it.

For one variable: the chain rule through the program's named intermediates,
then one line per step (the partial derivative, its shape and the rules that
produced it, with the δ name it was given), then the shape check.

    ∂J/∂W = ∂J/∂θ · ∂θ/∂h · ∂h/∂z · ∂z/∂W
      ∂J/∂θ = ŷ − y              1×C   [softmax-CE]       =: δ1
      ∂J/∂h = δ1 Uᵀ              1×H   [product]
      ∂J/∂z = δ1 Uᵀ ∘ step(z)    1×H   [relu]             =: δ2
      ∂J/∂W = xᵀ δ2              D×H   [product]
    shape check: xᵀ (D×1) δ2 (1×H) is D×H, the shape of W ✓
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..language.expr import Expr, Op, Sym
from ..shapes.dag import name_nodes


@dataclass
class StepLine:
    """∂J/∂(target) = expr, with its shape, rules and δ name."""

    target: Expr  # the node, as the program names it
    expr: Expr
    shape: tuple
    rules: list = field(default_factory=list)
    delta: str | None = None
    rewrites: list = field(default_factory=list)  # the simplifier's, that gave expr its printed form


@dataclass(frozen=True)
class ShapeCheck:
    """A gradient's shape against its variable's, with the two factors of
    a final product ``a b`` (each shown with its shape) when it is one."""

    factors: tuple  # (a, b), or () when the gradient is not a product
    shape: tuple  # the gradient's
    expected: tuple  # the variable's

    @property
    def ok(self) -> bool:
        return self.shape == self.expected


@dataclass
class Steps:
    wrt: str
    chain: list  # targets along the way, objective first, the variable last
    lines: list  # StepLine
    shape_check: ShapeCheck | None = None  # None: the variable does not affect the objective


def derivation_steps(result, wrt: str) -> Steps:
    """The steps of ``result`` (a ``matcalc.faces.api.Result``) for one variable."""
    derivation = result.derivation
    names = result.program.names
    memo: dict = {}
    by_node = {s.node: s for s in derivation.trace}
    target = next((s for s in derivation.trace if isinstance(s.node, Sym) and s.node.name == wrt), None)
    if target is None:
        return Steps(wrt, [], [])

    # the nodes the variable's gradient came through
    wanted, stack = set(), [target]
    while stack:
        s = stack.pop()
        if s.node in wanted:
            continue
        wanted.add(s.node)
        stack.extend(by_node[c] for c in s.consumers if c in by_node)

    def shown(s) -> bool:
        return s.node is not derivation.objective and (
            s.node in names or s.delta is not None or isinstance(s.node, Sym))

    rule_memo: dict = {}

    def rules_into(s) -> tuple:
        """(rules, simplifier rewrites) applied between the nearest shown
        consumers and this node."""
        if s.node in rule_memo:
            return rule_memo[s.node]
        out: dict = {}
        rewrites: dict = {}
        for c in s.consumers:
            step = by_node.get(c)
            own = derivation.steps.get(c, [])
            before, shaped = ([], []) if step is None or shown(step) or c is derivation.objective \
                else rules_into(step)
            out.update(dict.fromkeys(before + own))
            rewrites.update(dict.fromkeys(shaped))
        rewrites.update(dict.fromkeys(s.rewrites))
        rule_memo[s.node] = list(out), list(rewrites)
        return rule_memo[s.node]

    lines = []
    for s in derivation.trace:
        if s.node not in wanted or not shown(s):
            continue
        label = Sym(names[s.node], s.node.shape) if s.node in names else name_nodes(s.node, names, memo=memo)
        rules, rewrites = rules_into(s)
        lines.append(StepLine(label, name_nodes(s.cotangent, names, memo=memo), s.node.shape,
                              rules, s.delta, rewrites))
    chain = [Sym(result.objective_name)] + [line.target for line in lines]
    return Steps(wrt, chain, lines, shape_check(result.gradients[wrt], result.program.shapes[wrt]))


def shape_check(g: Expr, expected: tuple) -> ShapeCheck:
    """The gradient ``g`` against the variable's shape ``expected``."""
    factors = tuple(g.args) if isinstance(g, Op) and g.op == "matmul" else ()
    return ShapeCheck(factors, g.shape, expected)
