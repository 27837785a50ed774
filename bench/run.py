"""matcalc benchmarks: startup, scaling, evaluation.

    cd /work/main && python bench/run.py all          # ~1-2 minutes
    python bench/run.py startup --runs 15
    python bench/run.py scaling --layers 1,4,16,64,256
    python bench/run.py evaluation --threads 2

Each benchmark prints a markdown table.  numpy is imported only after the
thread count is fixed (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS),
so the BLAS sees it; the default is the machine's core count (os.cpu_count()).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OBJECTIVE = "CE(y, softmax(relu(xW+b1)U+b2))"
DERIVE_ARGS = ["derive", OBJECTIVE, "--wrt", "W", "--no-check"]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(n: int) -> None:
    """Fix the BLAS thread count; must run before numpy is imported."""
    if "numpy" in sys.modules:
        print("warning: numpy already imported; thread limit may not apply", file=sys.stderr)
    for var in THREAD_VARS:
        os.environ[var] = str(n)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# (a) startup
# ---------------------------------------------------------------------------
def _wall(cmd, env, check=True) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if check and p.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
    return dt


def _interleaved(cases, runs) -> dict:
    """Wall times of each (label, cmd, env), one warm-up each, then ``runs``
    rounds in which every command runs once (so machine drift hits all alike)."""
    for _, cmd, env in cases:
        _wall(cmd, env)
    times = {label: [] for label, _, _ in cases}
    for _ in range(runs):
        for label, cmd, env in cases:
            times[label].append(_wall(cmd, env))
    return times


def import_costs(env, top: int = 10):
    """Entries of ``python -X importtime -m matcalc derive ...``: (name, self µs, cumulative µs, depth)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "matcalc", *DERIVE_ARGS]
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((m[4], int(m[1]), int(m[2]), (len(m[3]) - 1) // 2 + 1))
    return rows


PHASES = r"""
import sys, time
t0 = time.perf_counter()
import matcalc, matcalc.faces.api, matcalc.faces.cli, matcalc.outputs.render
import matcalc.language.parser as p, matcalc.rewriting.rules as r
t1 = time.perf_counter(); p.parse_expr("x"); t2 = time.perf_counter()   # first parse builds the lark grammar
r.default_rules(); t3 = time.perf_counter()                               # reads and parses the rule files
res = matcalc.derive(sys.argv[1], wrt="W"); matcalc.outputs.render.render_text(res); t4 = time.perf_counter()
print(f"{(t1-t0)*1e3:.1f} {(t2-t1)*1e3:.1f} {(t3-t2)*1e3:.1f} {(t4-t3)*1e3:.1f}")
"""


def _phases(envs, runs=7):
    """Median in-process phase times (ms) for each env, runs interleaved across the envs."""
    out = [[] for _ in envs]
    for _ in range(runs):
        for i, env in enumerate(envs):
            p = subprocess.run([sys.executable, "-c", PHASES, OBJECTIVE], cwd=ROOT, env=env,
                               capture_output=True, text=True, check=True)
            out[i].append([float(x) for x in p.stdout.split()])
    return [[statistics.median(col) for col in zip(*o)] for o in out]


def bench_startup(args) -> str:
    import tempfile

    env = _env()
    matcalc_cmd = [sys.executable, "-m", "matcalc", *DERIVE_ARGS]
    sympy_cmd = [sys.executable, "-c", "import sympy"]
    no_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    # "bytecode cached": the state of an installed package (pip compiles .pyc at install).  The cache
    # goes to a temporary PYTHONPYCACHEPREFIX, so nothing is written into the repository.
    cache_dir = tempfile.mkdtemp(prefix="matcalc-bench-pyc-")
    cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = cache_dir
    cases = [("python -c \"import sympy\"", sympy_cmd, env),
             ("python -c \"pass\"", [sys.executable, "-c", "pass"], env),
             ("python -m matcalc derive ... --no-check", matcalc_cmd, env),
             ("python -c \"import sympy\"  [bytecode cached]", sympy_cmd, cached),
             ("python -m matcalc derive ... --no-check  [bytecode cached]", matcalc_cmd, cached)]
    script = shutil.which("matcalc")
    if script:
        # its own install, not the repository: no PYTHONPATH added
        cases.append((f"{script} derive ... --no-check  (console script)", [script, *DERIVE_ARGS],
                      dict(os.environ)))
    try:
        return _startup_report(args, cases, env, cached, sympy_cmd, script, no_bytecode)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def _startup_report(args, cases, env, cached, sympy_cmd, script, no_bytecode) -> str:
    runs = args.runs
    times = _interleaved(cases, runs)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = {False: med[cases[0][0]], True: med[cases[3][0]]}
    rows, verdicts = [], []
    for label, cmd, e in cases:
        is_cached = e is cached
        ratio = med[label] / base[is_cached]
        if "matcalc" in label:
            ok = ratio < 0.65
            verdicts.append(ok)
            target = "meets < 0.65" if ok else "MISSES < 0.65"
        else:
            target = "(baseline)" if cmd is sympy_cmd else "(interpreter floor)"
        rows.append((label, f"{med[label] * 1e3:.1f}", f"{min(times[label]) * 1e3:.1f}", f"{ratio:.3f}", target))
    if not script:
        rows.append(("console script `matcalc`", "—", "—", "—", "not on PATH (shutil.which found none)"))
    out = [f"### startup (median of {runs} interleaved runs after 1 warm-up, wall ms)", "",
           table(["command", "median ms", "min ms", "ratio to sympy import (same mode)", "target"], rows), "",
           f"PYTHONDONTWRITEBYTECODE={'1' if no_bytecode else 'unset'} in this environment"
           + (": without [bytecode cached] every matcalc module (and lark's, if not precompiled) is compiled "
              "from source on every run, while site-packages sympy ships .pyc files." if no_bytecode else ".")
           + " The console script (if any) uses its install's .pyc; its ratio is against the plain sympy row."]
    (imp, lark_build, rules, derive), (imp_c, lark_c, rules_c, derive_c) = _phases([env, cached])
    out += ["", "In-process phases of one `derive` (fresh process each, median of 7, ms):", "",
            table(["mode", "imports", "first parse_expr (lark grammar build)", "default_rules() (rule files parsed)",
                   "derive + render"],
                  [("as is", f"{imp:.1f}", f"{lark_build:.1f}", f"{rules:.1f}", f"{derive:.1f}"),
                   ("bytecode cached", f"{imp_c:.1f}", f"{lark_c:.1f}", f"{rules_c:.1f}", f"{derive_c:.1f}")])]
    if not all(verdicts) or args.importtime:
        rows_all = import_costs(env)
        cached_rows = {n: (s, c) for n, s, c, _ in import_costs(cached)}  # cache warm from the runs above
        top = sorted((r for r in rows_all if r[3] <= 2), key=lambda r: -r[2])[:args.top]
        out += ["", "Top imports under `python -X importtime -m matcalc derive ... --no-check` "
                    "(one run each; depth ≤ 2; cumulative includes children):", "",
                table(["module", "depth", "cumulative ms (as is)", "self ms (as is)",
                       "cumulative ms (bytecode cached)", "self ms (bytecode cached)"],
                      [(n, d, f"{c / 1e3:.1f}", f"{s / 1e3:.1f}",
                        f"{cached_rows.get(n, (0, 0))[1] / 1e3:.1f}", f"{cached_rows.get(n, (0, 0))[0] / 1e3:.1f}")
                       for n, s, c, d in top])]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# (b) scaling
# ---------------------------------------------------------------------------
def mlp_program(L: int) -> str:
    lines = ["x: (n, 1)"] + [f"W{i}: (n, n)" for i in range(1, L + 1)]
    prev = "x"
    for i in range(1, L + 1):
        lines.append(f"h{i} = tanh(W{i} {prev})")
        prev = f"h{i}"
    lines.append(f"J = sum(h{L})")
    return "\n".join(lines)


def _nodes(exprs) -> int:
    """Distinct nodes of the DAG formed by ``exprs`` (shared subterms counted once)."""
    seen = set()
    for e in exprs:
        for node in e.walk(prune=lambda n: n in seen):
            seen.add(node)
    return len(seen)


def bench_scaling(args) -> str:
    import matcalc
    from matcalc.outputs.render import render_text

    layers = [int(x) for x in args.layers.split(",")]
    matcalc.Program(mlp_program(2)).derive(wrt=["W1", "W2"])  # warm-up: rule loading, grammar
    rows = []
    per_layer_t, per_layer_c = [], []
    for L in layers:
        text = mlp_program(L)
        wrt = [f"W{i}" for i in range(1, L + 1)]
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            r = matcalc.Program(text).derive(wrt=wrt)
            best = min(best, time.perf_counter() - t)
        chars = len(render_text(r))
        grad_nodes = _nodes(r.gradients.values())
        all_nodes = _nodes(list(r.gradients.values()) + [s.expr for s in r.intermediates])
        per_layer_t.append(best / L)
        per_layer_c.append(chars / L)
        rows.append((L, f"{best * 1e3:.1f}", f"{best / L * 1e3:.2f}", chars, f"{chars / L:.0f}",
                     grad_nodes, all_nodes, f"{all_nodes / L:.1f}"))
    out = [f"### scaling (L-layer tanh MLP, Program + derive, best of {args.repeat})", "",
           table(["L", "derive ms", "ms / layer", "text chars", "chars / layer",
                  "gradient nodes", "gradient + δ nodes", "nodes / layer"], rows)]
    if len(layers) >= 2:
        gt = per_layer_t[-1] / per_layer_t[1 if len(layers) > 2 else 0]
        gc = per_layer_c[-1] / per_layer_c[1 if len(layers) > 2 else 0]
        ref = layers[1 if len(layers) > 2 else 0]
        out += ["", f"Per-layer growth from L={ref} to L={layers[-1]}: time ×{gt:.2f}, chars ×{gc:.2f} "
                    f"(≈1 means linear)."]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# (c) evaluation
# ---------------------------------------------------------------------------
EVAL_PROGRAM = """\
X : (N, D)
Y : (N, C) onehot
λ : ()
W1 : (D, H)
b1 : (1, H)
W2 : (H, C)
b2 : (1, C)
Z1 = X W1 + b1
H1 = relu(Z1)
Z2 = H1 W2 + b2
P = softmax(Z2)
L = CE(Y, P) / N + λ (‖W1‖_F^2 + ‖W2‖_F^2)
"""


def hand_forward_backward(params, X, y, reg):
    """The seed's ``nn_forward_backward`` (EECS 498-007), ported to numpy."""
    import numpy as np

    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    N, D = X.shape
    h1 = np.maximum(X @ W1 + b1, 0.0)
    scores = h1 @ W2 + b2
    normalized_scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(normalized_scores, out=normalized_scores)
    normalized_scores /= normalized_scores.sum(axis=1, keepdims=True)
    rows = np.arange(N)
    loss = np.mean(-np.log(normalized_scores[rows, y]))
    loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    grads = {}
    grad_z2 = normalized_scores
    grad_z2[rows, y] -= 1
    grad_z2 /= N
    grads["W2"] = h1.T @ grad_z2 + 2 * reg * W2
    grads["b2"] = grad_z2.sum(axis=0)
    grad_h1 = grad_z2 @ W2.T
    grad_z1 = grad_h1 * (h1 > 0)
    grads["W1"] = X.T @ grad_z1 + 2 * reg * W1
    grads["b1"] = grad_z1.sum(axis=0)
    return loss, grads


def bench_evaluation(args) -> str:
    import timeit

    import numpy as np

    import matcalc

    N, D, H, C = args.N, args.D, args.H, args.C
    t = time.perf_counter()
    result = matcalc.Program(EVAL_PROGRAM).derive(wrt=["W1", "b1", "W2", "b2"])
    emitted = result.compile()
    t_build = time.perf_counter() - t

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, size=N)
    Y = np.zeros((N, C))
    Y[np.arange(N), y] = 1.0
    reg = 1e-3
    params = {"W1": rng.standard_normal((D, H)) * 0.05, "b1": rng.standard_normal((1, H)) * 0.05,
              "W2": rng.standard_normal((H, C)) * 0.05, "b2": rng.standard_normal((1, C)) * 0.05}
    # the hand-written net takes biases of shape (H,), (C,) as in the seed
    hand_params = {"W1": params["W1"], "b1": params["b1"].ravel(), "W2": params["W2"], "b2": params["b2"].ravel()}
    inputs = {"X": X, "Y": Y, "lambda": reg, **params}

    g_e = emitted(**inputs)
    _, g_h = hand_forward_backward(hand_params, X, y, reg)
    agree = {k: bool(np.allclose(np.asarray(g_e[k]).reshape(g_h[k].shape), g_h[k], rtol=1e-7, atol=1e-10))
             for k in ("W1", "b1", "W2", "b2")}
    maxdiff = max(float(np.max(np.abs(np.asarray(g_e[k]).reshape(g_h[k].shape) - g_h[k]))) for k in g_h)
    if not all(agree.values()):
        raise SystemExit(f"gradients disagree: {agree} (max abs diff {maxdiff:.3e})")

    def run_emitted():
        emitted(**inputs)

    def run_hand():
        hand_forward_backward(hand_params, X, y, reg)

    number = args.number
    for f in (run_emitted, run_hand):  # warm-up
        for _ in range(20):
            f()
    # interleave the repeats so drift hits both alike
    te, th = [], []
    for _ in range(args.repeat):
        te += timeit.repeat(run_emitted, number=number, repeat=1)
        th += timeit.repeat(run_hand, number=number, repeat=1)
    med_e = statistics.median(te) / number
    med_h = statistics.median(th) / number
    min_e, min_h = min(te) / number, min(th) / number
    ratio = med_e / med_h
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    rows = [("matcalc `.compile()`", f"{med_e * 1e3:.3f}", f"{min_e * 1e3:.3f}", f"{ratio:.2f}",
             "meets ≤ 1.1" if ratio <= 1.1 else "MISSES ≤ 1.1"),
            ("hand-written numpy (seed port)", f"{med_h * 1e3:.3f}", f"{min_h * 1e3:.3f}", "1.00", "(baseline)")]
    out = [f"### evaluation (N={N}, D={D}, H={H}, C={C}; {threads} BLAS thread(s); "
           f"median of {args.repeat} × {number} calls after warm-up)", "",
           table(["implementation", "median ms / call", "min ms / call", "ratio emitted / hand", "target"], rows),
           "", f"Gradients agree (np.allclose, rtol 1e-7): {agree}; max abs diff {maxdiff:.2e}. "
               f"Program + derive + compile: {t_build * 1e3:.0f} ms."]
    if args.show_module:
        out += ["", "```python", result.numpy(), "```"]
    return "\n".join(out)


# ---------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("?" where there is none)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def machine() -> str:
    cpu = cpu_model()
    import numpy

    return (f"machine: nproc={os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, {time.strftime('%Y-%m-%d')}; "
            f"BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", choices=["startup", "scaling", "evaluation", "all"])
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="BLAS threads for numpy (default: os.cpu_count())")
    p.add_argument("--runs", type=int, default=15, help="startup: runs per command")
    p.add_argument("--importtime", action="store_true",
                   help="startup: always show the -X importtime breakdown")
    p.add_argument("--top", type=int, default=15, help="startup: rows of the importtime table")
    p.add_argument("--layers", default="1,4,16,64,256", help="scaling: layer counts")
    p.add_argument("--repeat", type=int, default=None,
                   help="scaling: best of (default 3); evaluation: timing repeats (default 30)")
    p.add_argument("--number", type=int, default=20, help="evaluation: calls per timing repeat")
    p.add_argument("--N", type=int, default=256)
    p.add_argument("--D", type=int, default=512)
    p.add_argument("--H", type=int, default=256)
    p.add_argument("--C", type=int, default=10)
    p.add_argument("--show-module", action="store_true", help="evaluation: print the emitted module")
    args = p.parse_args(argv)
    set_threads(args.threads)

    todo = ["startup", "scaling", "evaluation"] if args.bench == "all" else [args.bench]
    print(machine())
    for name in todo:
        a = argparse.Namespace(**vars(args))
        if a.repeat is None:
            a.repeat = 3 if name == "scaling" else 30
        t = time.perf_counter()
        text = {"startup": bench_startup, "scaling": bench_scaling, "evaluation": bench_evaluation}[name](a)
        print()
        print(text)
        print(f"\n({name}: {time.perf_counter() - t:.1f} s)")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
