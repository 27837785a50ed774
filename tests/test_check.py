"""The numeric check: random inputs of each kind, and finite differences that
accept a right gradient and reject a wrong one."""
import numpy as np
import pytest
from test_evaluate import T, mm, neg, num, op, sym

from matcalc.language.errors import MatcalcError
from matcalc.language.expr import SCALAR, Ones
from matcalc.results.check import check_gradients, check_program
from matcalc.results.sampling import assign_sizes, sample_inputs

W_, x_ = sym("W", ("m", "n")), sym("x", ("n", 1))
SHAPES = {"W": ("m", "n"), "x": ("n", 1)}


def check(objective, gradients, shapes=SHAPES, kinds=None, wrt=("W",), dims=("m", "n"), **kw):
    return check_program(objective, gradients, shapes, kinds, wrt=list(wrt), dims=list(dims), **kw)


# f = sum(tanh(W x)); ∂f/∂W = (1 − tanh(Wx) ∘ tanh(Wx)) xᵀ
tanh_Wx = op("tanh", ("m", 1), mm(W_, x_, ("m", 1)))
SUM_TANH = op("sum", SCALAR, tanh_Wx)
TANH_GRADIENT = mm(op("add", ("m", 1), num(1), neg(op("had", ("m", 1), tanh_Wx, tanh_Wx))), T(x_), ("m", "n"))


# -- sampling -------------------------------------------------------------------
def test_sizes_are_distinct_primes_in_order():
    assert assign_sizes(["n", "m", "k"]) == {"n": 2, "m": 3, "k": 5}
    assert assign_sizes(["n", "m", "k"], avoid=(2,)) == {"n": 3, "m": 5, "k": 7}
    assert assign_sizes(["n", "m*n", "n"]) == {"n": 2}


def draw(kind, shape=("n", "n"), sizes=None, seed=0):
    sizes = sizes or {"n": 5, "N": 7, "C": 3}
    return sample_inputs({"V": shape}, {"V": kind}, sizes, np.random.default_rng(seed))["V"]


@pytest.mark.parametrize("seed", range(5))
def test_spd_draws_are_symmetric_with_positive_eigenvalues(seed):
    v = draw("spd", seed=seed)
    assert np.allclose(v, v.T) and np.linalg.eigvalsh(v).min() > 0.5


def test_symmetric_draws_are_symmetric():
    v = draw("symmetric")
    assert np.array_equal(v, v.T)


def test_invertible_draws_are_well_conditioned():
    assert max(np.linalg.cond(draw("invertible", seed=s)) for s in range(5)) < 3


def test_onehot_rows_and_columns():
    rows = draw("onehot", ("N", "C"))
    assert rows.shape == (7, 3) and np.all(rows.sum(axis=1) == 1) and set(np.unique(rows)) == {0.0, 1.0}
    column = draw("onehot", ("C", 1))
    assert column.shape == (3, 1) and column.sum() == 1


def test_binary_positive_and_distribution_draws():
    assert set(np.unique(draw("binary", ("N", "C")))) <= {0.0, 1.0}
    positive = draw("positive", ("N", "C"))
    assert positive.min() >= 0.5 and positive.max() <= 2.0
    assert np.allclose(draw("distribution", ("N", "C")).sum(axis=1), 1)
    assert np.isclose(draw("distribution", ("C", 1)).sum(), 1)


def test_scalars_are_floats_and_draws_follow_the_draw_hint():
    env = sample_inputs({"s": SCALAR, "x": ("n", 1)}, {}, {"n": 3}, np.random.default_rng(0),
                        draws={"x": "positive"})
    assert isinstance(env["s"], float) and env["x"].min() > 0


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(MatcalcError, match="kind 'weird'"):
        draw("weird")


