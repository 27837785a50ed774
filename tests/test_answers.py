"""Checking homework answers (SPEC §7): every diagnosis, on the corpus and on
the CS224n problem, decided numerically (never by comparing strings)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matcalc.faces.answers import Problem, Verdict, check_answer, prepare
from matcalc.language.errors import MatcalcError, ParseError
from matcalc.language.latex_expr import to_latex
from matcalc.language.latex_input import latex_to_expr_text, looks_like_latex
from matcalc.language.parser import parse_expr, parse_program

from conftest import ROOT, corpus_cases

DATA = Path(__file__).parent / "data"
# the δ terms matcalc derives are usable here because the problems allow them
CS224N = Problem("J", "W", program=(DATA / "cs224n.mc").read_text(), allow=("delta1", "delta2"))
BATCH = Problem("L", "b2", program=(DATA / "two_layer_batch.mc").read_text(), allow=("delta1",))


def cli(*args, **kwargs) -> subprocess.CompletedProcess:
    """``matcalc ARGS`` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, **kwargs)


def is_gradient_case(case):
    return case["order"] == 1 and case["category"] != "jacobian"


def gradient_is_symmetric(case) -> bool:
    """The true gradient equals its transpose at every test point (scalars too)."""
    truths = [s.truth for s in prepare(Problem.from_dict(case)).samples]
    return all(t.ndim == 0 or (t.shape[0] == t.shape[1] and np.allclose(t, t.T)) for t in truths)


def latex_spelling(case) -> str:
    """The corpus's expected answer, printed as LaTeX by matcalc.language.latex_expr."""
    names = parse_program("\n".join(case["where"])).names if case["where"] else frozenset()
    return to_latex(parse_expr(case["expected"], known_names=names))


# -- the corpus: right, doubled, transposed, garbage, LaTeX ---------------------

@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_corpus_expected_is_accepted(case):
    v = check_answer(case, case["expected"])
    assert v.correct and v.kind == "correct", v.diagnosis


@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_corpus_doubled_answer_is_off_by_a_factor_of_2(case):
    v = check_answer(case, f"2 ({case['expected']})")
    assert not v.correct and v.kind == "factor"
    assert "factor of 2" in v.diagnosis


@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_corpus_transposed_answer_is_a_layout_mistake(case):
    v = check_answer(case, f"({case['expected']})^T")
    if gradient_is_symmetric(case):  # Aᵀ = A: the transpose is the same answer
        assert v.correct
    else:
        assert v.kind in ("transpose", "shape") and not v.correct
        assert v.kind == "transpose", v.diagnosis  # vectors too: the shapes are each other's transpose


@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_corpus_garbage_after_the_answer_is_unparsable(case):
    v = check_answer(case, f"{case['expected']} + ) (")
    assert v.kind == "unparsable" and not v.correct
    assert "cannot read your answer" in v.diagnosis


@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_corpus_latex_spelling_is_accepted(case):
    text = latex_spelling(case)
    v = check_answer(case, text, latex=True)
    assert v.correct, f"{text} read as {v.answer_text}: {v.diagnosis}"


