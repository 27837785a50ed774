"""LaTeX of whole derivations (the expressions themselves are
``matcalc.language.latex_expr``'s).

``render_latex`` writes a derivation (an ``align*`` block: shapes,
definitions, assumptions, δ terms and gradients each with its shape and
rules, the numeric check) and, with ``steps=True``, the chain-rule steps of
``matcalc.results.steps`` for each variable.
"""
from __future__ import annotations

import math

from ..language.expr import SCALAR, Expr, Sym
from ..language.latex_expr import escape_text, factor_latex, latex_name, latex_shape, to_latex
from ..results.report import as_report
from .render import simplified_note


def _partial(of: str, target: str) -> str:
    return rf"\frac{{\partial {of}}}{{\partial {target}}}"


def _rules(rules, rewrites=()) -> str:
    """The rules beside a row, then the simplifier's rewrites (``--steps``)."""
    out = rf" && \text{{[{escape_text(', '.join(rules))}]}}" if rules else ""
    if rewrites:
        out += rf" && \text{{{escape_text(simplified_note(rewrites))}}}"
    return out


def _scientific(x: float) -> str:
    if not math.isfinite(x):
        return r"\infty" if x > 0 else r"\text{nan}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _check_row(check) -> str:
    """ok, FAILED or inconclusive (with why), as the report says."""
    if check.status == "inconclusive":
        return rf"& \text{{check inconclusive: {escape_text(check.details)}}}"
    dims = ", ".join(f"{latex_name(k)} = {v}" for k, v in check.dims.items())
    status = "ok" if check.status == "ok" else "FAILED"
    return rf"& \text{{check {status}: max rel err }} {_scientific(check.max_rel_error)} \quad ({dims})"


def _objective(report, bold: bool) -> str:
    o = report.objective
    return latex_name(o.label, bold, o.shape if o.named else None)


def derivation_rows(result, bold: bool = False, layout: bool = True) -> list[str]:
    """The rows of a derivation for an ``align*`` / ``aligned`` block: the
    variables' shapes, the definitions, assumptions, the layout (when
    ``layout``, or when it matters: Jacobians and Hessians), δ terms,
    gradients (each ``lhs &= rhs && (shape) && [rules]``), Jacobians and
    Hessians, and the check if it ran."""
    report = as_report(result)
    shapes = report.all_shapes

    def tex(e):
        return to_latex(e, bold, shapes)

    def name(n):
        return latex_name(n, bold, shapes.get(n))

    spaces = [rf"{name(n)} \in \mathbb{{R}}" + ("" if s == SCALAR else f"^{{{latex_shape(s)}}}")
              for n, s in report.variables]
    rows = [r"& " + r",\; ".join(spaces)]
    objective = _objective(report, bold)
    for row in report.rows:
        if row.kind == "definition":
            rows.append(rf"{name(row.name)} &= {tex(row.expr)} && ({latex_shape(row.shape)})")
        elif row.kind == "assumption":
            rows.append(rf"& \text{{assume: {escape_text(row.text)}}}")
        elif row.kind == "layout":
            if layout or row.essential:
                rows.append(rf"& \text{{layout: {escape_text(row.text)}}}")
        elif row.kind == "intermediate":
            rows.append(rf"{name(row.name)} &= {tex(row.expr)} && ({latex_shape(row.shape)}){_rules(row.rules)}")
        else:
            rows.append(rf"{_partial(objective, name(row.name))} &= {tex(row.expr)} && ({latex_shape(row.shape)})"
                        + _rules(row.rules))
    for d in report.derivatives:
        rows.append(rf"{d.label('latex', objective, name)} &= {tex(d.expr)} && ({latex_shape(d.shape)})"
                    rf" && \text{{{escape_text(d.note())}}}")
    if report.check is not None:
        rows.append(_check_row(report.check))
    return rows


def steps_rows(result, wrt: str, bold: bool = False) -> list[str]:
    """One variable's ``--steps`` (matcalc.results.steps) as ``align*`` rows: the
    chain rule, one row per step (partial, shape, rules, δ name), the shape
    check."""
    report = as_report(result)
    steps = report.steps_of(wrt)
    shapes = report.shapes

    def tex(e):
        return to_latex(e, bold, shapes)

    objective = _objective(report, bold)
    var = latex_name(wrt, bold, shapes.get(wrt))

    def label(target: Expr) -> str:
        return tex(target) if isinstance(target, Sym) else rf"\left({tex(target)}\right)"

    if not steps.lines:
        return [rf"{_partial(objective, var)} &= 0 && \text{{({escape_text(wrt)} does not affect the objective)}}"]
    rows = []
    if len(steps.chain) > 2:  # ∂J/∂x = ∂J/∂x says nothing
        chain = r" \cdot ".join(_partial(label(a), label(b)) for a, b in zip(steps.chain, steps.chain[1:]))
        rows.append(rf"{_partial(objective, var)} &= {chain} && \text{{(chain rule)}}")
    for line in steps.lines:
        named = rf" =: {latex_name(line.delta, bold, line.shape)}" if line.delta else ""
        rows.append(rf"{_partial(objective, label(line.target))} &= {tex(line.expr)}{named} "
                    rf"&& ({latex_shape(line.shape)}){_rules(line.rules, line.rewrites)}")
    rows.append(_shape_check_row(report, steps, bold))
    return rows


