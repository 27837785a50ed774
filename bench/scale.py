"""Derivation that scales (issue 15): CPU time and printed size of the
derivation for transformer stacks, wide flat sums and deep single
expressions, and the emitted attention gradient against hand-written numpy
backprop and ``jax.jit(jax.grad)``.

    python bench/scale.py all                  # ~2-4 minutes on 2 busy cores
    python bench/scale.py derive               # the derivation families
    python bench/scale.py emitted --threads 2  # emitted code vs hand vs jax

Times are CPU seconds of this process (``time.process_time``), so the
machine's other load barely moves them; each is the best of ``--repeat``
runs after a warm-up.  The emitted-code comparison uses wall time (medians
of alternated runs, the same BLAS / XLA thread count on every side).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from run import machine, mlp_program, set_threads, table  # noqa: E402  (after the path)

# ---------------------------------------------------------------------------
# the families

def attention_program(blocks: int, layer_norm: bool = False) -> tuple[str, list[str]]:
    """Q = X Wq, K = X Wk, V = X Wv, A = softmax(Q Kᵀ / 8), X' = X + A V
    (then a layer norm of each row), ``blocks`` times; J = sum(X_L)."""
    lines = ["X0: (n, d)"] + [f"W{k}{i}: (d, d)" for i in range(1, blocks + 1) for k in "qkv"]
    for i in range(1, blocks + 1):
        x = f"X{i - 1}"
        lines += [f"Q{i} = {x} Wq{i}", f"K{i} = {x} Wk{i}", f"V{i} = {x} Wv{i}",
                  f"A{i} = softmax(Q{i} K{i}ᵀ / 8)"]
        if layer_norm:
            lines += [f"R{i} = {x} + A{i} V{i}", f"M{i} = R{i} - R{i} ones / d",
                      f"S{i} = sqrt((M{i} ∘ M{i}) ones / d + 0.00001)", f"X{i} = M{i} / S{i}"]
        else:
            lines.append(f"X{i} = {x} + A{i} V{i}")
    lines.append(f"J = sum(X{blocks})")
    return "\n".join(lines), [f"W{k}{i}" for i in range(1, blocks + 1) for k in "qkv"]


def flat_sum_program(terms: int) -> tuple[str, list[str]]:
    """J = tr(A1 X B1) + … + tr(AK X BK), written flat."""
    lines = ["X: (n, n)"] + [f"A{i}: (n, n)\nB{i}: (n, n)" for i in range(1, terms + 1)]
    lines.append("J = " + " + ".join(f"tr(A{i} X B{i})" for i in range(1, terms + 1)))
    return "\n".join(lines), ["X"]


def deep_program(levels: int) -> tuple[str, list[str]]:
    """J = sum(tanh(W1 tanh(W2 … tanh(WL x)))), one expression."""
    e = "x"
    for i in range(levels, 0, -1):
        e = f"tanh(W{i} {e})"
    lines = ["x: (n, 1)"] + [f"W{i}: (n, n)" for i in range(1, levels + 1)] + [f"J = sum({e})"]
    return "\n".join(lines), [f"W{i}" for i in range(1, levels + 1)]


def measure(text: str, wrt: list[str], repeat: int) -> tuple[float, float, int]:
    """(derive CPU s, print CPU s, characters printed): best of ``repeat``."""
    import matcalc
    from matcalc.outputs.render import render_text

    best_derive = best_print = float("inf")
    chars = 0
    for _ in range(repeat):
        t = time.process_time()
        result = matcalc.Program(text).derive(wrt=wrt)
        t_derive = time.process_time() - t
        chars = len(render_text(result))
        best_derive = min(best_derive, t_derive)
        best_print = min(best_print, time.process_time() - t - t_derive)
    return best_derive, best_print, chars


def sympy_flat_sum(terms: int) -> tuple[float, bool, float]:
    """SymPy on the same flat sum of traces: CPU seconds of ``diff`` of the
    sum (built with ``+``, as one writes it) and whether that answer is right
    (SymPy 1.14 answers 0 for a sum of two or more traces); then CPU seconds
    of differentiating term by term and adding (the right answer)."""
    import sympy

    n = sympy.Symbol("n")
    X = sympy.MatrixSymbol("X", n, n)
    parts = [(sympy.MatrixSymbol(f"A{i}", n, n), sympy.MatrixSymbol(f"B{i}", n, n)) for i in range(1, terms + 1)]
    t = time.process_time()
    total = sympy.trace(parts[0][0] * X * parts[0][1])
    for a, b in parts[1:]:
        total = total + sympy.trace(a * X * b)
    whole = sympy.diff(total, X)
    t_whole = time.process_time() - t
    t = time.process_time()
    by_term = sympy.Add(*[sympy.diff(sympy.trace(a * X * b), X) for a, b in parts])
    t_terms = time.process_time() - t
    return t_whole, whole == by_term, t_terms


def bench_derive(args) -> str:
    import matcalc

    matcalc.Program(attention_program(1)[0]).derive(wrt=["Wq1"])  # warm-up: grammar, rules
    out = []
    rows, seen = [], {}
    families = [("attention", lambda L: attention_program(L), [1, 4, 16, 64]),
                ("attention + layer norm", lambda L: attention_program(L, True), [1, 4, 16]),
                ("deep single expression", deep_program, [16, 64, 128, 256]),
                ("tanh MLP as a program", lambda L: (mlp_program(L), [f"W{i}" for i in range(1, L + 1)]),
                 [16, 64, 256, 1024])]
    for family, make, sizes in families:
        for L in sizes:
            d, p, chars = measure(*make(L), repeat=args.repeat if L < 256 else 1)
            seen[(family, L)] = (d, chars)
            rows.append((family, L, f"{d:.3f}", f"{p:.3f}", chars, f"{chars / L:.0f}"))
    out += ["### derivation CPU time and printed size (best of "
            f"{args.repeat}; one run from 256)", "",
            table(["family", "blocks / levels", "derive CPU s", "print CPU s", "chars", "chars / level"], rows)]
    growth_ln = seen[("attention + layer norm", 16)][0] / seen[("attention + layer norm", 4)][0]
    ratio_deep = max(seen[("deep single expression", L)][1] / seen[("tanh MLP as a program", L)][1]
                     for L in (16, 64, 256))
    out += ["", f"Attention + layer norm, 4 → 16 blocks: CPU ×{growth_ln:.2f} (target ≤ 8; linear is 4).",
            f"Deep single expression: at most ×{ratio_deep:.2f} the characters of the program form "
            "(16, 64, 256 levels; target ≤ 2)."]

    rows, times = [], {}
    for K in (100, 300, 1000):
        d, p, chars = measure(*flat_sum_program(K), repeat=args.repeat if K < 1000 else 1)
        s, right, s_terms = sympy_flat_sum(K)
        times[K] = d
        rows.append((K, f"{d:.3f}", f"{s:.3f}" + ("" if right else " (answers 0: wrong)"), f"{s / d:.1f}",
                     f"{s_terms:.3f}", chars))
    from matcalc.language.parser import parse_expr

    t = time.process_time()
    parse_expr(" + ".join(f"A{i}" for i in range(1, 10_001)))
    t_parse = time.process_time() - t
    out += ["", "### a flat sum of K traces, tr(A1 X B1) + … + tr(AK X BK), d/dX", "",
            table(["K", "matcalc derive CPU s", "SymPy diff of the sum CPU s", "SymPy / matcalc",
                   "SymPy term by term CPU s", "chars"], rows), "",
            f"100 → 1000 terms: CPU ×{times[1000] / times[100]:.1f} (target ≤ 15; linear is 10).  "
            f"A flat sum of 10⁴ terms (A1 + … + A10000, within the 25,000-token input limit) parses in "
            f"{t_parse:.2f} s."]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# emitted code

def hand_attention_backprop(X, Wq, Wk, Wv):
    """J = sum(X + softmax(X Wq (X Wk)ᵀ / 8) X Wv) and its gradients, written
    the way one writes backprop by hand."""
    import numpy as np

    Q, K, V = X @ Wq, X @ Wk, X @ Wv
    S = Q @ K.T / 8
    E = np.exp(S - S.max(axis=1, keepdims=True))
    A = E / E.sum(axis=1, keepdims=True)
    G = np.ones_like(X)  # ∂J/∂X'
    dA = G @ V.T
    dV = A.T @ G
    dS = A * (dA - (dA * A).sum(axis=1, keepdims=True))
    dQ, dK = dS @ K / 8, dS.T @ Q / 8
    return {"Wq1": X.T @ dQ, "Wk1": X.T @ dK, "Wv1": X.T @ dV}


def _alternated(functions: dict, repeat: int, number: int) -> dict:
    import timeit

    for f in functions.values():  # warm-up (jax compiles here)
        for _ in range(5):
            f()
    times: dict = {k: [] for k in functions}
    for _ in range(repeat):
        for k, f in functions.items():
            times[k] += timeit.repeat(f, number=number, repeat=1)
    return {k: statistics.median(v) / number for k, v in times.items()}


def bench_emitted(args) -> str:
    import numpy as np

    import matcalc

    n, d = args.n, args.d
    text, wrt = attention_program(1)
    result = matcalc.Program(text).derive(wrt=wrt)
    emitted = result.compile()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    W = {k: rng.standard_normal((d, d)) / np.sqrt(d) for k in wrt}
    g_e = emitted(X0=X, **W)
    g_h = hand_attention_backprop(X, W["Wq1"], W["Wk1"], W["Wv1"])
    agree = all(np.allclose(g_e[k], g_h[k], rtol=1e-8, atol=1e-10) for k in wrt)
    functions = {"matcalc `.compile()`": lambda: emitted(X0=X, **W),
                 "hand-written numpy backprop": lambda: hand_attention_backprop(X, W["Wq1"], W["Wk1"], W["Wv1"])}
    note = ""
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)

        def forward(X, Wq, Wk, Wv):
            A = jax.nn.softmax((X @ Wq) @ (X @ Wk).T / 8, axis=1)
            return jnp.sum(X + A @ (X @ Wv))

        grad = jax.jit(jax.grad(forward, argnums=(1, 2, 3)))
        Xj, Wj = jnp.asarray(X), [jnp.asarray(W[k]) for k in wrt]
        g_j = grad(Xj, *Wj)
        agree = agree and all(np.allclose(np.asarray(a), g_e[k], rtol=1e-8, atol=1e-10) for a, k in zip(g_j, wrt))
        functions["jax.jit(jax.grad) (float64)"] = lambda: [a.block_until_ready() for a in grad(Xj, *Wj)]
    except ImportError:
        note = "jax is not installed (pip install 'matcalc[bench]'): its row is missing."
    medians = _alternated(functions, args.repeat, args.number)
    hand = medians["hand-written numpy backprop"]
    rows = [(k, f"{v * 1e3:.3f}", f"{v / hand:.2f}") for k, v in medians.items()]
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    out = [f"### emitted attention gradient (n={n}, d={d}; {threads} BLAS / XLA threads; medians of "
           f"{args.repeat} alternated repeats × {args.number} calls)", "",
           table(["implementation", "median ms / call", "ratio to hand"], rows), "",
           f"Gradients agree (rtol 1e-8): {agree}.  {note}"]
    if args.show_module:
        out += ["", "```python", result.numpy(), "```"]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", choices=["derive", "emitted", "all"])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeat", type=int, default=3, help="derive: best of; emitted: alternated repeats")
    p.add_argument("--number", type=int, default=20, help="emitted: calls per repeat")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--show-module", action="store_true")
    args = p.parse_args(argv)
    set_threads(args.threads)
    # XLA's CPU thread pool: the same count as the BLAS
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true "
                                       f"intra_op_parallelism_threads={args.threads}")
    print(machine())
    for name in (["derive", "emitted"] if args.bench == "all" else [args.bench]):
        a = argparse.Namespace(**vars(args))
        if name == "emitted" and args.bench == "all":
            a.repeat = max(a.repeat, 15)
        print()
        print({"derive": bench_derive, "emitted": bench_emitted}[name](a))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
