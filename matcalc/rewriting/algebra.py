"""The simplifier's algebra: small named rewrites, indexed by the operator
they apply to.

Each rewrite takes a node (and the ``Simplifier`` running it, for the few
that simplify the pieces they build) and returns a simpler equal node, or
None.  The simplifier tries a node's rewrites in the order they are
registered here, before the rules of ``rules/simplify.rules``; the name of
the rewrite that fired goes to its trace, as a rule's name does.

What lives here rather than in a rule file is what a pattern cannot say:
folding numbers, collecting like terms over a whole flattened sum, taking
out common factors, and ordering a matrix chain by cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from ..language.errors import ShapeError
from ..language.expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, Zero, cols_of, node_count, rows_of
from ..shapes.core import build


@dataclass(frozen=True)
class Rewrite:
    """A named piece of algebra: ``apply(node, simplifier)`` -> node or None.
    ``quiet``: it only clears away the zeros and ones the machinery makes
    (d of a constant is 0, the seed cotangent is 1), so ``--steps`` does not
    name it, as a rule tagged quiet."""

    name: str
    apply: Callable
    quiet: bool = False


REWRITES: dict[str, list[Rewrite]] = {}  # operator -> its rewrites, in order


def rewrite(name: str, *ops: str, quiet: bool = False):
    """Register the decorated function as the rewrite ``name`` of ``ops``."""

    def register(fn):
        for op in ops:
            REWRITES.setdefault(op, []).append(Rewrite(name, fn, quiet))
        return fn

    return register


def zero_of(shape) -> Expr:
    return Zero(shape) if shape != SCALAR else Num(0)


def _is_zero(e: Expr) -> bool:
    return isinstance(e, Zero) or e == Num(0)


def _is_ones(e: Expr) -> bool:
    return isinstance(e, Ones) or isinstance(e, Op) and e.op == "T" and isinstance(e.args[0], Ones)


# ---------------------------------------------------------------------------
# scalar multiples: scalar factors gathered on the left, numbers first:
# λ (2 A) -> (2 λ) A, which prints as 2 λ A and costs one pass over A

@rewrite("scale-by-zero", "scale", quiet=True)
def _scale_by_zero(e: Op, s) -> Expr | None:
    k, a = e.args
    return zero_of(e.shape) if isinstance(a, Zero) or k == Num(0) or a == Num(0) else None


@rewrite("scale-by-one", "scale", quiet=True)
def _scale_by_one(e: Op, s) -> Expr | None:
    return e.args[1] if e.args[0] == Num(1) else None


@rewrite("multiply-numbers", "scale")
def _multiply_numbers(e: Op, s) -> Expr | None:
    k, a = e.args
    return Num(k.value * a.value) if isinstance(k, Num) and isinstance(a, Num) else None


@rewrite("number-first", "scale")
def _number_first(e: Op, s) -> Expr | None:  # λ 2 -> 2 λ
    k, a = e.args
    return build("scale", (a, k)) if isinstance(a, Num) else None


@rewrite("scale-of-scale", "scale")
def _scale_of_scale(e: Op, s) -> Expr | None:
    k, a = e.args
    if isinstance(a, Op) and a.op == "scale":
        # two numbers multiply here: the user's own 2*2 may be a forward node, kept as it is
        t = a.args[0]
        factor = Num(k.value * t.value) if isinstance(k, Num) and isinstance(t, Num) else build("scale", (k, t))
        return build("scale", (factor, a.args[1]))
    return None


# ---------------------------------------------------------------------------
# matrix products

@rewrite("product-with-zero", "matmul", quiet=True)
def _product_with_zero(e: Op, s) -> Expr | None:
    a, b = e.args
    return zero_of(e.shape) if isinstance(a, Zero) or isinstance(b, Zero) else None


@rewrite("product-with-identity", "matmul", quiet=True)
def _product_with_identity(e: Op, s) -> Expr | None:
    a, b = e.args
    if isinstance(a, Identity):
        return b
    return a if isinstance(b, Identity) else None


@rewrite("ones-times-ones", "matmul")
def _ones_times_ones(e: Op, s) -> Expr | None:
    """𝟙 𝟙ᵀ is all ones; 𝟙ᵀ 𝟙 counts."""
    a, b = e.args
    if not (_is_ones(a) and _is_ones(b)):
        return None
    inner = cols_of(a.shape)
    block = Ones(e.shape) if e.shape != SCALAR else Num(1)
    return block if inner == 1 else build("scale", (dimension(inner), block))


@rewrite("scalar-out-of-product", "matmul")
def _scalar_out_of_product(e: Op, s) -> Expr | None:
    """(λ A) B -> λ (A B), and so for scalar divisors: A (B / N) -> (A B) / N."""
    a, b = e.args
    for i, x in enumerate(e.args):
        if isinstance(x, Op) and x.op == "scale":
            rest = (x.args[1], b) if i == 0 else (a, x.args[1])
            return build("scale", (x.args[0], build("matmul", rest)))
        if isinstance(x, Op) and x.op == "div" and x.args[1].shape == SCALAR and x.args[0].shape == x.shape:
            rest = (x.args[0], b) if i == 0 else (a, x.args[0])
            return build("div", (build("matmul", rest), x.args[1]))
    return None


@rewrite("cancel-inverses", "matmul")
def _cancel_inverses(e: Op, s) -> Expr | None:
    """A⁻¹ A and A A⁻¹ (and their transposes, A⁻ᵀ Aᵀ) are the identity, anywhere in a chain."""
    factors = flatten(e, "matmul")
    kept: list = []
    for f in factors:
        if kept and _inverse_pair(kept[-1], f):
            kept.pop()
        else:
            kept.append(f)
    if len(kept) == len(factors):
        return None
    return product_of(kept) if kept else Identity(e.shape)


def _inverse_pair(a: Expr, b: Expr) -> bool:
    def inverse(x):
        if isinstance(x, Op) and x.op == "inv":
            return x.args[0]
        if isinstance(x, Op) and x.op == "T" and isinstance(x.args[0], Op) and x.args[0].op == "inv":
            return build("T", (x.args[0].args[0],))
        return None
    return inverse(a) == b or inverse(b) == a


@rewrite("order-chain", "matmul")
def _order_chain_rewrite(e: Op, s) -> Expr | None:
    factors = flatten(e, "matmul", s.named)
    if len(factors) <= 2:
        return None
    ordered = order_chain(factors)
    return None if ordered == e else ordered


# ---------------------------------------------------------------------------
# Hadamard products and elementwise division

@rewrite("hadamard-with-zero", "had", quiet=True)
def _hadamard_with_zero(e: Op, s) -> Expr | None:
    a, b = e.args
    return zero_of(e.shape) if _is_zero(a) or _is_zero(b) else None


@rewrite("hadamard-with-ones", "had", quiet=True)
def _hadamard_with_ones(e: Op, s) -> Expr | None:
    for x, y in (e.args, e.args[::-1]):
        if _is_ones(x) and y.shape == e.shape:
            return y
    return None


@rewrite("hadamard-by-scalar", "had")
def _hadamard_by_scalar(e: Op, s) -> Expr | None:
    """A scalar broadcast is a scalar multiple."""
    for x, y in (e.args, e.args[::-1]):
        if x.shape == SCALAR:
            return build("scale", (x, y))
    return None


@rewrite("scalar-out-of-hadamard", "had")
def _scalar_out_of_hadamard(e: Op, s) -> Expr | None:
    """(λ A) ∘ B -> λ (A ∘ B), and so for scalar divisors: (A / N) ∘ B -> (A ∘ B) / N."""
    a, b = e.args
    for i, x in enumerate(e.args):
        if isinstance(x, Op) and (x.op == "scale" or x.op == "div" and x.args[1].shape == SCALAR):
            inner = x.args[1] if x.op == "scale" else x.args[0]
            rest = (inner, b) if i == 0 else (a, inner)
            product = build("had", rest)
            if product.shape == e.shape:
                return build("scale", (x.args[0], product)) if x.op == "scale" else build("div", (product, x.args[1]))
    return None


@rewrite("zero-divided", "div", quiet=True)
def _zero_divided(e: Op, s) -> Expr | None:
    return zero_of(e.shape) if _is_zero(e.args[0]) else None


def _number_divisor(e: Op) -> bool:
    return isinstance(e.args[1], Num) and e.args[1].value != 0


@rewrite("divide-by-number", "div")
def _divide_by_number(e: Op, s) -> Expr | None:
    a, b = e.args
    if _number_divisor(e) and a.shape == e.shape:
        return times(1 / Fraction(b.value), a, e.shape)
    return None


@rewrite("coefficient-out-of-division", "div")
def _coefficient_out_of_division(e: Op, s) -> Expr | None:
    """(3 A) / s -> 3 (A / s)."""
    if _number_divisor(e):
        return None  # a number divides a broadcast: left as it is
    c, core = coefficient(e.args[0])
    if c != 1 and core is not None and core.shape == e.shape:
        return times(c, build("div", (core, e.args[1])), e.shape)
    return None


# ---------------------------------------------------------------------------
# transposes, traces, sums, powers

@rewrite("transpose-of-zero", "T", quiet=True)
def _transpose_of_zero(e: Op, s) -> Expr | None:  # (onesᵀ stays: it reads as "sum the rows")
    return Zero(e.shape) if isinstance(e.args[0], Zero) else None


@rewrite("transpose-of-symmetric-constant", "T", quiet=True)
def _transpose_of_constant(e: Op, s) -> Expr | None:
    return e.args[0] if isinstance(e.args[0], (Identity, Num)) else None


@rewrite("transpose-of-scale", "T")
def _transpose_of_scale(e: Op, s) -> Expr | None:
    a = e.args[0]
    if isinstance(a, Op) and a.op == "scale":
        return build("scale", (a.args[0], build("T", (a.args[1],))))
    return None


@rewrite("diag-of-ones", "diag")
def _diag_of_ones(e: Op, s) -> Expr | None:
    """diag(𝟙) of a vector is the identity (of a matrix: the diagonal, all ones)."""
    a = e.args[0]
    if not isinstance(a, Ones):
        return None
    return Identity(e.shape) if 1 in a.shape else Ones(e.shape)


@rewrite("reshape-to-own-shape", "reshape")
def _reshape_to_own_shape(e: Op, s) -> Expr | None:
    """A reshape to the shape its argument has does nothing."""
    return e.args[0] if e.args[0].shape == e.shape else None


@rewrite("reshape-of-constant", "reshape")
def _reshape_of_constant(e: Op, s) -> Expr | None:
    """All ones (zeros) in any arrangement."""
    return type(e.args[0])(e.shape) if isinstance(e.args[0], (Ones, Zero)) else None


@rewrite("linear-of-zero", "tr", "sum", quiet=True)
def _linear_of_zero(e: Op, s) -> Expr | None:
    return Num(0) if _is_zero(e.args[0]) else None


@rewrite("scalar-out-of-linear", "tr", "sum")
def _scalar_out_of_linear(e: Op, s) -> Expr | None:
    a = e.args[0]
    if isinstance(a, Op) and a.op == "scale":
        return build("scale", (a.args[0], build(e.op, (a.args[1],))))
    return None


@rewrite("power-one", "pow", "epow")
def _power_one(e: Op, s) -> Expr | None:
    k = e.args[1]
    return e.args[0] if isinstance(k, Num) and k.value == 1 else None


@rewrite("power-zero", "pow")
def _power_zero(e: Op, s) -> Expr | None:
    k = e.args[1]
    return Num(1) if isinstance(k, Num) and k.value == 0 else None


@rewrite("power-of-numbers", "pow")
def _power_of_numbers(e: Op, s) -> Expr | None:
    a, k = e.args
    if isinstance(a, Num) and isinstance(k, Num) and k.value.denominator == 1:
        return Num(a.value ** int(k.value))
    return None


# ---------------------------------------------------------------------------
# products of scalars: one monomial, c · Π aᵏ / Π bᵏ, the powers of equal
# factors added (4 σ (k / (4 σ² σ²)) -> k / σ³); integer powers only, so no
# sign is lost (√(x²) is not x)

@rewrite("scalar-monomial", "scale", "div", "pow")
def _scalar_monomial(e: Op, s) -> Expr | None:
    if e.shape != SCALAR:
        return None
    split = monomial(e)
    if split is None:
        return None
    rebuilt = monomial_of(*split)
    return None if rebuilt == e else rebuilt


def monomial(e: Expr) -> tuple[Fraction, dict] | None:
    """A scalar product as (number, {factor: integer power}), factors in the
    order met; None when a number would be divided by zero."""
    c, powers = Fraction(1), {}
    stack = [(e, 1)]
    while stack:
        x, k = stack.pop()
        if isinstance(x, Num):
            if x.value == 0 and k < 0:
                return None
            c *= Fraction(x.value) ** k  # (an int's negative power would be a float)
        elif isinstance(x, Op) and x.shape == SCALAR and x.op in ("scale", "div") \
                and all(a.shape == SCALAR for a in x.args):
            a, b = x.args
            stack += [(b, k if x.op == "scale" else -k), (a, k)]
        elif isinstance(x, Op) and x.op == "pow" and isinstance(x.args[1], Num) \
                and x.args[1].value.denominator == 1 and x.args[0].shape == SCALAR:
            stack.append((x.args[0], k * int(x.args[1].value)))
        else:
            powers[x] = powers.get(x, 0) + k
    return c, powers


def monomial_of(c: Fraction, powers: dict) -> Expr:
    """The canonical spelling: ``c a b`` (numbers first, left-nested, as
    scale-of-scale leaves it), ``c (a / (b d²))`` with a divisor, ``c / b``
    without a dividend."""
    def power(x, k):
        return x if k == 1 else build("pow", (x, Num(Fraction(k))))

    def product(factors, first=None):
        acc = first
        for f in factors:
            acc = f if acc is None else build("scale", (acc, f))
        return acc

    above = [power(x, k) for x, k in powers.items() if k > 0]
    below = [power(x, -k) for x, k in powers.items() if k < 0]
    if c == 0:
        return Num(0)
    if not below:
        return product(above, Num(c) if c != 1 else None) or Num(c)
    if not above:  # 2 / N, not 2 (1 / N); −(2 / N)
        quotient = build("div", (Num(abs(c)), product(below)))
        return quotient if c > 0 else times(Fraction(-1), quotient, SCALAR)
    return times(c, build("div", (product(above), product(below))), SCALAR)


# ---------------------------------------------------------------------------
# sums: terms that share scalar factors (λ, 1/N) have them taken out, so the
# rest can be collected: A / N − (1/N) B -> (A − B) / N

@rewrite("drop-zero-terms", "add", quiet=True)
def _drop_zero_terms(e: Op, s) -> Expr | None:
    """``A + 0`` -> ``A`` (unless the zero carried the sum's broadcast shape)."""
    terms = flatten(e, "add", s.named)
    kept = [t for t in terms if not _is_zero(t)]
    if len(kept) == len(terms):
        return None
    result = sum_of(kept, e.shape)
    return result if result.shape == e.shape else None


@rewrite("common-scalar-factor", "add")
def _common_scalar_factor(e: Op, s) -> Expr | None:
    if e.shape == SCALAR:
        return None
    terms = flatten(e, "add")
    groups: dict = {}
    split = []
    for t in terms:
        c, scalars, core = _scalar_part(t)
        split.append((c, scalars, core))
        if scalars is not None:
            groups.setdefault(scalars, []).append(len(split) - 1)
    merged, done = [], set()
    for i, (_, scalars, _) in enumerate(split):
        if i in done:
            continue
        idx = groups.get(scalars, []) if scalars is not None else []
        if len(idx) < 2:
            merged.append(terms[i])
            continue
        inner = sum_of([times(split[j][0], split[j][2], split[j][2].shape) for j in idx], e.shape)
        inner = s.simplify(inner)
        factor = monomial_of(Fraction(1), dict(scalars))
        merged.append(_scaled(factor, inner))
        done.update(idx)
    if len(merged) == len(terms):
        return None
    return sum_of(merged, e.shape)


def _scalar_part(t: Expr):
    """(number, the other scalar factors as a hashable key or None, the rest)
    of a term: ``−(1/N) (y ∘ p)`` -> (−1, ((N, −1),), y ∘ p)."""
    c, factors = Fraction(1), []
    while isinstance(t, Op) and (t.op == "scale" or t.op == "div" and t.args[1].shape == SCALAR) \
            and t.shape != SCALAR:
        if t.op == "scale":
            factors.append((t.args[0], 1))
            t = t.args[1]
        else:
            factors.append((t.args[1], -1))
            t = t.args[0]
    if not factors:
        return c, None, t
    powers: dict = {}
    for f, k in factors:
        split = monomial(f)
        if split is None:
            return c, None, t
        c *= Fraction(split[0]) ** k
        for x, n in split[1].items():
            powers[x] = powers.get(x, 0) + n * k
    powers = {x: n for x, n in powers.items() if n}
    return c, (tuple(powers.items()) if powers else None), t


def _scaled(factor: Expr, e: Expr) -> Expr:
    """``factor e``, a divisor written as one: (1/N) A -> A / N."""
    if isinstance(factor, Op) and factor.op == "div":
        top, bottom = factor.args
        return build("div", (e if top == Num(1) else build("scale", (top, e)), bottom))
    return build("scale", (factor, e))


# ---------------------------------------------------------------------------
# sums: like terms collected, zeros dropped, numbers folded, common factors
# taken out, once over the whole flattened sum

@rewrite("collect-terms", "add")
def _collect(e: Op, s) -> Expr | None:
    """``A x + Aᵀ x`` -> ``(A + Aᵀ) x``, ``A x + A x`` -> ``2 A x``.  Where
    multiplying out Hadamard products makes the sum smaller, it is
    multiplied out: ``(1 − y) ∘ p − y ∘ (1 − p)`` -> ``p − y``."""
    terms = flatten(e, "add", s.named)
    collected = _collect_terms(e, terms, s.named)
    expanded = _expand(terms, s)
    if expanded is not None:
        alternative = _collect_terms(e, expanded, s.named)
        size = node_count(collected or e)
        if alternative is not None and node_count(alternative) < size:
            return alternative
    return collected


def coefficient(e: Expr) -> tuple[Fraction, Expr | None]:
    """``3 A`` -> (3, A); ``A`` -> (1, A); a number -> (value, None)."""
    if isinstance(e, Num):
        return e.value, None
    if isinstance(e, Op) and e.op == "scale" and isinstance(e.args[0], Num):
        return e.args[0].value, e.args[1]
    return Fraction(1), e


def times(c: Fraction, core: Expr | None, shape) -> Expr:
    """The number c times ``core`` (None: the number alone)."""
    if core is None:
        return Num(c)
    if c == 0:
        return zero_of(shape)
    if c == 1:
        return core
    return build("scale", (Num(c), core))


def flatten(e: Expr, op: str, opaque=frozenset()) -> list[Expr]:
    """The operands of a nest of one associative operator, left to right
    (iteratively): the terms of a sum, the factors of a matrix chain.  A
    node in ``opaque`` (a value the program named) below the top is one
    operand."""
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Op) and x.op == op and (x is e or x not in opaque):
            stack.extend(reversed(x.args))
        else:
            out.append(x)
    return out


