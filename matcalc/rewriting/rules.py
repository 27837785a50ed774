"""The rule base: identities as data, and the machinery to match and apply them.

Rule files (``rules/*.rules``) are read by ``matcalc.rewriting.reader`` (the
grammar's ``rule_file`` start symbol: kinds declared in a header, names,
conditions, assumptions and tags); ``rules/README.md`` describes them for
people adding rules.  This module holds the rule base (rules by kind, names
unique), matching a left side and instantiating a right side.

The engine never knows what tanh or a trace is: it matches left sides and
builds right sides.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..language import cache, functions
from ..language import expr as nodes
from ..language.errors import RuleError
from ..language.expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, PatternVar, Sym, Zero, cols_of, rows_of
from ..language.syntax import grammar_path
from ..shapes.core import build, dim_product
from .predicates import NO_CONTEXT, PREDICATES, Context
from .reader import KINDS, Rule, RuleFile


@dataclass
class RuleBase:
    """Rules by kind, in file order (the first matching rule wins), and the
    functions the rule files define (name -> ``functions.Function``).

    A value: ``load_rules`` returns a new one and never changes its argument,
    so a rule base is used exactly where it is passed (a ``Program``, and
    through it every ``Result`` derived from it, keeps its own)."""

    rules: dict = field(default_factory=lambda: {k: [] for k in KINDS})
    derivatives: dict = field(default_factory=dict)  # function name -> Rule
    definitions: dict = field(default_factory=dict)  # function name -> Rule
    functions: dict = field(default_factory=dict)  # function name -> Function (its definitions)
    # (kind, operator) -> the rules of that kind that can match such a node
    _heads: dict = field(default_factory=dict, repr=False, compare=False)

    def add(self, rule: Rule) -> None:
        """Add a rule (while a rule base is being built, before anyone else
        sees it); its name must be new (``--steps`` shows names)."""
        _refuse_taken_name(rule, self)
        self.rules[rule.kind].append(rule)
        self._heads.clear()
        if rule.kind == "derivative":
            self.derivatives[rule.function] = rule
        elif rule.kind == "definition":
            self.definitions[rule.function] = rule

    def of(self, kind: str) -> list[Rule]:
        return self.rules[kind]

    def matching(self, kind: str, e: Expr) -> list[Rule]:
        """The rules of ``kind`` whose left side can match ``e`` (by the
        operator at its head), in file order: a node meets a few rules, not
        the whole list.  A differential rule's pattern is inside its d(·)."""
        if not isinstance(e, Op):
            return self.rules[kind]
        key = (kind, e.op)
        found = self._heads.get(key)
        if found is None:
            found = []
            for rule in self.rules[kind]:
                pattern = rule.lhs.args[0] if kind == "differential" else rule.lhs
                heads = head_operators(pattern)
                if heads is None or e.op in heads:
                    found.append(rule)
            self._heads[key] = found
        return found

    def by_name(self, name: str) -> Rule | None:
        for rules in self.rules.values():
            for r in rules:
                if r.name == name:
                    return r
        return None

    def scope(self):
        """``with base.scope():`` the functions this rule base defines are
        known to the parser, the shapes, the evaluator and the code generator
        (in this thread only)."""
        return functions.defining(self.functions)

    def before(self, other: "RuleBase") -> "RuleBase":
        """A new rule base: these rules first (they override), then ``other``'s.
        A name both use is a RuleError: ``--steps`` must say which rule fired."""
        for rules in self.rules.values():
            for rule in rules:
                _refuse_taken_name(rule, other)
        return RuleBase({k: self.rules[k] + other.rules[k] for k in KINDS},
                        {**other.derivatives, **self.derivatives},
                        {**other.definitions, **self.definitions},
                        {**other.functions, **self.functions})


def _refuse_taken_name(rule: Rule, base: RuleBase) -> None:
    same = base.by_name(rule.name)
    if same is not None:
        raise RuleError(f"{rule.origin}: the rule name {rule.name!r} is taken ({same.origin}); rule names are unique")


