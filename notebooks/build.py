"""Write and execute the notebooks of this folder, outputs included.

    python notebooks/build.py            # all of them
    python notebooks/build.py cookbook   # those whose name contains "cookbook"

Each notebook is a list of cells here (markdown strings and code strings),
so a change to matcalc's output is one rerun away from the committed
notebooks.  Needs nbformat, nbclient, ipykernel and ruff (the `test` extra).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def setup(*display: str, numpy: bool = True) -> str:
    """The first code cell of every notebook: matcalc from this clone when run
    inside it (installed or not), numpy, and the display helpers the notebook
    uses (only those: the notebooks are linted as code)."""
    lines = ["import pathlib",
             "import sys",
             'if (pathlib.Path.cwd().parent / "matcalc").is_dir():',
             "    sys.path.insert(0, str(pathlib.Path.cwd().parent))  # this clone's matcalc"]
    lines += ["import numpy as np"] if numpy else []
    lines += [f"from IPython.display import {', '.join(display)}"] if display else []
    return "\n".join(lines + ["import matcalc as mc"])


def md(text: str) -> tuple[str, str]:
    return ("markdown", text.strip("\n"))


def code(text: str, *tags: str) -> tuple[str, str, tuple]:
    return ("code", text.strip("\n"), tags)


CS224N = [
    md("""
# The CS224n gradients, end to end

The one-hidden-layer network of the CS224n gradient notes, for one example
$x$ (a row vector) with a one-hot label $y$:

$$z = x W + b_1,\\quad h = \\operatorname{relu}(z),\\quad \\theta = h U + b_2,\\quad
\\hat y = \\operatorname{softmax}(\\theta),\\quad J = \\operatorname{CE}(y, \\hat y).$$

matcalc derives every gradient the way the notes do (error terms $\\delta$,
each with its shape, the identity used), proves it numerically, and compiles
it to numpy.  At the end, a few epochs of SGD with the compiled gradient.
"""),
    code(setup("Latex", "display")),
    md("## The program and its shapes\nThe sizes D, H, C stay symbolic; `y` is declared one-hot."),
    code('''
program = mc.Program("""
x : (1, D)
W : (D, H)
b1 : (1, H)
U : (H, C)
b2 : (1, C)
y : (1, C) onehot
z = x W + b1
h = relu(z)
θ = h U + b2
ŷ = softmax(θ)
J = CE(y, ŷ)
""")
program'''),
    md("## Every gradient\nA result shows itself as mathematics: definitions, the assumption the softmax-CE "
       "identity needs, the error terms $\\delta_1 = \\partial J/\\partial\\theta$ and "
       "$\\delta_2 = \\partial J/\\partial z$, and the four gradients with their shapes and rules."),
    code('''
result = program.derive(wrt=["U", "b2", "W", "b1"])
result'''),
    md("The same in text, as `matcalc derive -f cs224n.mc --wrt U,b2,W,b1` prints it:"),
    code("print(repr(result))"),
    md("In bold, as the notes typeset vectors and matrices (`result.latex(bold=True)` is the LaTeX source):"),
    code('''
from matcalc.outputs.latex import render_latex_display
display(Latex(render_latex_display(result, bold=True)))'''),
    md("## The steps\nThe chain rule through the program's names, one line per step with the identity "
       "from `rules/` and the shape, and the shape check at the end (`--steps`)."),
    code('''
from matcalc.outputs.render import render_steps_text
print(render_steps_text(result))'''),
    code('''
from matcalc.outputs.latex import render_steps_display
display(Latex(render_steps_display(result, "W")))'''),
    md("## The check\nCentral finite differences at random inputs, with distinct sizes for D, H and C so "
       "that a transposed answer cannot pass."),
    code('''
check = result.check(seed=0)
assert check.ok
print(f"max rel err {check.max_rel_error:.1e} at sizes {check.dims}")'''),
    md("## Compile\n`compile()` turns the derivation into a numpy function `gradients(**inputs)`; "
       "this is its source (`--format numpy`):"),
    code('''
grad = result.compile()
print(result.numpy())'''),
    md("## SGD on a toy problem\nThree Gaussian blobs in four dimensions, 16 hidden units, one example at a "
       "time (learning rate 0.01).  The loss is computed by a plain numpy forward pass; "
       "the gradient is the compiled one."),
    code('''
rng = np.random.default_rng(0)
D, H, C, per_class = 4, 16, 3, 20
centres = 2.5 * rng.normal(size=(C, D))
X = np.vstack([centres[c] + rng.normal(size=(per_class, D)) for c in range(C)])
labels = np.repeat(np.arange(C), per_class)
Y = np.eye(C)[labels]

params = {"W": 0.3 * rng.normal(size=(D, H)), "b1": np.zeros((1, H)),
          "U": 0.3 * rng.normal(size=(H, C)), "b2": np.zeros((1, C))}

def mean_loss(p):
    z = X @ p["W"] + p["b1"]
    theta = np.maximum(z, 0) @ p["U"] + p["b2"]
    theta = theta - theta.max(axis=1, keepdims=True)
    log_p = theta - np.log(np.exp(theta).sum(axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_p, axis=1))

losses = [mean_loss(params)]
for _ in range(10):
    for i in rng.permutation(len(X)):
        g = grad(x=X[i:i + 1], y=Y[i:i + 1], **params)
        for name in params:
            params[name] -= 0.01 * g[name]
    losses.append(mean_loss(params))

for epoch, loss in enumerate(losses):
    print(f"epoch {epoch}:  loss {loss:.4f}")
assert all(later < earlier for earlier, later in zip(losses, losses[1:]))'''),
    md("## Errors read like the command line\nA shape mismatch is a `ShapeError` with both shapes "
       "(this cell fails on purpose):"),
    code('mc.derive("x W", wrt="W", where=["x: (1, D)", "W: (H, C)"])', "raises-exception"),
]


TWO_LAYER = [
    md("""
