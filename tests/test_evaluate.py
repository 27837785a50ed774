"""The evaluator and the runtime helpers against plain numpy oracles.

Trees are built by hand here (typed: every node carries its shape); the
builders below are shared by test_check and test_codegen.
"""
from fractions import Fraction

import numpy as np
import pytest

from matcalc.language import runtime
from matcalc.language.errors import MatcalcError
from matcalc.language.evaluate import build_dag, evaluate, evaluate_program, size_of
from matcalc.language.expr import SCALAR, DimSize, Identity, Num, Ones, Op, Sym, Zero


# -- builders for typed trees ------------------------------------------------
def sym(name, shape=SCALAR):
    return Sym(name, shape)


def num(value):
    return Num(Fraction(value))


def op(name, shape, *args):
    return Op(name, tuple(args), shape)


def mm(a, b, shape):
    return op("matmul", shape, a, b)


def T(a):
    return op("T", SCALAR if a.shape == SCALAR else (a.shape[1], a.shape[0]), a)


def neg(a):
    return op("scale", a.shape, num(-1), a)


rng = np.random.default_rng(1)
A = rng.standard_normal((2, 3))   # m×n with m=2, n=3
B = rng.standard_normal((3, 5))   # n×k
S = rng.standard_normal((3, 3))   # n×n
X = S @ S.T + 3 * np.eye(3)       # spd n×n
x = rng.standard_normal((3, 1))   # n×1
r = rng.standard_normal((1, 3))   # 1×n
P = rng.uniform(0.5, 2.0, (2, 3)) # positive m×n
s = 0.7
ENV = {"A": A, "B": B, "S": S, "X": X, "x": x, "r": r, "P": P, "s": s}
DIMS = {"m": 2, "n": 3, "k": 5}

a_, b_, S_, X_ = sym("A", ("m", "n")), sym("B", ("n", "k")), sym("S", ("n", "n")), sym("X", ("n", "n"))
x_, r_, P_, s_ = sym("x", ("n", 1)), sym("r", (1, "n")), sym("P", ("m", "n")), sym("s")


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


