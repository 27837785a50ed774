"""The Python API: ``derive``, ``Program`` and the result of a derivation.

>>> import matcalc as mc
>>> r = mc.derive("CE(y, softmax(relu(x W + b1) U + b2))", wrt="W")
>>> print(r.gradients["W"])
xᵀ δ2
>>> r.check().ok
True
>>> g = mc.Program("x : (1, D); J = sum(relu(x W))").derive(wrt=["W"]).compile()   # numpy
>>> import numpy as np
>>> sorted(g(x=np.ones((1, 2)), W=np.eye(2)))
['W']
"""
from __future__ import annotations

import functools

from ..engine.derivatives import LAYOUTS, jacobian_derivatives, second_derivatives
from ..engine.reverse import Derivation, differentiate
from ..language.errors import MatcalcError, ParseError
from ..language.expr import SCALAR, Expr, Op, format_shape, free_symbols
from ..language.latex_input import latex_to_expr_text, looks_like_latex
from ..language.names import canonical_name
from ..language.parser import Declaration, SurfaceProgram, parse_expr, parse_program
from ..outputs.latex import program_table, render_latex, render_latex_display
from ..outputs.render import render_text
from ..results.naming import assignments, name_derivation, needed_assignments
from ..results.report import Report, objective_of
from ..rewriting.rules import Context, RuleBase, default_rules, load_rules
from ..shapes.core import substitute
from ..shapes.inference import infer_shapes
from ..shapes.reading import Reading, reading_of


def _lines(where) -> list[str]:
    if where is None:
        return []
    if isinstance(where, str):
        return [where]
    return list(where)


