"""Grading a course (issue 17): gradient, Jacobian and Hessian problems with
points, partial credit and anticipated mistakes; one problem matcalc cannot
judge; reports for Gradescope and Canvas.  The expected points are computed
here from the test's own table, not by matcalc's rubric code."""
import csv
import io
import json
from pathlib import Path

import pytest
from test_answers import cli

DATA = Path(__file__).parent / "data"

PROBLEMS_TOML = """
[[problems]]
id = "W"
f = "J"
wrt = "W"
file = "cs224n.mc"
allow = ["delta1"]
points = 4
credit = { transpose = 0.5, factor = 0.25 }

[[problems.expect]]
answer = "x^T (yhat - y) U^T"
credit = 0.5
message = "You dropped the relu mask: δ2 = δ1 Uᵀ ∘ step(z)."

[[problems]]
id = "jac"
f = "tanh(W x)"
wrt = "x"
where = ["W: (m, n)", "x: (n, 1)"]
points = 2
credit = { transpose = 0.5, sign = 0.5 }

[[problems]]
id = "hess"
f = "||A x - b||^2"
wrt = "x"
order = 2
points = 3
credit = { factor = 0.5 }

[[problems]]
id = "bad"
f = "A x"
wrt = "y"
"""

# problem id -> [(answer, kind, fraction of the points)]
ANSWERS = {
    "W": [
        ("x^T (delta1 U^T ∘ step(z))", "correct", 1),
        (r"\mathbf{x}^\top \left( \delta_1 U^\top \circ \mathbb{1}[z > 0] \right)", "correct", 1),
        ("(delta1 U^T ∘ step(z))^T x", "transpose", 0.5),
        ("2 x^T (delta1 U^T ∘ step(z))", "factor", 0.25),
        ("x^T (yhat - y) U^T", "mask (anticipated 1)", 0.5),
        ("x^T delta2", "unknown-name", 0),  # δ2 is the homework: not allowed
        ("-x^T (delta1 U^T ∘ step(z))", "sign", 0),
        ("", "empty", 0),
    ],
    "jac": [
        ("diag(1 - tanh(W x) ∘ tanh(W x)) W", "correct", 1),
        ("W^T diag(1 - tanh(W x) ∘ tanh(W x))", "transpose", 0.5),
        ("-diag(1 - tanh(W x) ∘ tanh(W x)) W", "sign", 0.5),
        ("W", "mask", 0),
        ("x ) (", "unparsable", 0),
    ],
    "hess": [
        ("2 A^T A", "correct", 1),
        ("A^T A", "factor", 0.5),
        ("2 A A^T", "shape", 0),
    ],
    "bad": [("A", "problem-error", None), ("whatever", "problem-error", None)],
}
POINTS = {"W": 4, "jac": 2, "hess": 3, "bad": 1}
STUDENTS = 50  # × 4 problems = 200 answers


def write_class(folder: Path, students: int = STUDENTS):
    problems = folder / "hw1.toml"
    problems.write_text(PROBLEMS_TOML, encoding="utf-8")
    # a problem's file lies beside the problems file
    (folder / "cs224n.mc").write_text((DATA / "cs224n.mc").read_text(encoding="utf-8"), encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *ANSWERS])
    expected = {}
    for i in range(students):
        row = [f"s{i:03d}"]
        for k, pid in enumerate(ANSWERS):
            answer, kind, fraction = ANSWERS[pid][(i * (k + 1) + k) % len(ANSWERS[pid])]
            row.append(answer)
            expected[(row[0], pid)] = (kind, None if fraction is None else fraction * POINTS[pid])
        writer.writerow(row)
    answers = folder / "answers.csv"
    answers.write_text(buffer.getvalue(), encoding="utf-8")
    return answers, problems, expected


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    answers, problems, expected = write_class(folder)
    report = folder / "report.json"
    done = cli("grade", str(answers), "--problems", str(problems), "--report", str(report), "--jobs", "2")
    assert done.returncode == 0, done.stderr
    return folder, answers, problems, expected, json.loads(report.read_text(encoding="utf-8")), done


def test_every_judgeable_row_is_graded_with_its_points(graded):
    _, _, _, expected, report, _ = graded
    rows = [r for r in report["results"] if r["problem"]]
    assert len(rows) == 200
    for r in rows:
        kind, points = expected[(r["student"], r["problem"])]
        assert (r["kind"], r["points"]) == (kind, points), r
        assert r["max_points"] == POINTS[r["problem"]]
        assert r["feedback"], r


def test_partial_credit_and_anticipated_messages_reach_the_student(graded):
    _, _, _, _, report, _ = graded
    rows = [r for r in report["results"] if r["problem"] == "W"]
    mask = next(r for r in rows if r["kind"].startswith("mask"))
    assert mask["feedback"].startswith("You dropped the relu mask") and "(2/4 points)" in mask["feedback"]
    transpose = next(r for r in rows if r["kind"] == "transpose")
    assert "layout" in transpose["feedback"] and "2/4 points — partial credit" in transpose["feedback"]
    right = next(r for r in rows if r["correct"])
    assert right["feedback"].startswith("Correct (4/4 points)")


