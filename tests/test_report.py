"""The report decides once what a result shows (issue 14): the objective's
label, the rows and their order, the derivatives' labels and notes, the
check; text, LaTeX, JSON, --steps and the Jupyter display format it and
re-decide nothing (a report changed by hand shows up changed in every one)."""
import dataclasses
import json
import re

import pytest
from test_imports import imports

import matcalc as mc
from matcalc.language.expr import Sym
from matcalc.language.latex_expr import latex_name
from matcalc.language.printer import to_text
from matcalc.outputs.latex import render_latex, render_latex_display
from matcalc.outputs.render import (
    render_derivative_steps,
    render_json,
    render_steps_text,
    render_text,
    shape_check_line,
)
from matcalc.results.report import Report

from conftest import ROOT

CS224N = (ROOT / "tests" / "data" / "cs224n.mc").read_text()

# (name, derive's arguments, the objective's label)
PROBLEMS = [
    ("gradient", dict(objective="CE(y, softmax(relu(x W + b1) U + b2))", wrt="W,b1"), "J"),
    ("named", dict(program=CS224N, wrt="W,U"), "J"),
    ("named-L", dict(objective="L", where=["x: (n, 1)", "L = x^T A x"], wrt="x", order=2), "L"),
    ("jacobian", dict(objective="softmax(W x)", wrt="x,W"), "f"),
    ("named-vector", dict(where=["x: (n, 1)", "W: (m, n)", "z = tanh(W x)"], wrt="x"), "z"),
    ("defined-J-vector", dict(where=["x: (n, 1)", "W: (m, n)", "J = tanh(W x)"], wrt="x"), "J"),
    ("hessian", dict(objective="x^T A x", wrt="x", order=2, layout="denominator"), "J"),
    ("mixed", dict(objective="x^T A y", wrt="x", wrt2="y"), "J"),
    ("hvp", dict(objective="sum(exp(A x))", wrt="x", hvp="v"), "J"),
    ("symmetric", dict(objective="x^T S x + tr(S S)", where=["S: (n, n) symmetric"], wrt="S", order=2), "J"),
]


@pytest.fixture(scope="module", params=PROBLEMS, ids=[p[0] for p in PROBLEMS])
def case(request):
    _, kwargs, label = request.param
    result = mc.derive(**kwargs)
    return result, result.report(), label


def test_the_objective_label_is_decided_once_and_shown_by_every_output(case):
    result, report, label = case
    assert report.objective.label == label
    text = render_text(report)
    latex = render_latex(report, steps=True)
    assert latex.startswith(f"% derivatives of {label} with respect to")
    shown = to_text_name(label)
    for row in report.gradients:
        assert f"∂{shown}/∂{to_text_name(row.name)} = " in text
        assert rf"\frac{{\partial {latex_name(label)}}}{{\partial {latex_name(row.name)}}} &=" in latex
    for d in report.derivatives:
        assert d.label("unicode", label, to_text_name) + " = " in text
        assert d.label("latex", label, latex_name) + " &= " in latex
    document = json.loads(render_json(report))
    assert document["objective"] == (report.objective.name or document["objective"])
    if report.objective.named:
        assert document["objective"] == label


def to_text_name(name: str) -> str:
    return to_text(Sym(name))


