"""Jacobians, Hessians and Hessian-vector products as results: their
derivation (forward mode over the objective, or over the gradient) and
their labels (what each output shows of them is ``matcalc.results.report``'s).
Their numeric check is ``matcalc.results.check_higher``, their numpy functions
(``jacobians``, ``hessians``, ``hvp``) ``matcalc.outputs.codegen``.

Layouts: numerator (the default) puts the rows of the Jacobian along f and
its columns along the variable, (∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ; denominator is its
transpose.  A gradient keeps the shape of its variable in either layout.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..language.errors import MatcalcError
from ..language.expr import SCALAR, Expr, Num, Sym, Zero
from ..language.printer import to_ascii, to_text
from ..rewriting.rules import NO_CONTEXT
from ..rewriting.simplify import simplify
from ..shapes.core import build
from ..shapes.dag import name_nodes, name_repeats
from .forward import book_form_rules, inline_gradient, jacobian, jvp, vec_size, zero_matrix
from .reverse import differentiate

LAYOUTS = ("numerator", "denominator")

# how each kind of derivative is written, in the three notations
LABELS = {
    "unicode": {"jacobian": "∂{f}/∂{x}", "hessian": "∂²{f}/∂{x}²", "mixed": "∂²{f}/∂{x}∂{y}", "hvp": "∇²{f} {y}"},
    "ascii": {"jacobian": "d{f}/d{x}", "hessian": "d2{f}/d{x}2", "mixed": "d2{f}/d{x}d{y}", "hvp": "H{f} {y}"},
    "latex": {"jacobian": r"\frac{{\partial {f}}}{{\partial {x}}}",
              "hessian": r"\frac{{\partial^{{2}} {f}}}{{\partial {x}^{{2}}}}",
              "mixed": r"\frac{{\partial^{{2}} {f}}}{{\partial {x}\, \partial {y}}}",
              "hvp": r"\nabla^{{2}} {f}\, {y}"},
}


@dataclass
class Derivative:
    """One Jacobian, Hessian or Hessian-vector product."""

    kind: str  # "jacobian" | "hessian" | "hvp"
    wrt: str
    wrt2: str | None
    expr: Expr  # for display, in the program's names
    value: Expr  # for evaluation (cheap forms, forward nodes inline)
    layout: str
    symmetric: bool = False
    where: tuple = ()  # ((name, expr), ...): repeated subexpressions named for reading
    steps: tuple = ()  # ((node, Jacobian, rule names), ...) along the forward pass


    @property
    def shape(self):
        return self.expr.shape

    @property
    def form(self) -> str:
        """Which notation it is written in: jacobian, hessian, mixed or hvp."""
        if self.kind == "hessian" and self.wrt2 and self.wrt2 != self.wrt:
            return "mixed"
        return self.kind

    def label(self, objective: str, unicode: bool = True) -> str:
        """``∂f/∂x``, ``∂²J/∂x²``, ``∂²J/∂x∂y``, ``∇²J v`` (``LABELS`` has the
        unicode, ASCII and LaTeX spellings)."""
        show = to_text if unicode else to_ascii
        return self.spelled(LABELS["unicode" if unicode else "ascii"], objective, lambda n: show(Sym(n)))

    def spelled(self, templates: dict, objective: str, name) -> str:
        return templates[self.form].format(f=objective, x=name(self.wrt), y=name(self.wrt2 or self.wrt))


def _oriented(e: Expr, layout: str, ctx, rules) -> Expr:
    """``e`` in ``layout`` (the transpose for denominator), simplified with
    the program's rule base ``rules`` (the user's rules too)."""
    if layout not in LAYOUTS:
        raise MatcalcError(f"layout must be numerator or denominator, not {layout!r}")
    return e if layout == "numerator" else simplify(build("T", (e,)), ctx, rules=rules.of("simplify"))


def _display(e: Expr, ctx, names, rules) -> Expr:
    # display keeps diag(v) W, the book form of a Jacobian; evaluation uses v ∘ W
    return name_nodes(simplify(e, ctx, rules=book_form_rules(rules)), names)


def _cheap(e: Expr, ctx, rules) -> Expr:
    return simplify(e, ctx, rules=rules.of("simplify"))


def jacobian_derivatives(program, wrt: list[str], layout: str, ctx) -> list[Derivative]:
    """The Jacobian of a vector- or matrix-valued objective for each variable."""
    out = []
    for w in wrt:
        trace: list = []
        j = jacobian(program.objective, Sym(w, program.typed.shapes[w]), ctx, program.rules, trace,
                     shown=program.names.__contains__)
        j = _oriented(j, layout, ctx, program.rules)
        shown, where = name_repeats(_display(j, ctx, program.names, program.rules), program.typed.shapes)
        out.append(Derivative("jacobian", w, None, shown, _cheap(j, ctx, program.rules), layout, where=where,
                              steps=tuple(trace)))
    return out


def second_derivatives(result, wrt: list[str], ctx, hessian: bool, wrt2: str | None = None,
                       hvp: str | None = None) -> None:
    """``result`` (of a scalar objective) gains its Hessians (``hessian``;
    mixed with ``wrt2``) and its Hessian-vector products along the new input
    ``hvp``, in ``result.layout``.  With a declared symmetric matrix the
    gradient is differentiated again without using S = Sᵀ
    (``result.second_derivation``): second derivatives are of independent
    entries (the printed gradient may use it: its value at a symmetric point
    is the same)."""
    program = result.program
    if ctx.symmetric:
        result.second_derivation = differentiate(
            program.objective, wrt, NO_CONTEXT, program.rules, defined=frozenset(program.names),
            taken=frozenset(program.typed.shapes) | frozenset(program.typed.dims))
    if hessian:
        result.derivatives = hessian_derivatives(result, wrt, wrt2, result.layout, ctx)
    if hvp:
        if hvp in program.typed.shapes:
            raise MatcalcError(f"--hvp {hvp}: the direction needs a new name; {hvp} is taken")
        if len(wrt) != 1:
            raise MatcalcError("--hvp: one variable at a time (the direction has its shape)")
        result.directions[hvp] = program.typed.shapes[wrt[0]]
        result.derivatives += hvp_derivatives(result, wrt, hvp, ctx)


def hessian_derivatives(result, wrt: list[str], wrt2: str | None, layout: str, ctx) -> list[Derivative]:
    """Second derivatives of a scalar objective: the Jacobian of each gradient
    (with respect to the same variable, or to ``wrt2``).

    The gradient differentiated is ``result.second_derivation``'s, derived
    without using S = Sᵀ for declared symmetric S, and the Jacobian is formed
    the same way: a second derivative is of independent entries (SPEC §3),
    so the commutation terms stay.  Only the finished matrix, a value at a
    symmetric point, is simplified with ``ctx`` (Sᵀ -> S)."""
    program = result.program
    out = []
    for w in wrt:
        g = inline_gradient(result.second_derivation, w)
        other = wrt2 or w
        target = Sym(other, program.typed.shapes[other])
        if g is None:
            h = zero_matrix(vec_size(program.typed.shapes[w]), vec_size(target.shape))
        else:
            trace: list = []
            h = jacobian(g, target, NO_CONTEXT, program.rules, trace, shown=program.names.__contains__)
        h = _oriented(h, layout, ctx, program.rules)
        symmetric = other == w
        shown, where = name_repeats(_display(h, ctx, program.names, program.rules), program.typed.shapes)
        out.append(Derivative("hessian", w, wrt2, shown, _cheap(h, ctx, program.rules), layout, symmetric, where,
                              tuple(trace) if g is not None else ()))
    return out


def hvp_derivatives(result, wrt: list[str], direction: str, ctx) -> list[Derivative]:
    """∇²J v for each variable: the derivative of the gradient along v,
    without forming the Hessian (of independent entries, as
    ``hessian_derivatives``)."""
    program = result.program
    out = []
    for w in wrt:
        g = inline_gradient(result.second_derivation, w)
        shape = program.typed.shapes[w]
        if g is None:
            hv = Zero(shape) if shape != SCALAR else Num(0)
        else:
            hv = jvp(g, {w: Sym(direction, shape)}, NO_CONTEXT, program.rules)
        out.append(Derivative("hvp", w, direction, _display(hv, ctx, program.names, program.rules),
                              _cheap(hv, ctx, program.rules), "numerator"))
    return out
