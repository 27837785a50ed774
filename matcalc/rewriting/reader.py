"""Reading rule files: text -> ``Rule`` values, by the grammar.

A rule file (``rules/*.rules``) is parsed by the ``rule_file`` start symbol
of ``grammar/matcalc.lark`` (so a malformed rule is a located error with a
caret, as for expressions)::

    %kind adjoint                              what the file holds
    left-product:  A L => Aᵀ G                 name: lhs arrow rhs
    hadamard:      A ∘ L => G ∘ A   when matrix(A)   tag quiet

The kind of each rule is read, never guessed: ``->`` is a simplification;
``=`` an identity whose left side says which (``d(...)`` a differential,
``f'(u)`` a derivative, ``f(u, ...)`` a definition); ``=>`` is a linear map,
an adjoint or a Jacobian as the file's ``%kind`` header declares.  A file
with a header holds only the kinds it names.  ``when`` lists named side
conditions (``predicates.PREDICATES``), ``assume`` one assumption
(``predicates.ASSUMPTIONS``), ``tag`` the behaviours of ``TAGS``.  Every
letter of the left side is a pattern variable.  ``#`` starts a comment.
"""
from __future__ import annotations

from dataclasses import dataclass

from lark import Token, Tree

from ..language import functions
from ..language.errors import MatcalcError, RuleError
from ..language.expr import Expr, Op, PatternVar, Sym
from ..language.parser import build_surface
from ..language.printer import to_text
from ..language.syntax import syntax_tree
from .predicates import ASSUMPTIONS, PREDICATES

KINDS = ("differential", "derivative", "definition", "simplify", "adjoint", "jacobian")

# what a tag in a rule file changes (code asks for a tag, never for a rule's name)
TAGS = {
    "quiet": "bookkeeping (linearity itself, a scalar's transpose): --steps does not name the rule",
    "evaluation": "a rewrite for cheaper evaluation: Jacobians and Hessians are displayed without it",
}

# the letter a linear-map rule's right side passes: the cotangent G (adjoints),
# the Jacobian J of the linear part (Jacobians)
_PASSED = {"adjoint": "G", "jacobian": "J"}


@dataclass(frozen=True)
class Rule:
    """``name: lhs <arrow> rhs [when ...] [assume ...] [tag ...]``, read."""

    name: str
    kind: str
    lhs: Expr
    rhs: Expr
    conditions: tuple = ()  # ((predicate name, pattern variable name), ...)
    assumption: tuple | None = None  # (name in ASSUMPTIONS, pattern variable)
    origin: str = ""  # "file.rules:12"
    function: str | None = None  # derivative / definition rules: which function
    params: tuple = ()  # definition rules: the parameter names
    tags: frozenset = frozenset()  # names in TAGS

    def __str__(self) -> str:
        arrow = {"simplify": "->", "adjoint": "=>", "jacobian": "=>"}.get(self.kind, "=")
        return f"{self.name}: {to_text(self.lhs)} {arrow} {to_text(self.rhs)}"


@dataclass(frozen=True)
class _Line:
    """One rule as the grammar read it, its sides still lark trees."""

    name: str
    kind: str
    left: Tree | Token
    right: Tree | Token
    conditions: tuple
    assumption: tuple | None
    tags: frozenset
    origin: str
    function: str | None
    params: tuple
    line: int
    column: int


