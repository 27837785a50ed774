"""The parser (SPEC §2 the expression language, §9 errors): every spelling
desugars to the small core, precedence follows the SPEC's table, runs of
letters split into names, and bad input ends in a located MatcalcError."""
import logging
import random
from fractions import Fraction

import pytest
from lark import Lark

from matcalc.language.errors import LimitError, MatcalcError, ParseError, UnknownFunctionError
from matcalc.language.expr import Identity, Ones, Op, Sym, num
from matcalc.language.parser import Declaration, parse_expr, parse_program
from matcalc.language.printer import to_ascii, to_text
from matcalc.language.syntax import MAX_TOKENS, Postlexer, _grammar_path

from conftest import corpus_cases

a, b, c, x, y, z, n = (Sym(s) for s in "abcxyzn")
A, B, U, W = (Sym(s) for s in "ABUW")


def op(name, *args):
    return Op(name, args)


def neg(e):
    return op("scale", num(-1), e)


def mul(*factors):
    """Left-associated product: mul(x, W, b) is (x W) b."""
    result = factors[0]
    for f in factors[1:]:
        result = op("mul", result, f)
    return result


def T(e):
    return op("T", e)


# --- every spelling of the core operators ------------------------------------

@pytest.mark.parametrize("text, tree", [
    ("a + b", op("add", a, b)),
    ("a - b", op("add", a, neg(b))),       # a - b is a + (-1) b
    ("a − b", op("add", a, neg(b))),
    ("-a", neg(a)),
    ("-2", num(-2)),                       # a negative literal is a number
    ("a - 2", op("add", a, num(-2))),
    ("a b", mul(a, b)), ("a * b", mul(a, b)), ("a @ b", mul(a, b)), ("a · b", mul(a, b)),
    ("2 A", mul(num(2), A)),
    ("a ∘ b", op("had", a, b)), ("a ⊙ b", op("had", a, b)), ("a .* b", op("had", a, b)),
    ("a ./ b", op("div", a, b)), ("a ⊘ b", op("div", a, b)), ("a / b", op("div", a, b)),
    ("a ⊗ b", op("kron", a, b)), ("kron(a, b)", op("kron", a, b)),
])
def test_infix_spellings(text, tree):
    assert parse_expr(text) == tree


@pytest.mark.parametrize("text", ["A^T", "A'", "Aᵀ", "A.T", "A^{T}", "A^⊤", "A⊤", "A^(T)"])
def test_transpose_spellings(text):
    assert parse_expr(text) == T(A)


@pytest.mark.parametrize("text", ["A^-1", "A^{-1}", "A⁻¹", "A^(-1)", "inv(A)", "inverse(A)"])
def test_inverse_spellings(text):
    assert parse_expr(text) == op("inv", A)


@pytest.mark.parametrize("text", ["A^-T", "A^{-T}", "A⁻ᵀ", "A^-1^T"])
def test_inverse_transpose_is_transpose_of_inverse(text):
    assert parse_expr(text) == T(op("inv", A))


@pytest.mark.parametrize("text, k", [
    ("x^2", 2), ("x^{2}", 2), ("x²", 2), ("x³", 3), ("x^-2", -2), ("x⁻²", -2),
    ("x^0.5", Fraction(1, 2)), ("x^{-0.5}", Fraction(-1, 2)),
])
def test_powers(text, k):
    assert parse_expr(text) == op("pow", x, num(k))


@pytest.mark.parametrize("text", ["x .^ 2", "x.^2", "x .^ {2}", "x .^ (2)"])
def test_elementwise_power(text):
    assert parse_expr(text) == op("epow", x, num(2))


@pytest.mark.parametrize("text", ["‖a‖", "||a||", "‖a‖_F", "||a||_F", "‖a‖_2", "norm(a)"])
def test_norm_spellings(text):
    assert parse_expr(text) == op("norm", a)


def test_squared_norm():
    assert parse_expr("||x||^2") == op("pow", op("norm", x), num(2))
    assert parse_expr("‖x‖ ‖y‖") == mul(op("norm", x), op("norm", y))
    assert parse_expr("‖(x ‖y‖)‖") == op("norm", mul(x, op("norm", y)))


@pytest.mark.parametrize("text, tree", [
    ("2", num(2)), ("0", num(0)), ("0.5", num(Fraction(1, 2))), (".5", num(Fraction(1, 2))),
    ("1e-3", num(Fraction(1, 1000))), ("2.5e2", num(250)),
    ("I", Identity()), ("ones", Ones()), ("𝟙", Ones()),
])
def test_constants(text, tree):
    assert parse_expr(text) == tree


