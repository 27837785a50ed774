"""Text -> lark tree: the grammar file, the post-lexer between lark's lexer
and parser, the safety limits, and syntax errors with friendly messages
(SPEC §9: a line, a column and a caret; never a hang or a crash).

``matcalc.language.parser`` turns the tree into expression nodes.
"""
from __future__ import annotations

import functools
from pathlib import Path

import lark
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput
from lark.grammar import Rule
from lark.lark import PostLex
from lark.lexer import TerminalDef

from . import cache
from .errors import LimitError, MatcalcError, ParseError

MAX_TOKENS = 25_000   # lark needs ~15 µs a token: this bounds a parse to ~0.4 s
MAX_DEPTH = 1000      # operator nesting (every stage after the parser is iterative; this bounds the work)


def syntax_tree(text: str, start: str) -> Tree:
    """lark's tree of ``text`` read as ``start`` ("expression", "program" or
    "rule_file"), or a ParseError / LimitError located in ``text``."""
    try:
        tree = _lark(_PARSERS[start]).parse(text, start=start)
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    except MatcalcError as err:
        err.source = text
        raise err from None
    _check_depth(tree, text)
    return tree


def grammar_path() -> Path:
    """The grammar inside the installed package, else in the repository."""
    package = Path(__file__).resolve().parents[1]  # installed: matcalc/grammar; a checkout: grammar/
    for folder in (package / "grammar", package.parent / "grammar"):
        if (folder / "matcalc.lark").is_file():
            return folder / "matcalc.lark"
    raise FileNotFoundError("matcalc.lark not found beside the matcalc package")


# rule files have a parser of their own: their keywords (when, assume, tag)
# stay ordinary names in the user's expressions
_PARSERS = {"expression": ("expression", "program"), "program": ("expression", "program"),
            "rule_file": ("rule_file",)}


_grammar_path = grammar_path  # (the name the tests know)


def grammar_cache_name(starts: tuple, grammar: Path | None = None) -> str:
    """The cache file of the parse tables: keyed by the package version,
    the grammar's bytes and lark's version."""
    return f"grammar-{'-'.join(starts)}-{cache.key(grammar or grammar_path(), 'lark ' + lark.__version__)}.json"


@functools.cache
def _lark(starts: tuple = ("expression", "program")) -> Lark:
    """The LALR parser of ``starts``.  Its tables (about 30 ms to build) are
    cached as JSON data (``matcalc.language.cache``, keyed by the grammar's hash and
    lark's version) and rebuilt when the file is missing or not valid."""
    options = {"postlex": Postlexer(), "propagate_positions": True}
    name = grammar_cache_name(starts)
    saved = cache.read(name, {})
    if isinstance(saved, dict) and set(saved) == {"data", "memo"}:
        try:
            return Lark._load_from_dict(saved["data"], saved["memo"], **options)
        except Exception:  # noqa: BLE001 - a foreign or damaged file: build the tables again
            pass
    parser = Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", start=list(starts),
                  maybe_placeholders=True, **options)
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in ("postlex", "propagate_positions")}
    cache.write(name, {"data": data, "memo": memo})
    return parser


# binary operators and separators: an operand must follow
_OPERATORS = {"PLUS", "MINUS", "HADAMARD", "ELEMENTWISE_DIV", "TIMES", "KRON", "SLASH",
              "COMMA", "EQUAL", "COLON"}
# tokens after which a line goes on (a newline after one is no line break)
_CONTINUING = _OPERATORS | {"CARET", "ELEMENTWISE_POW"}
# tokens after which an operand is complete (a bar after one closes a norm)
_OPERAND_ENDS = {"NUMBER", "WORD", "RPAR", "RBRACE", "NORM_CLOSE", "NORM_SUBSCRIPT",
                 "TRANSPOSE", "INV_TRANSPOSE", "SUPERSCRIPT", "TEE", "ONES_SYMBOL"}
_OPENING = {"LPAR": "RPAR", "LBRACE": "RBRACE", "NORM_OPEN": "NORM_CLOSE"}
_BRACKET_NAMES = {"LPAR": "parenthesis", "LBRACE": "brace", "NORM_OPEN": "norm"}