# A two-layer net on a batch, with L2

The differential-forms derivation: a batch $X$ of $N$ rows, one-hot labels
$Y$, biases broadcast over the batch, the mean cross-entropy and an L2 penalty
on both weight matrices:

$$L = \\frac{1}{N}\\operatorname{CE}(Y, \\operatorname{softmax}(\\operatorname{relu}(X W_1 + b_1) W_2 + b_2))
+ \\lambda\\left(\\Vert W_1\\Vert_F^2 + \\Vert W_2\\Vert_F^2\\right).$$

Broadcasting is differentiated honestly: a bias added to every row gets the
sum of its error term over the batch, $\\mathbf{1}^\\top \\delta$.
"""),
    code(setup()),
    code('''
program = mc.Program("""
X : (N, D)
Y : (N, C) onehot
λ : ()
Z1 = X W1 + b1
H1 = relu(Z1)
Z2 = H1 W2 + b2
P = softmax(Z2)
L = CE(Y, P) / N + λ (‖W1‖_F^2 + ‖W2‖_F^2)
""")
program'''),
    md("The hidden width was never declared: matcalc names it `n`.  The gradients:"),
    code('''
result = program.derive(wrt=["W1", "b1", "W2", "b2"])
result.check(seed=1)
result'''),
    md("The steps for $W_1$: the chain through $Z_2$, $H_1$, $Z_1$, and the two paths (data and "
       "penalty) meeting in $\\partial L/\\partial W_1$."),
    code('''
from matcalc.outputs.render import render_steps_text
print(render_steps_text(result).split("\\n\\n")[0])'''),
    md("## Compiled against hand-written backprop\nThe usual numpy backward pass, written out by hand "
       "(CS231n style):"),
    code('''
def backprop(X, Y, W1, b1, W2, b2, lam):
    N = X.shape[0]
    Z1 = X @ W1 + b1
    H1 = np.maximum(Z1, 0)
    Z2 = H1 @ W2 + b2
    P = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dZ2 = (P - Y) / N
    dW2 = H1.T @ dZ2 + 2 * lam * W2
    db2 = dZ2.sum(axis=0, keepdims=True)
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    dW1 = X.T @ dZ1 + 2 * lam * W1
    db1 = dZ1.sum(axis=0, keepdims=True)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}'''),
    code('''
rng = np.random.default_rng(0)
N, D, n, C = 64, 20, 32, 5
inputs = {"X": rng.normal(size=(N, D)), "Y": np.eye(C)[rng.integers(C, size=N)],
          "W1": 0.1 * rng.normal(size=(D, n)), "b1": 0.1 * rng.normal(size=(1, n)),
          "W2": 0.1 * rng.normal(size=(n, C)), "b2": 0.1 * rng.normal(size=(1, C)),
          "lambda": 1e-3}   # λ is spelled lambda, a keyword: pass it in a dict
grad = result.compile()
ours = grad(**inputs)
hand = backprop(*(inputs[k] for k in ("X", "Y", "W1", "b1", "W2", "b2", "lambda")))
for name in ours:
    assert np.allclose(ours[name], hand[name], rtol=1e-10, atol=1e-12), name
    print(f"{name:3} {str(ours[name].shape):9} allclose: True   max |diff| "
          f"{np.abs(ours[name] - hand[name]).max():.1e}")'''),
    md("Timing (the compiled module computes each shared term once, as the hand-written one does):"),
    code('''
import timeit
repeat = 300
t_ours = min(timeit.repeat(lambda: grad(**inputs), number=repeat, repeat=3)) / repeat
t_hand = min(timeit.repeat(lambda: backprop(*(inputs[k] for k in ("X", "Y", "W1", "b1", "W2", "b2", "lambda"))),
                           number=repeat, repeat=3)) / repeat
print(f"compiled matcalc gradient: {1e6 * t_ours:7.1f} µs per call")
print(f"hand-written backprop:     {1e6 * t_hand:7.1f} µs per call")'''),
]


COOKBOOK = [
    md("""
