"""Emitted jax and torch code against each library's own autodiff (issue 19).

    pip install ".[bench]" torch==2.13.0   # jax[cpu], sympy; torch's CPU wheel
    python bench/backends.py [--threads 1] [--rounds 15]

For each case, matcalc's module for the backend (``Result.numpy("jax")`` /
``("torch")``) against:

* jax:   ``jax.jit(jax.grad(f))``, ``jax.jit(jax.hessian(f))``,
         ``jax.jit(lambda w, v: jax.jvp(jax.grad(f), (w,), (v,))[1])``;
         matcalc's jax module under ``jax.jit`` too;
* torch: ``torch.func.grad(f)``, ``torch.func.hessian(f)``,
         ``torch.func.jvp(torch.func.grad(f), ...)``;

and every Hessian against the bare matrix products it needs (the floor on
this CPU): ``Xᵀ (r ∘ X)`` for the logistic Hessian, ``Aᵀ A`` for least squares,
in the same library.  Before timing, each pair is checked to agree
(``allclose``).  Both sides get the same threads (``--threads``: the process
is pinned to that many CPUs before numpy, jax or torch is imported, and
``torch.set_num_threads``); float64 everywhere (``jax_enable_x64``).  Times
are medians of single calls, the implementations alternated call by call
over ``--rounds`` rounds after two untimed warm-up calls (jit compiles then).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from higher import limit_threads  # noqa: E402  (bench/higher.py: pins the CPUs before any import)


def median_times(functions: dict, rounds: int) -> dict:
    """name -> median seconds of one call, calls alternated across functions."""
    for f in functions.values():  # warm-up: jit compiles, caches fill
        f()
        f()
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, f in functions.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def cases(rng):
    import numpy as np

    N, D, H, C = 512, 256, 256, 10
    X = rng.standard_normal((N, D))
    Y = np.eye(C)[rng.integers(0, C, N)]
    net = dict(X=X, Y=Y, W1=0.1 * rng.standard_normal((D, H)), b1=np.zeros((1, H)),
               W2=0.1 * rng.standard_normal((H, C)), b2=np.zeros((1, C)))
    n, d = 4000, 400
    Xl = rng.standard_normal((n, d))
    logistic = dict(X=Xl, w=0.05 * rng.standard_normal((d, 1)), y=(rng.uniform(size=(n, 1)) < 0.5) * 1.0,
                    v=rng.standard_normal((d, 1)))
    A = rng.standard_normal((n, d))
    lsq = dict(A=A, x=rng.standard_normal((d, 1)), b=rng.standard_normal((n, 1)), v=rng.standard_normal((d, 1)))
    return [
        ("two-layer net, gradients (N=512, D=H=256, C=10)", "gradient",
         dict(objective="CE(Y, softmax(relu(X W1 + b1) W2 + b2)) / N",
              where=["X: (N, D)", "Y: (N, C) onehot", "W1: (D, H)", "b1: (1, H)", "W2: (H, C)", "b2: (1, C)"],
              wrt=["W1", "b1", "W2", "b2"]), net),
        ("logistic regression, Hessian (N=4000, D=400)", "hessian",
         dict(objective="-sum(y .* log(σ(X w)) + (1 - y) .* log(1 - σ(X w)))",
              where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)"], wrt=["w"]), logistic),
        ("least squares, Hessian (N=4000, D=400)", "hessian",
         dict(objective="‖A x − b‖^2", where=["A: (N, D)", "x: (D, 1)", "b: (N, 1)"], wrt=["x"]), lsq),
        ("logistic regression, HVP (N=4000, D=400)", "hvp",
         dict(objective="-sum(y .* log(σ(X w)) + (1 - y) .* log(1 - σ(X w)))",
              where=["X: (N, D)", "w: (D, 1)", "y: (N, 1)"], wrt=["w"]), logistic),
    ]


def autodiff_loss(title, lib):
    """The objective written in the library's own array functions, as f(params, data)."""
    if title.startswith("two-layer"):
        def loss(p, d):
            z1 = d["X"] @ p["W1"] + p["b1"]
            h = lib.relu(z1) if lib.__name__ == "torch" else lib.maximum(z1, 0.0)
            z = h @ p["W2"] + p["b2"]
            z = z - z.max(axis=1, keepdims=True) if lib.__name__ != "torch" else z - z.amax(1, keepdim=True)
            logp = z - lib.log(lib.exp(z).sum(**({"axis": 1, "keepdims": True} if lib.__name__ != "torch"
                                                  else {"dim": 1, "keepdim": True})))
            return -(d["Y"] * logp).sum() / d["X"].shape[0]
        return loss
    if title.startswith("logistic"):
        def loss(p, d):
            t = d["X"] @ p["w"]
            # -[y log σ(t) + (1 - y) log(1 - σ(t))] = log(1 + exp(t)) - y t
            return (lib.logaddexp(0 * t, t) - d["y"] * t).sum()
        return loss

    def loss(p, d):
        r = d["A"] @ p["x"] - d["b"]
        return (r * r).sum()
    return loss