@pytest.mark.parametrize("text, function", [
    ("trace(A)", "tr"), ("tr(A)", "tr"), ("σ(x)", "sigmoid"), ("sigmoid(x)", "sigmoid"),
    ("sign(x)", "sgn"), ("logsumexp(x)", "logsumexp"), ("log_softmax(x)", "log_softmax"),
])
def test_function_spellings(text, function):
    assert parse_expr(text).op == function


def test_two_argument_call():
    assert parse_expr("CE(y, softmax(z))") == op("CE", y, op("softmax", z))


# --- precedence (SPEC §2 table, loosest first) --------------------------------

@pytest.mark.parametrize("text, tree", [
    ("x^T A x", mul(T(x), A, x)),                         # postfix before juxtaposition
    ("δ1 Uᵀ ∘ step(z)", op("had", mul(Sym("delta1"), T(U)), op("step", z))),
    ("a ∘ b + c", op("add", op("had", a, b), c)),
    ("A B / n", op("div", mul(A, B), n)),                 # / at the product level
    ("a ./ b c", op("div", a, mul(b, c))),                # ./ at the Hadamard level
    ("-x^2", neg(op("pow", x, num(2)))),                  # postfix before minus
    ("-x y", mul(neg(x), y)),                             # minus before products
    ("a - b - c", op("add", op("add", a, neg(b)), neg(c))),
    ("a -b", op("add", a, neg(b))),                       # a difference, not a (-b)
    ("x (-y)", mul(x, neg(y))),
    ("a * -b", mul(a, neg(b))),
    ("(a + b)^T", T(op("add", a, b))),
    ("x^2^3", op("pow", op("pow", x, num(2)), num(3))),
])
def test_precedence(text, tree):
    assert parse_expr(text) == tree


# --- names (SPEC §2 "Names") ---------------------------------------------------

@pytest.mark.parametrize("text, name", [
    ("b1", "b1"), ("W_2", "W_2"), ("x_i", "x_i"), ("δ2", "delta2"), ("θ", "theta"),
    ("theta", "theta"), ("λ", "lambda"), ("lambda", "lambda"), ("Σ", "Sigma"),
    ("Sigma", "Sigma"), ("Lambda", "Lambda"), ("ŷ", "yhat"), ("y\u0302", "yhat"),
    ("x̄", "xbar"), ("ỹ", "ytilde"), ("yhat", "yhat"), ("σ", "sigma"),
])
def test_single_names(text, name):
    assert parse_expr(text) == Sym(name)


@pytest.mark.parametrize("text, tree", [
    ("xW", mul(x, W)),
    ("xWU", mul(x, W, U)),
    ("xWb1", mul(x, W, Sym("b1"))),
    ("2x", mul(num(2), x)),
    ("xI", mul(x, Identity())),
    ("xWᵀ", mul(x, T(W))),              # a split word reads as if spaced: x Wᵀ
    ("(xW)ᵀ", T(mul(x, W))),
    ("a xW", mul(a, x, W)),
    ("-xW", mul(neg(x), W)),
])
def test_runs_of_letters_split_into_names(text, tree):
    assert parse_expr(text) == tree


def test_known_names_are_whole_words():
    assert parse_expr("loss") == mul(*(Sym(s) for s in "loss"))
    assert parse_expr("loss", frozenset({"loss"})) == Sym("loss")
    assert parse_expr("xloss", frozenset({"loss"})) == mul(x, Sym("loss"))


def test_a_name_before_parentheses_is_a_product():
    assert parse_expr("λ (a + b)") == mul(Sym("lambda"), op("add", a, b))
    assert parse_expr("W1(a)") == mul(Sym("W1"), a)
    assert parse_expr("xW(a)", frozenset({"xW"})) == mul(Sym("xW"), a)
    with pytest.raises(UnknownFunctionError):  # never split into letters
        parse_expr("xW(a)")
    assert parse_expr("2 λ (a + b)") == mul(num(2), Sym("lambda"), op("add", a, b))


def test_a_function_name_needs_its_call():
    with pytest.raises(ParseError, match="exp"):
        parse_expr("exp + x")


def test_unsupported_letter():
    with pytest.raises(ParseError, match="unsupported letter"):
        parse_expr("é")


# --- calls and unknown functions ----------------------------------------------

