"""Array libraries that emitted code runs on: numpy (the default), jax and torch.

One code generator (``matcalc.outputs.codegen``) writes every module; a ``Backend``
says how each library spells what that generator needs beyond the function
table: reading an input, the constant matrices, a 1×1 product as a scalar,
the inverse and powers, and the runtime helpers (``softmax``, ``logsumexp``,
``commute_rows`` ...).  numpy and jax share the numpy spellings (``jax.numpy``
is numpy's interface); torch has spellings of its own where numpy's differ.

The runtime helpers of each backend are source text copied into the module,
so a generated module imports its array library and nothing else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..language import runtime
from ..language.errors import MatcalcError


@dataclass(frozen=True)
class Backend:
    name: str
    header: str  # the module's imports
    read: str  # an input value -> an array; {value}
    eye: str  # {n}
    ones: str  # {rows}, {cols}
    zeros: str  # {rows}, {cols}
    item: str  # appended to a 1×1 array to make it a scalar
    scalar_input: str  # appended to a conformed scalar input
    number: str  # a scalar as an argument of an elementwise function; {value}
    matrix: str  # a scalar as a 1×1 matrix; {value}
    inv: str  # {a}
    power: str  # elementwise power with a symbolic exponent; {a}, {k}
    matrix_power: str  # {a}, {k}
    broadcast: str  # {a} repeated (a view, where the backend has one) to {rows}×{cols}
    # a product with a transposed operand, contracting axes {i} of {a} and {j}
    # of {b} without forming the transpose (None: write ``a.T @ b``)
    contract: str | None = None
    helpers: dict = field(default_factory=dict)  # helper name -> source text
    spellings: dict = field(default_factory=dict)  # function name -> spelling over a0, a1, a2
    like: bool = False  # constants take the dtype and device of the first input (``_like``)

    def spell(self, function: str, numpy_spelling: str) -> str:
        """The spelling of a function-table entry on this backend."""
        if function in self.spellings:
            return self.spellings[function]
        if self.name == "torch":
            text = re.sub(r"\bnp\.", "torch.", numpy_spelling)
            if re.search(r"\.astype\(|order=|np\.", text):
                raise MatcalcError(f"the function {function} has no torch spelling: its numpy spelling is "
                                   f"{numpy_spelling}")
            return text
        return numpy_spelling

    def helper_source(self, names) -> str:
        """Source text defining the named helpers (and the private helpers
        they call), in a fixed order."""
        wanted, stack = set(), list(names)
        while stack:
            name = stack.pop()
            if name not in wanted:
                wanted.add(name)
                stack += runtime.calls(self.helpers[name], self.helpers, name)
        return "\n\n\n".join(src.strip("\n") for h, src in self.helpers.items() if h in wanted) + "\n"


# -- numpy and jax: numpy's interface ------------------------------------------
_NUMPY_HELPERS = {name: runtime.source(name) for name in runtime.SOURCES}

NUMPY = Backend(
    name="numpy", header="import numpy as np",
    read="np.asarray({value}, dtype=float)",
    eye="np.eye({n})", ones="np.ones(({rows}, {cols}))", zeros="np.zeros(({rows}, {cols}))",
    item=".item()", scalar_input=".item()", number="np.float64({value})", matrix="np.atleast_2d({value})",
    inv="np.linalg.inv({a})", power="np.power({a}, {k})", matrix_power="np.linalg.matrix_power({a}, {k})",
    broadcast="np.broadcast_to({a}, ({rows}, {cols}))",
    helpers=_NUMPY_HELPERS,
)

# jax traces the function under jit: a scalar stays a 0-d array (``.item()``
# would ask for a concrete value), and nothing is assigned in place.
JAX = Backend(
    name="jax", header="import jax.numpy as np",
    read="np.asarray({value}, dtype=float)",
    eye="np.eye({n})", ones="np.ones(({rows}, {cols}))", zeros="np.zeros(({rows}, {cols}))",
    item=".reshape(())", scalar_input="", number="np.asarray({value}, dtype=float)",
    matrix="np.atleast_2d({value})",
    inv="np.linalg.inv({a})", power="np.power({a}, {k})", matrix_power="np.linalg.matrix_power({a}, {k})",
    broadcast="np.broadcast_to({a}, ({rows}, {cols}))",
    # XLA on the CPU copies a transposed operand of a product (12.8 MB for a
    # 4000×400 Xᵀ v): a dot that contracts the right axes does not
    contract="np.tensordot({a}, {b}, axes=({i}, {j}))",
    helpers=_NUMPY_HELPERS,
)

# -- torch: tensors in, tensors out, on the inputs' device ---------------------
_TORCH_HELPERS = {
    "_tensor": '''
def _tensor(value, like=None):
    # a tensor keeps its dtype and device (integers become floating point);
    # anything else becomes a float64 tensor on the device of the first input
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.to(torch.float64)
    return torch.as_tensor(value, dtype=torch.float64 if like is None else like.dtype,
                           device=None if like is None else like.device)
''',
    "_like_of": '''
def _like_of(values):
    # the dtype and device of the result: the first floating-point tensor input's
    for value in values:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value
    return torch.zeros((), dtype=torch.float64)
''',
    "_vector_axis": runtime.source("_vector_axis"),
    "_conform": runtime.source("_conform"),
    "sigmoid": '''
def sigmoid(a):
    """σ(a) = 1 / (1 + exp(−a)), elementwise."""
    return torch.sigmoid(a)
''',
    "softmax": '''
def softmax(a):
    """exp(a) / sum(exp(a)) along the vector (each row of a matrix)."""
    return torch.softmax(a, dim=_vector_axis(a))
''',
    "log_softmax": '''
def log_softmax(a):
    """a − logsumexp(a) along the vector (each row of a matrix)."""
    return torch.log_softmax(a, dim=_vector_axis(a))
''',
    "logsumexp": '''
def logsumexp(a):
    """log(sum(exp(a))) of a vector (a number); of each row of an N×C matrix (N×1)."""
    out = torch.logsumexp(a, dim=_vector_axis(a), keepdim=True)
    return out[0, 0] if a.shape[0] == 1 or a.shape[1] == 1 else out
''',
    "diag": '''
def diag(a):
    """A vector -> the diagonal matrix with it; a square matrix -> the column of its diagonal."""
    if a.shape[0] == 1 or a.shape[1] == 1:
        return torch.diagflat(a)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"diag of a {a.shape[0]}×{a.shape[1]} matrix: neither a vector nor square")
    return torch.diagonal(a).reshape(-1, 1)
''',
    "vec": '''
def vec(a):
    """Stack the columns of a into one (m·n)×1 column."""
    return a.T.reshape(-1, 1)
''',
    "reshape_columns": '''
def reshape_columns(a, m, n):
    """a's entries, column by column, as an m×n matrix (the inverse of vec)."""
    return a.T.reshape(int(n), int(m)).T
