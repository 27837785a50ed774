"""The simplifier: algebra (numbers, zeros, identities, like terms, cheap
matrix chains) plus the rewrites of ``rules/simplify.rules``, bottom-up to a
fixed point.

It terminates by construction: every rewrite is oriented (it removes a node,
pushes a transpose towards the leaves, or folds numbers).  A rule file can
break that orientation (``grow: A -> A + 0 A``, or two rules that undo each
other), so three bounds end every run with a ``LimitError`` naming the rules
that fired, never a hang or a RecursionError: a node rewritten more than
``MAX_REWRITES_PER_NODE`` times (a cycle), rewrites nested more than
``MAX_NESTING`` deep (each rewrite making new nodes that rewrite again), and
``MAX_STEPS`` rewrites in all.

``simplify(e, trace=[])`` appends the name of every rule that fired.
"""
from __future__ import annotations

import threading
from fractions import Fraction

from .errors import LimitError
from .expr import (SCALAR, Expr, Identity, Num, Ones, Op, Zero, cols_of,
                   node_count, rows_of)
from .errors import ShapeError
from .rules import NO_CONTEXT, Context, conditions_hold, default_rules, instantiate, match

MAX_REWRITES_PER_NODE = 64
MAX_NESTING = 100
MAX_STEPS = 200_000


def simplify(e: Expr, ctx: Context = NO_CONTEXT, rules=None, trace: list | None = None,
             memo: dict | None = None) -> Expr:
    """The simplified form of a typed tree.

    >>> from matcalc.parser import parse_program
    >>> from matcalc.shape_inference import infer_shapes
    >>> print(simplify(infer_shapes(parse_program("F = ((A B)ᵀ)ᵀ + 0")).definitions["F"]))
    A B
    """
    rules = default_rules().of("simplify") if rules is None else rules
    memo = {} if memo is None else memo
    run = _run()
    if run.nesting == 0:
        run.budget[0] = MAX_STEPS
        run.fired.clear()
    elif run.nesting >= MAX_NESTING:
        raise LimitError(f"simplification kept rewriting the nodes its rewrites made ({MAX_NESTING} levels "
                         f"deep); rules that grow without bound or undo each other? {_fired_text()}")
    outer, run.memo = run.memo, memo
    run.nesting += 1
    try:
        # a node already in the memo is done (or opaque: the engine seeds the
        # memo with the forward nodes, which are the user's and stay as they are)
        for node in e.walk(prune=lambda n: n in memo or _is_differential(n)):
            if node in memo:
                continue
            if isinstance(node, Op) and node.op != "d":
                args = tuple(memo.get(a, a) for a in node.args)
                rebuilt = node if args == node.args else _rebuild(node.op, args)
                memo[node] = _to_fixed_point(rebuilt, ctx, rules, trace, memo, run.budget)
            else:
                memo[node] = node
    finally:
        run.memo = outer
        run.nesting -= 1
    return memo[e]


class _Run(threading.local):
    """The simplification in progress in this thread (each thread has its
    own: simplifications in other threads never share a budget or a memo)."""

    def __init__(self):
        self.memo: dict | None = None  # the memo of the simplification in progress
        self.nesting = 0  # simplify() calls in progress (a rewrite simplifies the nodes it made)
        self.budget = [MAX_STEPS]  # rewrites left to the outermost simplify() in progress
        self.fired: list = []  # the names of the last rules that fired (for a LimitError)


_RUN = _Run()


def _run() -> _Run:
    """This thread's run."""
    return _RUN


def _fired_text() -> str:
    fired = _run().fired
    names = list(dict.fromkeys(reversed(fired[-50:])))
    return ", ".join(names) if names else "(algebra only)"


def _is_differential(e: Expr) -> bool:
    """``d(v)`` names the forward node v: never rewrite inside it."""
    return isinstance(e, Op) and e.op == "d"


def _rebuild(op: str, args: tuple) -> Expr:
    from .shapes import build

    return build(op, args)


