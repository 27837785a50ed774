"""Emitted code on numpy, jax and torch: value(), value_and_gradients() and
the derivative functions equal the corpus's own numpy oracle and central
finite differences of it, and every input is checked against its declared
shape.  The oracle, the sampler and the finite differences here are written
independently of the engine."""
import functools
import importlib.util

import numpy as np
import pytest

import matcalc as mc
from matcalc.outputs.codegen import compile_module

from conftest import ROOT, corpus_cases

BACKENDS = ["numpy", "jax", "torch"]


def available(backend):
    if backend == "numpy":
        return True
    return importlib.util.find_spec(backend) is not None


def need(backend):
    if not available(backend):
        pytest.skip(f"{backend} is not installed (pip install '.[{backend}]'); its emitted module is not run")
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)


def to_backend(backend, value):
    if backend == "torch":
        import torch

        return torch.as_tensor(value, dtype=torch.float64) if isinstance(value, np.ndarray) else value
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(value) if isinstance(value, np.ndarray) else value
    return value


def to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


# -- the oracle ---------------------------------------------------------------
def softmax(a):
    a = np.asarray(a, dtype=float)
    if 1 in a.shape:
        e = np.exp(a - a.max())
        return e / e.sum()
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ORACLE = {"np": np, "tr": np.trace, "det": np.linalg.det, "inv": np.linalg.inv, "norm": np.linalg.norm,
          "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "relu": lambda a: np.maximum(a, 0),
          "step": lambda a: (a > 0).astype(float), "softmax": softmax,
          "logsumexp": lambda a: np.log(np.sum(np.exp(a))), "CE": lambda y, p: -np.sum(y * np.log(p)),
          "kron": np.kron, "vec": lambda a: a.reshape(-1, 1, order="F"),
          "diag": lambda a: np.diagflat(a) if 1 in np.shape(a) else np.diagonal(a).reshape(-1, 1)}


def oracle(source, env):
    namespace = {**ORACLE, **{("lam" if k == "lambda" else k): v for k, v in env.items()}}
    if source.startswith("EXEC:"):
        exec(source[5:], namespace)  # the corpus's own oracle text
        return np.asarray(namespace["out"], dtype=float)
    return np.asarray(eval(source, namespace), dtype=float)  # the corpus's own oracle text


def draw(kind, rows, cols, rng):
    if kind == "onehot":
        if cols == 1 and rows > 1:  # a one-hot column
            return draw(kind, cols, rows, rng).T
        out = np.zeros((rows, cols))
        out[np.arange(rows), rng.integers(0, cols, rows)] = 1.0
        return out
    if kind == "binary":
        return rng.integers(0, 2, (rows, cols)).astype(float)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, (rows, cols))
    if kind in ("spd", "invertible", "symmetric"):
        a = rng.standard_normal((rows, cols))
        if kind == "symmetric":
            return a + a.T
        return a @ a.T + rows * np.eye(rows) if kind == "spd" else a + 3 * np.eye(rows)
    return rng.standard_normal((rows, cols))


def sample(result, case, rng):
    """Inputs at sizes 2, 3, 4, ... by dimension, each drawn by its kind."""
    typed = result.program.typed
    sizes = {}
    env = {}
    kinds = {**typed.kinds, **(case.get("draw") or {})}
    for name in result.program.variables:
        shape = typed.shapes[name]
        if shape == ():
            env[name] = float(rng.uniform(0.5, 1.5))
            continue
        dims = [d if isinstance(d, int) else sizes.setdefault(d, len(sizes) + 2) for d in shape]
        env[name] = draw(kinds.get(name, ""), *dims, rng)
    return env


def finite_difference(case, env, wrt, h=1e-6):
    base = dict(env)
    x = np.array(env[wrt], dtype=float) if not isinstance(env[wrt], float) else np.array([[env[wrt]]])
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        values = []
        for sign in (1, -1):
            moved = x.copy()
            moved[index] += sign * h
            base[wrt] = moved if not isinstance(env[wrt], float) else float(moved[0, 0])
            values.append(float(oracle(case["oracle"]["f"], base).sum()))
        grad[index] = (values[0] - values[1]) / (2 * h)
    return grad if not isinstance(env[wrt], float) else grad[0, 0]


@functools.lru_cache(maxsize=None)
def derive_case(f, wrt, where, order):
    return mc.derive(f, wrt=wrt, where=list(where), order=order)


def derive(case):
    jacobian = case["category"] == "jacobian"
    return derive_case(case["f"], case["wrt"], tuple(case["where"]), case["order"]), jacobian


