"""The simplifier: the algebra of ``matcalc.rewriting.algebra`` (numbers, zeros,
identities, like terms, cheap matrix chains) plus the rewrites of
``rules/simplify.rules``, bottom-up to a fixed point.

A ``Simplifier`` is one run's state, as egg's ``Runner`` is: its rules (an
index by head operator, so a node meets only the rules that could match
it), its context, its limits, its memo (each node is simplified once) and
its trace (the name of every rewrite that fired, in order).  Nothing is
global: two simplifiers never see each other's memo or limits.

For ``--steps`` it also remembers which rewrites made each node
(``rewrites_of``): the names that fired on the node and below it, in the
order they first fired, with those of rules tagged ``quiet`` left out.  The
memo keeps them, so an expression that meets a node simplified earlier (for
another step of the derivation) still names the rewrites that shaped it;
``recording()`` gathers them for the outermost calls of a block.

It terminates by construction: every rewrite is oriented (it removes a node,
pushes a transpose towards the leaves, or folds numbers).  A rule file can
break that orientation (``grow: A -> A + 0 A``, or two rules that undo each
other), so three bounds (``Limits``) end every run with a ``LimitError``
naming the rewrites that fired, never a hang or a RecursionError: a node
rewritten more than ``rewrites_per_node`` times (a cycle), rewrites nested
more than ``nesting`` deep (each rewrite making new nodes that rewrite
again), and ``steps`` rewrites in all.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from ..language.errors import LimitError, ShapeError
from ..language.expr import Expr, Num, Op
from ..shapes.core import build
from .algebra import REWRITES, flatten, sum_of
from .rules import NO_CONTEXT, Context, conditions_hold, default_rules, head_operators, instantiate, match


@dataclass(frozen=True)
class Limits:
    """The bounds of one simplification (per outermost call)."""

    rewrites_per_node: int = 64
    nesting: int = 100
    steps: int = 200_000


LIMITS = Limits()


class Simplifier:
    """Simplifies typed trees with one rule list, context and memo.

    >>> Simplifier()(parse("((A B)ᵀ)ᵀ + 0"))   # doctest: +SKIP
    A B

    ``memo`` may be seeded (node -> node) with nodes to keep as they are: the
    engine seeds it with the forward nodes of the program, which are the
    user's; ``named`` (the nodes the program named) are not even looked
    into by a rule.  One simplifier may serve a whole derivation, so each node is
    looked at once however many cotangents share it.
    """

    def __init__(self, rules=None, ctx: Context = NO_CONTEXT, limits: Limits = LIMITS,
                 memo: dict | None = None, named=frozenset(), shaped: dict | None = None):
        self.rules = list(default_rules().of("simplify") if rules is None else rules)
        self.ctx = ctx
        self.limits = limits
        self.memo: dict = {} if memo is None else memo
        # values the program named: kept whole, a rule never looks into them
        # ((X Wv)ᵀ -> Wvᵀ Xᵀ would recompute V = X Wv, and (X + A V)ᵀ spelt out
        # would double at each block of a stack)
        self.named = named
        self.trace: list[str] = []  # the name of every rewrite that fired, in order
        # node (a key of the memo) -> the names of the rewrites that made memo[node], in the order
        # they first fired (empty ones not stored); shared with the memo when a memo is shared
        self.shaped: dict = {} if shaped is None else shaped
        self._quiet = frozenset([r.name for r in self.rules if "quiet" in r.tags]
                                + [a.name for rs in REWRITES.values() for a in rs if a.quiet])
        self._recordings: list[list] = []  # open recording() blocks
        self._keys: dict = {}  # node -> its order_key
        self._by_head: dict = {}  # operator -> the rules whose left side can match it
        self._nesting = 0  # simplify() calls in progress (a rewrite simplifies the nodes it made)
        self._budget = limits.steps  # rewrites left to the outermost call in progress

    def __call__(self, e: Expr) -> Expr:
        return self.simplify(e)

    def simplify(self, e: Expr) -> Expr:
        """The simplified form of ``e``."""
        memo, shaped, trace = self.memo, self.shaped, self.trace
        if self._nesting == 0:
            self._budget = self.limits.steps
        elif self._nesting >= self.limits.nesting:
            raise LimitError(f"simplification kept rewriting the nodes its rewrites made ({self.limits.nesting} "
                             f"levels deep); rules that grow without bound or undo each other? {self._fired()}")
        self._nesting += 1
        try:
            # a node already in the memo is done (or opaque: a seeded forward node)
            for node, operands in _operands_first(e, lambda n: n in memo or _is_differential(n), self.named):
                if node in memo:
                    continue
                if isinstance(node, Op) and node.op != "d":
                    args = [memo.get(a, a) for a in operands]
                    if all(a is b for a, b in zip(args, operands)):
                        rebuilt = node
                    elif node.op == "add":
                        rebuilt = sum_of(args, node.shape)
                    else:
                        rebuilt = _rebuild(node.op, tuple(args))
                    fired = len(trace)
                    memo[node] = self._to_fixed_point(rebuilt)
                    names = _merged([shaped.get(a, ()) for a in operands], trace[fired:], self._quiet)
                    if names:
                        shaped[node] = names
                else:
                    memo[node] = node
        finally:
            self._nesting -= 1
        if self._nesting == 0:
            for names in self._recordings:
                names.extend(n for n in shaped.get(e, ()) if n not in names)
        return memo[e]

    def rewrites_of(self, e: Expr) -> tuple:
        """The names of the rewrites that made the simplified form of ``e``
        (after ``simplify(e)``), in the order they first fired: on ``e`` and
        below it, in this call or an earlier one (the memo's); none for a rule
        tagged ``quiet``."""
        return self.shaped.get(e, ())

    @contextmanager
    def recording(self):
        """``with simplifier.recording() as names:`` -- ``names`` receives
        ``rewrites_of`` each expression simplified in the block (outermost
        calls), without repeats."""
        names: list = []
        self._recordings.append(names)
        try:
            yield names
        finally:
            self._recordings.remove(names)

    def _to_fixed_point(self, e: Expr) -> Expr:
        for _ in range(self.limits.rewrites_per_node):
            self._budget -= 1
            if self._budget < 0:
                raise LimitError("simplification did not settle within its step limit "
                                 f"({self.limits.steps} rewrites); the expression may be growing without bound: "
                                 f"{self._fired()}")
            new, name = self._rewrite(e) if isinstance(e, Op) else (None, None)
            if new is None or new == e:
                return e
            self.trace.append(name)
            # the rewrite may have made new nodes below the top: simplify them too
            e = self.simplify(new) if isinstance(new, Op) and new not in self.memo else self.memo.get(new, new)
        raise LimitError(f"simplification rewrote one node {self.limits.rewrites_per_node} times without "
                         f"settling; rules that undo each other? {self._fired()}")

    def _rewrite(self, e: Op) -> tuple:
        """(new node, the rewrite's name): the algebra's first rewrite of e,
        else the first rule that matches and whose right side fits together
        (``kron(A, B) kron(C, D)`` only where A C and B D are defined);
        (None, None) when none applies."""
        for algebra in REWRITES.get(e.op, ()):
            new = algebra.apply(e, self)
            if new is not None:
                return new, algebra.name
        for rule in self._rules_for(e.op):
            bindings = match(rule.lhs, e, opaque=self.named)
            if bindings is None or not conditions_hold(rule, bindings, self.ctx):
                continue
            try:
                new = instantiate(rule.rhs, bindings, e.shape)
            except ShapeError:
                continue
            if new.shape != e.shape:  # ones ./ s -> 1 ./ s would lose the shape of ones
                continue
            return new, rule.name
        return None, None

    def _rules_for(self, op: str) -> list:
        """The rules whose left side can match a node of operator ``op``, in
        file order (the first that matches wins)."""
        found = self._by_head.get(op)
        if found is None:
            found = []
            for rule in self.rules:
                heads = head_operators(rule.lhs)
                if heads is None or op in heads:
                    found.append(rule)
            self._by_head[op] = found
        return found

    def order_key(self, e: Expr) -> tuple:
        """A total order of nodes by structure (constants, then names, then
        operators by name and operands), computed once per DAG node: equal
        subtrees share one key, so comparing two keys costs the depth of
        their first difference, never a printout."""
        keys = self._keys
        if e in keys:
            return keys[e]
        for node in e.walk(prune=lambda n: n in keys):
            if node in keys:
                continue
            if isinstance(node, Op):
                keys[node] = (2, node.op, str(node.shape), tuple(keys[a] for a in node.args))
            elif isinstance(node, Num):
                keys[node] = (0, float(node.value), str(node.value), str(node.shape))
            else:
                keys[node] = (1, type(node).__name__, getattr(node, "name", ""), str(node.shape))
        return keys[e]

    def _fired(self) -> str:
        names = list(dict.fromkeys(reversed(self.trace[-50:])))
        return ", ".join(names) if names else "(nothing fired)"


def simplify(e: Expr, ctx: Context = NO_CONTEXT, rules=None, trace: list | None = None,
             memo: dict | None = None) -> Expr:
    """The simplified form of a typed tree (a one-off ``Simplifier``);
    ``trace`` (a list) receives the names of the rewrites that fired.

    >>> from matcalc.language.parser import parse_program
    >>> from matcalc.shapes.inference import infer_shapes
    >>> print(simplify(infer_shapes(parse_program("F = ((A B)ᵀ)ᵀ + 0")).definitions["F"]))
    A B
    """
    simplifier = Simplifier(rules, ctx, memo=memo)
    try:
        return simplifier(e)
    finally:
        if trace is not None:
            trace.extend(simplifier.trace)


def _merged(below: list, fired: list, quiet: frozenset) -> tuple:
    """The names of ``below`` (tuples, one per operand) then ``fired``, each
    once and in order, without the ``quiet`` ones; shares a tuple when only
    one part has names (most nodes have none: this stays cheap)."""
    parts = [b for b in below if b]
    if not fired and len(parts) <= 1:
        return parts[0] if parts else ()
    out = dict.fromkeys(n for b in parts for n in b)
    out.update(dict.fromkeys(n for n in fired if n not in quiet))
    return tuple(out)


def _operands_first(e: Expr, opaque, named):
    """(node, its operands) for every node below e once, operands first
    (iteratively).  The operands of a sum are its terms, however the ``+``
    nest: a sum of n terms is one node to simplify, not n - 1 nested ones
    that would each collect the terms below them again.  ``opaque(node)``:
    the node is yielded but not entered."""
    seen: set = set()
    stack: list = [(e, None)]
    while stack:
        node, operands = stack.pop()
        if operands is not None:
            yield node, operands
            continue
        if node in seen:
            continue
        seen.add(node)
        if opaque(node):
            yield node, ()
            continue
        operands = flatten(node, "add", named) if isinstance(node, Op) and node.op == "add" else node.children
        stack.append((node, operands))
        stack.extend((c, None) for c in reversed(operands) if c not in seen)


def _is_differential(e: Expr) -> bool:
    """``d(v)`` names the forward node v: never rewrite inside it."""
    return isinstance(e, Op) and e.op == "d"


def _rebuild(op: str, args: tuple) -> Expr:
    return build(op, args)