def _to_fixed_point(e: Expr, ctx, rules, trace, memo, budget) -> Expr:
    for _ in range(MAX_REWRITES_PER_NODE):
        budget[0] -= 1
        if budget[0] < 0:
            raise LimitError("simplification did not settle within its step limit "
                             f"({MAX_STEPS} rewrites); the expression may be growing without bound: "
                             f"{_fired_text()}")
        new = _algebra(e)
        if new is None:
            new = _rewrite(e, ctx, rules, trace) if isinstance(e, Op) else None
            if new is None:
                return e
        if new == e:
            return e
        # the rewrite may have made new nodes below the top: simplify them too
        e = simplify(new, ctx, rules, trace, memo) if isinstance(new, Op) and new not in memo else memo.get(new, new)
    raise LimitError(f"simplification rewrote one node {MAX_REWRITES_PER_NODE} times without settling; "
                     f"rules that undo each other? {_fired_text()}")


def _rewrite(e: Op, ctx, rules, trace) -> Expr | None:
    """The first rule that matches and whose right side fits together
    (``kron(A, B) kron(C, D)`` only where A C and B D are defined)."""
    for rule in rules:
        bindings = match(rule.lhs, e)
        if bindings is None or not conditions_hold(rule, bindings, ctx):
            continue
        try:
            new = instantiate(rule.rhs, bindings, e.shape)
        except ShapeError:
            continue
        if trace is not None:
            trace.append(rule.name)
        fired = _run().fired
        fired.append(rule.name)
        del fired[:-100]
        return new
    return None


# ---------------------------------------------------------------------------
# algebra: each function returns a simpler equal node, or None

def _coefficient(e: Expr) -> tuple[Fraction, Expr | None]:
    """``3 A`` -> (3, A); ``A`` -> (1, A); a number -> (value, None)."""
    if isinstance(e, Num):
        return e.value, None
    if isinstance(e, Op) and e.op == "scale" and isinstance(e.args[0], Num):
        return e.args[0].value, e.args[1]
    return Fraction(1), e


def _times(c: Fraction, core: Expr | None, shape) -> Expr:
    from .shapes import build

    if core is None:
        return Num(c)
    if c == 0:
        return Zero(shape) if shape != SCALAR else Num(0)
    if c == 1:
        return core
    return build("scale", (Num(c), core))


def _flatten(e: Expr, op: str) -> list[Expr]:
    """The operands of a nest of one associative operator, left to right
    (iteratively): the terms of a sum, the factors of a matrix chain."""
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Op) and x.op == op:
            stack.extend(reversed(x.args))
        else:
            out.append(x)
    return out


def _terms(e: Expr) -> list[Expr]:
    return _flatten(e, "add")


def _chain(e: Expr) -> list[Expr]:
    return _flatten(e, "matmul")


def _sum_of(terms: list[Expr], shape) -> Expr:
    from .shapes import build

    if not terms:
        return Zero(shape) if shape != SCALAR else Num(0)
    result = terms[0]
    for t in terms[1:]:
        result = build("add", (result, t))
    return result


def _collect(e: Op) -> Expr | None:
    """Like terms collected, zeros dropped, numbers folded, common factors
    taken out: ``A x + Aᵀ x`` -> ``(A + Aᵀ) x``, ``A x + A x`` -> ``2 A x``.
    Where multiplying out Hadamard products makes the sum smaller, it is
    multiplied out: ``(1 − y) ∘ p − y ∘ (1 − p)`` -> ``p − y``."""
    terms = _terms(e)
    collected = _collect_terms(e, terms)
    expanded = _expand(terms)
    if expanded is not None:
        alternative = _collect_terms(e, expanded)
        size = node_count(collected or e)
        if alternative is not None and node_count(alternative) < size:
            return alternative
    return collected


