"""Text -> surface tree (SPEC §2): ``parse_expr`` for one expression,
``parse_program`` for lines of declarations and definitions.

The syntax lives in ``grammar/matcalc.lark``; one Transformer
(``SurfaceBuilder``, a method per grammar rule) turns lark's tree into
``matcalc.language.expr`` nodes with ``shape=None``::

    parse_expr("x^T A x")   == mul(mul(T(x), A), x)
    parse_expr("a - b")     == add(a, scale(-1, b))
    parse_expr("‖A‖_F^2")   == pow(norm(A), 2)
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction

from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import VisitError

from .errors import LimitError, MatcalcError, ParseError, UnknownFunctionError
from .expr import Expr, Identity, Num, Ones, Op, Sym, free_symbols, make_shape, num
from .functions import CALLABLE_OPERATORS, RULE_ONLY, SPELLINGS, UNSUPPORTED, canonical_function, function_names, lookup
from .names import is_letter_name, split_word, word_units
from .syntax import syntax_tree

# Safety limits (SPEC §9; the others are in matcalc.language.syntax).
MAX_WORD = 100        # characters in one run of letters
MAX_NUMBER = 1_000    # characters in one number literal
MAX_EXPONENT = 400    # |e| in a literal like 1e-400

KINDS = ("symmetric", "spd", "onehot", "integer")


@dataclass(frozen=True)
class Declaration:
    """``A : (n, n) symmetric`` -> Declaration("A", ("n", "n"), "symmetric", line)."""

    name: str
    shape: tuple  # () for a scalar, else (rows, cols) of ints / dimension names
    kind: str | None
    line: int


@dataclass(frozen=True)
class Definition:
    """``h = relu(z)`` -> Definition("h", relu(z), line)."""

    name: str
    expr: Expr
    line: int


@dataclass(frozen=True)
class SurfaceProgram:
    """The declarations and definitions of a program, in source order."""

    declarations: dict[str, Declaration]
    definitions: list[Definition]
    source: str
    # how runs of letters were read: (line, word, pieces), ``xW`` -> x W
    splits: tuple = ()

    @property
    def dimensions(self) -> frozenset[str]:
        """The dimension names of the declarations (``batch`` in ``X: (batch, D)``)."""
        return frozenset(d for decl in self.declarations.values() for d in decl.shape
                         if isinstance(d, str))

    @property
    def names(self) -> frozenset[str]:
        """Every declared or defined name and every dimension name (canonical
        spelling): the words an expression of the program reads whole."""
        return (frozenset(self.declarations) | {d.name for d in self.definitions}
                | self.dimensions)


def parse_expr(text: str, known_names: frozenset[str] = frozenset(), splits: list | None = None) -> Expr:
    """Parse one expression.  Longer words in ``known_names`` are names;
    other runs of letters split into single-letter names:
    ``parse_expr("xW") == mul(x, W)``, ``parse_expr("yhat", {"yhat"}) == yhat``.
    Each split is appended to ``splits`` (when given) as (line, word, pieces).
    """
    tree = syntax_tree(text, "expression")
    builder = SurfaceBuilder(known_names)
    expr = _transform(builder, tree, text)
    if splits is not None:
        splits.extend(builder.splits)
    return expr


def parse_program(text: str) -> SurfaceProgram:
    """Parse declarations (``x : (1, D)``) and definitions (``z = x W + b1``),
    one a line or separated by ``;``, ``#`` starting a comment.  Every
    definition is read with all the program's names known; a definition may
    use only names defined before it."""
    tree = syntax_tree(text, "program")
    declared = {_word_name(s.children[0]) for s in tree.children if s.data == "declaration"}
    dimensions = {_word_name(token) for s in tree.children if s.data == "declaration"
                  for token in s.children[1].scan_values(lambda v: isinstance(v, Token) and v.type == "WORD")}
    defined = {_word_name(s.children[0]): s.children[0]
               for s in reversed(tree.children) if s.data == "definition"}  # the first wins
    builder = SurfaceBuilder(declared | dimensions | set(defined), definitions=defined)
    declarations, definitions = _transform(builder, tree, text)
    return SurfaceProgram(declarations, definitions, text, tuple(builder.splits))


def build_surface(tree: Tree, text: str, known_names: frozenset[str] = frozenset()) -> Expr:
    """The surface ``Expr`` of one expression subtree of lark's tree of
    ``text`` (a side of a rule in a rule file)."""
    return _transform(SurfaceBuilder(known_names), tree, text)


def _transform(builder: "SurfaceBuilder", tree: Tree, text: str):
    try:
        return builder.transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, MatcalcError):
            err.orig_exc.source = text
            raise err.orig_exc from None
        raise


# --- names -------------------------------------------------------------------

def _units(token: Token) -> list[str]:
    """The canonical units of a word (``ŷ1`` -> yhat, 1), or a located error."""
    if len(token) > MAX_WORD:
        raise LimitError(f"name too long (more than {MAX_WORD} letters)",
                         line=token.line, column=token.column)
    try:
        return word_units(str(token))
    except ValueError as bad:
        raise ParseError(f"unsupported letter '{bad}' in '{token}'",
                         line=token.line, column=token.column) from None


def _word_name(token: Token) -> str:
    """The canonical spelling of a declared or defined name: ``θ`` -> theta."""
    return "".join(_units(token))


def _is_function_word(token: Token, units: list[str]) -> bool:
    """``exp``, ``trace``: a function's spelling (``σ`` alone is sigma, a name)."""
    return len(units) > 1 and canonical_function(str(token)) is not None