def load_rules(path, base: RuleBase | None = None) -> RuleBase:
    """A new rule base: the rules of a ``.rules`` file (or of every one in a
    folder, or of a list of files and folders, in order) first, so that they
    override, then those of ``base`` (by default the rules that ship with
    matcalc).  Neither ``base`` nor anything else in
    the process changes: pass the result where it is to be used
    (``derive(..., rules=base)``, ``Program(..., rules=base)``).

    A definition ``swish(u) = u ∘ σ(u)`` makes ``swish`` a function of the
    returned rule base, elementwise when its body is.
    """
    base = base if base is not None else default_rules()
    return _read_rules(path, base.functions).before(base)


def _read_rules(path, known: dict) -> RuleBase:
    """The rules of a file or folder, read with the functions ``known`` (and
    the ones the files define) in scope."""
    base = RuleBase(functions={})
    defined = dict(known)
    paths = [path] if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__") else list(path)
    files = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.rules")) if p.is_dir() else [p]
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as err:
            raise RuleError(f"cannot read rule file {file}: {err.strerror}") from None
        with functions.defining(defined):
            parsed = RuleFile(text, file.name)
        # definitions first, so that a derivative line may name the new function
        for function, arity in parsed.definitions:
            if function not in defined and functions.canonical_function(function) is None:
                defined[function] = functions.Function(function, arity, "elementwise", "None")
        with functions.defining(defined):
            for rule in parsed.rules():
                if rule.kind == "definition":
                    spelling = numpy_spelling(rule.rhs, rule.params, rule.origin)
                    defined[rule.function] = base.functions[rule.function] = functions.Function(
                        rule.function, len(rule.params), "elementwise", spelling)
                base.add(rule)
    return base


_NUMPY_OPERATORS = {"add": "np.add", "had": "np.multiply", "scale": "np.multiply",
                    "mul": "np.multiply", "div": "np.divide", "epow": "np.power"}


def numpy_spelling(body: Expr, params: tuple, origin: str) -> str:
    """The numpy spelling (over a0, a1, ...) of an elementwise definition's
    body, built from the function table's own spellings: ``u ∘ σ(u)`` ->
    ``np.multiply(a0, sigmoid(a0))``.  Only elementwise operations are
    allowed; anything else is a RuleError."""
    text: dict = {}
    for node in body.walk():
        if isinstance(node, PatternVar):
            text[node] = f"a{params.index(node.name)}"
        elif isinstance(node, Num):
            text[node] = repr(float(node.value))
        elif isinstance(node, Op) and node.op in _NUMPY_OPERATORS:
            text[node] = f"{_NUMPY_OPERATORS[node.op]}({', '.join(text[a] for a in node.args)})"
        elif isinstance(node, Op) and functions.is_elementwise(node.op):
            inner = functions.lookup(node.op).numpy
            text[node] = "(" + re.sub(r"\ba0\b", lambda _: text[node.args[0]], inner) + ")"
        else:
            raise RuleError(f"{origin}: a function defined in a rule file must be elementwise; "
                            f"{type(node).__name__} {getattr(node, 'op', '')} is not")
    return text[body]


def _rules_folder() -> Path:
    package = Path(__file__).resolve().parents[1]  # installed: matcalc/rules; a checkout: rules/
    for candidate in (package / "rules", package.parent / "rules"):
        if (candidate / "differentials.rules").exists():
            return candidate
    raise RuleError("the rule base (rules/*.rules) is missing from the installation")


_DEFAULT: RuleBase | None = None
_DEFAULT_LOCK = threading.Lock()


def default_rules() -> RuleBase:
    """The rule base that ships with matcalc: built once per process (under
    a lock, and published only when complete, so threads that start together
    all see the whole of it), and parsed once per version of the rule files
    (a cache in the user's private cache folder, ``matcalc.language.cache``, keyed by
    the hash of the rule files and of the code that reads them, saves ~30 ms
    at every start)."""
    base = _DEFAULT
    if base is None:
        base = _build_default()
    return base


