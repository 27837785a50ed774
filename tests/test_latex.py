"""LaTeX output: every δ and gradient of the public corpus typesets with
matplotlib's mathtext (plain and bold), the spellings the notes use, whole
derivations and their steps, the Jupyter views, and deep trees."""
import io

import pytest

import matcalc as mc
from matcalc.language.errors import LimitError
from matcalc.language.expr import Num, Op, Sym
from matcalc.language.latex_expr import latex_name, to_latex
from matcalc.outputs.latex import render_latex

from conftest import ROOT, corpus_cases

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
mathtext = pytest.importorskip("matplotlib.mathtext")

CS224N = (ROOT / "tests" / "data" / "cs224n.mc").read_text()


def typesets(tex: str) -> bool:
    """mathtext parses and draws ``$tex$`` (raises on anything it cannot)."""
    mathtext.math_to_image(f"${tex}$", io.BytesIO(), format="png")
    return True


def is_gradient_case(case):
    return case["order"] == 1 and case["category"] != "jacobian"


def rows(block: str) -> list[str]:
    """The rows of an align* block, alignment marks turned into spaces."""
    body = block.split("\\begin{align*}\n", 1)[1].split("\n\\end{align*}", 1)[0]
    return [r.strip().replace("&&", r"\quad").replace("&", "") for r in body.split(" \\\\\n")]


@pytest.mark.parametrize("bold", [False, True], ids=["plain", "bold"])
@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_every_corpus_delta_and_gradient_typesets_in_mathtext(case, bold):
    result = mc.derive(case["f"], wrt=case["wrt"], where=case["where"])
    for step in result.intermediates:
        assert typesets(to_latex(step.expr, bold=bold)), step.name
    for w, g in result.gradients.items():
        assert typesets(to_latex(g, bold=bold)), w


@pytest.mark.parametrize("bold", [False, True], ids=["plain", "bold"])
def test_every_row_of_the_cs224n_derivation_and_steps_typesets(bold):
    result = mc.Program(CS224N).derive("W,b1,U,b2")
    result.check()
    text = render_latex(result, bold=bold, steps=True)
    blocks = text.split("\\end{align*}")[:-1]
    assert len(blocks) == 1 + 4  # the derivation, then the steps of each variable
    for block in blocks:
        for row in rows(block + "\\end{align*}"):
            assert typesets(row), row


def tex(text: str, wrt: str = "x", where=(), bold=False) -> str:
    """The LaTeX of the objective (parsed and typed) itself."""
    return to_latex(mc.Program("", where=list(where), objective=text).objective, bold=bold)


@pytest.mark.parametrize("text, expected", [
    ("xᵀ A x", r"x^\top A x"),                                  # transpose
    ("A ∘ B", r"A \circ B"),                                    # Hadamard product
    ("A ./ B", r"A \oslash B"),                                 # Hadamard division
    ("X⁻¹", "X^{-1}"),
    ("X⁻ᵀ", r"X^{-\top}"),
    ("‖x‖", r"\left\Vert x \right\Vert"),                       # 2-norm of a vector
    ("‖A‖_F", r"\left\Vert A \right\Vert_F"),                   # Frobenius norm of a matrix
    ("softmax(θ)", r"\operatorname{softmax}\left(\theta\right)"),
    ("σ(z)", r"\sigma\left(z\right)"),
    ("tr(A X)", r"\operatorname{tr}\left(A X\right)"),
    ("logdet(X)", r"\log\det\left(X\right)"),
    ("A - 2 B", "A - 2 B"),
    ("a - (b - c)", r"a - \left(b - c\right)"),
    ("(a + b) ∘ c", r"\left(a + b\right) \circ c"),
])
def test_the_notation_of_the_notes(text, expected):
    assert tex(text) == expected


def test_division_by_a_scalar_is_a_fraction():
    assert tex("(P - Y) / N", where=["P: (N, C)"]) == r"\frac{P - Y}{N}"


def test_ones_is_bold_one():
    assert tex("onesᵀ G", where=["G: (N, C)"]) == r"\mathbf{1}^\top G"