def jax_calls(jax, result, title, kind, function, wrt, inputs):
    """(matcalc's call, autodiff's call, the floor's call or None) on jax, each
    a function of no arguments that blocks until its result is ready."""
    jnp = jax.numpy
    arrays = {k: jnp.asarray(v) for k, v in inputs.items()}
    ours = jax.jit(result.compile("jax", function))
    loss = autodiff_loss(title, jnp)
    params = {k: arrays[k] for k in wrt}
    rest = {k: v for k, v in arrays.items() if k not in wrt}
    w = wrt[0]
    if kind == "gradient":
        theirs_f = jax.jit(jax.grad(loss))
        args = (params, rest)
    elif kind == "hessian":
        theirs_f = jax.jit(jax.hessian(lambda x: loss({w: x}, rest)))
        args = (params[w],)
    else:
        theirs_f = jax.jit(lambda x, v: jax.jvp(jax.grad(lambda y: loss({w: y}, rest)), (x,), (v,))[1])
        args = (params[w], arrays["v"])
    floor = None
    if kind == "hessian":
        Xf = arrays.get("X", arrays.get("A"))
        if "X" in arrays:
            s = jax.nn.sigmoid(Xf @ arrays["w"])
            floor_f, floor_args = jax.jit(lambda X, r: X.T @ (r * X)), (Xf, s * (1 - s))
        else:
            floor_f, floor_args = jax.jit(lambda A: A.T @ A), (Xf,)

        def floor():
            return jax.block_until_ready(floor_f(*floor_args))

    def ours_call():
        return jax.block_until_ready(ours(**arrays))

    def theirs_call():
        return jax.block_until_ready(theirs_f(*args))

    return ours_call, theirs_call, floor


def torch_calls(torch, result, title, kind, function, wrt, inputs):
    """(matcalc's call, autodiff's call, the floor's call or None) on torch."""
    arrays = {k: torch.as_tensor(v) for k, v in inputs.items()}
    ours_f = result.compile("torch", function)
    loss = autodiff_loss(title, torch)
    params = {k: arrays[k] for k in wrt}
    rest = {k: v for k, v in arrays.items() if k not in wrt}
    w = wrt[0]
    if kind == "gradient":
        g = torch.func.grad(loss)

        def theirs_call():
            return g(params, rest)
    elif kind == "hessian":
        h = torch.func.hessian(lambda x: loss({w: x}, rest))

        def theirs_call():
            return h(params[w])
    else:
        gw = torch.func.grad(lambda y: loss({w: y}, rest))

        def theirs_call():
            return torch.func.jvp(gw, (params[w],), (arrays["v"],))[1]

    def ours_call():
        return ours_f(**arrays)

    floor = None
    if kind == "hessian":
        if "X" in arrays:
            s = torch.sigmoid(arrays["X"] @ arrays["w"])
            rw = s * (1 - s)

            def floor():
                return arrays["X"].T @ (rw * arrays["X"])
        else:
            def floor():
                return arrays["A"].T @ arrays["A"]
    return ours_call, theirs_call, floor


def run(threads: int, rounds: int) -> None:
    limit_threads(threads)
    import numpy as np

    import matcalc as mc

    rng = np.random.default_rng(0)
    rows = []
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
    except ImportError:
        jax = None
        print("jax is not installed: its rows are skipped")
    try:
        import torch
        import torch.func

        torch.set_num_threads(threads)
    except ImportError:
        torch = None
        print("torch is not installed: its rows are skipped")

    for title, kind, problem, data in cases(rng):
        result = mc.derive(problem["objective"], wrt=",".join(problem["wrt"]), where=problem["where"],
                           order=2 if kind != "gradient" else 1, hvp="v" if kind == "hvp" else None)
        wrt = problem["wrt"]
        function = {"gradient": "gradients", "hessian": "hessians", "hvp": "hvp"}[kind]
        inputs = {k: v for k, v in data.items() if k != "v" or kind == "hvp"}
        for lib_name, lib in (("jax", jax), ("torch", torch)):
            if lib is None:
                continue
            calls = jax_calls if lib_name == "jax" else torch_calls
            ours_call, theirs_call, floor = calls(lib, result, title, kind, function, wrt, inputs)
            # agreement first
            mine = ours_call()
            other = theirs_call()
            mine_v = mine[wrt[0]] if isinstance(mine, dict) else mine
            other_v = other[wrt[0]] if isinstance(other, dict) else other
            a, b = np.asarray(mine_v), np.asarray(other_v)
            if kind == "hessian":
                b = b.reshape(a.shape)
            assert np.allclose(a, b, rtol=1e-8, atol=1e-8), f"{title} on {lib_name}: matcalc and autodiff disagree"
            timed = {"matcalc": ours_call, "autodiff": theirs_call}
            if floor is not None:
                timed["floor"] = floor
            t = median_times(timed, rounds)
            rows.append((title, lib_name, t))
            line = f"{title:48s} {lib_name:6s} matcalc {t['matcalc'] * 1e3:8.2f} ms   autodiff " \
                   f"{t['autodiff'] * 1e3:8.2f} ms   speed-up {t['autodiff'] / t['matcalc']:5.2f}x"
            if "floor" in t:
                line += f"   floor {t['floor'] * 1e3:7.2f} ms ({t['matcalc'] / t['floor']:.2f}x of it)"
            print(line, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    run(args.threads, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
