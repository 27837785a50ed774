"""Checking a homework answer against the true derivative (SPEC §7): a
gradient, the Jacobian of a vector or matrix objective (numerator layout,
or the problem's ``layout``), or a Hessian (``order=2``).

>>> from matcalc.faces.answers import check_answer
>>> v = check_answer({"f": "tr(A X B)", "wrt": "X", "where": ["X: (m, n)"]}, "B A")
>>> v.kind
'transpose'
>>> v.diagnosis
'your answer is n×m but ∂J/∂X is m×n: you wrote the transpose — a layout mistake ...'

How an answer is judged:

1. The problem is derived once (and its own numeric check run); its inputs
   are drawn at 3 random points at each of 2 size assignments by the same
   sampler as ``derive --check`` (``matcalc.results.sampling.Sampler``: distinct
   sizes in every ordering, then larger ones, until the objective and what
   it inverts are finite and well conditioned; kinds, assumptions and
   ``draw`` hints honoured), and the true derivative evaluated there once.
2. The answer is parsed in the problem's program: it may use the problem's
   variables and defined names (``h``, ``ŷ``, ``z``), its own helper lines
   (``--where "delta2 = ..."``, or statements before it: ``d = ŷ - y; hᵀ d``)
   and the engine's δ terms (``δ1``, ``δ2``: what ``matcalc derive`` prints,
   numbered from the loss backwards) only where the problem ``allow``s them:
   deriving δ2 is often the homework.  LaTeX answers are translated first
   (``matcalc.language.latex_input``).
3. Its shape is inferred jointly with the problem (every problem variable
   pinned to its shape), aiming at the gradient's shape; then it is
   evaluated at the same points and compared with a relative tolerance —
   never as a string.  ``matcalc.faces.answer_diagnosis`` says what is wrong;
   ``matcalc.faces.answer_hints`` names the mistakes only the problem can (an
   activation mask dropped, right only if A is symmetric).
"""
from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

import numpy as np

from ..language.errors import CheckInconclusiveError, MatcalcError, ParseError, ShapeError
from ..language.evaluate import evaluate_program
from ..language.expr import SCALAR, Sym, format_shape, free_symbols
from ..language.latex_input import latex_to_expr_text, looks_like_latex
from ..language.names import canonical_name, unicode_spelling
from ..language.parser import Declaration, SurfaceProgram, parse_expr, parse_program
from ..language.printer import to_text
from ..results.report import maps_note, objective_of
from ..shapes.inference import infer_shapes
from .answer_diagnosis import Sample, diagnose, same_values
from .answer_hints import explain
from .api import Program

POINTS = 3                # random points per size assignment
SIZE_ROUNDS = ((), (2,))  # sizes 2, 3, 5, ... then 3, 5, 7, ...
KINDS = ("correct", "shape", "transpose", "factor", "sign", "batch-sum", "mask", "symmetric-only",
         "counterexample", "unparsable", "unknown-name", "empty", "raises")


@dataclass(frozen=True)
class Problem:
    """A homework problem: the objective, the variable, the program lines.

    ``Problem("CE(y, softmax(x W + b))", "W", where=("y: (1, C) onehot",))``;
    ``draw`` is ``{"X": "spd"}`` (or its items), as in the corpus; ``order``
    2 asks for the Hessian, ``layout`` orients a Jacobian, ``allow`` names
    the engine's δ terms an answer may use without defining them.
    """

    objective: str
    wrt: str
    where: tuple = ()
    program: str = ""
    draw: tuple = ()
    id: str = ""
    order: int = 1
    layout: str = "numerator"
    allow: tuple = ()

    def __post_init__(self):
        where = (self.where,) if isinstance(self.where, str) else tuple(self.where or ())
        draw = self.draw.items() if isinstance(self.draw, dict) else (self.draw or ())
        allow = (self.allow,) if isinstance(self.allow, str) else tuple(self.allow or ())
        object.__setattr__(self, "where", tuple(str(w) for w in where))
        object.__setattr__(self, "draw", tuple(sorted((str(k), str(v)) for k, v in draw)))
        object.__setattr__(self, "allow", tuple(canonical_name(str(a).strip()) for a in allow))
        if self.order not in (1, 2) or isinstance(self.order, bool):
            raise MatcalcError(f"a problem's 'order' is 1 (gradient or Jacobian) or 2 (Hessian), "
                               f"not {self.order!r}")
        if self.layout not in ("numerator", "denominator"):
            raise MatcalcError(f"a problem's 'layout' is numerator or denominator, not {self.layout!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "Problem":
        """A corpus-style dict: ``{"id", "f", "wrt", "where", "draw"}``."""
        objective = d.get("f", d.get("objective"))
        wrt = d.get("wrt")
        if not isinstance(objective, str) or not objective.strip() or not isinstance(wrt, str) or not wrt.strip():
            raise MatcalcError("a problem needs 'f' (the objective) and 'wrt' (one variable)")
        where = d.get("where") or ()
        if not isinstance(where, (str, list, tuple)):
            raise MatcalcError("a problem's 'where' is a list of lines")
        draw = d.get("draw") or {}
        if not isinstance(draw, dict):
            raise MatcalcError("a problem's 'draw' maps names to kinds, e.g. {\"X\": \"spd\"}")
        allow = d.get("allow") or ()
        if not isinstance(allow, (str, list, tuple)):
            raise MatcalcError("a problem's 'allow' is a list of names, e.g. [\"delta2\"]")
        order = d.get("order", 1)
        if not isinstance(order, int) or isinstance(order, bool):
            raise MatcalcError(f"a problem's 'order' is 1 or 2, not {order!r}")
        return cls(objective, wrt.strip(), where, str(d.get("program") or ""), draw, str(d.get("id", "")),
                   order, str(d.get("layout") or "numerator"), allow)


def as_problem(problem) -> Problem:
    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, dict):
        return Problem.from_dict(problem)
    raise MatcalcError(f"a problem is a Problem or a dict, not {type(problem).__name__}")