# A tour of the Matrix Cookbook

Trace, determinant, inverse and norm identities: each derived by matcalc,
shown as LaTeX, and checked numerically against finite differences (at
distinct sizes, so a transposed answer cannot pass).  Gradients have the shape
of the variable (the layout of the notes): $\\partial\\, \\operatorname{tr}(A X B)/\\partial X
= A^\\top B^\\top$ is $m \\times n$ when $X$ is.
"""),
    code(setup("Markdown", "display", numpy=False)),
    code('''
from matcalc.language.latex_expr import latex_shape, to_latex

identities = [
    # (objective, variable, declarations)
    ("tr(A X B)", "X", []),
    ("tr(Xᵀ A X)", "X", []),
    ("tr(X²)", "X", []),
    ("tr(X⁻¹ A)", "X", []),
    ("log(det(X))", "X", ["X: (n, n) spd"]),
    ("logdet(X)", "X", []),
    ("det(X)", "X", []),
    ("aᵀ X b", "X", []),
    ("aᵀ X⁻¹ b", "X", []),
    ("aᵀ Xᵀ X b", "X", []),
    ("xᵀ A x", "x", []),
    ("xᵀ A x", "x", ["A: (n, n) symmetric"]),
    ("‖X w − y‖²", "w", []),
    ("‖X‖_F²", "X", []),
    ("‖x‖", "x", []),
]

rows = ["| $f$ | declared | $\\\\partial f / \\\\partial X$ | shape | check |", "|:--|:--|:--|:--|:--|"]
for objective, wrt, where in identities:
    r = mc.derive(objective, wrt=wrt, where=where)
    check = r.check(seed=0)
    assert check.ok, objective
    f = to_latex(r.program.objective)
    rows.append(f"| ${f}$ | {', '.join(where) or ''} | ${to_latex(r.gradients[wrt])}$ "
                f"| ${latex_shape(r.program.shapes[wrt])}$ | ok, {check.max_rel_error:.0e} |")
display(Markdown("\\n".join(rows)))'''),
    md("## One identity in full\n$\\partial\\, a^\\top X^{-1} b / \\partial X = -X^{-\\top} a b^\\top X^{-\\top}$, "
       "from $d(X^{-1}) = -X^{-1}\\, dX\\, X^{-1}$ and the trace trick:"),
    code('''
r = mc.derive("aᵀ X⁻¹ b", wrt="X")
r.check()
r'''),
    code('''
from matcalc.outputs.render import render_steps_text
print(render_steps_text(r))'''),
    md("## Second order\nThe Hessian of $x^\\top A x$ (and of least squares) with `order=2`:"),
    code('''
h = mc.derive("xᵀ A x", wrt="x", order=2)
h.check()
h'''),
    md("## To SymPy\nThe matrix-algebra part exports to SymPy matrix expressions, dimensions as symbols "
       "(`--format sympy`):"),
    code('''
export = mc.derive("tr(A X B) + ‖X‖_F²", wrt="X").to_sympy()
print(export)
export.gradients["X"]'''),
    md("Explicit at small sizes, the SymPy gradient of $\\log\\det X$ is the inverse transpose:"),
    code('''
import sympy
export = mc.derive("logdet(X)", wrt="X").to_sympy()
n, X = export.symbols["n"], export.symbols["X"]
sample = sympy.Matrix([[2, 1], [0, 3]])
export.gradients["X"].subs(n, 2).xreplace({X.subs(n, 2): sample}).doit(), sample.inv().T'''),
]

FITTING = [
    md("""
