"""LaTeX of whole derivations (the expressions themselves are
``matcalc.latex_expr``'s).

``render_latex`` writes a derivation (an ``align*`` block: shapes,
definitions, assumptions, δ terms and gradients each with its shape and
rules, the numeric check) and, with ``steps=True``, the chain-rule steps of
``matcalc.steps`` for each variable.
"""
from __future__ import annotations

from .expr import SCALAR, Expr, Op, Sym
from .dag import name_nodes
from .higher import LABELS, layout_note
from .latex_expr import escape_text, latex_name, latex_shape, to_latex
from .steps import simplified_note


def _partial(of: str, target: str) -> str:
    return rf"\frac{{\partial {of}}}{{\partial {target}}}"


def _rules(rules, rewrites=()) -> str:
    """The rules beside a row, then the simplifier's rewrites (``--steps``)."""
    out = rf" && \text{{[{escape_text(', '.join(rules))}]}}" if rules else ""
    if rewrites:
        out += rf" && \text{{{escape_text(simplified_note(rewrites))}}}"
    return out


def _scientific(x: float) -> str:
    mantissa, exponent = f"{x:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _check_row(check) -> str:
    dims = ", ".join(f"{latex_name(k)} = {v}" for k, v in check.dims.items())
    status = "ok" if check.ok else "FAILED"
    return rf"& \text{{check {status}: max rel err }} {_scientific(check.max_rel_error)} \quad ({dims})"


def derivation_rows(result, bold: bool = False, definitions: bool = True, layout: bool = True) -> list[str]:
    """The rows of a derivation for an ``align*`` / ``aligned`` block: the
    variables' shapes, the definitions, assumptions, the layout, δ terms,
    gradients (each ``lhs &= rhs && (shape) && [rules]``), Jacobians and
    Hessians, and the check if it ran."""
    shapes = {**result.shapes, **getattr(result, "directions", {})}

    def tex(e):
        return to_latex(e, bold, shapes)

    def name(n):
        return latex_name(n, bold, shapes.get(n))

    program = result.program
    spaces = [rf"{name(n)} \in \mathbb{{R}}" + ("" if shapes[n] == SCALAR else f"^{{{latex_shape(shapes[n])}}}")
              for n in program.variables]
    rows = [r"& " + r",\; ".join(spaces)]
    if definitions:
        rows += [rf"{name(s.name)} &= {tex(s.expr)} && ({latex_shape(s.shape)})" for s in result.definitions]
    rows += [rf"& \text{{assume: {escape_text(str(a))}}}" for a in result.assumptions]
    derivatives = getattr(result, "derivatives", [])
    if layout or derivatives:
        rows.append(rf"& \text{{layout: {escape_text(layout_note(result))}}}")
    rows += [rf"{name(s.name)} &= {tex(s.expr)} && ({latex_shape(s.shape)}){_rules(s.rules)}"
             for s in result.intermediates]
    objective = name(result.objective_name)
    for w, g in result.gradients.items():
        rows.append(rf"{_partial(objective, name(w))} &= {tex(g)} && ({latex_shape(shapes[w])})"
                    + _rules(result.gradient_rules.get(w, [])))
    if derivatives:
        unnamed = result.objective_name == "J" and program.objective.shape != SCALAR
        f = "f" if unnamed else objective
        for d in derivatives:
            note = d.maps(program.objective.shape, program.typed.shapes) + (", symmetric" if d.symmetric else "")
            rows.append(rf"{d.spelled(LABELS['latex'], f, name)} &= {tex(d.expr)} && ({latex_shape(d.shape)})"
                        rf" && \text{{{escape_text(note)}}}")
    if result.last_check is not None:
        rows.append(_check_row(result.last_check))
    return rows


def steps_rows(result, wrt: str, bold: bool = False) -> list[str]:
    """One variable's ``--steps`` (matcalc.steps) as ``align*`` rows: the
    chain rule, one row per step (partial, shape, rules, δ name), the shape
    check."""
    from .steps import derivation_steps

    steps = derivation_steps(result, wrt)
    shapes = result.shapes

    def tex(e):
        return to_latex(e, bold, shapes)

    objective = latex_name(result.objective_name, bold, shapes.get(result.objective_name))
    var = latex_name(wrt, bold, shapes.get(wrt))

    def label(target: Expr) -> str:
        return tex(target) if isinstance(target, Sym) else rf"\left({tex(target)}\right)"

    if not steps.lines:
        return [rf"{_partial(objective, var)} &= 0 && \text{{({escape_text(wrt)} does not affect the objective)}}"]
    chain = r" \cdot ".join(_partial(label(a), label(b)) for a, b in zip(steps.chain, steps.chain[1:]))
    rows = [rf"{_partial(objective, var)} &= {chain} && \text{{(chain rule)}}"]
    for line in steps.lines:
        named = rf" =: {latex_name(line.delta, bold, line.shape)}" if line.delta else ""
        rows.append(rf"{_partial(objective, label(line.target))} &= {tex(line.expr)}{named} "
                    rf"&& ({latex_shape(line.shape)}){_rules(line.rules, line.rewrites)}")
    rows.append(_shape_check_row(result, wrt, bold))
    return rows


