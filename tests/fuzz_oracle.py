"""The fuzzer's oracle: is each derivative right, independently of how the
engine derived it?

``verify(text, wrt, draws, forward)`` derives the gradients, then, at inputs
drawn here (not by ``matcalc.results.sampling``) at two assignments of distinct
sizes, compares every gradient entry with central finite differences
(Richardson-extrapolated) of the ORIGINAL objective: the generator's own
numpy implementation (``forward``) when there is one, else the AST evaluator
(``matcalc.language.evaluate``) on the program's objective, before any rule ran.  It
also asks that the engine's forward value agree with ``forward``, that the
engine's own ``Result.check()`` agree with this verdict, and that the
compiled numpy module agree with the evaluator.

Outcomes: ``correct``; ``refused`` (a clean NotDifferentiableError or
LimitError); ``wrong`` (a gradient disagrees, a valid program is rejected,
or the engine's check disagrees with this one); ``crashed`` (any exception
that is not a MatcalcError); ``unverifiable`` (no smooth, finite point found
in four draws).
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

import numpy as np

from matcalc.faces.api import Program, canonical_name
from matcalc.language.errors import LimitError, MatcalcError, NotDifferentiableError
from matcalc.language.evaluate import evaluate

TOL = 1e-5
STEP = 1e-4  # relative finite-difference step (Richardson: error O(h⁴))
ATTEMPTS = 4
SIZE_POOLS = ((2, 3, 4, 5, 6), (3, 4, 5, 6, 7))


@dataclass
class Outcome:
    status: str  # correct | refused | wrong | crashed | unverifiable
    message: str = ""
    seconds: float = 0.0


class _Verdict(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# -- drawing inputs (independently of matcalc.results.sampling) -------------------------
def _sizes(dims: list, pool: int, rng, avoid: dict) -> dict:
    """Distinct sizes for the dimensions, each unlike its size in ``avoid``."""
    while True:
        sizes = dict(zip(dims, rng.permutation(SIZE_POOLS[pool])[: len(dims)].tolist()))
        if not any(sizes[d] == avoid.get(d) for d in dims):
            return sizes


def _draw(kind: str, rows: int, cols: int, rng) -> np.ndarray:
    if kind == "spd":
        m = rng.standard_normal((rows, rows))
        return m @ m.T / rows + 0.5 * np.eye(rows)
    if kind == "symmetric":
        m = rng.standard_normal((rows, rows))
        return (m + m.T) / 2
    if kind == "positive":
        return rng.uniform(0.5, 2.0, (rows, cols))
    if kind == "integer":  # the exponent k of X^k
        return rng.integers(2, 5, (rows, cols)).astype(float)
    if kind in ("onehot", "distribution"):
        out = np.zeros((rows, cols))
        if cols == 1:
            out[rng.integers(rows), 0] = 1.0
        else:
            out[np.arange(rows), rng.integers(cols, size=rows)] = 1.0
        return out
    return rng.standard_normal((rows, cols))


def _size(d, sizes):
    return d if isinstance(d, int) else sizes[d]


def draw_inputs(shapes: dict, kinds: dict, sizes: dict, rng) -> dict:
    env = {}
    for name, shape in shapes.items():
        if shape == ():
            env[name] = float(_draw(kinds.get(name, "normal"), 1, 1, rng)[0, 0])
        else:
            env[name] = _draw(kinds.get(name, "normal"), _size(shape[0], sizes), _size(shape[1], sizes), rng)
    return env


# -- finite differences ----------------------------------------------------------
def _directions(value, symmetric: bool):
    if np.ndim(value) == 0:
        yield (), 1.0
        return
    rows, cols = value.shape
    for i in range(rows):
        for j in range(i if symmetric else 0, cols):
            e = np.zeros_like(value)
            e[i, j] = 1.0
            if symmetric:  # stay symmetric: E = e_ij + e_ji
                e[j, i] = 1.0
            yield (i, j), e


def _derivative(f, env, name, e, h) -> float:
    """Central differences at h and h/2, Richardson-extrapolated."""
    x = env[name]

    def central(t):
        return (f({**env, name: x + t * e}) - f({**env, name: x - t * e})) / (2 * t)

    return (4 * central(h / 2) - central(h)) / 3


def _compare(f, env, name, g, symmetric: bool):
    """(worst error, label) of gradient g against finite differences; raises
    _Verdict('unverifiable') where f is not smooth along a mismatched entry."""
    x = env[name]
    h = STEP * max(1.0, float(np.max(np.abs(x))))
    labels, fd, cf, dirs = [], [], [], []
    for label, e in _directions(x, symmetric):
        labels.append(label)
        dirs.append(e)
        fd.append(_derivative(f, env, name, e, h))
        cf.append(float(np.sum(g * e)))
    fd, cf = np.array(fd), np.array(cf)
    scale = max(1.0, float(np.max(np.abs(fd))), float(np.max(np.abs(cf))))
    errors = np.abs(fd - cf) / scale
    for k in np.flatnonzero(errors > TOL):
        # a mismatch: refine the step; differences that settle on another value
        # are a wrong gradient, differences that keep moving a kink (or a
        # curvature too high to judge here)
        coarse = fd[k]
        for step in (h / 16, h / 256):
            fine = _derivative(f, env, name, dirs[k], step)
            if abs(fine - cf[k]) <= TOL * scale:
                fd[k], errors[k] = fine, abs(fine - cf[k]) / scale
                break
            if abs(fine - coarse) <= TOL * scale / 10:
                fd[k], errors[k] = fine, abs(fine - cf[k]) / scale
                break
            coarse = fine
        else:
            raise _Verdict("unverifiable", f"not smooth along {name}{labels[k]}")
    k = int(np.argmax(errors))
    return float(errors[k]), f"{name}{labels[k]}: closed form {cf[k]:.6g}, differences {fd[k]:.6g}"


def _finite(v) -> bool:
    return bool(np.all(np.isfinite(v)))


def _agree(a, b, rtol=1e-8) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * max(1.0, float(np.max(np.abs(b))))))


# -- the verdict ----------------------------------------------------------------
def verify(text: str, wrt, draws: dict | None = None, forward=None, seed: int = 0,
           engine_check: bool = True, compiled: bool = True) -> Outcome:
    """Derive ``wrt`` of the program ``text`` and judge the result (see the module doc)."""
    return _judged(_verify, text, list(wrt), dict(draws or {}), forward, seed, engine_check, compiled)


def _judged(judge, *args) -> Outcome:
    """``judge(*args)``'s outcome, timed: a verdict it raises is the outcome,
    any other exception a crash of the engine."""
    start = time.perf_counter()
    try:
        outcome = judge(*args)
    except _Verdict as v:
        outcome = Outcome(v.status, v.message)
    except Exception as exc:  # noqa: BLE001 - anything else is a crash of the engine
        outcome = Outcome("crashed", "".join(traceback.format_exception(exc)[-6:]))
    outcome.seconds = time.perf_counter() - start
    return outcome


def _verify(text, wrt, draws, forward, seed, engine_check, compiled) -> Outcome:
    try:
        program = Program(text)
        result = program.derive(wrt)
    except (NotDifferentiableError, LimitError) as err:
        return Outcome("refused", f"{type(err).__name__}: {err}")
    except MatcalcError as err:
        return Outcome("wrong", f"a valid program was rejected: {type(err).__name__}: {err}")
    wrt = result.wrt  # canonical spellings: θ is theta
    draws = {canonical_name(n): k for n, k in draws.items()}
    kinds = {**program.typed.kinds, **draws}
    _, gradients = result.evaluator()
    worst, env = _worst_over_points(program, kinds, seed, lambda env, sizes, rng: _judge_at(
        program, gradients, forward, env, sizes, wrt, kinds))
    if engine_check:
        check = result.check(seed=seed, draws=draws)
        if check.status == "inconclusive":
            # the check declined to judge (every draw on a kink: ‖logsumexp(log_softmax(A))‖ is ‖0‖)
            raise _Verdict("unverifiable", f"the engine's check found no usable point: {check.details}")
        if not check.ok:
            raise _Verdict("wrong", f"the engine's check failed on right gradients: {check.details}")
    if compiled:
        module = result.compile()
        out = module(**env)
        for w in wrt:
            if not _agree(out[w], gradients(env)[w], 1e-7):
                raise _Verdict("wrong", f"the numpy module's gradient for {w} differs from the evaluator's")
    return Outcome("correct", f"max rel err {worst:.1e}")


def _worst_over_points(program, kinds, seed, judge):
    """``judge(env, sizes, rng)`` (a relative error) at a point of each of two
    size pools, redrawing a point it finds unverifiable up to ATTEMPTS times:
    (the worst error, the last point)."""
    typed = program.typed
    shapes = {n: typed.shapes[n] for n in program.variables}
    dims = [d for d in typed.dims if "*" not in d]
    rng = np.random.default_rng(seed)
    previous: dict = {}
    worst = 0.0
    for pool in range(2):
        sizes = _sizes(dims, pool, rng, previous)
        previous = sizes
        for attempt in range(ATTEMPTS):
            env = draw_inputs(shapes, kinds, sizes, rng)
            try:
                worst = max(worst, judge(env, sizes, rng))
                break
            except _Verdict as v:
                if v.status != "unverifiable" or attempt == ATTEMPTS - 1:
                    raise
    return worst, env


def _judge_at(program, gradients, forward, env, sizes, wrt, kinds) -> float:
    def f(e):
        return forward({**e, **{"#" + d: n for d, n in sizes.items()}}) if forward else \
            evaluate(program.objective, e, sizes)

    with np.errstate(all="ignore"):
        f0 = f(env)
        if not _finite(f0) or abs(f0) > 1e12:
            raise _Verdict("unverifiable", f"the objective is {f0} at the drawn inputs")
        if forward is not None:
            engine = evaluate(program.objective, env, sizes)
            if not _agree(engine, f0, 1e-9):
                raise _Verdict("wrong", f"the engine evaluates the objective to {engine}, numpy to {f0}")
        try:
            grads = gradients(env)
        except MatcalcError as err:
            raise _Verdict("wrong", f"the gradients cannot be evaluated: {err}") from None
        worst = 0.0
        for w in wrt:
            g = np.asarray(grads[w], dtype=float)
            if g.shape != np.shape(env[w]):
                raise _Verdict("wrong", f"the gradient for {w} has shape {g.shape}, {w} has {np.shape(env[w])}")
            if not _finite(g):
                raise _Verdict("unverifiable", f"the gradient for {w} is not finite here")
            error, where = _compare(f, env, w, g, kinds.get(w) in ("spd", "symmetric"))
            if error > TOL:
                raise _Verdict("wrong", f"gradient mismatch at sizes {sizes}: rel err {error:.3g} at {where}")
            worst = max(worst, error)
    return worst


# -- second order ----------------------------------------------------------------
HESSIAN_TOL = 1e-5
HESSIAN_STEP = 2e-3  # second differences, Richardson: error O(h⁴) + eps |f| / h²
PAIRS = 3


def structured_wrt(text: str, wrt: list) -> str:
    """The variable a Hessian is taken in: a declared symmetric or spd
    matrix of the program when it has one (so structured declarations are
    fuzzed), else the first of ``wrt``."""
    kinds = Program(text).typed.kinds
    structured = [n for n in sorted(kinds) if kinds[n] in ("symmetric", "spd")]
    return structured[0] if structured else wrt[0]


def verify_hessian(text: str, wrt: str, draws: dict | None = None, forward=None, seed: int = 0) -> Outcome:
    """Judge ``--order 2`` and ``--hvp`` of ``wrt`` independently of the
    engine: at inputs drawn here, uᵀ H v of the closed-form Hessian (of vec X:
    a symmetric X is perturbed off the symmetric matrices) against mixed
    second differences of the original objective (``forward``, numpy) along
    random u, v; H v against the Hessian-vector product; H symmetric; and the
    engine's own check not failed."""
    return _judged(_verify_hessian, text, canonical_name(wrt), dict(draws or {}), forward, seed)


