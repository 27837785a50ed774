"""The numpy module: it computes what the evaluator computes, reads awkward
names, shares repeated work and stays fast on a two-layer net."""
import re

import numpy as np
import pytest
from test_evaluate import CASES, DIMS, ENV, T, mm, neg, num, op, sym

from matcalc.language import functions
from matcalc.language.evaluate import evaluate_program
from matcalc.language.expr import SCALAR, DimSize, Identity, Num, Ones, Zero
from matcalc.outputs.codegen import compile_module, emit_module, python_name


def run(assignments, outputs, inputs, env, sizes=None, **kw):
    source = emit_module(assignments, outputs, inputs, **kw)
    return compile_module(source).gradients(**env), evaluate_program(assignments, outputs, env, sizes), source


def assert_same(generated, evaluated):
    assert generated.keys() == evaluated.keys()
    for name, value in evaluated.items():
        assert np.shape(generated[name]) == np.shape(value), name
        np.testing.assert_allclose(generated[name], value, rtol=1e-12, atol=1e-12, err_msg=name)
        if np.shape(value) == ():
            assert isinstance(generated[name], float), name


# -- a two-layer net over a batch (CS231n): the generated code is the backprop ----
N, D, H, C = "N", "D", "H", "C"
X, W, b1, U, b2, Y = (sym("X", (N, D)), sym("W", (D, H)), sym("b1", (1, H)), sym("U", (H, C)),
                      sym("b2", (1, C)), sym("Y", (N, C)))
z, h, yhat, delta1, delta2 = (sym("z", (N, H)), sym("h", (N, H)), sym("yhat", (N, C)),
                              sym("delta1", (N, C)), sym("delta2", (N, H)))
ones_T = T(Ones((N, 1)))
NET = [
    ("z", op("add", (N, H), mm(X, W, (N, H)), b1)),
    ("h", op("relu", (N, H), z)),
    ("yhat", op("softmax", (N, C), op("add", (N, C), mm(h, U, (N, C)), b2))),
    ("delta1", op("div", (N, C), op("add", (N, C), yhat, neg(Y)), DimSize("N"))),
    ("delta2", op("had", (N, H), mm(delta1, T(U), (N, H)), op("step", (N, H), z))),
]
NET_GRADIENTS = {"W": mm(T(X), delta2, (D, H)), "b1": mm(ones_T, delta2, (1, H)),
                 "U": mm(T(h), delta1, (H, C)), "b2": mm(ones_T, delta1, (1, C))}
NET_INPUTS = ["X", "W", "b1", "U", "b2", "Y"]


def net_inputs(n=64, d=50, hidden=40, c=10, seed=0):
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((n, d)), "W": rng.standard_normal((d, hidden)) / 7,
            "b1": rng.standard_normal((1, hidden)), "U": rng.standard_normal((hidden, c)) / 6,
            "b2": rng.standard_normal((1, c)), "Y": np.eye(c)[rng.integers(c, size=n)]}


def hand_written_backprop(X, W, b1, U, b2, Y):
    z = X @ W + b1
    h = np.maximum(z, 0)
    scores = h @ U + b2
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    d1 = (e / e.sum(axis=1, keepdims=True) - Y) / X.shape[0]
    d2 = d1 @ U.T * (z > 0)
    return {"W": X.T @ d2, "b1": d2.sum(axis=0, keepdims=True), "U": h.T @ d1, "b2": d1.sum(axis=0, keepdims=True)}


def test_two_layer_net_module_equals_the_evaluator_and_hand_written_backprop():
    env = net_inputs()
    generated, evaluated, _ = run(NET, NET_GRADIENTS, NET_INPUTS, env)
    assert_same(generated, evaluated)
    for name, value in hand_written_backprop(**env).items():
        np.testing.assert_allclose(generated[name], value, rtol=1e-12, atol=1e-14)


def test_two_layer_net_module_sums_instead_of_multiplying_by_ones():
    source = emit_module(NET, NET_GRADIENTS, NET_INPUTS)
    assert "np.ones" not in source and "np.eye" not in source
    assert "delta2.sum(axis=0, keepdims=True)" in source
    assert "N = X.shape[0]" in source
    assert re.search(r"^import numpy as np$", source, re.M) and source.count("import") == 1


# -- every evaluator case, as a module ------------------------------------------
@pytest.mark.parametrize("name,tree,oracle", CASES, ids=[c[0] for c in CASES])
def test_module_agrees_with_the_evaluator(name, tree, oracle):
    inputs = sorted({n.name for n in tree.walk() if n.__class__.__name__ == "Sym"} | {"A", "B", "x"})
    env = {k: ENV[k] for k in inputs}
    shapes = {"A": ("m", "n"), "B": ("n", "k"), "x": ("n", 1)}
    generated, evaluated, source = run([], {"value": tree}, inputs, env, DIMS, shapes=shapes)
    assert_same(generated, evaluated)


def test_constants_need_sizes_from_the_inputs():
    x = sym("x", ("n", 1))
    outputs = {"x": op("add", ("n", 1), mm(Identity(("n", "n")), x, ("n", 1)), Ones(("n", 1))),
               "s": op("add", SCALAR, DimSize("n"), Zero(SCALAR))}
    env = {"x": np.arange(3.0).reshape(3, 1), "s": 1.0}
    generated, evaluated, source = run([], outputs, ["x", "s"], env)
    assert_same(generated, evaluated)
    assert "n = x.shape[0]" in source


