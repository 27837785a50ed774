"""The vocabulary users bring from numpy, MATLAB, SymPy and the Matrix
Cookbook (issue 11): every word is read as meant — its gradient equals
finite differences of a numpy oracle written here — or refused with exit 2
and what to write instead; no word is split into letters."""
import subprocess
import sys

import numpy as np
import pytest

import matcalc as mc
from matcalc.language.errors import MatcalcError, NotDifferentiableError, UnknownFunctionError

from vocabulary_oracle import assert_matches_oracle, finite_difference

V = ["x: (3, 1)", "a: (3, 1)", "z: (3, 1)", "W: (2, 3)", "X: (3, 3)", "A: (3, 3)", "k: () integer",
     "p: ()"]


def relu(u):
    return np.maximum(u, 0)


def sigmoid(u):
    return 1 / (1 + np.exp(-u))


# (objective, wrt, oracle over the declared names, names drawn with signs)
WORDS = [
    ("sum(ln(x))", "x", lambda x, **_: np.log(x).sum(), ()),
    ("ln(det(X))", "X", lambda X, **_: np.log(np.linalg.det(X)), ()),
    ("sum(tan(W x))", "W", lambda W, x, **_: np.tan(W @ x).sum(), ()),
    ("sum(arctan(W x))", "W", lambda W, x, **_: np.arctan(W @ x).sum(), ()),
    ("sum(atan(W x))", "x", lambda W, x, **_: np.arctan(W @ x).sum(), ()),
    ("sum(arcsin(x))", "x", lambda x, **_: np.arcsin(x).sum(), ()),
    ("sum(arccos(x))", "x", lambda x, **_: np.arccos(x).sum(), ()),
    ("sum(sinh(W x))", "W", lambda W, x, **_: np.sinh(W @ x).sum(), ()),
    ("sum(cosh(W x))", "W", lambda W, x, **_: np.cosh(W @ x).sum(), ()),
    ("sum(log1p(x))", "x", lambda x, **_: np.log1p(x).sum(), ()),
    ("sum(expm1(W x))", "x", lambda W, x, **_: np.expm1(W @ x).sum(), ()),
    ("sum(square(W x))", "W", lambda W, x, **_: ((W @ x) ** 2).sum(), ()),
    ("sum(softsign(W x))", "W", lambda W, x, **_: (W @ x / (1 + np.abs(W @ x))).sum(), ("x",)),
    ("sum(logistic(W x))", "W", lambda W, x, **_: sigmoid(W @ x).sum(), ("x",)),
    ("mean(X)", "X", lambda X, **_: X.mean(), ()),
    ("mean(W x)", "W", lambda W, x, **_: (W @ x).mean(), ()),
    ("var(x)", "x", lambda x, **_: x.var(), ()),
    ("trace(A X)", "X", lambda A, X, **_: np.trace(A @ X), ()),
    ("sum(transpose(A) x)", "A", lambda A, x, **_: (A.T @ x).sum(), ()),
    ("sum(inverse(X))", "X", lambda X, **_: np.linalg.inv(X).sum(), ()),
    ("dot(a, x)", "x", lambda a, x, **_: (a.T @ x).item(), ()),
    ("dot(a, W' W x)", "W", lambda a, W, x, **_: (a.T @ W.T @ W @ x).item(), ()),
    ("tr(eye(3) X)", "X", lambda X, **_: np.trace(X), ()),
    ("x' eye x", "x", lambda x, **_: (x.T @ x).item(), ()),
    ("norm1(x)", "x", lambda x, **_: np.abs(x).sum(), ("x",)),
    ("‖x‖_1", "x", lambda x, **_: np.abs(x).sum(), ("x",)),
    ("norm(x, 1)", "x", lambda x, **_: np.abs(x).sum(), ("x",)),
    ("norm2(x)^2", "x", lambda x, **_: (x ** 2).sum(), ("x",)),
    ("norm(W x, 2)", "W", lambda W, x, **_: np.linalg.norm(W @ x), ("x",)),
    ("‖X‖_F", "X", lambda X, **_: np.linalg.norm(X), ()),
    ("norm(X, 'fro')", "X", lambda X, **_: np.linalg.norm(X), ()),
    ("sum(max(0, z))", "z", lambda z, **_: relu(z).sum(), ("z",)),
    ("sum(max(z, 0))", "z", lambda z, **_: relu(z).sum(), ("z",)),
    ("sum(maximum(z, 0))", "z", lambda z, **_: relu(z).sum(), ("z",)),
    ("sum(hinge(W x))", "W", lambda W, x, **_: relu(1 - W @ x).sum(), ("x", "W")),
    ("x' A x", "x", lambda x, A, **_: (x.T @ A @ x).item(), ()),
    ("x.T A x", "A", lambda x, A, **_: (x.T @ A @ x).item(), ()),
    ("e^(x' x)", "x", lambda x, **_: np.exp((x.T @ x).item()), ()),
    ("sum(x .^ p)", "x", lambda x, p, **_: (x ** p).sum(), ()),
    ("sum(x .^ p)", "p", lambda x, p, **_: (x ** p).sum(), ()),
    ("sum(x .^ (1/3))", "x", lambda x, **_: np.cbrt(x).sum(), ()),
    ("(a' x)^{1/3}", "x", lambda a, x, **_: np.cbrt((a.T @ x).item()), ()),
    ("(x' x)^(1/2)", "x", lambda x, **_: np.sqrt((x.T @ x).item()), ()),
    ("tr(X^k)", "X", lambda X, k, **_: np.trace(np.linalg.matrix_power(X, int(k))), ()),
    ("tr(X^12) / 4^12", "X", lambda X, **_: np.trace(np.linalg.matrix_power(X, 12)) / 4 ** 12, ()),
]