def _shape_check_row(result, wrt: str, bold: bool) -> str:
    """The shape check of matcalc.steps, in LaTeX: the factors of the final
    product and their shapes, or the gradient's shape against the variable's."""
    shapes = result.shapes
    g, shape = result.gradients[wrt], shapes[wrt]
    var = latex_name(wrt, bold, shape)
    if isinstance(g, Op) and g.op == "matmul":
        a, b = (to_latex(x, bold, shapes) for x in g.args)
        return (rf"& \text{{shape check: }} {a}\ ({latex_shape(g.args[0].shape)})\; {b}\ "
                rf"({latex_shape(g.args[1].shape)}) \text{{ is }} {latex_shape(g.shape)}"
                rf"\text{{, the shape of }} {var} \;\checkmark")
    mark = r"\checkmark" if g.shape == shape else r"\times"
    partial = _partial(latex_name(result.objective_name), var)
    return (rf"& \text{{shape check: }} {partial} \text{{ is }} {latex_shape(g.shape)}"
            rf"\text{{, the shape of }} {var}\ ({latex_shape(shape)}) \; {mark}")


def _block(rows: list[str], environment: str) -> str:
    return f"\\begin{{{environment}}}\n" + " \\\\\n".join("  " + r for r in rows) + f"\n\\end{{{environment}}}"


def render_latex(result, bold: bool = False, steps: bool = False) -> str:
    """The derivation as LaTeX (amsmath ``align*``), and with ``steps`` the
    chain-rule steps for each variable, one ``align*`` block each.

    For ``CE(y, softmax(relu(x W + b1) U + b2))`` the rows read
    ``\\delta_{1} &= \\hat{y} - y && (1 \\times C) && \\text{[softmax-CE]}``.
    """
    objective = result.objective_name
    if objective == "J" and result.program.objective.shape != SCALAR:
        objective = "f"
    about = f"% derivatives of {objective} with respect to {', '.join(result.wrt)} (matcalc)"
    blocks = [about, _block(_read_as_row(result) + derivation_rows(result, bold), "align*")]
    if steps:
        for w in result.gradients:
            blocks.append(f"% steps for {w}")
            blocks.append(_block(steps_rows(result, w, bold), "align*"))
        for d in getattr(result, "derivatives", []):
            rows = derivative_steps_rows(result, d, objective, bold)
            if rows:
                blocks.append(f"% forward-mode steps for the {d.kind} in {d.wrt2 or d.wrt}")
                blocks.append(_block(rows, "align*"))
    return "\n".join(blocks)


def derivative_steps_rows(result, d, objective: str, bold: bool = False) -> list[str]:
    """A Jacobian's or Hessian's ``--steps`` (``matcalc.higher``) as
    ``align*`` rows: each named node's Jacobian, its shape and rules."""
    names = result.program.names
    program_shapes = result.program.typed.shapes

    def tex(e):
        return to_latex(e, bold=bold, shapes=program_shapes)

    x = latex_name(d.wrt2 or d.wrt, bold, program_shapes.get(d.wrt2 or d.wrt))
    rows = []
    for node, j, rules, rewrites in d.steps:
        if node not in names and node is not d.steps[-1].node:
            continue
        target = latex_name(names[node], bold, node.shape) if node in names else \
            rf"\left({tex(name_nodes(node, names))}\right)"
        rows.append(rf"{_partial(target, x)} &= {tex(name_nodes(j, names))} && ({latex_shape(j.shape)})"
                    + _rules(rules, rewrites))
    if rows and d.layout == "denominator":
        rows.append(r"& \text{denominator layout: the transpose of the last line}")
    return rows


def render_latex_display(result, bold: bool = False) -> str:
    """The derivation (definitions, δ terms, gradients, each with its shape)
    as display math, ``$$\\begin{aligned} ... \\end{aligned}$$``: what a
    ``Result`` shows in Jupyter."""
    return "$$" + _block(_read_as_row(result) + derivation_rows(result, bold, layout=False), "aligned") + "$$"


def _read_as_row(result) -> list[str]:
    """The ``read as`` line (splits and default kinds), as a first row."""
    reading = result.program.reading
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
    names = [wrt] if wrt else list(result.gradients)
    return "\n".join("$$" + _block(steps_rows(result, w, bold), "aligned") + "$$" for w in names)