@dataclass
class Verdict:
    """What a checker says about one answer.

    ``kind`` is one of ``KINDS``; ``counterexample`` (for kind
    "counterexample") holds ``sizes``, ``entry`` (1-based row and column, None
    for a scalar), ``expected``, ``given`` and the ``inputs`` drawn.
    """

    correct: bool
    kind: str
    diagnosis: str
    counterexample: dict | None = None
    expected_text: str = ""
    answer_text: str = ""
    answer_shape: str = ""
    expected_shape: str = ""
    anticipated: int | None = None  # which of a rubric's anticipated mistakes it is


    def to_dict(self) -> dict:
        """The verdict as JSON data: a value that is not finite (an answer
        that divides by zero) is the string "inf", "-inf" or "nan", since
        JSON has no such numbers."""
        return _json_safe(asdict(self))

    def __str__(self) -> str:
        return ("correct: " if self.correct else f"wrong ({self.kind}): ") + self.diagnosis


@dataclass
class Reading:
    """An answer ready to be judged: its text, its shape, and how to compute
    its values at samples (``evaluate(samples) -> [array]``, a MatcalcError
    when it cannot be computed: a verdict of kind ``failure_kind``)."""

    text: str
    shape: str
    evaluate: object
    failure_kind: str = "counterexample"


def check_answer(problem, answer: str, *, where=(), latex: bool | None = None, seed: int = 0) -> Verdict:
    """Whether ``answer`` equals the gradient the ``problem`` asks for.

    ``where`` are the student's helper lines (``"delta2 = (ŷ - y) Uᵀ ∘ step(z)"``);
    ``latex`` forces (True) or forbids (False) reading the answer as LaTeX
    (default: detected).  A bad answer is a Verdict; a bad problem raises a
    MatcalcError.

    >>> check_answer({"f": "x^T A x", "wrt": "x", "where": ["x: (n, 1)"]}, "2 A x").kind
    'symmetric-only'
    """
    return prepare(as_problem(problem), seed).check(answer, where=where, latex=latex)


@functools.lru_cache(maxsize=64)
def prepare(problem: Problem, seed: int = 0) -> "PreparedProblem":
    """The problem derived, verified and sampled once (cached per problem)."""
    return PreparedProblem(problem, seed)


def split_statements(text: str) -> list[str]:
    """``"d = ŷ - y; hᵀ d"`` -> ``["d = ŷ - y", "hᵀ d"]`` (a LaTeX ``\\;`` is a space)."""
    return [s.strip() for s in re.split(r"(?<!\\)[;\n]", text) if s.strip()]


def _reachable(objective, definitions: dict) -> set:
    """The defined names the objective needs, transitively."""
    needed, stack = set(), list(free_symbols(objective))
    while stack:
        name = stack.pop()
        if name in definitions and name not in needed:
            needed.add(name)
            stack.extend(free_symbols(definitions[name].expr))
    return needed


