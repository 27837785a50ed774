"""The function table: which names are functions, how they are spelled, what
shape they map to, and how numpy computes them.

This is machinery, not mathematics: derivatives and identities live in
``rules/``.  A rule file can add an elementwise function by defining it
(``swish(u) = u ∘ σ(u)``).  Such a function belongs to the rule base that
read the file, not to the process: ``defining(base.functions)`` puts a rule
base's functions in scope for the current thread (and context) only, so two
rule bases never see each other's definitions and ``FUNCTIONS`` is never
changed after import.

``signature`` is one of:

* ``elementwise``   f(A) has the shape of A
* ``same``          f(A) has the shape of A, but is not elementwise (softmax)
* ``square-scalar`` A square, f(A) a scalar (tr, det, logdet)
* ``scalar``        f(A) a scalar for any A (sum, norm)
* ``pair-scalar``   f(A, B), A and B of one shape, a scalar (CE)
* ``diag``          vector -> diagonal matrix; square matrix -> column of its diagonal
* ``vec``           (m, n) -> (m*n, 1), stacking columns
* ``kron``          (m, n), (p, q) -> (m*p, n*q)
* ``rowwise-scalar`` vector -> scalar; (N, C) matrix -> (N, 1) (logsumexp)
* ``commutation``   commutation(m, n): an (m*n, m*n) matrix of dimension arguments
* ``reshape``       reshape(A, m, n): A's entries, column-major, as an m×n matrix
* ``broadcast``     f(A, B) elementwise over numpy-broadcast A and B (max, min)
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Function:
    name: str
    arity: int
    signature: str
    numpy: str  # an expression over the argument names a0, a1 (2-D arrays)
    unicode: str | None = None  # spelling in the unicode printer, if different
    # what its values are known to be, for rule side conditions: "unit" (in
    # [0, 1]), "nonnegative", "bounded" (|value| ≤ 1), or None
    values: str | None = None
    # for a function no rule differentiates: what to write instead
    advice: str | None = None


def _f(name, arity, signature, numpy, unicode=None, values=None, advice=None):
    return Function(name, arity, signature, numpy, unicode, values, advice)


# numpy spellings operate on 2-D arrays (vectors are 1×n or n×1; scalars 1×1)
# and on the helpers defined in matcalc.language.runtime (softmax, logsumexp, ...).
FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        _f("exp", 1, "elementwise", "np.exp(a0)", values="nonnegative"),
        _f("log", 1, "elementwise", "np.log(a0)"),
        _f("sqrt", 1, "elementwise", "np.sqrt(a0)", values="nonnegative"),
        _f("sin", 1, "elementwise", "np.sin(a0)", values="bounded"),
        _f("cos", 1, "elementwise", "np.cos(a0)", values="bounded"),
        _f("tanh", 1, "elementwise", "np.tanh(a0)", values="bounded"),
        _f("tan", 1, "elementwise", "np.tan(a0)"),
        _f("arctan", 1, "elementwise", "np.arctan(a0)"),
        _f("arcsin", 1, "elementwise", "np.arcsin(a0)"),
        _f("arccos", 1, "elementwise", "np.arccos(a0)", values="nonnegative"),
        _f("sinh", 1, "elementwise", "np.sinh(a0)"),
        _f("cosh", 1, "elementwise", "np.cosh(a0)", values="nonnegative"),
        _f("log1p", 1, "elementwise", "np.log1p(a0)"),
        _f("expm1", 1, "elementwise", "np.expm1(a0)"),
        _f("square", 1, "elementwise", "np.square(a0)", values="nonnegative"),
        _f("softsign", 1, "elementwise", "a0 / (1.0 + np.abs(a0))", values="bounded"),
        _f("sigmoid", 1, "elementwise", "sigmoid(a0)", unicode="σ", values="unit"),
        _f("relu", 1, "elementwise", "np.maximum(a0, 0.0)", values="nonnegative"),
        _f("softplus", 1, "elementwise", "np.logaddexp(0.0, a0)", values="nonnegative"),
        _f("abs", 1, "elementwise", "np.abs(a0)", values="nonnegative"),
        _f("sgn", 1, "elementwise", "np.sign(a0)"),
        _f("step", 1, "elementwise", "(a0 > 0).astype(float)", values="unit"),
        _f("tr", 1, "square-scalar", "np.trace(a0)"),
        _f("det", 1, "square-scalar", "np.linalg.det(a0)"),
        _f("logdet", 1, "square-scalar", "np.linalg.slogdet(a0)[1]"),
        _f("sum", 1, "scalar", "np.sum(a0)"),
        # the number of entries (mean(A) is sum(A) / size(A))
        _f("size", 1, "scalar", "float(np.size(a0))", values="nonnegative"),
        _f("norm", 1, "scalar", "np.linalg.norm(a0)", values="nonnegative"),
        _f("diag", 1, "diag", "diag(a0)"),
        _f("vec", 1, "vec", "vec(a0)"),
        _f("kron", 2, "kron", "np.kron(a0, a1)"),
        _f("softmax", 1, "same", "softmax(a0)", values="unit"),
        _f("log_softmax", 1, "same", "log_softmax(a0)"),
        _f("logsumexp", 1, "rowwise-scalar", "logsumexp(a0)"),
        _f("CE", 2, "pair-scalar", "-np.sum(a0 * np.log(a1))"),
        # elementwise maximum and minimum (broadcasting); no derivative rule:
        # they have kinks everywhere, and differentiating them is refused
        _f("max", 2, "broadcast", "np.maximum(a0, a1)",
           advice="max(a, b) of two expressions has a kink wherever they meet: write "
                  "relu(z) (or max(0, z)) for a ReLU, b + relu(a - b) for max(a, b)"),
        _f("min", 2, "broadcast", "np.minimum(a0, a1)",
           advice="min(a, b) of two expressions has a kink wherever they meet: write "
                  "b - relu(b - a) for min(a, b)"),
        _f("commutation", 2, "commutation", "commutation(a0, a1)"),
        # reshape(A, m, n): the m×n matrix whose columns are vec(A) cut in
        # turn (column-major, the inverse of vec)
        _f("reshape", 3, "reshape", "np.reshape(a0, (int(a1), int(a2)), order='F')"),
    ]
}

# Other spellings of the same function (the printer uses the canonical name,
# or ``unicode`` in the unicode spelling).
ALIASES = {
    "σ": "sigmoid",
    "logistic": "sigmoid",
    "trace": "tr",
    "sign": "sgn",
    "inverse": "inv",
    "lse": "logsumexp",
    "ln": "log",
    "atan": "arctan",
    "asin": "arcsin",
    "acos": "arccos",
}

# Spellings of other tools (numpy, MATLAB, SymPy, matrixcalculus.org) that
# mean an expression of the core language: ``call pattern: meaning``.  In a
# pattern a letter stands for any argument; a number or a quoted word must be
# written as shown.  The parser reads the first pattern that fits.
SPELLINGS = """
norm1(x):        sum(abs(x))
norm(x, 1):      sum(abs(x))
norm2(x):        norm(x)
norm(x, 2):      norm(x)
norm(x, 'fro'):  norm(x)
norm(x, "fro"):  norm(x)
max(0, z):       relu(z)
max(z, 0):       relu(z)
maximum(0, z):   relu(z)
maximum(z, 0):   relu(z)
dot(a, b):       vec(a)ᵀ vec(b)
mean(a):         sum(a) / size(a)
var(a):          sum((a - mean(a)) .^ 2) / size(a)
transpose(a):    aᵀ
hinge(z):        relu(1 - z)
eye(n):          I
"""

# Words matcalc does not support, and what to write instead (an
# UnknownFunctionError says so rather than guessing).
UNSUPPORTED = {
    "eig": "eigenvalues have no gradient rule here: write tr(X) for their sum, det(X) for their "
           "product, logdet(X) for the sum of their logarithms",
    "maximum": "maximum(a, b) of two expressions has a kink wherever they meet: write relu(z) "
               "(or max(0, z)) for a ReLU, b + relu(a - b) for max(a, b)",
    "minimum": "minimum(a, b) of two expressions has a kink wherever they meet: write "
               "b - relu(b - a) for min(a, b)",
    "erf": "erf is not in the function table: define it in a rule file "
           "(matcalc derive ... --rules my.rules)",
}
UNSUPPORTED["eigvals"] = UNSUPPORTED["eigh"] = UNSUPPORTED["eigvalsh"] = UNSUPPORTED["eig"]

# ``inv`` is a core operator (``A⁻¹``) that can also be called as a function.
CALLABLE_OPERATORS = {"inv": ("inv", 1)}


# The differential ``d(A)`` is a function only inside rule files (where it
# marks the linear argument of a differential rule); in user text ``d`` stays
# an ordinary name.  So are the size helpers of Jacobian rules: ``rows(L)``
# and ``cols(L)`` (a dimension of what L matched) and ``eye(n)`` (the n×n
# identity), which the rule machinery evaluates when it builds a right side,
# and ``pow(a, k)``, ``epow(A, k)``: the power operators, called by name.
DIFFERENTIAL = Function("d", 1, "same", "None")
RULE_ONLY = {
    "d": DIFFERENTIAL,
    "rows": Function("rows", 1, "scalar", "None"),
    "cols": Function("cols", 1, "scalar", "None"),
    "entries": Function("entries", 1, "scalar", "None"),  # rows(L) cols(L), as one size
    "eye": Function("eye", 1, "scalar", "None"),
    # a^k and A .^ k with a symbolic exponent k, which the operators cannot spell
    "pow": Function("pow", 2, "pow", "None"),
    "epow": Function("epow", 2, "epow", "None"),
}
# both per thread (and per asyncio task): a thread reading a rule file never
# changes what another thread's parser sees
_rule_syntax: ContextVar[bool] = ContextVar("matcalc_rule_syntax", default=False)
_defined: ContextVar = ContextVar("matcalc_defined_functions", default=MappingProxyType({}))


@contextmanager
def rule_syntax():
    """Within this block ``d(A)`` parses as a differential (rule files)."""
    token = _rule_syntax.set(True)
    try:
        yield
    finally:
        _rule_syntax.reset(token)


@contextmanager
def defining(functions):
    """Within this block the functions a rule base defines (name ->
    Function) are known, besides the table's own."""
    token = _defined.set(MappingProxyType(dict(functions)))
    try:
        yield
    finally:
        _defined.reset(token)


def _function(name: str) -> Function | None:
    """The Function of a canonical name: a definition in scope, else the table's."""
    return _defined.get().get(name) or FUNCTIONS.get(name)


def canonical_function(name: str) -> str | None:
    """The canonical name of a function spelled ``name``, or None."""
    name = ALIASES.get(name, name)
    if name in FUNCTIONS or name in CALLABLE_OPERATORS or name in _defined.get():
        return name
    if _rule_syntax.get() and name in RULE_ONLY:
        return name
    return None


def lookup(name: str) -> Function | None:
    """The Function of a canonical name (``d`` included), or None."""
    if name in RULE_ONLY and (_rule_syntax.get() or name == "d"):
        return RULE_ONLY[name]
    return _function(name)


def function_names() -> set[str]:
    """Every spelling that names a function (for the parser and suggestions)."""
    names = set(FUNCTIONS) | set(ALIASES) | set(CALLABLE_OPERATORS) | set(_defined.get())
    return names | set(RULE_ONLY) if _rule_syntax.get() else names


def is_elementwise(name: str) -> bool:
    f = _function(name)
    return f is not None and f.signature == "elementwise"
