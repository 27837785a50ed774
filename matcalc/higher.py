"""Jacobians, Hessians and Hessian-vector products as results: their labels
(how ``matcalc.report`` shows them is decided there), the numeric check (finite
differences of the function, or of the closed-form gradient), and the numpy
functions ``jacobians``, ``hessians`` and ``hvp``.

Layouts: numerator (the default) puts the rows of the Jacobian along f and
its columns along the variable, (∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ; denominator is its
transpose.  A gradient keeps the shape of its variable in either layout.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import MatcalcError
from .expr import SCALAR, Expr, Op, Sym
from .jacobian import book_form_rules, inline_gradient, jacobian, jvp, vec_size, zero_matrix
from .dag import dims_from_inputs, name_nodes

LAYOUTS = ("numerator", "denominator")

# how each kind of derivative is written, in the three notations
LABELS = {
    "unicode": {"jacobian": "∂{f}/∂{x}", "hessian": "∂²{f}/∂{x}²", "mixed": "∂²{f}/∂{x}∂{y}", "hvp": "∇²{f} {y}"},
    "ascii": {"jacobian": "d{f}/d{x}", "hessian": "d2{f}/d{x}2", "mixed": "d2{f}/d{x}d{y}", "hvp": "H{f} {y}"},
    "latex": {"jacobian": r"\frac{{\partial {f}}}{{\partial {x}}}",
              "hessian": r"\frac{{\partial^{{2}} {f}}}{{\partial {x}^{{2}}}}",
              "mixed": r"\frac{{\partial^{{2}} {f}}}{{\partial {x}\, \partial {y}}}",
              "hvp": r"\nabla^{{2}} {f}\, {y}"},
}


@dataclass
class Derivative:
    """One Jacobian, Hessian or Hessian-vector product."""

    kind: str  # "jacobian" | "hessian" | "hvp"
    wrt: str
    wrt2: str | None
    expr: Expr  # for display, in the program's names
    value: Expr  # for evaluation (cheap forms, forward nodes inline)
    layout: str
    symmetric: bool = False
    where: tuple = ()  # ((name, expr), ...): repeated subexpressions named for reading
    steps: tuple = ()  # ((node, Jacobian, rule names), ...) along the forward pass


    @property
    def shape(self):
        return self.expr.shape

    @property
    def form(self) -> str:
        """Which notation it is written in: jacobian, hessian, mixed or hvp."""
        if self.kind == "hessian" and self.wrt2 and self.wrt2 != self.wrt:
            return "mixed"
        return self.kind

    def label(self, objective: str, unicode: bool = True) -> str:
        """``∂f/∂x``, ``∂²J/∂x²``, ``∂²J/∂x∂y``, ``∇²J v`` (``LABELS`` has the
        unicode, ASCII and LaTeX spellings)."""
        from .printer import to_ascii, to_text

        show = to_text if unicode else to_ascii
        return self.spelled(LABELS["unicode" if unicode else "ascii"], objective, lambda n: show(Sym(n)))

    def spelled(self, templates: dict, objective: str, name) -> str:
        return templates[self.form].format(f=objective, x=name(self.wrt), y=name(self.wrt2 or self.wrt))


def _oriented(e: Expr, layout: str, ctx, rules) -> Expr:
    """``e`` in ``layout`` (the transpose for denominator), simplified with
    the program's rule base ``rules`` (the user's rules too)."""
    from .shapes import build
    from .simplify import simplify

    if layout not in LAYOUTS:
        raise MatcalcError(f"layout must be numerator or denominator, not {layout!r}")
    return e if layout == "numerator" else simplify(build("T", (e,)), ctx, rules=rules.of("simplify"))


def _display(e: Expr, ctx, names, rules) -> Expr:
    from .simplify import simplify

    # display keeps diag(v) W, the book form of a Jacobian; evaluation uses v ∘ W
    return name_nodes(simplify(e, ctx, rules=book_form_rules(rules)), names)


_READING_NAMES = "pqrstuvabcdefgh"
# the names the notes give such values: ŷ = softmax(θ), h = tanh(z), p = σ(X w)
_CUSTOMARY = {"softmax": "yhat", "tanh": "h", "relu": "h", "sigmoid": "p"}


def name_repeats(e: Expr, taken) -> tuple[Expr, tuple]:
    """Subexpressions written more than once get a short name, largest
    first: ``Xᵀ diag(σ(X w) ∘ (1 − σ(X w))) X`` reads
    ``Xᵀ diag(p ∘ (1 − p)) X`` with ``p = σ(X w)``."""
    where = []
    free = [n for n in ["yhat", "h"] + list(_READING_NAMES) if n not in taken]
    plain = [n for n in free if n not in ("yhat", "h")]
    while free:
        counts: dict = {}
        stack = [e]
        while stack:  # occurrences in the written tree, not the shared DAG
            node = stack.pop()
            counts[node] = counts.get(node, 0) + 1
            stack.extend(node.children)
        repeated = [n for n, c in counts.items() if c > 1 and isinstance(n, Op) and _worth_a_name(n)]
        if not repeated:
            break
        biggest = max(repeated, key=lambda n: sum(1 for _ in n.walk()))
        customary = _CUSTOMARY.get(biggest.op)
        name = customary if customary in free else next((n for n in plain if n in free), None)
        if name is None:
            break
        free.remove(name)
        where.append((name, biggest))
        e = name_nodes(e, {biggest: name})
    return e, tuple(where)


def _worth_a_name(n: Op) -> bool:
    return n.op not in ("T", "scale", "inv") and sum(1 for _ in n.walk()) >= 2


def _cheap(e: Expr, ctx, rules) -> Expr:
    from .simplify import simplify

    return simplify(e, ctx, rules=rules.of("simplify"))


def jacobian_derivatives(program, wrt: list[str], layout: str, ctx) -> list[Derivative]:
    """The Jacobian of a vector- or matrix-valued objective for each variable."""
    out = []
    for w in wrt:
        trace: list = []
        j = jacobian(program.objective, Sym(w, program.typed.shapes[w]), ctx, program.rules, trace)
        j = _oriented(j, layout, ctx, program.rules)
        shown, where = name_repeats(_display(j, ctx, program.names, program.rules), program.typed.shapes)
        out.append(Derivative("jacobian", w, None, shown, _cheap(j, ctx, program.rules), layout, where=where,
                              steps=tuple(trace)))
    return out


def hessian_derivatives(result, wrt: list[str], wrt2: str | None, layout: str, ctx) -> list[Derivative]:
    """Second derivatives of a scalar objective: the Jacobian of each gradient
    (with respect to the same variable, or to ``wrt2``).

    The gradient differentiated is ``result.second_derivation``'s, derived
    without using S = Sᵀ for declared symmetric S, and the Jacobian is formed
    the same way: a second derivative is of independent entries (SPEC §3),
    so the commutation terms stay.  Only the finished matrix, a value at a
    symmetric point, is simplified with ``ctx`` (Sᵀ -> S)."""
    from .rules import NO_CONTEXT

    program = result.program
    out = []
    for w in wrt:
        g = inline_gradient(result.second_derivation, w)
        other = wrt2 or w
        target = Sym(other, program.typed.shapes[other])
        if g is None:
            h = zero_matrix(vec_size(program.typed.shapes[w]), vec_size(target.shape))
        else:
            trace: list = []
            h = jacobian(g, target, NO_CONTEXT, program.rules, trace)
        h = _oriented(h, layout, ctx, program.rules)
        symmetric = other == w
        shown, where = name_repeats(_display(h, ctx, program.names, program.rules), program.typed.shapes)
        out.append(Derivative("hessian", w, wrt2, shown, _cheap(h, ctx, program.rules), layout, symmetric, where,
                              tuple(trace) if g is not None else ()))
    return out


def hvp_derivatives(result, wrt: list[str], direction: str, ctx) -> list[Derivative]:
    """∇²J v for each variable: the derivative of the gradient along v,
    without forming the Hessian (of independent entries, as
    ``hessian_derivatives``)."""
    from .rules import NO_CONTEXT

    program = result.program
    out = []
    for w in wrt:
        g = inline_gradient(result.second_derivation, w)
        shape = program.typed.shapes[w]
        if g is None:
            from .expr import Num, Zero

            hv = Zero(shape) if shape != SCALAR else Num(0)
        else:
            hv = jvp(g, {w: Sym(direction, shape)}, NO_CONTEXT, program.rules)
        out.append(Derivative("hvp", w, direction, _display(hv, ctx, program.names, program.rules),
                              _cheap(hv, ctx, program.rules), "numerator"))
    return out


# ---------------------------------------------------------------------------
# the numeric check: central differences of f (Jacobians) or of the
# closed-form gradient (Hessians, HVPs), at two size assignments, entry by
# entry of vec X (a symmetric X is perturbed off the symmetric matrices);
# Hessians also against second differences of f itself along random
# directions (``_curvature_error``), which no gradient of the engine enters

CURVATURE_TOL = 1e-5  # tolerance of the second-difference cross-check (error O(h⁴) + eps |f| / h²)
CURVATURE_STEP = 2e-3


def check_derivatives(result, derivatives: list[Derivative], seed: int = 0, tol: float = 1e-6, sampler=None):
    """A ``CheckResult`` for the derivatives of ``result`` (Jacobians,
    Hessians, HVPs) at the points of ``sampler`` (``result.sampler``): ok,
    failed at a valid point (its sizes given), or inconclusive (no valid
    point: the singular or non-finite subexpression named).  A Hessian
    printed as symmetric must be symmetric at the point."""
    import numpy as np

    from .check import CheckResult, inconclusive
    from .evaluate import evaluate
    from .sampling import sizes_text

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
    from .evaluate import shape_sizes

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
    import numpy as np

    from .evaluate import evaluate

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
    import numpy as np

    return np.asarray(a, dtype=float).reshape(-1, 1, order="F") if np.ndim(a) else np.array([[float(a)]])


def _finite_difference(program, d: Derivative, env, dims, gradient_values):
    import numpy as np

    from .evaluate import evaluate

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
