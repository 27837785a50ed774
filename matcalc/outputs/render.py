"""Render a derivation's report (``matcalc.results.report``): text (the layout of
SPEC's opening example, and ``--steps``) and JSON (SPEC §6; other tools read
it, so its keys are fixed).  Each function takes a ``Report`` or a result."""
from __future__ import annotations

import json
import math

from ..language.expr import SCALAR, Expr, Sym, format_shape
from ..language.latex_expr import to_latex
from ..language.printer import factor_text, to_ascii, to_text
from ..results.report import CONVENTION, as_report

JSON_KEYS = {"jacobian": "jacobians", "hessian": "hessians", "hvp": "hvp"}


def shape_list(shape) -> list:
    """JSON spelling of a shape: ``[rows, cols]``, ``[]`` for a scalar."""
    return [] if shape == SCALAR else list(shape)


def render_text(result, unicode: bool = True) -> str:
    """The derivation the way a TA writes it: shapes, assumptions, δ terms,
    gradients, each with its shape and the rules used, then the check."""
    report = as_report(result)
    show = to_text if unicode else to_ascii
    times = "×" if unicode else "x"
    lines = ["shapes   " + "   ".join(f"{show_name(n, unicode)}: {format_shape(s, times)}"
                                      for n, s in report.variables)]
    if report.reading is not None:
        lines.append(read_as_line(report.reading, unicode))
    d = "∂" if unicode else "d"
    objective = show_name(report.objective.label, unicode)
    rows = []
    definitions = 0
    for row in report.rows:
        if row.kind == "definition":
            head = "where    " if definitions == 0 else "         "
            definitions += 1
            rows.append((head, f"{show_name(row.name, unicode)} = {show(row.expr)}", row.shape, ()))
        elif row.kind == "assumption":
            rows.append(("assume   ", row.text, None, None))
        elif row.kind == "layout":
            rows.append(("layout   ", row.text, None, None))
        elif row.kind == "intermediate":
            rows.append(("  ", f"{show_name(row.name, unicode)} = {show(row.expr)}", row.shape, row.rules))
        else:
            rows.append(("", f"{d}{objective}/{d}{show_name(row.name, unicode)} = {show(row.expr)}", row.shape,
                         row.rules))
    width = max([len(head) + len(body) for head, body, shape, _ in rows if shape is not None] + [0])
    width = min(max(width, 40), 100)
    for head, body, shape, rules in rows:
        if shape is None:
            lines.append(head + body)
            continue
        text = head + body
        pad = " " * max(2, width + 3 - len(text))
        tail = format_shape(shape, times)
        if rules:
            tail = f"{tail:<7}   [{', '.join(rules)}]"
        lines.append(f"{text}{pad}{tail}".rstrip())
    if report.derivatives:
        lines.extend(_derivative_lines(report, unicode, width))
    for w in report.conventions:
        lines.append("note     " + CONVENTION.format(x=show(Sym(w))))
    if report.check is not None:
        lines.append(render_check(report.check))
    return "\n".join(lines)


def _derivative_lines(report, unicode: bool, width: int) -> list[str]:
    """Each Jacobian, Hessian or HVP with its shape, what it maps, symmetry,
    and its ``where`` lines."""
    show = to_text if unicode else to_ascii
    times = "×" if unicode else "x"
    objective = show(Sym(report.objective.label))
    rows = []
    for d in report.derivatives:
        label = d.label("unicode" if unicode else "ascii", objective, lambda n: show(Sym(n)))
        rows.append((f"{label} = {show(d.expr)}", format_shape(d.shape, times), d.note(unicode)))
        for name, expr in d.where:
            rows.append((f"    where {show(Sym(name))} = {show(expr)}", format_shape(expr.shape, times), ""))
    width = min(max([len(t) for t, _, _ in rows] + [30, width]), 100)
    return [f"{t}{' ' * max(2, width + 3 - len(t))}{s:<9} {n}".rstrip() for t, s, n in rows]


def read_as_line(reading, unicode: bool = True) -> str:
    """``read as  x W + b1   (xW split into x W; b1 a row vector by default — ...)``"""
    notes = "; ".join(reading.notes)
    if not unicode:
        notes = notes.replace("—", "--")
    return f"read as  {reading.text(unicode)}   ({notes})"


