"""LaTeX spelling of expressions and of whole derivations.

``to_latex`` writes one expression: ``xᵀ δ2`` is ``x^\\top \\delta_{2}``,
``ŷ − y`` is ``\\hat{y} - y``, ``softmax(θ)`` is
``\\operatorname{softmax}\\left(\\theta\\right)``, ``A ∘ B`` is ``A \\circ B``,
``A ./ B`` is ``A \\oslash B``, ``(P − Y) / N`` is ``\\frac{P - Y}{N}``,
``X⁻ᵀ`` is ``X^{-\\top}``, ``‖A‖_F`` is ``\\left\\Vert A \\right\\Vert_F``, ``ones``
is ``\\mathbf{1}``.  Every spelling is one that matplotlib's mathtext, MathJax
and LaTeX (amsmath) all typeset, so the same string serves a paper, a
notebook and a plot title; bars are ``\\Vert`` / ``\\vert`` rather than
``\\|`` / ``|`` so that the LaTeX can sit in a Markdown table.

Bold (``bold=True``), the convention of the CS224n notes: vectors and
matrices are bold, scalars are not.  Latin letters take ``\\mathbf``
(upright bold: ``\\mathbf{W}``, ``\\mathbf{x}``), Greek letters
``\\boldsymbol`` (``\\boldsymbol{\\delta}_{2}``, since ``\\mathbf`` does not
embolden Greek), accents go outside (``\\hat{\\mathbf{y}}``), subscripts stay
light (``\\mathbf{b}_{1}``); ``I`` and a zero matrix become ``\\mathbf{I}``,
``\\mathbf{0}``; ``\\mathbf{1}`` (all ones) is bold in both modes.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import LimitError
from .expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, PatternVar, Sym, Zero

_LOWER_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
                "pi rho sigma tau upsilon phi chi psi omega").split()
# capitals LaTeX has a command for; the rest look like Latin capitals
_UPPER_GREEK = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
_LATIN_LOOKALIKES = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H", "Iota": "I",
                     "Kappa": "K", "Mu": "M", "Nu": "N", "Omicron": "O", "Rho": "P", "Tau": "T",
                     "Chi": "X", "omicron": "o"}
_GREEK = "|".join(sorted(_LOWER_GREEK + [n.capitalize() for n in _LOWER_GREEK], key=len, reverse=True))
_ACCENTS = ("ddot", "hat", "bar", "tilde", "dot")
# a canonical name (matcalc.language.names): one letter (or a Greek letter's name),
# accents, digits, _subscripts: ``yhat``, ``delta2``, ``W_2``, ``b1_x``
_LETTER_NAME = re.compile(rf"(?P<base>{_GREEK}|[A-Za-z])(?P<accents>(?:{'|'.join(_ACCENTS)})*)"
                          r"(?P<digits>[0-9]*)(?P<subs>(?:_[A-Za-z0-9]+)*)")
_WORD_NAME = re.compile(r"(?P<word>[A-Za-z]+?)(?P<digits>[0-9]*)(?P<subs>(?:_[A-Za-z0-9]+)*)")

# functions with a LaTeX spelling of their own; the others are \operatorname
_FUNCTIONS = {"sigmoid": r"\sigma", "exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos",
              "tanh": r"\tanh", "det": r"\det", "logdet": r"\log\det", "max": r"\max", "min": r"\min",
              "log_softmax": r"\log\operatorname{softmax}"}

# binding strength, loosest first: a child looser than its slot is bracketed
_SUM, _HADAMARD, _PRODUCT, _NEG, _POSTFIX, _ATOM = range(1, 7)
# TeX typesets only so much nesting, and such output is unreadable anyway
MAX_DEPTH = 1000
MAX_CHARS = 1_000_000


def latex_name(name: str, bold: bool = False, shape=None) -> str:
    """``delta2`` -> ``\\delta_{2}``, ``yhat`` -> ``\\hat{y}``, ``W_2`` ->
    ``W_{2}``, ``loss`` -> ``\\mathrm{loss}``; bold when ``bold`` and the
    shape is a vector's or a matrix's (``\\boldsymbol{\\delta}_{2}``)."""
    heavy = bold and shape not in (None, SCALAR)
    m = _LETTER_NAME.fullmatch(name)
    if m:
        base = m["base"]
        if base in _LATIN_LOOKALIKES:
            core, greek = _LATIN_LOOKALIKES[base], False
        elif base in _LOWER_GREEK or base in _UPPER_GREEK:
            core, greek = "\\" + base, True
        else:
            core, greek = base, False
        if heavy:
            core = (r"\boldsymbol{" if greek else r"\mathbf{") + core + "}"
        for accent in re.findall("|".join(_ACCENTS), m["accents"]):
            core = f"\\{accent}{{{core}}}"
    else:
        m = _WORD_NAME.fullmatch(name)
        if m is None:  # not a canonical name: print it as text
            return r"\mathrm{" + escape_text(name) + "}"
        core = (r"\mathbf{" if heavy else r"\mathrm{") + m["word"] + "}"
    parts = ([m["digits"]] if m["digits"] else []) + [s for s in m["subs"].split("_") if s]
    return f"{core}_{{{','.join(parts)}}}" if parts else core


def latex_dim(d) -> str:
    """A dimension: ``n``, ``3``, ``m*n`` -> ``m n``."""
    return " ".join(latex_name(f) if not f.isdigit() else f for f in str(d).split("*"))


def latex_shape(shape) -> str:
    """``(1, "C")`` -> ``1 \\times C``; a scalar -> ``\\text{scalar}``."""
    if shape == SCALAR:
        return r"\text{scalar}"
    return rf"{latex_dim(shape[0])} \times {latex_dim(shape[1])}"


def _number(v: Fraction) -> str:
    """Integers, short exact decimals (0.5, 0.001), else a fraction."""
    if v.denominator == 1:
        return str(v.numerator)
    text = repr(float(v))
    if "e" not in text and Fraction(text) == v and len(text) <= 8:
        return text
    return rf"\frac{{{v.numerator}}}{{{v.denominator}}}"


def to_latex(e: Expr, bold: bool = False, shapes: dict | None = None) -> str:
    """LaTeX for ``e``; ``shapes`` (name -> shape) decides boldness of names
    whose node carries no shape.

    ``to_latex(xᵀ δ2)`` is ``x^\\top \\delta_{2}``; with ``bold=True``,
    ``\\mathbf{x}^\\top \\boldsymbol{\\delta}_{2}``.  Iterative: a tree nested
    deeper than ``MAX_DEPTH`` is a LimitError, never a RecursionError.
    """
    return _latex_part(e, bold, shapes)[0]


def factor_latex(e: Expr, bold: bool = False, shapes: dict | None = None) -> str:
    """``e`` written as one factor of a product: ``\\left(A + A^\\top\\right)``,
    ``X^\\top``; bracketed when it binds more loosely than a product."""
    return _wrap(_latex_part(e, bold, shapes), _PRODUCT)


def _latex_part(e: Expr, bold: bool = False, shapes: dict | None = None) -> tuple[str, int]:
    """(text, binding strength) of ``e``'s LaTeX (``to_latex``)."""
    done: dict[int, tuple[str, int, int]] = {}  # id -> (text, strength, depth)
    stack = [e]
    while stack:
        node = stack[-1]
        if id(node) in done:
            stack.pop()
            continue
        waiting = [c for c in node.children if id(c) not in done]
        if waiting:
            if len(stack) > MAX_DEPTH:
                raise LimitError(f"the expression is nested too deeply to write as LaTeX "
                                 f"(more than {MAX_DEPTH} levels)")
            stack.extend(waiting)
            continue
        stack.pop()
        text, strength = _node(node, lambda c: done[id(c)][:2], bold, shapes or {})
        if len(text) > MAX_CHARS:
            raise LimitError(f"the expression is too large to write as LaTeX (more than {MAX_CHARS} characters)")
        depth = 1 + max((done[id(c)][2] for c in node.children), default=0)
        if depth > MAX_DEPTH:
            raise LimitError(f"the expression is nested too deeply to write as LaTeX (more than {MAX_DEPTH} levels)")
        done[id(node)] = (text, strength, depth)
    return done[id(e)][:2]