def split_where(problem: Problem) -> tuple[list[str], list[str]]:
    """The problem's where-lines and the helper lines among them: a line that
    only defines names the objective does not need is the student's helper
    (``--where "delta2 = ..."`` on the command line)."""
    items = list(problem.where)
    if not items:
        return [], []
    program = [(problem.program, False)] if problem.program else []
    where = [(item, True) for item in items]
    # where-lines first (as Program reads them); else after the file, since a
    # helper may use the file's names (delta2 = (ŷ - y) Uᵀ ∘ step(z))
    errors = []
    for order in (where + program, program + where):
        try:
            surface = parse_program("\n".join(text for text, _ in order))
            break
        except ParseError as err:
            errors.append(err)
    else:
        raise errors[0]
    needed = _reachable(parse_expr(problem.objective, known_names=surface.names),
                        {d.name: d for d in surface.definitions})
    kept, helpers, line = [], [], 1
    for item, is_where in order:
        lines = range(line, line + item.count("\n") + 1)
        line = lines.stop
        if not is_where:
            continue
        defined = [d.name for d in surface.definitions if d.line in lines]
        declares = any(d.line in lines for d in surface.declarations.values())
        if defined and not declares and not needed.intersection(defined):
            helpers.append(item)
        else:
            kept.append(item)
    return kept, helpers