def test_text_latex_and_json_show_the_same_rows_in_the_same_order(case):
    result, report, label = case
    text = render_text(report).split("\n")
    firsts = [i for i, line in enumerate(text) for d in report.derivatives[:1]
              if line.startswith(d.label("unicode", label, to_text_name) + " = ")]
    rows_part = text[:firsts[0]] if firsts else text
    latex = render_latex(report).split("\n")
    document = json.loads(render_json(report))
    # the δ terms and gradients: text and LaTeX in the report's order
    named = [r for r in report.rows if r.kind in ("definition", "intermediate")]
    text_names = [line.split(" = ")[0].split()[-1] for line in rows_part if " = " in line and "/" not in
                  line.split(" = ")[0]]
    assert text_names == [to_text_name(r.name) for r in named]
    latex_names = [line.strip().split(" &= ")[0] for line in latex if " &= " in line and r"\frac" not in
                   line.split(" &= ")[0] and r"\nabla" not in line]
    assert latex_names == [latex_name(r.name) for r in named]
    assert [i["name"] for i in document["intermediates"]] == [r.name for r in report.rows_of("intermediate")]
    assert [g["wrt"] for g in document["gradients"]] == [r.name for r in report.gradients]
    # the derivatives: one line each, in order, with the report's note, in all three
    kinds = [(d.kind, d.wrt, d.wrt2) for d in report.derivatives]
    listed = [(d["wrt"], d["wrt2"]) for key in ("jacobians", "hessians", "hvp") for d in document.get(key, [])]
    assert sorted(listed, key=str) == sorted([(w, w2) for _, w, w2 in kinds], key=str)
    for d in report.derivatives:
        assert [line for line in text if line.endswith(d.note())], d.note()
        assert any(d.maps.text() == j["maps"] for key in ("jacobians", "hessians", "hvp")
                   for j in document.get(key, []) if j["wrt"] == d.wrt and j["wrt2"] == d.wrt2)
    # the layout row: always in text and the document, in Jupyter only when it matters
    (layout,) = report.rows_of("layout")
    assert f"layout   {layout.text}" in text
    assert ("layout:" in render_latex_display(report)) == layout.essential == bool(report.derivatives)


def test_a_report_changed_by_hand_shows_up_changed_in_every_output(case):
    """Nothing downstream re-decides: another label, layout sentence and row
    order in the report are what text, LaTeX, JSON and --steps print."""
    result, report, label = case
    objective = dataclasses.replace(report.objective, label="Q", named=False)
    rows = list(report.rows)
    layout = next(i for i, r in enumerate(rows) if r.kind == "layout")
    rows[layout] = dataclasses.replace(rows[layout], text="rows follow Q")
    gradients = [r for r in rows if r.kind == "gradient"][::-1]
    rows = [r for r in rows if r.kind != "gradient"] + gradients
    changed = dataclasses.replace(report, objective=objective, rows=tuple(rows))
    text = render_text(changed)
    latex = render_latex(changed, steps=True)
    assert "layout   rows follow Q" in text and r"\text{layout: rows follow Q}" in latex
    assert latex.startswith("% derivatives of Q ")
    labelled = [line.split(" = ")[0] for line in text.split("\n") if line.startswith("∂Q/∂")]
    assert labelled[:len(gradients)] == [f"∂Q/∂{to_text_name(r.name)}" for r in gradients]
    assert f"∂{label}/∂" not in text.replace("∂f/∂", "") or label == "f"
    for d in changed.derivatives:
        assert d.label("unicode", "Q", to_text_name) + " = " in text
        assert d.label("latex", "Q", latex_name) in latex
    if changed.gradients:
        steps = render_steps_text(changed)
        assert all(line.lstrip().startswith(("∂Q/∂", "shape check", "simplified: "))
                   for line in steps.split("\n") if line)
        assert [g["wrt"] for g in json.loads(render_json(changed))["gradients"]] == [r.name for r in gradients]
    if any(d.kind != "jacobian" for d in changed.derivatives):
        assert "gradient ∂Q/∂" in render_derivative_steps(changed)


@pytest.mark.parametrize("kwargs, label, name", [
    (dict(objective="tr(A X B)", wrt="X"), "J", None),
    (dict(objective="A x", wrt="x"), "f", None),
    (dict(objective="L", where=["L = sum(A x)"], wrt="x"), "L", "L"),
    (dict(where=["x: (n, 1)", "h = A x"], wrt="x"), "h", "h"),
])
def test_the_label_rule(kwargs, label, name):
    """The program's name for the objective, else J for a scalar and f for
    a vector or matrix; JSON names the definition or writes the expression."""
    report = mc.derive(**kwargs).report()
    assert (report.objective.label, report.objective.name) == (label, name)
    assert json.loads(render_json(report))["objective"] == (name or re.sub(r"\s+", " ", kwargs["objective"]))


