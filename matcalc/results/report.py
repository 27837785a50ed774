"""What a derivation shows, decided once: the ``Report`` of a result.

Every output (text, JSON, the LaTeX document, Jupyter, ``--steps``, the web
page) formats the same ``Report``, so they agree on what is shown: the
objective's label (``J``, the program's name for it, or ``f`` for an
unnamed vector or matrix objective), the variables and their shapes, the
``read as`` line, the rows in display order (definitions, assumptions, the
layout, δ terms, gradients), the Jacobians, Hessians and Hessian-vector
products (label, shape, what the matrix maps, symmetry, ``where`` lines,
forward-mode steps), the convention notes and the numeric check.

>>> import matcalc as mc
>>> report = mc.derive("softmax(W x)", wrt="x").report()
>>> report.objective.label, [d.kind for d in report.derivatives]
('f', ['jacobian'])
>>> report.derivatives[0].maps.text()
'∂f/∂x: n×m'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..engine.derivatives import LABELS, Derivative
from ..engine.forward import vec_size
from ..language.expr import SCALAR, Expr, Sym
from ..shapes.dag import name_nodes
from ..shapes.reading import Reading
from .steps import Steps, derivation_steps

LAYOUT_NOTES = {
    "numerator": "numerator (∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ: rows follow f, columns the variable",
    "denominator": "denominator (∂f/∂x)ᵢⱼ = ∂fⱼ/∂xᵢ: rows follow the variable, columns f (the transpose)",
}
# a gradient w.r.t. a declared symmetric or spd matrix is of independent entries (SPEC §3)
CONVENTION = "entries of {x} treated as independent; on symmetric {x} the gradient along symmetric directions is sym(G)"


@dataclass(frozen=True)
class Objective:
    """What the derivatives are of."""

    label: str  # in derivative labels: the program's name for it, else J (a scalar) or f
    named: bool  # the label is the program's name (set in bold like any name)
    name: str | None  # the definition it is (JSON's "objective"), None for an expression
    shape: tuple
    expr: Expr  # the objective, definitions inlined
    written: Expr  # as the user wrote it


@dataclass(frozen=True)
class Row:
    """One row of the derivation, in display order: a ``definition``
    (name = expr), an ``assumption`` or the ``layout`` (a sentence in
    ``text``), an ``intermediate`` δ term (name = expr, ``of`` the node it
    is the δ of) or a ``gradient`` (``name`` the variable)."""

    kind: str
    name: str = ""
    expr: Expr | None = None
    shape: tuple | None = None
    rules: tuple = ()
    text: str = ""
    of: Expr | None = None
    essential: bool = True  # the layout row: False when only gradients (same shape in either layout)


@dataclass(frozen=True)
class Maps:
    """What a derivative matrix maps: ``∂vec(f)/∂vec(X): mn×pq``."""

    what: str
    rows: str = ""
    cols: str = ""

    def text(self, unicode: bool = True) -> str:
        if not self.rows:
            return self.what
        return f"{self.what}: {self.rows}{'×' if unicode else 'x'}{self.cols}"


@dataclass(frozen=True)
class ForwardRow:
    """One node of a Jacobian's forward pass as shown: ∂(target)/∂x = jacobian."""

    target: Expr  # Sym(name) where the program names the node, else the node in the program's names
    named: bool
    jacobian: Expr  # in the program's names
    rules: tuple
    rewrites: tuple  # the simplifier's, that gave it its form


@dataclass(frozen=True)
class DerivativeRow:
    """A Jacobian, Hessian or Hessian-vector product as shown."""

    kind: str  # jacobian | hessian | hvp
    wrt: str
    wrt2: str | None
    expr: Expr  # in the program's names, repeats named in ``where``
    shape: tuple
    maps: Maps
    symmetric: bool
    where: tuple  # ((name, expr), ...)
    layout: str
    steps: tuple  # ForwardRow, the nodes worth showing
    derivative: Derivative = field(compare=False, repr=False)  # the engine's value (``spelled``)

    @classmethod
    def of(cls, d: Derivative, objective_shape, wrt_shapes, names: dict) -> "DerivativeRow":
        return cls(d.kind, d.wrt, d.wrt2, d.expr, d.shape, maps_note(d, objective_shape, wrt_shapes), d.symmetric,
                   tuple(d.where), d.layout, forward_steps(d, names), d)

    def label(self, notation: str, objective: str, name) -> str:
        """In ``notation`` (unicode, ascii, latex; ``LABELS``), the
        objective and the variables spelled by the caller."""
        return self.derivative.spelled(LABELS[notation], objective, name)

    def note(self, unicode: bool = True) -> str:
        """What it maps, and ``symmetric`` for a Hessian that is."""
        return self.maps.text(unicode) + (", symmetric" if self.symmetric else "")


@dataclass(frozen=True)
class Check:
    """The numeric check as shown: ok, failed or inconclusive, never blurred."""

    status: str
    ok: bool
    max_rel_error: float
    dims: dict
    details: str = ""


