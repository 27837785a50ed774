"""The derivation engine end to end: the seeds' derivations come out as the
notes write them, the cookbook's results in book form, every result checked
numerically."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import matcalc as mc
from matcalc.language.printer import to_text

from conftest import ROOT

DATA = Path(__file__).parent / "data"


def grad(objective, wrt, *where):
    result = mc.derive(objective, wrt=wrt, where=list(where))
    assert result.check().ok
    return to_text(result.gradients[wrt])


def run(*args):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=120)


# -- cookbook results in book form (and numerically checked) --------------
def test_trace_of_product():  # ∂ tr(AXB)/∂X = Aᵀ Bᵀ
    assert grad("tr(A X B)", "X", "A: (p, m)", "X: (m, n)", "B: (n, p)") == "Aᵀ Bᵀ"


def test_log_det():  # ∂ log det X/∂X = X⁻ᵀ
    assert grad("logdet(X)", "X") == "X⁻ᵀ"
    assert grad("log(det(X))", "X") == "X⁻ᵀ"


def test_quadratic_form():  # ∂ xᵀAx/∂x = (A + Aᵀ) x
    assert grad("x^T A x", "x") == "(A + Aᵀ) x"


def test_quadratic_form_symmetric():  # Aᵀ = A when A is declared symmetric
    assert grad("x^T A x", "x", "A: (n, n) symmetric") in ("2 A x", "2 (A x)")


def test_determinant():  # ∂ det X/∂X = det(X) X⁻ᵀ
    assert grad("det(X)", "X") == "det(X) X⁻ᵀ"


def test_no_diag_times_matrix():  # diag(v) A is written v ∘ A
    result = mc.derive("sum(diag(v) A)", wrt="A", where=["v: (n, 1)"])
    assert result.check().ok
    assert "diag" not in to_text(result.gradients["A"])


def test_logistic_regression_simplifies_to_p_minus_y():
    result = mc.derive("-sum(y .* log(sigmoid(X w)) + (1 - y) .* log(1 - sigmoid(X w)))", wrt="w",
                       where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)"])
    assert result.check().ok
    # one layer: no δ, the book's Xᵀ (σ(X w) − y), compared as trees
    assert result.intermediates == []
    book = mc.Program("", where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)"], objective="X^T (sigmoid(X w) - y)")
    assert result.gradients["w"] == book.objective


def test_gradient_of_a_variable_the_objective_ignores_is_zero():
    result = mc.derive("sum(W x)", wrt="W,b", where=["b: (n, 1)"])
    assert to_text(result.gradients["b"]) == "0"
    assert result.check().ok


# -- the CS224n program (seeds/cs224n_gradient_notes.txt) ------------------
def test_cs224n_program_reads_like_the_notes():
    program = mc.Program((DATA / "cs224n.mc").read_text())
    result = program.derive(["U", "b2", "W", "b1", "x"])
    deltas = {s.name: to_text(s.expr) for s in result.intermediates}
    assert deltas == {"delta1": "ŷ − y", "delta2": "δ1 Uᵀ ∘ step(z)"}
    grads = {w: to_text(g) for w, g in result.gradients.items()}
    assert grads == {"U": "hᵀ δ1", "b2": "δ1", "W": "xᵀ δ2", "b1": "δ2", "x": "δ2 Wᵀ"}
    assert result.shapes["delta2"] == (1, "H")
    assert [str(a) for a in result.assumptions] == ["y sums to 1 (one-hot or a distribution)"]
    assert result.check().ok


def test_cs224n_text_output_has_shapes_and_rules():
    out = run("derive", "-f", str(DATA / "cs224n.mc"), "--wrt", "W,U")
    assert out.returncode == 0, out.stderr
    assert "δ1 = ŷ − y" in out.stdout and "[softmax-CE]" in out.stdout
    assert "δ2 = δ1 Uᵀ ∘ step(z)" in out.stdout and "1×H" in out.stdout
    assert "∂J/∂W = xᵀ δ2" in out.stdout and "D×H" in out.stdout
    assert "check  ok" in out.stdout


def test_two_layer_batch_net_with_l2():
    program = mc.Program((DATA / "two_layer_batch.mc").read_text())
    result = program.derive(["W1", "b1", "W2", "b2"])
    deltas = [to_text(s.expr) for s in result.intermediates]
    assert deltas == ["(P − Y) / N", "δ1 W2ᵀ ∘ step(Z1)"]
    grads = {w: to_text(g) for w, g in result.gradients.items()}
    assert grads["b2"] == "onesᵀ δ1" and grads["b1"] == "onesᵀ δ2"  # the sum over the batch
    assert "H1ᵀ δ1" in grads["W2"] and "λ W2" in grads["W2"]
    assert "Xᵀ δ2" in grads["W1"] and "λ W1" in grads["W1"]
    assert result.check().ok


def test_json_carries_the_derivation():
    out = run("derive", "-f", str(DATA / "two_layer_batch.mc"), "--wrt", "W1,b2", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"input", "objective", "shapes", "read_as", "assumptions", "intermediates", "gradients",
                         "layout", "numpy", "check"}
    assert data["shapes"]["X"] == ["N", "D"] and data["shapes"]["λ" if "λ" in data["shapes"] else "lambda"] == []
    assert [i["name"] for i in data["intermediates"]] == ["delta1", "delta2"]
    assert data["intermediates"][0]["expr"] == "(P - Y) / N"
    assert {g["wrt"] for g in data["gradients"]} == {"W1", "b2"}
    assert data["check"]["ok"] is True and data["check"]["max_rel_error"] < 1e-6
    assert "def gradients(" in data["numpy"]


def test_numpy_module_runs_and_matches():
    import numpy as np

    program = mc.Program((DATA / "cs224n.mc").read_text())
    result = program.derive(["W", "U"])
    f = result.compile()
    rng = np.random.default_rng(0)
    D, H, C = 3, 5, 4
    inputs = dict(x=rng.normal(size=(1, D)), W=rng.normal(size=(D, H)), b1=rng.normal(size=(1, H)),
                  U=rng.normal(size=(H, C)), b2=rng.normal(size=(1, C)), y=np.eye(C)[[1]])
    got = f(**inputs)
    _, evaluate = result.evaluator()
    want = evaluate(inputs)
    for name in ("W", "U"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12)


def test_python_keyword_names_work_in_the_numpy_module():
    result = mc.derive("lambda ||w||^2", wrt="w,lambda", where=["lambda: ()"])
    import numpy as np

    w = np.arange(3.0).reshape(3, 1)
    out = result.compile()(**{"lambda": 0.5, "w": w})
    np.testing.assert_allclose(out["w"], 2 * 0.5 * w)
    assert out["lambda"] == pytest.approx(float((w ** 2).sum()))


# -- the rule base is data ------------------------------------------------
@pytest.mark.parametrize("rules", ["swish.rules", "swish_definition_only.rules"])
def test_swish_through_a_rule_file(rules):
    out = run("derive", "sum(swish(W x))", "--wrt", "W", "--rules", str(DATA / rules))
    assert out.returncode == 0, out.stderr
    assert "check  ok" in out.stdout


def test_a_wrong_rule_is_caught_by_the_check():
    out = run("derive", "sum(tanh(W x))", "--wrt", "W", "--rules", str(DATA / "wrong_tanh.rules"))
    assert out.returncode == 1
    assert "FAILED" in out.stdout + out.stderr


def test_unsupported_is_not_differentiable():
    out = run("derive", "sum(max(x, y))", "--wrt", "x")
    assert out.returncode == 2
    assert "NotDifferentiableError" in out.stderr and "max" in out.stderr
    assert "Traceback" not in out.stderr
    with pytest.raises(mc.NotDifferentiableError):
        mc.derive("sum(max(x, y))", wrt="x")


def test_wrt_must_be_a_variable():
    with pytest.raises(mc.MatcalcError):
        mc.derive("sum(W x)", wrt="V")


def test_derive_without_check_imports_neither_numpy_nor_sympy():
    # startup time is a product feature (bench/RESULTS.md): the main job
    # without --check must not pay for numpy's or sympy's import
    code = ("import sys; from matcalc.faces.cli import main; "
            "main(['derive', 'CE(y, softmax(relu(xW+b1)U+b2))', '--wrt', 'W', '--no-check']); "
            "print('numpy' in sys.modules, 'sympy' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip().endswith("False False"), out.stderr


def test_output_into_a_closed_pipe_is_not_an_error(tmp_path):
    # `matcalc derive ... | head -1`: more output than a pipe holds, reader gone
    lines = [f"h{i + 1} = tanh(W{i} h{i})" for i in range(400)] + ["J = sum(h400)"]
    program = tmp_path / "deep.mc"
    program.write_text("h0 : (n, 1)\n" + "\n".join(lines), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "derive", "-f", str(program), "--wrt", "W0",
                             "--format", "numpy", "--no-check"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "internal error" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("missing,install", [("lark", 'pip install "."'), ("starlette", 'pip install ".[web]"')])
def test_a_missing_dependency_is_named_not_called_a_bug(missing, install, monkeypatch, capsys):
    from matcalc.faces import cli

    def lacking(args):
        raise ModuleNotFoundError(f"No module named '{missing}'", name=missing)

    monkeypatch.setattr(cli, "cmd_derive", lacking)
    assert cli.main(["derive", "tr(A X)", "--wrt", "X"]) == 3
    err = capsys.readouterr().err
    assert f"the package {missing} is not installed" in err and install in err and "bug" not in err