class PreparedProblem:
    """A problem ready to judge answers: truth values cached at every sample."""

    def __init__(self, problem: Problem, seed: int = 0):
        if "," in problem.wrt:
            raise MatcalcError("check one variable at a time (--wrt W, not a list)")
        self.problem = problem
        where, self.helpers = split_where(problem)
        self.program = Program(problem.program, where=where, objective=problem.objective)
        typed = self.program.typed
        self.wrt = problem.wrt
        self.order = problem.order
        self.layout = problem.layout
        objective_name = objective_of(self.program).label  # as derive writes it: J, f or the program's name
        if self.program.objective.shape == SCALAR and problem.order == 1:
            self.result = self.program.derive(problem.wrt)
            truth = self.result.gradients[self.wrt]
            self.kind = "gradient"
            self.label = f"∂{to_text_name(objective_name)}/∂{to_text_name(self.wrt)}"
            self.expected_text = to_text(truth)
            self.convention = (f"the gradient has the shape of {to_text_name(self.wrt)}, entry (i, j) is "
                               f"∂{to_text_name(objective_name)}/∂{to_text_name(self.wrt)}ᵢⱼ")
        else:  # a Jacobian (vector or matrix objective) or a Hessian (order 2)
            self.result = self.program.derive(problem.wrt, order=problem.order, layout=problem.layout)
            derivative = self.result.derivatives[0]
            truth = derivative.value
            self.kind = derivative.kind
            self.label = derivative.label(to_text_name(objective_name))
            self.expected_text = to_text(derivative.expr) + "".join(
                f"; where {to_text_name(n)} = {to_text(e)}" for n, e in derivative.where)
            rows = "the variable" if problem.layout == "denominator" else "f"
            columns = "f" if problem.layout == "denominator" else "the variable"
            self.convention = (maps_note(derivative, self.program.objective.shape, typed.shapes).text()
                               if self.kind == "hessian" else
                               f"{problem.layout} layout: rows follow {rows}, columns {columns}")
        self.shape = truth.shape
        # the engine's δ terms, as program lines an answer may lean on when
        # the problem allows them: (name, text, names used)
        self.deltas = [(s.name, to_text(s.expr, unicode=False), free_symbols(s.expr))
                       for s in self.result.intermediates]
        assumed = {name: kind for a in self.result.assumptions for name, kind in a.draws
                   if name not in typed.kinds}
        self.draws = {**assumed, **dict(problem.draw)}
        check = self.result.check(seed=seed, draws=self.draws)
        if check.status == "inconclusive":
            raise CheckInconclusiveError(f"cannot judge answers to this problem: no valid point to test at "
                                         f"({check.details})")
        if not check.ok:
            raise MatcalcError(f"matcalc could not verify its own {self.kind} of this problem "
                               f"({check.details}); it cannot judge answers to it")
        # Every variable pinned to its inferred shape, so an answer cannot
        # re-decide the problem's shapes and its dimensions keep their names.
        self.declarations = {n: Declaration(n, typed.shapes[n], typed.kinds.get(n), 0)
                             for n in self.program.variables}
        self.names = set(typed.shapes)
        self.dims = list(typed.dims)
        self._surface = None
        self._expected_values: dict = {}
        self.samples = self._sample(seed, truth)

    # -- the truth at random points ------------------------------------------
    def _sample(self, seed: int, truth) -> list[Sample]:
        """``POINTS`` points at each of two size assignments, from the same
        sampler as the problem's own check (``Result.sampler``): valid where
        the objective and what it inverts are finite and well conditioned."""
        self._truth = truth
        sampler = self.result.sampler(self.draws)
        samples: list[Sample] = []
        start = 0
        for round_ in range(len(SIZE_ROUNDS)):
            found = []
            for point in sampler.points(seed, round_, start):
                sample = self.sample_at(round_, point.sizes, point.inputs)
                if sample is None:
                    sampler.reject(point.sizes, "not finite", f"the true {self.kind}")
                    continue
                found.append(sample)
                if len(found) == POINTS:
                    start = point.base + 1
                    break
            else:
                raise CheckInconclusiveError(f"cannot judge answers to this problem: {sampler.inconclusive()}")
            samples.extend(found)
        return samples

    def sample_at(self, round_: int, sizes: dict, inputs: dict) -> Sample | None:
        """The problem's named values and the truth at ``inputs`` (None where
        the truth is not finite)."""
        steps = self.result.definitions + self.result.intermediates
        assignments = [(s.name, s.expr) for s in steps]
        outputs = {**{s.name: Sym(s.name, s.shape) for s in steps}, "  truth": self._truth}
        values = evaluate_program(assignments, outputs, inputs, sizes)
        truth = np.asarray(values.pop("  truth"), dtype=float)
        if not np.all(np.isfinite(truth)):
            return None
        return Sample(round_, sizes, inputs, {**inputs, **values}, truth)

    # -- one answer -------------------------------------------------------------
    def check(self, answer, where=(), latex: bool | None = None, expect=()) -> Verdict:
        """The verdict on one answer (see ``check_answer``); ``expect`` are
        anticipated wrong answers (a rubric's): the verdict's ``anticipated``
        is the index of the one the answer equals, if any."""
        reading = self.read(answer if isinstance(answer, str) else "", where, latex)
        if isinstance(reading, Verdict):
            return self._finish(reading)
        return self.judge(reading, expect)

    def judge(self, reading: "Reading", expect=()) -> Verdict:
        """The verdict on an answer read (an expression, or a student's function)."""
        try:
            givens = reading.evaluate(self.samples)
        except MatcalcError as err:
            return self._finish(Verdict(False, reading.failure_kind, str(err), answer_text=reading.text,
                                        answer_shape=reading.shape))
        kind, diagnosis, counterexample = diagnose(self.samples, givens, self.label, self.wrt,
                                                   reading.shape or _shape_text(givens), format_shape(self.shape),
                                                   self.convention)
        if kind == "counterexample":  # a mistake that needs the problem to name: a dropped mask, A = Aᵀ
            found = explain(self, reading, givens)
            if found is not None:
                kind, diagnosis = found
                counterexample = None
        verdict = Verdict(kind == "correct", kind, diagnosis, counterexample, answer_text=reading.text,
                          answer_shape=reading.shape or _shape_text(givens))
        if not verdict.correct:
            for index, mistake in enumerate(expect):
                if same_values(self.samples, givens, self.expectation_values(mistake)):
                    verdict.anticipated = index
                    break
        return self._finish(verdict)

    def _finish(self, verdict: Verdict) -> Verdict:
        verdict.expected_text = self.expected_text
        verdict.expected_shape = format_shape(self.shape)
        return verdict

    def expectation_values(self, answer: str) -> list:
        """The values of an anticipated answer (a rubric's) at every sample;
        a MatcalcError when it cannot be read — the rubric is wrong."""
        if answer not in self._expected_values:
            reading = self.read(answer, (), None)
            if isinstance(reading, Verdict):
                raise MatcalcError(f"the anticipated answer {answer!r} cannot be judged: {reading.diagnosis}")
            self._expected_values[answer] = reading.evaluate(self.samples)
        return self._expected_values[answer]

    def read(self, answer: str, where=(), latex: bool | None = None):
        """The answer parsed and typed in the problem: a ``Reading``, or a
        Verdict when it cannot be (empty, unparsable, unknown names, shapes)."""
        statements = split_statements(answer)
        if not statements:
            return Verdict(False, "empty", "no answer given")
        where = [where] if isinstance(where, str) else list(where or ())
        try:
            statements = [self._translate(s, latex) for s in where + self.helpers + statements]
            *helpers, final = statements
            helper_names = parse_program("\n".join(helpers)).names if helpers else frozenset()
            surface = self._surface_with(helpers, helper_names)
            expr = parse_expr(final, known_names=surface.names)
        except MatcalcError as err:
            return Verdict(False, "unparsable", f"cannot read your answer: {err}", answer_text=answer)
        # the problem's names, the student's helpers, and the engine's δ terms
        # only where the problem allows them (deriving δ2 may be the homework)
        hidden = {name for name, _, _ in self.deltas} - set(self.problem.allow) - set(helper_names)
        known = ({d.name for d in surface.definitions} - hidden) | self.names | set(self.dims) | set(helper_names)
        used = free_symbols(expr) | {n for d in surface.definitions if d.name in helper_names
                                     for n in free_symbols(d.expr)}
        unknown = sorted(used - known)
        if unknown:
            return Verdict(False, "unknown-name", _unknown_text(unknown, self, hidden), answer_text=final)
        program = SurfaceProgram(self.declarations, surface.definitions, surface.source)
        typed, why = _infer(program, expr, self.shape)
        if typed is None:
            return Verdict(False, "shape", f"your answer does not fit the problem's shapes: {why}",
                           answer_text=final)
        shape = typed.objective.shape
        final = to_text(typed.objective)  # the answer as read, in matcalc's spelling
        extra = [d for d in shape if isinstance(d, str) and any(f not in self.dims for f in d.split("*"))]
        if extra:
            return Verdict(False, "shape", f"your answer is {format_shape(shape)} (a size the problem does "
                           f"not fix) but {self.label} is {format_shape(self.shape)}", answer_text=final,
                           answer_shape=format_shape(shape))
        # the student's helpers (and anything they shadow) are computed; the
        # problem's names and matcalc's δ terms come from the cache
        cached = set(self.samples[0].values) - set(helper_names)
        helpers_typed = [(n, e) for n, e in typed.definitions.items() if n not in cached]

        def evaluate(samples):
            givens = []
            for sample in samples:
                try:
                    givens.append(_evaluate(helpers_typed, typed.objective, sample, cached))
                except (MatcalcError, ArithmeticError, ValueError) as err:
                    raise MatcalcError(f"your answer cannot be evaluated at sizes "
                                       f"{_sizes_text(sample.sizes)}: {err}") from None
            return givens
        return Reading(final, format_shape(shape), evaluate)

    def _translate(self, statement: str, latex: bool | None) -> str:
        if latex or (latex is None and looks_like_latex(statement)):
            return latex_to_expr_text(statement, names=self.names)
        return statement

    def _surface_with(self, helpers: list[str], helper_names):
        """The problem, the engine's δ terms the student does not define, and
        the student's helper lines, parsed as one program."""
        if not helpers and self._surface is not None:
            return self._surface
        shadowed = set(helper_names)
        lines = []
        for name, text, uses in self.deltas:  # a δ defined through a shadowed name is left out
            if name in shadowed or name in self.names or shadowed & uses:
                shadowed.add(name)
                continue
            lines.append(f"{name} = {text}")
        surface = parse_program("\n".join([self.program.source, *lines, *helpers]))
        if not helpers:
            self._surface = surface
        return surface