def _wrap(part: tuple[str, int], level: int) -> str:
    text, strength = part
    return rf"\left({text}\right)" if strength < level else text


def _node(e: Expr, part, bold: bool, shapes: dict) -> tuple[str, int]:
    """The LaTeX of one node; ``part(node)`` is the (text, strength) of a
    descendant already written."""
    if isinstance(e, (Sym, PatternVar)):
        shape = e.shape if e.shape is not None else shapes.get(e.name)
        return latex_name(e.name, bold, shape), _ATOM
    if isinstance(e, DimSize):
        return latex_name(e.name), _ATOM
    if isinstance(e, Num):
        text = _number(abs(e.value))
        return ("-" + text, _NEG) if e.value < 0 else (text, _ATOM)
    if isinstance(e, Ones):
        return r"\mathbf{1}", _ATOM
    if isinstance(e, Identity):
        return (r"\mathbf{I}" if bold else "I"), _ATOM
    if isinstance(e, Zero):
        return (r"\mathbf{0}" if bold and e.shape not in (None, SCALAR) else "0"), _ATOM
    if not isinstance(e, Op):
        return escape_text(str(e)), _ATOM
    op, args = e.op, e.args
    parts = [part(a) for a in args]
    if op == "add":
        return _add(e, part), _SUM
    if op == "had":
        return rf"{_wrap(parts[0], _HADAMARD)} \circ {_wrap(parts[1], _PRODUCT)}", _HADAMARD
    if op == "div" and args[1].shape != SCALAR:
        return rf"{_wrap(parts[0], _HADAMARD)} \oslash {_wrap(parts[1], _PRODUCT)}", _HADAMARD
    if op == "div":
        return rf"\frac{{{parts[0][0]}}}{{{parts[1][0]}}}", _ATOM
    if op == "scale" and isinstance(args[0], Num) and args[0].value == -1:
        # -(x y) needs no brackets, -(-x) and -(a + b) do
        operand = parts[1]
        return "-" + (_wrap(operand, _ATOM) if operand[1] == _NEG else _wrap(operand, _PRODUCT)), _NEG
    if op == "kron":
        return rf"{_wrap(parts[0], _PRODUCT)} \otimes {_wrap(parts[1], _POSTFIX)}", _PRODUCT
    if op in ("matmul", "mul", "scale"):
        # products are associative: A (B C) reads A B C (a negation keeps its brackets)
        right = args[1]
        chained = (op != "mul" and isinstance(right, Op) and right.op in ("matmul", "scale")
                   and parts[1][1] == _PRODUCT)
        return f"{_wrap(parts[0], _PRODUCT)} {_wrap(parts[1], _PRODUCT if chained else _POSTFIX)}", _PRODUCT
    if op == "T" and isinstance(args[0], Op) and args[0].op == "inv":
        return _wrap(part(args[0].args[0]), _ATOM) + r"^{-\top}", _POSTFIX
    if op in ("T", "inv", "pow", "epow"):
        base = _wrap(parts[0], _ATOM)
        if op == "T":
            return base + r"^\top", _POSTFIX
        if op == "inv":
            return base + "^{-1}", _POSTFIX
        exponent = parts[1][0]
        return (f"{base}^{{\\circ {exponent}}}" if op == "epow" else f"{base}^{{{exponent}}}"), _POSTFIX
    if op == "norm":
        frobenius = args[0].shape not in (None, SCALAR) and 1 not in args[0].shape
        return rf"\left\Vert {parts[0][0]} \right\Vert" + ("_F" if frobenius else ""), _ATOM
    if op == "abs":
        return rf"\left\vert {parts[0][0]} \right\vert", _ATOM
    if op == "sqrt":
        return rf"\sqrt{{{parts[0][0]}}}", _ATOM
    if op == "commutation":
        return rf"K_{{{parts[0][0]},{parts[1][0]}}}", _ATOM
    name = _FUNCTIONS.get(op, r"\operatorname{" + escape_text(op) + "}")
    return rf"{name}\left({', '.join(t for t, _ in parts)}\right)", _ATOM