def _leaf(name: str) -> Expr:
    if name == "I":
        return Identity()
    if name == "ones":
        return Ones()
    return Sym(name)


def _span(token: Token) -> tuple[int, int]:
    return (token.line, token.column)


def _product(factors: list[Expr], span) -> Expr:
    """Left-associated juxtaposition: x W b -> mul(mul(x, W), b)."""
    result = factors[0]
    for factor in factors[1:]:
        result = Op("mul", (result, factor), span=span)
    return result


def _negate(e: Expr, span) -> Expr:
    """-a is scale(-1, a); the negation of a literal number is a negative number."""
    if isinstance(e, Num):
        return Num(-e.value)
    return Op("scale", (Num(Fraction(-1)), e), span=span)


def _raised(base: Expr, exponent, span) -> Expr:
    """base^T, base^-T, base^-1 and base^k (k a number or an expression)."""
    if isinstance(exponent, str):
        if exponent == "T":
            return Op("T", (base,), span=span)
        return Op("T", (Op("inv", (base,), span=span),), span=span)  # -T
    k = _folded(exponent) if isinstance(exponent, Expr) else num(exponent)
    if k == Num(Fraction(-1)):
        return Op("inv", (base,), span=span)
    return Op("pow", (base, k), span=span)


def _folded(e: Expr) -> Expr:
    """An exponent of numbers alone, as one number: ``1/3``, ``-(1/2)``, ``2 + 1``."""
    values: dict = {}
    for node in e.walk():
        if isinstance(node, Num):
            values[node] = node.value
        elif isinstance(node, Op) and all(a in values for a in node.args):
            args = [values[a] for a in node.args]
            if node.op == "add":
                values[node] = args[0] + args[1]
            elif node.op in ("mul", "scale"):
                values[node] = args[0] * args[1]
            elif node.op == "div" and args[1] != 0:
                values[node] = args[0] / args[1]
    return Num(values[e]) if e in values else e


def _number(token: Token) -> Fraction:
    """An exact value: 0.5 -> 1/2, 1e-3 -> 1/1000."""
    text = str(token)
    exponent = text.lower().partition("e")[2]
    if len(text) > MAX_NUMBER or (exponent and abs(int(exponent)) > MAX_EXPONENT):
        raise LimitError(f"number out of range: {text[:20]}", line=token.line, column=token.column)
    return Fraction(text)


def _shown(pattern) -> str:
    return str(pattern.value) if isinstance(pattern, Num) else pattern


