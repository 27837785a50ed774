"""Render a derivation result: text (the layout of SPEC's opening example) and
JSON (SPEC §6; other tools read it, so its keys are fixed)."""
from __future__ import annotations

import json

from .expr import SCALAR, format_shape
from .printer import to_ascii, to_text
from .dag import name_nodes
from .higher import layout_note, render_derivatives


def _latex(e) -> str:
    from .latex_expr import to_latex

    return to_latex(e)


def shape_list(shape) -> list:
    """JSON spelling of a shape: ``[rows, cols]``, ``[]`` for a scalar."""
    return [] if shape == SCALAR else list(shape)


def _display_name(name: str) -> str:
    from .expr import Sym

    return to_text(Sym(name))


def render_text(result, unicode: bool = True) -> str:
    """The derivation the way a TA writes it: shapes, assumptions, δ terms,
    gradients, each with its shape and the rules used, then the check."""
    show = to_text if unicode else to_ascii
    times = "×" if unicode else "x"
    program = result.program
    lines = []
    variables = program.variables
    lines.append("shapes   " + "   ".join(f"{show_name(n, unicode)}: {format_shape(program.shapes[n], times)}"
                                         for n in variables))
    if program.reading is not None:
        lines.append(read_as_line(program.reading, unicode))
    rows = []
    for i, step in enumerate(result.definitions):
        rows.append(("where    " if i == 0 else "         ", f"{show_name(step.name, unicode)} = {show(step.expr)}",
                     step.shape, []))
    for assumption in result.assumptions:
        rows.append(("assume   ", str(assumption), None, None))
    rows.append(("layout   ", layout_note(result), None, None))
    for step in result.intermediates:
        rows.append(("  ", f"{show_name(step.name, unicode)} = {show(step.expr)}", step.shape, step.rules))
    d = "∂" if unicode else "d"
    objective = show_name(result.objective_name, unicode)
    for w, g in result.gradients.items():
        rows.append(("", f"{d}{objective}/{d}{show_name(w, unicode)} = {show(g)}", program.shapes[w],
                     result.gradient_rules.get(w, [])))
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
    if result.derivatives:
        lines.extend(render_derivatives(result, result.derivatives, unicode, width))
    for note in result.conventions(unicode):
        lines.append("note     " + note)
    if result.last_check is not None:
        lines.append(render_check(result.last_check))
    return "\n".join(lines)


def read_as_line(reading, unicode: bool = True) -> str:
    """``read as  x W + b1   (xW split into x W; b1 a row vector by default — ...)``"""
    notes = "; ".join(reading.notes)
    if not unicode:
        notes = notes.replace("—", "--")
    return f"read as  {reading.text(unicode)}   ({notes})"


def show_name(name: str, unicode: bool) -> str:
    return _display_name(name) if unicode else name


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


def render_json(result, input_text: str = "") -> str:
    """SPEC §6 JSON: input, objective, shapes, assumptions, intermediates,
    gradients, numpy, check."""
    program = result.program
    data = {
        "input": input_text,
        "objective": to_ascii(program.objective) if result.objective_name == "J" and "J" not in program.nodes
        else result.objective_name,
        "shapes": {n: shape_list(s) for n, s in result.shapes.items()},
        "read_as": None if program.reading is None else {
            "expr": program.reading.text(unicode=False), "notes": list(program.reading.notes)},
        "assumptions": [str(a) for a in result.assumptions],
        "intermediates": [
            {"name": s.name, "of": to_ascii(_named(result, s.of)), "expr": to_ascii(s.expr),
             "latex": _latex(s.expr), "shape": shape_list(s.shape)}
            for s in result.intermediates
        ],
        "gradients": [
            {"wrt": w, "expr": to_ascii(g), "latex": _latex(g), "shape": shape_list(program.shapes[w])}
            for w, g in result.gradients.items()
        ],
        "layout": result.layout,
        **_derivatives_json(result),
        "numpy": result.numpy(),
        "check": None if result.last_check is None else {
            "ok": bool(result.last_check.ok),
            "status": result.last_check.status,
            "max_rel_error": float(result.last_check.max_rel_error),
            "dims": dict(result.last_check.dims),
        },
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def _derivatives_json(result) -> dict:
    out: dict = {}
    shapes = result.program.typed.shapes
    for d in result.derivatives:
        key = {"jacobian": "jacobians", "hessian": "hessians", "hvp": "hvp"}[d.kind]
        out.setdefault(key, []).append({
            "wrt": d.wrt, "wrt2": d.wrt2, "expr": to_ascii(d.expr), "latex": _latex(d.expr),
            "shape": shape_list(d.shape), "maps": d.maps(result.program.objective.shape, shapes),
            "symmetric": d.symmetric})
    return out


def _named(result, node):
    return name_nodes(node, result.program.names)
