"""One sampler for derive --check, check, grade and the API (issue 12): size
assignments searched until the objective and what it inverts are finite and
well conditioned; three outcomes (ok, FAILED, inconclusive) with exit codes
0, 1, 2; the check's memory bounded by the size of the inputs (issue 13)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import matcalc as mc
from matcalc.faces.answers import Problem, check_answer, prepare
from matcalc.results.sampling import COND_BOUND, Sampler, size_assignments

from conftest import ROOT, corpus_cases


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, cwd=ROOT,
                          check=False, **kw)


def test_size_assignments_try_every_ordering_then_larger_sizes():
    got = [sizes for _, sizes in size_assignments(["n", "m"])][:6]
    assert got == [{"n": 2, "m": 3}, {"n": 3, "m": 2}, {"n": 3, "m": 5}, {"n": 5, "m": 3},
                   {"n": 5, "m": 7}, {"n": 7, "m": 5}]
    three = [tuple(s.values()) for j, s in size_assignments(["a", "b", "c"]) if j == 0]
    assert sorted(three) == sorted(__import__("itertools").permutations((2, 3, 5)))


GRAM_C = "-(C X inv(X^T C X) A inv(X^T C X) + C^T X inv(X^T C X)^T A^T inv(X^T C X)^T)"
# the tall-matrix problems of the issue: XᵀX is singular unless X has at least as many rows as columns
TALL = [
    ("log(det(X^T X))", "X", ["X: (n, m)"], "2 X inv(X^T X)"),
    ("log(det(X^T X))", "X", ["X: (m, n)"], "2 X inv(X^T X)"),
    ("tr(inv(X^T C X) A)", "X", ["X: (n, m)"], GRAM_C),
    ("tr(inv(X^T C X) A)", "X", ["X: (m, n)"], GRAM_C),
    ("tr(W^T A W inv(W^T W))", "W", ["W: (n, m)"],
     "(A + A^T) W inv(W^T W) - W inv(W^T W) W^T (A + A^T) W inv(W^T W)"),
    ("tr(W^T A W inv(W^T W))", "W", ["W: (m, n)"],
     "(A + A^T) W inv(W^T W) - W inv(W^T W) W^T (A + A^T) W inv(W^T W)"),
]


@pytest.mark.parametrize("f, wrt, where, answer", TALL, ids=[f"{t[0]} {t[2][0]}" for t in TALL])
def test_tall_matrix_problems_are_checked_and_judged(f, wrt, where, answer):
    args = ["derive", f, "--wrt", wrt, *[a for w in where for a in ("--where", w)]]
    out = run(*args)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "check  ok" in out.stdout
    verdict = check_answer({"f": f, "wrt": wrt, "where": where}, answer)
    assert verdict.correct, verdict.diagnosis
    wrong = check_answer({"f": f, "wrt": wrt, "where": where}, f"2 ({answer})")
    assert not wrong.correct and wrong.kind in ("factor", "counterexample")
    # every point the judge used has a well-conditioned Gram matrix
    for sample in prepare(Problem(f, wrt, tuple(where))).samples:
        x = sample.inputs[wrt]
        assert x.shape[0] > x.shape[1] and np.linalg.cond(x.T @ x) < COND_BOUND


def test_grade_judges_a_tall_matrix_problem(tmp_path):
    problems = tmp_path / "problems.json"
    problems.write_text(json.dumps([{"id": "gram", "f": "log(det(X^T X))", "wrt": "X", "where": ["X: (n, m)"]}]))
    answers = tmp_path / "answers.csv"
    answers.write_text("student,gram\nann,2 X inv(X^T X)\nbob,X inv(X^T X)\n")
    report = tmp_path / "report.json"
    out = run("grade", str(answers), "--problems", str(problems), "--report", str(report))
    assert out.returncode == 0, out.stderr
    text = report.read_text()
    verdicts = {r["student"]: r["correct"] for r in json.loads(text)["results"]}
    assert verdicts == {"ann": True, "bob": False}, text


def test_sqrt_domain_is_the_same_for_derive_and_check():
    assert run("derive", "sum(sqrt(x))", "--wrt", "x").returncode == 0
    out = run("check", "sum(sqrt(x))", "--wrt", "x", "--answer", "1 ./ (2 sqrt(x))")
    assert out.returncode == 0 and out.stdout.startswith("right"), out.stdout + out.stderr


def test_no_valid_point_at_any_size_is_inconclusive():
    # x xᵀ has rank 1: singular at every size
    out = run("derive", "tr(inv(x x^T) A)", "--wrt", "x")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "check  inconclusive" in out.stdout and "x xᵀ is singular" in out.stdout
    assert "FAILED" not in out.stdout + out.stderr and "check  ok" not in out.stdout
    result = mc.derive("tr(inv(x x^T) A)", wrt="x")
    assert result.check().status == "inconclusive"
    with pytest.raises(mc.CheckInconclusiveError):
        mc.derive("tr(inv(x x^T) A)", wrt="x", check=True)
    answer = run("check", "tr(inv(x x^T) A)", "--wrt", "x", "--answer", "x")
    assert answer.returncode == 2 and "x xᵀ is singular" in answer.stderr
    as_json = json.loads(run("derive", "tr(inv(x x^T) A)", "--wrt", "x", "--format", "json").stdout)
    assert as_json["check"]["status"] == "inconclusive" and as_json["check"]["ok"] is False


def test_inconclusive_suggests_numeric_sizes_for_a_matrix():
    # log det(X Xᵀ − X Xᵀ): never valid; the hint names X with numeric sizes
    result = mc.derive("logdet(X X^T - X X^T) + sum(X)", wrt="X", where=["X: (n, m)"])
    check = result.check()
    assert check.status == "inconclusive"
    assert "X Xᵀ − X Xᵀ is singular" in check.details and '--where "X: (' in check.details


def test_a_singular_point_never_counts_as_ok():
    # inv(XᵀX) Xᵀ y at m = 2 < n = 3 once "passed" vacuously: every point used is now well conditioned
    result = mc.derive("sum(inv(X^T X) X^T y)", wrt="X", where=["X: (m, n)", "y: (m, 1)"])
    check = result.check()
    assert check.status == "ok", check.details
    assert check.dims["m"] > check.dims["n"]


def test_failed_names_the_sizes_of_the_point():
    result = mc.derive("log(det(X^T X))", wrt="X", where=["X: (n, m)"])
    from matcalc.language.expr import Num
    from matcalc.shapes.core import build

    result.gradients["X"] = build("scale", (Num(3), result.gradients["X"]))
    check = result.check()
    assert check.status == "failed" and check.dims == {"n": 3, "m": 2}
    assert "mismatch at sizes n=3, m=2" in check.details


@pytest.mark.parametrize("case", corpus_cases(lambda c: c["order"] == 1 and c["category"] != "jacobian"))
def test_check_and_derive_check_use_the_same_points(case):
    result = mc.derive(case["f"], wrt=case["wrt"], where=case["where"])
    draws = case.get("draw") or {}
    assert result.check(draws=draws).status == "ok"
    verdict = check_answer(case, case["expected"])
    assert verdict.correct, verdict.diagnosis
    # the judge's first point is the derive check's first point: one sampler
    first = next(result.sampler(draws).points(0, 0, 0))
    sample = prepare(Problem.from_dict(case)).samples[0]
    assert sample.sizes == first.sizes
    for name, value in first.inputs.items():
        np.testing.assert_array_equal(sample.inputs[name], value)


def test_sampler_rejects_ill_conditioned_inverses():
    program = mc.Program(where=["X: (n, m)"], objective="logdet(X^T X)")
    sampler = Sampler({"X": ("n", "m")}, {}, ["n", "m"], watch=program.objective)
    points = sampler.points(0)
    point = next(points)
    assert point.sizes == {"n": 3, "m": 2}  # n=2, m=3 is singular at every draw
    assert any(r.what == "singular" and r.sizes == {"n": 2, "m": 3} for r in sampler.rejections)


def test_the_check_of_a_large_input_fits_in_a_gigabyte():
    # issue 13: directional derivatives, O(size of the inputs) memory; W has 90,000 entries
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from matcalc.faces.cli import main\n"
            "sys.exit(main(['derive', 'sum(tanh(W x))', '--wrt', 'W', '--where', 'W: (300, 300)']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "check  ok" in out.stdout


def test_a_hessian_too_large_to_form_is_not_called_ok():
    check = mc.derive("sum(tanh(W x))", wrt="W", order=2, where=["W: (40, 40)"]).check()
    assert check.status == "inconclusive" and "1600×1600" in check.details and "--hvp" in check.details
