"""Everyday LaTeX answers -> the matcalc expression language (SPEC §7).

A translator over tokens, not a pile of regexes: the text is cut into
commands (``\\mathbf``), braces, ``^``, ``_``, single letters, numbers and
operators; a small recursive reader turns them into pieces of matcalc text,
which the ordinary parser then reads.  So ``\\mathbf{x}^\\top \\delta_2``
becomes ``x^T delta2`` and parses to the same tree as the plain answer::

    >>> latex_to_expr_text(r"\\mathbf{x}^\\top \\delta_2")
    'x^T delta2'
    >>> latex_to_expr_text(r"\\frac{1}{N} \\mathbf{1}^{T} (\\hat{y} - y)")
    '((1) / (N)) ones^T ( yhat - y )'

Conventions chosen here:

* a digit subscript joins the name: ``b_1`` and ``W_{2}`` are ``b1`` and
  ``W2`` (``W_2`` when the problem names it so and has no ``W2``), a layer
  index ``W^{(2)}`` is ``W2``; a letter subscript stays one: ``x_i``;
* ``\\hat{y}`` is ``yhat`` (also ``\\bar``, ``\\tilde``), ``\\mathbf{1}`` is
  ``ones``, ``\\sigma(z)`` is ``sigmoid(z)`` (``\\sigma`` alone is sigma);
* ``\\frac{a}{b}`` is ``(a) / (b)``; ``\\|x\\|``, ``\\lVert x \\rVert`` are
  norms, ``_F`` / ``_2`` after them kept; ``\\log x`` is ``log(x)``;
* ``\\circ``, ``\\odot`` are ``∘``; ``\\oslash`` is ``⊘``; ``\\cdot``,
  ``\\times`` a product; ``\\otimes`` is ``⊗``.

Errors are ``ParseError`` with the column in the LaTeX text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ParseError
from .functions import canonical_function

GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
         "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
         "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
         "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
           "widetilde": "tilde"}
FONTS = {"mathbf", "boldsymbol", "bm", "mathit", "mathsf", "vec", "mathbb", "mathcal", "pmb"}
WORDS = {"text", "textrm", "textit", "mathrm", "operatorname", "textsf", "texttt"}
FUNCTION_COMMANDS = {"log": "log", "ln": "log", "exp": "exp", "det": "det", "tanh": "tanh",
                     "sin": "sin", "cos": "cos", "tr": "tr", "Tr": "tr", "trace": "tr",
                     "diag": "diag", "softmax": "softmax", "sgn": "sgn", "max": "max", "min": "min",
                     "tan": "tan", "arctan": "arctan", "arcsin": "arcsin", "arccos": "arccos",
                     "sinh": "sinh", "cosh": "cosh"}
OPERATORS = {"circ": "∘", "odot": "∘", "oslash": "⊘", "cdot": "·", "times": "·", "ast": "*",
             "otimes": "⊗", "top": "ᵀ", "intercal": "ᵀ", "prime": "'"}
NORM_BARS = {"|", "Vert", "lVert", "rVert"}
SPACES = {",", ";", ":", "!", " ", "quad", "qquad", "enspace", "thinspace", "displaystyle",
          "textstyle", "limits", "nolimits"}
SIZES = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
         "biggl", "biggr", "Biggl", "Biggr", "middle"}
DELIMITERS = {"(": "(", ")": ")", "[": "(", "]": ")", "\\{": "(", "\\}": ")", "\\langle": "(",
              "\\rangle": ")", ".": ""}
TRANSPOSES = {"T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\text{T}", "\\mathsf{\\top}", "t"}

_TOKEN = re.compile(r"""
    (?P<command>\\(?:[A-Za-z]+|.))       # \mathbf, \|, \{, \,
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<space>\s+)
  | (?P<op>\.\*|\./|\.\^|\|\||.)        # single characters, and .* ./ .^ ||