# Fitting with the emitted code

Every module matcalc emits has `value_and_gradients(**inputs)`: the
objective and its gradients in one pass, which is what
`scipy.optimize.minimize(..., jac=True)` and a training loop want.  The same
module runs on numpy (the default), on `jax.numpy` (jit-able) and on
`torch` (tensors in, tensors out, on the inputs' device).
"""),
    code(setup()),
    md("""
## Logistic regression with L2, by L-BFGS

Bishop's negative log-likelihood of a logistic model, averaged over the
batch, plus an L2 penalty.  The compiled function takes `w` as a 1-D array
(a 1-D array stands for a column vector) and checks every input's shape.
"""),
    code('''
result = mc.derive("-sum(y .* log(σ(X w)) + (1 - y) .* log(1 - σ(X w))) / N + λ/2 ‖w‖^2", wrt="w",
                   where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)", "λ: ()"])
result'''),
    code('''
from scipy.optimize import minimize

rng = np.random.default_rng(0)
N, D = 200, 5
X = rng.standard_normal((N, D))
w_true = rng.standard_normal(D)
y = (rng.uniform(size=N) < 1 / (1 + np.exp(-X @ w_true))).astype(float).reshape(-1, 1)

value_and_gradients = result.compile(function="value_and_gradients")

def fun(w):
    value, gradients = value_and_gradients(X=X, w=w, y=y, λ=0.1)
    return value, gradients["w"].ravel()

fit = minimize(fun, np.zeros(D), jac=True, method="L-BFGS-B")
fit.success, fit.nit, round(float(fit.fun), 6)'''),
    md("The same fit with the gradient from autodiff (`jax.value_and_grad` of the loss written in `jax.numpy`):"),
    code('''
import importlib.util
if importlib.util.find_spec("jax"):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def loss(w):
        p = 1 / (1 + jnp.exp(-X @ w))
        return -jnp.sum(y.ravel() * jnp.log(p) + (1 - y.ravel()) * jnp.log(1 - p)) / N + 0.05 * w @ w

    autodiff = minimize(jax.value_and_grad(loss), np.zeros(D), jac=True, method="L-BFGS-B")
    print("same optimum:", np.allclose(fit.x, autodiff.x, atol=1e-6),
          f" max |Δw| = {np.abs(fit.x - autodiff.x).max():.1e}")
    assert np.allclose(fit.x, autodiff.x, atol=1e-6)
else:
    print("jax is not installed here (pip install '.[jax]'): no autodiff comparison")'''),
    md("""
## A small MLP trained with the torch module

The two-layer network on a batch, as a program; the gradients are emitted
for torch, compared once with `torch.autograd`, then used for plain SGD.
"""),
    code('''
net = mc.Program("""
X : (N, D)
Y : (N, C) onehot
W1 : (D, H)
b1 : (1, H)
b2 : (1, C)
H1 = relu(X W1 + b1)
P = softmax(H1 W2 + b2)
L = CE(Y, P) / N
""").derive(wrt=["W1", "b1", "W2", "b2"])
net'''),
    code('''
if importlib.util.find_spec("torch"):
    import torch
    step = net.compile("torch", "value_and_gradients")
    g = torch.Generator().manual_seed(0)
    N, D, H, C = 256, 4, 16, 3
    f64 = dict(dtype=torch.float64)
    Xt = torch.randn(N, D, generator=g, **f64)
    labels = (Xt[:, 0] > 0).long() + (Xt[:, 1] > 0.5).long()
    Yt = torch.nn.functional.one_hot(labels, C).to(torch.float64)
    params = {"W1": 0.5 * torch.randn(D, H, generator=g, **f64), "b1": torch.zeros(1, H, **f64),
              "W2": 0.5 * torch.randn(H, C, generator=g, **f64), "b2": torch.zeros(1, C, **f64)}

    # once: the emitted gradients against autograd
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits = torch.relu(Xt @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"]
    torch.nn.functional.cross_entropy(logits, labels).backward()
    value, grads = step(X=Xt, Y=Yt, **params)
    gap = max(float((grads[k] - leaves[k].grad).abs().max()) for k in params)
    print(f"max |emitted - autograd| = {gap:.1e}")
    assert gap < 1e-12

    for _ in range(300):
        value, grads = step(X=Xt, Y=Yt, **params)
        params = {k: v - 0.5 * grads[k] for k, v in params.items()}
    hidden = torch.relu(Xt @ params["W1"] + params["b1"])
    accuracy = (hidden @ params["W2"] + params["b2"]).argmax(1).eq(labels).double().mean()
    print(f"loss {float(value):.3f}, training accuracy {float(accuracy):.2f}")
else:
    print("torch is not installed here (pip install '.[torch]'): the MLP is not trained")'''),
]

CHECKING = [
    md("""
# Checking homework answers, and grading a course

`matcalc check` (and `matcalc.check_answer` in Python) says whether a
student's derivative is right — a gradient, a Jacobian or a Hessian — and if
not, *why*, in words a student understands: a wrong shape, a transpose (a
layout mistake), a constant factor, a wrong sign, a forgotten sum or 1/N over
the batch, a dropped activation mask, an answer right only for a symmetric
matrix, or a numeric counterexample.

Equivalence is decided numerically: the answer and the true derivative are
evaluated at 3 random points at each of 2 size assignments (distinct sizes, so
a transpose cannot hide in a square matrix), never by comparing strings.
`matcalc grade` does it for a class, with points and partial credit, and
writes reports for Gradescope and Canvas.
"""),
    code(setup() + """
from matcalc.faces.answers import Problem, check_answer
DATA = pathlib.Path.cwd().parent / "tests" / "data"

def show(problem, answers, **kw):
    for a in answers:
        v = check_answer(problem, a, **kw)
        print(f"{a:40} {v.kind:15} {v.diagnosis.splitlines()[0]}")"""),
    md("""
## The CS224n network: ∂J/∂W

The problem is the program of the CS224n gradient notes.  An answer may use
the program's names (`h`, `ŷ`, `z`) and its own helper definitions.  The δ
terms matcalc derives are *not* given by default — deriving δ2 is the
homework — unless the problem allows them (`allow=["delta1"]`).
"""),
    code("""
print((DATA / "cs224n.mc").read_text())
strict = Problem("J", "W", program=(DATA / "cs224n.mc").read_text())
show(strict, ["x^T delta2", "delta2 = (ŷ - y) Uᵀ ∘ step(z); xᵀ delta2"])
cs224n = Problem("J", "W", program=strict.program, allow=["delta1"])
show(cs224n, ["xᵀ (δ1 Uᵀ ∘ step(z))"])"""),
    md("## Every kind of mistake"),
    code("""
show(cs224n, [
    "d = (ŷ - y) Uᵀ ∘ sgn(h); xᵀ d",   # right, with an inline helper (sgn(h) = step(z))
    "(δ1 Uᵀ ∘ step(z))ᵀ x",            # the transpose
    "2 xᵀ (δ1 Uᵀ ∘ step(z))",          # a stray factor
    "-xᵀ (δ1 Uᵀ ∘ step(z))",           # the sign
    "xᵀ δ1",                           # a wrong shape
    "xᵀ δ1 Uᵀ",                        # the relu mask dropped
    "xᵀ (δ1 Uᵀ ∘ h)",                  # a counterexample
    "xᵀ δ1 + ) (",                     # garbage
])"""),
    md("""
A counterexample comes with the sizes, the entry where the two differ most,
both values and the random inputs, so the student can reproduce it.
"""),
    code("""
c = check_answer(cs224n, "xᵀ (δ1 Uᵀ ∘ h)").counterexample
{k: c[k] for k in ("sizes", "entry", "expected", "given")}"""),
    md("""
## A Jacobian problem

For a vector-valued f the answer is the Jacobian, in numerator layout
((∂f/∂x)ᵢⱼ = ∂fᵢ/∂xⱼ: rows follow f) unless the problem names another.  The
Jacobian of tanh(W x) is diag(1 − tanh(W x)∘tanh(W x)) W; its transpose is
the denominator layout — a layout mistake here.
"""),
    code("""
jac = {"f": "tanh(W x)", "wrt": "x", "where": ["W: (m, n)", "x: (n, 1)"]}
show(jac, ["diag(1 - tanh(W x) ∘ tanh(W x)) W",
           "Wᵀ diag(1 - tanh(W x) ∘ tanh(W x))",
           "2 diag(1 - tanh(W x) ∘ tanh(W x)) W",
           "W"])
show({**jac, "layout": "denominator"}, ["Wᵀ diag(1 - tanh(W x) ∘ tanh(W x))"])
show({"f": "softmax(x)", "wrt": "x"}, ["diag(softmax(x)) - softmax(x) softmax(x)ᵀ"])"""),
    md("""
## Hessians (`order = 2`, `--order 2` on the command line)

The same diagnoses; `2 A` for the Hessian of xᵀ A x is right only when A is
symmetric, and matcalc says so.
"""),
    code("""
show({"f": "||A x - b||^2", "wrt": "x", "order": 2}, ["2 Aᵀ A", "Aᵀ A", "2 A Aᵀ"])
show({"f": "x^T A x", "wrt": "x", "order": 2}, ["A + Aᵀ", "2 A"])"""),
    md("""
## LaTeX answers

Everyday LaTeX is read into the same expression: `\\mathbf`, `\\top`, `^{T}`,
`\\circ`, `\\odot`, `\\frac`, `\\hat{y}`, `\\delta_1`, the indicator
`\\mathbb{1}[z > 0]` (= step(z)), `X^-1` ...
"""),
    code("""
for a in [r"\\mathbf{x}^\\top \\left( \\delta_1 U^\\top \\circ \\mathbb{1}[z > 0] \\right)",
          r"\\mathbf{x}^{T} \\left( (\\hat{y} - y) U^\\top \\odot \\mathbb{1}\\{z>0\\} \\right)",
          r"\\frac{1}{2} \\mathbf{x}^\\top (\\delta_1 U^\\top \\circ [z > 0])"]:
    v = check_answer(cs224n, a)
    print(f"{v.kind:8} read as {v.answer_text}")"""),
    md("""
## A student's numpy code

`matcalc.check_function(problem, fn)` calls a numpy function at the same
random points, with the problem's inputs as keyword arguments (2-D arrays,
scalars as floats), and judges what it returns (`matcalc check PROBLEM
--code hw1.py:grad_W` does it for a file, in a separate process with limits).
Here ∂J/∂W of the CS224n network over a batch, with the mean loss:
"""),
    code("""