class RuleFile:
    """A parsed rule file: its declared kinds and its rules in file order.

    ``definitions`` are known before any side is read (a derivative line may
    name a function the file defines); ``rules()`` reads the sides, within
    whatever functions the caller has put in scope."""

    def __init__(self, text: str, name: str):
        self.text, self.name = text, name
        try:
            tree = syntax_tree(text, "rule_file")
        except MatcalcError as err:
            hint = "a rule is 'name: lhs = rhs' (or ->, =>), then [when ...] [assume ...] [tag ...]"
            raise self._error(f"{err.message}; {hint}", err.line, err.column) from None
        header = next((c for c in tree.children if isinstance(c, Tree) and c.data == "rule_header"), None)
        self.kinds = self._header(header) if header is not None else None
        rules = [c for c in tree.children if isinstance(c, Tree) and c.data == "rule"]
        # the functions this file defines: its derivative lines may name them
        self._defines = {str(r.children[1].children[0]) for r in rules if _defines_function(r)}
        self.lines = [self._line(r) for r in rules]

    @property
    def definitions(self) -> list[tuple[str, int]]:
        """(function name, number of parameters) of each definition line."""
        return [(line.function, len(line.params)) for line in self.lines if line.kind == "definition"]

    def rules(self) -> list[Rule]:
        return [self._rule(line) for line in self.lines]

    # -- the header and the lines ------------------------------------------
    def _header(self, header: Tree) -> tuple:
        keyword, *words = header.children
        kinds = tuple(str(w) for w in words)
        for w in words:
            if str(w) not in KINDS:
                raise self._error(f"unknown kind {str(w)!r}; known: {', '.join(KINDS)}", w.line, w.column)
        return kinds

    def _line(self, tree: Tree) -> _Line:
        name_token, left, arrow, right, *clauses = tree.children
        name = str(name_token)
        origin = f"{self.name}:{name_token.line}"
        where = (name_token.line, name_token.column)
        kind, function, params = self._kind(name, left, str(arrow), where)
        conditions, assumption, tags = [], None, frozenset()
        for clause in clauses:
            if clause.data == "rule_when":
                for condition in clause.children[1:]:
                    predicate, *variables = condition.children
                    if str(predicate) not in PREDICATES:
                        raise self._error(f"rule {name!r}: unknown condition {str(predicate)!r}; known: "
                                          f"{', '.join(sorted(PREDICATES))}", predicate.line, predicate.column)
                    conditions += [(str(predicate), str(v)) for v in variables]
            elif clause.data == "rule_assume":
                _, which, variable = clause.children
                if str(which) not in ASSUMPTIONS:
                    raise self._error(f"rule {name!r}: unknown assumption {str(which)!r}; known: "
                                      f"{', '.join(sorted(ASSUMPTIONS))}", which.line, which.column)
                assumption = (str(which), str(variable))
            else:  # rule_tags
                for tag in clause.children[1:]:
                    if str(tag) not in TAGS:
                        raise self._error(f"rule {name!r}: unknown tag {str(tag)!r}; known: "
                                          f"{', '.join(sorted(TAGS))}", tag.line, tag.column)
                tags = frozenset(str(t) for t in clause.children[1:])
        return _Line(name, kind, left, right, tuple(conditions), assumption, tags, origin, function, params, *where)

    def _kind(self, name: str, left, arrow: str, where: tuple) -> tuple[str, str | None, tuple]:
        """The rule's kind, its function and parameters (derivatives and
        definitions), from its arrow, its left side and the file's header."""
        function, params = None, ()
        if arrow == "->":
            kind = "simplify"
        elif arrow == "=>":  # a linear map: the header says which table it belongs to
            possible = [k for k in _PASSED if self.kinds is not None and k in self.kinds]
            if len(possible) != 1:
                declared = "declares no kind" if self.kinds is None else f"declares %kind {', '.join(self.kinds)}"
                raise self._error(f"rule {name!r}: a '=>' rule is an adjoint or a Jacobian, and the file "
                                  f"{declared} (a first line '%kind adjoint' or '%kind jacobian')", *where)
            kind = possible[0]
        elif isinstance(left, Tree) and left.data == "derivative_left":
            callee, param = left.children
            kind, params = "derivative", (str(param),)
            spelled = str(callee)[:-1]  # without the prime
            function = functions.canonical_function(spelled)
            if function is None and spelled not in self._defines:
                raise self._error(f"rule {name!r}: {spelled!r} is not a function", callee.line, callee.column)
            function = function or spelled
        elif isinstance(left, Tree) and left.data == "call" and _is_definition(left):
            callee, *args = left.children
            kind, function = "definition", str(callee)
            params = tuple(str(a.children[0]) for a in args)
        elif isinstance(left, Tree) and left.data == "call" and str(left.children[0]) == "d":
            kind = "differential"
        else:
            raise self._error(f"rule {name!r}: an identity's left side is d(...), f'(u) or f(u, ...)", *where)
        if self.kinds is not None and kind not in self.kinds:
            raise self._error(f"rule {name!r} is a {kind} rule, but the file declares %kind {', '.join(self.kinds)}",
                              *where)
        return kind, function, params

    # -- the sides ------------------------------------------------------------
    def _rule(self, line: _Line) -> Rule:
        with functions.rule_syntax():
            if line.kind in ("derivative", "definition"):
                lhs = Op(line.function, tuple(PatternVar(p) for p in line.params))
            else:
                lhs = self._side(line.left, line)
            rhs = self._side(line.right, line, frozenset(line.params))
        if line.kind == "differential" and not (isinstance(lhs, Op) and lhs.op == "d"):
            raise self._error(f"rule {line.name!r}: a differential's left side is d(...)", line.line, line.column)
        variables = set(line.params) or _syms(lhs)
        if line.kind in _PASSED:
            variables.add(_PASSED[line.kind])
        unbound = _syms(rhs) - variables
        if unbound:
            raise self._error(f"rule {line.name!r}: {', '.join(sorted(unbound))} on the right is not on the left",
                              line.line, line.column)
        if line.assumption is not None and line.assumption[1] not in variables:
            raise self._error(f"rule {line.name!r}: assumption on {line.assumption[1]!r}, which the left side "
                              "does not have", line.line, line.column)
        for _, var in line.conditions:
            if var not in variables:
                raise self._error(f"rule {line.name!r}: condition on {var!r}, which the left side does not have",
                                  line.line, line.column)
        return Rule(line.name, line.kind, _patternize(lhs, variables), _patternize(rhs, variables),
                    line.conditions, line.assumption, line.origin, line.function, line.params, line.tags)

    def _side(self, tree, line: _Line, params: frozenset = frozenset()) -> Expr:
        try:
            return build_surface(tree, self.text, params)
        except MatcalcError as err:
            raise self._error(f"rule {line.name!r}: {err.message}", err.line or line.line,
                              err.column or line.column) from None

    def _error(self, message: str, line, column) -> RuleError:
        return RuleError(f"{self.name}: {message}", source=self.text, line=line, column=column)