def sum_of(terms: list[Expr], shape) -> Expr:
    if not terms:
        return zero_of(shape)
    result = terms[0]
    for t in terms[1:]:
        result = build("add", (result, t))
    return result


def product_of(factors: list[Expr]) -> Expr:
    result = factors[0]
    for f in factors[1:]:
        result = build("matmul", (result, f))
    return result


def _expand(terms: list[Expr], s) -> list[Expr] | None:
    """Hadamard products over sums multiplied out, one level; None if none."""
    out, changed = [], False
    for t in terms:
        c, core = coefficient(t)
        if isinstance(core, Op) and core.op == "had":
            a, b = core.args
            for x, y in ((a, b), (b, a)):
                if isinstance(y, Op) and y.op == "add" and y.shape == core.shape:
                    for u in flatten(y, "add", s.named):
                        out.append(s.simplify(times(c, _hadamard_sorted(x, u, s), core.shape)))
                    changed = True
                    break
            else:
                out.append(t)
        else:
            out.append(t)
    return out if changed else None


def _hadamard_sorted(x: Expr, y: Expr, s) -> Expr:
    """``x ∘ y`` with its factors in a fixed order (the simplifier's
    structural key, not their text), so equal products meet."""
    cx, x = coefficient(x)
    cy, y = coefficient(y)
    if x is None or y is None:
        return times(cx * cy, y if x is None else x, (y if x is None else x).shape) if (x or y) else Num(cx * cy)
    if s.order_key(x) > s.order_key(y):
        x, y = y, x
    return times(cx * cy, build("had", (x, y)), None)


