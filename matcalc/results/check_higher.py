"""The numeric check of Jacobians, Hessians and Hessian-vector products
(``matcalc.engine.derivatives.Derivative``): central differences of f (Jacobians) or
of the closed-form gradient (Hessians, HVPs), at two size assignments,
entry by entry of vec X (a symmetric X is perturbed off the symmetric
matrices); Hessians also against second differences of f itself along
random directions (``_curvature_error``), which no gradient of the engine
enters.  The first-order check of gradients is ``matcalc.results.check``."""
from __future__ import annotations

import numpy as np

from ..engine.derivatives import Derivative
from ..language.errors import MatcalcError
from ..language.evaluate import evaluate, shape_sizes
from ..language.expr import SCALAR
from ..shapes.dag import dims_from_inputs
from .check import CheckResult, inconclusive
from .sampling import sizes_text

CURVATURE_TOL = 1e-5  # tolerance of the second-difference cross-check (error O(h⁴) + eps |f| / h²)
CURVATURE_STEP = 2e-3


def check_derivatives(result, derivatives: list[Derivative], seed: int = 0, tol: float = 1e-6, sampler=None):
    """A ``CheckResult`` for the derivatives of ``result`` (Jacobians,
    Hessians, HVPs) at the points of ``sampler`` (``result.sampler``): ok,
    failed at a valid point (its sizes given), or inconclusive (no valid
    point: the singular or non-finite subexpression named).  A Hessian
    printed as symmetric must be symmetric at the point."""
    program = result.program
    typed = program.typed
    sampler = sampler or result.sampler(directions=True)
    gradient_values = result.second_order_gradients()
    worst, first_dims, details, notes, start = 0.0, None, [], [], 0
    for round_ in range(2):
        values = point = None
        for point in sampler.points(seed, round_, start):
            env = point.inputs
            dims = {**dims_from_inputs(typed.shapes, env), **point.sizes}
            too_large = _too_large(derivatives, dims)
            if too_large:
                return inconclusive(too_large, point.sizes)
            rng = np.random.default_rng([seed, 104729, round_, point.base, point.attempt])
            try:
                values = [(np.atleast_2d(np.asarray(evaluate(d.value, env, dims), dtype=float)),
                           np.atleast_2d(_finite_difference(program, d, env, dims, gradient_values)))
                          for d in derivatives]
                if not all(np.all(np.isfinite(c)) and np.all(np.isfinite(n)) for c, n in values):
                    sampler.reject(point.sizes, "not finite", "a derivative")
                    values = None
                    continue
                crosses = [_curvature_error(program, d, closed.T if d.layout == "denominator" else closed,
                                            env, dims, rng) if d.kind in ("hessian", "hvp") else 0.0
                           for d, (closed, _) in zip(derivatives, values)]
            except (MatcalcError, ValueError, ArithmeticError) as err:
                sampler.reject(point.sizes, "not evaluable", "a derivative", str(err))
                values = None
                continue
            if None in crosses:  # second differences not smooth here (a kink of relu/abs)
                notes.append(f"redrew the inputs at sizes {sizes_text(point.sizes)}: the objective is not smooth "
                             "along a random direction")
                sampler.reject(point.sizes, "not smooth", "the objective")
                values = None
                continue
            break
        if values is None:
            return inconclusive(sampler.inconclusive(), first_dims or (sampler.tried[0] if sampler.tried else {}))
        if first_dims is None:
            first_dims = dict(point.sizes)
        start = point.base + 1
        sizes = point.sizes
        for d, (closed, numeric), cross in zip(derivatives, values, crosses):
            if d.layout == "denominator":
                numeric = numeric.T
            if closed.shape != numeric.shape:
                return CheckResult(False, float("inf"), sizes,
                                   f"{d.label('J')} is {closed.shape}, finite differences {numeric.shape}")
            scale = max(1.0, float(np.max(np.abs(numeric))))
            err = float(np.max(np.abs(closed - numeric)) / scale)
            if not np.isfinite(err):
                return CheckResult(False, float("inf"), sizes, f"{d.label('J')}: not finite")
            worst = max(worst, err)
            if err > tol:
                details.append(f"{d.label('J')}: max rel err {err:.1e} against finite differences of vec "
                               f"{d.wrt2 if d.kind == 'hessian' and d.wrt2 else d.wrt} at sizes {sizes_text(sizes)}")
            if d.symmetric and closed.shape[0] == closed.shape[1]:
                asym = float(np.max(np.abs(closed - closed.T)) / scale)
                if asym > tol:
                    details.append(f"{d.label('J')} is printed as symmetric but is not (max |H − Hᵀ| "
                                   f"{asym:.1e}) at sizes {sizes_text(sizes)}")
            if cross > CURVATURE_TOL:
                details.append(f"{d.label('J')}: disagrees with second differences of the objective "
                               f"(rel err {cross:.1e}) at sizes {sizes_text(sizes)}")
        if details:
            return CheckResult(False, worst, sizes, "; ".join(details + notes))
        notes.append(f"ok at sizes {sizes_text(sizes)}: max rel err {worst:.1e}")
    return CheckResult(True, worst, first_dims, "; ".join(notes))