@pytest.mark.parametrize("objective, wrt, oracle, signed", WORDS,
                         ids=[f"{w[0]} by {w[1]}" for w in WORDS])
def test_every_word_is_read_as_meant(objective, wrt, oracle, signed):
    assert_matches_oracle(objective, wrt, V, oracle, signed)


# words that cannot be supported: exit 2, and the message says what to write
REFUSED = [
    ("eig(X)", "tr(X)"),
    ("sum(eigvals(X))", "tr(X)"),
    ("sum(max(x, a))", "relu"),
    ("sum(maximum(x, a))", "relu"),
    ("sum(erf(x))", "rule file"),
    ("sum(hinje(x))", "hinge"),
    ("sum(sofplus(x))", "softplus"),
    ("sum(arctanh(x))", "arctan"),
    ("norm(x, 3)", "norm(x, 1)"),
    ("tr(A X^k)", "inside a trace"),
]


def run(*args):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("objective, advice", REFUSED, ids=[r[0] for r in REFUSED])
def test_unsupported_words_are_refused_with_what_to_write(objective, advice):
    wrt = "x" if "x" in objective.replace("X", "") else "X"
    with pytest.raises(MatcalcError) as info:
        mc.derive(objective, wrt=wrt, where=V)
    assert advice in str(info.value) + " ".join(getattr(info.value, "suggestions", None) or [])


@pytest.mark.parametrize("objective", ["eig(X)", "sum(hinje(x))", "sum(max(x, a))"])
def test_refusals_exit_2_on_the_command_line(objective):
    out = run("derive", objective, "--wrt", "x" if "x" in objective.replace("X", "") else "X",
              *[f"--where={line}" for line in V])
    assert out.returncode == 2, out.stdout
    assert "Traceback" not in out.stderr and out.stderr.startswith("matcalc:")


@pytest.mark.parametrize("word", ["hinge", "arctan", "softsign", "square", "logistic", "mean",
                                  "var", "ln", "tan", "sinh", "cosh", "log1p", "expm1", "norm1"])
def test_a_known_word_is_never_split_into_letters(word):
    p = mc.Program(objective=f"sum({word}(W x))", where=["W: (2, 3)", "x: (3, 1)"])
    assert set(p.variables) == {"W", "x"}


@pytest.mark.parametrize("word", ["frobnicate", "erf", "hinje", "xW"])
def test_an_unknown_word_before_a_parenthesis_is_an_unknown_function(word):
    with pytest.raises(UnknownFunctionError):
        mc.Program(objective=f"sum({word}(x))")


def test_a_single_letter_or_a_declared_name_before_a_parenthesis_is_a_product():
    assert_matches_oracle("λ (a' x)", "x", V + ["λ: ()"], lambda a, x, **env: env["lambda"] * (a.T @ x).item())
    p = mc.Program(objective="sum(W1 (x + a))", where=["x: (3, 1)", "a: (3, 1)", "W1: (2, 3)"])
    assert set(p.variables) == {"W1", "x", "a"}


def test_general_max_is_refused_by_the_engine_with_advice():
    with pytest.raises(NotDifferentiableError, match=r"relu\(a - b\)"):
        mc.derive("sum(max(x, a))", wrt="x", where=V)


# --- dimension names, defined names, user δ names ----------------------------

def test_a_dimension_name_is_a_name_wherever_it_appears():
    result = assert_matches_oracle("sum(X W) / batch", "W", ["X: (batch, D)", "W: (D, 2)"],
                                   lambda X, W, **_: (X @ W).sum() / X.shape[0])
    assert set(result.program.variables) == {"X", "W"}