def _vec(a):
    return np.asarray(a, dtype=float).reshape(-1, 1, order="F")


def _verify_hessian(text, wrt, draws, forward, seed) -> Outcome:
    try:
        program = Program(text)
        result = program.derive([wrt], order=2)
        hvp = program.derive([wrt], hvp="vdir")
    except (NotDifferentiableError, LimitError) as err:
        return Outcome("refused", f"{type(err).__name__}: {err}")
    except MatcalcError as err:
        return Outcome("wrong", f"a valid program was rejected: {type(err).__name__}: {err}")
    draws = {canonical_name(n): k for n, k in draws.items()}
    kinds = {**program.typed.kinds, **draws}
    (d,), (dv,) = result.derivatives, hvp.derivatives
    worst, _ = _worst_over_points(program, kinds, seed, lambda env, sizes, rng: _judge_hessian_at(
        program, d, dv, forward, env, sizes, wrt, rng))
    check = result.check(seed=seed, draws=draws)
    if check.status == "failed":
        raise _Verdict("wrong", f"the engine's Hessian check failed on a Hessian the oracle accepts: {check.details}")
    if check.status == "inconclusive":
        raise _Verdict("unverifiable", f"the engine's check found no valid point: {check.details}")
    return Outcome("correct", f"max rel err {worst:.1e}")