MAX_CHECKED_ENTRIES = 1_000_000  # a derivative matrix larger than this is not formed by the check


def _too_large(derivatives, dims) -> str:
    """Why the check will not form one of the matrices (bounded work), or ""."""
    for d in derivatives:
        if d.kind == "hvp" or d.shape == SCALAR:
            continue
        rows, cols = shape_sizes(d.shape, dims)
        if rows * cols > MAX_CHECKED_ENTRIES:
            return (f"{d.label('J')} is {rows}×{cols} here, past the check's bound of {MAX_CHECKED_ENTRIES:,} "
                    "entries: check it at symbolic sizes, or use --hvp")
    return ""


def _curvature_error(program, d: Derivative, closed, env, dims, rng, directions: int = 2):
    """uᵀ H v from the closed form against the second difference of the
    objective along random unit u (for d.wrt) and v (for d.wrt2, or v = the
    HVP's direction), Richardson-extrapolated; relative to max(1, |uᵀHv|).
    None when the differences at two steps disagree (a kink nearby)."""
    x = d.wrt
    y = d.wrt2 if d.kind == "hessian" and d.wrt2 else d.wrt

    def unit(name):
        shape = np.shape(env[name])
        e = rng.standard_normal(shape or (1, 1))
        e = e / np.linalg.norm(e)
        return e if shape else float(e[0, 0])

    def f(tu, tv, u, v):
        moved = dict(env)
        moved[x] = env[x] + tu * u
        moved[y] = moved[y] + tv * v
        return float(np.asarray(evaluate(program.objective, moved, dims), dtype=float).reshape(()))

    def mixed(u, v, h):
        return (f(h, h, u, v) - f(h, -h, u, v) - f(-h, h, u, v) + f(-h, -h, u, v)) / (4 * h * h)

    worst = 0.0
    for _ in range(directions):
        u = unit(x)
        if d.kind == "hvp":
            v = env[d.wrt2]
            norm = float(np.linalg.norm(v))
            v = v / norm if norm else v
            closed_value = float(np.sum(u * closed)) / (norm or 1.0)
        else:
            v = unit(y)
            closed_value = (_vec(u).T @ closed @ _vec(v)).item()
        h = CURVATURE_STEP * max(1.0, float(np.max(np.abs(env[x]))), float(np.max(np.abs(env[y]))))
        numeric = (4 * mixed(u, v, h / 2) - mixed(u, v, h)) / 3
        finer = (4 * mixed(u, v, h / 8) - mixed(u, v, h / 4)) / 3
        scale = max(1.0, abs(numeric))
        if abs(numeric - finer) > CURVATURE_TOL * scale:
            return None  # the estimates move with the step: not smooth here
        worst = max(worst, abs(closed_value - numeric) / scale)
    return worst


def _vec(a):
    return np.asarray(a, dtype=float).reshape(-1, 1, order="F") if np.ndim(a) else np.array([[float(a)]])


def _finite_difference(program, d: Derivative, env, dims, gradient_values):
    h = 1e-6
    if d.kind == "jacobian":
        def f(e):
            return _vec(evaluate(program.objective, e, dims))
        x = d.wrt
    else:
        def f(e):
            return _vec(gradient_values(e)[d.wrt])
        x = d.wrt2 if d.kind == "hessian" and d.wrt2 else d.wrt
    base = np.asarray(env[x], dtype=float)
    if d.kind == "hvp":
        v = np.asarray(env[d.wrt2], dtype=float)
        step = h * max(1.0, float(np.max(np.abs(base))))
        plus, minus = dict(env), dict(env)
        plus[x], minus[x] = base + step * v, base - step * v
        return ((f(plus) - f(minus)) / (2 * step)).reshape(np.shape(base) or (1, 1), order="F")
    flat = _vec(base).ravel()
    columns = []
    for k in range(flat.size):
        step = h * max(1.0, abs(flat[k]))
        e = np.zeros_like(flat)
        e[k] = step
        plus, minus = dict(env), dict(env)
        plus[x] = (flat + e).reshape(np.shape(base), order="F") if np.ndim(base) else float(flat[0] + step)
        minus[x] = (flat - e).reshape(np.shape(base), order="F") if np.ndim(base) else float(flat[0] - step)
        columns.append((f(plus) - f(minus)).ravel() / (2 * step))
    return np.stack(columns, axis=1)
