"""What is wrong with an answer, decided from numbers (SPEC §7).

``diagnose`` compares the values an answer takes with the true gradient at
the same random points (several points at each of several size
assignments) and names the first mistake that explains every point, in
this order:

* shape — the answer has another shape; unless it is the transpose of the
  truth (a layout mistake) or, summed over a broadcast batch axis, the truth
  (``onesᵀ δ`` forgotten);
* transpose — a square answer equal to the truth's transpose;
* factor / sign — answer = c · truth for one constant c at every point
  (least squares per size assignment, then the residual checked); a c that
  changes with the sizes as N or 1/N is a missing or extra 1/N;
* counterexample — otherwise: at the smallest sizes, the entry where the
  two differ most.

Equality is ``max|a − t| ≤ RTOL · max(max|t|, max|a|) + floor``, with the
floor ``ATOL`` times the gradient's typical size over all points, so
round-off never fails a right answer and a wrong one is wrong by O(1).

>>> rng = np.random.default_rng(0)
>>> samples = [Sample(k, {"D": d, "H": h}, {}, {}, rng.normal(size=(d, h)))
...            for k, (d, h) in enumerate([(2, 3), (3, 5)])]
>>> diagnose(samples, [2 * s.truth for s in samples], "∂J/∂W", "W", "D×H", "D×H")[:2]
('factor', 'off by a factor of 2: your answer is 2 times ∂J/∂W — a stray factor of 2?')
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

RTOL = 1e-7
ATOL = 1e-12


@dataclass
class Sample:
    """One random point: its size assignment, inputs, every named value, the truth."""

    round: int
    sizes: dict
    inputs: dict
    values: dict
    truth: np.ndarray


def diagnose(samples: list[Sample], givens: list, label: str, wrt: str,
             answer_shape: str, expected_shape: str, convention: str | None = None):
    """``(kind, diagnosis, counterexample)`` for answer values ``givens``
    (one per sample).  ``label`` names the derivative (``∂J/∂W``, ``∂f/∂x``,
    ``∂²J/∂x²``); ``convention`` says how it is laid out (for a gradient, by
    default: it has the shape of ``wrt``)."""
    convention = convention or f"the gradient has the shape of {wrt}, entry (i, j) is ∂J/∂{wrt}ᵢⱼ"
    givens = [np.asarray(g, dtype=float) for g in givens]
    floor = ATOL * max([1.0] + [float(np.max(np.abs(s.truth))) for s in samples])
    judge = _Judge(samples, floor)
    if any(g.shape != s.truth.shape for g, s in zip(givens, samples)):
        return _shape_mistake(judge, givens, label, convention, answer_shape, expected_shape)
    found = judge.relation(givens)
    if found == "equal":
        points = len(samples)
        rounds = len({s.round for s in samples})
        return "correct", (f"equals {label} at {points} random points "
                           f"({rounds} size assignments, e.g. {_sizes_text(samples[0].sizes)})"), None
    if all(g.ndim == 2 and g.shape[0] == g.shape[1] for g in givens) and \
            judge.relation([g.T for g in givens]) == "equal":
        return "transpose", (f"a layout mistake: you wrote the transpose of {label} "
                             f"({convention})"), None
    if isinstance(found, tuple):
        return _factor_verdict(found, label)
    return "counterexample", *_counterexample(samples, givens, label, floor)


def same_values(samples: list[Sample], a: list, b: list) -> bool:
    """Whether two answers take the same values at every sample (the
    tolerance of ``diagnose``)."""
    floor = ATOL * max([1.0] + [float(np.max(np.abs(s.truth))) for s in samples])
    judge = _Judge(samples, floor)
    return all(judge.close(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in zip(a, b))


class _Judge:
    """Relations between answer values and the truth at every sample."""

    def __init__(self, samples: list[Sample], floor: float):
        self.samples = samples
        self.floor = floor

    def close(self, a: np.ndarray, t: np.ndarray) -> bool:
        if a.shape != t.shape or not np.all(np.isfinite(a)):
            return False
        scale = max(float(np.max(np.abs(t), initial=0.0)), float(np.max(np.abs(a), initial=0.0)))
        return float(np.max(np.abs(a - t), initial=0.0)) <= RTOL * scale + self.floor

    def relation(self, givens: list):
        """"equal", ("factor", c, dim, power) with answer = c·dim^power·truth,
        or None."""
        pairs = list(zip(givens, self.samples))
        if all(self.close(g, s.truth) for g, s in pairs):
            return "equal"
        factors = {}
        for round_ in sorted({s.round for s in self.samples}):
            chosen = [(g, s.truth) for g, s in pairs if s.round == round_]
            c = _least_squares(chosen)
            if c is None or abs(c) < 1e-9 or not all(self.close(g, c * t) for g, t in chosen):
                return None
            factors[round_] = (c, next(s.sizes for s in self.samples if s.round == round_))
        values = [c for c, _ in factors.values()]
        if all(_same(c, values[0]) for c in values):
            return ("factor", _nice(values[0]), None, 0)
        dims = next(iter(factors.values()))[1]
        for dim in dims:
            for power in (1, -1, 2, -2):
                qs = [c / sizes[dim] ** power for c, sizes in factors.values()]
                if all(_same(q, qs[0]) for q in qs):
                    return ("factor", _nice(qs[0]), dim, power)
        return None


def _least_squares(pairs) -> float | None:
    """The c minimising Σ‖a − c t‖² over the pairs (None when t is all 0)."""
    tt = sum(float(np.sum(t * t)) for _, t in pairs)
    if tt == 0.0 or not all(np.all(np.isfinite(a)) for a, _ in pairs):
        return None
    return sum(float(np.sum(a * t)) for a, t in pairs) / tt


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def _nice(c: float):
    """2.0000000001 -> 2, 0.49999999 -> 1/2; other values as they are."""
    f = Fraction(c).limit_denominator(1000)
    return f if abs(float(f) - c) <= 1e-8 * max(1.0, abs(c)) else c


def _number_text(c) -> str:
    if isinstance(c, Fraction):
        return str(c.numerator) if c.denominator == 1 else f"{c.numerator}/{c.denominator}"
    return f"{c:.6g}"


def _factor_verdict(found, label: str):
    _, c, dim, power = found
    negative = c < 0
    c = -c if negative else c
    sign = " and the sign is wrong" if negative else ""
    if dim is None:
        if c == 1:
            return "sign", f"wrong sign: your answer is −{label}", None
        if c > 1:
            return "factor", (f"off by a factor of {_number_text(c)}{sign}: your answer is "
                              f"{'−' if negative else ''}{_number_text(c)} times {label} — "
                              f"a stray factor of {_number_text(c)}?"), None
        k = 1 / Fraction(c) if isinstance(c, Fraction) else 1 / c
        return "factor", (f"off by a factor of {_number_text(k)}{sign}: your answer is "
                          f"{'−' if negative else ''}{label} divided by {_number_text(k)} — "
                          f"a missing factor of {_number_text(k)}?"), None
    times = "" if c == 1 else f"{_number_text(c)}·"
    power_text = dim if abs(power) == 1 else f"{dim}²"
    if power > 0:
        return "factor", (f"off by a factor of {times}{power_text}{sign}: your answer is "
                          f"{times}{power_text} times {label} — a missing 1/{power_text} "
                          "(a mean over the batch)?"), None
    return "factor", (f"off by a factor of {times}1/{power_text}{sign}: your answer is {label} "
                      f"divided by {power_text}" + (f", times {_number_text(c)}" if c != 1 else "")
                      + f" — an extra 1/{power_text}?"), None


def _shape_mistake(judge: _Judge, givens, label, convention, answer_shape, expected_shape):
    said = f"your answer is {answer_shape} but {label} is {expected_shape}"
    truths = [s.truth for s in judge.samples]
    if all(g.ndim == 2 and t.ndim == 2 and g.T.shape == t.shape for g, t in zip(givens, truths)):
        found = judge.relation([g.T for g in givens])
        if found == "equal":
            return "transpose", (f"{said}: you wrote the transpose — a layout mistake "
                                 f"({convention})"), None
        if isinstance(found, tuple):
            kind, text, _ = _factor_verdict(found, label + "ᵀ")
            return "transpose", f"{said}: you wrote the transpose (a layout mistake), and it is {text}", None
    summed = [_batch_sum(g, t) for g, t in zip(givens, truths)]
    if all(s is not None for s in summed):
        found = judge.relation(summed)
        if found is not None:
            fix = "sum over the batch (onesᵀ δ)" if truths[0].ndim == 2 and truths[0].shape[0] == 1 \
                else "sum over the batch (δ ones)" if truths[0].ndim == 2 else "sum its entries (sum(δ))"
            text = f"{said}: you forgot to {fix}"
            if isinstance(found, tuple):
                text += "; summed, it is " + _factor_verdict(found, label)[1]
            return "batch-sum", text, None
    return "shape", f"{said} ({convention})", None


def _batch_sum(g: np.ndarray, t: np.ndarray):
    """The answer summed over the axis a broadcast bias lost, or None."""
    if t.ndim == 0 and g.ndim == 2:
        return np.asarray(g.sum())
    if t.ndim != 2 or g.ndim != 2:
        return None
    if t.shape[0] == 1 and g.shape[1] == t.shape[1] and g.shape[0] > 1:
        return g.sum(axis=0, keepdims=True)
    if t.shape[1] == 1 and g.shape[0] == t.shape[0] and g.shape[1] > 1:
        return g.sum(axis=1, keepdims=True)
    return None


def _counterexample(samples, givens, label, floor):
    """At the smallest sizes, the first point where the answer is off, and
    the entry where it is off most."""
    judge = _Judge(samples, floor)
    order = sorted(range(len(samples)), key=lambda i: (samples[i].round, i))
    index = next(i for i in order if not judge.close(givens[i], samples[i].truth))
    sample, given, truth = samples[index], givens[index], samples[index].truth
    diff = np.where(np.isfinite(given), np.abs(given - truth), np.inf)
    entry = np.unravel_index(int(np.argmax(diff)), truth.shape) if truth.ndim else ()
    expected, got = float(truth[entry]), float(given[entry])
    where = f"at sizes {_sizes_text(sample.sizes)}"
    at = f" entry ({entry[0] + 1}, {entry[1] + 1})" if truth.ndim else ""
    if np.all(given == 0) and not np.all(truth == 0):
        text = f"your answer is zero {where}, but {label} is not (e.g.{at or ''} {expected:.6g})"
    elif not np.isfinite(got):
        text = f"your answer is not finite {where}:{at} is {got} where {label} is {expected:.6g}"
    else:
        text = (f"not equal to {label}: {where}, with random inputs,{at} should be "
                f"{expected:.6g} but your answer gives {got:.6g}")
    counterexample = {
        "sizes": dict(sample.sizes),
        "entry": [int(entry[0]) + 1, int(entry[1]) + 1] if truth.ndim else None,
        "expected": expected,
        "given": got,
        "inputs": {n: (v.tolist() if isinstance(v, np.ndarray) else v) for n, v in sample.inputs.items()},
    }
    return text, counterexample


def _sizes_text(sizes: dict) -> str:
    return ", ".join(f"{d}={n}" for d, n in sizes.items()) or "no dimensions"
