"""Shape inference (SPEC §2 "Shape inference", §9 ShapeError): every node gets
its shape, juxtapositions resolve to matmul or scale, kinds default by case
only where nothing forces otherwise."""
from fractions import Fraction

import pytest

from matcalc.language.errors import ShapeError, UnknownFunctionError
from matcalc.language.expr import DimSize, Identity, Num, Ones, Op, Sym
from matcalc.language.parser import Declaration, Definition, SurfaceProgram, parse_expr, parse_program
from matcalc.shapes.core import build, shape_of
from matcalc.shapes.inference import infer_shapes

from conftest import corpus_cases, python_calls


def typed(text: str, *where: str, **options):
    """The typed program of objective ``text`` under the lines ``where``."""
    program = parse_program("\n".join(where))
    return infer_shapes(program, parse_expr(text, program.names) if text else None, **options)


def shapes(text: str, *where: str) -> dict:
    """Every name's shape, and the objective's under the key ``"="``."""
    t = typed(text, *where)
    return {**t.shapes, "=": t.objective.shape}


def ops(e) -> list[str]:
    return [n.op for n in e.walk() if isinstance(n, Op)]


def shape_error(text: str, *where: str) -> str:
    with pytest.raises(ShapeError) as info:
        typed(text, *where)
    return info.value.message


# --- operators -----------------------------------------------------------------

class TestAdd:
    def test_scalar_broadcasts_over_anything(self):
        assert shapes("lambda + A", "lambda: ()", "A: (n, m)")["="] == ("n", "m")
        assert shapes("1 - x", "x: (n, 1)")["="] == ("n", 1)

    def test_vector_added_to_a_matrix_is_a_row(self):
        s = shapes("X W + b", "X: (N, D)", "W: (D, H)")
        assert s["b"] == (1, "H") and s["="] == ("N", "H")

    def test_declared_column_broadcasts_over_columns(self):
        assert shapes("X + c", "X: (N, D)", "c: (N, 1)")["="] == ("N", "D")

    def test_vector_plus_vector_of_one_kind_unifies(self):
        s = shapes("x W + b1")
        assert s["x"] == (1, "n") and s["b1"] == (1, "m") and s["="] == (1, "m")
        assert shapes("x + y") == {"x": ("n", 1), "y": ("n", 1), "=": ("n", 1)}

    def test_column_plus_row_is_an_outer_sum(self):
        assert shapes("a + b", "a: (n, 1)", "b: (1, m)")["="] == ("n", "m")

    def test_mismatch_names_the_axis(self):
        message = shape_error("A + B", "A: (2, 3)", "B: (3, 2)")
        assert message == "A + B: A is 2×3, B is 3×2; rows(A) ≠ rows(B) and neither is 1"


class TestProduct:
    def test_matmul_and_scale(self):
        t = typed("2 A B", "A: (n, m)", "B: (m, k)")
        assert t.objective.shape == ("n", "k")
        assert ops(t.objective) == ["matmul", "scale"] or set(ops(t.objective)) == {"matmul", "scale"}

    def test_scale_puts_the_scalar_first(self):
        e = typed("x lambda", "x: (n, 1)", "lambda: ()").objective
        assert e.op == "scale" and e.args[0] == Sym("lambda", ()) and e.shape == ("n", 1)

    def test_inner_product_is_a_scalar(self):
        e = typed("a^T x", "a: (n, 1)", "x: (n, 1)").objective
        assert e.op == "matmul" and e.shape == ()

    def test_cols_must_match_rows(self):
        assert shape_error("A B", "A: (2, 3)", "B: (2, 3)") == "A B: A is 2×3, B is 2×3; cols(A) ≠ rows(B)"
        assert shape_error("x W", "x: (3, 1)", "W: (4, 5)") == "x W: x is 3×1, W is 4×5; cols(x) ≠ rows(W)"

    def test_declared_dimension_names_clash(self):
        message = shape_error("x W", "x: (1, D)", "W: (H, C)")
        assert message == "x W: x is 1×D, W is H×C; cols(x) ≠ rows(W): D ≠ H"


class TestElementwise:
    def test_hadamard_and_division_broadcast(self):
        assert shapes("x ∘ y")["="] == ("n", 1)
        assert shapes("1 ./ x", "x: (n, 1)")["="] == ("n", 1)
        assert shapes("X ./ c", "X: (N, D)", "c: (N, 1)")["="] == ("N", "D")

    def test_division_by_a_dimension(self):
        e = typed("CE(Y, P) / N", "X: (N, D)").objective
        assert e.op == "div" and e.args[1] == DimSize("N") and e.shape == ()

    def test_elementwise_power_keeps_the_shape(self):
        e = typed("x .^ 2", "x: (n, 1)").objective
        assert e.op == "epow" and e.shape == ("n", 1)