def test_the_gradient_by_a_defined_name_is_its_delta():
    program = """
        x: (1, 3); y: (1, 4) onehot; W: (3, 5); b1: (1, 5); U: (5, 4); b2: (1, 4)
        z = x W + b1
        h = relu(z)
        θ = h U + b2
        J = CE(y, softmax(θ))
    """
    result = mc.Program(program).derive("h")
    assert result.check().ok
    rng = np.random.default_rng(0)
    env = {"x": rng.standard_normal((1, 3)), "W": rng.standard_normal((3, 5)), "b1": rng.standard_normal((1, 5)),
           "U": rng.standard_normal((5, 4)), "b2": rng.standard_normal((1, 4)), "y": np.eye(4)[[2]],
           "h": rng.uniform(0.2, 0.8, (1, 5))}

    def J(h, U, b2, y, **_):
        t = h @ U + b2
        return -(y * (t - np.log(np.exp(t).sum()))).sum()

    ours = result.compile()(**env)["h"]
    np.testing.assert_allclose(np.asarray(ours), finite_difference(J, env, "h"), rtol=1e-6, atol=1e-8)


def test_asking_for_a_defined_name_and_a_variable_together_is_refused():
    with pytest.raises(MatcalcError, match="apart"):
        mc.derive("J", wrt="h,W", where=["h = relu(W x)", "J = sum(h)"])


def test_the_engine_never_reuses_a_users_delta_name():
    result = mc.derive("J", wrt="W", where=["δ1 = W x", "J = sum(relu(δ1))"])
    assert [s.name for s in result.intermediates] == ["delta2"]
    assert result.check().ok


# --- kron and vec --------------------------------------------------------------

KRON = [
    ("tr(kron(A, X))", "X", lambda A, X, **_: np.trace(np.kron(A, X))),
    ("tr(kron(X, X))", "X", lambda X, **_: np.trace(np.kron(X, X))),
    ("sum(kron(A, X) ∘ C)", "X", lambda A, X, C, **_: (np.kron(A, X) * C).sum()),
    ("sum(kron(X, B) ∘ C)", "X", lambda X, B, C, **_: (np.kron(X, B) * C).sum()),
    ("vec(Y)ᵀ kron(A, X) vec(Z)", "A",
     lambda Y, A, X, Z, **_: (Y.reshape(-1, 1, order="F").T @ np.kron(A, X) @ Z.reshape(-1, 1, order="F")).item()),
]


@pytest.mark.parametrize("objective, wrt, oracle", KRON, ids=[k[0] for k in KRON])
def test_gradients_through_kron(objective, wrt, oracle):
    where = ["A: (2, 3)", "X: (3, 2)", "B: (2, 3)", "C: (6, 6)", "Y: (6, 1)", "Z: (6, 1)"]
    if objective.startswith("tr"):
        where = ["A: (2, 2)", "X: (3, 3)"]
    assert_matches_oracle(objective, wrt, where, oracle)


def test_cookbook_trace_of_kron_is_read_off():
    assert str(mc.derive("tr(kron(A, X))", wrt="X").gradients["X"]) in ("tr(A) I",)


def test_vec_shapes_multiply_declared_numbers():
    assert_matches_oracle("vec(X)ᵀ A vec(X)", "X", ["X: (2, 3)", "A: (6, 6)"],
                          lambda X, A, **_: (X.reshape(-1, 1, order="F").T @ A @ X.reshape(-1, 1, order="F")).item())


# --- LaTeX objectives -------------------------------------------------------------

def test_derive_reads_a_latex_objective():
    assert_matches_oracle(r"\mathbf{x}^\top A \mathbf{x}", "x", ["x: (3, 1)", "A: (3, 3)"],
                          lambda x, A, **_: (x.T @ A @ x).item())
    assert_matches_oracle(r"\operatorname{tr}(A X^{T} B)", "X", ["A: (2, 3)", "X: (2, 3)", "B: (2, 2)"],
                          lambda A, X, B, **_: np.trace(A @ X.T @ B))


def test_cli_latex_objectives():
    out = run("derive", r"\sin(\mathbf{w}^\top \mathbf{x})", "--wrt", "w", "--latex")
    assert out.returncode == 0, out.stderr
    assert "check  ok" in out.stdout
    out = run("parse", r"\mathbf{x}^\top A \mathbf{x}")
    assert out.returncode == 0 and "xᵀ A x" in out.stdout


def test_an_integer_exponent_is_no_variable():
    with pytest.raises(MatcalcError, match="integer"):
        mc.derive("tr(X^k)", wrt="k", where=V)


@pytest.mark.parametrize("text, meant", [("A^-1.T", "A^-T"), ("2.*x", "2 ∘ x"), ("x^2.T", "(x^2)ᵀ")])
def test_a_dot_after_a_number_belongs_to_the_operator(text, meant):
    from matcalc.language.parser import parse_expr

    assert parse_expr(text) == parse_expr(meant)
