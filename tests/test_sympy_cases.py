"""SymPy's matrix-derivative test cases (sympy/matrices/expressions/tests/
test_derivatives.py, most from the Matrix Cookbook), translated to the
expression language and checked numerically against finite differences of
numpy oracles written here — including tr(X^k), x .^ i with respect to i,
cube roots and the Kronecker cases SymPy leaves as TODO."""
import numpy as np
import pytest

from vocabulary_oracle import assert_matches_oracle

K = 3  # SymPy's k×k matrices and k×1 vectors, at k = 3
WHERE = [f"{n}: ({K}, {K})" for n in "XABCD"] + [f"{n}: ({K}, 1)" for n in "xyabcd"] \
    + ["i: ()", "μ: ()", "k: () integer"]


def tr(m):
    return np.trace(m)


def inv(m):
    return np.linalg.inv(m)


def s(m):  # a 1×1 array as a number
    return np.asarray(m).item()


# (objective in our language, wrt, oracle)
SCALAR_CASES = [
    # derivatives by a scalar
    ("tr(i^2 X)", "i", lambda i, X, **_: i ** 2 * tr(X)),
    ("sum(x .^ i)", "i", lambda x, i, **_: (x ** i).sum()),
    ("sum(sin(i) A B x)", "i", lambda i, A, B, x, **_: np.sin(i) * (A @ B @ x).sum()),
    ("sum(sin(i^2 x))", "i", lambda i, x, **_: np.sin(i ** 2 * x).sum()),
    ("sum(sin(log(i) A B))", "i", lambda i, A, B, **_: np.sin(np.log(i) * A @ B).sum()),
    ("sum(2 μ x)", "x", lambda x, **env: 2 * env["mu"] * x.sum()),
    ("xᵀ ones", "x", lambda x, **_: x.sum()),
    # inverses (Cookbook 61, 63, 64)
    ("aᵀ X⁻¹ b", "X", lambda a, X, b, **_: s(a.T @ inv(X) @ b)),
    ("tr(A X⁻¹ B)", "X", lambda A, X, B, **_: tr(A @ inv(X) @ B)),
    ("tr((X + A)⁻¹)", "X", lambda X, A, **_: tr(inv(X + A))),
    ("det(X⁻¹)", "X", lambda X, **_: np.linalg.det(inv(X))),
    # vectors and scalars (Cookbook 69-83)
    ("xᵀ a", "x", lambda x, a, **_: s(x.T @ a)),
    ("aᵀ x", "x", lambda a, x, **_: s(a.T @ x)),
    ("aᵀ X b", "X", lambda a, X, b, **_: s(a.T @ X @ b)),
    ("aᵀ Xᵀ b", "X", lambda a, X, b, **_: s(a.T @ X.T @ b)),
    ("aᵀ X a", "X", lambda a, X, **_: s(a.T @ X @ a)),
    ("aᵀ Xᵀ a", "X", lambda a, X, **_: s(a.T @ X.T @ a)),
    ("bᵀ Xᵀ X c", "X", lambda b, X, c, **_: s(b.T @ X.T @ X @ c)),
    ("(B x + b)ᵀ C (D x + d)", "x", lambda B, x, b, C, D, d, **_: s((B @ x + b).T @ C @ (D @ x + d))),
    ("xᵀ B x", "x", lambda x, B, **_: s(x.T @ B @ x)),
    ("bᵀ Xᵀ D X c", "X", lambda b, X, D, c, **_: s(b.T @ X.T @ D @ X @ c)),
    ("(X b + c)ᵀ D (X b + c)", "X", lambda X, b, c, D, **_: s((X @ b + c).T @ D @ (X @ b + c))),
    # traces, first order (Cookbook 99-105)
    ("tr(X)", "X", lambda X, **_: tr(X)),
    ("tr(X A)", "X", lambda X, A, **_: tr(X @ A)),
    ("tr(A X B)", "X", lambda A, X, B, **_: tr(A @ X @ B)),
    ("tr(A Xᵀ B)", "X", lambda A, X, B, **_: tr(A @ X.T @ B)),
    ("tr(Xᵀ A)", "X", lambda X, A, **_: tr(X.T @ A)),
    ("tr(A Xᵀ)", "X", lambda A, X, **_: tr(A @ X.T)),
    ("tr(kron(A, X))", "X", lambda A, X, **_: tr(np.kron(A, X))),
    # second order (Cookbook 106-120)
    ("tr(X^2)", "X", lambda X, **_: tr(X @ X)),
    ("tr(X^2 B)", "X", lambda X, B, **_: tr(X @ X @ B)),
    ("tr(Xᵀ B X)", "X", lambda X, B, **_: tr(X.T @ B @ X)),
    ("tr(B X Xᵀ)", "X", lambda B, X, **_: tr(B @ X @ X.T)),
    ("tr(X Xᵀ B)", "X", lambda X, B, **_: tr(X @ X.T @ B)),
    ("tr(X B Xᵀ)", "X", lambda X, B, **_: tr(X @ B @ X.T)),
    ("tr(B Xᵀ X)", "X", lambda B, X, **_: tr(B @ X.T @ X)),
    ("tr(Xᵀ X B)", "X", lambda X, B, **_: tr(X.T @ X @ B)),
    ("tr(A X B X)", "X", lambda A, X, B, **_: tr(A @ X @ B @ X)),
    ("tr(Xᵀ X)", "X", lambda X, **_: tr(X.T @ X)),
    ("tr(X Xᵀ)", "X", lambda X, **_: tr(X @ X.T)),
    ("tr(Bᵀ Xᵀ C X B)", "X", lambda B, X, C, **_: tr(B.T @ X.T @ C @ X @ B)),
    ("tr(Xᵀ B X C)", "X", lambda X, B, C, **_: tr(X.T @ B @ X @ C)),
    ("tr(A X B Xᵀ C)", "X", lambda A, X, B, C, **_: tr(A @ X @ B @ X.T @ C)),
    ("tr((A X B + C) (A X B + C)ᵀ)", "X", lambda A, X, B, C, **_: tr((A @ X @ B + C) @ (A @ X @ B + C).T)),
    ("tr(kron(X, X))", "X", lambda X, **_: tr(np.kron(X, X))),
    ("tr(X) tr(X)", "X", lambda X, **_: tr(X) ** 2),
    # higher order (Cookbook 121, 123)
    ("tr(X^k)", "X", lambda X, k, **_: tr(np.linalg.matrix_power(X, int(k)))),
    ("tr(X^10)", "X", lambda X, **_: tr(np.linalg.matrix_power(X, 10))),
    ("tr(Bᵀ Xᵀ C X Xᵀ C X B)", "X", lambda B, X, C, **_: tr(B.T @ X.T @ C @ X @ X.T @ C @ X @ B)),
    # other (Cookbook 124-127)
    ("tr(A X^-1 B)", "X", lambda A, X, B, **_: tr(A @ inv(X) @ B)),
    ("tr((Xᵀ C X)⁻¹ A)", "X", lambda X, C, A, **_: tr(inv(X.T @ C @ X) @ A)),
    ("tr((Xᵀ C X)⁻¹ (Xᵀ B X))", "X", lambda X, C, B, **_: tr(inv(X.T @ C @ X) @ (X.T @ B @ X))),
    ("tr((A + Xᵀ C X)⁻¹ (Xᵀ B X))", "X", lambda A, X, C, B, **_: tr(inv(A + X.T @ C @ X) @ (X.T @ B @ X))),
    # a complicated expression
    ("aᵀ (A X (Xᵀ B + X A) + Bᵀ Xᵀ (a bᵀ (X D Xᵀ + X (Xᵀ B + A X) D B - Xᵀ Cᵀ A) B"
     " + B (X Dᵀ + B A X Aᵀ - 3 X D)) B + 42 X B Xᵀ Aᵀ (X + Xᵀ)) b", "X",
     lambda a, A, X, B, b, D, C, **_: s(a.T @ (A @ X @ (X.T @ B + X @ A) + B.T @ X.T @ (
         a @ b.T @ (X @ D @ X.T + X @ (X.T @ B + A @ X) @ D @ B - X.T @ C.T @ A) @ B
         + B @ (X @ D.T + B @ A @ X @ A.T - 3 * X @ D)) @ B + 42 * X @ B @ X.T @ A.T @ (X + X.T)) @ b)),
    # mixed
    ("3 tr(A)", "A", lambda A, **_: 3 * tr(A)),
    ("tr(A)^2", "A", lambda A, **_: tr(A) ** 2),
    ("tr(tr(A) A)", "A", lambda A, **_: tr(tr(A) * A)),
    ("tr(tr(tr(A) A) A)", "A", lambda A, **_: tr(tr(tr(A) * A) * A)),
    # norms and roots
    ("xᵀ y", "x", lambda x, y, **_: s(x.T @ y)),
    ("(xᵀ y)^(1/2)", "x", lambda x, y, **_: np.sqrt(s(x.T @ y))),
    ("(xᵀ x)^(1/2)", "x", lambda x, **_: np.sqrt(s(x.T @ x))),
    ("(cᵀ a xᵀ b)^(1/2)", "x", lambda c, a, x, b, **_: np.sqrt(s(c.T @ a @ x.T @ b))),
    ("(cᵀ a xᵀ b)^(1/3)", "x", lambda c, a, x, b, **_: np.cbrt(s(c.T @ a @ x.T @ b))),
    ("(aᵀ X b)^(1/2)", "X", lambda a, X, b, **_: np.sqrt(s(a.T @ X @ b))),
    ("dᵀ x (aᵀ X b)^(1/2) yᵀ c", "X",
     lambda d, x, a, X, b, y, c, **_: s(d.T @ x) * np.sqrt(s(a.T @ X @ b)) * s(y.T @ c)),
    # elementwise functions
    ("xᵀ A x + k sin(y)ᵀ x", "x", lambda x, A, k, y, **_: s(x.T @ A @ x) + k * s(np.sin(y).T @ x)),
    ("sin(aᵀ X b)", "X", lambda a, X, b, **_: np.sin(s(a.T @ X @ b))),
    ("aᵀ sin(X) b", "X", lambda a, X, b, **_: s(a.T @ np.sin(X) @ b)),
    ("aᵀ sin(A X B) b", "X", lambda a, A, X, B, b, **_: s(a.T @ np.sin(A @ X @ B) @ b)),
    ("aᵀ A sin(X) B b", "X", lambda a, A, X, B, b, **_: s(a.T @ A @ np.sin(X) @ B @ b)),
    # Hadamard products and powers
    ("aᵀ (A ∘ X ∘ B) b", "X", lambda a, A, X, B, b, **_: s(a.T @ (A * X * B) @ b)),
    ("(aᵀ X b) .^ 2", "X", lambda a, X, b, **_: s(a.T @ X @ b) ** 2),
    ("(aᵀ X b) .^ (1/2)", "X", lambda a, X, b, **_: np.sqrt(s(a.T @ X @ b))),
]