class TestTransposeInversePower:
    def test_transpose(self):
        assert shapes("x^T", "x: (n, 1)")["="] == (1, "n")

    def test_inverse_of_a_square_matrix(self):
        assert typed("A^-1", "A: (n, n)").objective.op == "inv"
        assert shape_error("inv(A)", "A: (2, 3)") == "A⁻¹: A is 2×3; inv needs a square matrix"

    def test_integer_powers_are_products(self):
        square = typed("A^2", "A: (n, n)").objective
        assert square == Op("matmul", (Sym("A", ("n", "n")),) * 2, ("n", "n"))
        assert typed("A^0", "A: (n, n)").objective == Identity(("n", "n"))
        inverse = Op("inv", (Sym("A", ("n", "n")),), ("n", "n"))
        assert typed("A^-2", "A: (n, n)").objective == Op("matmul", (inverse, inverse), ("n", "n"))
        assert typed("A^3", "A: (n, n)").objective.shape == ("n", "n")

    def test_power_stays_only_for_scalars(self):
        assert typed("||x||^2").objective.op == "pow"
        assert typed("lambda^0.5").objective.shape == ()
        assert shape_error("A^2", "A: (2, 3)").endswith("pow needs a square matrix")

    def test_kron(self):
        assert shapes("A ⊗ B", "A: (m, n)", "B: (p, q)")["="] == ("m*p", "n*q")


# --- functions, by signature ---------------------------------------------------

class TestFunctions:
    def test_elementwise_and_same(self):
        assert shapes("relu(x W)", "x: (1, D)", "W: (D, H)")["="] == (1, "H")
        assert shapes("softmax(X)", "X: (N, C)")["="] == ("N", "C")

    @pytest.mark.parametrize("f", ["tr", "det", "logdet"])
    def test_square_scalar(self, f):
        assert shapes(f"{f}(A)", "A: (n, n)")["="] == ()
        assert shape_error(f"{f}(A)", "A: (2, 3)") == f"{f}(A): A is 2×3; {f} needs a square matrix"

    def test_square_scalar_makes_a_product_square(self):
        assert shapes("tr(A B)", "A: (n, m)") == {"A": ("n", "m"), "B": ("m", "n"), "=": ()}

    def test_scalar(self):
        assert shapes("sum(X) + norm(X)", "X: (n, m)")["="] == ()

    def test_pair_scalar(self):
        assert shapes("CE(y, p)", "y: (1, C)") == {"y": (1, "C"), "p": (1, "C"), "=": ()}
        assert "CE needs two arguments of one shape" in shape_error("CE(y, p)", "y: (1, C)", "p: (C, 1)")

    def test_diag(self):
        assert shapes("diag(x)", "x: (1, n)")["="] == ("n", "n")
        assert shapes("diag(x)")["="] == ("n", "n")
        assert shapes("diag(A)", "A: (n, n)")["="] == ("n", 1)
        assert shape_error("diag(A)", "A: (2, 3)").endswith("diag needs a vector or a square matrix")

    def test_vec_and_kron_sizes_match_in_any_order(self):
        assert shapes("vec(X)", "X: (m, n)")["="] == ("m*n", 1)
        # d vec(A X B) = (Bᵀ ⊗ A) d vec X: n*m rows of the kron meet m*n of vec
        assert shapes("kron(B^T, A) vec(X)", "A: (m, m)", "X: (m, n)", "B: (n, n)")["="] == ("m*n", 1)

    def test_rowwise_scalar(self):
        assert shapes("logsumexp(x)", "x: (n, 1)")["="] == ()
        assert shapes("logsumexp(X)", "X: (N, C)")["="] == ("N", 1)

    def test_commutation(self):
        e = typed("commutation(m, n) vec(X)", "X: (m, n)").objective
        assert e.args[0].shape == ("m*n", "m*n") and e.args[0].args == (DimSize("m"), DimSize("n"))


# --- kinds by case, and the constraints that override them ------------------------