def _build_default() -> RuleBase:
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            name = f"rules-{_cache_key()}.json"
            base = cache.read(name, _cached_classes())
            if not isinstance(base, RuleBase):
                base = _read_rules(_rules_folder(), {})
                cache.write(name, base)
            _DEFAULT = base
        return _DEFAULT


def _cache_key(folder: Path | None = None, grammar: Path | None = None) -> str:
    """The package version and the hash of every rule file, the grammar and
    the code that reads them: a change to any is a new cache file."""
    package = Path(__file__).resolve().parents[1]
    sources = sorted((folder or _rules_folder()).glob("*.rules")) + [grammar or grammar_path()]
    sources += [package / n for n in ("rewriting/rules.py", "rewriting/reader.py", "rewriting/predicates.py",
                                      "language/parser.py", "language/names.py", "language/syntax.py",
                                      "language/expr.py", "language/functions.py", "language/cache.py")]
    return cache.key(*(f for f in sources if f.exists()))


def _cached_classes() -> dict:
    """What a cached rule base may contain besides plain data."""
    classes = [c for c in vars(nodes).values() if isinstance(c, type) and issubclass(c, Expr)]
    return {c.__name__: c for c in classes + [RuleBase, Rule, functions.Function]}


# ---------------------------------------------------------------------------
# matching

# a pattern operator matches these typed operators
_MATCHES = {"mul": ("matmul", "scale"), "scale": ("scale",)}
_COMMUTATIVE = {"add", "had"}


def head_operators(pattern: Expr) -> tuple[str, ...] | None:
    """The typed operators a node must have for ``pattern`` to match it
    (``A B`` matches matmul and scale); None: any node (a pattern variable).
    A simplifier indexes its rules by these."""
    if isinstance(pattern, PatternVar):
        return None
    if not isinstance(pattern, Op):
        return ()
    return (pattern.op,) + _MATCHES.get(pattern.op, ())


def match(pattern: Expr, expr: Expr, bindings: dict | None = None, opaque=frozenset()) -> dict | None:
    """Bindings of the pattern variables that make ``pattern`` equal ``expr``,
    or None.  ``A B`` matches a matrix product and a scalar multiple; ``+``
    and ``∘`` match in either order.  A node in ``opaque`` below the top
    (a value the program named) is matched whole by a pattern variable,
    never looked into."""
    bindings = dict(bindings or {})
    return _match(pattern, expr, bindings, opaque)


def _match(p: Expr, e: Expr, b: dict, opaque=frozenset()) -> dict | None:
    if isinstance(p, PatternVar):
        bound = b.get(p.name)
        if bound is None:
            b[p.name] = e
            return b
        return b if bound == e else None
    if isinstance(p, Num):
        return b if isinstance(e, Num) and e.value == p.value else None
    if isinstance(p, (Identity, Ones, Zero)):
        return b if type(e) is type(p) else None
    if isinstance(p, (Sym, DimSize)):
        return b if type(e) is type(p) and e.name == p.name else None
    if not isinstance(p, Op) or not isinstance(e, Op):
        return None
    if e.op != p.op and e.op not in _MATCHES.get(p.op, ()):
        return None
    if len(e.args) != len(p.args):
        return None
    orders = [e.args]
    if p.op in _COMMUTATIVE and len(e.args) == 2:
        orders.append(e.args[::-1])
    for args in orders:
        trial: dict | None = dict(b)
        for pa, ea in zip(p.args, args):
            trial = None if isinstance(pa, Op) and ea in opaque else _match(pa, ea, trial, opaque)
            if trial is None:
                break
        else:
            return trial
    return None


def conditions_hold(rule: Rule, bindings: dict, ctx: Context = NO_CONTEXT) -> bool:
    return all(PREDICATES[pred](bindings[var], ctx) for pred, var in rule.conditions)


# ---------------------------------------------------------------------------
# instantiation: building a right side from bindings

