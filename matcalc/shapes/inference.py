"""Shape inference proper: ``infer_shapes``, the solver.

See ``matcalc.shapes.core`` for the method (unification of dimensions, rules that
wait until they can decide, defaults taken one at a time).  ``build`` and the
signatures of the operators live there; this module only solves.
"""
from __future__ import annotations

import re
from collections import Counter, deque
from itertools import chain, count
from typing import TYPE_CHECKING

from ..language.errors import ShapeError
from ..language.expr import (
    SCALAR,
    DimSize,
    Expr,
    Identity,
    Num,
    Ones,
    Op,
    PatternVar,
    Shape,
    Sym,
    Zero,
    cols_of,
    format_shape,
    make_shape,
    rows_of,
)
from ..language.names import GREEK_NAMES, canonical_letter
from .core import TypedProgram, build, dim_argument, dim_product, integer_value, mismatch_message, short_text, signature

if TYPE_CHECKING:  # the parser is the stage before this one
    from ..language.parser import SurfaceProgram

# ---------------------------------------------------------------------------
# kinds by case

_GREEK_WORDS = frozenset(name.lower() for name in GREEK_NAMES.values())
_KIND_ORDER = {"matrix": 0, "vector": 1, "scalar": 2}


def default_kind(name: str) -> str | None:
    """The kind of an undeclared name: ``W`` → matrix, ``x``, ``yhat``,
    ``b1`` → vector, ``theta`` (``θ``) → scalar, ``Sigma`` → matrix."""
    word = re.match(r"[^\W\d_]*", name).group(0)
    if word and not word.isascii():  # a hand-built tree may spell θ as θ
        word = canonical_letter(word[0]) or word
    if re.sub(r"(hat|bar|tilde|ddot|dot)+$", "", word).lower() in _GREEK_WORDS:
        return "matrix" if word[0].isupper() else "scalar"
    if word[:1].isupper():
        return "matrix"
    return "vector" if word[:1].islower() else None


def _dim_names(taken: set):
    """n, m, k, p, q, ... then n1, m1, ...: fresh names for symbolic sizes."""
    letters = "n m k p q r s t u v w l j i h g f e d c b a o x y z".split()
    for suffix in chain([""], map(str, count(1))):
        for letter in letters:
            if letter + suffix not in taken:
                yield letter + suffix


# ---------------------------------------------------------------------------
# the solver

_UNKNOWN, _ONE, _NOT_ONE = 0, 1, 2
_MAX_ATTEMPTS = 12


class _Conflict(Exception):
    """Two facts about a dimension disagree (caught and explained by the rule)."""

    def __init__(self, detail: str | None = None):
        self.detail = detail


class _Retry(Exception):
    def __init__(self, error: ShapeError, decision):
        self.error, self.decision = error, decision


class _Term:
    """A node's shape: row and column dimension classes and a scalar-ness
    class (ONE = scalar).  ``origin`` is the named variable whose kind
    default governs it (shared through transposes and elementwise maps)."""

    __slots__ = ("r", "c", "s", "origin")

    def __init__(self, r, c, s, origin=None):
        self.r, self.c, self.s, self.origin = r, c, s, origin


class _Inst:
    """One occurrence of a surface node (shared by equal subtrees unless
    they hold an ``I`` or ``ones``, whose size depends on the context)."""

    __slots__ = ("expr", "args", "term", "line", "kind")

    def __init__(self, expr, args, kind, line):
        self.expr, self.args, self.kind, self.line, self.term = expr, args, kind, line, None


class _Con:
    __slots__ = ("run", "inst", "data", "why", "done", "queued")

    def __init__(self, run, inst, data, why):
        self.run, self.inst, self.data, self.why = run, inst, data, why
        self.done = self.queued = False


def infer_shapes(program: "SurfaceProgram", objective: Expr | None = None, *,
                 target: Shape | None = None) -> TypedProgram:
    """Shapes of every node of ``program`` (and of ``objective``, else the
    last definition).  ``x: (1, D)``, ``z = x W + b1`` gives W: D×n and
    b1: 1×n.  ``target``, when given, is the shape the objective must have
    (an answer ``I`` to ∂tr(X)/∂X is the size of X).  Raises ShapeError."""
    overrides: dict = {}
    first_error = None
    for _ in range(_MAX_ATTEMPTS):
        solver = _Solver(program, objective, overrides, target)
        try:
            solver.solve()
        except _Retry as retry:
            first_error = first_error or retry.error
            if retry.decision is None or retry.decision in overrides:
                break
            overrides[retry.decision] = True
            continue
        return solver.typed_program()
    raise first_error