def show_name(name: str, unicode: bool) -> str:
    return to_text(Sym(name)) if unicode else name


def render_check(check) -> str:
    """``check  ok  max rel err 3.1e-10  (n=3, m=5)``; FAILED with the sizes
    of the point where the closed form disagreed; inconclusive with why."""
    dims = ", ".join(f"{k}={v}" for k, v in check.dims.items()) or "no dimensions"
    status = getattr(check, "status", "ok" if check.ok else "failed")
    if status == "inconclusive":
        return f"check  inconclusive\n       {check.details}"
    line = f"check  {'ok' if status == 'ok' else 'FAILED'}  max rel err {check.max_rel_error:.1e}  ({dims})"
    if status != "ok" and check.details:
        line += f"\n       {check.details}"
    return line


NOTE_WIDTH = 110  # a line longer than this with its rewrites gets them on a line of their own


def simplified_note(rewrites: list) -> str:
    """How ``--steps`` names the simplifier's rewrites beside a line, apart
    from the derivative rules: ``simplified: transpose-of-product, collect-terms``."""
    return "simplified: " + ", ".join(rewrites) if rewrites else ""


def with_rewrites(line: str, rewrites: list, indent: int) -> str:
    """``line`` with its ``simplified:`` note after it, or, when that would
    be too long to read, on the next line indented by ``indent``."""
    if not rewrites:
        return line
    note = simplified_note(rewrites)
    if len(line) + 3 + len(note) <= NOTE_WIDTH:
        return f"{line}   {note}"
    return f"{line}\n{' ' * indent}{note}"


def shape_check_line(steps, objective: str, unicode: bool = True) -> str:
    """The last line of a variable's steps: ``shape check: xᵀ (D×1) δ2 (1×H)
    is D×H, the shape of W ✓`` (a final product's factors with their shapes),
    else the gradient's shape against the variable's."""
    show = to_text if unicode else to_ascii
    times = "×" if unicode else "x"
    wrt = show(Sym(steps.wrt))
    check = steps.shape_check
    if check is None:
        return f"{wrt} does not affect the objective: the gradient is 0"
    mark = ("✓" if check.ok else "✗") if unicode else ("ok" if check.ok else "MISMATCH")
    if check.factors:
        a, b = check.factors
        return (f"shape check: {factor_text(a, unicode)} ({format_shape(a.shape, times)}) "
                f"{factor_text(b, unicode)} ({format_shape(b.shape, times)}) is {format_shape(check.shape, times)}, "
                f"the shape of {wrt} {mark}")
    d = "∂" if unicode else "d"
    return (f"shape check: {d}{objective}/{d}{wrt} is {format_shape(check.shape, times)}, "
            f"the shape of {wrt} ({format_shape(check.expected, times)}) {mark}")


def render_steps_text(result, unicode: bool = True) -> str:
    """``--steps`` of every gradient, as text: the chain rule, one line per
    step with its shape, rules and δ name, the shape check."""
    report = as_report(result)
    show = to_text if unicode else to_ascii
    d = "∂" if unicode else "d"
    times = "×" if unicode else "x"
    objective = show(Sym(report.objective.label))
    blocks = []
    for steps in report.gradient_steps:
        lines = []
        if len(steps.chain) > 2:  # ∂J/∂x = ∂J/∂x says nothing
            factors = [f"{d}{_label(a, show)}/{d}{_label(b, show)}" for a, b in zip(steps.chain, steps.chain[1:])]
            lines.append(f"{d}{objective}/{d}{show(Sym(steps.wrt))} = " + " · ".join(factors) + "   (chain rule)")
        rows = []
        named = max([len(show(Sym(line.delta))) + 3 for line in steps.lines if line.delta] + [0])
        for line in steps.lines:
            text = f"  {d}{objective}/{d}{_label(line.target, show)} = {show(line.expr)}"
            tail = format_shape(line.shape, times)
            tail = f"{tail:<7}   {'[' + ', '.join(line.rules) + ']' if line.rules else '':<24}"
            delta = f"=: {show(Sym(line.delta))}" if line.delta else ""
            if named:
                tail = f"{tail} {delta:<{named}}"
            rows.append((text, tail, line.rewrites))
        width = min(max([len(t) for t, _, _ in rows] + [30]), 90)
        for t, tail, rewrites in rows:
            gap = " " * max(2, width + 3 - len(t))
            lines.append(with_rewrites(f"{t}{gap}{tail}".rstrip(), rewrites, len(t) + len(gap) + 10))
        lines.append("  " + shape_check_line(steps, objective, unicode))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _label(target: Expr, show) -> str:
    text = show(target)
    return text if isinstance(target, Sym) else f"({text})"


