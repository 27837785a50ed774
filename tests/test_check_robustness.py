"""The numeric check at bad points (issue 8): a draw on a kink (relu, abs), at
a singular matrix or outside the domain of log is drawn again and the redraw
is reported; the check never raises, and never passes by luck: both size
assignments must agree, and a wrong answer is not redrawn away."""
import numpy as np

import matcalc as mc
from matcalc.results.check import check_gradients
from matcalc.results.sampling import sample_inputs

X = {"x": ("n", 1)}


def first_draw(shapes, sizes, kinds=None):
    """The inputs the check draws first (round 0, attempt 0, seed 0)."""
    return sample_inputs(shapes, kinds or {}, sizes, np.random.default_rng([0, 0, 0]))


def test_abs_at_a_kink_is_redrawn_and_reported():
    # abs(x − c) has its kink within the step of the first draw (central differences
    # exactly at a kink of abs see no jump: symmetric)
    c = first_draw(X, {"n": 2})["x"] + 1e-7

    def shifted(x):
        return x - c if x.shape == c.shape else x

    result = check_gradients(lambda env: float(np.abs(shifted(env["x"])).sum()),
                             lambda env: {"x": np.sign(shifted(env["x"]))}, X, {}, ["x"], ["n"])
    assert result.ok and "redrew the inputs at sizes n=2 (attempt 2)" in result.details


def test_singular_matrix_is_redrawn_and_reported():
    shapes = {"A": ("n", "n")}
    a0 = first_draw(shapes, {"n": 2})["A"]
    u, s, vt = np.linalg.svd(a0)
    singular = a0 - s[-1] * np.outer(u[:, -1], vt[-1])  # A − this is singular at the first draw only

    def shifted(a):
        return a - singular if a.shape == singular.shape else a

    def objective(env):
        return float(np.log(abs(np.linalg.det(shifted(env["A"])))))

    def gradients(env):
        return {"A": np.linalg.inv(shifted(env["A"])).T}

    result = check_gradients(objective, gradients, shapes, {}, ["A"], ["n"])
    assert result.ok, result.details
    assert "redrew" in result.details and ("singular" in result.details or "not finite" in result.details)


def test_log_of_a_non_positive_value_is_redrawn_and_reported():
    r = mc.derive("sum(log(x + 0.5))", wrt="x")  # x + 0.5 ≤ 0 at the first draw of n = 3
    check = r.check()
    assert check.ok and "redrew" in check.details and "not finite" in check.details


def test_a_log_argument_that_is_an_input_is_drawn_positive():
    check = mc.derive("sum(log(x)) + sum(sqrt(yᵀ))", wrt="x,y").check()
    assert check.ok and "redrew" not in check.details


def test_a_point_that_is_never_usable_fails_clearly():
    check = mc.derive("sum(log(−(x ∘ x) − 1))", wrt="x").check()
    assert check.status == "inconclusive" and "no valid point found" in check.details


def test_both_size_assignments_must_agree():
    # right at the first sizes (n = 2), wrong at the second (n = 3): no pass by luck
    def gradients(env):
        x = env["x"]
        return {"x": 2 * x if x.shape[0] == 2 else 2 * x + 1}

    result = check_gradients(lambda env: float(np.sum(env["x"] ** 2)), gradients, X, {}, ["x"], ["n"])
    assert not result.ok and "mismatch at sizes n=3" in result.details and "ok at sizes n=2" in result.details


def test_a_wrong_answer_at_a_kink_is_not_redrawn_away():
    # relu's kink at every draw cannot hide a factor of 2: the mismatch shows at a smooth point
    result = mc.derive("sum(relu(x))", wrt="x").check()
    assert result.ok
    wrong = check_gradients(lambda env: float(np.maximum(env["x"], 0).sum()),
                            lambda env: {"x": 2.0 * (env["x"] > 0)}, X, {}, ["x"], ["n"])
    assert not wrong.ok and "mismatch" in wrong.details


def test_the_check_never_raises():
    def broken(env):
        raise TypeError("a bug in a closed form")

    for gradients in (broken, lambda env: {"x": "text"}, lambda env: {"x": np.ones((7, 7))}, lambda env: {}):
        result = check_gradients(lambda env: float(np.sum(env["x"])), gradients, X, {}, ["x"], ["n"])
        assert not result.ok and result.details
    result = check_gradients(broken, lambda env: {"x": env["x"]}, X, {}, ["x"], ["n"])
    assert not result.ok and "TypeError" in result.details


def test_non_finite_gradient_is_redrawn_then_fails_clearly():
    result = check_gradients(lambda env: float(np.sum(env["x"])), lambda env: {"x": np.full_like(env["x"], np.nan)},
                             X, {}, ["x"], ["n"])
    assert result.status == "inconclusive" and "gradient for x is not finite" in result.details
