"""The numpy helpers behind the function table's numpy spellings.

Every evaluation uses these: the evaluator (``matcalc.evaluate``) calls them,
and a generated ``numpy`` module (``matcalc.codegen``) carries the source of
the ones it uses, so that it imports numpy and nothing else.

Conventions: arguments are 2-D float arrays (vectors are 1×n or n×1).  "Along
a vector" means the whole vector for an n×1 column or a 1×n row and row by row
for an N×C matrix, like numpy's last axis on a batch of rows.  Each helper is
self-contained apart from ``_vector_axis``; ``helper_source`` picks the
source text a generated module needs.
"""
from __future__ import annotations

import inspect

import numpy as np


def _vector_axis(a):
    # A column runs along axis 0; a row, and each row of a matrix, along axis 1.
    return 0 if a.shape[1] == 1 and a.shape[0] != 1 else 1


def sigmoid(a):
    """σ(a) = 1 / (1 + exp(−a)), elementwise, without overflow for large |a|."""
    a = np.asarray(a, dtype=float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))[()]


def softmax(a):
    """exp(a) / sum(exp(a)) along the vector (each row of a matrix)."""
    axis = _vector_axis(a)
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(a):
    """a − logsumexp(a) along the vector (each row of a matrix)."""
    axis = _vector_axis(a)
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def logsumexp(a):
    """log(sum(exp(a))) of a vector (a number); of each row of an N×C matrix (N×1)."""
    axis = _vector_axis(a)
    top = a.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))
    if a.shape[0] == 1 or a.shape[1] == 1:
        return out[0, 0]
    return out


def diag(a):
    """A vector -> the diagonal matrix with it; a square matrix -> the column of its diagonal."""
    if a.shape[0] == 1 or a.shape[1] == 1:
        return np.diagflat(a)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"diag of a {a.shape[0]}×{a.shape[1]} matrix: neither a vector nor square")
    return np.diagonal(a).reshape(-1, 1).copy()


def vec(a):
    """Stack the columns of a into one (m·n)×1 column (numpy order "F")."""
    return np.reshape(a, (-1, 1), order="F")


def commutation(m, n):
    """The (m·n)×(m·n) matrix K with vec(Xᵀ) = K vec(X) for every m×n X."""
    m, n = int(round(float(np.asarray(m).reshape(())))), int(round(float(np.asarray(n).reshape(()))))
    # vec(X)[i + j m] = X[i, j] = Xᵀ[j, i] = vec(Xᵀ)[j + i n]
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    k = np.zeros((m * n, m * n))
    k[(j + i * n).ravel(), (i + j * m).ravel()] = 1.0
    return k


def commute_rows(a, m, n):
    """commutation(m, n) @ a without the (m·n)×(m·n) matrix: a row permutation."""
    m, n = int(round(float(np.asarray(m).reshape(())))), int(round(float(np.asarray(n).reshape(()))))
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    perm = np.empty(m * n, dtype=int)
    perm[(j + i * n).ravel()] = (i + j * m).ravel()
    return a[perm]


HELPERS = {f.__name__: f for f in (sigmoid, softmax, log_softmax, logsumexp, diag, vec, commutation,
                                   commute_rows)}

# helper -> the private helpers its source calls
_NEEDS = {"softmax": ("_vector_axis",), "log_softmax": ("_vector_axis",), "logsumexp": ("_vector_axis",)}


def helper_source(names) -> str:
    """Source text defining the named helpers (and what they call), in a fixed order."""
    wanted = set()
    for name in names:
        wanted.add(name)
        wanted.update(_NEEDS.get(name, ()))
    functions = [_vector_axis, *HELPERS.values()]
    return "\n\n\n".join(inspect.getsource(f).strip("\n") for f in functions if f.__name__ in wanted) + "\n"


# The source of every helper: a generated module that wants them all includes this.
RUNTIME_SOURCE = helper_source(HELPERS)


def namespace() -> dict:
    """The names a numpy spelling may use: ``np`` and the helpers."""
    return {"np": np, **HELPERS}