def _in_scope(method):
    """Run a Program's or Result's method with its rule base's functions in
    scope (a rule file's ``swish``): each result keeps the rule base it was
    derived with, whatever is loaded later or in another thread."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        rules = self.rules if isinstance(self, Program) else self.program.rules
        with rules.scope():
            return method(self, *args, **kwargs)

    return wrapper


class Program:
    """A program of declarations and definitions, shapes inferred.

    ``Program("x: (1, D)\\nz = x W + b1\\nJ = sum(relu(z))")``; the objective
    is the last definition unless ``objective`` names another or gives an
    expression.
    """

    def __init__(self, text: str = "", *, where=None, objective: str | None = None,
                 rules: RuleBase | None = None, latex: bool | None = None):
        self.rules = rules or default_rules()
        self._read(text, where, objective, latex)

    @_in_scope
    def _read(self, text, where, objective, latex=None) -> None:
        lines = _lines(where) + ([text] if text else [])
        self.source = "\n".join(lines)
        self.surface = parse_program(self.source)
        objective_expr = None
        if objective is not None and not objective.strip():
            raise ParseError("empty expression: write an objective such as \"tr(A X B)\"")
        objective_splits: list = []
        if objective is not None:
            objective = _from_latex(objective, latex, self.surface.names)
            objective_expr = parse_expr(objective, known_names=frozenset(self.surface.names),
                                        splits=objective_splits)
        elif not self.surface.definitions:
            raise MatcalcError("nothing to differentiate: give an objective or a definition")
        self.objective_text = objective
        self._settle(objective_expr, objective_splits)

    def _settle(self, objective_expr, objective_splits) -> None:
        self._objective_expr, self._objective_splits = objective_expr, objective_splits
        self.typed = infer_shapes(self.surface, objective_expr)
        self.reading: Reading | None = reading_of(self.surface, objective_expr, objective_splits, self.typed)
        self._inline()

    @_in_scope
    def _cut(self, defined: list[str]) -> "Program":
        """This program with the defined names ``defined`` made inputs of
        their own shapes: ∂J/∂h of the cut program is the δ of h."""
        surface = self.surface
        if self._objective_expr is None and surface.definitions[-1].name in defined:
            raise MatcalcError(f"{surface.definitions[-1].name} is the objective: its derivative is 1")
        by_name = {d.name: d for d in surface.definitions}
        for w in defined:  # h upstream of another requested z: ∂J/∂h would lose the path through z
            needed, stack = set(), [by_name[z].expr for z in defined if z != w]
            while stack:
                for name in free_symbols(stack.pop()):
                    if name in by_name and name not in needed:
                        needed.add(name)
                        stack.append(by_name[name].expr)
            if w in needed:
                raise MatcalcError(f"∂J/∂{w}: {w} feeds another name asked for; ask for one at a time")
        declarations = dict(surface.declarations)
        for w in defined:
            declarations[w] = Declaration(w, self.typed.shapes[w], None, by_name[w].line)
        cut = Program.__new__(Program)
        cut.rules, cut.source, cut.objective_text = self.rules, self.source, self.objective_text
        cut.surface = SurfaceProgram(declarations, [d for d in surface.definitions if d.name not in defined],
                                     surface.source, surface.splits)
        cut._settle(self._objective_expr, self._objective_splits)
        return cut

    # -- the program as one DAG ------------------------------------------
    def _inline(self) -> None:
        """Substitute definitions into each other: one DAG whose nodes remember
        the names the program gave them (``names``: node -> name)."""
        self.nodes: dict[str, Expr] = {}
        self.names: dict[Expr, str] = {}
        for name, expr in self.typed.definitions.items():
            node = substitute(expr, self.nodes)
            self.nodes[name] = node
            # only computed nodes take a program's name: an alias of an input
            # (``h = x``, ``c = 2``) must not rename that input in every result
            if isinstance(node, Op):
                self.names.setdefault(node, name)
        self.objective = substitute(self.typed.objective, self.nodes)
        defined = set(self.typed.definitions)
        self.variables = [n for n in self.typed.shapes if n not in defined]

    @property
    def shapes(self) -> dict:
        """Every variable and defined name -> its shape (``()`` for a scalar)."""
        return dict(self.typed.shapes)

    @property
    def kinds(self) -> dict:
        return dict(self.typed.kinds)

    @_in_scope
    def derive(self, wrt, *, check: bool = False, seed: int = 0, order: int = 1, wrt2: str | None = None,
               hvp: str | None = None, layout: str = "numerator") -> "Result":
        """Gradients of the objective with respect to the variables ``wrt``
        (a name, a comma list, or a list of names); the Jacobian when the
        objective is a vector or matrix; with ``order=2`` the Hessian (of
        vec X for a matrix X; with ``wrt2`` the mixed ∂²J/∂x∂y); with
        ``hvp="v"`` the Hessian-vector product along a new input v.
        ``layout`` is "numerator" (the default) or "denominator"."""
        if layout not in LAYOUTS:
            raise MatcalcError(f"--layout is numerator or denominator, not {layout!r}")
        if order not in (1, 2):
            raise MatcalcError(f"--order is 1 or 2, not {order}")
        names = _wrt_list(wrt)
        wrt2 = canonical_name(wrt2) if wrt2 else wrt2
        hvp = canonical_name(hvp) if hvp else hvp
        if not names:
            raise MatcalcError("--wrt: name at least one variable to differentiate with respect to")
        defined = [w for w in names if w in self.typed.definitions]
        if defined:  # ∂J/∂h of a defined h: the δ of h
            if len(defined) != len(names):
                raise MatcalcError(f"{', '.join(defined)} {'is' if len(defined) == 1 else 'are'} defined: "
                                   "ask for the δ of defined names apart from the variables "
                                   f"({', '.join(self.variables)})")
            return self._cut(defined).derive(names, check=check, seed=seed, order=order, wrt2=wrt2,
                                             hvp=hvp, layout=layout)
        for w in names:
            if self.typed.kinds.get(w) == "integer":
                raise MatcalcError(f"{w} is declared integer (an exponent such as X^{w}): "
                                   "it has no derivative; differentiate with respect to the other variables")
            if w not in self.typed.shapes:
                raise MatcalcError(f"{w} does not appear in the problem; its variables are: "
                                   f"{', '.join(self.variables)}")
        for w in [wrt2] if wrt2 else []:
            if w not in self.variables:
                raise MatcalcError(f"--wrt2 {w}: not a variable of the problem ({', '.join(self.variables)})")
        ctx = Context.from_kinds(self.typed.kinds)
        if self.objective.shape != SCALAR:
            if order != 1 or wrt2 or hvp:
                raise MatcalcError(f"the objective is {format_shape(self.objective.shape)}: second derivatives "
                                   "and Hessian-vector products are of scalar objectives")
            result = Result(self, None, layout=layout)
            result.wrt = names
            result.derivatives = jacobian_derivatives(self, names, layout, ctx)
        else:
            derivation = differentiate(self.objective, names, ctx, self.rules,
                                       defined=frozenset(self.names),
                                       taken=frozenset(self.typed.shapes) | frozenset(self.typed.dims))
            result = Result(self, derivation, layout=layout)
            if order == 2 or wrt2 or hvp:
                second_derivatives(result, names, ctx, hessian=order == 2 or bool(wrt2), wrt2=wrt2, hvp=hvp)
        if check:
            result.check(seed=seed, raise_on_failure=True)
        return result

    def __repr__(self) -> str:
        table = "  ".join(f"{n}: {format_shape(s)}" for n, s in self.shapes.items())
        return f"Program({table})"

    def _repr_markdown_(self) -> str:
        """Jupyter: the shape table (name, shape, kind or definition)."""
        return program_table(self)


def _wrt_list(wrt) -> list[str]:
    items = [wrt] if isinstance(wrt, str) else list(wrt)
    out = []
    for item in items:
        for w in item.split(","):
            w = canonical_name(w.strip())
            if w and w not in out:
                out.append(w)
    return out


class Result:
    """A derivation: δ terms, gradients, shapes; ``check``, ``numpy``, ``compile``."""

    def __init__(self, program: Program, derivation: Derivation | None, layout: str = "numerator"):
        self.program = program
        self.derivation = derivation
        self.layout = layout
        self.derivatives: list = []  # Jacobians, Hessians, HVPs (matcalc.engine.derivatives.Derivative)
        self.directions: dict = {}  # HVP directions: name -> shape (extra inputs)
        if derivation is None:  # a Jacobian: no gradient pass
            derivation = Derivation(program.objective, [], [], {}, [], {}, {})
            self.derivation = derivation
        self.wrt = derivation.wrt
        self.definitions, self.intermediates, self.gradients = name_derivation(program, derivation)
        self.gradient_rules = derivation.gradient_rules
        self.assumptions = list(derivation.assumptions)
        self.last_check = None
        # the gradient second derivatives are formed from (and checked against):
        # of independent entries, S = Sᵀ unused (``Program.derive`` sets it)
        self.second_derivation = derivation

    @property
    def shapes(self) -> dict:
        """Variables, defined names and δ terms -> shapes."""
        out = self.program.shapes
        for step in self.intermediates:
            out[step.name] = step.shape
        return out

    @property
    def objective_name(self) -> str:
        """The objective's label (``matcalc.results.report`` decides it): the
        program's name for it, else J for a scalar and f for a vector or matrix."""
        return objective_of(self.program).label

    def report(self) -> Report:
        """What this result shows, decided once (``matcalc.results.report``): every
        output (text, JSON, LaTeX, Jupyter, the web page) formats it."""
        return Report.of(self)

    # -- numbers (matcalc.results.result_check; numpy loads on first use) -----------
    def _assignments(self) -> list[tuple[str, Expr]]:
        return assignments(self.definitions, self.intermediates)

    def evaluator(self):
        """(objective(env) -> float, gradients(env) -> dict) evaluated with the
        AST evaluator, for the numeric check."""
        from ..results import result_check  # numpy: importing the API stays cheap

        return result_check.evaluator(self)

    def second_order_gradients(self):
        """``values(env) -> {name: gradient}`` of the gradients the second
        derivatives are formed from, valid at any point (symmetric or not):
        finite differences of these, entry by entry, check a Hessian."""
        from ..results import result_check  # numpy

        return result_check.second_order_gradients(self)

    def draws(self, draws=None) -> dict:
        """How each input is drawn beyond its declared kind: so that the
        assumptions hold (y sums to 1), inside the domain of the functions
        (log(x): x > 0; an inverted matrix well conditioned), and ``draws``
        (name -> kind) over all of these."""
        from ..results import result_check  # numpy

        return result_check.draws(self, draws)

    def sampler(self, draws=None, directions: bool = False):
        """The sampler of this problem's numeric checks (``matcalc.results.sampling.Sampler``):
        its inputs drawn by kind and ``draws``, valid where the objective and
        everything it inverts are finite and well conditioned."""
        from ..results import result_check  # numpy

        return result_check.sampler(self, draws, directions)

    @_in_scope
    def check(self, seed: int = 0, raise_on_failure: bool = False, draws=None):
        """Compare every gradient with central finite differences at random
        inputs of distinct sizes (SPEC §5); returns a ``CheckResult`` whose
        ``status`` is "ok", "failed" or "inconclusive" (no valid point)."""
        from ..results import result_check  # numpy

        self.last_check = result_check.check(self, seed, draws)
        if raise_on_failure:
            result_check.raise_unless_ok(self.last_check)
        return self.last_check

    @_in_scope
    def numpy(self, backend: str = "numpy") -> str:
        """A self-contained module defining ``gradients(**inputs)``,
        ``value(**inputs)`` and ``value_and_gradients(**inputs)`` (and
        ``jacobians``, ``hessians`` or ``hvp`` as derived), over numpy, or over
        ``jax.numpy`` or ``torch`` with ``backend="jax"`` / ``"torch"``."""
        from ..outputs.codegen import Emitted, emit_module  # numpy

        typed = self.program.typed
        dims = {}
        for name in self.program.variables:
            shape = typed.shapes[name]
            for axis, d in enumerate(shape):
                if isinstance(d, str) and d not in dims:
                    dims[d] = (name, axis)
        kinds = ", ".join(dict.fromkeys((["gradients"] if self.gradients else [])
                                        + [d.kind + "s" for d in self.derivatives]))
        doc = f"{kinds.capitalize()} of {self.objective_name} with respect to {', '.join(self.wrt)} " \
              f"({self.layout} layout; {backend}; generated by matcalc)."
        inputs = list(self.program.variables) + list(self.directions)
        shapes = {**{n: typed.shapes[n] for n in self.program.variables}, **self.directions}
        value = {"value": typed.objective}
        groups = []
        if self.gradients or not self.derivatives:
            both = {**value, **self.gradients}
            groups.append(Emitted("gradients", needed_assignments(self._assignments(), self.gradients.values()),
                                  self.gradients))
            groups.append(Emitted("value_and_gradients", needed_assignments(self._assignments(), both.values()),
                                  both, f"The value of {self.objective_name}, and the gradients by variable.",
                                  "pair"))
        groups.append(Emitted("value", needed_assignments(self._definitions(), value.values()), value,
                              f"The value of {self.objective_name}.", "value"))
        for function, kind in (("jacobians", "jacobian"), ("hessians", "hessian"), ("hvp", "hvp")):
            outputs = {d.wrt: d.value for d in self.derivatives if d.kind == kind}
            if outputs:
                summary = {"jacobians": "Jacobians (2-D, {} layout) of the objective, by variable",
                           "hessians": "Hessians (2-D, of vec X; {} layout), by variable",
                           "hvp": "Hessian-vector products, shaped like each variable"}[function]
                groups.append(Emitted(function, needed_assignments(self._definitions(), outputs.values()),
                                      outputs, summary.format(self.layout)))
        main, *extra = groups
        return emit_module(main.assignments, main.outputs, inputs, dims, doc=doc, shapes=shapes,
                           function=main.name, summary=main.summary, extra=extra, backend=backend,
                           returns=main.returns)

    def _definitions(self) -> list[tuple[str, Expr]]:
        return assignments(self.definitions)

    @property
    def main_function(self) -> str:
        """What ``compile()`` returns by default: ``hessians`` or ``hvp`` for a
        second-order result, ``jacobians`` for a Jacobian, else ``gradients``."""
        kinds = [d.kind for d in self.derivatives]
        for kind, function in (("hessian", "hessians"), ("hvp", "hvp"), ("jacobian", "jacobians")):
            if kind in kinds:
                return function
        return "gradients"

    def compile(self, backend: str = "numpy", function: str | None = None):
        """The generated module's ``function`` as a callable taking the inputs
        as keyword arguments: by default ``main_function`` (``gradients``;
        ``hessians``, ``hvp`` or ``jacobians`` for a result that has them).
        Other functions: ``value``, ``value_and_gradients`` (the value, then
        the gradients by name).  ``backend``: numpy, jax or torch.  Inputs
        are checked against the declared shapes (a 1-D array stands for a
        column vector; a scalar may be a float); a mismatch raises
        ``ValueError`` naming the expected shape."""
        from ..outputs.codegen import compile_module  # numpy

        module = compile_module(self.numpy(backend), f"matcalc_{backend}")
        function = function or self.main_function
        if not hasattr(module, function):
            present = [f for f in ("gradients", "value", "value_and_gradients", "jacobians", "hessians", "hvp")
                       if hasattr(module, f)]
            raise MatcalcError(f"this result has no {function}(): it compiles {', '.join(present)}")
        return getattr(module, function)

    @_in_scope
    def __repr__(self) -> str:
        return render_text(self)

    # -- presentation ------------------------------------------------------
    @_in_scope
    def latex(self, bold: bool = False, steps: bool = False) -> str:
        """The derivation as LaTeX (an ``align*`` block; ``steps`` adds the
        chain-rule steps); ``bold`` sets vectors and matrices in bold."""
        return render_latex(self, bold=bold, steps=steps)

    @_in_scope
    def _repr_latex_(self) -> str:
        """Jupyter: the δ terms and gradients as rendered math, with shapes."""
        return render_latex_display(self)

    @_in_scope
    def to_sympy(self):
        """The δ terms and gradients as SymPy matrix expressions (a
        ``SympyExport``); a MatcalcError names what SymPy cannot express."""
        from ..outputs.sympy_export import to_sympy  # sympy: loaded only for this

        return to_sympy(self)