CASES = [
    # (name, tree, numpy oracle)
    ("broadcast row + matrix", op("add", ("m", "n"), a_, r_), A + r),
    ("broadcast scalar + matrix", op("add", ("m", "n"), s_, a_), s + A),
    ("column + row is an outer sum", op("add", ("n", "n"), x_, r_), x + r),
    ("matrix product", mm(a_, b_, ("m", "k")), A @ B),
    ("row times column is a scalar", mm(r_, x_, SCALAR), (r @ x).item()),
    ("scale", op("scale", ("m", "n"), s_, a_), s * A),
    ("hadamard", op("had", ("m", "n"), a_, P_), A * P),
    ("divide by a scalar", op("div", ("m", "n"), a_, s_), A / s),
    ("elementwise divide with broadcast", op("div", ("m", "n"), a_, r_), A / r),
    ("transpose", T(a_), A.T),
    ("inverse", op("inv", ("n", "n"), X_), np.linalg.inv(X)),
    ("scalar inverse", op("inv", SCALAR, s_), 1 / s),
    ("scalar power", op("pow", SCALAR, s_, num(3)), s ** 3),
    ("matrix power", op("pow", ("n", "n"), S_, num(2)), S @ S),
    ("elementwise power", op("epow", ("m", "n"), P_, Num(Fraction(1, 2))), np.sqrt(P)),
    ("dimension as a scalar", op("div", ("m", "n"), a_, DimSize("n")), A / 3),
    ("identity", op("add", ("n", "n"), S_, Identity(("n", "n"))), S + np.eye(3)),
    ("ones row sums columns", mm(T(Ones(("m", 1))), a_, (1, "n")), A.sum(axis=0, keepdims=True)),
    ("zero", op("add", ("m", "n"), a_, Zero(("m", "n"))), A),
    ("negation", neg(a_), -A),
    ("tanh", op("tanh", ("m", "n"), a_), np.tanh(A)),
    ("sigmoid", op("sigmoid", ("m", "n"), a_), 1 / (1 + np.exp(-A))),
    ("relu", op("relu", ("m", "n"), a_), np.maximum(A, 0)),
    ("step", op("step", ("m", "n"), a_), (A > 0) * 1.0),
    ("softplus", op("softplus", ("m", "n"), a_), np.log1p(np.exp(A))),
    ("log", op("log", ("m", "n"), P_), np.log(P)),
    ("exp", op("exp", ("m", "n"), a_), np.exp(A)),
    ("sqrt", op("sqrt", ("m", "n"), P_), np.sqrt(P)),
    ("sin", op("sin", ("m", "n"), a_), np.sin(A)),
    ("cos", op("cos", ("m", "n"), a_), np.cos(A)),
    ("abs", op("abs", ("m", "n"), a_), np.abs(A)),
    ("tan", op("tan", ("m", "n"), a_), np.sin(A) / np.cos(A)),
    ("arctan", op("arctan", ("m", "n"), a_), np.arcsin(A / np.sqrt(1 + A * A))),
    ("arcsin", op("arcsin", ("m", "n"), op("tanh", ("m", "n"), a_)),
     np.arctan2(np.tanh(A), np.sqrt(1 - np.tanh(A) ** 2))),
    ("arccos", op("arccos", ("m", "n"), op("tanh", ("m", "n"), a_)),
     np.pi / 2 - np.arctan2(np.tanh(A), np.sqrt(1 - np.tanh(A) ** 2))),
    ("sinh", op("sinh", ("m", "n"), a_), (np.exp(A) - np.exp(-A)) / 2),
    ("cosh", op("cosh", ("m", "n"), a_), (np.exp(A) + np.exp(-A)) / 2),
    ("log1p", op("log1p", ("m", "n"), P_), np.log(1 + P)),
    ("expm1", op("expm1", ("m", "n"), a_), np.exp(A) - 1),
    ("square", op("square", ("m", "n"), a_), A * A),
    ("softsign", op("softsign", ("m", "n"), a_), A / (1 + np.abs(A))),
    ("sgn", op("sgn", ("m", "n"), a_), np.sign(A)),
    ("tr", op("tr", SCALAR, S_), np.trace(S)),
    ("det", op("det", SCALAR, S_), np.linalg.det(S)),
    ("logdet", op("logdet", SCALAR, X_), np.log(np.linalg.det(X))),
    ("sum", op("sum", SCALAR, a_), A.sum()),
    ("norm of a vector", op("norm", SCALAR, x_), np.sqrt((x ** 2).sum())),
    ("Frobenius norm", op("norm", SCALAR, a_), np.sqrt((A ** 2).sum())),
    ("diag of a vector", op("diag", ("n", "n"), x_), np.diagflat(x)),
    ("diag of a square matrix", op("diag", ("n", 1), S_), np.diag(S).reshape(-1, 1)),
    ("vec stacks columns", op("vec", ("m*n", 1), a_), A.T.reshape(-1, 1)),
    ("kron", op("kron", ("m*n", "n*k"), a_, b_), np.kron(A, B)),
    ("softmax of a row", op("softmax", (1, "n"), r_), softmax_rows(r)),
    ("softmax of a column", op("softmax", ("n", 1), x_), softmax_rows(x.T).T),
    ("softmax of a matrix is row by row", op("softmax", ("m", "n"), a_), softmax_rows(A)),
    ("log_softmax row by row", op("log_softmax", ("m", "n"), a_), np.log(softmax_rows(A))),
    ("logsumexp of a column", op("logsumexp", SCALAR, x_), np.log(np.exp(x).sum())),
    ("logsumexp row by row", op("logsumexp", ("m", 1), a_), np.log(np.exp(A).sum(axis=1, keepdims=True))),
    ("CE", op("CE", SCALAR, P_, op("softmax", ("m", "n"), a_)), -np.sum(P * np.log(softmax_rows(A)))),
    ("max broadcasts", op("max", ("m", "n"), a_, r_), np.maximum(A, r)),
    ("reshape is vec's inverse", op("reshape", ("m", "n"), op("vec", ("m*n", 1), a_), DimSize("m"), DimSize("n")), A),
    ("min broadcasts", op("min", ("m", "n"), a_, s_), np.minimum(A, s)),
    ("tr of a scalar is the scalar", op("tr", SCALAR, mm(r_, x_, SCALAR)), (r @ x).item()),
    ("step of a scalar", op("step", SCALAR, s_), 1.0),
    ("commutation", op("commutation", ("m*n", "m*n"), DimSize("m"), DimSize("n")),
     runtime.commutation(2, 3)),
]


@pytest.mark.parametrize("name,tree,oracle", CASES, ids=[c[0] for c in CASES])
def test_evaluate_matches_numpy(name, tree, oracle):
    value = evaluate(tree, ENV, DIMS)
    if tree.shape == SCALAR:
        assert isinstance(value, float)
    else:
        assert value.shape == np.shape(oracle)
    np.testing.assert_allclose(value, oracle, rtol=1e-12, atol=1e-12)


def test_every_function_in_the_table_is_covered():
    from matcalc.language.functions import FUNCTIONS

    covered = {n.op for _, tree, _ in CASES for n in tree.walk() if isinstance(n, Op)}
    covered.add("size")  # never evaluated: shapes.build writes size(X) as its count of entries
    assert set(FUNCTIONS) <= covered