def _expand(terms: list[Expr]) -> list[Expr] | None:
    """Hadamard products over sums multiplied out, one level; None if none."""
    out, changed = [], False
    for t in terms:
        c, core = _coefficient(t)
        if isinstance(core, Op) and core.op == "had":
            a, b = core.args
            for x, s in ((a, b), (b, a)):
                if isinstance(s, Op) and s.op == "add" and s.shape == core.shape:
                    for u in _terms(s):
                        out.append(simplify(_times(c, _hadamard_sorted(x, u), core.shape), memo=_run().memo))
                    changed = True
                    break
            else:
                out.append(t)
        else:
            out.append(t)
    return out if changed else None


def _hadamard_sorted(x: Expr, y: Expr) -> Expr:
    """``x ∘ y`` with its factors in a fixed order, so equal products meet."""
    from .printer import to_ascii

    cx, x = _coefficient(x)
    cy, y = _coefficient(y)
    if x is None or y is None:
        return _times(cx * cy, y if x is None else x, (y if x is None else x).shape) if (x or y) else Num(cx * cy)
    if to_ascii(x) > to_ascii(y):
        x, y = y, x
    return _times(cx * cy, _rebuild("had", (x, y)), None)


def _collect_terms(e: Op, terms: list[Expr]) -> Expr | None:
    coefficients: dict = {}
    order: list = []
    number = Fraction(0)
    first: dict = {}  # a commutative product's key -> the spelling met first
    for t in terms:
        if isinstance(t, Zero):
            continue
        c, core = _coefficient(t)
        if core is None:
            number += c
            continue
        core = first.setdefault(_commutative_key(core), core)  # a ∘ b and b ∘ a are like terms
        if core not in coefficients:
            order.append(core)
            coefficients[core] = Fraction(0)
        coefficients[core] += c
    kept = [_times(coefficients[c], c, c.shape) for c in order if coefficients[c] != 0]
    if number != 0 or (not kept and e.shape == SCALAR):
        kept.insert(0, Num(number))
    kept = _factor(kept)
    if not kept:
        return Zero(e.shape) if e.shape != SCALAR else Num(0)
    result = _sum_of(kept, e.shape)
    if result.shape != e.shape:  # a dropped zero carried the broadcast shape
        return None
    return None if result == e else result


def _commutative_key(e: Expr):
    """The same key for ``a ∘ b`` and ``b ∘ a`` (and for ``a + b``, ``b + a``)."""
    if isinstance(e, Op) and e.op in ("had", "add") and len(e.args) == 2:
        a, b = e.args
        return (e.op, frozenset((a, b)), a == b)
    return e


def _factor(terms: list[Expr]) -> list[Expr]:
    """Terms ``A C`` and ``B C`` (matrix products with one right factor) become
    ``(A + B) C``; the same on the left."""
    from .shapes import build

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
            inner = _sum_of(others, others[0].shape)
            merged = build(op, (inner, factor) if side == 1 else (factor, inner))
            rest = [t for i, t in enumerate(terms) if i not in idx]
            return _factor([merged] + rest) if idx[0] == 0 else _factor(rest[: idx[0]] + [merged] + rest[idx[0]:])
    return _factor_chains(terms)


def _factor_chains(terms: list[Expr]) -> list[Expr]:
    """Matrix chains that end (or start) alike share the common part when
    that is no dearer to evaluate: ``D U P W − y yᵀ U P W`` ->
    ``(D − y yᵀ) U P W``, but ``X b cᵀ + X c bᵀ`` stays (two outer products
    and an n×n product would cost more)."""
    from .shapes import build

    split = []
    for t in terms:
        c, core = _coefficient(t)
        chain = _chain(core) if isinstance(core, Op) and core.op == "matmul" else None
        split.append((c, chain))
    for i, (ci, a) in enumerate(split):
        if a is None:
            continue
        for j in range(i + 1, len(split)):
            cj, b = split[j]
            if b is None:
                continue
            for side in ("suffix", "prefix"):
                k = _common(a, b, side)
                if k == 0 or k >= min(len(a), len(b)):
                    continue
                shared = a[-k:] if side == "suffix" else a[:k]
                if any(_kronecker(f) for f in shared):
                    continue  # the Kronecker rules multiply these out; taking them back in would loop
                rest_a = a[:-k] if side == "suffix" else a[k:]
                rest_b = b[:-k] if side == "suffix" else b[k:]
                inner = build("add", (_times(ci, _product_of(rest_a), None),
                                      _times(cj, _product_of(rest_b), None)))
                if inner.shape is None:
                    continue
                merged = (_product_of([inner] + shared) if side == "suffix" else _product_of(shared + [inner]))
                if _cost(merged) <= _cost(terms[i]) + _cost(terms[j]):
                    rest = [t for n, t in enumerate(terms) if n not in (i, j)]
                    return _factor_chains(rest[:i] + [merged] + rest[i:])
    return terms


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