def _infer(program, expr, target):
    """The typed answer, aimed at the gradient's shape; failing that, its own
    shape (to say how it differs); None and the reason when it has none."""
    try:
        return infer_shapes(program, expr, target=target), ""
    except ShapeError:
        pass
    try:
        return infer_shapes(program, expr), ""
    except ShapeError as err:
        return None, err.message


def _evaluate(assignments, objective, sample: Sample, cached: set):
    env = {n: v for n, v in sample.values.items() if n in cached}
    value = evaluate_program(assignments, {"answer": objective}, env, sample.sizes)["answer"]
    return np.asarray(value, dtype=float)


def _shape_text(givens) -> str:
    g = np.asarray(givens[0]) if givens else np.zeros(())
    if g.ndim == 1:  # numpy's 1-D array: neither a row nor a column
        return f"a 1-D array of length {g.shape[0]}"
    return "scalar" if g.ndim == 0 else "×".join(str(n) for n in g.shape)


def _sizes_text(sizes: dict) -> str:
    return ", ".join(f"{d}={n}" for d, n in sizes.items())


def _unknown_text(unknown: list[str], problem: PreparedProblem, hidden=frozenset()) -> str:
    them = ", ".join(to_text_name(n) for n in unknown)
    if all(n in hidden for n in unknown):
        first = to_text_name(unknown[0])
        return (f"your answer uses {them}: matcalc's name for an intermediate, which this problem does not "
                f"give; define it in your answer (\"{first} = ...; answer\")")
    names = ", ".join(to_text_name(n) for n in sorted(problem.names))
    return (f"your answer uses {them}, which the problem does not define (its names: {names}); "
            "define helpers with --where \"name = ...\" or \"name = ...; answer\"")


def to_text_name(name: str) -> str:
    """``yhat`` -> ``ŷ``, ``delta2`` -> ``δ2``."""
    return unicode_spelling(name)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return str(float(value))  # "inf", "-inf", "nan"
    return value