# -- the check ------------------------------------------------------------------
def test_right_gradient_passes_at_two_size_assignments():
    result = check(SUM_TANH, {"W": TANH_GRADIENT})
    assert result.ok, result.details
    assert result.max_rel_error < 1e-7
    assert result.dims == {"m": 2, "n": 3}
    assert "m=2, n=3" in result.details and "m=3, n=5" in result.details


def test_transposed_gradient_fails():
    result = check(SUM_TANH, {"W": T(TANH_GRADIENT)})
    assert not result.ok and "shape" in result.details


def test_gradient_off_by_a_factor_of_two_fails():
    result = check(SUM_TANH, {"W": op("scale", ("m", "n"), num(2), TANH_GRADIENT)})
    assert not result.ok and result.max_rel_error > 0.1 and "mismatch" in result.details


def test_transposed_answer_fails_even_where_shapes_are_square():
    # tr(A X) wrt X (n×n): the gradient is Aᵀ; A itself has the right shape but is wrong
    a, X = sym("A", ("n", "n")), sym("X", ("n", "n"))
    shapes, f = {"A": ("n", "n"), "X": ("n", "n")}, op("tr", SCALAR, mm(a, X, ("n", "n")))
    assert check(f, {"X": T(a)}, shapes, wrt=["X"], dims=["n"]).ok
    assert not check(f, {"X": a}, shapes, wrt=["X"], dims=["n"]).ok


def test_gradient_wrt_a_symmetric_matrix_is_judged_by_its_symmetric_part():
    # logdet(X), X spd: inv(X)ᵀ passes; the "symmetric" form 2G − diag(G) does not
    X = sym("X", ("n", "n"))
    f, g = op("logdet", SCALAR, X), T(op("inv", ("n", "n"), X))
    two_g_minus_diag = op("add", ("n", "n"), op("scale", ("n", "n"), num(2), g),
                          neg(op("diag", ("n", "n"), op("diag", ("n", 1), g))))
    kinds = {"X": "spd"}
    assert check(f, {"X": g}, {"X": ("n", "n")}, kinds, ["X"], ["n"]).ok
    assert not check(f, {"X": two_g_minus_diag}, {"X": ("n", "n")}, kinds, ["X"], ["n"]).ok


def test_quadratic_form_wrt_symmetric_matrix():
    # xᵀ A x with A symmetric: x xᵀ
    a, xv = sym("A", ("n", "n")), x_
    f = mm(mm(T(xv), a, (1, "n")), xv, SCALAR)
    shapes = {"A": ("n", "n"), "x": ("n", 1)}
    result = check(f, {"A": mm(xv, T(xv), ("n", "n")), "x": op("scale", ("n", 1), num(2), mm(a, xv, ("n", 1)))},
                   shapes, {"A": "symmetric"}, ["A", "x"], ["n"])
    assert result.ok, result.details


def test_scalar_variable():
    lam = sym("lambda")
    f = op("scale", SCALAR, lam, op("sum", SCALAR, x_))
    assert check(f, {"lambda": op("sum", SCALAR, x_)}, {"lambda": SCALAR, "x": ("n", 1)},
                 wrt=["lambda"], dims=["n"]).ok


def test_bias_broadcast_over_a_batch_needs_the_sum():
    # sum(X W + b) wrt b (1×H): onesᵀ ones... = N times a row of ones
    X, W, b = sym("X", ("N", "D")), sym("W", ("D", "H")), sym("b", (1, "H"))
    f = op("sum", SCALAR, op("add", ("N", "H"), mm(X, W, ("N", "H")), b))
    shapes = {"X": ("N", "D"), "W": ("D", "H"), "b": (1, "H")}
    ones_NH = Ones(("N", "H"))
    right = mm(T(Ones(("N", 1))), ones_NH, (1, "H"))
    assert check(f, {"b": right}, shapes, wrt=["b"], dims=["N", "D", "H"]).ok
    assert not check(f, {"b": Ones((1, "H"))}, shapes, wrt=["b"], dims=["N", "D", "H"]).ok