def _product_of(factors: list[Expr]) -> Expr:
    from .shapes import build

    result = factors[0]
    for f in factors[1:]:
        result = build("matmul", (result, f))
    return result


def _cost(e: Expr) -> int:
    """A rough count of multiplications to evaluate ``e`` (symbolic sizes
    taken as large, vectors as thin)."""
    total, seen = 0, set()
    for node in e.walk():
        if node in seen or not isinstance(node, Op):
            continue
        seen.add(node)
        size = _size(rows_of(node.shape)) * _size(cols_of(node.shape))
        if node.op == "matmul":
            total += size * _size(cols_of(node.args[0].shape))
        else:
            total += size
    return total


def _size(d) -> int:
    """A stand-in size for cost estimates: symbolic dimensions are large."""
    if d == 1:
        return 1
    if isinstance(d, int):
        return d
    size = 1
    for part in str(d).split("*"):
        size *= int(part) if part.isdigit() else 64
    return size


def _order_chain(factors: list[Expr]) -> Expr:
    """The cheapest parenthesisation of a matrix chain (the classic dynamic
    programme), with symbolic sizes taken as large: vectors go first."""
    from .shapes import build

    n = len(factors)
    dims = [_size(rows_of(f.shape)) for f in factors] + [_size(cols_of(factors[-1].shape))]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def assemble(i, j):
        if i == j:
            return factors[i]
        k = split[i][j]
        return build("matmul", (assemble(i, k), assemble(k + 1, j)))

    return assemble(0, n - 1)


def _dimension(d) -> Expr:
    """A size as a scalar expression: 3 -> 3, "n" -> n, "m*n" -> m n."""
    from .expr import DimSize

    if isinstance(d, int):
        return Num(d)
    factors = [Num(int(f)) if f.isdigit() else DimSize(f) for f in str(d).split("*")]
    result = factors[0]
    for f in factors[1:]:
        result = _rebuild("scale", (result, f))
    return result


def _is_ones(e: Expr) -> bool:
    return isinstance(e, Ones) or isinstance(e, Op) and e.op == "T" and isinstance(e.args[0], Ones)