class _Solver:
    def __init__(self, program, objective, overrides, target=None):
        self.overrides = overrides
        self.source = getattr(program, "source", None)
        self.declarations = dict(program.declarations)
        self.definitions = {d.name: d for d in program.definitions}
        if objective is None and not self.definitions:
            raise ShapeError("no objective: the program defines nothing")
        self.declared_dims = {d for decl in self.declarations.values() for d in decl.shape
                              if isinstance(d, str)}
        # union-find over dimension and scalar-ness classes
        self.parent, self.state, self.rigid, self.factors, self.watchers, self.is_dim = [], [], [], [], [], []
        self.queue, self.cons, self.bcasts = deque(), [], []
        self.defaulted: list = []  # names made vectors by the lowercase default
        self.one = self._new(state=_ONE)
        self.scalar = _Term(self.one, self.one, self._new(dim=False, state=_ONE))
        self.rigid_classes: dict = {}
        self.names: dict[str, None] = {}      # variables and defined names, first appearance
        self.name_terms: dict[str, _Term] = {}
        self.kind_defaults: list = []          # (key, kind, term, first instance)
        self.vector_origins: set = set()
        self.last_decision = self._current = None
        self.insts: list[_Inst] = []
        self.memo: dict = {}
        self.roots: dict = {}
        self.dim_args: set = set()
        self.target_dims: set = set()
        for name, decl in self.declarations.items():
            self._declared_term(name, decl)
            self.names[name] = None
        for name in self.definitions:
            if name not in self.name_terms:
                self.name_terms[name] = self._fresh_term(None)
        for name, d in self.definitions.items():
            body = self._instantiate(d.expr, getattr(d, "line", None))
            self.roots[name] = body
            self._con(self._run_equal, None, (body.term, self.name_terms[name]),
                      f"{name} is declared {{1}} but defined as {{0}}", [])
            self.names[name] = None
        self.objective = objective
        if objective is not None:
            self.roots[None] = self._instantiate(objective, None)
        if target is not None:
            goal = self.roots[None].term if objective is not None else self.name_terms[list(self.definitions)[-1]]
            self.target_dims = {d for d in target if isinstance(d, str)}
            wanted = self.scalar if target == SCALAR else _Term(*(self._dim_class(d) for d in target), self._new(False))
            self._con(self._run_equal, None, (goal, wanted), "the objective is {0}, not {1}", [])

    # -- classes --------------------------------------------------------
    def _new(self, dim=True, state=_UNKNOWN, rigid=None, factors=None) -> int:
        self.parent.append(len(self.parent))
        self.state.append(state)
        self.rigid.append(rigid)
        self.factors.append(factors)
        self.watchers.append([])
        self.is_dim.append(dim)
        return len(self.parent) - 1

    def find(self, c: int) -> int:
        parent = self.parent
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    def _touch(self, c: int) -> None:
        # finished constraints leave the list here, so a size that thousands
        # of constraints watched (the n of a 1000-term sum) is not rescanned
        # for each of them: linear in all
        waiting = [con for con in self.watchers[c] if not con.done]
        self.watchers[c] = waiting
        self._queue(waiting)

    def set(self, c: int, st: int) -> None:
        c = self.find(c)
        if self.state[c] == st:
            return
        if self.state[c] != _UNKNOWN:
            raise _Conflict()
        self.state[c] = st
        self._touch(c)

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        fa, fb = self.factors[a], self.factors[b]
        if (fa and fb) or (fa and self.rigid[b] is not None) or (fb and self.rigid[a] is not None):
            # two products, or a product and a declared size: wait until the
            # factors are known, then compare them
            self._con(self._run_equal_products, self._current, (a, b), "the sizes differ",
                      [a, b, *(fa or ()), *(fb or ())])
            return
        self._merge(a, b)

    def _merge(self, a: int, b: int) -> None:
        sa, sb, ra, rb = self.state[a], self.state[b], self.rigid[a], self.rigid[b]
        if _UNKNOWN not in (sa, sb) and sa != sb:
            raise _Conflict()
        if ra is not None and rb is not None and ra != rb:
            raise _Conflict(f"{ra} ≠ {rb}" if isinstance(ra, str) and isinstance(rb, str) else None)
        if len(self.watchers[a]) < len(self.watchers[b]):
            a, b = b, a
        before = (self.state[a], self.rigid[a], self.factors[a])
        moved = self.watchers[b]
        self.parent[b] = a
        self.state[a] = max(sa, sb)
        self.rigid[a] = ra if ra is not None else rb
        self.factors[a] = self.factors[a] or self.factors[b]
        self.watchers[a].extend(moved)
        self.watchers[b] = []
        if (self.state[a], self.rigid[a], self.factors[a]) != before:
            self._touch(a)
        else:
            # a learnt nothing: only b's watchers (which now see a) can move;
            # rescanning a's (every use of n) at each merge would be quadratic
            self._queue(moved)

    def _queue(self, constraints) -> None:
        for con in constraints:
            if not con.done and not con.queued:
                con.queued = True
                self.queue.append(con)

    def _product(self, *classes) -> int:
        factors = []
        for c in classes:
            c = self.find(c)
            if self.state[c] != _ONE:
                factors.extend(self.factors[c] or (c,))
        if not factors:
            return self.one
        if len(factors) == 1:
            return factors[0]
        p = self._new(factors=tuple(factors))
        self._con(self._run_product, None, (p,), "a product of sizes", [p, *factors])
        return p

    def _normal(self, c: int):
        """The factors of a class, flattened: those known not 1, those unknown."""
        known, unknown, stack = [], [], [c]
        while stack:
            f = self.find(stack.pop())
            if self.factors[f]:
                stack.extend(self.factors[f])
            elif self.state[f] == _NOT_ONE:
                known.append(f)
            elif self.state[f] == _UNKNOWN:
                unknown.append(f)
        return known, unknown

    # -- constraints ----------------------------------------------------
    def _con(self, run, inst, data, why, watch) -> _Con:
        con = _Con(run, inst, data, why)
        self.cons.append(con)
        for c in watch:
            self.watchers[self.find(c)].append(con)
        con.queued = True
        self.queue.append(con)
        return con

    def _propagate(self) -> None:
        queue = self.queue
        while queue:
            con = queue.popleft()
            con.queued = False
            if con.done:
                continue
            self._current = con.inst
            try:
                con.done = con.run(con)
            except _Conflict as conflict:
                raise _Retry(self._explain(con, conflict.detail), self.last_decision) from None

    def _term_watch(self, *terms):
        return [c for t in terms for c in (t.r, t.c, t.s)]

    def _fresh_term(self, inst, r=None, c=None, origin=None) -> _Term:
        t = _Term(self._new() if r is None else r, self._new() if c is None else c,
                  self._new(dim=False), origin)
        self._con(self._run_term, inst, (t,), "{node} cannot be both a scalar and not a scalar",
                  self._term_watch(t))
        return t

    def _run_term(self, con) -> bool:
        t = con.data[0]
        find, state = self.find, self.state
        r, c, s = find(t.r), find(t.c), find(t.s)
        if state[s] == _ONE:
            self.set(r, _ONE)
            self.set(c, _ONE)
            return True
        if state[r] == _ONE and state[c] == _ONE:
            self.set(s, _ONE)
            return True
        if _NOT_ONE in (state[r], state[c]):
            self.set(s, _NOT_ONE)
            return True
        if state[s] == _NOT_ONE:
            if r == c:
                self.set(r, _NOT_ONE)
            elif state[r] == _ONE:
                self.set(c, _NOT_ONE)
            elif state[c] == _ONE:
                self.set(r, _NOT_ONE)
            else:
                return False
            return True
        return False

    def _run_vector(self, con) -> bool:
        """Exactly one axis of a vector is 1."""
        t = con.data[0]
        r, c = self.find(t.r), self.find(t.c)
        if r == c:
            raise _Conflict()
        for x, y in ((r, c), (c, r)):
            if self.state[x] != _UNKNOWN:
                self.set(y, _NOT_ONE if self.state[x] == _ONE else _ONE)
                return True
        return False

    def _unify(self, a: _Term, b: _Term) -> None:
        for x, y in ((a.r, b.r), (a.c, b.c), (a.s, b.s)):
            self.union(x, y)

    def _run_equal(self, con) -> bool:
        self._unify(*con.data)
        return True

    def _run_square(self, con) -> bool:
        t = con.data[0]
        self.union(t.r, t.c)
        return True

    def _run_scalar(self, con) -> bool:
        self.set(con.data[0].s, _ONE)
        return True

    def _run_mul(self, con) -> bool:
        """``a b``: scale when either is a scalar, else a matrix product."""
        a, b, z = con.data
        sa, sb = self.state[self.find(a.s)], self.state[self.find(b.s)]
        if sa == _ONE or sb == _ONE:
            self._unify(z, b if sa == _ONE else a)
            return True
        if sa == _NOT_ONE and sb == _NOT_ONE:
            self.union(a.c, b.r)
            self.union(z.r, a.r)
            self.union(z.c, b.c)
            return True
        return False

    def _run_broadcast(self, con) -> bool:
        """numpy broadcasting, axis by axis: equal, or one of them is 1."""
        a, b, z = con.data
        state, find = self.state, self.find
        if _NOT_ONE in (state[find(a.s)], state[find(b.s)]):
            self.set(z.s, _NOT_ONE)
        if state[find(z.s)] == _ONE:
            self.set(a.s, _ONE)
            self.set(b.s, _ONE)
        done = True
        for axis, x, y, w in (("rows", a.r, b.r, z.r), ("cols", a.c, b.c, z.c)):
            con.why = f"{axis}({{a}}) ≠ {axis}({{b}}) and neither is 1"
            done = self._axis(x, y, w) and done
        if done:
            for t in (a, b):
                if (find(t.r), find(t.c)) == (find(z.r), find(z.c)):
                    self.union(t.s, z.s)
                    break
        return done

    def _axis(self, x: int, y: int, z: int) -> bool:
        find, state = self.find, self.state
        x, y, z = find(x), find(y), find(z)
        if state[z] == _ONE:
            self.set(x, _ONE)
            self.set(y, _ONE)
        elif state[x] == _ONE or state[y] == _ONE:
            self.union(z, y if state[x] == _ONE else x)
        elif x == y or (state[x] == _NOT_ONE and state[y] == _NOT_ONE):
            self.union(x, y)
            self.union(z, x)
        else:
            if _NOT_ONE in (state[x], state[y]):  # the result is the non-1 side either way
                self.union(z, x if state[x] == _NOT_ONE else y)
            return False
        return True

    def _run_diag(self, con) -> bool:
        """vector → diagonal matrix; square matrix → column of its diagonal."""
        a, z = con.data
        r, c = self.find(a.r), self.find(a.c)
        sr, sc = self.state[r], self.state[c]
        if self.state[self.find(a.s)] == _ONE:
            self._unify(z, self.scalar)
            return True
        if _ONE in (sr, sc) and _NOT_ONE in (sr, sc):
            n = c if sr == _ONE else r
            self.union(z.r, n)
            self.union(z.c, n)
            return True
        if sr == _NOT_ONE and sc == _NOT_ONE:
            self.union(r, c)
            self.union(z.r, r)
            self.union(z.c, self.one)
            return True
        return False

    def _run_rowwise(self, con) -> bool:
        """logsumexp: a vector → a scalar; an N×C matrix → N×1."""
        a, z = con.data
        sr, sc = self.state[self.find(a.r)], self.state[self.find(a.c)]
        if _ONE in (sr, sc) or self._is_vector(a):
            self._unify(z, self.scalar)
            return True
        if sr == _NOT_ONE and sc == _NOT_ONE:
            self.union(z.r, a.r)
            self.union(z.c, self.one)
            return True
        return False

    def _run_product(self, con) -> bool:
        """A product of sizes is 1 exactly when every factor is 1."""
        p = self.find(con.data[0])
        if not self.factors[p]:
            return True
        known, unknown = self._normal(p)
        if self.state[p] == _ONE:
            if known:
                raise _Conflict(f"{self._label(p, {})} ≠ 1")
            for f in unknown:
                self.set(f, _ONE)
            unknown = []
        elif self.state[p] == _NOT_ONE and not known and len(unknown) == 1:
            self.set(unknown[0], _NOT_ONE)
            return False
        if known:
            self.set(p, _NOT_ONE)
        if unknown:
            return False
        if len(known) < 2:
            self.factors[p] = None
            if known:
                self._merge(p, known[0])
            else:
                self.set(p, _ONE)
        return True

    def _run_equal_products(self, con) -> bool:
        a, b = (self.find(c) for c in con.data)
        if a == b:
            return True
        (ka, ua), (kb, ub) = self._normal(a), self._normal(b)
        if ua or ub:
            return False
        left, right = Counter(ka), Counter(kb)
        left, right = list((left - right).elements()), list((right - left).elements())
        # declared numbers multiply out: vec(X) of a 2×3 X has 6 rows
        (nl, left), (nr, right) = self._numbers(left), self._numbers(right)
        if not left and not right and nl == nr:
            pass
        elif len(left) == len(right) and nl == nr:
            # m p = n q: factor by factor (tr(A ⊗ X) of square A and X)
            for x, y in zip(left, right):
                self.union(x, y)
        elif len(left) == 1 and not right and nr % nl == 0 and nr // nl > 1:
            self.union(left[0], self._dim_class(nr // nl))
        elif len(right) == 1 and not left and nl % nr == 0 and nl // nr > 1:
            self.union(right[0], self._dim_class(nl // nr))
        elif left or right or nl != nr:
            raise _Conflict(f"{self._label(a, {})} ≠ {self._label(b, {})}")
        self.factors[a] = self.factors[a] or self.factors[b]
        self.factors[b] = None
        self._merge(a, b)
        return True

    def _numbers(self, factors: list) -> tuple[int, list]:
        """The product of the declared numeric sizes among ``factors``, and the others."""
        product, others = 1, []
        for f in factors:
            size = self.rigid[self.find(f)]
            if isinstance(size, int):
                product *= size
            else:
                others.append(f)
        return product, others

    def _is_vector(self, t: _Term) -> bool:
        return t.origin is not None and t.origin in self.vector_origins

    # -- the surface tree ---------------------------------------------------
    def _dim_class(self, d) -> int:
        if d == 1:
            return self.one
        if isinstance(d, str) and "*" in d:  # m*n: the product of its factors
            return self._product(*(self._dim_class(int(f) if f.isdigit() else f) for f in d.split("*")))
        if d not in self.rigid_classes:
            self.rigid_classes[d] = self._new(state=_NOT_ONE, rigid=d)
        return self.rigid_classes[d]

    def _declared_term(self, name: str, decl) -> None:
        if decl.shape == SCALAR:
            self.name_terms[name] = self.scalar
            return
        rows, cols = (self._dim_class(d) for d in decl.shape)
        t = self.name_terms[name] = self._fresh_term(None, rows, cols)
        if decl.kind in ("symmetric", "spd"):
            self._con(self._run_square, None, (t,), f"{name} is declared {{0}} {decl.kind}: not square", [])

    def _instantiate(self, root: Expr, line) -> _Inst:
        """Instances for ``root``'s nodes, children first (no recursion)."""
        contextual = set()
        for node in root.walk():
            if isinstance(node, (Identity, Ones)) and node.shape is None:
                contextual.add(node)
            elif any(child in contextual for child in node.children):
                contextual.add(node)
            if isinstance(node, Op) and node.op in ("commutation", "reshape"):
                dims = node.args if node.op == "commutation" else node.args[1:]
                self.dim_args.update(n.name for a in dims for n in a.walk() if isinstance(n, Sym))
        memo, done = self.memo, []
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                if node in memo and node not in contextual:
                    done.append(memo[node])
                    continue
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children))
                continue
            n = len(node.children)
            args = tuple(done[len(done) - n:]) if n else ()
            del done[len(done) - n:]
            inst = self._make(node, args, line)
            if node not in contextual:
                memo[node] = inst
            done.append(inst)
        if isinstance(root, Sym):
            self._note(done[0])
        return done[0]

    def _note(self, inst: _Inst) -> None:
        if inst.kind in ("var", "def"):
            self.names.setdefault(inst.expr.name, None)

    def _make(self, node: Expr, args: tuple, line) -> _Inst:
        inst = _Inst(node, args, type(node).__name__, line)
        self.insts.append(inst)
        if isinstance(node, (Sym, PatternVar)):
            inst.term = self._name_term(inst, node.name)
        elif isinstance(node, (Num, DimSize)):
            inst.term = self.scalar
        elif isinstance(node, Op):
            for a in args:
                self._note(a)
            inst.kind = "op"
            inst.term = self._op_term(inst, node.op, args)
        elif node.shape is not None:  # a typed constant
            dims = (rows_of(node.shape), cols_of(node.shape))
            inst.term = self._fresh_term(inst, *(self._dim_class(d) for d in dims))
        else:
            inst.term = self._fresh_term(inst)
            if isinstance(node, Identity):  # a square matrix, never the scalar 1
                self._con(self._run_square, inst, (inst.term,), "I is square", [])
                self.set(inst.term.s, _NOT_ONE)
            else:  # ones: a vector, its size and orientation from the context
                inst.term.origin = inst.term
                self.kind_defaults.append((("ones", len(self.insts)), "vector", inst.term, inst))
        return inst

    def _name_term(self, inst: _Inst, name: str) -> _Term:
        if name in self.definitions:
            inst.kind = "def"
        elif name in self.declarations:
            inst.kind = "var"
        elif name in self.declared_dims or name in self.dim_args:
            inst.kind = "dim"
            return self.scalar
        else:
            inst.kind = "var"
            if name not in self.name_terms:
                t = self.name_terms[name] = self._fresh_term(inst)
                t.origin = t
                kind = default_kind(name)
                if kind:
                    self.kind_defaults.append((("kind", name), kind, t, inst))
        return self.name_terms[name]

    def _op_term(self, inst: _Inst, op: str, args: tuple) -> _Term:
        sig = signature(op, len(args))
        a = args[0].term if args else None
        b = args[1].term if len(args) > 1 else None
        con = self._con
        if sig in ("mul", "broadcast", "diag", "rowwise-scalar"):
            z = self._fresh_term(inst)
            run = {"mul": self._run_mul, "broadcast": self._run_broadcast,
                   "diag": self._run_diag, "rowwise-scalar": self._run_rowwise}[sig]
            operands = (a, b, z) if b is not None else (a, z)
            c = con(run, inst, operands, {"mul": "cols({a}) ≠ rows({b})",
                                          "diag": "diag needs a vector or a square matrix"}.get(sig, ""),
                    self._term_watch(*operands))
            if sig == "broadcast":
                self.bcasts.append(c)
            return z
        if sig == "scale":
            con(self._run_scalar, inst, (a,), "{a} is not a scalar", [])
            return b
        if sig == "transpose":
            return _Term(a.c, a.r, a.s, a.origin)
        if sig in ("square", "pow", "square-scalar"):
            exponent = args[1].expr if sig == "pow" else None
            declared = self.declarations.get(getattr(exponent, "name", None))
            if sig == "pow" and integer_value(exponent) is None and getattr(declared, "kind", None) != "integer":
                con(self._run_scalar, inst, (a,), "a power that is not a whole number needs a scalar "
                    "(for a matrix power X^k declare k: () integer)", [])
            else:
                con(self._run_square, inst, (a,), f"{op} needs a square matrix", [])
        if sig in ("pow", "epow"):
            con(self._run_scalar, inst, (b,), "the exponent must be a scalar", [])
        if sig in ("elementwise", "square", "pow", "epow"):
            return a
        if sig == "pair-scalar":
            con(self._run_equal, inst, (a, b), f"{op} needs two arguments of one shape", [])
        if sig in ("square-scalar", "scalar", "pair-scalar"):
            return self.scalar
        if sig == "vec":
            return self._fresh_term(inst, self._product(a.r, a.c), self.one)
        if sig == "kron":
            return self._fresh_term(inst, self._product(a.r, b.r), self._product(a.c, b.c))
        if sig == "commutation":
            size = self._product(*(self._dim_class(dim_argument(x.expr)) for x in args))
            return self._fresh_term(inst, size, size)
        if sig == "reshape":
            rows, cols = (self._dim_class(dim_argument(x.expr)) for x in args[1:])
            return self._fresh_term(inst, rows, cols)
        raise ShapeError(f"{op}: no shape rule for signature {sig!r}")

    # -- defaults ---------------------------------------------------------
    def solve(self) -> None:
        self._propagate()
        for default in sorted(self.kind_defaults, key=lambda d: _KIND_ORDER[d[1]]):
            self._kind_default(*default)
        while (self._row_broadcast() or self._unify_sums(True) or self._orient_columns()
               or self._unify_sums(False) or self._symbolic_sizes()):
            pass
        for con in self.cons:
            if not con.done:
                raise _Retry(self._explain(con, None, "cannot settle this shape"), None)

    def _decide(self, key, action) -> bool:
        """Take a default (or, on a retry, its alternative) and propagate."""
        self.last_decision, self._current = key, None
        try:
            action(bool(self.overrides.get(key)))
        except _Conflict:  # a default that contradicts what is known: try its alternative
            raise _Retry(ShapeError(f"default {key} contradicts the constraints"), key) from None
        self._propagate()
        return True

    def _kind_default(self, key, kind: str, t: _Term, inst: _Inst) -> None:
        if self.overrides.get(key):
            return
        state = self.state
        r, c, s = self.find(t.r), self.find(t.c), self.find(t.s)
        sr, sc, ss = state[r], state[c], state[s]
        if kind == "matrix" and _ONE not in (sr, sc) and _UNKNOWN in (sr, sc):
            self._decide(key, lambda _: (self.set(r, _NOT_ONE), self.set(c, _NOT_ONE)))
        elif kind == "vector" and ss != _ONE and r != c and (sr, sc) not in ((_ONE, _ONE), (_NOT_ONE, _NOT_ONE)):
            self.vector_origins.add(t.origin)
            self._con(self._run_vector, inst, (t,), "a vector is not square", [r, c])
            self._decide(key, lambda _: self.set(s, _NOT_ONE))
            if key[0] == "kind" and ss == _UNKNOWN:
                self.defaulted.append(key[1])
        elif kind == "scalar" and _NOT_ONE not in (sr, sc, ss) and ss == _UNKNOWN:
            self._decide(key, lambda _: self.set(s, _ONE))

    def _row_broadcast(self) -> bool:
        """A vector added to a matrix broadcasts as a row (a 1-D numpy array)."""
        applied = False
        for i, con in enumerate(self.bcasts):
            if con.done:
                continue
            for m, v in (con.data[:2], con.data[1::-1]):
                if (self._states(m) == (_NOT_ONE, _NOT_ONE) and self._is_vector(v)
                        and self._states(v) == (_UNKNOWN, _UNKNOWN)):
                    applied = self._decide(("row", i),
                                           lambda flip: None if flip else self.set(v.r, _ONE))
                    break
        return applied

    def _states(self, t: _Term) -> tuple:
        return self.state[self.find(t.r)], self.state[self.find(t.c)]

    def _unify_sums(self, sized: bool) -> bool:
        """The undecided axes of a sum are equal (``x W + b1``: b1 is 1×m);
        first where one side is known not to be 1 (``sized``), and only after
        orienting vectors where neither is (``wᵀx + b``: wᵀx is a scalar)."""
        applied = False
        for i, con in enumerate(self.bcasts):
            for axis in (0, 1):
                if con.done:
                    break
                a, b, _ = con.data
                x, y = (self.find(a.r), self.find(b.r)) if axis == 0 else (self.find(a.c), self.find(b.c))
                states = (self.state[x], self.state[y])
                if x != y and _ONE not in states and (_NOT_ONE in states) == sized:
                    applied = self._decide(("sum", i, axis),
                                           lambda flip: self.set(y if self.state[y] == _UNKNOWN else x, _ONE)
                                           if flip else self.union(x, y))
        return applied

    def _orient_columns(self) -> bool:
        """A vector of unknown orientation is a column."""
        applied = False
        for key, _kind, t, _ in self.kind_defaults:
            if t.origin in self.vector_origins and self._states(t) == (_UNKNOWN, _UNKNOWN):
                applied = self._decide(("column", key), lambda flip: self.set(t.r if flip else t.c, _ONE))
        return applied

    def _symbolic_sizes(self) -> bool:
        """An unknown dimension is a symbolic size, not 1."""
        applied = False
        for c in range(len(self.parent)):
            if (self.is_dim[c] and self.parent[c] == c and self.state[c] == _UNKNOWN
                    and not self.factors[c]):
                applied = self._decide(("size", c), lambda flip: self.set(c, _ONE if flip else _NOT_ONE))
        return applied

    # -- results ------------------------------------------------------------
    def _label(self, c: int, names: dict, fresh=None):
        """The size a class stands for: 1, a declared name, a product, or a
        fresh name (``fresh``) or ``?`` while unknown."""
        c = self.find(c)
        if c in names:
            return names[c]
        if self.state[c] == _ONE:
            return 1
        if self.rigid[c] is not None:
            return self.rigid[c]
        if self.factors[c]:
            label = dim_product(*(self._label(f, names, fresh) for f in self.factors[c]))
        else:
            label = next(fresh) if fresh is not None else "?"
        names[c] = label
        return label

    def _shape(self, t: _Term, names: dict, fresh=None) -> Shape:
        if self.state[self.find(t.s)] == _ONE:
            return SCALAR
        return make_shape(self._label(t.r, names, fresh), self._label(t.c, names, fresh))

    def _taken(self) -> set:
        return self.declared_dims | set(self.names) | set(self.name_terms) | self.dim_args | self.target_dims

    def _explain(self, con: _Con, detail, why=None) -> ShapeError:
        inst, names, fresh = con.inst, {}, _dim_names(self._taken())
        if inst is None:  # a rule of a declaration, a definition or the target: {0}, {1} are shapes
            shapes = [format_shape(self._shape(t, names, fresh)) for t in con.data if isinstance(t, _Term)]
            return ShapeError((why or con.why).format(*shapes) + (f": {detail}" if detail else ""))
        operands = [a for a in inst.args if inst.expr.op not in ("pow", "epow") or a is inst.args[0]] \
            if inst.kind == "op" else [inst]
        texts = {"a": short_text(operands[0].expr), "b": short_text(operands[-1].expr),
                 "node": short_text(inst.expr), "x": "", "y": ""}
        why = (why or con.why).format(**texts)
        operand_shapes = [(short_text(o.expr), format_shape(self._shape(o.term, names, fresh))) for o in operands]
        message = mismatch_message(texts["node"], operand_shapes, why + (f": {detail}" if detail else ""))
        span = getattr(inst.expr, "span", None)
        line, column = span if span else (inst.line, None)
        # the objective's positions are in its own text, not the program's
        source = self.source if inst.line is not None else None
        return ShapeError(message, source=source, line=line, column=column)

    def typed_program(self) -> TypedProgram:
        names, fresh = {}, _dim_names(self._taken())
        shapes = {}
        for name in self.names:
            shapes[name] = self._shape(self.name_terms[name], names, fresh)
        typed: dict[int, Expr] = {}
        for inst in self.insts:
            shape = self._shape(inst.term, names, fresh)
            e = inst.expr
            if inst.kind in ("var", "def"):
                node = Sym(e.name, shape)
            elif inst.kind == "dim":
                node = DimSize(e.name)
            elif isinstance(e, Op):
                node = build(e.op, tuple(typed[id(a)] for a in inst.args), e.span)
                if node.shape != shape:
                    raise ShapeError(f"internal: {short_text(e)} inferred {format_shape(shape)}, "
                                     f"built {format_shape(node.shape)}")
            elif isinstance(e, (Identity, Ones)) and shape == SCALAR:
                node = Num(1)
            elif isinstance(e, (Identity, Ones, Zero)):
                node = type(e)(shape)
            else:
                node = e
            typed[id(inst)] = node
        definitions = {name: typed[id(self.roots[name])] for name in self.definitions}
        if self.objective is not None:
            objective = typed[id(self.roots[None])]
        else:
            last = list(self.definitions)[-1]
            objective = Sym(last, shapes[last])
        dims: dict[str, None] = {}
        for shape in [*shapes.values(), *(n.shape for n in typed.values())]:
            for d in shape or ():
                for factor in str(d).split("*"):
                    if not factor.isdigit():
                        dims.setdefault(factor, None)
        kinds = {n: d.kind for n, d in self.declarations.items() if d.kind}
        return TypedProgram(self.declarations, definitions, objective, shapes, list(dims), kinds,
                            tuple(n for n in self.defaulted if n in shapes))
