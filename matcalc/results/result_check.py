"""The numeric check of a result (``matcalc.faces.api.Result``): its objective
and gradients as functions of the inputs (``evaluator``), the gradients its
second derivatives are formed from (``second_order_gradients``), how each
input is drawn (``draws``, ``sampler``), and the check itself (``check``):
gradients by ``matcalc.results.check``, Jacobians, Hessians and HVPs by
``matcalc.results.check_higher``, one verdict for both."""
from __future__ import annotations

import numpy as np

from ..engine.forward import inline_gradient
from ..language.errors import CheckFailedError, CheckInconclusiveError
from ..language.evaluate import evaluate
from ..language.names import canonical_name
from ..language.printer import to_text
from ..shapes.dag import dims_from_inputs, name_nodes
from .check import CheckResult, check_gradients
from .check_higher import check_derivatives
from .naming import assignments
from .sampling import Sampler, domain_draws


def evaluator(result):
    """(objective(env) -> float, gradients(env) -> dict) of ``result``
    evaluated with the AST evaluator, for the numeric check."""
    program = result.program
    steps = assignments(result.definitions, result.intermediates)

    def sizes(env):
        return dims_from_inputs(program.typed.shapes, env)

    def objective(env):
        with program.rules.scope():
            return evaluate(program.objective, env, sizes(env))

    def gradients(env):
        with program.rules.scope():
            return _gradients(env)

    def _gradients(env):
        dims = sizes(env)
        values = dict(env)
        for name, expr in steps:
            values[name] = evaluate(expr, values, dims)
        return {w: evaluate(g, values, dims) for w, g in result.gradients.items()}

    return objective, gradients


def second_order_gradients(result):
    """``values(env) -> {name: gradient}`` of the gradients the second
    derivatives of ``result`` are formed from, valid at any point
    (symmetric or not): finite differences of these, entry by entry, check a
    Hessian."""
    program = result.program
    inlined = {w: inline_gradient(result.second_derivation, w) for w in result.wrt
               if w in result.second_derivation.gradients}

    def values(env):
        dims = dims_from_inputs(program.typed.shapes, env)
        return {w: evaluate(g, env, dims) if g is not None else np.zeros_like(np.asarray(env[w], dtype=float))
                for w, g in inlined.items()}

    return values


def draws(result, draws=None) -> dict:
    """How each input of ``result`` is drawn beyond its declared kind: so
    that the assumptions hold (y sums to 1), inside the domain of the
    functions (log(x): x > 0; an inverted matrix well conditioned), and
    ``draws`` (name -> kind) over all of these."""
    typed = result.program.typed
    variables = set(result.program.variables) | set(result.directions)
    assumed = {name: kind for name, kind in domain_draws(result.program.objective).items() if name in variables}
    assumed.update({name: kind for a in result.assumptions for name, kind in a.draws})
    assumed = {name: kind for name, kind in assumed.items() if name not in typed.kinds}
    return {**assumed, **{canonical_name(n): k for n, k in (draws or {}).items()}}


def sampler(result, draws=None, directions: bool = False) -> Sampler:
    """The sampler of the numeric checks of ``result``: its inputs (and with
    ``directions`` its HVP directions) drawn by kind and ``draws``, valid
    where the objective and everything it inverts are finite and well
    conditioned."""
    typed = result.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in result.program.variables}
    if directions:
        variables.update(result.directions)
    names = result.program.names

    def show(node):
        return to_text(name_nodes(node, names, keep_root=True))

    return Sampler(variables, typed.kinds, typed.dims, result.draws(draws), watch=result.program.objective,
                   show=show)


def check(result, seed: int = 0, draws=None) -> CheckResult:
    """Every gradient of ``result`` against central finite differences, and
    every Jacobian, Hessian and HVP (SPEC §5): failed if either failed, else
    inconclusive if either was."""
    objective, gradients = result.evaluator()
    typed = result.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in result.program.variables}
    outcome = None
    if result.gradients:
        outcome = check_gradients(objective, gradients, variables, typed.kinds, result.wrt, typed.dims,
                                  seed=seed, sampler=result.sampler(draws))
    if result.derivatives:  # Jacobians, Hessians, HVPs: finite differences too
        second = check_derivatives(result, result.derivatives, seed=seed, sampler=result.sampler(draws, True))
        outcome = second if outcome is None else _combine_checks(outcome, second)
    return outcome


def raise_unless_ok(outcome: CheckResult) -> None:
    """``CheckFailedError`` for a failed check, ``CheckInconclusiveError``
    for an inconclusive one."""
    if outcome.status == "failed":
        raise CheckFailedError(f"numeric check FAILED: max rel err {outcome.max_rel_error:.2e} "
                               f"({outcome.details})")
    if outcome.status == "inconclusive":
        raise CheckInconclusiveError(f"numeric check inconclusive: {outcome.details}")


def _combine_checks(a, b):
    """Both checks: failed if either failed, else inconclusive if either was."""
    details = "; ".join(x for x in (a.details, b.details) if x)
    statuses = {a.status, b.status}
    status = "failed" if "failed" in statuses else "inconclusive" if "inconclusive" in statuses else "ok"
    dims = b.dims if b.status == status and a.status != status else a.dims
    return CheckResult(status == "ok", max(a.max_rel_error, b.max_rel_error), dims, details, status)