def test_arity_mismatch():
    with pytest.raises(ParseError, match="tr takes 1 argument, got 2"):
        parse_expr("tr(A, B)")
    with pytest.raises(ParseError, match="CE takes 2 arguments"):
        parse_expr("CE(y)")


@pytest.mark.parametrize("text, suggestion", [
    ("sofmax(x)", "softmax"), ("Softmax(x)", "softmax"), ("sigmod(x)", "sigmoid"),
    ("logsoftmax(x)", "log_softmax"),
])
def test_unknown_function_suggests_close_names(text, suggestion):
    with pytest.raises(UnknownFunctionError) as info:
        parse_expr(text)
    assert suggestion in info.value.suggestions
    assert (info.value.line, info.value.column) == (1, 1)


def test_a_declared_word_is_no_misspelled_function():
    assert parse_expr("sofmax(x)", frozenset({"sofmax"})) == mul(Sym("sofmax"), x)


def test_calling_a_name_with_two_arguments():
    with pytest.raises(UnknownFunctionError, match="unknown function 'f'"):
        parse_expr("f(a, b)")


# --- syntax errors (SPEC §9) ---------------------------------------------------

def error(text, **kwargs) -> MatcalcError:
    with pytest.raises(MatcalcError) as info:
        parse_expr(text, **kwargs)
    return info.value


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "# only a comment"])
def test_empty_expression(text):
    err = error(text)
    assert isinstance(err, ParseError) and "empty expression" in err.message


def test_missing_operand_has_a_caret():
    err = error("x +* y")
    assert isinstance(err, ParseError)
    assert "missing operand after '+'" in err.message
    assert (err.line, err.column) == (1, 4)
    assert str(err).splitlines()[1:] == ["  x +* y", "     ^"]


def test_unclosed_parenthesis_points_at_it():
    err = error("tr(A B")
    assert isinstance(err, ParseError) and "unclosed parenthesis" in err.message
    assert err.column == 3 and err.source == "tr(A B"
    assert "^" in str(err)


@pytest.mark.parametrize("text, message", [
    ("(x))", "unmatched ')'"),
    ("x^*", "after '^'"),
    ("x +", "missing operand after '+'"),
    ("f()", "empty parentheses"),
    ("‖x", "unclosed norm"),
    ("x $ y", "unexpected character '$'"),
    ("x \x00 y", "U+0000"),
    ("x : (1, n)", "unexpected ':'"),
])
def test_friendly_messages(text, message):
    err = error(text)
    assert isinstance(err, ParseError) and message in err.message
    assert err.line == 1 and err.column is not None


def test_error_positions_count_lines():
    err = error("x +\n* y")
    assert (err.line, err.column) == (2, 1)


def test_random_text_only_raises_parse_errors():
    """Control characters and random unicode: a result or a MatcalcError."""
    rng = random.Random(7)
    alphabet = "xAW+-*/^T()‖|∘.,;:= 0123456789ᵀ⁻¹²\x00\x07\x1bθŷ_\n\t'{}é€"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        text += "".join(chr(rng.randrange(0x20, 0x30000)) for _ in range(rng.randint(0, 3)))
        for parse in (parse_expr, parse_program):
            try:
                parse(text)
            except MatcalcError:
                pass


# --- limits (SPEC §9: never a hang or a crash) ---------------------------------

def test_ten_thousand_nested_parentheses():
    text = "(" * 10_000 + "x" + ")" * 10_000
    try:
        assert parse_expr(text) == x
    except MatcalcError:
        pass


@pytest.mark.parametrize("text", [
    "-" * 10_000 + "x",
    "(" * 2_000 + "x" + " + x)" * 2_000,
    "tr(" * 3_000 + "A" + ")" * 3_000,
], ids=["minus", "sum", "calls"])
def test_deep_nesting_is_a_limit_error(text):
    with pytest.raises(LimitError, match="nested too deeply"):
        parse_expr(text)


@pytest.mark.parametrize("operator", [" - ", " ", " ∘ "])
def test_a_chain_of_ten_thousand_operands_is_not_nesting(operator):
    """An associative chain is one flat node of the grammar, folded to the
    left: 10⁴ operands parse, print, and parse back to the same tree."""
    e = parse_expr(operator.join(["x", "y"] * 5_000))
    assert parse_expr(to_text(e)) == e