def test_sizes_are_read_off_the_inputs():
    assert evaluate(mm(a_, b_, ("m", "k")), {"A": A, "B": B}, {}).shape == (2, 5)
    assert evaluate(op("scale", ("n", "k"), DimSize("k"), b_), {"B": B}, {})[0, 0] == 5 * B[0, 0]


def test_size_of_products():
    assert size_of("m*n", {"m": 2, "n": 3}) == 6
    assert size_of("2*n", {"n": 3}) == 6
    assert size_of(1, {}) == 1
    with pytest.raises(MatcalcError, match="size of dimension q"):
        size_of("q", {})


def test_missing_input_is_a_clear_error():
    with pytest.raises(MatcalcError, match="no value for B"):
        evaluate(mm(a_, b_, ("m", "k")), {"A": A}, DIMS)


def test_input_of_the_wrong_shape_is_a_clear_error():
    with pytest.raises(MatcalcError, match="A is 3×2"):
        evaluate(a_, {"A": A.T}, DIMS)


def test_a_1d_vector_takes_its_declared_orientation():
    assert evaluate(x_, {"x": x.ravel()}, DIMS).shape == (3, 1)


def test_scalar_inputs_may_be_1x1_arrays():
    assert evaluate(op("scale", ("m", "n"), s_, a_), {"A": A, "s": np.array([[2.0]])}, DIMS)[0, 0] == 2 * A[0, 0]


def test_matmul_with_a_scalar_operand_multiplies():
    assert np.allclose(evaluate(mm(s_, a_, ("m", "n")), ENV, DIMS), s * A)


def test_deep_tree_does_not_recurse():
    tree = r_
    for _ in range(10_000):
        tree = op("add", (1, "n"), tree, r_)
    assert np.allclose(evaluate(tree, {"r": r}, {}), 10_001 * r)


def test_shared_subtrees_are_computed_once():
    # (((x + x) + (x + x)) + ...): 2^60 paths, 61 distinct nodes
    tree = x_
    for _ in range(60):
        tree = op("add", ("n", 1), tree, tree)
    assert len(build_dag([tree]).nodes) == 61
    assert np.allclose(evaluate(tree, {"x": x}, {}), 2.0 ** 60 * x)


def test_structurally_equal_objects_share_one_class():
    one = op("tanh", ("n", 1), mm(S_, x_, ("n", 1)))
    two = op("tanh", ("n", 1), mm(sym("S", ("n", "n")), sym("x", ("n", 1)), ("n", 1)))
    dag = build_dag([op("had", ("n", 1), one, two)])
    assert dag.children[dag.roots[0]][0] == dag.children[dag.roots[0]][1]


def test_program_reads_earlier_definitions():
    h = op("tanh", ("m", 1), mm(a_, x_, ("m", 1)))
    out = evaluate_program([("h", h)], {"J": op("sum", SCALAR, sym("h", ("m", 1)))}, ENV, DIMS)
    assert out["J"] == pytest.approx(np.tanh(A @ x).sum())


def test_non_finite_values_are_returned_not_raised():
    assert np.isnan(evaluate(op("log", SCALAR, neg(s_)), ENV, DIMS))
    assert evaluate(op("div", SCALAR, s_, num(0)), ENV, DIMS) == np.inf


def test_registered_function_is_evaluated_by_its_numpy_spelling(monkeypatch):
    from matcalc.language import functions

    monkeypatch.setitem(functions.FUNCTIONS, "swish",
                        functions.Function("swish", 1, "elementwise", "a0 * sigmoid(a0)"))
    value = evaluate(op("swish", ("m", "n"), a_), ENV, DIMS)
    assert np.allclose(value, A / (1 + np.exp(-A)))


# -- runtime helpers -----------------------------------------------------------
def test_sigmoid_is_stable_for_large_arguments():
    with np.errstate(over="raise", invalid="raise"):
        assert np.allclose(runtime.sigmoid(np.array([[-1000.0, 0.0, 1000.0]])), [[0.0, 0.5, 1.0]])


def test_logsumexp_of_a_vector_is_a_number_and_of_a_matrix_a_column():
    assert np.ndim(runtime.logsumexp(np.array([[1000.0, 1000.0]]))) == 0
    assert runtime.logsumexp(np.array([[1000.0], [1000.0]])) == pytest.approx(1000 + np.log(2))
    assert runtime.logsumexp(A).shape == (2, 1)


def test_commutation_turns_vec_into_vec_of_the_transpose():
    vec = runtime.vec
    assert np.allclose(runtime.commutation(2, 3) @ vec(A), vec(A.T))


def test_runtime_source_defines_the_helpers_alone():
    namespace = {"np": np}
    exec(runtime.RUNTIME_SOURCE, namespace)  # our own constant source
    assert np.allclose(namespace["softmax"](A), softmax_rows(A))
    assert set(runtime.HELPERS) <= set(namespace)