""", re.VERBOSE | re.DOTALL)


@dataclass
class Token:
    kind: str   # command, number, space, letter, op, end
    text: str
    column: int  # 1-based


def tokenize(text: str) -> list[Token]:
    """``\\hat{y}_1`` -> command ``\\hat``, op ``{``, letter ``y``, op ``}``, op ``_``, number ``1``."""
    tokens = []
    for m in _TOKEN.finditer(text):
        kind, value = m.lastgroup, m.group()
        if kind == "op" and value.isalpha():
            kind = "letter"
        elif kind == "op" and 0x300 <= ord(value[0]) <= 0x36F and tokens and tokens[-1].kind == "letter":
            tokens[-1].text += value  # a combining accent belongs to its letter
            continue
        tokens.append(Token(kind, value, m.start() + 1))
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def looks_like_latex(text: str) -> bool:
    """Whether an answer is LaTeX: a backslash command, or braces after ^ or _
    that our language would not write (``x^{\\top}``, ``W_{2}``)."""
    return bool(re.search(r"\\[A-Za-z|]|_\{|\^\{(?!-?\d+\}|-?T\})", text))


@dataclass
class Piece:
    """A piece of matcalc text; ``name`` pieces take subscripts and accents."""

    text: str
    kind: str  # name, run (plain letters), function, norm, other


class _Reader:
    def __init__(self, text: str, names):
        self.source = text
        self.tokens = [t for t in tokenize(text)]
        self.pos = 0
        self.names = frozenset(names or ())

    # -- tokens ---------------------------------------------------------------
    def _index(self, skip_space: bool) -> int:
        i = self.pos
        while skip_space and self.tokens[i].kind == "space":
            i += 1
        return i

    def peek(self, skip_space=True) -> Token:
        return self.tokens[self._index(skip_space)]

    def take(self, skip_space=True) -> Token:
        i = self._index(skip_space)
        token = self.tokens[i]
        self.pos = min(i + 1, len(self.tokens) - 1)  # the end token stays
        return token

    def take_argument(self) -> Token:
        """One TeX argument token: ``\\frac12`` reads 1 then 2, ``x^23`` is x² 3."""
        i = self._index(True)
        token = self.tokens[i]
        if token.kind == "number" and len(token.text) > 1:
            self.tokens[i] = Token("number", token.text[1:], token.column + 1)
            self.pos = i
            return Token("number", token.text[0], token.column)
        return self.take()

    def error(self, message: str, token: Token) -> ParseError:
        return ParseError(message, source=self.source, line=1, column=token.column)

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text:
            shown = "the end" if token.kind == "end" else f"'{token.text}'"
            raise self.error(f"expected '{text}' but found {shown}", token)
        return token

    # -- sequences --------------------------------------------------------------
    def sequence(self, closing: str | None) -> list[Piece]:
        """Pieces up to ``closing`` (not consumed) or the end."""
        pieces: list[Piece] = []
        while True:
            token = self.peek(skip_space=False)
            if token.kind == "end" or (closing is not None and token.text == closing):
                if token.kind == "end" and closing is not None:
                    raise self.error(f"missing '{closing}'", token)
                return pieces
            if token.kind == "space":
                self.take(skip_space=False)
                if pieces and pieces[-1].kind == "run":
                    pieces[-1] = Piece(pieces[-1].text, "name")  # a space ends a run of letters
                continue
            if token.text in ("^", "_", "'"):
                if not pieces:
                    raise self.error(f"'{token.text}' with nothing before it", token)
                self.take()
                pieces[-1] = self.postfix(pieces[-1], token)
                continue
            piece = self.atom()
            if piece is None:
                continue
            if piece.kind == "run" and pieces and pieces[-1].kind == "run":
                pieces[-1] = Piece(pieces[-1].text + piece.text, "run")  # xW, softmax
            else:
                pieces.append(piece)

    def group_text(self) -> str:
        """The text of ``{...}`` or of one token (``^T``, ``_2``)."""
        token = self.peek()
        if token.text == "{":
            self.take()
            pieces = self.sequence("}")
            self.expect("}")
            return join(pieces)
        if token.kind == "number":
            return self.take_argument().text
        piece = self.atom()
        if piece is None:
            raise self.error("expected an argument", token)
        return piece.text

    def raw_group(self) -> str:
        """The LaTeX source of ``{...}`` or one token, unconverted (for ``^{\\top}``)."""
        token = self.take_argument()
        if token.kind == "end":
            raise self.error("missing an argument at the end", token)
        if token.text[1:] in FONTS | WORDS:  # ^\mathsf{T}
            return token.text + "{" + self.raw_group() + "}"
        if token.text != "{":
            return token.text
        depth, parts = 1, []
        while True:
            t = self.take(skip_space=False)
            if t.kind == "end":
                raise self.error("missing '}'", t)
            depth += {"{": 1, "}": -1}.get(t.text, 0)
            if depth == 0:
                return "".join(parts).strip()
            parts.append(t.text)

    # -- atoms ----------------------------------------------------------------
    def atom(self) -> Piece | None:
        token = self.take()
        kind, text = token.kind, token.text
        if kind == "letter":
            return Piece(text, "run")
        if kind == "number":
            return Piece(text, "other")
        if text == "{":
            pieces = self.sequence("}")
            self.expect("}")
            inner = join(pieces)
            return pieces[0] if len(pieces) == 1 else Piece(f"({inner})", "other")
        if text == "[":
            return self.bracket("]", token)
        if text == "]":
            return Piece(DELIMITERS[text], "other")
        if text in ("}", "&", "$", "#", "%"):
            raise self.error(f"unexpected '{text}'", token)
        if kind == "op":
            return Piece(text, "other")
        return self.command(token)

    def command(self, token: Token) -> Piece | None:
        name = token.text[1:]
        if name in SPACES:
            return None
        if name in SIZES:
            return self.delimiter(token)
        if name in NORM_BARS:
            return Piece("‖", "norm")
        if name == "{":
            return self.bracket("\\}", token)
        if name == "}":
            return Piece(DELIMITERS[token.text], "other")
        if name in GREEK:
            return self.greek(name.removeprefix("var"))
        if name in ACCENTS:
            base = self.group_text().strip()
            if not re.fullmatch(r"[A-Za-z]+", base):
                raise self.error(f"\\{name} over '{base}': put the accent on one letter", token)
            return Piece(base + ACCENTS[name], "name")
        if name in FONTS:
            return self.font(token)
        if name in WORDS:
            return self.word(self.raw_group(), token)
        if name in FUNCTION_COMMANDS:
            return self.function(FUNCTION_COMMANDS[name])
        if name in OPERATORS:
            return Piece(OPERATORS[name], "other")
        if name in ("frac", "dfrac", "tfrac"):
            numerator, denominator = self.group_text(), self.group_text()
            return Piece(f"(({numerator}) / ({denominator}))", "other")
        if name == "sqrt":
            return Piece(f"sqrt({self.group_text()})", "other")
        if name in ("sum", "prod", "partial", "nabla", "int"):
            raise self.error(f"\\{name} is not supported in answers: write the matrix form "
                             "(sum(...), onesᵀ A, ...)", token)
        raise self.error(f"unknown LaTeX command \\{name}", token)

    def bracket(self, closing: str, token: Token) -> Piece:
        """``[ ... ]`` or ``\\{ ... \\}``: grouping, or the Iverson bracket
        ``[z > 0]`` (the indicator of z > 0, relu's derivative: ``step(z)``)."""
        pieces = self.sequence(closing)
        self.expect(closing)
        return Piece(self.indicator(pieces, token) or f"({join(pieces)})", "other")

    def indicator(self, pieces: list[Piece], token: Token) -> str | None:
        """``step(u)`` for the pieces of ``u > 0`` (or ``0 < u``); None when
        there is no comparison; an error for one matcalc cannot write."""
        texts = [p.text for p in pieces]
        if not any(t in (">", "<") for t in texts):
            return None
        if texts.count(">") + texts.count("<") == 1:
            i = texts.index(">") if ">" in texts else texts.index("<")
            left, right = join(pieces[:i]).strip(), join(pieces[i + 1:]).strip()
            if texts[i] == ">" and right == "0" and left:
                return f"step({left})"
            if texts[i] == "<" and left == "0" and right:
                return f"step({right})"
        raise self.error("an indicator matcalc reads is [u > 0] (that is step(u)); "
                         f"not [{join(pieces)}]", token)

    def greek(self, name: str) -> Piece:
        if name == "sigma" and self.peek().text in ("(", "\\left", "\\big", "\\Big", "\\bigl"):
            return self.function("sigmoid")
        return Piece(name, "name")

    def delimiter(self, token: Token) -> Piece | None:
        """``\\left(`` -> ``(``; ``\\left\\|`` -> a norm bar; ``\\right.`` -> nothing."""
        delim = self.take()
        if delim.text in ("\\|", "|", "\\Vert", "\\lVert", "\\rVert", "||"):
            return Piece("‖", "norm")
        if delim.text not in DELIMITERS:
            raise self.error(f"unsupported delimiter after {token.text}", delim)
        text = DELIMITERS[delim.text]
        return Piece(text, "other") if text else None

    def font(self, token: Token) -> Piece:
        """``\\mathbf{x}`` is x, ``\\mathbf{1}`` is ones, ``\\boldsymbol{\\theta}`` theta."""
        inner = self.group_text().strip()
        if inner == "1" and self.peek().text in ("[", "\\{", "_"):  # \mathbb{1}[z > 0]: an indicator
            opening = self.take()
            if opening.text == "_":  # \mathbb{1}_{z > 0}
                return Piece(self.indicator(_Reader(self.raw_group(), self.names).sequence(None), opening)
                             or "ones", "other")
            piece = self.bracket("]" if opening.text == "[" else "\\}", opening)
            if not piece.text.startswith("step("):
                raise self.error(f"{token.text}{{1}}{opening.text}...: an indicator needs a condition "
                                 "like z > 0", opening)
            return piece
        if inner == "1":
            return Piece("ones", "name")
        if inner == "0" or inner == "I":
            return Piece(inner, "name")
        if canonical_function(inner) is not None:
            return self.function(inner)
        return Piece(inner, "name" if re.fullmatch(r"[A-Za-z]+", inner) else "other")

    def word(self, raw: str, token: Token) -> Piece:
        """``\\text{softmax}`` -> a function; ``\\mathrm{T}``, ``\\mathrm{CE}`` -> words."""
        word = raw.replace("\\_", "_").replace(" ", "")
        for spelling in (word, word.lower()):
            if canonical_function(spelling) is not None:
                return self.function(spelling)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", word):
            raise self.error(f"cannot read '{raw}' as a name", token)
        return Piece(word, "name")

    def function(self, name: str) -> Piece:
        """A function: ``\\log(x)`` stays a call; ``\\log x`` becomes ``log(x)``."""
        nxt = self.peek()
        if nxt.text in ("(", "\\left", "\\big", "\\Big", "\\bigl", "\\Bigl") or nxt.kind == "end":
            return Piece(name, "function")
        if nxt.text in ("^", "_"):
            raise self.error(f"write powers of {name} after its argument: {name}(x)^2", nxt)
        argument = self.atom()
        while argument is not None and self.peek().text in ("^", "_", "'"):
            argument = self.postfix(argument, self.take())
        return Piece(f"{name}({argument.text if argument else ''})", "other")

    # -- postfix: ^, _, ' --------------------------------------------------------
    def postfix(self, piece: Piece, token: Token) -> Piece:
        if token.text == "'":
            return Piece(piece.text + "'", "other")
        if token.text == "_":
            return self.subscript(piece, token)
        raw = self.raw_group()
        if raw == "-":  # X^-1, X^-T: TeX would raise only the minus; everyone means X^{-1}
            raw += self.raw_group()
        exponent = raw.replace(" ", "")
        if exponent in TRANSPOSES or exponent == "\\prime":
            return Piece(piece.text + ("'" if exponent == "\\prime" else "^T"), "other")
        if exponent.startswith("-") and exponent[1:] in TRANSPOSES:
            return Piece(piece.text + "^{-T}", "other")
        layer = re.fullmatch(r"\((\d+)\)", exponent)
        if layer and piece.kind in ("name", "run"):
            return Piece(self.joined(piece.text, layer.group(1)), "name")
        if re.fullmatch(r"-?\d+(\.\d+)?", exponent):
            return Piece(f"{piece.text}^{{{exponent}}}", "other")
        hadamard = re.fullmatch(r"\\circ\{?(-?[\d.]+)\}?", exponent)
        if hadamard:
            return Piece(f"{piece.text} .^{{{hadamard.group(1)}}}", "other")
        inner = _Reader(raw, self.names).convert()
        if piece.text == "e":  # e^{x} is exp(x)
            return Piece(f"exp({inner})", "other")
        return Piece(f"{piece.text}^{{{inner}}}", "other")

    def subscript(self, piece: Piece, token: Token) -> Piece:
        sub = self.group_text().replace(" ", "")
        if piece.kind == "norm":
            if sub not in ("F", "2"):
                raise self.error(f"a norm takes the subscript F or 2, not {sub}", token)
            return Piece(f"‖_{sub}", "other")
        if piece.kind not in ("name", "run"):
            raise self.error("a subscript belongs to a name", token)
        if not re.fullmatch(r"[A-Za-z0-9_]+", sub):
            raise self.error(f"cannot read the subscript '{sub}'", token)
        if sub.isdigit():
            return Piece(self.joined(piece.text, sub), "name")
        return Piece(f"{piece.text}_{sub}", "name")

    def joined(self, base: str, digits: str) -> str:
        """``W`` + ``2`` -> ``W2``, or ``W_2`` when the problem knows only that name."""
        plain, underscored = base + digits, f"{base}_{digits}"
        if underscored in self.names and plain not in self.names:
            return underscored
        return plain

    def convert(self) -> str:
        pieces = self.sequence(None)
        return join(pieces)


def join(pieces: list[Piece]) -> str:
    return " ".join(p.text for p in pieces if p.text)


def latex_to_expr_text(text: str, names=()) -> str:
    """The matcalc spelling of a LaTeX expression; ``names`` (the problem's
    names) decide ``W_{2}`` between ``W2`` and ``W_2``.  Raises ParseError.

    >>> latex_to_expr_text(r"\\left\\| X w - y \\right\\|^2")
    '‖ X w - y ‖^{2}'
    """
    return _Reader(text.strip().strip("$"), names).convert()