def render_derivative_steps(result, unicode: bool = True) -> str:
    """``--steps`` for Jacobians and Hessians: forward mode, node by node
    (the program's names where it has them), with the rules used."""
    report = as_report(result)
    show = to_text if unicode else to_ascii
    d_ = "∂" if unicode else "d"
    objective = show(Sym(report.objective.label))
    notation = "unicode" if unicode else "ascii"
    blocks = []
    for d in report.derivatives:
        label = d.label(notation, objective, lambda n: show(Sym(n)))
        gradient = f"{d_}{objective}/{d_}{show(Sym(d.wrt))}"
        if d.kind == "hvp":
            blocks.append(f"{label}: the derivative of the gradient {gradient} along {show(Sym(d.wrt2))} "
                          "(forward mode on the gradient; no Hessian is formed)")
            continue
        x = show(Sym(d.wrt2 or d.wrt))
        head = ("forward mode, numerator layout: each step is M · (the Jacobian before it)"
                if d.kind == "jacobian" else f"the Hessian is the Jacobian of the gradient {gradient}, by forward mode")
        lines = [f"{label}: {head}"]
        for step in d.steps:
            target = show(step.target) if step.named else f"({show(step.target)})"
            tail = format_shape(step.jacobian.shape, times=("×" if unicode else "x"))
            if step.rules:
                tail = f"{tail:<7}   [{', '.join(step.rules)}]"
            lines.append(with_rewrites(f"  {d_}{target}/{d_}{x} = {show(step.jacobian)}   {tail}", step.rewrites, 6))
        if d.layout == "denominator":
            lines.append("  denominator layout: the transpose of the last line")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_json(result, input_text: str = "") -> str:
    """SPEC §6 JSON: input, objective, shapes, assumptions, intermediates,
    gradients, numpy, check."""
    report = as_report(result)
    objective = report.objective
    check = report.check
    data = {
        "input": input_text,
        "objective": objective.name if objective.name is not None else to_ascii(objective.expr),
        "shapes": {n: shape_list(s) for n, s in report.shapes.items()},
        "read_as": None if report.reading is None else {
            "expr": report.reading.text(unicode=False), "notes": list(report.reading.notes)},
        "assumptions": [r.text for r in report.rows_of("assumption")],
        "intermediates": [
            {"name": r.name, "of": to_ascii(r.of), "expr": to_ascii(r.expr), "latex": to_latex(r.expr),
             "shape": shape_list(r.shape)}
            for r in report.rows_of("intermediate")
        ],
        "gradients": [
            {"wrt": r.name, "expr": to_ascii(r.expr), "latex": to_latex(r.expr), "shape": shape_list(r.shape)}
            for r in report.gradients
        ],
        "layout": report.layout,
        **_derivatives_json(report),
        "numpy": report.result.numpy(),
        "check": None if check is None else {
            "ok": check.ok, "status": check.status,
            # an inconclusive check has no error to report: null, never NaN (not JSON)
            "max_rel_error": check.max_rel_error if math.isfinite(check.max_rel_error) else None,
            "dims": check.dims},
    }
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)


def _derivatives_json(report) -> dict:
    out: dict = {}
    for d in report.derivatives:
        out.setdefault(JSON_KEYS[d.kind], []).append({
            "wrt": d.wrt, "wrt2": d.wrt2, "expr": to_ascii(d.expr), "latex": to_latex(d.expr),
            "shape": shape_list(d.shape), "maps": d.maps.text(), "symmetric": d.symmetric})
    return out