def _add(e: Op, part) -> str:
    """a + b; a + (-2) b is a - 2 b, a + (-1) b is a - b, a + (-2) is a - 2."""
    left = _wrap(part(e.args[0]), _SUM)
    right = e.args[1]
    if isinstance(right, Num) and right.value < 0:
        return f"{left} - {_number(-right.value)}"
    if not (isinstance(right, Op) and right.op == "scale" and isinstance(right.args[0], Num)
            and right.args[0].value < 0):
        return f"{left} + {_wrap(part(right), _HADAMARD)}"
    magnitude, operand = -right.args[0].value, part(right.args[1])
    if magnitude == 1:
        return f"{left} - {_wrap(operand, _HADAMARD)}"
    return f"{left} - {_number(magnitude)} {_wrap(operand, _POSTFIX)}"


_SPECIAL = {"\\": r"\backslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\sim{}", "^": r"\hat{}",
            # the unicode of the text notes, as math (pdflatex has no unicode)
            "∂": r"$\partial$", "∇": r"$\nabla$", "×": r"$\times$", "ᵢ": r"$_i$", "ⱼ": r"$_j$",
            "ᵀ": r"$^\top$", "²": r"$^2$", "−": "-", "∘": r"$\circ$", "δ": r"$\delta$"}


def escape_text(text: str) -> str:
    """Plain text made safe inside ``\\text{}`` / ``\\mathrm{}``."""
    return "".join(_SPECIAL.get(c, c) for c in text)