def test_kink_at_the_first_draw_is_redrawn():
    # relu(x − c) with c the first draw of x (n = 2): every entry sits on the kink
    first = sample_inputs({"x": ("n", 1)}, {}, {"n": 2}, np.random.default_rng([0, 0, 0]))["x"]

    def shifted(x):
        return x - first if x.shape == first.shape else x

    def objective(env):
        return float(np.maximum(shifted(env["x"]), 0).sum())

    def gradients(env):
        return {"x": (shifted(env["x"]) > 0) * 1.0}

    result = check_gradients(objective, gradients, {"x": ("n", 1)}, {}, ["x"], ["n"])
    assert result.ok, result.details
    assert "redrew" in result.details


def test_wrong_gradient_of_a_relu_net_is_a_mismatch_not_a_kink():
    relu_Wx = op("relu", ("m", 1), mm(W_, x_, ("m", 1)))
    step_Wx = op("step", ("m", 1), mm(W_, x_, ("m", 1)))
    f = op("sum", SCALAR, relu_Wx)
    assert check(f, {"W": mm(step_Wx, T(x_), ("m", "n"))}).ok
    wrong = check(f, {"W": op("scale", ("m", "n"), num(2), mm(step_Wx, T(x_), ("m", "n")))})
    assert not wrong.ok and "mismatch" in wrong.details and "redrew" not in wrong.details


def test_log_of_a_negative_draw_is_redrawn_and_reported():
    f = op("sum", SCALAR, op("log", ("n", 1), x_))  # x is drawn normal: log of negatives at first
    result = check(f, {"x": op("div", ("n", 1), num(1), x_)}, {"x": ("n", 1)}, wrt=["x"], dims=["n"])
    assert result.ok, result.details
    assert "redrew" in result.details and "not finite" in result.details


def test_objective_never_finite_fails_without_raising():
    minus_x_squared = neg(op("had", ("n", 1), x_, x_))
    f = op("sum", SCALAR, op("log", ("n", 1), minus_x_squared))  # log(−x∘x): nan at every draw
    result = check(f, {"x": op("div", ("n", 1), num(2), x_)}, {"x": ("n", 1)}, wrt=["x"], dims=["n"])
    assert result.status == "inconclusive" and "log(−(x ∘ x)) is not finite" in result.details


def test_positive_draw_makes_the_same_check_pass():
    f = op("sum", SCALAR, op("log", ("n", 1), x_))
    result = check(f, {"x": op("div", ("n", 1), num(1), x_)}, {"x": ("n", 1)}, wrt=["x"], dims=["n"],
                   draws={"x": "positive"})
    assert result.ok, result.details


def test_evaluation_errors_and_missing_gradients_fail_without_raising():
    result = check(SUM_TANH, {"W": sym("nowhere", ("m", "n"))})
    assert not result.ok and "no value for nowhere" in result.details
    assert "no gradient for x" in check(SUM_TANH, {"W": TANH_GRADIENT}, wrt=["W", "x"]).details


def test_program_with_definitions_checks_every_gradient():
    # h = tanh(W x); J = sum(h ∘ h); δ1 = 2 h ∘ (1 − h ∘ h); ∂J/∂W = δ1 xᵀ, ∂J/∂x = Wᵀ δ1
    h = sym("h", ("m", 1))
    delta1 = op("had", ("m", 1), op("scale", ("m", 1), num(2), h),
                op("add", ("m", 1), num(1), neg(op("had", ("m", 1), h, h))))
    d = sym("delta1", ("m", 1))
    result = check_program(op("sum", SCALAR, op("had", ("m", 1), h, h)),
                           {"W": mm(d, T(x_), ("m", "n")), "x": mm(T(W_), d, ("n", 1))}, SHAPES,
                           assignments=[("h", tanh_Wx), ("delta1", delta1)])
    assert result.ok, result.details
    assert result.dims == {"m": 2, "n": 3}