def _size_argument(e, callee: Token):
    """The size given to eye(n): a positive integer or a dimension name."""
    if isinstance(e, Sym):
        return e.name
    if isinstance(e, Num) and e.value.denominator == 1 and e.value >= 1:
        return 1 if e.value == 1 else int(e.value)
    raise ParseError("eye(n) takes a size: a positive integer or a dimension name",
                     line=callee.line, column=callee.column)


_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def _arity(function: str) -> int:
    found = lookup(function)  # the function table, or d(·) inside rule files
    if found is not None:
        return found.arity
    return CALLABLE_OPERATORS[function][1]


def _close_functions(word: str, cutoff: float = 0.75) -> list[str]:
    """Function spellings a mistyped call was probably meant to be."""
    names = sorted(n for n in function_names() | set(_spellings()) if n.isascii())
    same_letters = [n for n in names if n.lower() == word.lower()]
    return same_letters or difflib.get_close_matches(word, names, n=3, cutoff=cutoff)


@dataclass(frozen=True)
class _Spelling:
    """One line of ``functions.SPELLINGS``: ``norm(x, 1): sum(abs(x))``."""

    arguments: tuple  # per argument: a parameter name, a Num, or a quoted word (str in quotes)
    meaning: str


def _spellings() -> dict[str, list[_Spelling]]:
    """``functions.SPELLINGS`` by word, in table order."""
    if not _SPELLING_TABLE:
        for line in SPELLINGS.strip().splitlines():
            pattern, meaning = (part.strip() for part in line.split("):", 1))
            word, _, arguments = pattern.partition("(")
            parsed = []
            for argument in (a.strip() for a in arguments.split(",")):
                if argument[0] in "'\"":
                    parsed.append("'" + argument[1:-1] + "'")
                elif argument[0].isdigit():
                    parsed.append(Num(Fraction(argument)))
                else:
                    parsed.append(argument)
            _SPELLING_TABLE.setdefault(word, []).append(_Spelling(tuple(parsed), meaning))
    return _SPELLING_TABLE


_SPELLING_TABLE: dict[str, list[_Spelling]] = {}
_MEANINGS: dict[tuple, Expr] = {}


def _argument_fits(pattern, argument) -> bool:
    if isinstance(pattern, Num):
        return argument == pattern
    if pattern.startswith("'"):
        return isinstance(argument, Token) and argument[1:-1] == pattern[1:-1]
    return isinstance(argument, Expr)


def _substitute(e: Expr, bindings: dict) -> Expr:
    """``e`` with its names in ``bindings`` replaced (no recursion)."""
    memo: dict = {}
    for node in e.walk():
        if isinstance(node, Sym) and node.name in bindings:
            memo[node] = bindings[node.name]
        elif isinstance(node, Op):
            args = tuple(memo.get(a, a) for a in node.args)
            if args != node.args:
                memo[node] = Op(node.op, args, node.shape, node.span)
    return memo.get(e, e)


