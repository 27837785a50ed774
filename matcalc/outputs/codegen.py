"""The ``numpy`` output (SPEC §6): a self-contained Python module whose
``gradients(**inputs)`` computes the closed forms with plain numpy.

The module reads every input by its key (``inputs["lambda"]``) into a safe
local name (``lambda_``), computes the named intermediates in order, then
returns ``{variable: gradient}``.  Written to run as fast as hand-written
backprop: a subexpression used twice is computed once into a temporary
(``_t1``), ``onesᵀ G`` is ``G.sum(axis=0, keepdims=True)``, a hadamard with
ones is dropped, scalars are floats, ``Aᵀ`` is ``A.T``, and matrix chains
keep the order the engine chose.  Functions are spelled as the function
table says (``matcalc.language.functions``); the runtime helpers they use
(``softmax``, ...) are copied into the module, which imports numpy only.
"""
from __future__ import annotations

import builtins
import json
import keyword
import re
import types
import unicodedata
from typing import NamedTuple

from ..language.errors import MatcalcError
from ..language.evaluate import NUMBER_ARGUMENTS, SCALAR_SIGNATURES, Dag, build_dag
from ..language.expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, Shape, Sym, Zero
from ..language.functions import lookup
from ..language.names import unicode_spelling
from .backends import BACKENDS, NUMPY, Backend
from .backends import backend as find_backend

# Python precedence, loosest first; an operand binds at least as tightly as
# its position needs or gets parentheses.
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5
BINARY = {"add": ("+", SUM), "had": ("*", PRODUCT), "div": ("/", PRODUCT), "scale": ("*", PRODUCT)}
# Deeper expressions are split into temporaries, so the generated source stays
# readable and within what Python's parser and compiler accept.
MAX_INLINE_DEPTH = 40
RESERVED = (set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))
            | {h for b in BACKENDS.values() for h in b.helpers}
            | {"np", "torch", "jax", "inputs", "INPUTS", "SHAPES", "SPELLINGS", "missing", "gradients", "value",
               "value_and_gradients", "jacobians", "hessians", "hvp", "_like", "_sizes", "_vector_axis",
               "_conform", "_tensor", "_commutation_order"})


def python_name(name: str, taken: set) -> str:
    """A local variable name for ``name``, not in ``taken`` (which it joins):
    ``lambda`` -> ``lambda_``, ``θ`` and ``ŷ`` stay, ``ℓ`` (not NFKC-stable) -> ``l``."""
    plain = name.isidentifier() and unicodedata.normalize("NFKC", name) == name and name[0] != "_"
    candidate = name if plain else _ascii_name(name)
    while candidate in taken or candidate in RESERVED:
        candidate += "_"
    taken.add(candidate)
    return candidate


def _ascii_name(name: str) -> str:
    parts = []
    for ch in name:
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            parts.append(ch)
        elif unicodedata.name(ch, "").startswith("GREEK"):
            parts.append(unicodedata.name(ch).split()[-1].lower())  # θ -> theta
        else:
            base = unicodedata.normalize("NFKD", ch)[:1]  # ŷ -> y
            parts.append(base if base.isascii() and base.isalnum() else "_")
    text = "".join(parts)
    return text if text[:1].isalpha() else "v" + text


def _number(value) -> tuple[str, int]:
    text = f"{int(value)}.0" if value.denominator == 1 else repr(float(value))
    return text, UNARY if value < 0 else ATOM


def _is_primary(text: str) -> bool:
    """Whether ``text`` binds like an atom: a name or a parenthesised group
    followed only by ``.name``, ``(...)`` and ``[...]`` (``(z > 0).astype(float)``)."""
    def group_end(i):  # index after the bracket group opening at i
        depth = 0
        for j in range(i, len(text)):
            depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(text[j], 0)
            if depth == 0:
                return j + 1
        return None

    m = re.match(r"[^\W\d]\w*", text)
    i = m.end() if m else group_end(0) if text[:1] == "(" else None
    while i is not None and i < len(text):
        if text[i] == ".":
            m = re.match(r"[^\W\d]\w*", text[i + 1:])
            i = i + 1 + m.end() if m else None
        elif text[i] in "([":
            i = group_end(i)
        else:
            i = None
    return i == len(text)