def test_an_inconclusive_check_is_inconclusive_in_latex_too():
    """The report's check status is what LaTeX says (it said FAILED, and
    crashed on the error's NaN, before)."""
    result = mc.derive("tr(inv(x x^T) A)", wrt="x")
    result.check()
    report = result.report()
    assert report.check.status == "inconclusive"
    latex = render_latex(report)
    assert r"\text{check inconclusive: " in latex and "FAILED" not in latex
    assert "check  inconclusive" in render_text(report)


def test_the_steps_come_from_the_report():
    result = mc.derive(program=CS224N, wrt="W,b1")
    report = result.report()
    assert [s.wrt for s in report.gradient_steps] == ["W", "b1"]
    assert report.gradient_steps is report.gradient_steps  # computed once
    text = render_steps_text(report)
    for steps in report.gradient_steps:
        assert shape_check_line(steps, "J") in text
    jacobian = mc.derive("softmax(W x)", wrt="x").report()
    (d,) = jacobian.derivatives
    assert d.steps and d.steps[-1].jacobian.shape == d.shape
    assert render_derivative_steps(jacobian).count("\n  ∂") == len(d.steps)


def test_report_and_the_expression_printer_sit_below_the_outputs():
    # every layer is tests/test_imports.py's; these two are the point of the report
    for path in ("results/report.py", "shapes/reading.py"):
        targets = {t for t, _, _ in imports(ROOT / "matcalc" / path)}
        assert not {t for t in targets if t.split(".")[0] in ("outputs", "faces")}, (path, targets)
    latex_expr = {t for t, _, _ in imports(ROOT / "matcalc" / "language" / "latex_expr.py")}
    assert latex_expr <= {"language.expr", "language.errors"}, latex_expr


def test_report_of_is_what_result_report_returns():
    result = mc.derive("x^T A x", wrt="x", order=2)
    assert isinstance(result.report(), Report)
    assert result.report() == Report.of(result)


def test_the_latex_shape_check_is_the_steps_data():
    """LaTeX writes the shape check the steps decided (factors, shapes, ok),
    it does not work it out again."""
    report = mc.derive(program=CS224N, wrt="W").report()
    (steps,) = report.gradient_steps
    check = steps.shape_check
    assert check.ok and len(check.factors) == 2 and shape_check_line(steps, "J").endswith("✓")
    assert render_latex(report, steps=True).count(r"\;\checkmark") == 1
    steps.shape_check = dataclasses.replace(check, expected=("D", "K"))  # a mismatch, by hand
    latex = render_latex(report, steps=True)
    assert r"\;\times" in latex and r"\;\checkmark" not in latex


@pytest.mark.parametrize("problem, answer, derived", [
    ({"f": "x^T A x", "wrt": "x", "where": ["x: (n, 1)"], "order": 2}, "2 A", "∂²J/∂x²"),
    ({"f": "A x", "wrt": "x", "where": ["x: (n, 1)"]}, "A^T", "∂f/∂x"),
    ({"f": "L", "wrt": "x", "where": ["x: (n, 1)", "L = x^T A x"], "order": 2}, "2 A", "∂²L/∂x²"),
])
def test_answer_feedback_names_the_objective_as_derive_does(problem, answer, derived):
    """The checker's feedback and derive's output use the report's label:
    a scalar objective is J (not f) in both."""
    verdict = mc.check_answer(problem, answer)
    assert not verdict.correct
    report = mc.Program("\n".join(problem["where"]), objective=problem["f"]).derive(
        problem["wrt"], order=problem.get("order", 1)).report()
    shown = [d.label("unicode", to_text(Sym(report.objective.label)), lambda n: to_text(Sym(n)))
             for d in report.derivatives]
    assert shown == [derived]
    assert derived in verdict.diagnosis