def _collect_terms(e: Op, terms: list[Expr], opaque) -> Expr | None:
    coefficients: dict = {}
    order: list = []
    number = Fraction(0)
    first: dict = {}  # a commutative product's key -> the spelling met first
    for t in terms:
        if isinstance(t, Zero):
            continue
        c, core = coefficient(t)
        if core is None:
            number += c
            continue
        core = first.setdefault(_commutative_key(core), core)  # a ∘ b and b ∘ a are like terms
        if core not in coefficients:
            order.append(core)
            coefficients[core] = Fraction(0)
        coefficients[core] += c
    kept = [times(coefficients[c], c, c.shape) for c in order if coefficients[c] != 0]
    if number != 0 or (not kept and e.shape == SCALAR):
        kept.insert(0, Num(number))
    kept = _factor(kept, opaque)
    if not kept:
        return zero_of(e.shape)
    result = sum_of(kept, e.shape)
    if result.shape != e.shape:  # a dropped zero carried the broadcast shape
        return None
    return None if result == e else result


def _commutative_key(e: Expr):
    """The same key for ``a ∘ b`` and ``b ∘ a`` (and for ``a + b``, ``b + a``)."""
    if isinstance(e, Op) and e.op in ("had", "add") and len(e.args) == 2:
        a, b = e.args
        return (e.op, frozenset((a, b)), a == b)
    return e


