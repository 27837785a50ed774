"""Jacobians, Hessians and Hessian-vector products as results: their
derivation (forward mode over the objective, or over the gradient), what
to print (with the layout and what each matrix maps).  Their numeric check
is ``matcalc.check_higher``, their numpy functions (``jacobians``,
``hessians``, ``hvp``) ``matcalc.codegen``.

Layouts: numerator (the default) puts the rows of the Jacobian along f and
its columns along the variable, (∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ; denominator is its
transpose.  A gradient keeps the shape of its variable in either layout.
"""
from __future__ import annotations

from dataclasses import dataclass

from .dag import name_nodes
from .errors import MatcalcError
from .expr import SCALAR, Expr, Num, Sym, Zero, format_shape
from .jacobian import book_form_rules, inline_gradient, jacobian, jvp, vec_size, zero_matrix
from .naming import name_repeats
from .rules import NO_CONTEXT
from .shapes import build
from .simplify import simplify

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
        from .printer import to_ascii, to_text

        show = to_text if unicode else to_ascii
        return self.spelled(LABELS["unicode" if unicode else "ascii"], objective, lambda n: show(Sym(n)))

    def spelled(self, templates: dict, objective: str, name) -> str:
        return templates[self.form].format(f=objective, x=name(self.wrt), y=name(self.wrt2 or self.wrt))

    def maps(self, objective_shape, wrt_shapes, unicode: bool = True) -> str:
        """What the matrix maps: ``∂vec(f)/∂vec(X): mn×pq``."""
        if self.kind == "hvp":
            return "Hessian-vector product, shaped like " + self.wrt
        if self.kind == "hessian":
            x, y = self.wrt, self.wrt2 or self.wrt
            vx = f"vec({x})" if 1 not in wrt_shapes[x] and wrt_shapes[x] != SCALAR else x
            vy = f"vec({y})" if 1 not in wrt_shapes[y] and wrt_shapes[y] != SCALAR else y
            rows, cols = vec_size(wrt_shapes[x]), vec_size(wrt_shapes[y])
            if self.layout == "denominator":
                rows, cols = cols, rows
            what = f"Hessian in {vx}" if x == y else f"∂/∂{vy} of the gradient in {vx}"
            return f"{what}: {_dim(rows)}{'×' if unicode else 'x'}{_dim(cols)}"
        f = "f"
        outer = objective_shape if self.kind == "jacobian" else wrt_shapes[self.wrt]
        inner = wrt_shapes[self.wrt] if self.kind == "jacobian" else wrt_shapes[self.wrt2 or self.wrt]
        x = self.wrt if self.kind == "jacobian" else (self.wrt2 or self.wrt)
        top = f"vec({f})" if 1 not in outer else f
        bottom = f"vec({x})" if 1 not in inner else x
        if inner == SCALAR:
            bottom = x
        rows, cols = vec_size(outer), vec_size(inner)
        if self.layout == "denominator":
            rows, cols = cols, rows
        times = "×" if unicode else "x"
        return f"∂{top}/∂{bottom}: {_dim(rows)}{times}{_dim(cols)}"


def layout_note(result) -> str:
    """The layout, said in every output: what it means for what was derived."""
    if result.derivatives and any(d.kind in ("jacobian", "hessian") for d in result.derivatives):
        if result.layout == "numerator":
            return "numerator (∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ: rows follow f, columns the variable"
        return "denominator (∂f/∂x)ᵢⱼ = ∂fⱼ/∂xᵢ: rows follow the variable, columns f (the transpose)"
    return f"{result.layout} (a gradient has the shape of its variable in either layout)"


def _dim(d) -> str:
    return str(d).replace("*", "")


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


def render_derivatives(result, derivatives: list[Derivative], unicode: bool = True, width: int = 0) -> list[str]:
    """Text lines: each derivative with its shape, what it maps, symmetry."""
    from .printer import to_ascii, to_text

    show = to_text if unicode else to_ascii
    program = result.program
    objective = show(Sym(result.objective_name)) if result.objective_name != "J" or program.objective.shape == SCALAR \
        else "f"
    shapes = program.typed.shapes
    rows = []
    for d in derivatives:
        note = d.maps(program.objective.shape, shapes, unicode)
        if d.symmetric:
            note += ", symmetric"
        rows.append((f"{d.label(objective, unicode)} = {show(d.expr)}", format_shape(d.shape, "×" if unicode else "x"),
                     note))
        for name, expr in d.where:
            shape = format_shape(expr.shape, "×" if unicode else "x")
            rows.append((f"    where {show(Sym(name))} = {show(expr)}", shape, ""))
    width = min(max([len(t) for t, _, _ in rows] + [30, width]), 100)
    return [f"{t}{' ' * max(2, width + 3 - len(t))}{s:<9} {n}".rstrip() for t, s, n in rows]


def render_derivative_steps(result, unicode: bool = True) -> str:
    """``--steps`` for Jacobians and Hessians: forward mode, node by node
    (the program's names where it has them), with the rules used."""
    from .printer import to_ascii, to_text
    from .steps import with_rewrites

    show = to_text if unicode else to_ascii
    d_ = "∂" if unicode else "d"
    names = result.program.names
    objective = show(Sym(result.objective_name)) if result.program.objective in names else \
        ("f" if result.program.objective.shape != SCALAR else "J")
    blocks = []
    for d in result.derivatives:
        if d.kind == "hvp":
            blocks.append(f"{d.label(objective, unicode)}: the derivative of the gradient ∂J/∂{show(Sym(d.wrt))} "
                          f"along {show(Sym(d.wrt2))} (forward mode on the gradient; no Hessian is formed)")
            continue
        x = show(Sym(d.wrt2 or d.wrt))
        head = ("forward mode, numerator layout: each step is M · (the Jacobian before it)"
                if d.kind == "jacobian" else
                f"the Hessian is the Jacobian of the gradient ∂J/∂{show(Sym(d.wrt))}, by forward mode")
        lines = [f"{d.label(objective, unicode)}: {head}"]
        shown = [s for s in d.steps if s.node in names or s.node is d.steps[-1].node]
        for node, j, rules, rewrites in shown:
            target = show(Sym(names[node])) if node in names else f"({show(name_nodes(node, names))})"
            tail = format_shape(j.shape, "×" if unicode else "x")
            if rules:
                tail = f"{tail:<7}   [{', '.join(rules)}]"
            lines.append(with_rewrites(f"  {d_}{target}/{d_}{x} = {show(name_nodes(j, names))}   {tail}",
                                       rewrites, 6))
        if d.layout == "denominator":
            lines.append("  denominator layout: the transpose of the last line")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
