"""Random well-typed matcalc programs, built by construction (issue 8).

``generate_case(random.Random(seed))`` is a ``FuzzCase``: a program
(declarations, definitions, a scalar objective J), the variables to
differentiate with respect to, how to draw each input, and the objective in
plain numpy (``forward``, from SPEC §2 via ``fuzz_numpy``, not the engine).

The target shape comes first (scalar, row, column, matrix, batch N×D), then
an operator that makes it, then operands for the shapes it needs; shapes are
declared, so every program type-checks.  Domains hold by construction: log
and sqrt see ``exp(u)``, ``u ∘ u + 1`` or a ``positive`` draw; inv, det and
logdet a declared spd matrix, ``G Gᵀ + I``, ``tanh(G) + 2 n I`` or
``I + tanh(G) / (2 n)``; a rough magnitude estimate scales large operands
down.  The hypothesis strategies (``tests/strategies.py``) and the benchmark
(``bench/fuzz.py``) share this one generator.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from fuzz_numpy import ELEMENTWISE, diag, log_softmax, logsumexp, matmul, scalar, softmax

MAX_DEPTH = 6
DIM_NAMES = ("n", "m", "k", "p")
BATCH = "N"
MATRIX_LETTERS, VECTOR_LETTERS, SCALAR_LETTERS = "ABCMPQRUVWXZ", "abcuvwxyz", ("s", "t", "α", "β", "λ", "μ")
GREEK = {"α": "alpha", "β": "beta", "λ": "lambda", "μ": "mu"}
TYPICAL_SIZE = 6.0  # the magnitude model's guess of a dimension's size


@dataclass
class FuzzCase:
    """A program, the variables to differentiate with respect to, and how to draw its inputs."""

    text: str
    wrt: list
    draws: dict = field(default_factory=dict)  # name -> sampling kind (spd, onehot, positive, ...)
    forward: Callable | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Node:
    """A generated expression: its text, its numpy value, shape and rough magnitude."""

    text: str
    fn: Callable
    shape: tuple
    mag: float = 1.0
    atomic: bool = True  # a name, a call or a number: needs no parentheses as an operand


def shape_of(rows, cols) -> tuple:
    return () if rows == 1 and cols == 1 else (rows, cols)


class Generator:
    """One program: its variables, definitions, dimensions and the objective."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.dims = rng.sample(DIM_NAMES, rng.randint(1, 3)) + ([BATCH] if rng.random() < 0.4 else [])
        self.max_depth = rng.choice([3, 4, 5, 5, 6, 6])
        self.variables: dict[str, tuple] = {}  # name -> (shape, kind)
        self.definitions: list[tuple[str, Node]] = []
        self.counter = 0

    # -- shapes and names ----------------------------------------------------
    def dim(self, batch=True):
        return self.rng.choice(self.dims if batch else [d for d in self.dims if d != BATCH] or self.dims)

    def some_shape(self):
        """A random non-scalar shape: row, column, matrix or batch."""
        r = self.rng.random()
        if r < 0.3:
            return (1, self.dim(False))
        if r < 0.55:
            return (self.dim(), 1)
        return (self.dim(), self.dim(False))

    def fresh(self, letters) -> str:
        self.counter += 1
        return f"{self.rng.choice(letters)}{self.counter}"

    def variable(self, shape, kind="normal") -> Node:
        same = [n for n, (s, k) in self.variables.items() if s == shape and k == kind]
        if same and self.rng.random() < 0.35:
            name = self.rng.choice(same)
        else:
            letters = SCALAR_LETTERS if shape == () else VECTOR_LETTERS if 1 in shape else MATRIX_LETTERS
            name = self.fresh(letters)
            self.variables[name] = (shape, kind)
        mag = {"spd": 1.5, "onehot": 0.5, "positive": 1.2, "symmetric": 1.5}.get(kind, 1.0)
        key = GREEK.get(name[0], name[0]) + name[1:]  # the canonical spelling: λ1 is lambda1
        return Node(name, lambda env: env[key], shape, mag)

    # -- generation ------------------------------------------------------------
    def gen(self, shape, depth: int) -> Node:
        if depth >= self.max_depth or self.rng.random() < 0.04 + 0.09 * depth:
            return self.leaf(shape)
        builders = self.scalar_builders() if shape == () else self.shape_builders(shape)
        node = None
        for _ in range(4):
            node = self.rng.choice(builders)(shape, depth + 1)
            if node is not None:
                break
        node = node if node is not None else self.leaf(shape)
        if node.mag > 50:  # keep values in range: scale down, by a power of two
            node = self.div_by(node, 2 ** math.ceil(math.log2(node.mag / 4)))
        if not node.atomic and self.rng.random() < 0.12:
            node = self.define(node)
        return node

    def leaf(self, shape) -> Node:
        defined = [node for _, node in self.definitions if node.shape == shape]
        if defined and self.rng.random() < 0.3:
            return self.rng.choice(defined)
        if shape == () and self.rng.random() < 0.15:
            c = self.rng.choice([2, 3, 0.5, 1.5])
            return Node(str(c), lambda env, c=c: float(c), (), c)
        square = shape != () and shape[0] == shape[1]
        node = self.variable(shape, "symmetric" if square and self.rng.random() < 0.15 else "normal")
        if self.rng.random() < 0.04:  # an alias: h = x
            node = self.define(node)
        return node

    def define(self, node: Node) -> Node:
        name = self.fresh("hzqg")
        self.definitions.append((name, node))
        return Node(name, node.fn, node.shape, node.mag)

    def operand(self, node: Node) -> str:
        return node.text if node.atomic else f"({node.text})"

    def div_by(self, node: Node, c: int) -> Node:
        return Node(f"{self.operand(node)} / {c}", lambda env, f=node.fn: f(env) / c, node.shape,
                    node.mag / c, False)

    def scalar_builders(self):
        return [self.add, self.scale, self.hadamard, self.elementwise, self.log_or_sqrt, self.power,
                self.matmul, self.trace, self.sum, self.sum, self.norm, self.logsumexp, self.cross_entropy,
                self.determinant, self.matmul, self.bounded, self.root, self.trace_power, self.dot]

    def shape_builders(self, shape):
        out = [self.add, self.add, self.scale, self.hadamard, self.divide, self.elementwise, self.elementwise,
               self.log_or_sqrt, self.power, self.transpose, self.matmul, self.matmul, self.softmax, self.layer,
               self.bounded, self.root]
        if shape[0] == shape[1]:
            out += [self.inverse, self.inverse, self.diag]
        if shape[1] == 1:
            out += [self.diag, self.row_logsumexp, self.ones_product]
        if shape[0] == 1:
            out += [self.ones_product]
        if self.rng.random() < 0.03:
            out.append(self.maximum)
        return out

    # -- builders: each makes a node of the requested shape, or None ------------
    def add(self, shape, d):
        a = self.gen(shape, d)
        other = shape
        if shape != () and self.rng.random() < 0.3:  # broadcasting: a row bias, a column, a scalar
            other = shape_of(*self.rng.choice([(1, shape[1]), (shape[0], 1), (1, 1)]))
        b = self.gen(other, d)
        sign = self.rng.choice([" + ", " + ", " - ", " − "])
        s = -1.0 if sign.strip() in "-−" else 1.0
        return Node(f"{a.text}{sign}{self.operand(b)}", lambda env: a.fn(env) + s * b.fn(env), shape,
                    a.mag + b.mag, False)

    def scale(self, shape, d):
        x = self.gen(shape, d)
        r = self.rng.random()
        if r < 0.2:
            return Node(f"-{self.operand(x)}", lambda env: -x.fn(env), shape, x.mag, False)
        if r < 0.3:
            dim = self.rng.choice(self.dims)
            return Node(f"{self.operand(x)} / {dim}", lambda env: x.fn(env) / env["#" + dim], shape,
                        x.mag / 2, False)
        if r < 0.4:  # divided by a scalar expression, kept away from 0
            s = self.positive((), d, floor=True)
            return Node(f"{self.operand(x)} / {self.operand(s)}", lambda env: x.fn(env) / s.fn(env), shape,
                        x.mag, False)
        s = self.gen((), d) if r < 0.8 else Node(self.rng.choice(self.dims), None, (), TYPICAL_SIZE)
        sfn = s.fn or (lambda env, n=s.text: float(env["#" + n]))
        times = self.rng.choice([" ", " ", " * ", " · "])
        return Node(f"{self.operand(s)}{times}{self.operand(x)}", lambda env: matmul(sfn(env), x.fn(env)),
                    shape, s.mag * x.mag, False)

    def hadamard(self, shape, d):
        a = self.gen(shape, d)
        other = shape if shape == () or self.rng.random() < 0.75 else shape_of(
            *self.rng.choice([(1, shape[1]), (shape[0], 1), (1, 1)]))
        b = self.gen(other, d)
        op = self.rng.choice([" ∘ ", " ⊙ ", " .* "])
        return Node(f"{self.operand(a)}{op}{self.operand(b)}", lambda env: a.fn(env) * b.fn(env), shape,
                    a.mag * b.mag, False)

    def divide(self, shape, d):
        a, b = self.gen(shape, d), self.positive(shape, d, floor=True)
        op = self.rng.choice([" ./ ", " ⊘ "])
        return Node(f"{self.operand(a)}{op}{self.operand(b)}", lambda env: a.fn(env) / b.fn(env), shape,
                    a.mag * 2, False)

    def elementwise(self, shape, d):
        name = self.rng.choice(list(ELEMENTWISE))
        a = self.gen(shape, d)
        if name in ("exp", "sinh", "cosh", "expm1") and a.mag > 3:
            a = self.div_by(a, 2 ** math.ceil(math.log2(a.mag / 2)))
        f, mag = ELEMENTWISE[name]
        spelled = "σ" if name == "sigmoid" and self.rng.random() < 0.3 else name
        text = f"{spelled}({a.text})"
        r = self.rng.random()
        if name == "relu" and r < 0.5:  # numpy's and the notes' spellings of relu
            text = self.rng.choice(["max(0, {})", "max({}, 0)", "maximum({}, 0)"]).format(a.text)
        elif name == "exp" and r < 0.25:
            text = f"e^({a.text})"
        return Node(text, lambda env: scalar(f(a.fn(env))), shape, mag(a.mag))

    def bounded(self, shape, d):
        """arcsin, arccos, tan of tanh(u) / 2, inside (-1/2, 1/2)."""
        name, fn = self.rng.choice([("arcsin", np.arcsin), ("arccos", np.arccos), ("tan", np.tan)])
        u = self.gen(shape, d)
        return Node(f"{name}(tanh({u.text}) / 2)", lambda env: scalar(fn(np.tanh(u.fn(env)) / 2)), shape, 1.6)

    def root(self, shape, d):
        """A power that is not a whole number, of a positive base: p .^ (1/3), (p)^{1/2}, p .^ q."""
        p = self.positive(shape, d, floor=True)
        base = self.operand(p)
        if self.rng.random() < 0.25:  # a symbolic exponent: a scalar input
            q = self.variable(())
            text = f"{base}^{q.text}" if shape == () else f"{base} .^ {q.text}"
            return Node(text, lambda env: scalar(p.fn(env) ** q.fn(env)), shape, p.mag ** 1.5, False)
        k, spelled = self.rng.choice([(1 / 3, "(1/3)"), (1 / 2, "{1/2}"), (1 / 2, "0.5"), (3 / 2, "(3/2)"),
                                      (-1 / 2, "(-1/2)")])
        text = f"{base}^{spelled}" if shape == () else f"{base} .^ {spelled}"
        return Node(text, lambda env: scalar(p.fn(env) ** k), shape, max(p.mag, 1.0) ** max(k, 1), False)

    def positive(self, shape, d, floor=False) -> Node:
        """A positive expression (``floor``: bounded away from 0, a fair denominator)."""
        r = self.rng.random()
        if r < 0.25 or d >= self.max_depth:
            return self.variable(shape, "positive")
        if r < 0.5:
            u = self.gen(shape, d + 1)
            one = "1" if shape == () or self.rng.random() < 0.5 else "ones"
            return Node(f"{self.operand(u)} ∘ {self.operand(u)} + {one}", lambda env: u.fn(env) ** 2 + 1.0, shape,
                        u.mag ** 2 + 1, False)
        u = self.gen(shape, d + 1)
        if u.mag > 3:
            u = self.div_by(u, 2 ** math.ceil(math.log2(u.mag / 2)))
        f = self.rng.choice(["exp", "exp"] + ([] if floor else ["sigmoid", "softplus"]))
        fn = ELEMENTWISE[f][0]
        return Node(f"{f}({u.text})", lambda env: scalar(fn(u.fn(env))), shape, 3.0)

    def log_or_sqrt(self, shape, d):
        f = self.rng.choice(["log", "sqrt", "ln", "log1p"])
        a = self.positive(shape, d, floor=f == "sqrt")
        fn = {"log": np.log, "ln": np.log, "log1p": np.log1p, "sqrt": np.sqrt}[f]
        return Node(f"{f}({a.text})", lambda env: scalar(fn(a.fn(env))), shape,
                    math.sqrt(a.mag) if f == "sqrt" else math.log(a.mag + 1) + 1)

    def power(self, shape, d):
        a = self.gen(shape, d)
        k = self.rng.choice([2, 2, 3])
        matrix_power = shape != () and shape[0] == shape[1] and self.rng.random() < 0.4
        base = self.operand(a)
        if base[-1] in "⁰¹²³⁴⁵⁶⁷⁸⁹":  # A⁻¹³ is A to the −13: (A⁻¹)³ needs its parentheses
            base = f"({base})"
        if shape == () or matrix_power:  # a scalar power, or A² = A A of a square matrix
            text = f"{base}^{k}" if self.rng.random() < 0.5 else f"{base}{'²³'[k - 2]}"
        else:
            text = f"{base} .^ {k}"
        mag = max(a.mag, 2.0) ** k  # a typical entry of 1 has larger ones beside it
        if matrix_power:
            return Node(text, lambda env: np.linalg.matrix_power(a.fn(env), k), shape,
                        mag * TYPICAL_SIZE ** (k / 2 - 0.5), False)
        return Node(text, lambda env: a.fn(env) ** k, shape, mag, False)

    def transpose(self, shape, d):
        a = self.gen((shape[1], shape[0]), d)
        mark = self.rng.choice(["ᵀ", "^T", "'", ".T", "ᵀ", "transpose"])
        text = f"transpose({a.text})" if mark == "transpose" else f"{self.operand(a)}{mark}"
        return Node(text, lambda env: a.fn(env).T, shape, a.mag)

    def matmul(self, shape, d):
        rows, cols = shape if shape else (1, 1)
        inner = self.dim() if rows == 1 or cols == 1 or self.rng.random() < 0.85 else 1
        a, b = self.gen(shape_of(rows, inner), d), self.gen(shape_of(inner, cols), d)
        times = self.rng.choice([" ", " ", " * ", " @ "])
        return Node(f"{self.operand(a)}{times}{self.operand(b)}", lambda env: matmul(a.fn(env), b.fn(env)),
                    shape, a.mag * b.mag * math.sqrt(TYPICAL_SIZE), False)

    def layer(self, shape, d):
        """A dense layer over a batch of rows: ``f(X W + b)``, the bias broadcast over the rows."""
        x = self.gen((shape[0], self.dim(False)), d)
        w, b = self.variable((x.shape[1], shape[1])), self.variable(shape_of(1, shape[1]))
        name = self.rng.choice(["relu", "tanh", "sigmoid", None])
        f = ELEMENTWISE[name][0] if name else (lambda v: v)
        inner = f"{self.operand(x)} {w.text} + {b.text}"
        return Node(f"{name}({inner})" if name else inner, lambda env: f(matmul(x.fn(env), w.fn(env)) + b.fn(env)),
                    shape, 1.0 if name in ("tanh", "sigmoid") else x.mag * 3 + 1, bool(name))

    def softmax(self, shape, d):
        a = self.gen(shape, d)
        if self.rng.random() < 0.6:
            return Node(f"softmax({a.text})", lambda env: softmax(a.fn(env)), shape, 0.5)
        return Node(f"log_softmax({a.text})", lambda env: log_softmax(a.fn(env)), shape, a.mag + 2)

    def well_conditioned(self, n, d, for_det=False) -> Node:
        """An n×n matrix far from singular (and of modest determinant ``for_det``)."""
        r = self.rng.random()
        if r < 0.3:
            return self.variable((n, n), "spd")
        g = self.gen((n, n), d + 1)
        if for_det or r < 0.55:  # |eigenvalue − 1| ≤ 1/2 (Gershgorin)
            return Node(f"{self.rng.choice(['I', 'eye', f'eye({n})'])} + tanh({g.text}) / (2 {n})",
                        lambda env: np.eye(env["#" + n]) + np.tanh(g.fn(env)) / (2 * env["#" + n]), (n, n), 1.0, False)
        if r < 0.8:  # eigenvalues with real part ≥ n
            return Node(f"tanh({g.text}) + 2 {n} I",
                        lambda env: np.tanh(g.fn(env)) + 2 * env["#" + n] * np.eye(env["#" + n]), (n, n), 3.0, False)
        if r < 0.9:  # a symmetric input, its spectrum shifted past 0
            a = self.variable((n, n), "symmetric")
            return Node(f"{a.text} + 3 {n} I", lambda env: a.fn(env) + 3 * env["#" + n] * np.eye(env["#" + n]),
                        (n, n), 3.0, False)
        h = self.gen((n, self.dim()), d + 1)
        h = self.div_by(h, 2 ** math.ceil(math.log2(h.mag))) if h.mag > 2 else h
        return Node(f"{self.operand(h)} {self.operand(h)}ᵀ + I",
                    lambda env: h.fn(env) @ h.fn(env).T + np.eye(env["#" + n]), (n, n), 3.0, False)

    def inverse(self, shape, d):
        a = self.well_conditioned(shape[0], d)
        spelled = self.rng.choice(["inv({})", "{}⁻¹", "{}^-1", "{}^{{-1}}", "{}⁻ᵀ", "{}^-T", "inverse({})"])
        transposed = "T" in spelled or "ᵀ" in spelled
        text = spelled.format(a.text if spelled.startswith("inv") else self.operand(a))
        return Node(text, lambda env: np.linalg.inv(a.fn(env)).T if transposed else np.linalg.inv(a.fn(env)),
                    shape, 1.0)

    def diag(self, shape, d):
        a = self.gen((shape[0], shape[0]) if shape[1] == 1 else (shape[0], 1), d)
        return Node(f"diag({a.text})", lambda env: diag(a.fn(env)), shape, a.mag)

    def row_logsumexp(self, shape, d):
        if shape[0] == 1:
            return None
        a = self.gen((shape[0], self.dim(False)), d)
        return Node(f"logsumexp({a.text})", lambda env: logsumexp(a.fn(env)), shape, a.mag + 2)

    def ones_product(self, shape, d):
        """``onesᵀ G`` sums the rows of G; ``G ones`` its columns."""
        if shape[0] == 1:
            g = self.gen((self.dim(), shape[1]), d)
            return Node(f"onesᵀ {self.operand(g)}", lambda env: g.fn(env).sum(axis=0, keepdims=True), shape,
                        g.mag * 3, False)
        g = self.gen((shape[0], self.dim()), d)
        return Node(f"{self.operand(g)} ones", lambda env: g.fn(env).sum(axis=1, keepdims=True), shape,
                    g.mag * 3, False)

    def maximum(self, shape, d):  # no derivative rule: the engine must refuse it cleanly
        a, b = self.gen(shape, d), self.gen(shape, d)
        return Node(f"max({a.text}, {b.text})", lambda env: np.maximum(a.fn(env), b.fn(env)), shape,
                    max(a.mag, b.mag))

    # -- scalar builders ---------------------------------------------------------
    def trace(self, shape, d):
        n = self.dim()
        a = self.gen((n, n), d)
        return Node(f"{self.rng.choice(['tr', 'trace'])}({a.text})", lambda env: float(np.trace(a.fn(env))), (),
                    a.mag * 3)

    def sum(self, shape, d):
        a = self.gen(self.some_shape(), d)
        if self.rng.random() < 0.2:
            return Node(f"mean({a.text})", lambda env: float(np.mean(a.fn(env))), (), a.mag)
        return Node(f"sum({a.text})", lambda env: float(np.sum(a.fn(env))), (), a.mag * 4)

    def dot(self, shape, d):
        s = self.rng.choice([(1, self.dim()), (self.dim(), 1)])
        a, b = self.gen(s, d), self.gen(s, d)
        return Node(f"dot({a.text}, {b.text})", lambda env: float(np.sum(a.fn(env) * b.fn(env))), (),
                    a.mag * b.mag * TYPICAL_SIZE)

    def trace_power(self, shape, d):
        """tr(X^k) with k a declared integer, or a whole power too large to multiply out."""
        n = self.dim(False)
        x = self.well_conditioned(n, d, for_det=True)
        if self.rng.random() < 0.5:
            k = self.variable((), "integer")
            return Node(f"tr(({x.text})^{k.text})",
                        lambda env: float(np.trace(np.linalg.matrix_power(x.fn(env), int(k.fn(env))))), (), 3.0)
        k = self.rng.choice([9, 12])
        return Node(f"tr(({x.text})^{k}) / {2 ** k}",
                    lambda env: float(np.trace(np.linalg.matrix_power(x.fn(env), k))) / 2 ** k, (), 1.0, False)

    def norm(self, shape, d):
        a = self.gen(self.some_shape(), d)
        spelled, squared = self.rng.choice([("‖{}‖", False), ("||{}||", False), ("norm({})", False),
                                            ("‖{}‖_F", False), ("‖{}‖^2", True), ("‖{}‖²", True),
                                            ("norm2({})", False), ("norm({}, 2)", False), ("norm({}, 'fro')", False),
                                            ("norm1({})", None), ("‖{}‖_1", None), ("norm({}, 1)", None)])
        fn = (lambda env: float(np.sum(a.fn(env) ** 2))) if squared else (
            lambda env: float(np.sqrt(np.sum(a.fn(env) ** 2)))) if squared is False else (
            lambda env: float(np.sum(np.abs(a.fn(env)))))
        return Node(spelled.format(a.text), fn, (), (a.mag * 4) ** (2 if squared else 1), not squared)

    def logsumexp(self, shape, d):
        a = self.gen(self.rng.choice([(1, self.dim()), (self.dim(), 1)]), d)
        return Node(f"logsumexp({a.text})", lambda env: logsumexp(a.fn(env)), (), a.mag + 2)

    def cross_entropy(self, shape, d):
        target = self.rng.choice([(1, self.dim(False)), (self.dim(False), 1), (self.dim(), self.dim(False))])
        y = self.variable(target, "onehot")
        if self.rng.random() < 0.25:  # a target that is an expression: a distribution, or positive only
            u = self.gen(target, d + 1)
            spelled, g = self.rng.choice([("softmax", softmax), ("σ", ELEMENTWISE["sigmoid"][0])])
            y = Node(f"{spelled}({u.text})", lambda env: g(u.fn(env)), target, 0.5)
        z = self.gen(target, d)
        p_text, p_fn = f"softmax({z.text})", lambda env: softmax(z.fn(env))
        if self.rng.random() < 0.2:
            p_text, p_fn = f"σ({z.text})", lambda env: 1 / (1 + np.exp(-z.fn(env)))
        text = f"CE({y.text}, {p_text})"

        def fn(env):
            return float(-np.sum(y.fn(env) * np.log(p_fn(env))))

        if BATCH in target and self.rng.random() < 0.6:
            return Node(f"{text} / {BATCH}", lambda env: fn(env) / env["#" + BATCH], (), 2.0, False)
        return Node(text, fn, (), 2.0 * TYPICAL_SIZE)

    def determinant(self, shape, d):
        n = self.dim(False)
        kind = self.rng.choice(["det", "logdet", "logdet", "log-det"])
        a = self.well_conditioned(n, d, for_det=kind == "det")
        if kind == "det":
            return Node(f"det({a.text})", lambda env: float(np.linalg.det(a.fn(env))), (), 3.0)
        text = f"logdet({a.text})" if kind == "logdet" else f"log(det({a.text}))"
        return Node(text, lambda env: float(np.log(np.linalg.det(a.fn(env)))), (), 3.0)

    # -- the program -------------------------------------------------------------
    def case(self) -> FuzzCase:
        objective = None
        while objective is None:  # an operator at the top: not a bare name or number
            objective = self.rng.choice(self.scalar_builders())((), 1)
        used = {d for shape, _ in self.variables.values() for d in shape}
        for dim in self.dims:  # a dimension used only as a scalar (x / n) is declared by some input
            if dim not in used or not self.variables:
                self.variable((dim, 1))
        lines = []
        for name, (shape, kind) in self.variables.items():
            dims = "()" if shape == () else f"({shape[0]}, {shape[1]})"
            declared = f" {kind}" if kind in ("spd", "onehot", "symmetric", "integer") else ""
            lines.append(f"{name} : {dims}{declared}")
        lines += [f"{name} = {node.text}" for name, node in self.definitions]
        lines.append(f"J = {objective.text}")
        names = [n for n, (_, kind) in self.variables.items() if kind != "integer"]  # k of X^k: no derivative
        wrt = self.rng.sample(names, self.rng.randint(1, min(4, len(names))))
        draws = {n: k for n, (s, k) in self.variables.items() if k != "normal"}
        return FuzzCase("\n".join(lines), wrt, draws, objective.fn)


def generate_case(rng: random.Random) -> FuzzCase:
    """A random well-typed program with a scalar objective: ``generate_case(random.Random(7))``."""
    return Generator(rng).case()