def _factor(terms: list[Expr], opaque) -> list[Expr]:
    """Terms ``A C`` and ``B C`` (matrix products with one right factor) become
    ``(A + B) C``; the same on the left.  Terms are grouped by their factor
    in a dictionary, so a sum of n terms costs O(n) per merge."""
    merged = True
    while merged:
        merged = False
        for side in (1, 0):
            groups: dict = {}
            for i, t in enumerate(terms):
                if isinstance(t, Op) and (t.op == "matmul" or t.op == "scale" and side == 0
                                          and not isinstance(t.args[0], Num)):
                    groups.setdefault((t.op, t.args[side]), []).append(i)
            for (op, factor), idx in groups.items():
                if len(idx) < 2 or _kronecker(factor):
                    continue  # (the Kronecker rules multiply those out; taking them back in would loop)
                others = [terms[i].args[1 - side] for i in idx]
                if len({o.shape for o in others}) != 1:
                    continue
                # A + Aᵀ rather than Aᵀ + A: plain terms first
                others.sort(key=lambda o: isinstance(o, Op) and o.op == "T")
                inner = sum_of(others, others[0].shape)
                product = build(op, (inner, factor) if side == 1 else (factor, inner))
                taken = set(idx)
                rest = [t for i, t in enumerate(terms) if i not in taken]
                terms = rest[: idx[0]] + [product] + rest[idx[0]:]
                merged = True
                break
            if merged:
                break
    return _factor_hadamard(terms, opaque)