def _judge_hessian_at(program, d, dv, forward, env, sizes, wrt, rng) -> float:
    def f(e):
        return forward({**e, **{"#" + k: n for k, n in sizes.items()}}) if forward else \
            evaluate(program.objective, e, sizes)

    x = env[wrt]
    with np.errstate(all="ignore"):
        f0 = f(env)
        if not _finite(f0) or abs(f0) > 1e8:
            raise _Verdict("unverifiable", f"the objective is {f0} at the drawn inputs")
        try:
            h = np.atleast_2d(np.asarray(evaluate(d.value, env, sizes), dtype=float))
        except MatcalcError as err:
            raise _Verdict("wrong", f"the Hessian cannot be evaluated: {err}") from None
        if not _finite(h):
            raise _Verdict("unverifiable", "the Hessian is not finite here")
        scale = max(1.0, float(np.max(np.abs(h))))
        if float(np.max(np.abs(h - h.T))) > 1e-8 * scale:
            raise _Verdict("wrong", f"the Hessian in {wrt} is not symmetric at sizes {sizes}")
        direction = rng.standard_normal(np.shape(x)) if np.ndim(x) else float(rng.standard_normal())
        hv = evaluate(dv.value, {**env, "vdir": direction}, sizes)
        if not _agree(_vec(hv), h @ _vec(direction), 1e-7):
            raise _Verdict("wrong", f"H v differs from the Hessian-vector product at sizes {sizes}")

        def unit():
            e = rng.standard_normal(np.shape(x) or (1, 1))
            e = e / np.linalg.norm(e)
            return e if np.ndim(x) else float(e[0, 0])

        def mixed(u, v, t):
            def at(a, b):
                return f({**env, wrt: x + a * t * u + b * t * v})
            return (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * t * t)

        t = HESSIAN_STEP * max(1.0, float(np.max(np.abs(x))))
        worst = 0.0
        for _ in range(PAIRS):
            u, v = unit(), unit()
            closed = (_vec(u).T @ h @ _vec(v)).item()
            estimates = []
            for step in (t, t / 4, t / 16):
                estimates.append((4 * mixed(u, v, step / 2) - mixed(u, v, step)) / 3)
                if abs(estimates[-1] - closed) <= HESSIAN_TOL * max(1.0, abs(closed)):
                    break
                settled = HESSIAN_TOL * max(1.0, abs(closed)) / 10
                if len(estimates) > 1 and abs(estimates[-1] - estimates[-2]) <= settled:
                    raise _Verdict("wrong", f"uᵀ H v at sizes {sizes}: closed form {closed:.6g}, second "
                                   f"differences {estimates[-1]:.6g}")
            else:
                raise _Verdict("unverifiable", "second differences do not settle (a kink?)")
            worst = max(worst, abs(estimates[-1] - closed) / max(1.0, abs(closed)))
    return worst
