"""The printer (SPEC §2: everything matcalc prints parses back to the same
expression): unicode and ASCII spellings, minimal parentheses, names spelled
back from their canonical form, and trees of any depth."""
import random
from fractions import Fraction

import pytest

from matcalc.language.errors import LimitError, MatcalcError
from matcalc.language.expr import Identity, Num, Ones, Op, Sym, Zero, num
from matcalc.language.parser import parse_expr
from matcalc.language.printer import to_ascii, to_text

from conftest import python_calls

x, y, W = Sym("x"), Sym("y"), Sym("W")


def op(name, *args):
    return Op(name, args)


def round_trips(tree, known=frozenset()) -> bool:
    return all(parse_expr(text, known) == tree for text in (to_text(tree), to_ascii(tree)))


# --- how each form is written ------------------------------------------------

@pytest.mark.parametrize("text, unicode, ascii", [
    ("x^T A x", "xᵀ A x", "x^T A x"),
    ("a - b", "a − b", "a - b"),
    ("a - 2", "a − 2", "a - 2"),
    ("-a", "−a", "-a"),
    ("a .* b", "a ∘ b", "a .* b"),
    ("a ./ b", "a / b", "a / b"),
    ("a ⊗ b", "a ⊗ b", "kron(a, b)"),
    ("A^-1", "A⁻¹", "A^-1"),
    ("inv(X)^T", "X⁻ᵀ", "X^-T"),
    ("A^T^-1", "Aᵀ⁻¹", "A^T^-1"),
    ("||x||^2", "‖x‖²", "||x||^2"),
    ("‖A‖_F", "‖A‖", "||A||"),
    ("x^-2", "x⁻²", "x^-2"),
    ("x^0.5", "x^0.5", "x^0.5"),
    ("x .^ 2", "x .^ 2", "x .^ 2"),
    ("sigmoid(z)", "σ(z)", "sigmoid(z)"),
    ("trace(A)", "tr(A)", "tr(A)"),
    ("theta + lambda", "θ + λ", "theta + lambda"),
    ("ŷ - y", "ŷ − y", "yhat - y"),
    ("δ2 + x̄ + ỹ + Σ", "δ2 + x̄ + ỹ + Σ", "delta2 + xbar + ytilde + Sigma"),
    ("Alpha", "Alpha", "Alpha"),             # Α would look like a Latin A
    ("xW", "x W", "x W"),                     # names in a product never glue
    ("2x", "2 x", "2 x"),
    ("ones^T G", "onesᵀ G", "ones^T G"),
    ("𝟙 + I", "ones + I", "ones + I"),
    ("1e-3 + .5 + 1e-9", "0.001 + 0.5 + 1e-9", "0.001 + 0.5 + 1e-9"),
])
def test_spellings(text, unicode, ascii):
    tree = parse_expr(text)
    assert (to_text(tree), to_ascii(tree)) == (unicode, ascii)
    assert to_text(tree, unicode=False) == ascii


@pytest.mark.parametrize("text, printed", [
    ("(A + A^T) x", "(A + A^T) x"),
    ("X (b c^T + c b^T)", "X (b c^T + c b^T)"),
    ("a - (b + c)", "a - (b + c)"),
    ("a + (b + c)", "a + (b + c)"),
    ("(a + b) + c", "a + b + c"),
    ("a ./ (b c)", "a / (b c)"),
    ("(a ∘ b) ./ c", "(a .* b) / c"),
    ("a ∘ (b c)", "a .* b c"),
    ("x (-y)", "x (-y)"),
    ("-(x y)", "-(x y)"),
    ("(-x) y", "-x y"),
    ("(-2)^2", "(-2)^2"),
    ("-(2^2)", "-2^2"),
    ("(x^2)^3", "(x^2)^3"),
    ("(x y)^T", "(x y)^T"),
    ("x (y z)", "x (y z)"),
    ("(x y) z", "x y z"),
    ("(xW)^T", "(x W)^T"),
    ("xW^T", "x W^T"),
    ("((a .* sigmoid(W x)) .* (1 - sigmoid(W x))) x^T",
     "(a .* sigmoid(W x) .* (1 - sigmoid(W x))) x^T"),
])
def test_minimal_parentheses(text, printed):
    assert to_ascii(parse_expr(text)) == printed


def test_juxtaposed_norm_inside_a_norm_gets_parentheses():
    tree = op("norm", op("mul", x, op("norm", y)))
    assert to_text(tree) == "‖(x ‖y‖)‖"
    assert round_trips(tree)


def test_sigma_before_parentheses_is_no_call():
    """Sym sigma is σ; σ (a + b) would read as sigmoid(a + b)."""
    tree = op("mul", Sym("sigma"), op("add", x, y))
    assert to_text(tree) == "σ · (x + y)"
    assert to_ascii(tree) == "sigma (x + y)"
    assert round_trips(tree)


def test_a_power_of_an_inverse_keeps_its_superscripts_apart():
    tree = op("pow", op("inv", x), num(2))
    assert to_text(tree) == "(x⁻¹)²"
    assert round_trips(tree)


@pytest.mark.parametrize("value, text", [
    (Fraction(1, 2), "0.5"), (Fraction(1, 1000), "0.001"), (Fraction(1, 10**9), "1e-9"),
    (Fraction(-5, 4), "-1.25"), (Fraction(1, 3), "1/3"), (Fraction(10**30), str(10**30)),
])
def test_numbers_are_exact(value, text):
    assert to_ascii(Num(value)) == text