def instantiate(template: Expr, bindings: dict, target_shape=None, differential=None) -> Expr:
    """Build ``template`` with its pattern variables replaced by ``bindings``.

    Shapes come from ``matcalc.shapes.core.build``.  The sizes of ``I`` and
    ``ones`` are taken from what they meet (``M ones`` is a column of
    cols(M) ones; ``G I`` and ``G ones`` with a scalar G take the shape the
    result must have, ``target_shape``).
    """
    memo: dict = {}
    for node in template.walk():
        if isinstance(node, PatternVar):
            memo[node] = bindings[node.name]
        elif isinstance(node, Op):
            args = [memo[a] if a in memo else a for a in node.args]
            if node.op == "d":  # the differential of what the argument matched
                memo[node] = differential(args[0]) if differential else Op("d", (args[0],), args[0].shape)
                continue
            if node.op in ("rows", "cols", "entries", "eye"):  # size helpers of Jacobian rules
                memo[node] = _size_helper(node.op, args[0])
                continue
            if node.op in ("pow", "epow") and isinstance(args[1], Op):
                args[1] = _fold_number(args[1])
            args = _size_constants(node.op, args, target_shape)
            memo[node] = build(node.op, tuple(args))
    result = memo.get(template, template)
    if isinstance(result, (Identity, Ones)) and result.shape is None:
        result = _sized(result, target_shape)
    return result


def _size_helper(op: str, arg: Expr) -> Expr:
    """``rows(L)``/``cols(L)``: a dimension of L, as a number or DimSize;
    ``eye(n)``: the n×n identity (the number 1 when n is 1)."""
    if op == "eye":
        n = arg.value if isinstance(arg, Num) else arg.name
        return Num(1) if n == 1 else Identity((n, n))
    if op == "entries":
        d = dim_product(rows_of(arg.shape), cols_of(arg.shape))
    else:
        d = rows_of(arg.shape) if op == "rows" else cols_of(arg.shape)
    return Num(d) if isinstance(d, int) else DimSize(d)


_ARITHMETIC = {"add": lambda a, b: a + b, "scale": lambda a, b: a * b, "mul": lambda a, b: a * b,
               "matmul": lambda a, b: a * b, "div": lambda a, b: a / b}


def _fold_number(e: Expr) -> Expr:
    """``k - 1`` with k bound to a number, folded to one number; with k a
    name it stays ``k - 1`` (the engine simplifies every form it builds)."""
    values: dict = {}
    for node in e.walk():
        if isinstance(node, Num):
            values[node] = node.value
        elif isinstance(node, Op) and node.op in _ARITHMETIC and all(a in values for a in node.args):
            a, b = (values[x] for x in node.args)
            if node.op == "div" and b == 0:
                return e
            values[node] = _ARITHMETIC[node.op](a, b)
        else:
            return e
    return Num(values[e])


def _sized(const: Expr, shape) -> Expr:
    if shape is None:
        raise RuleError("cannot tell the size of I or ones here")
    if isinstance(const, Identity) and shape != SCALAR and shape[0] != shape[1]:
        raise RuleError(f"I cannot have the shape {shape}")
    return Num(1) if shape == SCALAR else type(const)(shape)


def _size_constants(op: str, args: list, target_shape) -> list:
    unsized = [i for i, a in enumerate(args) if isinstance(a, (Identity, Ones)) and a.shape is None]
    if not unsized:
        return args
    if len(args) == 1:  # ones^T: size it from the target, transposed
        if op == "T" and target_shape is not None and target_shape != SCALAR:
            args[0] = _sized(args[0], (target_shape[1], target_shape[0]))
        return args
    i = unsized[0]
    other = args[1 - i]
    s = other.shape
    if op in ("add", "had", "div") or s == SCALAR:
        shape = target_shape if s == SCALAR else s
    elif op == "kron":  # kron(ones, M): as many copies of M as M has rows
        shape = (s[0], 1)
    elif isinstance(args[i], Identity):
        shape = (s[1], s[1]) if i == 1 else (s[0], s[0])
    else:  # M ones: a column of cols(M) ones; ones M: a row of rows(M) ones
        shape = (s[1], 1) if i == 1 else (1, s[0])
    args[i] = _sized(args[i], shape)
    return args
