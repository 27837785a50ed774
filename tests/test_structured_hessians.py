"""Hessians with respect to matrices declared symmetric or spd (issue 12):
the Hessian of vec X, equal to finite differences entry by entry (a symmetric
X perturbed off the symmetric matrices), to ``hvp()``, and symmetric where
printed so.  Oracles are plain numpy: each objective written again with numpy
and differentiated twice by central differences, independent of the engine."""
import numpy as np
import pytest

import matcalc as mc
from matcalc.outputs.codegen import compile_module

from conftest import corpus_cases


def module(result):
    """The generated numpy module: ``hessians``, ``hvp``, ``gradients``."""
    return compile_module(result.numpy())


def vec(a):
    return np.asarray(a, dtype=float).reshape(-1, order="F")


def unvec(v, shape):
    return v.reshape(shape, order="F")


def numeric_hessian(f, x, y=None, h=1e-4):
    """∂²f/∂vec(x)∂vec(y) (y = x by default) by central differences of f."""
    y_is_x = y is None
    y = x if y_is_x else y
    n, m = x.size, y.size
    out = np.zeros((n, m))
    def at(ei, ej, si, sj):
        if y_is_x:
            return f(x + si * ei + sj * ej)
        return f(x + si * ei, y + sj * ej)

    for i in range(n):
        ei = unvec(np.eye(n)[i], x.shape) * h
        for j in range(m):
            ej = unvec(np.eye(m)[j], y.shape) * h
            out[i, j] = (at(ei, ej, 1, 1) - at(ei, ej, 1, -1) - at(ei, ej, -1, 1) + at(ei, ej, -1, -1)) / (4 * h * h)
    return out


def spd(n, rng):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * rng.uniform(1, 2, n)) @ q.T


def symmetric(n, rng):
    a = rng.standard_normal((n, n))
    return (a + a.T) / 2


N = 3
# (objective, declaration of S, other inputs (name -> shape), numpy objective of (S, inputs))
CASES = [
    ("tr(A S B S)", "S: (n, n) symmetric", {"A": (N, N), "B": (N, N)},
     lambda S, v: np.trace(v["A"] @ S @ v["B"] @ S)),
    ("logdet(S)", "S: (n, n) spd", {}, lambda S, v: np.linalg.slogdet(S)[1]),
    ("a^T S S b", "S: (n, n) symmetric", {"a": (N, 1), "b": (N, 1)},
     lambda S, v: (v["a"].T @ S @ S @ v["b"]).item()),
    ("1/2 logdet(S) + 1/2 (x - mu)^T inv(S) (x - mu)", "S: (n, n) spd", {"x": (N, 1), "mu": (N, 1)},
     lambda S, v: 0.5 * np.linalg.slogdet(S)[1]
     + 0.5 * ((v["x"] - v["mu"]).T @ np.linalg.solve(S, v["x"] - v["mu"])).item()),
    ("tr(A S B S)", "S: (n, n) spd", {"A": (N, N), "B": (N, N)},
     lambda S, v: np.trace(v["A"] @ S @ v["B"] @ S)),
]


def inputs(decl, others, seed):
    rng = np.random.default_rng(seed)
    s = spd(N, rng) if "spd" in decl else symmetric(N, rng)
    return s, {name: rng.standard_normal(shape) for name, shape in others.items()}


@pytest.mark.parametrize("objective, decl, others, oracle", CASES, ids=[c[0] + " " + c[1] for c in CASES])
def test_structured_hessian_is_the_hessian_of_vec_S(objective, decl, others, oracle):
    extra = [f"{n}: ({r}, {c})".replace(str(N), "n") for n, (r, c) in others.items()]
    result = mc.derive(objective, wrt="S", where=[decl, *extra], order=2)
    check = result.check()
    assert check.status == "ok", check.details
    (d,) = result.derivatives
    hessians = module(result).hessians
    hvp = module(mc.derive(objective, wrt="S", where=[decl, *extra], hvp="V")).hvp
    for seed in (1, 2):
        s, v = inputs(decl, others, seed)
        h = hessians(S=s, **v)["S"]
        expected = numeric_hessian(lambda x, v=v: oracle(x, v), s)
        np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(expected).max()))
        assert d.symmetric and np.allclose(h, h.T, atol=1e-9)
        direction = np.random.default_rng(seed + 10).standard_normal((N, N))  # not symmetric
        np.testing.assert_allclose(vec(hvp(S=s, V=direction, **v)["S"]), h @ vec(direction), rtol=1e-9,
                                   atol=1e-9)