def _defines_function(rule: Tree) -> bool:
    left, arrow = rule.children[1], rule.children[2]
    return str(arrow) == "=" and isinstance(left, Tree) and left.data == "call" and _is_definition(left)


def _is_definition(call: Tree) -> bool:
    """``f(u, v)``: a call of plain names, not a differential ``d(A)``."""
    callee, *args = call.children
    return str(callee) != "d" and all(isinstance(a, Tree) and a.data == "name" for a in args)


def _syms(e: Expr) -> set[str]:
    return {n.name for n in e.walk() if isinstance(n, Sym)}


def _patternize(e: Expr, names: set[str]) -> Expr:
    """Turn the ``Sym`` leaves named in ``names`` into pattern variables."""
    memo: dict = {}
    for node in e.walk():
        if isinstance(node, Sym) and node.name in names:
            memo[node] = PatternVar(node.name)
        elif isinstance(node, Op):
            args = tuple(memo.get(a, a) for a in node.args)
            if args != node.args:
                memo[node] = Op(node.op, args, node.shape, node.span)
    return memo.get(e, e)


def parse_rule_line(line: str, origin: str) -> Rule | None:
    """One line of a rule file (without a header) -> a Rule; None for a blank
    or comment line.  ``origin`` ("file.rules:12") names it in errors."""
    file, _, number = origin.rpartition(":")
    rules = RuleFile(line, file or origin).rules()
    if not rules:
        return None
    rule = rules[0]
    return Rule(rule.name, rule.kind, rule.lhs, rule.rhs, rule.conditions, rule.assumption, origin,
                rule.function, rule.params, rule.tags)