def test_dimension_sources_may_be_given():
    x = sym("x", ("n", 1))
    source = emit_module([], {"x": op("scale", ("n", 1), DimSize("n"), x)}, ["x"], dims={"n": ("x", 0)})
    assert "n = x.shape[0]" in source


def test_scalar_powers_and_inverses_stay_finite_or_nan_without_raising():
    s = sym("s")
    outputs = {"a": op("pow", SCALAR, s, num(-1)), "b": op("epow", SCALAR, s, Num(num(1).value / 2)),
               "c": op("inv", SCALAR, s)}
    with np.errstate(all="ignore"):
        generated, evaluated, _ = run([], outputs, ["s"], {"s": -4.0})
    assert generated["a"] == -0.25 and np.isnan(generated["b"]) and generated["c"] == -0.25
    assert np.isnan(evaluated["b"])


# -- names -----------------------------------------------------------------------
def test_keyword_lambda_is_read_by_its_key():
    # J = λ sum(x ∘ x): ∂J/∂x = 2 λ x, ∂J/∂λ = sum(x ∘ x)
    lam, x = sym("lambda"), sym("x", ("n", 1))
    outputs = {"x": op("scale", ("n", 1), op("scale", SCALAR, num(2), lam), x),
               "lambda": op("sum", SCALAR, op("had", ("n", 1), x, x))}
    env = {"lambda": 0.5, "x": np.array([[1.0], [2.0], [3.0]])}
    generated, evaluated, source = run([], outputs, ["lambda", "x"], env)
    assert_same(generated, evaluated)
    assert ('lambda_ = _conform("lambda", np.asarray(inputs["lambda"], dtype=float), SHAPES["lambda"], _sizes)'
            '.item()') in source
    assert generated["lambda"] == 14.0 and np.allclose(generated["x"], env["x"])


def test_unicode_and_colliding_names():
    taken = set()
    assert [python_name(n, taken) for n in ["θ", "ŷ", "ℓ", "l", "np", "sum", "softmax", "_t1"]] == \
        ["θ", "ŷ", "l", "l_", "np_", "sum_", "softmax_", "v_t1"]
    theta, yhat = sym("θ", (1, "k")), sym("ŷ", (1, "k"))
    outputs = {"θ": op("add", (1, "k"), yhat, neg(theta))}
    env = {"θ": np.ones((1, 2)), "ŷ": np.full((1, 2), 3.0)}
    generated, evaluated, _ = run([("ŷ", op("softmax", (1, "k"), theta))], outputs, ["θ"], {"θ": env["θ"]})
    assert_same(generated, evaluated)


def test_missing_input_is_a_clear_type_error():
    gradients = compile_module(emit_module(NET, NET_GRADIENTS, NET_INPUTS)).gradients
    with pytest.raises(TypeError, match="needs the inputs Y"):
        gradients(**{k: v for k, v in net_inputs().items() if k != "Y"})


# -- sharing ---------------------------------------------------------------------
def temporaries(source):
    return re.findall(r"^\s*(_t\d+) = ", source, re.M)


def test_repeated_subtree_is_computed_once():
    # (1 − tanh(W x) ∘ tanh(W x)) xᵀ with the two tanh(W x) built separately
    x = sym("x", ("n", 1))

    def tanh_Wx():
        return op("tanh", ("m", 1), mm(sym("W", ("m", "n")), sym("x", ("n", 1)), ("m", 1)))

    grad = mm(op("add", ("m", 1), num(1), neg(op("had", ("m", 1), tanh_Wx(), tanh_Wx()))), T(x), ("m", "n"))
    rng = np.random.default_rng(0)
    env = {"W": rng.standard_normal((2, 3)), "x": rng.standard_normal((3, 1))}
    generated, evaluated, source = run([], {"W": grad}, ["W", "x"], env)
    assert_same(generated, evaluated)
    assert temporaries(source) == ["_t1"] and source.count("np.tanh") == 1
    assert "_t1 = np.tanh(W @ x)" in source


def test_subtree_shared_between_a_definition_and_a_gradient_uses_one_name():
    a, x = sym("A", ("m", "n")), sym("x", ("n", 1))
    Ax = mm(a, x, ("m", 1))
    outputs = {"x": mm(T(a), op("exp", ("m", 1), Ax), ("n", 1))}
    source = emit_module([("u", op("exp", ("m", 1), Ax))], outputs, ["A", "x"])
    assert source.count("np.exp") == 1 and "u = np.exp(A @ x)" in source and "A.T @ u" in source


def test_deep_expression_compiles_and_runs():
    x = sym("x", ("n", 1))
    tree = x
    for i in range(2000):
        tree = op("add", ("n", 1), tree, op("scale", ("n", 1), num(i % 3), x))
    env = {"x": np.array([[1.0], [-2.0]])}
    generated, evaluated, source = run([], {"x": tree}, ["x"], env)
    assert_same(generated, evaluated)
    assert np.allclose(generated["x"], (1 + sum(i % 3 for i in range(2000))) * env["x"])


def test_registered_function_uses_its_numpy_spelling_and_helpers(monkeypatch):
    monkeypatch.setitem(functions.FUNCTIONS, "swish",
                        functions.Function("swish", 1, "elementwise", "a0 * sigmoid(a0)"))
    a = sym("A", ("m", "n"))
    tree = op("swish", ("m", "n"), op("add", ("m", "n"), a, num(1)))
    env = {"A": np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])}
    generated, evaluated, source = run([], {"A": tree}, ["A"], env)
    assert_same(generated, evaluated)
    assert "def sigmoid(" in source and "(A + 1.0) * sigmoid(A + 1.0)" in source