def _algebra(e: Expr) -> Expr | None:
    if not isinstance(e, Op):
        return None
    op, args, shape = e.op, e.args, e.shape
    if op == "add":
        return _collect(e)
    if op == "scale":
        # scalar factors gathered on the left, numbers first: λ (2 A) -> (2 λ) A,
        # which prints as 2 λ A and costs one pass over A
        s, a = args
        if isinstance(a, Zero) or s == Num(0) or a == Num(0):
            return Zero(shape) if shape != SCALAR else Num(0)
        if s == Num(1):
            return a
        if isinstance(s, Num) and isinstance(a, Num):
            return Num(s.value * a.value)
        if isinstance(a, Num):  # λ 2 -> 2 λ
            return _rebuild("scale", (a, s))
        if isinstance(a, Op) and a.op == "scale":
            # (numbers multiplied here: the user's own 2*2 may be a forward node, kept as it is)
            t = a.args[0]
            factor = Num(s.value * t.value) if isinstance(s, Num) and isinstance(t, Num) else _rebuild("scale", (s, t))
            return _rebuild("scale", (factor, a.args[1]))
        return None
    if op == "matmul":
        a, b = args
        if isinstance(a, Zero) or isinstance(b, Zero):
            return Zero(shape) if shape != SCALAR else Num(0)
        if isinstance(a, Identity):
            return b
        if isinstance(b, Identity):
            return a
        if _is_ones(a) and _is_ones(b):  # 𝟙 𝟙ᵀ is all ones; 𝟙ᵀ 𝟙 counts
            inner = cols_of(a.shape)
            block = Ones(shape) if shape != SCALAR else Num(1)
            return block if inner == 1 else _rebuild("scale", (_dimension(inner), block))
        for i, x in enumerate(args):  # scalars out of products: (λ A) B -> λ (A B)
            if isinstance(x, Op) and x.op == "scale":
                rest = (x.args[1], b) if i == 0 else (a, x.args[1])
                return _rebuild("scale", (x.args[0], _rebuild("matmul", rest)))
        factors = _chain(e)
        if len(factors) > 2:
            ordered = _order_chain(factors)
            return None if ordered == e else ordered
        return None
    if op in ("had", "div"):
        a, b = args
        if isinstance(a, Zero) or a == Num(0):
            return Zero(shape) if shape != SCALAR else Num(0)
        if op == "had":
            if isinstance(b, Zero) or b == Num(0):
                return Zero(shape) if shape != SCALAR else Num(0)
            for x, y in ((a, b), (b, a)):
                if _is_ones(x) and y.shape == shape:
                    return y
                if x.shape == SCALAR:  # a scalar broadcast: scalar multiple
                    return _rebuild("scale", (x, y))
            for i, x in enumerate(args):
                # scalar factors out of Hadamard products: (λ A) ∘ B -> λ (A ∘ B)
                # and so are scalar divisors: (A / N) ∘ B -> (A ∘ B) / N
                if isinstance(x, Op) and (x.op == "scale" or x.op == "div" and x.args[1].shape == SCALAR):
                    inner = x.args[1] if x.op == "scale" else x.args[0]
                    rest = (inner, b) if i == 0 else (a, inner)
                    if _rebuild("had", rest).shape == shape:
                        product = _rebuild("had", rest)
                        return (_rebuild("scale", (x.args[0], product)) if x.op == "scale"
                                else _rebuild("div", (product, x.args[1])))
        else:
            if isinstance(b, Num) and b.value != 0:
                return _times(1 / b.value, a, shape) if a.shape == shape else None
            c, core = _coefficient(a)
            if c != 1 and core is not None and core.shape == shape:
                return _times(c, _rebuild("div", (core, b)), shape)
        return None
    if op == "T":
        (a,) = args
        if isinstance(a, Zero):  # (onesᵀ stays: it reads as "sum the rows")
            return Zero(shape)
        if isinstance(a, (Identity, Num)):
            return a
        if isinstance(a, Op) and a.op == "scale":
            return _rebuild("scale", (a.args[0], _rebuild("T", (a.args[1],))))
        return None
    if op == "reshape" and isinstance(args[0], (Ones, Zero)):  # all ones (zeros) in any arrangement
        return type(args[0])(shape)
    if op in ("tr", "sum") and (isinstance(args[0], Zero) or args[0] == Num(0)):
        return Num(0)
    if op in ("tr", "sum") and isinstance(args[0], Op) and args[0].op == "scale":
        s, a = args[0].args
        return _rebuild("scale", (s, _rebuild(op, (a,))))
    if op == "pow":
        a, k = args
        if isinstance(k, Num) and k.value == 1:
            return a
        if isinstance(k, Num) and k.value == 0:
            return Num(1)
        if isinstance(a, Num) and isinstance(k, Num) and k.value.denominator == 1:
            return Num(a.value ** int(k.value))
        return None
    if op == "epow" and isinstance(args[1], Num) and args[1].value == 1:
        return args[0]
    return None