def test_mixed_second_derivative_with_a_symmetric_matrix():
    # ∂²/∂S∂A of tr(A S B S): the Jacobian in vec A of the gradient in vec S
    result = mc.derive("tr(A S B S)", wrt="S", wrt2="A", where=["S: (n, n) symmetric", "A: (n, n)",
                                                                "B: (n, n)"])
    assert result.check().status == "ok"
    (d,) = result.derivatives
    assert not d.symmetric
    hessians = module(result).hessians
    rng = np.random.default_rng(3)
    s, a, b = symmetric(N, rng), rng.standard_normal((N, N)), rng.standard_normal((N, N))
    expected = numeric_hessian(lambda S, A: np.trace(A @ S @ b @ S), s, a)
    np.testing.assert_allclose(hessians(S=s, A=a, B=b)["S"], expected, rtol=1e-6, atol=1e-6)


def test_the_old_wrong_hessian_fails_the_check():
    # A ⊗ Bᵀ + B ⊗ Aᵀ (S = Sᵀ used inside the differential) is what the check must reject
    from matcalc.results.check import CheckResult
    from matcalc.results.check_higher import check_derivatives

    result = mc.derive("tr(A S B S)", wrt="S", order=2, where=["S: (n, n) symmetric"])
    (d,) = result.derivatives
    wrong = mc.Program(where=["S: (n, n) symmetric", "A: (n, n)", "B: (n, n)"],
                       objective="kron(A, B^T) + kron(B, A^T)").objective
    d.value = wrong
    check = check_derivatives(result, [d])
    assert isinstance(check, CheckResult) and check.status == "failed", check.details


def test_gradient_wrt_a_symmetric_matrix_says_its_convention():
    text = mc.derive("logdet(S)", wrt="S", where=["S: (n, n) spd"]).__repr__()
    assert ("entries of S treated as independent; on symmetric S the gradient along symmetric "
            "directions is sym(G)") in text
    assert "treated as independent" not in repr(mc.derive("logdet(X)", wrt="X"))


# numpy oracles of the corpus's Hessian cases, by id (a new case needs one here)
CORPUS_ORACLES = {
    "hess-xAx": lambda x, v: (x.T @ v["A"] @ x).item(),
    "hess-lsq": lambda x, v: float(np.sum((v["A"] @ x - v["b"]) ** 2)),
}


@pytest.mark.parametrize("case", corpus_cases(lambda c: c["order"] == 2))
def test_corpus_hessians_match_numpy_second_differences(case):
    assert case["id"] in CORPUS_ORACLES, "write a numpy oracle for this corpus Hessian"
    result = mc.derive(case["f"], wrt=case["wrt"], where=case["where"], order=2)
    assert result.check().status == "ok"
    hessians = module(result).hessians
    hvp = module(mc.derive(case["f"], wrt=case["wrt"], where=case["where"], hvp="V")).hvp
    rng = np.random.default_rng(5)
    sizes = {"n": 3, "m": 5}
    shapes = {}
    for line in case["where"]:
        name, shape = line.split(":")
        shapes[name.strip()] = tuple(sizes.get(d.strip()) or int(d) for d in shape.strip(" ()").split(","))
    env = {n: rng.standard_normal(s) for n, s in shapes.items()}
    wrt = case["wrt"]
    h = hessians(**env)[wrt]
    expected = numeric_hessian(lambda x: CORPUS_ORACLES[case["id"]](x, env), env[wrt])
    np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(expected).max()))
    direction = rng.standard_normal(env[wrt].shape)
    np.testing.assert_allclose(vec(hvp(**env, V=direction)[wrt]), h @ vec(direction), rtol=1e-9, atol=1e-9)
