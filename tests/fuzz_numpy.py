"""The reference semantics of the fuzzer's programs, in plain numpy, written
from SPEC §2 independently of ``matcalc.language.evaluate`` and ``matcalc.language.runtime``.

Values: a scalar is a float; a vector or matrix a 2-D array (a row 1×n, a
column n×1).  softmax, log_softmax and logsumexp act along a column vector,
along a row vector, and row by row on a matrix.
"""
from __future__ import annotations

import math

import numpy as np


def scalar(v):
    """matcalc's scalars are numbers, whatever numpy made of a 1×1 result."""
    a = np.asarray(v)
    return float(a.reshape(())) if a.size == 1 and (a.ndim != 2 or a.shape == (1, 1)) else v


def matmul(a, b):
    return scalar(a * b if np.ndim(a) == 0 or np.ndim(b) == 0 else a @ b)


def _axis(a):  # along a column vector, else along each row (SPEC §2)
    return 0 if a.shape[1] == 1 and a.shape[0] != 1 else 1


def logsumexp(a):
    ax = _axis(a)
    top = a.max(axis=ax, keepdims=True)
    out = top + np.log(np.exp(a - top).sum(axis=ax, keepdims=True))
    return scalar(out) if 1 in a.shape else out


def softmax(a):
    e = np.exp(a - a.max(axis=_axis(a), keepdims=True))
    return e / e.sum(axis=_axis(a), keepdims=True)


def log_softmax(a):
    ax = _axis(a)
    top = a.max(axis=ax, keepdims=True)
    return a - top - np.log(np.exp(a - top).sum(axis=ax, keepdims=True))


def diag(a):
    return np.diagflat(a) if 1 in a.shape else np.diagonal(a).reshape(-1, 1).copy()


# elementwise functions: numpy value, magnitude of the result given the argument's
ELEMENTWISE = {
    "exp": (np.exp, math.exp), "sin": (np.sin, lambda m: 1.0), "cos": (np.cos, lambda m: 1.0),
    "tanh": (np.tanh, lambda m: 1.0), "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda m: 1.0),
    "relu": (lambda a: np.maximum(a, 0.0), lambda m: m), "softplus": (lambda a: np.logaddexp(0.0, a),
                                                                      lambda m: m + 1),
    "abs": (np.abs, lambda m: m), "sgn": (np.sign, lambda m: 1.0),
    "arctan": (np.arctan, lambda m: 1.6), "atan": (np.arctan, lambda m: 1.6),
    "sinh": (np.sinh, math.exp), "cosh": (np.cosh, math.exp), "expm1": (np.expm1, math.exp),
    "square": (np.square, lambda m: m * m), "softsign": (lambda a: a / (1 + np.abs(a)), lambda m: 1.0),
    "logistic": (lambda a: 1 / (1 + np.exp(-a)), lambda m: 1.0),
    "hinge": (lambda a: np.maximum(1.0 - a, 0.0), lambda m: m + 1),
    "step": (lambda a: (np.asarray(a) > 0).astype(float)[()], lambda m: 1.0),
}