class TestKinds:
    def test_defaults_by_case(self):
        assert shapes("A") == {"A": ("n", "m"), "=": ("n", "m")}
        assert shapes("x") == {"x": ("n", 1), "=": ("n", 1)}
        assert shapes("theta")["theta"] == () and shapes("θ")["theta"] == ()

    def test_x_W_makes_x_a_row(self):
        assert shapes("x W")["x"] == (1, "n")

    def test_softmax_of_theta_beside_y(self):
        assert shapes("CE(y, softmax(θ))")["theta"] == ("n", 1)
        assert shapes("CE(Y, softmax(θ))", "Y: (N, C)")["theta"] == ("N", "C")

    def test_uppercase_yields_to_a_row(self):
        assert shapes("CE(y, X)", "y: (1, C)")["X"] == (1, "C")

    def test_lowercase_yields_to_a_square(self):
        assert shapes("tr(x)")["x"] == ("n", "n")

    def test_quadratic_form_with_nothing_declared(self):
        assert shapes("x^T A x") == {"x": ("n", 1), "A": ("n", "n"), "=": ()}

    def test_two_layer_net_with_nothing_declared(self):
        s = shapes("CE(y, softmax(relu(xW+b1)U+b2))")
        assert s == {"x": (1, "n"), "W": ("n", "m"), "b1": (1, "m"), "U": ("m", "k"),
                     "b2": (1, "k"), "y": (1, "k"), "=": ()}
        assert typed("CE(y, softmax(relu(xW+b1)U+b2))").dims == ["n", "m", "k"]

    def test_a_contradicted_default_is_relaxed(self):
        # θ W cannot be a scaled W (W is D×C, the result 1×C): θ is a row
        assert shapes("CE(y, θ W)", "y: (1, C)", "W: (D, C)")["theta"] == (1, "D")

    def test_a_scalar_plus_a_vector(self):
        s = shapes("w^T x + b", "b: ()")
        assert s["w"] == s["x"] == ("n", 1) and s["="] == ()

    def test_fresh_names_skip_taken_ones(self):
        assert shapes("n^T A n")["n"] == ("m", 1)
        assert shapes("x^T W", "x: (n, 1)")["W"] == ("n", "m")


class TestDeclarations:
    def test_declared_shapes_are_kept(self):
        assert shapes("a^T X b", "a: (m, 1)", "X: (m, n)", "b: (n, 1)")["X"] == ("m", "n")

    def test_kinds_are_recorded(self):
        t = typed("x^T A x", "x: (n, 1)", "A: (n, n) symmetric", "y: (1, C) onehot")
        assert t.kinds == {"A": "symmetric", "y": "onehot"}

    def test_spd_must_be_square(self):
        assert shape_error("A", "A: (2, 3) spd") == "A is declared 2×3 spd: not square"

    def test_scalar_declaration(self):
        assert shapes("lambda x", "lambda: ()", "x: (n, 1)")["="] == ("n", 1)

    def test_a_definition_must_match_its_declaration(self):
        program = SurfaceProgram({"z": Declaration("z", (1, "D"), None, 1),
                                  "x": Declaration("x", (1, "H"), None, 2)},
                                 [Definition("z", parse_expr("x + 1"), 3)], "")
        with pytest.raises(ShapeError, match="z is declared 1×D but defined as 1×H"):
            infer_shapes(program)


CS224N = ["x: (1, D)", "W: (D, H)", "b1: (1, H)", "U: (H, C)", "b2: (1, C)", "y: (1, C) onehot",
          "z = x W + b1", "h = relu(z)", "theta = h U + b2", "yhat = softmax(theta)", "J = CE(y, yhat)"]


class TestPrograms:
    def test_cs224n(self):
        t = typed("", *CS224N)
        assert t.shapes == {"x": (1, "D"), "W": ("D", "H"), "b1": (1, "H"), "U": ("H", "C"),
                            "b2": (1, "C"), "y": (1, "C"), "z": (1, "H"), "h": (1, "H"),
                            "theta": (1, "C"), "yhat": (1, "C"), "J": ()}
        assert t.dims == ["D", "H", "C"]
        assert t.objective == Sym("J", ())
        assert list(t.definitions) == ["z", "h", "theta", "yhat", "J"]
        # a reference to another definition is a typed Sym
        assert t.definitions["h"] == Op("relu", (Sym("z", (1, "H")),), (1, "H"))

    def test_cs224n_undeclared(self):
        t = typed("", *[line for line in CS224N if "=" in line])
        assert t.shapes["W"] == ("n", "m") and t.shapes["y"] == (1, "k") and t.shapes["yhat"] == (1, "k")

    def test_objective_other_than_the_last_definition(self):
        assert typed("h", *CS224N).objective == Sym("h", (1, "H"))

    def test_error_positions_point_into_the_program(self):
        with pytest.raises(ShapeError) as info:
            typed("", "x: (3, 1)", "W: (4, 5)", "z = x W", "J = sum(z)")
        assert (info.value.line, info.value.column) == (3, 5)
        assert "^" in str(info.value)

    def test_equal_subtrees_share_their_typed_node(self):
        e = typed("x W + x W").objective
        assert e.args[0] is e.args[1]