def _shape_check_row(report, steps, bold: bool) -> str:
    """The shape check of matcalc.results.steps (``steps.shape_check``), in LaTeX:
    the factors of the final product and their shapes, or the gradient's
    shape against the variable's."""
    check = steps.shape_check
    var = latex_name(steps.wrt, bold, check.expected)
    mark = r"\checkmark" if check.ok else r"\times"
    if check.factors:
        a, b = (factor_latex(x, bold, report.shapes) for x in check.factors)
        return (rf"& \text{{shape check: }} {a}\ ({latex_shape(check.factors[0].shape)})\; {b}\ "
                rf"({latex_shape(check.factors[1].shape)}) \text{{ is }} {latex_shape(check.shape)}"
                rf"\text{{, the shape of }} {var} \;{mark}")
    partial = _partial(latex_name(report.objective.label), var)
    return (rf"& \text{{shape check: }} {partial} \text{{ is }} {latex_shape(check.shape)}"
            rf"\text{{, the shape of }} {var}\ ({latex_shape(check.expected)}) \; {mark}")


def _block(rows: list[str], environment: str) -> str:
    return f"\\begin{{{environment}}}\n" + " \\\\\n".join("  " + r for r in rows) + f"\n\\end{{{environment}}}"


def render_latex(result, bold: bool = False, steps: bool = False) -> str:
    """The derivation as LaTeX (amsmath ``align*``), and with ``steps`` the
    chain-rule steps for each variable, one ``align*`` block each.

    For ``CE(y, softmax(relu(x W + b1) U + b2))`` the rows read
    ``\\delta_{1} &= \\hat{y} - y && (1 \\times C) && \\text{[softmax-CE]}``.
    """
    report = as_report(result)
    about = f"% derivatives of {report.objective.label} with respect to {', '.join(report.wrt)} (matcalc)"
    blocks = [about, _block(_read_as_row(report) + derivation_rows(report, bold), "align*")]
    if steps:
        for row in report.gradients:
            blocks.append(f"% steps for {row.name}")
            blocks.append(_block(steps_rows(report, row.name, bold), "align*"))
        for d in report.derivatives:
            rows = derivative_steps_rows(report, d, bold)
            if rows:
                blocks.append(f"% forward-mode steps for the {d.kind} in {d.wrt2 or d.wrt}")
                blocks.append(_block(rows, "align*"))
    return "\n".join(blocks)


def derivative_steps_rows(report, d, bold: bool = False) -> list[str]:
    """A Jacobian's or Hessian's ``--steps`` (a ``report.DerivativeRow``) as
    ``align*`` rows: each named node's Jacobian, its shape and rules."""
    shapes = report.all_shapes

    def tex(e):
        return to_latex(e, bold=bold, shapes=shapes)

    x = latex_name(d.wrt2 or d.wrt, bold, shapes.get(d.wrt2 or d.wrt))
    rows = []
    for step in d.steps:
        target = tex(step.target) if step.named else rf"\left({tex(step.target)}\right)"
        rows.append(rf"{_partial(target, x)} &= {tex(step.jacobian)} && ({latex_shape(step.jacobian.shape)})"
                    + _rules(step.rules, step.rewrites))
    if rows and d.layout == "denominator":
        rows.append(r"& \text{denominator layout: the transpose of the last line}")
    return rows


def render_latex_display(result, bold: bool = False) -> str:
    """The derivation (definitions, δ terms, gradients, each with its shape)
    as display math, ``$$\\begin{aligned} ... \\end{aligned}$$``: what a
    ``Result`` shows in Jupyter."""
    report = as_report(result)
    return "$$" + _block(_read_as_row(report) + derivation_rows(report, bold, layout=False), "aligned") + "$$"


def _read_as_row(report) -> list[str]:
    """The ``read as`` line (splits and default kinds), as a first row."""
    reading = report.reading
    if reading is None:
        return []
    return [rf"& \text{{read as }} {reading.latex()} \quad \text{{({escape_text('; '.join(reading.notes))})}}"]


def program_table(program) -> str:
    """A program's shapes as a Markdown table (Jupyter's view of a
    ``Program``): each variable with its shape and declared kind, each
    definition with its shape and its right side."""
    shapes = program.shapes
    objective = program.names.get(program.objective)
    rows = ["| name | shape | |", "|:--|:--|:--|"]
    for n in program.variables:
        kind = program.kinds.get(n)
        rows.append(f"| ${latex_name(n)}$ | ${latex_shape(shapes[n])}$ | variable{', ' + kind if kind else ''} |")
    for n, expr in program.typed.definitions.items():
        mark = " (objective)" if n == objective else ""
        rows.append(f"| ${latex_name(n)}$ | ${latex_shape(shapes[n])}$ | "
                    f"${latex_name(n)} = {to_latex(expr, shapes=shapes)}${mark} |")
    if objective is None:
        rows.append(f"| objective | ${latex_shape(program.objective.shape)}$ | ${to_latex(program.typed.objective)}$ |")
    return "\n".join(rows)


def render_steps_display(result, wrt: str | None = None, bold: bool = False) -> str:
    """The ``--steps`` of one variable (or of each) as display math, for
    Jupyter: ``display(Latex(render_steps_display(result, "W")))``."""
    report = as_report(result)
    names = [wrt] if wrt else [row.name for row in report.gradients]
    return "\n".join("$$" + _block(steps_rows(report, w, bold), "aligned") + "$$" for w in names)