@pytest.mark.parametrize("name, plain, bold", [
    ("delta2", r"\delta_{2}", r"\boldsymbol{\delta}_{2}"),
    ("yhat", r"\hat{y}", r"\hat{\mathbf{y}}"),
    ("theta", r"\theta", r"\boldsymbol{\theta}"),
    ("W_2", "W_{2}", r"\mathbf{W}_{2}"),
    ("b1", "b_{1}", r"\mathbf{b}_{1}"),
    ("loss", r"\mathrm{loss}", r"\mathbf{loss}"),
])
def test_names(name, plain, bold):
    assert latex_name(name) == plain
    assert latex_name(name, bold=True, shape=(1, "n")) == bold
    assert latex_name(name, bold=True, shape=()) == plain  # scalars are never bold


def test_bold_sets_vectors_and_matrices_but_not_scalars():
    assert tex("λ xᵀ W", where=["x: (n, 1)", "λ: ()"], bold=True) == r"\lambda \mathbf{x}^\top \mathbf{W}"


def test_cs224n_derivation_reads_like_the_notes():
    result = mc.Program(CS224N).derive("W")
    text = result.latex()
    assert r"\delta_{1} &= \hat{y} - y && (1 \times C) && \text{[softmax-CE]}" in text
    assert r"\frac{\partial J}{\partial W} &= x^\top \delta_{2} && (D \times H)" in text
    bold = result.latex(bold=True)
    assert r"\boldsymbol{\delta}_{2} &= \boldsymbol{\delta}_{1} \mathbf{U}^\top \circ" in bold


def test_steps_in_latex_name_the_rules_with_shapes():
    result = mc.Program(CS224N).derive("W")
    text = render_latex(result, steps=True)
    assert (r"\frac{\partial J}{\partial \theta} &= \hat{y} - y =: \delta_{1} && (1 \times C)"
            r" && \text{[softmax-CE]}") in text
    assert r"=: \delta_{2} && (1 \times H) && \text{[relu]}" in text
    assert r"\text{shape check: } x^\top\ (D \times 1)" in text


def test_jupyter_shows_rendered_math_with_shapes():
    result = mc.derive("CE(y, softmax(relu(x W + b1) U + b2))", wrt="W")
    shown = result._repr_latex_()
    assert shown.startswith("$$\\begin{aligned}") and shown.endswith("\\end{aligned}$$")
    assert r"\frac{\partial J}{\partial W} &= x^\top \delta_{2}" in shown
    assert "(n \\times m)" in shown


def test_program_shows_its_shape_table():
    table = mc.Program(CS224N)._repr_markdown_()
    assert "| $x$ | $1 \\times D$ | variable |" in table
    assert r"$\hat{y} = \operatorname{softmax}\left(\theta\right)$" in table


def test_errors_show_their_message_in_ipython():
    with pytest.raises(mc.MatcalcError) as info:
        mc.derive("x W +", wrt="W")
    lines = info.value._render_traceback_()
    assert lines[0].startswith("ParseError: ") and "^" in "\n".join(lines)


def test_deep_trees_are_a_limit_error_not_a_crash():
    x = Sym("x", ())
    deep = x
    for _ in range(5000):
        deep = Op("add", (Op("scale", (Num(2), deep), ()), x), ())
    with pytest.raises(LimitError):
        to_latex(deep)


def test_moderately_deep_trees_print():
    x = Sym("x", ())
    e = x
    for _ in range(300):
        e = Op("add", (e, x), ())
    assert to_latex(e) == " + ".join(["x"] * 301)


def test_cli_format_latex_with_bold_and_steps(capsys):
    from matcalc.faces.cli import main

    status = main(["derive", "-f", str(ROOT / "tests" / "data" / "cs224n.mc"), "--wrt", "W",
                   "--format", "latex", "--bold", "--steps"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.count("\\begin{align*}") == 2  # the derivation, then the steps for W
    assert r"\frac{\partial J}{\partial \mathbf{W}} &= \mathbf{x}^\top \boldsymbol{\delta}_{2}" in out
    assert r"\text{[softmax-CE]}" in out and r"\text{check ok" in out
