"""LaTeX spelling of expressions: ``x^\\top \\delta_{2}``, ``\\hat{y} - y``,
``\\operatorname{softmax}(\\theta)``; ``bold=True`` sets vectors and matrices
in bold as the CS224n notes do."""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import LimitError
from .expr import (SCALAR, DimSize, Expr, Identity, Num, Ones, Op, PatternVar,
                   Sym, Zero)

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}
ACCENTS = {"hat": "hat", "bar": "bar", "tilde": "tilde"}
FUNCTION_NAMES = {"sigmoid": r"\sigma", "tr": r"\operatorname{tr}", "det": r"\det", "exp": r"\exp",
                  "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh"}

# binding strength: a child looser than its parent gets parentheses
_SUM, _HADAMARD, _PRODUCT, _NEG, _POSTFIX, _ATOM = range(1, 7)
MAX_DEPTH = 2000


def latex_name(name: str, bold: bool = False, shape=None) -> str:
    """``delta2`` -> ``\\delta_{2}``, ``yhat`` -> ``\\hat{y}``, ``W_2`` -> ``W_{2}``."""
    m = re.fullmatch(r"([A-Za-z]+?)(hat|bar|tilde)?(\d*)(?:_(\w+))?", name)
    if not m:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    base, accent, digits, sub = m.groups()
    if base in GREEK:
        core = "\\" + base
    elif len(base) == 1:
        core = base
    else:
        core = r"\mathrm{" + base + "}"
    if bold and shape not in (None, SCALAR):
        core = (r"\boldsymbol{" if base in GREEK else r"\mathbf{") + core + "}"
    if accent:
        core = f"\\{ACCENTS[accent]}{{{core}}}"
    subscript = digits or sub or ""
    if digits and sub:
        subscript = f"{digits},{sub}"
    return f"{core}_{{{subscript}}}" if subscript else core


def _number(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    as_float = float(v)
    text = repr(as_float)
    if Fraction(text) == v and len(text) <= 8:
        return text
    return rf"\frac{{{v.numerator}}}{{{v.denominator}}}"


def to_latex(e: Expr, bold: bool = False) -> str:
    """LaTeX for ``e``.

    >>> to_latex(parse("xᵀ δ2"))   # doctest: +SKIP
    'x^\\top \\delta_{2}'
    """
    return _latex(e, bold, 0)[0]


def _wrap(pair, level: int) -> str:
    text, strength = pair
    return rf"\left({text}\right)" if strength < level else text


def _latex(e: Expr, bold: bool, depth: int) -> tuple[str, int]:
    if depth > MAX_DEPTH:
        raise LimitError("the expression is nested too deeply to print as LaTeX")
    sub = lambda x: _latex(x, bold, depth + 1)  # noqa: E731
    if isinstance(e, (Sym, PatternVar)):
        return latex_name(e.name, bold, e.shape), _ATOM
    if isinstance(e, DimSize):
        return latex_name(e.name), _ATOM
    if isinstance(e, Num):
        text = _number(abs(e.value))
        return ("-" + text, _NEG) if e.value < 0 else (text, _ATOM)
    if isinstance(e, Identity):
        return "I", _ATOM
    if isinstance(e, Ones):
        return r"\mathbf{1}", _ATOM
    if isinstance(e, Zero):
        return "0", _ATOM
    if not isinstance(e, Op):
        return str(e), _ATOM
    op, args = e.op, e.args
    if op == "add":
        left = _wrap(sub(args[0]), _SUM)
        right = args[1]
        if isinstance(right, Op) and right.op == "scale" and isinstance(right.args[0], Num) and right.args[0].value < 0:
            negated = right.args[1] if right.args[0].value == -1 else Op("scale", (Num(-right.args[0].value), right.args[1]), right.shape)
            return f"{left} - {_wrap(sub(negated), _PRODUCT)}", _SUM
        if isinstance(right, Num) and right.value < 0:
            return f"{left} - {_number(-right.value)}", _SUM
        return f"{left} + {_wrap(sub(right), _SUM + 1)}", _SUM
    if op in ("had", "div") and not (op == "div" and args[1].shape == SCALAR):
        symbol = r"\circ" if op == "had" else r"\oslash"
        return f"{_wrap(sub(args[0]), _HADAMARD)} {symbol} {_wrap(sub(args[1]), _HADAMARD + 1)}", _HADAMARD
    if op == "div":
        return rf"\frac{{{sub(args[0])[0]}}}{{{sub(args[1])[0]}}}", _ATOM
    if op in ("matmul", "scale", "mul", "kron"):
        a, b = args
        if op == "scale" and isinstance(a, Num) and a.value == -1:
            return "-" + _wrap(sub(b), _PRODUCT), _NEG
        joiner = r" \otimes " if op == "kron" else " "
        return f"{_wrap(sub(a), _PRODUCT)}{joiner}{_wrap(sub(b), _PRODUCT + 1)}", _PRODUCT
    if op in ("T", "inv", "pow", "epow"):
        inner = args[0]
        if op == "T" and isinstance(inner, Op) and inner.op == "inv":
            return _wrap(sub(inner.args[0]), _ATOM) + "^{-\\top}", _POSTFIX
        base = _wrap(sub(inner), _ATOM)
        if op == "T":
            return base + r"^\top", _POSTFIX
        if op == "inv":
            return base + "^{-1}", _POSTFIX
        exponent = sub(args[1])[0]
        if op == "epow":
            return f"{base}^{{\\circ {exponent}}}", _POSTFIX
        return f"{base}^{{{exponent}}}", _POSTFIX
    if op == "norm":
        return rf"\left\| {sub(args[0])[0]} \right\|", _ATOM
    name = FUNCTION_NAMES.get(op, r"\operatorname{" + op.replace("_", r"\_") + "}")
    inner = ", ".join(sub(a)[0] for a in args)
    return rf"{name}\left({inner}\right)", _ATOM