batch = Problem("J", "W", program=\"\"\"
X : (N, D)
Y : (N, C) onehot
Z = X W + b1
H = relu(Z)
P = softmax(H U + b2)
J = CE(Y, P) / N\"\"\")

def grad_W(X, W, b1, U, b2, Y):
    Z = X @ W + b1
    T = np.maximum(Z, 0) @ U + b2
    P = np.exp(T - T.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    delta2 = (P - Y) / X.shape[0] @ U.T * (Z > 0)
    return X.T @ delta2

for fn in [grad_W, lambda **kw: grad_W(**kw).T, lambda **kw: grad_W(**kw) * kw["X"].shape[0],
           lambda X, **kw: X @ kw["W"].T]:
    v = mc.check_function(batch, fn)
    print(f"{v.kind:10} {v.diagnosis.splitlines()[0]}")"""),
    md("""
## Grading a class: points, partial credit, anticipated mistakes

A problems file (TOML or JSON) gives each problem its `points`, the `credit`
each kind of mistake earns, and anticipated mistakes with their own message
and credit.  A problem matcalc cannot judge (here: `wrt = "y"`, which the
objective does not contain) is a row with its reason; the others are graded.
"""),
    code("""
import csv
import json
import subprocess
import tempfile
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "cs224n.mc").write_text((DATA / "cs224n.mc").read_text())  # a problem's file: beside the problems
(folder / "hw1.toml").write_text(\"\"\"
[[problems]]
id = "W"
f = "J"
wrt = "W"
file = "cs224n.mc"
allow = ["delta1"]
points = 4
credit = { transpose = 0.5, factor = 0.25 }

[[problems.expect]]
answer = "x^T (yhat - y) U^T"
credit = 0.5
message = "You dropped the relu mask: δ2 = δ1 Uᵀ ∘ step(z)."

[[problems]]
id = "jac"
f = "tanh(W x)"
wrt = "x"
where = ["W: (m, n)", "x: (n, 1)"]
points = 2
credit = { transpose = 0.5 }

[[problems]]
id = "bad"
f = "A x"
wrt = "y"
\"\"\")
(folder / "answers.csv").write_text(
    "student,W,jac,bad\\n"
    "ann,xᵀ (δ1 Uᵀ ∘ step(z)),diag(1 - tanh(W x) ∘ tanh(W x)) W,A\\n"
    "ben,(δ1 Uᵀ ∘ step(z))ᵀ x,Wᵀ diag(1 - tanh(W x) ∘ tanh(W x)),A\\n"
    "cy,xᵀ (ŷ - y) Uᵀ,W,A\\n")

def matcalc(*args):
    done = subprocess.run([sys.executable, "-m", "matcalc", *map(str, args)], capture_output=True, text=True,
                          cwd=pathlib.Path.cwd().parent)
    print(done.stdout + done.stderr)

matcalc("grade", folder / "answers.csv", "--problems", folder / "hw1.toml", "--report", folder / "report.csv")
for row in csv.DictReader(open(folder / "report.csv", encoding="utf-8")):
    print(f"{row['student']:4} {row['problem']:4} {row['points']:>4}  {row['feedback'][:110]}")"""),
    md("""
## A Gradescope export

In a Gradescope autograder, grade the one submission and write
`results.json` (`score`, `max_score`, and a test per problem with its
points and the feedback as `output`):
"""),
    code("""
(folder / "submission.jsonl").write_text(json.dumps(
    {"student": "ben", "W": "(δ1 Uᵀ ∘ step(z))ᵀ x", "jac": "diag(1 - tanh(W x) ∘ tanh(W x)) W", "bad": "A"}))
matcalc("grade", folder / "submission.jsonl", "--problems", folder / "hw1.toml",
        "--report", folder / "results.json", "--format", "gradescope")
print((folder / "results.json").read_text())"""),
    md("""
## A Canvas gradebook import

One row per student, one column for the assignment with the points (and
a `Points Possible` row); the feedback goes beside it in `<OUT>.feedback.csv`,
since a gradebook import carries no comments.
"""),
    code("""
matcalc("grade", folder / "answers.csv", "--problems", folder / "hw1.toml",
        "--report", folder / "grades.csv", "--format", "canvas", "--assignment", "Homework 1")
print((folder / "grades.csv").read_text())"""),
]


NOTEBOOKS = {
    "checking_answers.ipynb": CHECKING,
    "cs224n_gradients.ipynb": CS224N,
    "two_layer_batch_net.ipynb": TWO_LAYER,
    "matrix_cookbook.ipynb": COOKBOOK,
    "fitting.ipynb": FITTING,
}


def build(name: str, cells: list) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, text, *rest in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text)
            if rest and rest[0]:
                cell.metadata["tags"] = list(rest[0])
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding changes only what changed
        cell["id"] = f"{Path(name).stem.replace('_', '-')}-{i}"
    NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, HERE / name)
    # imports sorted as ruff sorts the package's (the notebooks are linted as code)
    subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--select", "I", "--fix", str(HERE / name)],
                   check=True)
    print(f"wrote {HERE / name}")


def main(argv: list[str]) -> int:
    wanted = [n for n in NOTEBOOKS if not argv or any(a in n for a in argv)]
    for name in wanted:
        build(name, NOTEBOOKS[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
