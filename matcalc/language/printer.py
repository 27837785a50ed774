"""Tree -> text in the expression language (SPEC §2).

``to_text`` writes the unicode spelling (``xᵀ A x``, ``‖x‖²``, ``ŷ − y``,
``σ(z)``), ``to_ascii`` the ASCII one (``x^T A x``, ``||x||^2``,
``yhat - y``, ``sigmoid(z)``).  Both parse back to the tree they came from
(``parse_expr`` with the same known names), with the fewest parentheses the
precedences of matcalc.lark allow.  Printing is iterative, so trees of any
depth print.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from .errors import LimitError
from .expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, PatternVar, Sym, Zero, chain_factors
from .functions import canonical_function, lookup
from .names import unicode_spelling

# how tightly each form binds, loosest first (the levels of matcalc.lark)
SUM, HAD, PRODUCT, UNARY, POSTFIX, ATOM = range(6)


@dataclass(frozen=True)
class Spelling:
    """How one output style writes the operators."""

    unicode: bool
    minus: str
    hadamard: str
    times: str
    transpose: str
    inverse: str
    inverse_transpose: str
    bar: str


UNICODE = Spelling(True, "−", "∘", "·", "ᵀ", "⁻¹", "⁻ᵀ", "‖")
ASCII = Spelling(False, "-", ".*", "*", "^T", "^-1", "^-T", "||")


@dataclass(frozen=True)
class Fragment:
    """The text of a subtree, kept as a sequence of strings and fragments so
    that deep trees print in linear time, and how tightly it binds.

    ``loose_bar``: a norm is juxtaposed after an operand outside any bracket,
    which inside a norm would read as the closing bar (``‖x ‖y‖‖``).
    """

    items: tuple  # strings and Fragments
    level: int
    loose_bar: bool
    size: int   # characters
    head: str   # the first character
    tail: str   # the trailing run of word characters ("σ" in "2 σ")


Part = Callable[[Expr], Fragment]

MAX_CHARS = 10_000_000  # a DAG with much sharing can spell out exponentially


def to_text(expr: Expr, unicode: bool = True) -> str:
    """``mul(mul(T(x), A), x)`` -> ``xᵀ A x`` (``x^T A x`` with unicode=False)."""
    return _flatten(_spelled(expr, UNICODE if unicode else ASCII))


def factor_text(expr: Expr, unicode: bool = True) -> str:
    """``expr`` written as one factor of a product: ``(A + Aᵀ)``, ``Xᵀ``,
    ``A B``; bracketed when it binds more loosely than a product."""
    return _flatten(_wrap(_spelled(expr, UNICODE if unicode else ASCII), PRODUCT))


def _spelled(expr: Expr, style: Spelling) -> Fragment:
    done: dict[int, Fragment] = {}  # by id: hashing a deep tree would recurse
    stack = [expr]
    while stack:
        node = stack[-1]
        waiting = [c for c in node.children if id(c) not in done]
        if waiting:
            stack.extend(reversed(waiting))
            continue
        stack.pop()
        if id(node) not in done:
            done[id(node)] = _fragment(node, lambda child: done[id(child)], style)
    return done[id(expr)]


def to_ascii(expr: Expr) -> str:
    """``to_text(expr, unicode=False)``: ``x^T A x``, ``||x||^2``, ``theta``."""
    return to_text(expr, unicode=False)


def _spell(*items, level: int, loose_bar: bool = False) -> Fragment:
    """A fragment made of strings and fragments, in order."""
    first, last = items[0], items[-1]
    size = sum(item.size if isinstance(item, Fragment) else len(item) for item in items)
    if size > MAX_CHARS:
        raise LimitError(f"expression too large to print (more than {MAX_CHARS} characters)")
    head = first.head if isinstance(first, Fragment) else first[:1]
    if isinstance(last, Fragment):
        tail = last.tail
    else:
        word = re.search(r"\w+$", last)
        tail = word.group() if word else ""
    return Fragment(items, level, loose_bar, size, head, tail)


def _flatten(fragment: Fragment) -> str:
    out, stack = [], [fragment]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            stack.extend(reversed(item.items))
    return "".join(out)


def _fragment(node: Expr, part: Part, style: Spelling) -> Fragment:
    if isinstance(node, Num):
        return _number(node.value, style)
    if isinstance(node, Sym):
        return _spell(unicode_spelling(node.name) if style.unicode else node.name, level=ATOM)
    if isinstance(node, (PatternVar, DimSize)):
        return _spell(node.name, level=ATOM)
    if isinstance(node, Op):
        return _OPERATORS.get(node.op, _call)(node, part, style)
    constants = {Identity: "I", Ones: "ones", Zero: "0"}
    return _spell(constants[type(node)], level=ATOM)


def _wrap(fragment: Fragment, level: int) -> Fragment:
    """The fragment, in parentheses when it binds looser than ``level``."""
    if fragment.level >= level:
        return fragment
    return _spell("(", fragment, ")", level=ATOM)


def _infix(left: Fragment, symbol: str, right: Fragment, level: int) -> Fragment:
    return _spell(left, f" {symbol} ", right, level=level, loose_bar=left.loose_bar or right.loose_bar)


def _is_negation(e: Expr) -> bool:
    return isinstance(e, Op) and e.op == "scale" and isinstance(e.args[0], Num) and e.args[0].value == -1


def _add(node: Op, part: Part, style: Spelling) -> Fragment:
    """a + b; add(a, scale(-1, b)) is a - b, add(a, -2) is a - 2, and (typed
    trees only) add(a, scale(-2, b)) is a - 2 b."""
    a, b = node.args
    left = _wrap(part(a), SUM)
    if isinstance(b, Num) and b.value < 0:
        return _infix(left, style.minus, _number(-b.value, style), SUM)
    if _is_negation(b):
        return _infix(left, style.minus, _wrap(part(b.args[1]), HAD), SUM)
    if _is_negative_scale(b):
        positive = _juxtapose(_number(-b.args[0].value, style), part(b.args[1]), style)
        return _infix(left, style.minus, positive, SUM)
    if isinstance(b, Op) and b.op == "scale" and _is_negative_scale(b.args[0]):
        # a + (−c s) x is a − c s x, never a + −c s x
        c, s = b.args[0].args
        scalar = part(s) if c.value == -1 else _juxtapose(_number(-c.value, style), part(s), style)
        if isinstance(s, Op) and s.op == "div":
            scalar = _spell("(", scalar, ")", level=ATOM)
        return _infix(left, style.minus, _juxtapose(scalar, part(b.args[1]), style), SUM)
    return _infix(left, "+", _wrap(part(b), HAD), SUM)


def _hadamard(node: Op, part: Part, style: Spelling) -> Fragment:
    """a ∘ b; a typed a ∘ (b ∘ c) prints as a ∘ b ∘ c, the same value (as
    for products, only surface trees must round-trip to the letter)."""
    a, b = node.args
    associative = node.shape is not None and isinstance(b, Op) and b.op == "had"
    return _infix(_wrap(part(a), HAD), style.hadamard, _wrap(part(b), HAD if associative else PRODUCT), HAD)


def _divide(node: Op, part: Part, style: Spelling) -> Fragment:
    """``a / s`` by a scalar; ``A ./ B`` elementwise (SPEC §2 keeps ``/`` for
    scalars), at the level of ``∘``."""
    a, b = node.args
    if b.shape is not None and b.shape != SCALAR:
        return _infix(_wrap(part(a), HAD), "./", _wrap(part(b), PRODUCT), HAD)
    return _infix(_wrap(part(a), PRODUCT), "/", _wrap(part(b), UNARY), PRODUCT)


def _kron(node: Op, part: Part, style: Spelling) -> Fragment:
    if not style.unicode:
        return _call(node, part, style)
    # operands in parentheses unless atoms, and the whole in parentheses
    # beside a product, so that it reads as it parses: (I ⊗ xᵀ) (…)
    a, b = node.args
    return _infix(_wrap(part(a), POSTFIX), "⊗", _wrap(part(b), POSTFIX), HAD)


def _chain_power(node: Op) -> Op | None:
    """``X X X`` (a typed chain of one square factor) as ``pow(X, 3)``,
    which the parser builds back into that chain."""
    if node.op != "matmul" or node.shape is None:
        return None
    factors = chain_factors(node)
    if any(f != factors[0] for f in factors):
        return None
    return Op("pow", (factors[0], Num(Fraction(len(factors)))), node.shape)


def _product(node: Op, part: Part, style: Spelling) -> Fragment:
    power = _chain_power(node)
    if power is not None:
        return _power(power, part, style)
    # Typed products are associative: A (B C) prints as A B C, which reads
    # back as (A B) C, the same value (only surface trees must round-trip
    # to the letter, and the parser never nests a product on the right).
    right = node.args[1]
    left = part(node.args[0])
    if isinstance(node.args[0], Op) and node.args[0].op == "div" and node.args[0].shape == SCALAR:
        # a typed scalar quotient as a coefficient: (2 / N) x, not 2 / N x
        left = _spell("(", left, ")", level=ATOM)
    associative = (node.op in ("matmul", "scale") and isinstance(right, Op)
                   and right.op in ("matmul", "scale") and not _is_negation(right))
    return _juxtapose(left, part(right), style, PRODUCT if associative else POSTFIX)


def _juxtapose(left: Fragment, right: Fragment, style: Spelling, right_level: int = None) -> Fragment:
    """``x W``; ``σ · (a + b)`` where a space would make a call."""
    left, right = _wrap(left, PRODUCT), _wrap(right, POSTFIX if right_level is None else right_level)
    separator = " "
    if right.head == "(" and canonical_function(left.tail):
        separator = f" {style.times} "
    loose = left.loose_bar or right.loose_bar or right.head == style.bar[0]
    return _spell(left, separator, right, level=PRODUCT, loose_bar=loose)


def _scale(node: Op, part: Part, style: Spelling) -> Fragment:
    """scale(-1, a) is -a; scale(s, a) is s a.  The parser reads -x y as
    (-x) y, so the negation of a surface product keeps its parentheses,
    -(x y); that of a typed product (matmul, scale) need not: -Xᵀ y."""
    if not _is_negation(node):
        return _product(node, part, style)
    operand = part(node.args[1])
    if isinstance(node.args[1], Op) and node.args[1].op in ("matmul", "scale"):
        return _spell(style.minus, operand, level=PRODUCT, loose_bar=operand.loose_bar)
    operand = _wrap(operand, UNARY)
    return _spell(style.minus, operand, level=UNARY, loose_bar=operand.loose_bar)


def _is_negative_scale(e: Expr) -> bool:
    return (isinstance(e, Op) and e.op == "scale" and isinstance(e.args[0], Num)
            and e.args[0].value < 0)


def _base(e: Expr, part: Part) -> Fragment:
    """The operand of a postfix operator; powers get parentheses for clarity."""
    if isinstance(e, Op) and e.op in ("pow", "epow"):
        return _spell("(", part(e), ")", level=ATOM)
    return _wrap(part(e), POSTFIX)


def _postfix(base: Fragment, *suffix) -> Fragment:
    return _spell(base, *suffix, level=POSTFIX, loose_bar=base.loose_bar)


def _transpose(node: Op, part: Part, style: Spelling) -> Fragment:
    """Aᵀ; T(inv(A)) is A⁻ᵀ."""
    (a,) = node.args
    if isinstance(a, Op) and a.op == "inv":
        return _postfix(_base(a.args[0], part), style.inverse_transpose)
    return _postfix(_base(a, part), style.transpose)


def _inverse(node: Op, part: Part, style: Spelling) -> Fragment:
    return _postfix(_base(node.args[0], part), style.inverse)


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _power(node: Op, part: Part, style: Spelling) -> Fragment:
    """x², x^0.5 (x^2 in ASCII)."""
    a, k = node.args
    base = _base(a, part)
    if style.unicode and isinstance(k, Num) and k.value.denominator == 1:
        if base.tail and base.tail[-1] in "⁰¹²³⁴⁵⁶⁷⁸⁹":  # A⁻¹² would read as A^-12
            base = _spell("(", base, ")", level=ATOM)
        return _postfix(base, str(k.value.numerator).translate(_SUPERSCRIPTS))
    return _postfix(base, "^", _exponent(k, part))


def _elementwise_power(node: Op, part: Part, style: Spelling) -> Fragment:
    """x .^ 2 (the space keeps ``2 .^ 3`` from reading as ``2.`` then ``^3``)."""
    a, k = node.args
    return _postfix(_base(a, part), " .^ ", _exponent(k, part))


def _exponent(k: Expr, part: Part) -> Fragment:
    """2, -1, 0.5 bare; a fraction without a decimal spelling (1/3) or an
    expression in parentheses: x^(1/3), X^(k - 1)."""
    if isinstance(k, Num):
        number = _number(k.value, ASCII)
        return number if number.level >= UNARY else _spell("(", number, ")", level=ATOM)
    if isinstance(k, Sym) and k.name != "T":  # X^k (X^T would be a transpose)
        return part(k)
    return _spell("(", part(k), ")", level=ATOM)


def _norm(node: Op, part: Part, style: Spelling) -> Fragment:
    """‖a‖; ‖(x ‖y‖)‖ when a bar inside would otherwise close the norm."""
    inner = part(node.args[0])
    if inner.loose_bar:
        return _spell(style.bar, "(", inner, ")", style.bar, level=ATOM)
    return _spell(style.bar, inner, style.bar, level=ATOM)


def _call(node: Op, part: Part, style: Spelling) -> Fragment:
    """f(a, b): tr(A), σ(z) (sigmoid(z) in ASCII), kron(a, b) in ASCII."""
    function = lookup(node.op)
    name = function.unicode if style.unicode and function and function.unicode else node.op
    items = [name, "("]
    for a in node.args:
        items += [part(a), ", "]
    items[-1] = ")"
    return _spell(*items, level=ATOM)


_OPERATORS = {
    "add": _add, "had": _hadamard, "div": _divide, "kron": _kron,
    "mul": _product, "matmul": _product, "scale": _scale,
    "T": _transpose, "inv": _inverse, "pow": _power, "epow": _elementwise_power,
    "norm": _norm,
}


def _number(value: Fraction, style: Spelling) -> Fragment:
    """Exact decimals: 0.5, 0.001, 1e-7; other fractions as p/q."""
    sign = style.minus if value < 0 else ""
    magnitude = abs(value)
    text = str(magnitude.numerator) if magnitude.denominator == 1 else _decimal(magnitude)
    level = ATOM
    if text is None:
        text, level = f"{magnitude.numerator}/{magnitude.denominator}", PRODUCT
    return _spell(sign + text, level=min(level, UNARY) if sign else level)


def _decimal(value: Fraction) -> str | None:
    """The exact decimal spelling of a positive fraction, None if it has none."""
    rest, places = value.denominator, 0
    for prime in (2, 5):
        count = 0
        while rest % prime == 0:
            rest //= prime
            count += 1
        places = max(places, count)
    if rest != 1:
        return None
    digits = str(value.numerator * 10 ** places // value.denominator)
    if places > 6:
        return f"{digits}e-{places}"
    digits = digits.rjust(places + 1, "0")
    return f"{digits[:-places]}.{digits[-places:]}"


# the text of every expression, str(e): the printer is the one place that knows it
Expr.__str__ = to_text