''',
    "_commutation_order": runtime.source("_commutation_order"),
    "commutation": '''
def commutation(m, n, like=None):
    """The (m·n)×(m·n) matrix K with vec(Xᵀ) = K vec(X) for every m×n X."""
    eye = torch.eye(int(m) * int(n), dtype=torch.float64 if like is None else like.dtype,
                    device=None if like is None else like.device)
    return eye[torch.as_tensor(_commutation_order(m, n), device=eye.device)]
''',
    "commute_rows": '''
def commute_rows(a, m, n):
    """commutation(m, n) @ a without the (m·n)×(m·n) matrix: a row permutation."""
    return a[torch.as_tensor(_commutation_order(m, n), device=a.device)]
''',
    "step": '''
def step(a):
    """1 where a > 0, else 0, in a's dtype."""
    return (a > 0).to(a.dtype)
''',
    "relu": '''
def relu(a):
    return torch.clamp(a, min=0.0)
''',
    "softplus": '''
def softplus(a):
    return torch.nn.functional.softplus(a)
''',
    "_tensors": '''
def _tensors(a, b):
    # a number beside a tensor becomes a tensor of its dtype and device
    return [x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=y.dtype, device=y.device)
            for x, y in ((a, b), (b, a))]
''',
    "maximum": '''
def maximum(a, b):
    return torch.maximum(*_tensors(a, b))
''',
    "minimum": '''
def minimum(a, b):
    return torch.minimum(*_tensors(a, b))
''',
}

TORCH = Backend(
    name="torch", header="import torch",
    read="_tensor({value}, _like)",
    eye="torch.eye({n}, dtype=_like.dtype, device=_like.device)",
    ones="torch.ones(({rows}, {cols}), dtype=_like.dtype, device=_like.device)",
    zeros="torch.zeros(({rows}, {cols}), dtype=_like.dtype, device=_like.device)",
    item=".reshape(())", scalar_input="", number="_tensor({value}, _like)",
    matrix="_tensor({value}, _like).reshape(1, 1)",
    inv="torch.linalg.inv({a})", power="torch.pow({a}, {k})", matrix_power="torch.linalg.matrix_power({a}, {k})",
    broadcast="{a}.expand({rows}, {cols})",
    helpers=_TORCH_HELPERS,
    spellings={
        "relu": "relu(a0)",
        "softplus": "softplus(a0)",
        "step": "step(a0)",
        "det": "torch.linalg.det(a0)",
        "logdet": "torch.linalg.slogdet(a0)[1]",
        "norm": "torch.linalg.norm(a0)",
        "max": "maximum(a0, a1)",
        "min": "minimum(a0, a1)",
        "commutation": "commutation(a0, a1, _like)",
        "reshape": "reshape_columns(a0, a1, a2)",
    },
    like=True,
)

BACKENDS = {b.name: b for b in (NUMPY, JAX, TORCH)}


def backend(name: str) -> Backend:
    """The backend called ``name`` (numpy, jax or torch)."""
    if name not in BACKENDS:
        raise MatcalcError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]