def _factor_hadamard(terms: list[Expr], opaque) -> list[Expr]:
    """Terms ``A ∘ P`` and ``c A ∘ Q`` share A: ``A ∘ (P + c Q)``."""
    while True:
        merged = _merge_hadamard_group(terms)
        if merged is None:
            return _factor_chains(terms, opaque)
        terms = merged


def _merge_hadamard_group(terms: list[Expr]) -> list[Expr] | None:
    """The terms with the first shared Hadamard factor merged; None if none."""
    groups: dict = {}
    split = []
    for i, t in enumerate(terms):
        c, core = coefficient(t)
        split.append((c, core))
        if isinstance(core, Op) and core.op == "had":
            for k, f in enumerate(dict.fromkeys(core.args)):
                groups.setdefault(f, []).append((i, core.args[1 - k] if core.args[0] == f else core.args[0]))
    for f, members in groups.items():
        if len(members) < 2:
            continue
        idx = [i for i, _ in members]
        members.sort(key=lambda m: split[m[0]][0] < 0)  # G Vᵀ − c rather than −c + G Vᵀ
        try:
            inner = sum_of([times(split[i][0], other, other.shape) for i, other in members], None)
            merged = build("had", (f, inner))
        except ShapeError:  # the others do not broadcast together
            continue
        if merged.shape != terms[idx[0]].shape:
            continue
        taken = set(idx)
        rest = [t for n, t in enumerate(terms) if n not in taken]
        return rest[: idx[0]] + [merged] + rest[idx[0]:]
    return None