def test_the_unjudgeable_problem_is_a_row_with_its_reason(graded):
    _, _, _, _, report, done = graded
    bad = [r for r in report["results"] if r["problem"] == "bad"]
    assert len(bad) == STUDENTS and all(r["points"] is None and "does not appear" in r["diagnosis"] for r in bad)
    assert all("graded by hand" in r["feedback"] for r in bad)
    assert "problem 'bad' cannot be graded" in done.stderr


def test_totals_per_student(graded):
    folder, answers, problems, expected, report, _ = graded
    totals = {}
    for (student, _), (_, points) in expected.items():
        totals[student] = totals.get(student, 0) + (points or 0)
    canvas = folder / "grades.csv"
    done = cli("grade", str(answers), "--problems", str(problems), "--report", str(canvas), "--format", "canvas",
               "--assignment", "Homework 1")
    assert done.returncode == 0, done.stderr
    with canvas.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1"]
    assert rows[0]["Student"] == "Points Possible" and float(rows[0]["Homework 1"]) == sum(POINTS.values())
    assert len(rows) == 1 + STUDENTS
    assert {r["Student"]: pytest.approx(float(r["Homework 1"])) for r in rows[1:]} == totals
    feedback = folder / "grades.csv.feedback.csv"
    with feedback.open(encoding="utf-8", newline="") as fh:
        notes = [r for r in csv.DictReader(fh) if r["problem"]]
    assert len(notes) == 200 and all(n["feedback"] for n in notes)


# Gradescope's autograder results.json, as its documentation describes it
# (the fields matcalc writes; all scores numbers, tests a list of objects)
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "output": {"type": "string"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "score", "max_score", "output"],
            "properties": {"name": {"type": "string"}, "score": {"type": "number"},
                           "max_score": {"type": "number"}, "output": {"type": "string"},
                           "status": {"type": "string", "enum": ["passed", "failed"]}},
        }},
    },
}


def validate(value, schema, where="results.json"):
    """A hand check of the schema subset above (type, required, properties, items, enum)."""
    types = {"object": dict, "array": list, "string": str, "number": (int, float)}
    expected = types[schema["type"]]
    assert isinstance(value, expected) and not isinstance(value, bool), f"{where}: not a {schema['type']}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    for key in schema.get("required", ()):
        assert key in value, f"{where}: missing {key}"
    for key, sub in schema.get("properties", {}).items():
        if isinstance(value, dict) and key in value:
            validate(value[key], sub, f"{where}.{key}")
    if schema["type"] == "array":
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")


def test_gradescope_results_for_one_submission(tmp_path, graded):
    _, _, problems, _, _, _ = graded
    submission = tmp_path / "submission.jsonl"
    submission.write_text(json.dumps({"student": "ann", "W": "(delta1 U^T ∘ step(z))^T x",
                                      "jac": "diag(1 - tanh(W x) ∘ tanh(W x)) W", "hess": "A^T A",
                                      "bad": "A"}) + "\n", encoding="utf-8")
    results = tmp_path / "results.json"
    done = cli("grade", str(submission), "--problems", str(problems), "--report", str(results),
               "--format", "gradescope")
    assert done.returncode == 0, done.stderr
    data = json.loads(results.read_text(encoding="utf-8"))
    validate(data, GRADESCOPE_SCHEMA)
    tests = {t["name"]: t for t in data["tests"]}
    assert (tests["W"]["score"], tests["jac"]["score"], tests["hess"]["score"], tests["bad"]["score"]) == (2, 2, 1.5, 0)
    assert data["score"] == 5.5 and data["max_score"] == 10
    assert "layout" in tests["W"]["output"] and "graded by hand" in tests["bad"]["output"]
    assert tests["jac"]["status"] == "passed" and tests["W"]["status"] == "failed"


def test_gradescope_refuses_a_whole_class(graded, tmp_path):
    _, answers, problems, _, _, _ = graded
    done = cli("grade", str(answers), "--problems", str(problems), "--report", str(tmp_path / "r.json"),
               "--format", "gradescope")
    assert done.returncode == 2 and "one submission" in done.stderr and "Traceback" not in done.stderr


def test_a_rubric_error_is_reported(tmp_path):
    problems = tmp_path / "p.json"
    problems.write_text(json.dumps([{"id": "a", "f": "A x", "wrt": "x", "credit": {"tranpose": 0.5}},
                                    {"id": "b", "f": "A x", "wrt": "x", "expect": [{"answer": "A q", "credit": 0.5}]},
                                    {"id": "c", "f": "A x", "wrt": "x", "points": 2}]))
    answers = tmp_path / "a.csv"
    answers.write_text("student,a,b,c\nann,A,A,A\n")
    report = tmp_path / "r.json"
    done = cli("grade", str(answers), "--problems", str(problems), "--report", str(report))
    assert done.returncode == 0, done.stderr
    rows = {r["problem"]: r for r in json.loads(report.read_text())["results"]}
    assert rows["a"]["kind"] == "problem-error" and "tranpose" in rows["a"]["diagnosis"]
    assert rows["b"]["kind"] == "problem-error" and "A q" in rows["b"]["diagnosis"]
    assert rows["c"]["points"] == 2 and rows["c"]["correct"]
