"""Jacobians, Hessians, mixed second derivatives and Hessian-vector products:
the same linearisation as the gradient, forward mode, checked numerically."""
import json
import subprocess
import sys

import numpy as np
import pytest

import matcalc as mc
from matcalc.faces.api import Program
from matcalc.language.evaluate import evaluate
from matcalc.language.expr import Sym
from matcalc.language.printer import to_text
from matcalc.results.sampling import assign_sizes, sample_inputs
from matcalc.shapes.dag import dims_from_inputs

from conftest import corpus_cases


def is_higher_case(case):
    return case["category"] == "jacobian" or case["order"] == 2


@pytest.mark.parametrize("case", corpus_cases(is_higher_case))
def test_corpus_jacobians_and_hessians(case):
    result = mc.derive(case["f"], wrt=case["wrt"], where=case["where"], order=case["order"])
    check = result.check()
    assert check.ok, check.details
    (d,) = result.derivatives
    typed = result.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in result.program.variables}
    expected = Program("", where=case["where"], objective=case["expected"])
    for seed in (1, 2):
        env = sample_inputs(variables, typed.kinds, assign_sizes(typed.dims), np.random.default_rng(seed),
                            draws=case.get("draw"))
        ours = evaluate(d.value, env, dims_from_inputs(typed.shapes, env))
        theirs = evaluate(expected.objective, env, dims_from_inputs(expected.typed.shapes, env))
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


def form(objective, wrt, *where, **options):
    result = mc.derive(objective, wrt=wrt, where=list(where), **options)
    assert result.check().ok
    (d,) = result.derivatives
    named = "".join(f", {to_text(Sym(name))} = {to_text(e)}" for name, e in d.where)
    return to_text(d.expr) + named


# -- the forms of the issue, in book notation ---------------------------
def test_softmax_jacobian():  # diag(ŷ) − ŷ ŷᵀ
    assert form("softmax(z)", "z", "z: (n, 1)") == "diag(ŷ) − ŷ ŷᵀ, ŷ = softmax(z)"
    program = mc.Program("z: (n, 1)\nyhat = softmax(z)")
    (d,) = program.derive("z").derivatives
    assert to_text(d.expr) == "diag(ŷ) − ŷ ŷᵀ"


def test_tanh_layer_jacobian():  # diag(1 − h ∘ h) W
    program = mc.Program("h = tanh(W x)")
    result = program.derive("x")
    assert to_text(result.derivatives[0].expr) == "diag(1 − h ∘ h) W"
    assert result.check().ok


def test_kronecker_jacobians():  # d vec(A X B) = (Bᵀ ⊗ A) d vec(X); d X⁻¹ = −X⁻¹ dX X⁻¹
    assert form("A X B", "X") == "Bᵀ ⊗ A"
    assert form("inv(X)", "X") == "−(X⁻ᵀ ⊗ X⁻¹)"


def test_hessians():
    assert form("x^T A x", "x", order=2) == "A + Aᵀ"
    assert form("-sum(y .* log(sigmoid(X w)) + (1 - y) .* log(1 - sigmoid(X w)))", "w",
                "X: (N, D)", "w: (D, 1)", "y: (N, 1)", order=2) == "Xᵀ diag(p ∘ (1 − p)) X, p = σ(X w)"
    assert form("tr(X^T A X)", "X", order=2) == "I ⊗ (A + Aᵀ)"
    assert form("logdet(X)", "X", order=2) == "−commutation(n, n) (X⁻ᵀ ⊗ X⁻¹)"


def test_mixed_second_derivative():
    assert form("x^T A y", "x", wrt2="y") == "A"


def test_hessian_vector_product_never_forms_the_hessian():
    result = mc.derive("-sum(y .* log(sigmoid(X w)) + (1 - y) .* log(1 - sigmoid(X w)))", wrt="w",
                       where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)"], hvp="v")
    assert result.check().ok
    (d,) = result.derivatives
    assert d.shape == ("D", 1)
    assert "diag" not in to_text(d.expr) and "X v" in to_text(d.expr)  # O(N D), never D×D
    source = result.numpy()
    assert "def hvp(" in source and "def gradients(" in source


# -- layouts -------------------------------------------------------------
@pytest.mark.parametrize("objective, wrt, where", [
    ("tanh(W x)", "x", []),             # vector
    ("A X B", "X", []),                 # matrix (vec)
    ("softmax(z)", "z", ["z: (n, 1)"]),
])
def test_denominator_layout_is_the_transpose(objective, wrt, where):
    num = mc.derive(objective, wrt=wrt, where=where)
    den = mc.derive(objective, wrt=wrt, where=where, layout="denominator")
    assert den.check().ok
    typed = num.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in num.program.variables}
    env = sample_inputs(variables, typed.kinds, assign_sizes(typed.dims), np.random.default_rng(0))
    dims = dims_from_inputs(typed.shapes, env)
    a = evaluate(num.derivatives[0].value, env, dims)
    b = evaluate(den.derivatives[0].value, env, dims)
    np.testing.assert_allclose(np.atleast_2d(b), np.atleast_2d(a).T)


def test_layout_is_printed_in_every_output():
    out = subprocess.run([sys.executable, "-m", "matcalc", "derive", "A X B", "--wrt", "X", "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    data = json.loads(out.stdout)
    assert data["layout"] == "numerator"
    assert data["jacobians"][0]["expr"] == "kron(B^T, A)"
    assert data["jacobians"][0]["maps"].startswith("∂vec(f)/∂vec(X)")
    text = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x^T A x", "--wrt", "x"],
                          capture_output=True, text=True, timeout=60).stdout
    assert "layout   numerator" in text and "either layout" in text


def test_numpy_module_has_jacobians_and_hessians():
    jac = mc.derive("tanh(W x)", wrt="x")
    f = jac.compile()
    W, x = np.arange(6.0).reshape(2, 3) / 10, np.ones((3, 1))
    h = np.tanh(W @ x)
    np.testing.assert_allclose(f(W=W, x=x)["x"], (1 - h * h) * W)
    hess = mc.derive("x^T A x", wrt="x", order=2)
    source = hess.numpy()
    assert "def hessians(" in source and "def gradients(" in source


def test_steps_cover_jacobians_in_text_and_latex(tmp_path):
    program = tmp_path / "layer.mc"
    program.write_text("x: (n, 1)\nz = W x + b\nh = tanh(z)\nyhat = softmax(U h)\n")
    text = subprocess.run([sys.executable, "-m", "matcalc", "derive", "-f", str(program), "--wrt", "x",
                           "--steps", "--no-check"], capture_output=True, text=True, timeout=60).stdout
    assert "∂h/∂x = diag(1 − h ∘ h) W" in text and "forward mode" in text
    latex = subprocess.run([sys.executable, "-m", "matcalc", "derive", "-f", str(program), "--wrt", "x",
                            "--steps", "--format", "latex", "--no-check"], capture_output=True, text=True,
                           timeout=60).stdout
    assert r"\frac{\partial h}{\partial x} &= \operatorname{diag}\left(1 - h \circ h\right) W" in latex