def _whole_argument(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole call argument (between ``(``/``,``
    and ``,``/``)``), where any expression may stand without parentheses."""
    before, after = text[:start].rstrip()[-1:], text[end:].lstrip()[:1]
    return before in ("(", ",") and after in (",", ")")


def _spell(spelling: str, args: list[tuple[str, int]]) -> str:
    def argument(m):
        text, prec = args[int(m.group(1))]
        return text if prec == ATOM or _whole_argument(spelling, m.start(), m.end()) else f"({text})"
    return re.sub(r"\ba([0-2])\b", argument, spelling)


class _Printer:
    """Statements for a DAG: temporaries where a node is shared or deep."""

    def __init__(self, dag: Dag, locals_: dict[str, str], dim_text, backend: Backend = NUMPY):
        self.dag, self.locals, self.dim_text, self.backend = dag, locals_, dim_text, backend
        self.name_of: dict[int, str] = {}
        self.lines: list[str] = []
        self.temporaries = 0
        self.temporary = self._choose_temporaries()

    def _choose_temporaries(self) -> list[bool]:
        dag = self.dag
        uses = [0] * len(dag.nodes)
        for kids in dag.children:
            for k in kids:
                uses[k] += 1
        for r in dag.roots:
            uses[r] += 1
        temporary, depth = [False] * len(dag.nodes), [0] * len(dag.nodes)
        for c, kids in enumerate(dag.children):
            depth[c] = 1 + max((depth[k] for k in kids), default=-1)
            if not self._cheap(c) and (uses[c] > 1 or depth[c] > MAX_INLINE_DEPTH):
                temporary[c], depth[c] = True, 0
        return temporary

    def _cheap(self, c: int) -> bool:
        # leaves and transposed leaves cost nothing to repeat
        node, kids = self.dag.nodes[c], self.dag.children[c]
        return not kids or (node.op == "T" and not self.dag.children[kids[0]])

    # -- statements ---------------------------------------------------------
    def _emit_pending(self, starts):
        """Emit the temporaries the classes in ``starts`` need, children first."""
        pending, stack = set(), list(starts)
        while stack:
            c = stack.pop()
            if c in self.name_of or c in pending:
                continue
            if self.temporary[c]:
                pending.add(c)
            stack.extend(self.dag.children[c])
        for c in sorted(pending):
            self.temporaries += 1
            name = f"_t{self.temporaries}"
            self.lines.append(f"{name} = {self.text(c)[0]}")
            self.name_of[c] = name

    def assign(self, local: str, c: int):
        self._emit_pending(self.dag.children[c] if c not in self.name_of else ())
        self.lines.append(f"{local} = {self.text(c)[0]}")
        if self.dag.children[c]:  # later uses of the same expression read the name
            self.name_of.setdefault(c, local)

    def result(self, c: int) -> str:
        self._emit_pending([c])
        return self.text(c)[0]

    # -- expressions --------------------------------------------------------
    def text(self, c: int) -> tuple[str, int]:
        if c in self.name_of:
            return self.name_of[c], ATOM
        node = self.dag.nodes[c]
        if isinstance(node, Op):
            return self._op(node, self.dag.children[c])
        return self._leaf(node)

    def operand(self, c: int, prec: int) -> str:
        text, p = self.text(c)
        return text if p >= prec else f"({text})"

    def _leaf(self, node: Expr) -> tuple[str, int]:
        if isinstance(node, Sym):
            if node.name not in self.locals:
                raise MatcalcError(f"{node.name} is neither an input nor defined before its use")
            return self.locals[node.name], ATOM
        if isinstance(node, Num):
            return _number(node.value)
        if isinstance(node, DimSize):
            text = self.dim_text(node.name)
            return text, ATOM if text.isidentifier() or text.isdigit() else PRODUCT
        if node.shape is None:
            raise MatcalcError(f"{type(node).__name__} has no shape: code needs a typed tree")
        if node.shape == SCALAR:
            return ("0.0" if isinstance(node, Zero) else "1.0"), ATOM
        rows, cols = (self.dim_text(d) for d in node.shape)
        if isinstance(node, Identity):
            return self.backend.eye.format(n=rows), ATOM
        if isinstance(node, Ones):
            return self.backend.ones.format(rows=rows, cols=cols), ATOM
        if isinstance(node, Zero):
            return self.backend.zeros.format(rows=rows, cols=cols), ATOM
        raise MatcalcError(f"cannot write {type(node).__name__} in numpy")

    def _binary(self, a: int, symbol: str, prec: int, b: int) -> tuple[str, int]:
        # left-associative: the right operand must bind more tightly.  A matrix
        # product under an elementwise * or / gets parentheses it does not
        # need in Python, for the reader: (δ1 @ U.T) * step(z).
        left = self.dag.nodes[a]
        elementwise_of_product = (symbol in "*/" and a not in self.name_of and isinstance(left, Op)
                                  and left.op == "matmul")
        left_prec = prec + 1 if elementwise_of_product else prec
        return f"{self.operand(a, left_prec)} {symbol} {self.operand(b, prec + 1)}", prec

    def _inline(self, c: int, kind, shape=None) -> bool:
        """Class ``c`` is printed in place and is a ``kind`` node (of ``shape``)."""
        node = self.dag.nodes[c]
        return (c not in self.name_of and isinstance(node, kind)
                and (shape is None or node.shape == shape))

    def _ones_side(self, c: int, side: str) -> bool:
        """``c`` is a vector of ones (or its transpose) that is a row for the
        left factor of a product, a column for the right factor."""
        node, kids = self.dag.nodes[c], self.dag.children[c]
        if c in self.name_of or node.shape == SCALAR:
            return False
        ones = node.op == "T" and self._inline(kids[0], Ones) if kids else isinstance(node, Ones)
        return ones and node.shape[0 if side == "left" else 1] == 1

    def _spread_vector(self, c: int) -> int | None:
        """For an outer product with ones printed in place (``v onesᵀ``,
        ``ones vᵀ``): the class of v, which numpy broadcasts alike."""
        node, kids = self.dag.nodes[c], self.dag.children[c]
        if c in self.name_of or not isinstance(node, Op) or node.op != "matmul" or node.shape == SCALAR:
            return None
        a, b = kids
        shape_a, shape_b = self.dag.nodes[a].shape, self.dag.nodes[b].shape
        if shape_a != SCALAR and shape_a[1] == 1 and self._ones_side(b, "left"):  # v (r×1) times a row of ones
            return a
        if shape_b != SCALAR and shape_b[0] == 1 and self._ones_side(a, "right"):  # a column of ones times v (1×c)
            return b
        return None

    def _op(self, node: Op, kids) -> tuple[str, int]:
        op, nodes = node.op, self.dag.nodes
        if op == "add":
            a, b = kids
            right = nodes[b]
            if (b not in self.name_of and isinstance(right, Op) and right.op == "scale"
                    and isinstance(right.args[0], Num) and right.args[0].value == -1):
                return self._binary(a, "-", SUM, self.dag.children[b][1])
        if op == "scale" and isinstance(nodes[kids[0]], Num) and nodes[kids[0]].value == -1:
            return f"-{self.operand(kids[1], POWER)}", UNARY
        if op == "had":
            a, b = kids
            if self._inline(a, Ones) and nodes[b].shape == node.shape:
                return self.text(b)
            if self._inline(b, Ones) and nodes[a].shape == node.shape:
                return self.text(a)
            # (v onesᵀ) ∘ B is v ∘ B broadcast: no n×n outer product is formed
            for x, y in ((a, b), (b, a)):
                vector = self._spread_vector(x)
                if vector is not None and nodes[y].shape == node.shape:
                    return self._binary(vector, "*", PRODUCT, y) if x == a else self._binary(y, "*", PRODUCT, vector)
        if op in BINARY:
            symbol, prec = BINARY[op]
            return self._binary(kids[0], symbol, prec, kids[1])
        if op == "matmul":
            return self._matmul(node, *kids)
        if op == "T":
            if node.shape == SCALAR:
                return self.text(kids[0])
            return f"{self.operand(kids[0], ATOM)}.T", ATOM
        if op == "inv":
            if node.shape == SCALAR:
                return f"1.0 / {self.operand(kids[0], POWER)}", PRODUCT
            return self.backend.inv.format(a=self.text(kids[0])[0]), ATOM
        if op in ("pow", "epow"):
            return self._power(node, *kids)
        return self._call(node, kids)

    def _matmul(self, node: Op, a: int, b: int) -> tuple[str, int]:
        if SCALAR in (self.dag.nodes[a].shape, self.dag.nodes[b].shape):
            return self._binary(a, "*", PRODUCT, b)
        left = self.dag.nodes[a]
        if isinstance(left, Op) and left.op == "commutation":  # a row permutation, not a product
            m, n = (self.text(k)[0] for k in self.dag.children[a])
            return f"commute_rows({self.text(b)[0]}, {m}, {n})", ATOM
        # onesᵀ G sums the rows of G; G ones sums its columns
        for ones, other, axis in ((a, b, 0), (b, a, 1)):
            if self._ones_side(ones, "left" if axis == 0 else "right"):
                keep = "" if node.shape == SCALAR else f"axis={axis}, keepdims=True"
                return f"{self.operand(other, ATOM)}.sum({keep})", ATOM
        # a block of ones times G repeats G's column sums (G times ones, its
        # row sums): a sum and a broadcast view, not a product
        for ones, other, axis in ((a, b, 0), (b, a, 1)):
            block = self.dag.nodes[ones].shape
            if self._inline(ones, Ones) and SCALAR not in (node.shape, block) and 1 not in block + node.shape:
                try:
                    rows, cols = (self.dim_text(d) for d in node.shape)
                except KeyError:  # a size the function does not read off its inputs
                    continue
                summed = f"{self.operand(other, ATOM)}.sum(axis={axis}, keepdims=True)"
                return self.backend.broadcast.format(a=summed, rows=rows, cols=cols), ATOM
        if self._transposed(a, b) and not self._cheap(b):
            # Gᵀ G (a Gram matrix, a Hessian's Xᵀ R X): G once, and BLAS's syrk
            self._emit_pending([b])
            if b not in self.name_of:
                self.temporaries += 1
                self.name_of[b] = f"_t{self.temporaries}"
                self.lines.append(f"{self.name_of[b]} = {self._fresh_text(b)}")
            text = f"{self.name_of[b]}.T @ {self.name_of[b]}"
        elif self.backend.contract and (self._bare_transpose(a) or self._bare_transpose(b)):
            (x, i), (y, j) = ((self.dag.children[c][0], k) if self._bare_transpose(c) else (c, 1 - k)
                              for c, k in ((a, 0), (b, 1)))
            text = self.backend.contract.format(a=self.text(x)[0], b=self.text(y)[0], i=i, j=j)
        else:
            text, _ = self._binary(a, "@", PRODUCT, b)
        return (f"({text}){self.backend.item}", ATOM) if node.shape == SCALAR else (text, PRODUCT)

    def _bare_transpose(self, c: int) -> bool:
        node = self.dag.nodes[c]
        return c not in self.name_of and isinstance(node, Op) and node.op == "T" and node.shape != SCALAR

    def _fresh_text(self, c: int) -> str:
        node = self.dag.nodes[c]
        return (self._op(node, self.dag.children[c]) if isinstance(node, Op) else self._leaf(node))[0]

    def _transposed(self, a: int, b: int, depth: int = 8) -> bool:
        """Whether class ``a`` computes the transpose of class ``b``: ``Gᵀ``,
        or ``gᵀ ∘ Xᵀ`` for ``g ∘ X``, through elementwise operations and
        products ((P Q)ᵀ = Qᵀ Pᵀ); scalars are their own transpose."""
        nodes, kids = self.dag.nodes, self.dag.children
        if depth == 0:
            return False
        if nodes[a].shape == SCALAR or nodes[b].shape == SCALAR:
            return a == b
        if nodes[a].op == "T" if isinstance(nodes[a], Op) else False:
            if kids[a][0] == b:
                return True
        if not (isinstance(nodes[a], Op) and isinstance(nodes[b], Op)) or nodes[a].op != nodes[b].op:
            return False
        op, ka, kb = nodes[a].op, kids[a], kids[b]
        if len(ka) != len(kb):
            return False
        if op == "matmul":
            return self._transposed(ka[0], kb[1], depth - 1) and self._transposed(ka[1], kb[0], depth - 1)
        f = lookup(op)
        if op in ("had", "add", "div", "scale") or (f is not None and f.signature == "elementwise"):
            pairs = all(self._transposed(x, y, depth - 1) for x, y in zip(ka, kb))
            swapped = op in ("had", "add") and all(self._transposed(x, y, depth - 1) for x, y in zip(ka, kb[::-1]))
            return pairs or swapped
        return False

    def _power(self, node: Op, a: int, k: int) -> tuple[str, int]:
        exponent = self.dag.nodes[k]
        base_scalar = self.dag.nodes[a].shape == SCALAR
        power = self.backend.power
        if not isinstance(exponent, Num):
            if node.op == "pow" and not base_scalar:  # X^k, k a declared integer
                return self.backend.matrix_power.format(a=self.text(a)[0], k=f"int(round({self.text(k)[0]}))"), ATOM
            return power.format(a=self.text(a)[0], k=self.text(k)[0]), ATOM
        value = exponent.value
        k_text = str(int(value)) if value.denominator == 1 else repr(float(value))
        if node.op == "pow" and not base_scalar:
            return self.backend.matrix_power.format(a=self.text(a)[0], k=k_text), ATOM
        if base_scalar and (value < 0 or value.denominator != 1):
            # Python floats raise on 0 ** -1 and go complex on (-1) ** 0.5; numpy gives inf / nan
            return power.format(a=self.text(a)[0], k=k_text), ATOM
        return f"{self.operand(a, ATOM)} ** {k_text}", POWER

    def _call(self, node: Op, kids) -> tuple[str, int]:
        f = lookup(node.op)
        if f is None:
            raise MatcalcError(f"no numpy spelling for the function {node.op}")
        args = []
        for k in kids:
            text, prec = self.text(k)
            if self.dag.nodes[k].shape == SCALAR and f.signature not in NUMBER_ARGUMENTS:
                # elementwise spellings need numpy scalars, the others 2-D arrays
                wrapper = self.backend.number if f.signature == "elementwise" else self.backend.matrix
                text, prec = wrapper.format(value=text), ATOM
            args.append((text, prec))
        body = _spell(self.backend.spell(f.name, f.numpy), args)
        if not _is_primary(body):
            body = f"({body})"
        if node.shape == SCALAR and f.signature not in SCALAR_SIGNATURES:
            body += self.backend.item
        return body, ATOM


def _dimension_sources(dag: Dag, inputs: list[str], dims, shapes) -> dict[str, tuple[str, int]]:
    """dimension -> (input, axis) it can be read from: ``dims`` first, then the
    first input (in ``inputs`` order) whose shape has it."""
    sources = {d: (spec[0], spec[1]) for d, spec in (dims or {}).items()}
    for name in inputs:
        for axis, d in enumerate(shapes.get(name) or ()):
            if isinstance(d, str) and "*" not in d:
                sources.setdefault(d, (name, axis))
    return sources


def _needed_dimensions(dag: Dag) -> list[str]:
    needed = []
    for node in dag.nodes:
        if isinstance(node, DimSize):
            needed.append(node.name)
        elif isinstance(node, (Identity, Ones, Zero)) and node.shape:
            needed.extend(d for d in node.shape if isinstance(d, str))
    factors = (f.strip() for d in needed for f in d.split("*"))
    return list(dict.fromkeys(f for f in factors if not f.isdigit()))


def _docstring(text: str, indent: str = "") -> str:
    if '"""' in text or "\\" in text or text.endswith('"'):
        return indent + repr(text)
    return indent + '"""' + text.replace("\n", "\n" + indent) + '"""'


class Emitted(NamedTuple):
    """One function of a generated module: its ``name``, the named
    intermediates it computes in order, its ``outputs`` (name -> expression),
    its docstring, and what it returns: ``"dict"`` the outputs by name,
    ``"value"`` the output ``value`` alone, ``"pair"`` the output ``value``
    first and then the others by name."""
    name: str
    assignments: list
    outputs: dict
    summary: str | None = None
    returns: str = "dict"


def emit_module(assignments: list[tuple[str, Expr]], outputs: dict[str, Expr], inputs: list[str],
                dims: dict[str, tuple] | None = None, doc: str = "",
                shapes: dict[str, Shape] | None = None, function: str = "gradients",
                summary: str | None = None, extra: list | None = None, backend: str | Backend = "numpy",
                returns: str = "dict") -> str:
    """The source of a module with ``gradients(**inputs)``.

    ``assignments``: named intermediates in order (``("delta1", <yhat - y>)``),
    read by later expressions as ``Sym(name)``; ``outputs``: variable ->
    gradient expression; ``inputs``: every free variable; ``dims``: dimension
    -> ``(input, axis, ...)`` to read its size from (``"N": ("X", 0)``);
    dimensions it leaves out are read off the first input with them in its
    shape; ``shapes`` gives the inputs' shapes (by default those their
    ``Sym`` leaves carry), which every function checks its inputs against.
    ``function`` names the function (``jacobians``, ``hessians``, ``hvp``);
    ``extra`` adds more functions to the module, as ``Emitted`` tuples (or
    ``(function, assignments, outputs, summary)``).  ``backend``: the array
    library the module runs on (numpy, jax or torch; ``matcalc.outputs.backends``);
    ``returns``: what the first function returns (see ``Emitted``).
    """
    backend = find_backend(backend) if isinstance(backend, str) else backend
    groups = [Emitted(function, list(assignments), outputs, summary, returns)] + [Emitted(*g) for g in extra or []]
    all_shapes = dict(shapes or {})
    sources, helpers = [], []
    for group in groups:
        source, used, read_shapes = _emit_function(group, inputs, dims, shapes, backend)
        sources.append(source)
        helpers += [h for h in used if h not in helpers]
        all_shapes.update(read_shapes)
    names = ", ".join(json.dumps(n, ensure_ascii=False) for n in inputs) + ("," if len(inputs) == 1 else "")
    declared = ", ".join(f"{json.dumps(n, ensure_ascii=False)}: {_shape_literal(all_shapes[n])}"
                         for n in inputs if all_shapes.get(n) is not None)
    blocks = [backend.helper_source(helpers)] if helpers else []
    spellings = {unicode_spelling(n): n for n in inputs if unicode_spelling(n) != n}
    aliases = ("\n# inputs may also be passed by the names as printed (λ=0.1 for lambda)\nSPELLINGS = {"
               + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in spellings.items())
               + "}") if spellings else ""
    blocks += [f"INPUTS = ({names})\n# the declared shapes; a dimension name has one size across the inputs\n"
               f"SHAPES = {{{declared}}}{aliases}", *sources]
    header = _docstring(doc or "Gradients generated by matcalc.") + "\n" + backend.header
    return header + "\n\n\n" + "\n\n\n".join(b.strip("\n") for b in blocks) + "\n"


