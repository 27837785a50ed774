"""Mistakes only the problem can name (SPEC §7, issue 17): an answer that is
no constant multiple of the truth may still be a textbook slip.

* **the activation mask dropped** — the answer equals the truth with one
  elementwise factor ``∘ g(u)`` left out, where g(u) is an elementwise
  function of one pre-activation u (``step(z)``, ``1 − h∘h``,
  ``σ(z) ∘ (1 − σ(z))``: the activation's derivative);
* **right only if A is symmetric** — the answer equals the truth once a
  square input the problem does not declare symmetric is drawn symmetric
  (``2 A x`` for ∂(xᵀ A x)/∂x).

Both are decided numerically at the problem's samples, like every verdict.
"""
from __future__ import annotations

import numpy as np

from ..engine.forward import inline_gradient
from ..language.errors import MatcalcError
from ..language.evaluate import evaluate_program
from ..language.expr import Num, Ones, Op, Sym
from ..language.functions import FUNCTIONS
from ..language.names import unicode_spelling
from ..language.printer import to_text
from ..shapes.core import substitute
from ..shapes.dag import name_nodes
from .answer_diagnosis import same_values

# operators an activation's derivative is built with around its elementwise functions
_ELEMENTWISE_GLUE = {"had", "add", "scale", "neg", "sub", "div"}


def explain(problem, reading, givens) -> tuple[str, str] | None:
    """``(kind, diagnosis)`` for a mask dropped or a symmetry assumed, else None."""
    for factor, values in _mask_variants(problem):
        if same_values(problem.samples, givens, values):
            return "mask", (f"missing the activation mask: your answer equals {problem.label} with the "
                            f"factor ∘ {factor} (the activation's derivative) dropped")
    for name, samples in _symmetric_samples(problem):
        try:
            values = reading.evaluate(samples)
        except MatcalcError:
            continue
        if same_values(samples, values, [s.truth for s in samples]):
            shown = _name(problem, name)
            return "symmetric-only", (f"right only if {shown} is symmetric: your answer equals {problem.label} "
                                      f"when {shown} = {shown}ᵀ, but {shown} is any square matrix here")
    return None


def _name(problem, name: str) -> str:
    return unicode_spelling(name)  # yhat -> ŷ, delta2 -> δ2


def _truth_inlined(problem):
    """The truth written in the problem's variables (δ terms substituted)."""
    if problem.kind == "gradient":
        return inline_gradient(problem.result.derivation, problem.wrt)
    return problem._truth


def activation_argument(factor) -> object | None:
    """u when ``factor`` is an elementwise function of the one expression u
    (``step(u)``, ``1 − tanh(u) ∘ tanh(u)``), else None."""
    arguments = set()

    def elementwise_of_one(node) -> bool:
        if isinstance(node, (Num, Ones)):
            return True
        if not isinstance(node, Op):
            return False
        function = FUNCTIONS.get(node.op)
        if function is not None and function.signature == "elementwise" and function.arity == 1:
            arguments.add(node.args[0])
            return True
        return node.op in _ELEMENTWISE_GLUE and all(elementwise_of_one(a) for a in node.args)

    return next(iter(arguments)) if elementwise_of_one(factor) and len(arguments) == 1 else None


def _mask_variants(problem) -> list:
    """[(the factor's text, the truth's values without it at every sample)], once per problem."""
    cached = getattr(problem, "_mask_variants", None)
    if cached is not None:
        return cached
    truth = _truth_inlined(problem)
    variants = []
    seen = set()
    for node in truth.walk() if truth is not None else ():
        if not (isinstance(node, Op) and node.op == "had" and len(node.args) == 2) or node in seen:
            continue
        seen.add(node)
        for dropped, kept in (node.args, node.args[::-1]):
            if kept.shape != node.shape or activation_argument(dropped) is None:
                continue
            hole = Sym("  hole", node.shape)
            variant = substitute(name_nodes(truth, {node: hole.name}), {hole.name: kept})
            try:
                values = [np.asarray(evaluate_program([], {"v": variant}, s.inputs, s.sizes)["v"], dtype=float)
                          for s in problem.samples]
            except (MatcalcError, ArithmeticError, ValueError):
                continue
            text = to_text(name_nodes(dropped, dict(problem.program.names)))
            variants.append((f"({text})" if isinstance(dropped, Op) and dropped.op == "add" else text, values))
    problem._mask_variants = variants
    return variants


def _symmetric_samples(problem) -> list:
    """[(name, the samples with that square input drawn symmetric)] for each
    square input the problem does not already draw symmetric."""
    cached = getattr(problem, "_symmetric", None)
    if cached is not None:
        return cached
    typed = problem.program.typed
    out = []
    for name in problem.program.variables:
        shape = typed.shapes[name]
        kind = problem.draws.get(name) or typed.kinds.get(name)
        # declared or drawn (spd, onehot, ...): drawn as it is
        if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 1 or kind:
            continue
        samples = []
        for s in problem.samples:
            a = np.asarray(s.inputs[name], dtype=float)
            sample = problem.sample_at(s.round, s.sizes, {**s.inputs, name: (a + a.T) / 2})
            if sample is None:
                break
            samples.append(sample)
        else:
            out.append((name, samples))
    problem._symmetric = out
    return out