def _factor_chains(terms: list[Expr], opaque) -> list[Expr]:
    """Matrix chains that end (or start) alike share the common part when
    that is no dearer to evaluate: ``D U P W − y yᵀ U P W`` ->
    ``(D − y yᵀ) U P W``, but ``X b cᵀ + X c bᵀ`` stays (two outer products
    and an n×n product would cost more)."""
    while True:
        merged = _merge_chain_pair(terms, opaque)
        if merged is None:
            return terms
        terms = merged


def _merge_chain_pair(terms: list[Expr], opaque) -> list[Expr] | None:
    """The first pair of terms (in order) whose chains share an end worth
    sharing, merged; None if there is none.  Only the terms that end (or
    start) with the same factor are compared, found by dictionary."""
    split = []
    by_end: dict = {}
    for j, t in enumerate(terms):
        c, core = coefficient(t)
        chain = flatten(core, "matmul", opaque) if isinstance(core, Op) and core.op == "matmul" else None
        split.append((c, chain))
        if chain is not None:
            by_end.setdefault(("suffix", chain[-1]), []).append(j)
            by_end.setdefault(("prefix", chain[0]), []).append(j)
    for i, (ci, a) in enumerate(split):
        if a is None:
            continue
        partners = sorted({j for j in by_end[("suffix", a[-1])] + by_end[("prefix", a[0])] if j > i})
        for j in partners:
            cj, b = split[j]
            for side in ("suffix", "prefix"):
                k = _common(a, b, side)
                if k == 0 or k >= min(len(a), len(b)):
                    continue
                shared = a[-k:] if side == "suffix" else a[:k]
                if any(_kronecker(f) for f in shared):
                    continue  # the Kronecker rules multiply these out; taking them back in would loop
                rest_a = a[:-k] if side == "suffix" else a[k:]
                rest_b = b[:-k] if side == "suffix" else b[k:]
                inner = build("add", (times(ci, product_of(rest_a), None),
                                      times(cj, product_of(rest_b), None)))
                if inner.shape is None:
                    continue
                merged = (product_of([inner] + shared) if side == "suffix" else product_of(shared + [inner]))
                if cost(merged) <= cost(terms[i]) + cost(terms[j]):
                    rest = [t for n, t in enumerate(terms) if n not in (i, j)]
                    return rest[:i] + [merged] + rest[i:]
    return None