# -- every corpus case on every backend ------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", corpus_cases())
def test_corpus_case_on_every_backend(case, backend):
    need(backend)
    result, jacobian = derive(case)
    module = compile_module(result.numpy(backend))
    env = sample(result, case, np.random.default_rng(7))
    inputs = {k: to_backend(backend, v) for k, v in env.items()}
    truth = oracle(case["oracle"]["f"], env)

    value = module.value(**inputs)
    np.testing.assert_allclose(to_numpy(value).reshape(truth.shape), truth, rtol=1e-9, atol=1e-12)
    expected = oracle(case["oracle"]["expected"], env)
    if case["order"] == 2:
        hessian = to_numpy(module.hessians(**inputs)[case["wrt"]])
        np.testing.assert_allclose(hessian, expected, rtol=1e-8, atol=1e-10)
    elif jacobian:
        np.testing.assert_allclose(to_numpy(module.jacobians(**inputs)[case["wrt"]]), expected, rtol=1e-8,
                                   atol=1e-10)
    if case["order"] == 1 and not jacobian:
        both_value, gradients = module.value_and_gradients(**inputs)
        np.testing.assert_allclose(to_numpy(both_value), to_numpy(value), rtol=1e-12)
        ours = to_numpy(gradients[case["wrt"]])
        np.testing.assert_allclose(ours, to_numpy(module.gradients(**inputs)[case["wrt"]]), rtol=1e-12)
        fd = finite_difference(case, env, case["wrt"])
        np.testing.assert_allclose(ours.reshape(np.shape(fd)), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_outputs_stay_on_the_backend(backend):
    need(backend)
    result = mc.Program((ROOT / "tests" / "data" / "cs224n.mc").read_text()) \
        .derive(wrt=["W", "U"])
    rng = np.random.default_rng(0)
    env = sample(result, {"draw": {"y": "onehot"}}, rng)
    inputs = {k: to_backend(backend, v) for k, v in env.items()}
    value, gradients = result.compile(backend, "value_and_gradients")(**inputs)
    reference_value, reference = result.compile(function="value_and_gradients")(**env)
    assert value == pytest.approx(reference_value, rel=1e-12)
    for name, g in gradients.items():
        if backend == "torch":
            import torch

            assert isinstance(g, torch.Tensor) and g.dtype == torch.float64
        np.testing.assert_allclose(to_numpy(g), reference[name], rtol=1e-12)


def test_jax_module_jits_and_agrees_with_jax_grad():
    need("jax")
    import jax
    import jax.numpy as jnp

    result = mc.derive("sum(log(1 + exp(-y .* (X w)))) + lambda ‖w‖^2", wrt="w",
                       where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)", "lambda: ()"])
    f = jax.jit(result.compile("jax", "value_and_gradients"))
    rng = np.random.default_rng(3)
    X, w, y = rng.standard_normal((7, 3)), rng.standard_normal((3, 1)), np.sign(rng.standard_normal((7, 1)))
    value, gradients = f(X=X, w=w, y=y, **{"lambda": 0.25})

    def loss(w):
        return jnp.sum(jnp.log1p(jnp.exp(-y * (X @ w)))) + 0.25 * jnp.sum(w * w)

    assert float(value) == pytest.approx(float(loss(w)), rel=1e-12)
    np.testing.assert_allclose(np.asarray(gradients["w"]), np.asarray(jax.grad(loss)(w)), rtol=1e-10)


def test_torch_module_agrees_with_autograd():
    need("torch")
    import torch

    result = mc.derive("CE(Y, softmax(X W + b)) / N", wrt="W,b",
                       where=["X: (N, D)", "W: (D, C)", "b: (1, C)", "Y: (N, C) onehot"])
    gen = torch.Generator().manual_seed(0)
    X, W, b = (torch.randn(*s, generator=gen, dtype=torch.float64) for s in ((6, 4), (4, 3), (1, 3)))
    Y = torch.nn.functional.one_hot(torch.randint(0, 3, (6,), generator=gen), 3).to(torch.float64)
    W.requires_grad_(True)
    b.requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(X @ W + b, Y.argmax(dim=1))
    loss.backward()
    loss = loss.detach()
    value, gradients = result.compile("torch", "value_and_gradients")(X=X.detach(), W=W.detach(),
                                                                        b=b.detach(), Y=Y)
    assert float(value) == pytest.approx(float(loss), rel=1e-12)
    torch.testing.assert_close(gradients["W"], W.grad)
    torch.testing.assert_close(gradients["b"], b.grad)


# -- inputs are checked against the declared shapes ---------------------------------
def quadratic():
    return mc.derive("x^T A x", wrt="x,A", where=["x: (n, 1)"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_one_d_array_is_a_column_vector(backend):
    need(backend)
    x, A = np.array([1.0, 2.0, 3.0]), np.arange(9.0).reshape(3, 3)
    out = quadratic().compile(backend)(x=to_backend(backend, x), A=to_backend(backend, A))
    np.testing.assert_allclose(to_numpy(out["A"]), np.outer(x, x))
    np.testing.assert_allclose(to_numpy(out["x"]), ((A + A.T) @ x).reshape(3, 1))


MISSHAPEN = {
    "x as a row": (dict(x=np.ones((1, 3)), A=np.eye(3)), r"x: expected shape \(n, 1\), got \(1, 3\)"),
    "A too small": (dict(x=np.ones((3, 1)), A=np.eye(2)), r"A: expected shape \(n, n\), got \(2, 2\), but n = 3"),
    "A not square": (dict(x=np.ones(3), A=np.ones((3, 4))), r"A: expected shape \(n, n\), got \(3, 4\)"),
    "A as 1-D": (dict(x=np.ones(3), A=np.ones(9)), r"A: expected a 2-D array .*1-D array stands only for a column"),
    "x as 3-D": (dict(x=np.ones((3, 1, 1)), A=np.eye(3)), r"x: expected a 2-D array"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", MISSHAPEN, ids=list(MISSHAPEN))
def test_misshapen_inputs_are_refused(case, backend):
    need(backend)
    inputs, message = MISSHAPEN[case]
    for function in ("gradients", "value", "value_and_gradients"):
        with pytest.raises(ValueError, match=message):
            quadratic().compile(backend, function)(**{k: to_backend(backend, v) for k, v in inputs.items()})


def test_labels_as_a_column_of_class_ids_are_refused():
    result = mc.derive("CE(Y, softmax(X W)) / N", wrt="W", where=["X: (N, D)", "W: (D, C)", "Y: (N, C) onehot"])
    grad = result.compile()
    X, W = np.ones((5, 4)), np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"Y: expected shape \(N, C\), got \(5, 1\), but C = 3 \(from W\)"):
        grad(X=X, W=W, Y=np.array([[0], [2], [1], [1], [0]]))


def test_a_one_d_row_vector_is_ambiguous_and_refused():
    grad = mc.derive("sum(x W)", wrt="W", where=["x: (1, D)", "W: (D, H)"]).compile()
    with pytest.raises(ValueError, match="1-D array stands only for a column vector"):
        grad(x=np.ones(3), W=np.ones((3, 2)))


@pytest.mark.parametrize("scalar", [0.5, np.float64(0.5), np.array(0.5), np.array([[0.5]])])
def test_a_scalar_may_be_a_float_or_a_size_one_array(scalar):
    value, gradients = mc.derive("lambda ‖w‖^2", wrt="w,lambda", where=["w: (n, 1)", "lambda: ()"]) \
        .compile(function="value_and_gradients")(w=np.array([1.0, 2.0]), **{"lambda": scalar})
    assert value == pytest.approx(2.5)
    assert gradients["lambda"] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="lambda: expected a scalar"):
        mc.derive("lambda ‖w‖^2", wrt="w", where=["w: (n, 1)", "lambda: ()"]).compile()(
            w=np.ones((2, 1)), **{"lambda": np.ones((2, 1))})


# -- which function compile() returns ----------------------------------------------
def test_compile_returns_the_hessian_of_a_second_order_result():
    result = mc.derive("x^T A x", wrt="x", where=["x: (n, 1)", "A: (n, n)"], order=2)
    assert result.main_function == "hessians"
    f = result.compile()
    A = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(f(x=np.ones(3), A=A)["x"], A + A.T)
    gradients = result.compile(function="gradients")
    np.testing.assert_allclose(gradients(x=np.ones(3), A=A)["x"], (A + A.T) @ np.ones((3, 1)))
    with pytest.raises(mc.MatcalcError, match="has no jacobians"):
        result.compile(function="jacobians")


def test_every_module_defines_value_and_gradients():
    source = mc.derive("tr(A X B)", wrt="X").numpy()
    namespace = compile_module(source).__dict__
    assert {"gradients", "value", "value_and_gradients", "SHAPES"} <= set(namespace)
    assert len(namespace["SHAPES"]["X"]) == 2 and all(isinstance(d, str) for d in namespace["SHAPES"]["X"])


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_modules_import_only_their_array_library(backend):
    source = mc.derive("CE(y, softmax(relu(x W + b1) U + b2))", wrt="W").numpy(backend)
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == [{"jax": "import jax.numpy as np", "torch": "import torch"}[backend]]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_cli_writes_the_module_for_the_backend(backend, tmp_path):
    import contextlib
    import io

    from matcalc.faces.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["derive", "tr(A X B)", "--wrt", "X", "--format", backend, "--no-check"])
    assert status in (0, None)
    assert out.getvalue().count("def value_and_gradients(**inputs):") == 1
