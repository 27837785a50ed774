"""Jacobian and Hessian answers (``--order 2``), the problem's own names only
(δ terms where allowed), and the LaTeX a TA meets in solutions: the indicator
``\\mathbb{1}[z > 0]`` and ``X^-1``."""
import numpy as np
import pytest

from matcalc.faces.answers import Problem, check_answer, prepare
from matcalc.language.latex_input import latex_to_expr_text

from conftest import corpus_cases


def is_higher_case(case):
    return case["order"] == 2 or case["category"] == "jacobian"


def truth_is_symmetric(case) -> bool:
    """Plain numpy on the cached truth values: is every one its own transpose?"""
    return all(t.ndim == 2 and t.shape[0] == t.shape[1] and np.allclose(t, t.T)
               for t in (s.truth for s in prepare(Problem.from_dict(case)).samples))


@pytest.mark.parametrize("case", corpus_cases(is_higher_case))
def test_corpus_jacobian_or_hessian_is_accepted(case):
    v = check_answer(case, case["expected"])
    assert v.correct and v.kind == "correct", v.diagnosis


@pytest.mark.parametrize("case", corpus_cases(is_higher_case))
def test_corpus_jacobian_or_hessian_transposed_is_a_layout_mistake(case):
    v = check_answer(case, f"({case['expected']})^T")
    if truth_is_symmetric(case):  # a Hessian, softmax's Jacobian: the transpose is the answer
        assert v.correct, v.diagnosis
    else:
        assert v.kind == "transpose" and "layout" in v.diagnosis, v.diagnosis


@pytest.mark.parametrize("case", corpus_cases(is_higher_case))
def test_corpus_jacobian_or_hessian_doubled_is_a_factor(case):
    v = check_answer(case, f"2 ({case['expected']})")
    assert v.kind == "factor" and "factor of 2" in v.diagnosis, v.diagnosis


def test_jacobian_of_a_linear_map_on_the_command_line_problem():
    """The issue's example: check "A x" --wrt x --answer "A" (was a KeyError)."""
    problem = {"f": "A x", "wrt": "x"}
    assert check_answer(problem, "A").correct
    assert check_answer(problem, "A^T").kind == "transpose"
    assert check_answer(problem, "-A").kind == "sign"


def test_denominator_layout_is_the_transpose():
    problem = {"f": "A x", "wrt": "x", "layout": "denominator"}
    assert check_answer(problem, "A^T").correct
    v = check_answer(problem, "A")
    assert v.kind == "transpose" and "denominator layout" in v.diagnosis


def test_jacobian_of_a_matrix_product_in_kronecker_form():
    """d vec(A X B) = (Bᵀ ⊗ A) d vec X."""
    problem = {"f": "A X B", "wrt": "X"}
    assert check_answer(problem, "kron(B^T, A)").correct
    assert check_answer(problem, "kron(B^T, A)^T").kind == "transpose"


def test_hessian_answers():
    problem = {"f": "||A x - b||^2", "wrt": "x", "order": 2}
    assert check_answer(problem, "2 A^T A").correct
    assert check_answer(problem, "A^T A").kind == "factor"
    assert check_answer(problem, "2 A A^T").kind == "shape"
    with pytest.raises(Exception, match="order"):
        Problem("x^T x", "x", order=3)


def test_cli_check_order_2(tmp_path):
    from test_answers import cli

    done = cli("check", "x^T A x", "--wrt", "x", "--order", "2", "--answer", "A + A^T")
    assert done.returncode == 0 and "∂²" in done.stdout, done.stdout + done.stderr
    done = cli("check", "A x", "--wrt", "x", "--answer", "A^T")
    assert done.returncode == 1 and "(transpose)" in done.stdout and "Traceback" not in done.stderr


# -- LaTeX the solutions write -----------------------------------------------------

@pytest.mark.parametrize("latex, text", [
    (r"\mathbb{1}[z > 0]", "step(z)"),
    (r"\mathbb{1}\{z>0\}", "step(z)"),
    (r"[z > 0]", "step(z)"),
    (r"\mathbf{1}[0 < z]", "step(z)"),
    (r"[x W + b_1 > 0]", "step(x W + b1)"),
    (r"X^-1", "X^{-1}"),
    (r"X^-T", "X^{-T}"),
    (r"[a + b] c", "(a + b) c"),
])
def test_latex_indicator_and_inverse(latex, text):
    assert latex_to_expr_text(latex) == text


def test_cs224n_solution_with_the_indicator_is_accepted():
    from test_answers import CS224N

    assert check_answer(CS224N, r"\mathbf{x}^\top \left( (\hat{y} - y) U^\top \circ \mathbb{1}[z > 0] \right)").correct
    assert check_answer({"f": "logdet(X)", "wrt": "X", "draw": {"X": "spd"}}, r"X^-T", latex=True).correct


def test_an_indicator_matcalc_cannot_write_is_a_verdict():
    from test_answers import CS224N

    assert check_answer(CS224N, r"x^\top \mathbb{1}[z \geq 1]").kind == "unparsable"


# -- mistakes only the problem can name ----------------------------------------------

def test_missing_the_relu_mask():
    from test_answers import CS224N

    v = check_answer(CS224N, "x^T (yhat - y) U^T")
    assert v.kind == "mask" and "activation mask" in v.diagnosis and "step(z)" in v.diagnosis


def test_missing_the_tanh_mask():
    problem = {"f": "sum(a ∘ tanh(W x))", "wrt": "W", "where": ["a: (m, 1)", "W: (m, n)", "x: (n, 1)"]}
    assert check_answer(problem, "(a ∘ (1 - tanh(W x) ∘ tanh(W x))) x^T").correct
    v = check_answer(problem, "a x^T")
    assert v.kind == "mask" and "tanh" in v.diagnosis


def test_a_different_factor_is_no_mask():
    problem = {"f": "sum(a ∘ tanh(W x))", "wrt": "W", "where": ["a: (m, 1)", "W: (m, n)", "x: (n, 1)"]}
    assert check_answer(problem, "(a ∘ tanh(W x)) x^T").kind == "counterexample"


def test_right_only_if_a_is_symmetric():
    v = check_answer({"f": "x^T A x", "wrt": "x"}, "2 A x")
    assert v.kind == "symmetric-only" and "only if A is symmetric" in v.diagnosis
    assert check_answer({"f": "x^T A x", "wrt": "x", "order": 2}, "2 A").kind == "symmetric-only"
    # a symmetric A is drawn symmetric: there 2 A x is simply right
    assert check_answer({"f": "x^T A x", "wrt": "x", "where": ["A: (n, n) symmetric"]}, "2 A x").correct
