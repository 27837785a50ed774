"""The numeric check (SPEC §5): closed-form gradients against central finite
differences of the objective, at random inputs, at two size assignments.

Error metric, per variable X with closed-form gradient G and finite
differences D (one entry per perturbation direction)::

    err(X) = max_k |<G, E_k> − D_k| / max(1, max_k |D_k|)

the largest entry error relative to the gradient's magnitude (absolute for
gradients below 1), so round-off in large entries does not fail a correct
answer and tiny entries are not judged relative to themselves.  An entry
that misses gets a second opinion before any verdict: differences with a
wider step, Richardson-extrapolated (``_extrapolated_difference``), which
the round-off of a large objective (about eps |f| / h) does not swamp.  The check
reports the largest err over all variables and both size assignments.

Directions: each entry of a variable (``X[i, j]``), symmetric or not: the
derivative is with respect to independent entries (SPEC §3), so a symmetric
input is perturbed off the symmetric matrices, one entry at a time.  A
variable with more than ``ENTRY_LIMIT`` entries is judged along
``RANDOM_DIRECTIONS`` random directions instead (half dense, half single
entries at random places): the check then needs O(size of the inputs)
memory and a bounded number of evaluations, and a wrong gradient still
disagrees along a random direction with probability 1.

Points come from the one sampler (``matcalc.results.sampling.Sampler``): a size
assignment and inputs at which the objective and everything it inverts are
finite and well conditioned.  Where a closed form and the differences
disagree, the objective is probed again with half the step
(``_smooth_along``); if it is not smooth there (a relu/abs/step argument
near 0), or where a gradient is not finite, the next point of the sampler is
taken, which ``details`` reports.  Three outcomes (``CheckResult.status``):
``ok`` (both size assignments agree), ``failed`` (a mismatch at a valid
point: its sizes are given) and ``inconclusive`` (no valid point: the
singular or non-finite subexpression is named, with a hint of numeric sizes).
A wrong answer at a smooth point is never redrawn away.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..language.errors import MatcalcError
from ..language.evaluate import evaluate_program
from ..language.expr import Expr, Shape
from .sampling import Sampler, sizes_text

STEP = 1e-6  # relative finite-difference step: h = STEP · max(1, |x|)
RICHARDSON_STEP = 1e-3  # relative step of the second opinion on a mismatch (error O(h⁴))
ENTRY_LIMIT = 400  # variables with more entries are judged along random directions
RANDOM_DIRECTIONS = 16
STATUSES = ("ok", "failed", "inconclusive")


@dataclass
class CheckResult:
    """``status`` is "ok", "failed" (the closed form disagrees at a valid
    point) or "inconclusive" (no valid point found); ``ok`` is status == "ok"."""

    ok: bool
    max_rel_error: float
    dims: dict[str, int]
    details: str = ""
    status: str = ""

    def __post_init__(self):
        if not self.status:
            self.status = "ok" if self.ok else "failed"
        if self.status not in STATUSES:
            raise ValueError(f"status is one of {STATUSES}, not {self.status!r}")
        self.ok = self.status == "ok"


def inconclusive(details: str, dims: dict | None = None) -> CheckResult:
    return CheckResult(False, float("nan"), dict(dims or {}), details, "inconclusive")


class _Failed(Exception):
    """The check failed for a reason ``details`` states (not a program error);
    ``redraw``: the reason is the drawn point (a non-finite value), not the answer."""

    def __init__(self, message: str, redraw: bool = False):
        super().__init__(message)
        self.redraw = redraw


@dataclass
class _Direction:
    """One perturbation of a variable: ``value + t E`` for an array ``E``."""

    label: str
    e: np.ndarray | float
    h: float

    def closed_form(self, g) -> float:
        return float(np.sum(g * self.e))


def _directions(name: str, value, rng):
    """The perturbations of one variable, made one at a time (one array of
    the variable's size alive at once): every entry, or past ``ENTRY_LIMIT``
    entries ``RANDOM_DIRECTIONS`` random ones."""
    if not isinstance(value, np.ndarray):
        yield _Direction(name, 1.0, STEP * max(1.0, abs(value)))
        return
    rows, cols = value.shape
    if value.size <= ENTRY_LIMIT:
        for i in range(rows):
            for j in range(cols):
                e = np.zeros_like(value)
                e[i, j] = 1.0
                yield _Direction(f"{name}[{i}, {j}]", e, STEP * max(1.0, abs(value[i, j])))
        return
    h = STEP * max(1.0, float(np.max(np.abs(value))))
    for k in range(RANDOM_DIRECTIONS):
        if k % 2:
            i, j = int(rng.integers(rows)), int(rng.integers(cols))
            e = np.zeros_like(value)
            e[i, j] = 1.0
            yield _Direction(f"{name}[{i}, {j}]", e, STEP * max(1.0, abs(value[i, j])))
        else:
            e = rng.standard_normal(value.shape)
            yield _Direction(f"{name} along random direction {k // 2 + 1}", e / np.linalg.norm(e), h)


def _values_along(fn: Callable, env: dict, name: str, d: _Direction, t: float):
    """(fn(x + t E), fn(x − t E)) as float arrays; fn may be array-valued."""
    x = env[name]
    plus = np.asarray(fn({**env, name: x + t * d.e}), dtype=float)
    minus = np.asarray(fn({**env, name: x - t * d.e}), dtype=float)
    return plus, minus


def _central_difference(fn: Callable, env: dict, name: str, d: _Direction, t: float):
    """(fn(x + t E) − fn(x − t E)) / 2t; works for array-valued fn too."""
    plus, minus = _values_along(fn, env, name, d, t)
    return (plus - minus) / (2 * t)


def _extrapolated_difference(fn: Callable, env: dict, name: str, d: _Direction, h: float) -> float:
    """(4 D(h/2) − D(h)) / 3 for central differences D: truncation error O(h⁴)."""
    coarse = float(_central_difference(fn, env, name, d, h))
    fine = float(_central_difference(fn, env, name, d, h / 2))
    return (4 * fine - coarse) / 3


def _smooth_along(f: Callable, env: dict, name: str, d: _Direction, f0: float, fd: float, scale: float,
                  tol: float) -> bool:
    """Whether f looks smooth along d near x: with step h and h/2, the central
    difference must stay put and the curvature term J_t = (f(x+t) − 2f(x) +
    f(x−t)) / t must halve (≈ t f'' for smooth f, the slope jump at a kink,
    even one exactly at x where the central difference cannot see it)."""
    h = d.h
    plus, minus = (float(v) for v in _values_along(f, env, name, d, h))
    plus_half, minus_half = (float(v) for v in _values_along(f, env, name, d, h / 2))
    fd_half = (plus_half - minus_half) / h
    curvature, curvature_half = (plus - 2 * f0 + minus) / h, (plus_half - 2 * f0 + minus_half) / (h / 2)
    # above round-off of f (about eps |f| / h), below the tolerance
    threshold = max(0.1 * tol * scale, 1e3 * np.finfo(float).eps * max(1.0, abs(f0)) / h)
    return abs(fd_half - fd) <= threshold and abs(curvature - 2 * curvature_half) <= threshold


def _scalar_objective(objective: Callable) -> Callable:
    def f(env, sizes):
        value = np.asarray(objective(env, sizes), dtype=float)
        if value.size != 1:
            raise _Failed(f"the objective is not a scalar: its value has shape {value.shape}")
        value = float(value.reshape(()))
        if not np.isfinite(value):
            raise _Failed(f"the objective is not finite ({value}) at the drawn inputs "
                          "(a log or sqrt of a negative value?)", redraw=True)
        return value
    return f


def _gradient_array(name: str, grads: dict, value):
    if name not in grads:
        raise _Failed(f"no gradient for {name}")
    g = np.asarray(grads[name], dtype=float)
    want = np.shape(value)
    if g.shape != want:
        if want == () and g.size == 1:
            g = g.reshape(())
        else:
            raise _Failed(f"the gradient for {name} has shape {g.shape} but {name} has shape {want}")
    if not np.all(np.isfinite(g)):
        raise _Failed(f"the gradient for {name} is not finite at the drawn inputs "
                      "(a norm of 0, or a singular matrix?)", redraw=True)
    return g


@dataclass
class _Outcome:
    error: float = 0.0
    kink: str | None = None  # the direction along which the objective was not smooth
    worst: str = ""
    per_variable: dict = field(default_factory=dict)


def _compare(f: Callable, f0: float, g, env: dict, name: str, tol: float, outcome: _Outcome, rng):
    labels, cf, fd, suspects = [], [], [], {}
    for d in _directions(name, env[name], rng):
        labels.append(d.label)
        cf.append(d.closed_form(g))
        fd.append(float(_central_difference(f, env, name, d, d.h)))
        if abs(cf[-1] - fd[-1]) > tol:  # a mismatch at any scale ≥ 1: keep the direction
            suspects[len(cf) - 1] = d
    cf, fd = np.array(cf), np.array(fd)
    scale = max(1.0, float(np.max(np.abs(fd))))
    errors = np.abs(cf - fd) / scale
    for k, d in suspects.items():
        if errors[k] <= tol:
            continue
        # a second opinion before a verdict: Richardson-extrapolated differences
        # with a wider step, which the round-off of a large f (eps |f| / h)
        # cannot swamp; a wrong gradient disagrees with these as well
        wide = _extrapolated_difference(f, env, name, d, RICHARDSON_STEP * d.h / STEP)
        if abs(cf[k] - wide) < abs(cf[k] - fd[k]):
            fd[k], errors[k] = wide, abs(cf[k] - wide) / scale
    k = int(np.argmax(errors))
    outcome.per_variable[name] = float(errors[k])
    if errors[k] > outcome.error:
        outcome.error, outcome.worst = float(errors[k]), labels[k]
    for k, d in suspects.items():
        if errors[k] > tol and not _smooth_along(f, env, name, d, f0, fd[k], scale, tol):
            outcome.kink = d.label
            return


def _check_at(objective, gradients, kinds, wrt, point, tol, seed) -> _Outcome:
    env, sizes = point.inputs, point.sizes

    def f(e):
        return objective(e, sizes)

    f0 = f(env)
    grads = gradients(env, sizes)
    outcome = _Outcome()
    rng = np.random.default_rng([seed, 7919, point.base, point.attempt])  # random directions
    for name in wrt:
        g = _gradient_array(name, grads, env[name])
        _compare(f, f0, g, env, name, tol, outcome, rng)
        if outcome.kink:
            break
    return outcome


def check_gradients(objective: Callable[[dict], float], gradients: Callable[[dict], dict],
                    shapes: dict[str, Shape], kinds: dict[str, str], wrt: list[str], dims: list[str],
                    seed: int = 0, draws: dict[str, str] | None = None, tol: float = 1e-6,
                    sampler: Sampler | None = None) -> CheckResult:
    """Compare ``gradients(env)[X]`` with finite differences of ``objective(env)``
    for every X in ``wrt``, at random inputs ``env`` drawn for ``shapes``, at two
    size assignments; ok only when both pass.  Never raises for a bad answer or
    non-finite values: the result says what went wrong.  ``sampler`` (by
    default one over ``shapes``, ``kinds`` and ``draws``) gives the points.

    ``check_gradients(J, G, {"W": ("m", "n"), "x": ("n", 1)}, {}, ["W"], ["m", "n"])``
    """
    sampler = sampler or Sampler(shapes, kinds, dims, draws)
    return _check(lambda env, sizes: objective(env), lambda env, sizes: gradients(env), kinds, wrt, sampler,
                  seed, tol)


def check_program(objective: Expr, gradients: dict[str, Expr], shapes: dict[str, Shape],
                  kinds: dict[str, str] | None = None, assignments=(), wrt: list[str] | None = None,
                  dims: list[str] | None = None, seed: int = 0, draws: dict[str, str] | None = None,
                  tol: float = 1e-6) -> CheckResult:
    """``check_gradients`` for typed trees: the objective and the gradients
    (which may read the named ``assignments``, e.g. ``h`` and ``delta1``) are
    evaluated with the sizes of each draw.  ``wrt`` defaults to the gradients'
    names, ``dims`` to the dimensions of ``shapes`` in order.  Points are
    valid where the objective and what it inverts are finite and well conditioned."""
    assignments = list(assignments)
    if dims is None:
        dims = list(dict.fromkeys(d for shape in shapes.values() for d in shape if isinstance(d, str)))
    roots = {"J": objective}

    def f(env, sizes):
        return evaluate_program(assignments, roots, env, sizes)["J"]

    def g(env, sizes):
        return evaluate_program(assignments, gradients, env, sizes)

    watch = None if assignments else objective  # with assignments, the objective reads names
    sampler = Sampler(shapes, kinds or {}, dims, draws, watch=watch)
    return _check(f, g, kinds or {}, list(wrt or gradients), sampler, seed, tol)


def _singular(exc: Exception) -> bool:
    """Whether an evaluation failed on a singular matrix (the point, not the answer)."""
    causes = [exc, exc.__cause__]
    return any(isinstance(c, np.linalg.LinAlgError) for c in causes) or "singular" in str(exc).lower()


def _check(objective, gradients, kinds, wrt, sampler: Sampler, seed, tol) -> CheckResult:
    f = _scalar_objective(objective)
    notes: list[str] = []
    worst = 0.0
    first_sizes: dict[str, int] | None = None
    start = 0
    for round_ in range(2):
        outcome, tries = None, {}
        for point in sampler.points(seed, round_, start):
            sizes = point.sizes
            at = f"at sizes {sizes_text(sizes)}"
            try:
                outcome = _check_at(f, gradients, kinds, wrt, point, tol, seed)
            except _Failed as exc:
                if not exc.redraw:
                    return CheckResult(False, float("inf"), sizes, "; ".join(notes + [f"{exc} {at}"]))
                reason, outcome = str(exc), None
            except (MatcalcError, ArithmeticError, ValueError) as exc:  # LinAlgError is a ValueError
                if not _singular(exc):
                    return CheckResult(False, float("inf"), sizes,
                                       "; ".join(notes + [f"evaluation failed {at}: {exc}"]))
                reason, outcome = f"a matrix was singular at the drawn inputs ({exc})", None
            except Exception as exc:  # noqa: BLE001 - the check reports; it never crashes
                return CheckResult(False, float("inf"), sizes, "; ".join(
                    notes + [f"evaluation failed {at}: internal error {type(exc).__name__}: {exc}"]))
            else:
                if outcome.kink is None:
                    break
                reason = (f"finite differences along {outcome.kink} were not smooth "
                          "(a kink of relu/abs/step, or a nearly singular matrix?)")
                outcome = None
            key = tuple(sizes.items())
            tries[key] = tries.get(key, 1) + 1
            notes.append(f"redrew the inputs {at} (attempt {tries[key]}): {reason}")
            sampler.reject(sizes, "not usable", "the drawn point", reason)
        if outcome is None:
            passed = [n for n in notes if n.startswith("ok at")]
            return inconclusive("; ".join(passed + [sampler.inconclusive()]), first_sizes or
                                (sampler.tried[0] if sampler.tried else {}))
        first_sizes = first_sizes if first_sizes is not None else sizes
        start = point.base + 1
        at = f"at sizes {sizes_text(sizes)}"
        skipped = [r for r in sampler.rejections if r.what != "not usable"]
        if skipped:
            sampler.rejections[:] = skipped
            notes.append(f"redrew the inputs where {sampler.why()}")
        sampler.rejections.clear()
        worst = max(worst, outcome.error)
        per_variable = ", ".join(f"{n} {e:.1e}" for n, e in outcome.per_variable.items())
        if outcome.error > tol:
            notes.append(f"mismatch {at}: max rel err {outcome.error:.3g} at {outcome.worst} "
                         f"(tolerance {tol:g}; {per_variable})")
            return CheckResult(False, worst, sizes, "; ".join(notes))
        notes.append(f"ok {at}: max rel err {outcome.error:.1e} ({per_variable})")
    return CheckResult(True, worst, first_sizes, "; ".join(notes))