def derive(objective: str | None = None, wrt="", *, where=None, program: str = "",
           rules=None, check: bool = False, seed: int = 0, order: int = 1, wrt2: str | None = None,
           hvp: str | None = None, layout: str = "numerator", latex: bool | None = None) -> Result:
    r"""Differentiate ``objective`` (an expression, or the name of a definition)
    with respect to ``wrt``.  ``latex`` forces (True) or forbids (False)
    reading the objective as LaTeX (default: detected, as for answers).

    ``derive("tr(A X B)", wrt="X").gradients["X"]`` is ``Aᵀ Bᵀ``;
    ``derive(r"\mathbf{x}^\top A \mathbf{x}", wrt="x")`` is ``(A + Aᵀ) x``.
    """
    base = _rule_base(rules)
    p = Program(program, where=where, objective=objective, rules=base, latex=latex)
    return p.derive(wrt, check=check, seed=seed, order=order, wrt2=wrt2, hvp=hvp, layout=layout)


def _from_latex(objective: str, latex: bool | None, names) -> str:
    """The objective in the expression language: LaTeX (forced, or detected
    as for answers) goes through the translator ``check`` uses for answers."""
    if latex or (latex is None and looks_like_latex(objective)):
        return latex_to_expr_text(objective, names=names)
    return objective


def _rule_base(rules) -> RuleBase:
    """``rules``: None (the default rules), a ``RuleBase`` (``load_rules``'s
    value), or rule files (a path or a list of paths), read on top of the
    default rules (the user's rules come first, so they can override)."""
    if rules is None or isinstance(rules, RuleBase):
        return rules or default_rules()
    return load_rules(rules, default_rules())