class TestConstants:
    def test_identity_takes_its_size_from_context(self):
        assert typed("A + I", "A: (n, n)").objective.args[1] == Identity(("n", "n"))
        assert typed("I A", "A: (n, m)").objective.args[0] == Identity(("n", "n"))
        assert shape_error("A + I", "A: (2, 3)").startswith("A + I: A is 2×3, I is 2×2")

    def test_identity_without_context_takes_the_target(self):
        assert typed("I", "X: (n, n)", target=("n", "n")).objective == Identity(("n", "n"))

    def test_ones_takes_size_and_orientation(self):
        e = typed("ones^T G", "G: (N, H)").objective
        assert e.args[0] == Op("T", (Ones(("N", 1)),), (1, "N")) and e.shape == (1, "H")
        assert typed("G ones", "G: (N, H)").objective.args[1] == Ones(("H", 1))

    def test_each_ones_is_sized_where_it_stands(self):
        e = typed("ones^T A + ones^T B", "A: (n, m)", "B: (k, m)").objective
        assert [a.args[0].args[0].shape for a in e.args] == [("n", 1), ("k", 1)]

    def test_batch_bias_gradient(self):
        assert shapes("2 ones^T (X W + b - T)", "X: (N, D)", "W: (D, H)", "b: (1, H)", "T: (N, H)")["="] == (1, "H")


# --- build ------------------------------------------------------------------------

class TestBuild:
    A, B = Sym("A", ("n", "m")), Sym("B", ("m", "k"))
    s = Sym("s", ())

    def test_mul_resolves(self):
        assert build("mul", (self.A, self.B)).op == "matmul"
        assert build("mul", (self.A, self.s)) == Op("scale", (self.s, self.A), ("n", "m"))

    def test_broadcast(self):
        assert build("add", (self.A, Sym("b", (1, "m")))).shape == ("n", "m")
        with pytest.raises(ShapeError, match=r"rows\(A\) ≠ rows\(B\)"):
            build("add", (self.A, self.B))

    def test_functions_and_powers(self):
        assert build("sum", (self.A,)).shape == ()
        assert build("pow", (Sym("C", ("n", "n")), Num(Fraction(2)))).op == "matmul"
        assert build("kron", (self.A, self.B)).shape == ("m*n", "k*m")
        with pytest.raises(ShapeError):
            build("tr", (self.A,))
        with pytest.raises(UnknownFunctionError):
            build("frobnicate", (self.A,))

    def test_shape_of_needs_a_typed_node(self):
        assert shape_of(self.A) == ("n", "m")
        with pytest.raises(ShapeError):
            shape_of(Sym("x"))


# --- the corpus -------------------------------------------------------------------

def _consistent(shapes: dict, declarations: dict) -> bool:
    return all(shapes[n] == (d.shape if d.shape != (1, 1) else ()) for n, d in declarations.items())


@pytest.mark.parametrize("case", corpus_cases())
def test_corpus_shapes(case):
    program = parse_program("\n".join(case["where"]))
    f = infer_shapes(program, parse_expr(case["f"], program.names))
    assert _consistent(f.shapes, program.declarations)
    wrt = f.shapes[case["wrt"]]
    gradient = case["order"] == 1 and case["category"] != "jacobian"
    target = wrt if gradient else None
    expected = infer_shapes(program, parse_expr(case["expected"], program.names), target=target)
    assert _consistent(expected.shapes, program.declarations)
    if gradient:
        assert f.objective.shape == ()
        assert expected.objective.shape == wrt
        # the answer has the shape of X by itself, not only when told (``I`` aside)
        if "I" not in case["expected"].split():
            assert infer_shapes(program, parse_expr(case["expected"], program.names)).objective.shape == wrt


# --- scale --------------------------------------------------------------------------

def layers(n: int):
    lines = []
    previous = "x"
    for i in range(n):
        lines += [f"z{i} = {previous} W{i} + b{i}", f"h{i} = relu(z{i})"]
        previous = f"h{i}"
    lines.append(f"J = sum({previous})")
    return parse_program("\n".join(lines))


def test_a_thousand_definitions_infer_in_linear_work():
    t = infer_shapes(layers(500))
    assert t.shapes["x"] == (1, "n") and t.shapes["h499"][0] == 1 and len(t.dims) == 501
    # twice the layers, twice the work (quadratic inference would be 4 times)
    small, large = layers(100), layers(200)
    assert python_calls(infer_shapes, large) <= 2.2 * python_calls(infer_shapes, small)


def test_deep_nesting_does_not_recurse():
    e = Sym("x")
    for _ in range(5000):
        e = Op("tanh", (e,))
    program = SurfaceProgram({}, [Definition("J", Op("sum", (e,)), 1)], "")
    assert infer_shapes(program).shapes == {"x": ("n", 1), "J": ()}