@pytest.mark.parametrize("case", corpus_cases(lambda c: c["id"] in ("tr-AXB", "prog-cs224n-W", "norm-ridge")))
def test_cli_exits_2_without_traceback_on_garbage(case):
    args = ["check", case["f"], "--wrt", case["wrt"], "--answer", case["expected"] + " + ) ("]
    for line in case["where"]:
        args += ["--where", line]
    done = cli(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "cannot read your answer" in done.stderr


# -- hand-written LaTeX -------------------------------------------------------------

@pytest.mark.parametrize("problem, latex", [
    (CS224N, r"\mathbf{x}^\top \delta_2"),
    (CS224N, r"\mathbf{x}^{T} \left( (\hat{y} - y) U^\top \odot \operatorname{step}(z) \right)"),
    (CS224N, r"\boldsymbol{x}^{\top} \left[\left(\hat{\mathbf{y}} - \mathbf{y}\right) \mathbf{U}^T"
             r" \circ \mathrm{step}(z)\right]"),
    (Problem("J", "U", program=CS224N.program), r"h^\top (\hat{y} - y)"),
    (BATCH, r"\frac{1}{N} \mathbf{1}^\top (P - Y)"),
    (BATCH, r"\mathbf{1}^{T} \frac{P - Y}{N}"),
    (Problem("L", "W2", program=BATCH.program, allow=["δ1"]), r"2 \lambda W_2 + H_1^\top \delta_1"),
    ({"f": "||X w - y||^2 + lambda ||w||^2", "wrt": "w",
      "where": ["X: (m, n)", "w: (n, 1)", "y: (m, 1)", "lambda: ()"]},
     r"2 X^\top \left( X \mathbf{w} - \mathbf{y} \right) + 2 \lambda \mathbf{w}"),
    ({"f": "||x||", "wrt": "x", "where": ["x: (n, 1)"]}, r"\frac{x}{\lVert x \rVert}"),
    ({"f": "||x||", "wrt": "x", "where": ["x: (n, 1)"]}, r"\mathbf{x} \oslash \left\| \mathbf{x} \right\|_2"),
    ({"f": "a^T sigmoid(W x)", "wrt": "W", "where": ["a: (m, 1)", "W: (m, n)", "x: (n, 1)"]},
     r"\left(a \odot \sigma(W x) \odot (1 - \sigma(W x))\right) x^T"),
    ({"f": "CE(y, softmax(z))", "wrt": "z", "where": ["z: (1, k)", "y: (1, k) onehot"]}, r"\text{softmax}(z) - y"),
    ({"f": "tr(A X B)", "wrt": "X", "where": ["A: (p, m)", "X: (m, n)", "B: (n, p)"]}, r"A^{T} \cdot B^{T}"),
    ({"f": "log(det(X))", "wrt": "X", "where": ["X: (n, n) spd"], "draw": {"X": "spd"}}, r"X^{-\top}"),
    ({"f": "sum(diag(X))", "wrt": "X", "where": ["X: (n, n)"]}, r"\mathbf{I}"),
    ({"f": "lambda ||W||_F^2", "wrt": "W", "where": ["W: (n, m)", "lambda: ()"]}, r"2\lambda W"),
    ({"f": "x^T A x", "wrt": "x", "where": ["x: (n, 1)", "A: (n, n)"]}, r"\left(A + A^{\mathsf{T}}\right)\mathbf{x}"),
])
def test_hand_written_latex_is_accepted(problem, latex):
    v = check_answer(problem, latex)
    assert v.correct, f"{latex} read as {v.answer_text}: {v.diagnosis}"


@pytest.mark.parametrize("latex, ours", [
    (r"\mathbf{x}^\top \delta_2", "x^T delta2"),
    (r"W^{T}", "W^T"),
    (r"A^{-1} b_1", "A^{-1} b1"),
    (r"\hat{y} - y", "yhat - y"),
    (r"\lambda \|w\|^2", "lambda ‖ w ‖^{2}"),
    (r"\lVert X \rVert_F", "‖ X ‖_F"),
    (r"\operatorname{diag}(v)", "diag ( v )"),
    (r"\sigma(z)", "sigmoid ( z )"),
    (r"\sigma z", "sigma z"),
    (r"\frac{1}{N}", "((1) / (N))"),
    (r"\delta^{(2)}", "delta2"),
    (r"\log x", "log(x)"),
    (r"a \circ b \oslash c", "a ∘ b ⊘ c"),
    (r"\mathbf{1}^\top \delta", "ones^T delta"),
    (r"e^{x}", "exp(x)"),
])
def test_latex_translation(latex, ours):
    assert latex_to_expr_text(latex) == ours
    parse_expr(ours)  # the translation is in our language


def test_latex_subscript_follows_the_problem_names():
    """W_{2} is W2 unless the problem names W_2 (and no W2)."""
    assert latex_to_expr_text("W_{2}") == "W2"
    assert latex_to_expr_text("W_{2}", names={"W_2"}) == "W_2"


@pytest.mark.parametrize("bad", [r"\frac{1}{2", r"\sum_i x_i", r"\foo x", "x^", r"\hat{x + y}", "a & b"])
def test_latex_errors_are_parse_errors(bad):
    with pytest.raises(ParseError):
        latex_to_expr_text(bad)


def test_latex_detection():
    assert looks_like_latex(r"\mathbf{x}^\top") and looks_like_latex("W_{2}")
    assert not looks_like_latex("x^T delta2") and not looks_like_latex("A^{-1} + B^{T}")


# -- the CS224n problem: every diagnosis ---------------------------------------------

def test_answer_with_a_helper_definition():
    v = check_answer(CS224N, "x^T delta2", where=["delta2 = (yhat - y) U^T .* step(z)"])
    assert v.correct and v.expected_text == "xᵀ δ2"


def test_answer_with_inline_helpers_and_the_problem_names():
    assert check_answer(CS224N, "d = (ŷ - y) Uᵀ ∘ sgn(h); xᵀ d").correct  # sgn(h) = step(z)


def test_engine_delta_names_are_accepted_where_the_problem_allows_them():
    """δ1, δ2 not defined by the student mean matcalc's own (ŷ − y, δ1 Uᵀ ∘ step(z))."""
    assert check_answer(CS224N, "xᵀ δ2").correct
    assert check_answer(CS224N, "x^T (delta1 U^T .* step(z))").correct


def test_engine_delta_names_are_unknown_by_default():
    """Deriving δ2 is the homework: an answer leaning on matcalc's δ2 is not an answer."""
    strict = Problem("J", "W", program=CS224N.program)
    v = check_answer(strict, "x^T delta2")
    assert v.kind == "unknown-name" and "δ2: matcalc's name for an intermediate" in v.diagnosis
    only_delta1 = Problem("J", "W", program=CS224N.program, allow=["delta1"])
    assert check_answer(only_delta1, "x^T delta2").kind == "unknown-name"  # δ2 uses δ1: still not given
    assert check_answer(only_delta1, "x^T (delta1 U^T .* step(z))").correct
    assert check_answer(strict, "delta2 = (yhat - y) U^T .* step(z); x^T delta2").correct
    assert check_answer(strict, "x^T delta2", where=["delta2 = (yhat - y) U^T .* step(z)"]).correct


def test_a_student_helper_shadows_the_engine_delta():
    """The student's own δ2 is the one judged, not matcalc's."""
    assert check_answer(CS224N, "δ2 = 2 δ1 Uᵀ ∘ step(z); xᵀ δ2").kind == "factor"
    assert check_answer(CS224N, "delta2 = x; delta2").kind == "shape"


def test_transpose_is_a_layout_mistake():
    v = check_answer(CS224N, "delta2^T x")
    assert v.kind == "transpose" and "H×D" in v.diagnosis and "D×H" in v.diagnosis


def test_missing_factor():
    v = check_answer(CS224N, "x^T delta2 / 2")
    assert v.kind == "factor" and "missing factor of 2" in v.diagnosis


def test_wrong_sign():
    v = check_answer(CS224N, "-x^T delta2", where=["delta2 = (yhat - y) U^T .* step(z)"])
    assert v.kind == "sign" and "sign" in v.diagnosis


def test_missing_batch_sum():
    v = check_answer(BATCH, "delta1", where=["delta1 = (P - Y) / N"])
    assert v.kind == "batch-sum" and "onesᵀ δ" in v.diagnosis
    assert check_answer(BATCH, "ones^T delta1", where=["delta1 = (P - Y) / N"]).correct


def test_missing_one_over_n():
    v = check_answer(BATCH, "ones^T (P - Y)")
    assert v.kind == "factor" and "missing 1/N" in v.diagnosis
    v = check_answer(BATCH, "P - Y")  # both: the sum and the 1/N
    assert v.kind == "batch-sum" and "1/N" in v.diagnosis


def test_counterexample_names_sizes_and_entry():
    v = check_answer(CS224N, "x^T (yhat - y) U^T ∘ h")  # h where step(z) belongs
    assert v.kind == "counterexample" and not v.correct
    c = v.counterexample
    assert c["sizes"] == {"D": 2, "H": 3, "C": 5}
    i, j = c["entry"]
    assert 1 <= i <= 2 and 1 <= j <= 3 and c["expected"] != c["given"]
    assert set(c["inputs"]) == {"x", "W", "b1", "U", "b2", "y"}


def test_wrong_shape_says_both_shapes():
    v = check_answer(CS224N, "x^T delta1")
    assert v.kind == "shape" and "D×C" in v.diagnosis and "D×H" in v.diagnosis
    v = check_answer(CS224N, "x delta2")  # no shape at all
    assert v.kind == "shape" and "cols(x)" in v.diagnosis


def test_unknown_names_empty_and_garbage_are_verdicts():
    assert check_answer(CS224N, "x^T q").kind == "unknown-name"
    assert check_answer(CS224N, "  ").kind == "empty"
    assert check_answer(CS224N, "x^T delta2 + ) (").kind == "unparsable"
    assert check_answer(CS224N, r"\mathbf{x}^\top \foo").kind == "unparsable"
    assert check_answer(CS224N, "x^T nosuchfunc(z)").kind in ("unparsable", "unknown-name")


def test_a_bad_problem_raises():
    with pytest.raises(MatcalcError):
        check_answer({"f": "tr(A X", "wrt": "X"}, "I")
    with pytest.raises(MatcalcError):
        check_answer({"f": "tr(X)"}, "I")


def test_scalar_gradient():
    problem = {"f": "lambda x^T A x", "wrt": "lambda", "where": ["lambda: ()", "x: (n, 1)", "A: (n, n)"]}
    assert check_answer(problem, "x^T A x").correct
    assert check_answer(problem, "x^T A^T x").correct  # a scalar equals its transpose
    assert check_answer(problem, "-x^T A x").kind == "sign"


def test_verdict_serialises():
    v = check_answer(CS224N, "2 x^T delta2")
    d = json.loads(json.dumps(v.to_dict()))
    assert d["kind"] == "factor" and d["expected_shape"] == "D×H" and isinstance(v, Verdict)
    assert str(v).startswith("wrong (factor)")


def test_cli_check_exit_codes_and_json():
    base = ["check", "J", "-f", str(DATA / "cs224n.mc"), "--wrt", "W"]
    right = cli(*base, "--answer", "x^T delta2", "--where", "delta2 = (yhat - y) U^T .* step(z)")
    assert right.returncode == 0 and right.stdout.startswith("right"), right.stderr
    wrong = cli(*base, "--answer", "delta2^T x", "--format", "json", "--allow", "delta2")
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["kind"] == "transpose"
    unknown = cli(*base, "--answer", "delta2^T x", "--format", "json")
    assert unknown.returncode == 1 and json.loads(unknown.stdout)["kind"] == "unknown-name"
    bad = cli(*base, "--answer", r"\mathbf{x}^\top \foo")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    bad_problem = cli("check", "tr(A X", "--wrt", "X", "--answer", "I")
    assert bad_problem.returncode == 2 and "ParseError" in bad_problem.stderr


def test_check_json_is_json_when_the_answer_is_not_finite():
    done = cli("check", "x^T x", "--where", "x: (n, 1)", "--wrt", "x", "--answer", "x / 0", "--format", "json")
    assert done.returncode == 1, done.stderr  # wrong, not a crash
    verdict = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert verdict["kind"] == "counterexample" and verdict["counterexample"]["given"] == "inf"


def test_derive_json_is_json_when_the_check_is_inconclusive():
    done = cli("derive", "tr(inv(x x^T) A)", "--where", "x: (n, 1)", "--wrt", "x", "--format", "json")
    assert done.returncode == 2  # inconclusive: not verified
    check = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))["check"]
    assert check["status"] == "inconclusive" and check["max_rel_error"] is None