@v_args(inline=True)
class SurfaceBuilder(Transformer_NonRecursive):
    """lark tree -> surface ``Expr``; one method per rule of matcalc.lark.

    A run of letters split into names (``xW``), or a name before parentheses
    (``λ (a + b)``), reads as if written with spaces: a postfix operator takes
    its last factor (``xWᵀ`` is ``x Wᵀ``) and a product or minus before it
    takes its first (``a xW`` is ``(a x) W``).  Such words are recorded in
    ``_words`` until parentheses seal them.
    """

    def __init__(self, known_names=frozenset(), definitions=None):
        super().__init__()
        self._known = frozenset(known_names)
        self._definitions = dict(definitions or {})  # name -> the token defining it
        self._seen: dict[str, tuple[str, int]] = {}  # name -> ("declared"|"defined", line)
        self._words: dict[int, tuple[Expr, tuple]] = {}  # id(product) -> (product, factors)
        self.splits: list[tuple] = []  # (line, word, pieces) of each run of letters split

    # expressions: sums and products

    def expression(self, e):
        return e

    # a chain (a + b - c, a ∘ b ./ c, a b * c) folds to the left: its
    # operators in order, each applied to what came before and its operand

    @v_args(inline=False)
    def terms(self, children):
        """a + b - c -> add(add(a, b), scale(-1, c))"""
        return self._fold(children, {"PLUS": self.add, "MINUS": self.sub})

    @v_args(inline=False)
    def elementwise_factors(self, children):
        """a ∘ b ./ c -> div(had(a, b), c)"""
        return self._fold(children, {"HADAMARD": self.had, "ELEMENTWISE_DIV": self.div})

    @v_args(meta=True)
    def factors(self, meta, children):
        """a * b ⊗ c / s d -> mul(div(kron(mul(a, b), c), s), d); a juxtaposed
        factor (no operator before it) is a product too"""
        def juxtaposed(a, b):
            return self._joined("mul", a, b, (meta.line, meta.column))
        return self._fold(children, {"TIMES": self.mul, "KRON": self.kron, "SLASH": self.div}, juxtaposed)

    def _fold(self, children, operators, juxtaposed=None):
        result, i = children[0], 1
        while i < len(children):
            item = children[i]
            if isinstance(item, Token) and item.type in operators:
                result = operators[item.type](result, item, children[i + 1])
                i += 2
            else:
                result = juxtaposed(result, item)
                i += 1
        return result

    def add(self, a, op, b):
        return Op("add", (a, b), span=_span(op))

    def sub(self, a, op, b):
        """a - b -> add(a, scale(-1, b))"""
        return Op("add", (a, _negate(b, _span(op))), span=_span(op))

    def had(self, a, op, b):
        return Op("had", (a, b), span=_span(op))

    def div(self, a, op, b):
        """a / s, a ./ b and a ⊘ b are one node: div(a, b)"""
        if op.type == "SLASH":
            return self._joined("div", a, b, _span(op))
        return Op("div", (a, b), span=_span(op))

    def mul(self, a, op, b):
        """a * b, a @ b, a · b -> mul(a, b)"""
        return self._joined("mul", a, b, _span(op))

    def kron(self, a, op, b):
        """a ⊗ b -> kron(a, b)"""
        return self._joined("kron", a, b, _span(op))

    def neg(self, op, e):
        """-a -> scale(-1, a); -2 -> Num(-2)"""
        first, *rest = self._factors(e)
        return self._word([_negate(first, _span(op)), *rest], _span(op))

    def group(self, e):
        """(a): parentheses seal a word, (xW)ᵀ is T(mul(x, W))"""
        self._words.pop(id(e), None)
        return e

    # postfix operators

    def transpose(self, e, op):
        """xᵀ, x', x.T -> T(x)"""
        return self._postfix(e, op, lambda base: _raised(base, "T", _span(op)))

    def inverse_transpose(self, e, op):
        """A⁻ᵀ -> T(inv(A))"""
        return self._postfix(e, op, lambda base: _raised(base, "-T", _span(op)))

    def superscript(self, e, op):
        """A⁻¹ -> inv(A); x² -> pow(x, 2)"""
        k = int(op.translate(_SUPERSCRIPT_DIGITS))
        return self._postfix(e, op, lambda base: _raised(base, k, _span(op)))

    def power(self, e, op, exponent):
        """A^T, A^-T, A^-1, A^{-1}, x^2, x^0.5, x^(1/3), X^k; e^(u) -> exp(u)
        (when e is not a name of the program)"""
        def raised(base):
            if base == Sym("e") and "e" not in self._known and not isinstance(exponent, str):
                return Op("exp", (exponent if isinstance(exponent, Expr) else num(exponent),), span=_span(op))
            return _raised(base, exponent, _span(op))
        return self._postfix(e, op, raised)

    def elementwise_power(self, e, op, exponent):
        """x .^ 2 -> epow(x, 2); x .^ p, x .^ (1/3)"""
        k = _folded(exponent) if isinstance(exponent, Expr) else num(exponent)
        return self._postfix(e, op, lambda base: Op("epow", (base, k), span=_span(op)))

    def transpose_exponent(self, _t):
        return "T"

    def inverse_transpose_exponent(self, _minus, _t):
        return "-T"

    def signed_number(self, *tokens):
        value = _number(tokens[-1])
        return -value if len(tokens) == 2 else value

    # atoms

    def number(self, token):
        return num(_number(token))

    def ones(self, _token):
        return Ones()

    def norm(self, bar, e, _closing, *subscript):
        """‖a‖, ||a||, ‖A‖_F, ‖a‖_2 -> norm(a); ‖a‖_1 -> sum(abs(a))"""
        if subscript and "1" in subscript[0]:
            return Op("sum", (Op("abs", (e,), span=_span(bar)),), span=_span(bar))
        return Op("norm", (e,), span=_span(bar))

    def name(self, token):
        """x -> x; θ -> theta; xW -> mul(x, W); I -> Identity; ones -> Ones"""
        units = _units(token)
        if _is_function_word(token, units):
            raise ParseError(f"'{token}' is a function: call it as {token}(...)",
                             line=token.line, column=token.column)
        word = "".join(units)
        if word == "eye" and word not in self._known:  # numpy's and MATLAB's identity
            return Identity()
        pieces = split_word(units, self._is_name)
        if len(pieces) > 1:
            self.splits.append((token.line, str(token), tuple(pieces)))
        return self._word([_leaf(p) for p in pieces], _span(token))

    def call(self, callee, *args):
        """tr(A) -> tr(A); trace(A) -> tr(A); σ(x) -> sigmoid(x); norm(x, 1)
        -> sum(abs(x)) (``functions.SPELLINGS``); λ (a + b) -> mul(lambda,
        a + b), since lambda is a name.  Any other word before parentheses is
        an UnknownFunctionError: it is never split into letters."""
        word = str(callee)
        units = _units(callee)
        name = "".join(units)
        function = canonical_function(word)
        product = name in self._known or name in ("I", "ones") or (function is None and word not in _spellings()
                                          and self._is_single_name(units))
        if product and len(args) == 1 and isinstance(args[0], Expr):
            return self._word([_leaf(name), args[0]], _span(callee))
        rule_only = word in RULE_ONLY and lookup(word) is RULE_ONLY[word]  # eye(n) in a rule file
        spelled = None if rule_only else self._spelled(word, args, callee)
        if spelled is not None:
            return spelled
        plain = not any(isinstance(a, Token) for a in args)
        if function is not None and plain and (len(args) == _arity(function) or word not in _spellings()):
            return self._apply(function, args, callee)
        advice = UNSUPPORTED.get(word) or UNSUPPORTED.get(word.lower())
        if advice is not None:
            raise UnknownFunctionError(f"'{word}' is not supported: {advice}",
                                       line=callee.line, column=callee.column)
        if function is not None or word in _spellings():
            forms = [f"{word}({', '.join(_shown(p) for p in s.arguments)})" for s in _spellings().get(word, [])]
            if function is not None:
                forms.append(f"{word}({', '.join('abcd'[:_arity(function)])})")
            raise ParseError(f"{word}({', '.join('…' if isinstance(a, Expr) else str(a) for a in args)}) is "
                             f"not a form matcalc knows; write one of: {', '.join(dict.fromkeys(forms))}",
                             line=callee.line, column=callee.column)
        raise UnknownFunctionError(f"unknown function '{callee}'",
                                   suggestions=_close_functions(word, cutoff=0.6),
                                   line=callee.line, column=callee.column)

    def _is_single_name(self, units: list[str]) -> bool:
        """``λ``, ``b1``, ``W_2``, ``ŷ``: one letter with digits and subscripts."""
        return len(split_word(units, lambda text, _end: is_letter_name(text))) == 1

    def _spelled(self, word: str, args: tuple, callee: Token) -> Expr | None:
        """The meaning of a spelling of another tool (``functions.SPELLINGS``)."""
        for spelling in _spellings().get(word, []):
            if len(spelling.arguments) != len(args) or not all(
                    _argument_fits(p, a) for p, a in zip(spelling.arguments, args)):
                continue
            params = tuple(p for p in spelling.arguments if isinstance(p, str) and not p.startswith("'"))
            key = (word, spelling.arguments)
            if key not in _MEANINGS:
                _MEANINGS[key] = parse_expr(spelling.meaning, known_names=frozenset(params))
            meaning = _MEANINGS[key]
            bindings = {p: a for p, a in zip(spelling.arguments, args) if p in params}
            if isinstance(meaning, Identity) and len(bindings) == 1:  # eye(n): the n×n identity
                size = _size_argument(next(iter(bindings.values())), callee)
                return num(1) if size == 1 else Identity((size, size))
            return _substitute(meaning, bindings)
        return None

    def _apply(self, function: str, args: tuple, callee: Token) -> Expr:
        expected = _arity(function)
        if len(args) != expected:
            plural = "" if expected == 1 else "s"
            raise ParseError(f"{callee} takes {expected} argument{plural}, got {len(args)}",
                             line=callee.line, column=callee.column)
        return Op(function, tuple(args), span=_span(callee))

    def _is_name(self, text: str, _reaches_end: bool) -> bool:
        return text in self._known or text == "ones" or is_letter_name(text)


    # words: products that read as if their factors were written apart

    def _word(self, factors: list, span) -> Expr:
        product = _product(factors, span)
        if len(factors) > 1:
            self._words[id(product)] = (product, tuple(factors))
        return product

    def _factors(self, e: Expr) -> tuple:
        entry = self._words.get(id(e))
        return entry[1] if entry is not None and entry[0] is e else (e,)

    def _joined(self, op: str, a: Expr, b: Expr, span) -> Expr:
        """a op b for a product-level op; `a / xW` reads as `a / x W`."""
        first, *rest = self._factors(b)
        return _product([Op(op, (a, first), span=span), *rest], span)

    def _postfix(self, e: Expr, token: Token, build) -> Expr:
        """A postfix operator on the last factor: xWᵀ is x Wᵀ."""
        *rest, last = self._factors(e)
        return self._word([*rest, build(last)], _span(token))

    # programs

    def program(self, *statements):
        declarations = {s.name: s for s in statements if isinstance(s, Declaration)}
        definitions = [s for s in statements if isinstance(s, Definition)]
        return declarations, definitions

    def declaration(self, token, shape, kind):
        """x : (1, D) onehot"""
        name = self._claim(token, "declared")
        if kind is not None and str(kind) not in KINDS:
            raise ParseError(f"unknown kind '{kind}': expected one of {', '.join(KINDS)}",
                             suggestions=difflib.get_close_matches(str(kind), KINDS, n=1),
                             line=kind.line, column=kind.column)
        return Declaration(name, shape, None if kind is None else str(kind), token.line)

    def definition(self, token, e):
        """h = relu(z)"""
        name = self._claim(token, "defined")
        for used in sorted(free_symbols(e)):
            later = self._definitions.get(used)
            if used == name or (later is not None and later.start_pos > token.start_pos):
                where = "itself" if used == name else f"'{used}', defined later (line {later.line})"
                raise ParseError(f"'{name}' is defined in terms of {where}",
                                 line=token.line, column=token.column)
        return Definition(name, e, token.line)

    def scalar_shape(self):
        return ()

    def shape(self, rows, cols):
        """(1, D) -> (1, "D"); (1, 1) -> ()"""
        return make_shape(self._dimension(rows), self._dimension(cols))

    def _dimension(self, token: Token):
        if token.type == "WORD":
            return _word_name(token)
        value = _number(token)
        if value.denominator != 1 or value < 1:
            raise ParseError(f"a dimension is a positive integer or a name, not {token}",
                             line=token.line, column=token.column)
        return int(value)

    def _claim(self, token: Token, how: str) -> str:
        """The canonical name a statement declares or defines, once only."""
        units = _units(token)
        name = "".join(units)
        if name in ("I", "ones") or _is_function_word(token, units):
            raise ParseError(f"'{token}' is reserved (a constant or a function)",
                             line=token.line, column=token.column)
        if name in self._seen:
            earlier, line = self._seen[name]
            raise ParseError(f"'{name}' is already {earlier} on line {line}",
                             line=token.line, column=token.column)
        self._seen[name] = (how, token.line)
        return name