@pytest.mark.parametrize("objective, wrt, oracle", SCALAR_CASES, ids=[c[0][:60] for c in SCALAR_CASES])
def test_sympy_scalar_case(objective, wrt, oracle):
    assert_matches_oracle(objective, wrt, WHERE, oracle, seeds=(0,))


# vector- and matrix-valued: the Jacobian (numerator layout, of vec) by finite differences
JACOBIAN_CASES = [
    ("tan(x)", "x", lambda x, **_: np.tan(x)),
    ("x .^ 2", "x", lambda x, **_: x ** 2),
    ("xᵀ .^ 2", "x", lambda x, **_: (x ** 2).T),
    ("x .^ (1/2)", "x", lambda x, **_: np.sqrt(x)),
    ("a ∘ x ∘ b", "x", lambda a, x, b, **_: a * x * b),
    ("A exp(x)", "x", lambda A, x, **_: A @ np.exp(x)),
    ("sin(x)ᵀ y", "x", lambda x, y, **_: np.sin(x).T @ y),
    ("x xᵀ x", "x", lambda x, **_: x @ x.T @ x),
    ("2 μ x", "x", lambda x, **env: 2 * env["mu"] * x),
    ("A (X + B) c", "i", lambda A, X, B, c, **_: A @ (X + B) @ c),
    ("sin(i^2 x)", "i", lambda i, x, **_: np.sin(i ** 2 * x)),
    ("x .^ i", "i", lambda x, i, **_: x ** i),
    ("A X", "X", lambda A, X, **_: A @ X),
    ("tr(A) A", "A", lambda A, **_: tr(A) * A),
    ("kron(A, X)", "X", lambda A, X, **_: np.kron(A, X)),
]


@pytest.mark.parametrize("objective, wrt, oracle", JACOBIAN_CASES, ids=[c[0] for c in JACOBIAN_CASES])
def test_sympy_jacobian_case(objective, wrt, oracle):
    assert_matches_oracle(objective, wrt, WHERE, oracle, seeds=(0,))


def test_a_power_of_a_matrix_by_a_symbolic_exponent_needs_the_trace():
    """Cookbook 122, tr(A X^k), needs indices (SymPy leaves it open): refused,
    never a wrong closed form."""
    import matcalc as mc
    from matcalc.language.errors import MatcalcError

    with pytest.raises(MatcalcError):
        mc.derive("tr(A X^k)", wrt="X", where=WHERE)