@pytest.mark.parametrize("text", [
    "x + " * 250_000 + "x",
    "x" * 1_000_000,
    "1" * 1_000_000,
    "x y " * 250_000,
    "".join(random.Random(3).choices("xy+*()^T‖ 2", k=1_000_000)),
], ids=["sum", "word", "number", "product", "garbage"])
def test_megabyte_inputs_end_quickly(text, monkeypatch):
    # the work is bounded by tokens: the parser stops after MAX_TOKENS of them
    tokens = 0
    process = Postlexer.process

    def counted(self, stream):
        nonlocal tokens
        for token in process(self, stream):
            tokens += 1
            yield token

    monkeypatch.setattr(Postlexer, "process", counted)
    with pytest.raises(MatcalcError):
        parse_expr(text)
    assert tokens <= MAX_TOKENS


def test_huge_exponent_is_refused_not_computed():
    with pytest.raises(LimitError):
        parse_expr("1e999999999")


# --- programs -------------------------------------------------------------------

def test_program_declarations_and_definitions():
    program = parse_program(
        "x : (1, D)   # a row\n"
        "W: (D, H)\n"
        "lambda: ()\n"
        "A: (n, n) symmetric; S: (n, n) spd\n"
        "y: (1, C) onehot\n"
        "\n"
        "z = x W + b1\n"
        "h = relu(z)\n")
    assert program.declarations["x"] == Declaration("x", (1, "D"), None, 1)
    assert program.declarations["lambda"].shape == ()
    assert program.declarations["A"].kind == "symmetric"
    assert program.declarations["S"] == Declaration("S", ("n", "n"), "spd", 4)
    assert program.declarations["y"].kind == "onehot"
    assert [(d.name, d.line) for d in program.definitions] == [("z", 7), ("h", 8)]
    assert program.definitions[1].expr == op("relu", z)
    assert program.names == {"x", "W", "lambda", "A", "S", "y", "z", "h"} | program.dimensions
    assert program.dimensions == {"D", "H", "C", "n"}


def test_a_one_by_one_declaration_is_a_scalar():
    assert parse_program("s: (1, 1)").declarations["s"].shape == ()


def test_unicode_names_are_declared_by_their_canonical_spelling():
    program = parse_program("θ = h U + b2\nŷ = softmax(θ)\nJ = CE(y, yhat)")
    assert [d.name for d in program.definitions] == ["theta", "yhat", "J"]
    assert program.definitions[2].expr == op("CE", y, Sym("yhat"))


def test_definitions_read_with_every_name_known():
    program = parse_program("J = sum(logits)\nlogits: (1, n)")
    assert program.definitions[0].expr == op("sum", Sym("logits"))


@pytest.mark.parametrize("text, message", [
    ("h = x\nh = y", "'h' is already defined on line 1"),
    ("x: ()\nx = y", "'x' is already declared on line 1"),
    ("x: ()\nx: (1, n)", "'x' is already declared"),
    ("J = h + 1\nh = x", "defined later (line 2)"),
    ("h = h + 1", "in terms of itself"),
    ("a = x; b = c; c = 1", "defined later"),
    ("A: (n, n) symetric", "unknown kind 'symetric'"),
    ("A: (0, n)", "positive integer"),
    ("I: (n, n)", "reserved"),
    ("exp = x", "reserved"),
    ("x = ", "missing operand after '='"),
])
def test_program_errors(text, message):
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_program(text)


def test_program_error_positions():
    with pytest.raises(ParseError) as info:
        parse_program("x: (1, n)\nh = x\nh = y")
    assert (info.value.line, info.value.column) == (3, 1)


def test_empty_program():
    assert parse_program("# nothing\n\n").names == frozenset()


# --- the grammar ------------------------------------------------------------------

def test_grammar_is_lalr_without_conflicts(caplog):
    with caplog.at_level(logging.DEBUG, logger="lark"):
        Lark(_grammar_path().read_text(encoding="utf-8"), parser="lalr", debug=True,
             start=["expression", "program"], postlex=Postlexer())
    assert not [r for r in caplog.records if "conflict" in r.getMessage().lower()]


# --- the corpus: every where, f and expected parses and round-trips ------------------

@pytest.mark.parametrize("case", corpus_cases())
def test_corpus_parses_and_round_trips(case):
    program = parse_program("\n".join(case["where"]))
    for key in ("f", "expected"):
        tree = parse_expr(case[key], program.names)
        assert parse_expr(to_text(tree), program.names) == tree
        assert parse_expr(to_ascii(tree), program.names) == tree