def _kronecker(e: Expr) -> bool:
    return isinstance(e, Op) and e.op in ("kron", "commutation")


def _common(a: list, b: list, side: str) -> int:
    n = 0
    pairs = zip(reversed(a), reversed(b)) if side == "suffix" else zip(a, b)
    for x, y in pairs:
        if x != y:
            break
        n += 1
    return n


# ---------------------------------------------------------------------------
# cost

def cost(e: Expr) -> int:
    """A rough count of multiplications to evaluate ``e`` (symbolic sizes
    taken as large, vectors as thin)."""
    total, seen = 0, set()
    for node in e.walk():
        if node in seen or not isinstance(node, Op):
            continue
        seen.add(node)
        size = stand_in_size(rows_of(node.shape)) * stand_in_size(cols_of(node.shape))
        if node.op == "matmul":
            total += size * stand_in_size(cols_of(node.args[0].shape))
        else:
            total += size
    return total


def stand_in_size(d) -> int:
    """A stand-in size for cost estimates: symbolic dimensions are large."""
    if d == 1:
        return 1
    if isinstance(d, int):
        return d
    size = 1
    for part in str(d).split("*"):
        size *= int(part) if part.isdigit() else 64
    return size


def order_chain(factors: list[Expr]) -> Expr:
    """The cheapest parenthesisation of a matrix chain (the classic dynamic
    programme), with symbolic sizes taken as large: vectors go first."""
    n = len(factors)
    dims = [stand_in_size(rows_of(f.shape)) for f in factors] + [stand_in_size(cols_of(factors[-1].shape))]
    best = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best[i][j] = None
            for k in range(i, j):
                c = best[i][k] + best[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if best[i][j] is None or c < best[i][j]:
                    best[i][j], split[i][j] = c, k

    def assemble(i, j):
        if i == j:
            return factors[i]
        k = split[i][j]
        return build("matmul", (assemble(i, k), assemble(k + 1, j)))

    return assemble(0, n - 1)


def dimension(d) -> Expr:
    """A size as a scalar expression: 3 -> 3, "n" -> n, "m*n" -> m n."""
    if isinstance(d, int):
        return Num(d)
    factors = [Num(int(f)) if f.isdigit() else DimSize(f) for f in str(d).split("*")]
    result = factors[0]
    for f in factors[1:]:
        result = build("scale", (result, f))
    return result
