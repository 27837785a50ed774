"""SymPy export: the exported gradient of each cookbook identity evaluates,
at small sizes, to matcalc's own numbers; the printed script rebuilds the
same expressions; what SymPy cannot say is a clear error."""
import subprocess
import sys

import numpy as np
import pytest

import matcalc as mc
from matcalc.results.sampling import assign_sizes, sample_inputs

from conftest import ROOT

sympy = pytest.importorskip("sympy")

COOKBOOK = [
    # (identity, objective, variable, declarations)
    ("tr(A X B) -> Aᵀ Bᵀ", "tr(A X B)", "X", []),
    ("xᵀ A x -> (A + Aᵀ) x", "x^T A x", "x", ["x: (n, 1)"]),
    ("log det X -> X⁻ᵀ", "log(det(X))", "X", ["X: (n, n) spd"]),
    ("logdet X -> X⁻ᵀ", "logdet(X)", "X", ["X: (n, n) spd"]),
    ("det X -> det(X) X⁻ᵀ", "det(X)", "X", []),
    ("aᵀ X⁻¹ b -> −X⁻ᵀ a bᵀ X⁻ᵀ", "a^T inv(X) b", "X", ["a: (n, 1)", "b: (n, 1)"]),
    ("‖X w − y‖² -> 2 Xᵀ (X w − y)", "||X w - y||^2 + lambda ||w||^2", "w", ["w: (n, 1)"]),
    ("‖x‖ -> x / ‖x‖", "||x||", "x", ["x: (n, 1)"]),
    ("row bias: onesᵀ δ", "||X W + b - T||_F^2", "b", ["X: (N, D)", "b: (1, H)"]),
    ("scalar factor: λ", "lambda x^T A x", "lambda", ["x: (n, 1)"]),
    ("elementwise: tanh", "sum(tanh(W x))", "W", ["x: (n, 1)"]),
    ("elementwise division: ones ./ x", "sum(log(x))", "x", ["x: (n, 1)"]),
]


def numeric(expr, export, env, sizes):
    """``expr`` evaluated with the inputs of ``env`` (explicit matrices) and
    the sizes of ``sizes``."""
    values = {}
    for name, symbol in export.symbols.items():
        matcalc_name = "lambda" if name == "lamda" else name
        if name in sizes:
            values[symbol] = sympy.Integer(sizes[name])
        elif matcalc_name in env:
            v = np.asarray(env[matcalc_name], dtype=float)
            values[symbol] = sympy.ImmutableMatrix(v) if isinstance(symbol, sympy.MatrixSymbol) else v.item()
    out = expr.xreplace(values).doit()
    if isinstance(out, sympy.MatrixExpr):
        out = out.as_explicit()
    return np.array(sympy.N(out), dtype=float)


@pytest.mark.parametrize("identity, objective, wrt, where", COOKBOOK, ids=[c[0] for c in COOKBOOK])
def test_exported_gradient_has_matcalcs_numbers(identity, objective, wrt, where):
    result = mc.derive(objective, wrt=wrt, where=where)
    export = result.to_sympy()
    typed = result.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in result.program.variables}
    sizes = assign_sizes(typed.dims)
    env = sample_inputs(variables, typed.kinds, sizes, np.random.default_rng(7))
    ours = np.asarray(result.evaluator()[1](env)[wrt], dtype=float)
    theirs = numeric(export.inlined()[wrt], export, env, sizes)
    np.testing.assert_allclose(theirs.reshape(ours.shape), ours, rtol=1e-9, atol=1e-12)


def test_tr_AXB_is_the_sympy_product_of_transposes():
    export = mc.derive("tr(A X B)", wrt="X").to_sympy()
    A, B = export.symbols["A"], export.symbols["B"]
    assert export.gradients["X"] == A.T * B.T
    assert all(isinstance(export.symbols[d], sympy.Symbol) and export.symbols[d].is_integer
               for d in ("n", "m", "k"))


def test_printed_script_rebuilds_the_expressions():
    result = mc.Program((ROOT / "tests" / "data" / "two_layer_batch.mc").read_text()).derive("W2,b2")
    export = result.to_sympy()
    namespace: dict = {}
    exec(export.source(), namespace)  # our own output, not user text
    assert namespace["delta1"] == export.intermediates["delta1"]
    # the script substitutes δ1 as it goes; inlined() does it afterwards
    assert namespace["dL_dW2"].doit() == export.inlined()["W2"].doit()
    assert namespace["dL_db2"].doit() == export.inlined()["b2"].doit()


@pytest.mark.parametrize("objective, wrt, missing", [
    ("CE(y, softmax(relu(x W + b1) U + b2))", "W", "relu"),  # δ1 = softmax(relu(...) ...) − y
    ("sum(sigmoid(W x))", "W", "sigmoid"),
    ("logsumexp(x)", "x", "softmax"),
])
def test_what_sympy_cannot_say_is_a_clear_error(objective, wrt, missing):
    result = mc.derive(objective, wrt=wrt)
    with pytest.raises(mc.MatcalcError, match=rf"no {missing};.*left out: softmax"):
        result.to_sympy()


def test_the_error_names_the_line_it_sits_in():
    result = mc.Program((ROOT / "tests" / "data" / "cs224n.mc").read_text()).derive("W")
    with pytest.raises(mc.MatcalcError, match=r"no step;.*, in δ2 = δ1 Uᵀ ∘ step\(z\)$"):
        result.to_sympy()


def test_cli_format_sympy_and_import_cost():
    out = subprocess.run([sys.executable, "-m", "matcalc", "derive", "tr(A X B)", "--wrt", "X", "--format", "sympy"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "dJ_dX = A.T*B.T" in out.stdout
    # matcalc itself never loads sympy: only the export does
    probe = ("import sys, matcalc; r = matcalc.derive('tr(A X B)', wrt='X'); r.latex(); "
             "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