def _shape_literal(shape) -> str:
    if shape == SCALAR:
        return "()"
    return "(" + ", ".join(json.dumps(d) for d in shape) + ")"


def _emit_function(group: Emitted, inputs, dims, shapes, backend: Backend):
    """One function of the module: its source, the runtime helpers it calls,
    and the shapes of the inputs it reads."""
    function, assignments, outputs, summary, returns = group
    dag = build_dag([e for _, e in assignments] + list(outputs.values()))
    shapes = {**{n.name: n.shape for n in dag.nodes if isinstance(n, Sym) and n.name in set(inputs)},
              **(shapes or {})}
    taken: set = set()
    locals_ = {name: python_name(name, taken) for name in inputs}
    for name, _ in assignments:
        if name in locals_:
            raise MatcalcError(f"{name} is both an input and a definition")
        locals_[name] = python_name(name, taken)
    sources = _dimension_sources(dag, inputs, dims, shapes)
    dim_locals = {}
    for d in _needed_dimensions(dag):
        if d not in sources:
            raise MatcalcError(f"cannot tell the size of dimension {d} from the inputs")
        dim_locals[d] = python_name(d, taken)

    def dim_text(d) -> str:
        if isinstance(d, int):
            return str(d)
        return " * ".join(f if f.isdigit() else dim_locals[f] for f in (p.strip() for p in d.split("*")))

    # the inputs this function reads: those its expressions use, and those its sizes come from
    used = {n.name for n in dag.nodes if isinstance(n, Sym)} | {sources[d][0] for d in dim_locals}
    needed = [name for name in inputs if name in used]
    wanted = "INPUTS" if needed == list(inputs) else \
        "(" + ", ".join(json.dumps(n, ensure_ascii=False) for n in needed) + ("," if len(needed) == 1 else "") + ")"
    body = ["inputs = {SPELLINGS.get(key, key): value for key, value in inputs.items()}"] \
        if any(unicode_spelling(n) != n for n in needed) else []
    body += [f"missing = [name for name in {wanted} if name not in inputs]",
            "if missing:",
            f'    raise TypeError("{function}() needs the inputs " + ", ".join(missing))']
    if backend.like:
        body.append(f"_like = _like_of([inputs[name] for name in {wanted}])")
    if any(shapes.get(name) is not None for name in needed):
        body.append("_sizes = {}")
    for name in needed:
        key = json.dumps(name, ensure_ascii=False)
        read = backend.read.format(value=f"inputs[{key}]")
        if shapes.get(name) is not None:
            read = f"_conform({key}, {read}, SHAPES[{key}], _sizes)"
            if shapes[name] == SCALAR:
                read += backend.scalar_input
        body.append(f"{locals_[name]} = {read}")
    for d, local in dim_locals.items():
        source, axis = sources[d]
        body.append(f"{local} = {locals_[source]}.shape[{axis}]")

    printer = _Printer(dag, locals_, dim_text, backend)
    for (name, _), c in zip(assignments, dag.roots):
        printer.assign(locals_[name], c)
    results = [(name, printer.result(c)) for name, c in zip(outputs, dag.roots[len(assignments):])]
    body += printer.lines
    if returns == "value":
        body.append(f"return {dict(results)['value']}")
    else:
        value = [t for n, t in results if n == "value"] if returns == "pair" else []
        named = [(n, t) for n, t in results if not (returns == "pair" and n == "value")]
        table = "{" + "".join(f"\n    {json.dumps(n, ensure_ascii=False)}: {t}," for n, t in named) \
            + ("\n}" if named else "}")
        body.append(f"return {value[0]}, {table}" if value else f"return {table}")

    code = "\n".join(body)
    helpers = runtime_calls(code, backend)
    wrt = ", ".join(outputs) or "nothing"
    source = "\n".join([
        f"def {function}(**inputs):",
        _docstring(summary or f"Gradients with respect to {wrt}, each shaped like its input.", "    "),
        *("    " + line.replace("\n", "\n    ") for line in body),
    ])
    return source, helpers, {name: shapes.get(name) for name in needed}


def runtime_calls(code: str, backend: Backend) -> list:
    """The runtime helpers of ``backend`` that ``code`` calls."""
    return [h for h in backend.helpers if re.search(rf"(?<![\w.]){h}\(", code)]


def compile_module(source: str, name: str = "matcalc_generated") -> types.ModuleType:
    """Run a module that ``emit_module`` wrote (our own generated code, never
    user text) and return it: ``compile_module(src).gradients(W=..., x=...)``."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - generated by emit_module
    return module