def test_typed_nodes_print_like_their_surface_form():
    assert to_text(op("matmul", op("T", x), W)) == "xᵀ W"
    assert to_text(op("scale", num(2), x)) == "2 x"
    assert to_text(op("scale", num(-1), op("matmul", x, W))) == "−x W"   # −(x W) = (−x) W
    assert to_text(op("add", y, op("scale", num(-2), x))) == "y − 2 x"
    assert to_text(op("T", op("scale", num(-1), op("matmul", x, W)))) == "(−x W)ᵀ"
    assert to_text(op("add", Zero(), Identity())) == "0 + I"
    assert to_text(op("logsumexp", Ones())) == "logsumexp(ones)"


def test_known_long_names_round_trip():
    tree = parse_expr("logits - yhat", frozenset({"logits"}))
    assert to_ascii(tree) == "logits - yhat"
    assert round_trips(tree, frozenset({"logits"}))


# --- round trips ----------------------------------------------------------------

_LEAVES = [x, W, Sym("theta"), Sym("yhat"), Sym("b1"), Sym("lambda"), Sym("sigma"),
           Sym("W_2"), Identity(), Ones(), num(2), num(Fraction(1, 2)), num(-3),
           num(Fraction(1, 10**9)), num(0)]
_BINARY = ["add", "mul", "had", "div", "kron", "CE"]
_UNARY = ["neg", "T", "inv", "pow", "epow", "norm", "tr", "exp", "sigmoid", "softmax"]


def random_surface_tree(rng: random.Random, depth: int):
    """A tree the parser can build (negated literals are negative numbers,
    a power is never ^-1, which is the inverse)."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(_LEAVES)
    kind = rng.choice(_BINARY + _UNARY)
    if kind in _BINARY:
        return op(kind, random_surface_tree(rng, depth - 1), random_surface_tree(rng, depth - 1))
    arg = random_surface_tree(rng, depth - 1)
    if kind == "neg":
        return Num(-arg.value) if isinstance(arg, Num) else op("scale", num(-1), arg)
    if kind == "pow":
        return op("pow", arg, num(rng.choice([2, 3, -2, 0, Fraction(1, 2)])))
    if kind == "epow":
        return op("epow", arg, num(rng.choice([2, -1, Fraction(-1, 2)])))
    return op(kind, arg)


def test_random_trees_round_trip():
    rng = random.Random(11)
    for _ in range(3000):
        tree = random_surface_tree(rng, rng.randint(1, 6))
        assert parse_expr(to_text(tree)) == tree, to_text(tree)
        assert parse_expr(to_ascii(tree)) == tree, to_ascii(tree)


def test_random_text_round_trips():
    """Whatever random token soup parses, prints back to the same tree."""
    rng = random.Random(5)
    vocabulary = ["x", "W", "b1", "θ", "ŷ", "yhat", "λ", "2", "0.5", "1e-3", "I", "ones", "𝟙",
                  "+", "-", "*", "·", "∘", ".*", "./", "/", "⊗", "^T", "ᵀ", "'", ".T", "^-1",
                  "⁻¹", "^-T", "⁻ᵀ", "^2", "²", "^{-1}", ".^2", "(", ")", "(", ")", "‖", "||",
                  "_F", "tr(", "softmax(", "σ(", ",", "sigma", "xW", "λ (", "Wb("]
    known = frozenset({"yhat"})
    parsed = 0
    for _ in range(20000):
        text = "".join(rng.choice(vocabulary) + rng.choice(["", " "])
                       for _ in range(rng.randint(1, 12)))
        try:
            tree = parse_expr(text, known)
        except MatcalcError:
            continue
        parsed += 1
        assert round_trips(tree, known), text
    assert parsed > 500


@pytest.mark.parametrize("text", [
    "CE(y, softmax(relu(x W + b1) U + b2))",
    "-sum(y .* log(sigmoid(X w)) + (1 - y) .* log(1 - sigmoid(X w)))",
    "diag(softmax(x)) - softmax(x) softmax(x)^T",
    "2 ones^T (X W + b - T)",
    "||X w - y||^2 + lambda ||w||^2",
    "det(X) inv(X)^T",
])
def test_corpus_like_expressions_round_trip(text):
    assert round_trips(parse_expr(text, frozenset({"lambda"})))


# --- deep and large trees ------------------------------------------------------------

def chain(depth, step):
    tree = x
    for i in range(depth):
        tree = step(tree, i)
    return tree


@pytest.mark.parametrize("step", [
    lambda t, i: op("T", t),
    lambda t, i: op("add", y, t) if i % 2 else op("mul", t, W),
    lambda t, i: op("norm", op("mul", y, t)),
    lambda t, i: op("scale", num(-1), t),
], ids=["transposes", "sums-and-products", "norms", "negations"])
def test_ten_thousand_deep_trees_print_in_linear_time(step):
    tree = chain(10_000, step)
    text, ascii = to_text(tree), to_ascii(tree)
    assert len(text) >= 10_000 and len(ascii) >= 10_000

    def work(depth):
        tree = chain(depth, step)
        return python_calls(lambda: (to_text(tree), to_ascii(tree)))

    # twice the depth, twice the work (quadratic printing would be 4 times)
    assert work(2000) <= 2.2 * work(1000)


def test_exponential_text_of_a_shared_dag_is_a_limit_error():
    tree = chain(60, lambda t, i: op("add", t, t))
    with pytest.raises(LimitError):
        to_text(tree)