@dataclass(frozen=True)
class Report:
    """What a result shows; ``Report.of(result)`` (``Result.report()``)."""

    objective: Objective
    wrt: tuple
    layout: str
    variables: tuple  # ((name, shape), ...) in the program's order
    shapes: dict  # variables, defined names and δ terms -> shape
    directions: dict  # HVP directions -> shape (extra inputs)
    reading: Reading | None
    rows: tuple  # Row
    derivatives: tuple  # DerivativeRow
    conventions: tuple  # variables that take the CONVENTION note
    check: Check | None
    result: object = field(compare=False, repr=False)  # for what is computed on demand (steps, numpy)

    @classmethod
    def of(cls, result) -> "Report":
        program = result.program
        names = program.names
        shapes = result.shapes
        rows = [Row("definition", s.name, s.expr, s.shape) for s in result.definitions]
        rows += [Row("assumption", text=str(a)) for a in result.assumptions]
        rows.append(Row("layout", text=layout_note(result.layout, result.derivatives),
                        essential=bool(result.derivatives)))
        rows += [Row("intermediate", s.name, s.expr, s.shape, tuple(s.rules),
                     of=None if s.of is None else name_nodes(s.of, names))
                 for s in result.intermediates]
        rows += [Row("gradient", w, g, program.shapes[w], tuple(result.gradient_rules.get(w, [])))
                 for w, g in result.gradients.items()]
        typed = program.typed
        derivatives = tuple(DerivativeRow.of(d, program.objective.shape, typed.shapes, names)
                            for d in result.derivatives)
        conventions = tuple(w for w in result.gradients if typed.kinds.get(w) in ("symmetric", "spd"))
        return cls(objective_of(program), tuple(result.wrt), result.layout,
                   tuple((n, program.shapes[n]) for n in program.variables), shapes,
                   dict(getattr(result, "directions", {})), program.reading, tuple(rows), derivatives,
                   conventions, check_of(result.last_check), result)

    def rows_of(self, kind: str) -> list:
        return [r for r in self.rows if r.kind == kind]

    @property
    def gradients(self) -> list:
        return self.rows_of("gradient")

    @property
    def all_shapes(self) -> dict:
        """Every name a row can show -> its shape (the HVP directions too)."""
        return {**self.shapes, **self.directions}

    @cached_property
    def gradient_steps(self) -> tuple:
        """``--steps`` for each gradient (``matcalc.results.steps.Steps``), computed
        when first asked for."""
        return tuple(derivation_steps(self.result, row.name) for row in self.gradients)

    def steps_of(self, wrt: str) -> Steps:
        return next(s for s in self.gradient_steps if s.wrt == wrt)


def as_report(x) -> Report:
    """A report, or a result's report."""
    return x if isinstance(x, Report) else Report.of(x)


def objective_of(program) -> Objective:
    """The objective's label, decided here only: the program's name for it;
    else ``J`` for a scalar and ``f`` for a vector or matrix."""
    objective = program.objective
    own = program.names.get(objective)
    label = own or ("J" if objective.shape == SCALAR else "f")
    # JSON names the definition the objective is (an alias ``J = x`` too), else writes the expression
    name = own or ("J" if "J" in program.nodes else None)
    return Objective(label, own is not None, name, objective.shape, objective, program.typed.objective)


def layout_note(layout: str, derivatives) -> str:
    """The layout, said in every output: what it means for what was derived."""
    if any(d.kind in ("jacobian", "hessian") for d in derivatives):
        return LAYOUT_NOTES[layout]
    return f"{layout} (a gradient has the shape of its variable in either layout)"


def maps_note(d: Derivative, objective_shape, wrt_shapes) -> Maps:
    """What the matrix maps: ``∂vec(f)/∂vec(X): mn×pq``."""
    if d.kind == "hvp":
        return Maps("Hessian-vector product, shaped like " + d.wrt)
    if d.kind == "hessian":
        x, y = d.wrt, d.wrt2 or d.wrt
        vx = f"vec({x})" if 1 not in wrt_shapes[x] and wrt_shapes[x] != SCALAR else x
        vy = f"vec({y})" if 1 not in wrt_shapes[y] and wrt_shapes[y] != SCALAR else y
        rows, cols = vec_size(wrt_shapes[x]), vec_size(wrt_shapes[y])
        if d.layout == "denominator":
            rows, cols = cols, rows
        what = f"Hessian in {vx}" if x == y else f"∂/∂{vy} of the gradient in {vx}"
        return Maps(what, _dim(rows), _dim(cols))
    outer = objective_shape if d.kind == "jacobian" else wrt_shapes[d.wrt]
    inner = wrt_shapes[d.wrt] if d.kind == "jacobian" else wrt_shapes[d.wrt2 or d.wrt]
    x = d.wrt if d.kind == "jacobian" else (d.wrt2 or d.wrt)
    top = "vec(f)" if 1 not in outer else "f"
    bottom = f"vec({x})" if 1 not in inner and inner != SCALAR else x
    rows, cols = vec_size(outer), vec_size(inner)
    if d.layout == "denominator":
        rows, cols = cols, rows
    return Maps(f"∂{top}/∂{bottom}", _dim(rows), _dim(cols))


def _dim(d) -> str:
    return str(d).replace("*", "")


def forward_steps(d: Derivative, names: dict) -> tuple:
    """The forward pass of a Jacobian or Hessian as shown: the nodes the
    program names, and the last."""
    if not d.steps:
        return ()
    last = d.steps[-1].node
    return tuple(ForwardRow(Sym(names[s.node], s.node.shape) if s.node in names else name_nodes(s.node, names),
                            s.node in names, name_nodes(s.jacobian, names), tuple(s.rules), tuple(s.rewrites))
                 for s in d.steps if s.node in names or s.node is last)


def check_of(check) -> Check | None:
    if check is None:
        return None
    status = getattr(check, "status", "") or ("ok" if check.ok else "failed")
    return Check(status, bool(check.ok), float(check.max_rel_error), dict(check.dims), check.details or "")
