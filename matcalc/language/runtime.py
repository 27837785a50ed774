"""The numpy helpers behind the function table's numpy spellings.

Every evaluation uses these: the evaluator (``matcalc.language.evaluate``) calls them,
and a generated ``numpy`` module (``matcalc.outputs.codegen``) carries the source of
the ones it uses, so that it imports numpy and nothing else.

Conventions: arguments are 2-D float arrays (vectors are 1×n or n×1).  "Along
a vector" means the whole vector for an n×1 column or a 1×n row and row by row
for an N×C matrix, like numpy's last axis on a batch of rows.  Each helper is
self-contained apart from ``_vector_axis``; ``helper_source`` picks the
source text a generated module needs.
"""
from __future__ import annotations

import inspect
import re

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


def _commutation_order(m, n):
    # vec(Xᵀ)[j + i n] = Xᵀ[j, i] = X[i, j] = vec(X)[i + j m] for an m×n X
    m, n = (int(round(float(v.reshape(()) if hasattr(v, "reshape") else v))) for v in (m, n))
    order = [0] * (m * n)
    for i in range(m):
        for j in range(n):
            order[j + i * n] = i + j * m
    return order


def commutation(m, n):
    """The (m·n)×(m·n) matrix K with vec(Xᵀ) = K vec(X) for every m×n X."""
    return np.eye(int(m) * int(n))[np.asarray(_commutation_order(m, n))]


def commute_rows(a, m, n):
    """commutation(m, n) @ a without the (m·n)×(m·n) matrix: a row permutation."""
    return a[np.asarray(_commutation_order(m, n))]


def _conform(name, a, expected, sizes):
    # ``a`` as the declared shape ``expected`` (numbers and dimension names),
    # binding each name in ``sizes`` (name -> (size, input)) across inputs
    shape = tuple(a.shape)
    if expected == ():
        if a.ndim <= 2 and all(s == 1 for s in shape):
            return a.reshape(())
        raise ValueError(f"{name}: expected a scalar, got an array of shape {shape}")
    if a.ndim == 1 and expected[1] == 1 and expected[0] != 1:
        a, shape = a.reshape(-1, 1), (shape[0], 1)  # a 1-D array for a column vector
    wanted = "(" + ", ".join(str(d) for d in expected) + ")"
    if a.ndim != 2:
        hint = " (a 1-D array stands only for a column vector)" if a.ndim == 1 else ""
        raise ValueError(f"{name}: expected a 2-D array of shape {wanted}, got shape {shape}{hint}")
    for d, size in zip(expected, shape):
        if isinstance(d, str) and "*" not in d:
            bound = sizes.setdefault(d, (size, name))
            if bound[0] != size:
                raise ValueError(f"{name}: expected shape {wanted}, got {shape}, but {d} = {bound[0]} "
                                 f"(from {bound[1]})")
        elif isinstance(d, int) and d != size:
            raise ValueError(f"{name}: expected shape {wanted}, got {shape}")
    return a


HELPERS = {f.__name__: f for f in (sigmoid, softmax, log_softmax, logsumexp, diag, vec, commutation,
                                   commute_rows)}
# every function whose source a generated module may carry, in a fixed order
SOURCES = {f.__name__: f for f in (_vector_axis, _commutation_order, _conform, *HELPERS.values())}


def source(name: str) -> str:
    """The source text of the runtime function ``name``."""
    return inspect.getsource(SOURCES[name])


def calls(text: str, names, own: str = "") -> list:
    """The names (of ``names``) that ``text`` calls, outside its comments and docstrings."""
    code = re.sub(r'""".*?"""|#[^\n]*', "", text, flags=re.S)
    return [h for h in names if h != own and re.search(rf"\b{h}\(", code)]


def helper_source(names) -> str:
    """Source text defining the named helpers (and the private helpers they
    call), in a fixed order."""
    wanted, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack += calls(source(name), SOURCES, name)
    return "\n\n\n".join(source(f).strip("\n") for f in SOURCES if f in wanted) + "\n"


# The source of every helper: a generated module that wants them all includes this.
RUNTIME_SOURCE = helper_source(HELPERS)


def namespace() -> dict:
    """The names a numpy spelling may use: ``np`` and the helpers."""
    return {"np": np, **HELPERS}