class Postlexer(PostLex):
    """The token stream between lark's lexer and parser:

    * each ``‖`` / ``||`` becomes an opening or a closing bar: it closes the
      innermost open bracket when that is a norm and the bar follows a
      complete operand.  ``‖x‖ ‖y‖`` is two norms; a norm juxtaposed inside a
      norm needs parentheses: ``‖(x ‖y‖)‖``;
    * a newline inside brackets or after an operator continues the line
      (``J = a +⏎ b``);
    * more than ``MAX_TOKENS`` tokens is a LimitError.
    """

    always_accept = ("NORM_BAR", "_NL")  # the lexer passes them everywhere; process() decides

    def process(self, stream):
        open_brackets: list[str] = []
        previous = None
        for count, token in enumerate(stream, 1):
            if count > MAX_TOKENS:
                raise LimitError(f"input too long (more than {MAX_TOKENS} tokens)",
                                 line=token.line, column=token.column)
            if token.type == "_NL" and (open_brackets or previous in _CONTINUING):
                continue
            if token.type == "NORM_BAR":
                closes = open_brackets[-1:] == ["NORM_OPEN"] and previous in _OPERAND_ENDS
                token = Token.new_borrow_pos("NORM_CLOSE" if closes else "NORM_OPEN", token.value, token)
            if token.type in _OPENING:
                open_brackets.append(token.type)
            elif open_brackets and token.type == _OPENING[open_brackets[-1]]:
                open_brackets.pop()
            previous = token.type
            yield token


def _check_depth(tree: Tree, text: str) -> None:
    """Operator nesting beyond MAX_DEPTH is refused (measured iteratively, so
    the check itself cannot overflow)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise LimitError(f"expression nested too deeply (more than {MAX_DEPTH} levels);"
                             " split it into definitions", source=text,
                             line=node.meta.line, column=node.meta.column)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _syntax_error(err: UnexpectedInput, text: str) -> ParseError:
    """lark's position plus a friendly message for the common mistakes, read
    off the parser's stack: ``x +* y`` is a missing operand after '+',
    ``tr(A B`` an unclosed parenthesis (the caret under it)."""
    def located(message, where):
        return ParseError(message, source=text, line=where.line, column=where.column)

    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream]
        shown = f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
        return ParseError(f"unexpected character {shown}", source=text,
                          line=err.line, column=err.column)
    parser = getattr(err, "interactive_parser", None)
    stack = parser.parser_state.value_stack if parser is not None else []
    token = getattr(err, "token", None)
    if token is None:
        return ParseError("syntax error", source=text, line=1, column=1)
    previous = stack[-1] if stack and isinstance(stack[-1], Token) else None
    previous_type = previous.type if previous is not None else None
    unclosed = [t for t in stack if isinstance(t, Token) and t.type in _BRACKET_NAMES]
    at_end = token.type == "$END"
    if at_end and not any(_is_content(v) for v in stack):
        return ParseError("empty expression", source=text, line=1, column=1)
    if previous_type == "CARET":
        return located("expected T, -1, a number or a name after '^' (or an expression in"
                       " parentheses: x^(1/3))", token)
    if previous_type == "ELEMENTWISE_POW":
        return located("expected a number or a name after '.^' (or an expression in"
                       " parentheses: x .^ (1/3))", token)
    if previous_type in _OPERATORS:
        return located(f"missing operand after '{previous}'", token)
    if at_end and sum(t.type == "NORM_OPEN" for t in unclosed) >= 2:
        return located("unclosed norm (inside a norm, write a juxtaposed norm in"
                       " parentheses: ‖(x ‖y‖)‖)", unclosed[-1])
    if at_end and unclosed:
        return located(f"unclosed {_BRACKET_NAMES[unclosed[-1].type]}", unclosed[-1])
    if token.type == "RPAR" and previous_type == "LPAR":
        return located("empty parentheses", token)
    if token.type == "RPAR" and not any(t.type == "LPAR" for t in unclosed):
        return located("unmatched ')'", token)
    if at_end:
        return located("unexpected end of input", token)
    shown = {"WORD": f"name '{token}'", "NUMBER": f"number {token}",
             "_NL": "end of line"}.get(token.type, f"'{token}'")
    return located(f"unexpected {shown}", token)


def _is_content(value) -> bool:
    """Whether a parser stack entry holds some of the user's expression
    (newlines and lark's helper trees for ``_NL*`` do not)."""
    if isinstance(value, Token):
        return value.type != "_NL"
    return not str(value.data).startswith("__")
