"""matcalc vs SymPy's matrix ``diff`` on every case of the public corpus (issue 7 (c)).

    cd /work/main && python bench/sympy_compare.py            # ~1 minute
    python bench/sympy_compare.py --corpus PATH --timeout 10 --only quad-xAx,det-X

For each case:

* matcalc: ``mc.derive(f, wrt=..., where=..., order=...)`` (median of 3 after a
  warm-up that loads the rule base), then its own ``.check(draws=...).ok``,
  and its emitted numpy (``gradients`` / ``jacobians`` / ``hessians``) compared
  with the corpus's numpy oracle ``oracle.expected`` on random inputs.
* SymPy: the objective hand-translated (table ``SYMPY`` below) into SymPy
  matrix expressions over ``MatrixSymbol``s with symbolic dimensions taken from
  the ``where`` shapes, then ``.diff(X)`` (twice for a Hessian).  The result
  gets concrete sizes and numbers (``subs`` + ``xreplace`` by explicit
  matrices + ``doit``) and is compared with the same oracle on the same inputs.
  Each SymPy case runs in a forked child killed after ``--timeout`` seconds.

Translation rules (the same for every case, no per-case rescue):
elementwise scalar functions (exp, log, tanh, σ, relu = Max(0, ·), sqrt of a
1×1) use SymPy's own elementwise form ``M.applyfunc(Lambda(t, f(t)))``;
``sum(M)`` is ``1ᵀ M 1`` with ``OneMatrix`` (``1ᵀ v`` for a column, ``v 1``
for a row); ``‖v‖²`` is ``vᵀv`` and ``‖M‖_F²`` ``tr(MᵀM)``; broadcasting of a bias row is written ``1 b``.  SymPy has no
matrix form for softmax, CE or logsumexp: they are composed from their
definitions (``softmax(z) = exp(z) (1ᵀexp(z))⁻¹``, ``CE(y, p) = −1ᵀ(y ∘ log p)``,
``logsumexp(x) = log(1ᵀ exp(x))``); such cases are marked "composed".

SymPy outcomes: ok; ok (transposed) for a Jacobian in SymPy's denominator
layout; **zero** (a ZeroMatrix/0 where the answer is not zero: silently
wrong); **wrong** (numbers differ); **unevaluated** (SymPy returns the
``Derivative`` unevaluated: not supported); **crash** (an exception in
``diff``); **no numbers** (diff returned an expression that could not be
evaluated with concrete inputs); **timeout**.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "public.jsonl"
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

# ---------------------------------------------------------------------------
# hand translations: case id -> (SymPy expression source, note).  Names are the
# corpus variables (lambda is `lam`); `extra` declares shapes the corpus leaves
# to inference (inf-xAx).
# ---------------------------------------------------------------------------
CE_NET = "CE(y, softmax(ew(relu, x*W + b1)*U + b2))"
SYMPY = {
    "lin-aTx": "a.T*x",
    "lin-aTXb": "a.T*X*b",
    "lin-xWc-row": "x*W*c",
    "quad-xAx": "x.T*A*x",
    "quad-xAx-sym": "x.T*A*x",
    "quad-bXTXc": "b.T*X.T*X*c",
    "tr-X": "tr(X)",
    "tr-AXB": "tr(A*X*B)",
    "tr-XTAX": "tr(X.T*A*X)",
    "tr-X2": "tr(X**2)",
    "tr-XTX": "tr(X.T*X)",
    "det-X": "det(X)",
    "det-logdetX": "log(det(X))",
    "inv-aTXinvb": "a.T*inv(X)*b",
    "norm-x2": "x.T*x",
    "norm-x": "ew(sqrt, x.T*x)",
    "norm-lsq": "(X*w - y).T*(X*w - y)",
    "norm-ridge": "(X*w - y).T*(X*w - y) + lam*(w.T*w)",
    "ew-sumexp": "sum_(ew(exp, A*x))",
    "ew-sigmoid-W": "a.T*ew(sigmoid, W*x)",
    "ew-tanh-W": "sum_(ew(tanh, W*x))",
    "ew-sumlog": "sum_(ew(log, x))",
    "ew-relu-x": "a.T*ew(relu, W*x)",
    "nn-lse": "logsumexp(x)",
    "nn-ce-row": "CE(y, softmax(z))",
    "nn-logreg": "-sum_(had(y, ew(log, ew(sigmoid, X*w)))"
                 " + had(ones(N, 1) - y, ew(log, ones(N, 1) - ew(sigmoid, X*w))))",
    "nn-l2": "lam*tr(W.T*W)",
    "nn-softmax-regression-W": "CE(y, softmax(x*W + b))",
    "prog-cs224n-U": CE_NET,
    "prog-cs224n-b2": CE_NET,
    "prog-cs224n-W": CE_NET,
    "prog-cs224n-b1": CE_NET,
    "prog-cs224n-x": CE_NET,
    "prog-colnet-W": "CE(y, softmax(U*ew(relu, W*x + b1) + b2))",
    "bc-rowbias": "tr((X*W + ones(N, 1)*b - T).T*(X*W + ones(N, 1)*b - T))",
    "sc-lambda": "lam*(x.T*A*x)",
    "inf-xAx": "x.T*A*x",
    "jac-Ax": "A*x",
    "jac-softmax": "softmax(x)",
    "hess-xAx": "x.T*A*x",
    "hess-lsq": "(A*x - b).T*(A*x - b)",
}
EXTRA_WHERE = {"inf-xAx": ["x: (n, 1)", "A: (n, n)"]}
COMPOSED = ("softmax", "CE", "logsumexp")
LABELS = {"ok (transposed)": "of which ok (transposed: denominator layout)",
          "zero": "silently zero", "wrong": "silently wrong",
          "unevaluated": "not supported (Derivative returned unevaluated)", "crash": "crash (exception in diff)",
          "no numbers": "result could not be evaluated", "timeout": "timeout"}


# ---------------------------------------------------------------------------
# shapes and inputs (independent of matcalc: the corpus README's rules)
# ---------------------------------------------------------------------------
def declarations(case):
    """name -> (rows, cols) of dimension names/ints, or () for a scalar; kinds by name."""
    shapes, kinds = {}, {}
    for line in case["where"] or EXTRA_WHERE.get(case["id"], []):
        if ":" not in line:
            continue  # a program definition
        name, rest = (s.strip() for s in line.split(":", 1))
        inside, _, kind = rest.partition(")")
        dims = [d.strip() for d in inside.strip("( ").split(",") if d.strip()]
        shapes[name] = tuple(int(d) if d.isdigit() else d for d in dims)
        if kind.strip():
            kinds[name] = kind.strip()
    kinds.update(case.get("draw") or {})
    return shapes, kinds


def sizes_for(shapes):
    primes = iter([2, 3, 5, 7, 11, 13, 17, 19, 23])
    sizes = {}
    for shape in shapes.values():
        for d in shape:
            if isinstance(d, str) and d not in sizes:
                sizes[d] = next(primes)
    return sizes


def draw(kind, r, c, rng):
    import numpy as np

    if kind == "spd":
        b = rng.standard_normal((r, r))
        return b @ b.T + r * np.eye(r)
    if kind == "symmetric":
        b = rng.standard_normal((r, r))
        return (b + b.T) / 2
    if kind == "invertible":
        return rng.standard_normal((r, r)) + r * np.eye(r)
    if kind == "positive":
        return np.abs(rng.standard_normal((r, c))) + 0.5
    if kind == "binary":
        return (rng.random((r, c)) < 0.5).astype(float)
    if kind == "onehot":
        out = np.zeros((r, c))
        if r == 1 or c == 1:
            out.flat[rng.integers(r * c)] = 1.0
        else:
            out[np.arange(r), rng.integers(0, c, size=r)] = 1.0
        return out
    return rng.standard_normal((r, c))


def sample(shapes, kinds, sizes, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    env = {}
    for name, shape in shapes.items():
        if shape == ():
            env[name] = float(abs(rng.standard_normal()) + 0.1)
            continue
        r, c = (sizes[d] if isinstance(d, str) else d for d in shape)
        env[name] = draw(kinds.get(name, ""), r, c, rng)
    return env


# ---------------------------------------------------------------------------
# the corpus oracle (numpy)
# ---------------------------------------------------------------------------
def oracle_namespace(env):
    import numpy as np

    def softmax(a):
        a = np.asarray(a, dtype=float)
        if 1 in a.shape:
            e = np.exp(a - a.max())
            return e / e.sum()
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    ns = {"np": np, "tr": np.trace, "det": np.linalg.det, "inv": np.linalg.inv,
          "norm": np.linalg.norm, "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
          "relu": lambda a: np.maximum(a, 0), "step": lambda a: (a > 0).astype(float),
          "softmax": softmax, "logsumexp": lambda a: np.log(np.sum(np.exp(a))),
          "CE": lambda y, p: -np.sum(y * np.log(p)), "kron": np.kron,
          "diag": lambda a: np.diagflat(a) if 1 in np.shape(a) else np.diagonal(a).reshape(-1, 1),
          "vec": lambda a: a.reshape(-1, 1, order="F")}
    ns.update({("lam" if k == "lambda" else k): v for k, v in env.items()})
    return ns


def oracle_expected(case, env):
    import numpy as np

    ns = oracle_namespace(env)
    src = case["oracle"]["expected"]
    if src.startswith("EXEC:"):
        exec(src[5:], ns)  # noqa: S102 - the corpus's own oracle
        return np.asarray(ns["out"], dtype=float)
    return np.asarray(eval(src, ns), dtype=float)  # noqa: S307 - the corpus's own oracle


def compare(ours, expected, jacobian=False):
    """'ok', 'ok (transposed)', 'zero' or 'wrong'."""
    import numpy as np

    a = np.squeeze(np.asarray(ours, dtype=float))
    e = np.squeeze(np.asarray(expected, dtype=float))
    if a.shape != e.shape and a.size == 1 and e.size > 1:
        a = np.broadcast_to(a, e.shape)  # a scalar answer for a constant matrix (never here)
    close = a.shape == e.shape and np.allclose(a, e, rtol=1e-6, atol=1e-8)
    if close:
        return "ok"
    if jacobian and a.ndim == 2 and a.T.shape == e.shape and np.allclose(a.T, e, rtol=1e-6, atol=1e-8):
        return "ok (transposed)"
    if np.all(a == 0) and np.any(e != 0):
        return "zero"
    return "wrong"


# ---------------------------------------------------------------------------
# SymPy side (runs in a forked child)
# ---------------------------------------------------------------------------
def sympy_namespace(shapes):
    import sympy as sp
    from sympy.matrices.expressions.special import OneMatrix

    t = sp.Dummy("t")
    dims = {}
    ns = {}

    def dim(d):
        if isinstance(d, int):
            return d
        if d not in dims:
            dims[d] = sp.Symbol(d, integer=True, positive=True)
        return dims[d]

    for name, shape in shapes.items():
        key = "lam" if name == "lambda" else name
        ns[key] = sp.Symbol(name) if shape == () else sp.MatrixSymbol(name, dim(shape[0]), dim(shape[1]))

    def ew(f, m):
        return m.applyfunc(sp.Lambda(t, f(t)))

    def ones(r, c):
        return OneMatrix(r, c)

    def sum_(m):
        r, c = m.shape
        if c == 1:
            return OneMatrix(1, r) * m
        if r == 1:
            return m * OneMatrix(c, 1)
        return OneMatrix(1, r) * m * OneMatrix(c, 1)

    def softmax(z):
        e = ew(sp.exp, z)
        s = sp.Inverse(sum_(e))
        return e * s if z.shape[1] == 1 else s * e

    def CE(y, p):
        return -sum_(sp.HadamardProduct(y, ew(sp.log, p)))

    ns.update({"tr": sp.Trace, "det": sp.Determinant, "inv": sp.Inverse, "log": sp.log, "exp": sp.exp,
               "tanh": sp.tanh, "sqrt": sp.sqrt, "ew": ew, "ones": ones, "sum_": sum_, "had": sp.HadamardProduct,
               "sigmoid": lambda s: 1 / (1 + sp.exp(-s)), "relu": lambda s: sp.Max(0, s),
               "softmax": softmax, "CE": CE, "logsumexp": lambda x: ew(sp.log, sum_(ew(sp.exp, x)))})
    ns.update({k: v for k, v in dims.items() if k not in ns})
    return ns, dims


def sympy_numeric(result, shapes, env, sizes, dims):
    """Concrete sizes, explicit matrices for the symbols, ``doit`` -> numpy."""
    import numpy as np
    import sympy as sp

    e = result.subs({dims[d]: sizes[d] for d in dims}) if dims else result
    rep = {}
    for name, shape in shapes.items():
        if shape == ():
            rep[sp.Symbol(name)] = sp.Float(env[name])
        else:
            r, c = env[name].shape
            rep[sp.MatrixSymbol(name, r, c)] = sp.ImmutableMatrix(env[name])
    e = e.xreplace(rep).doit()
    if isinstance(e, sp.MatrixBase):
        return np.array(e.tolist(), dtype=float)
    if hasattr(e, "as_explicit"):
        try:
            return np.array(e.as_explicit().tolist(), dtype=float)
        except Exception:  # noqa: BLE001 - try the array forms next
            pass
    if isinstance(e, sp.NDimArray):
        return np.array(e.tolist(), dtype=float)
    return np.array(sp.Array(e).tolist() if hasattr(e, "shape") else float(e), dtype=float)


def sympy_case(case, conn):
    """Child process: build, diff, evaluate; send (outcome, diff seconds, detail)."""
    try:
        import sympy as sp
        from sympy.tensor.array.expressions import ArrayElementwiseApplyFunc  # noqa: F401 - warm import

        shapes, kinds = declarations(case)
        ns, dims = sympy_namespace(shapes)
        objective = eval(SYMPY[case["id"]], ns)  # noqa: S307 - our own table
        var = ns["lam" if case["wrt"] == "lambda" else case["wrt"]]
        t = time.perf_counter()
        try:
            d = objective.diff(var)
            if case["order"] == 2:
                d = d.diff(var)
        except Exception as exc:  # noqa: BLE001 - SymPy failing is a row of the table
            conn.send(("crash", time.perf_counter() - t, f"{type(exc).__name__}: {str(exc)[:80]}"))
            return
        t_diff = time.perf_counter() - t
        text = str(d)
        if d.has(sp.Derivative) or type(d).__name__ in ("ArrayDerivative", "Derivative"):
            conn.send(("unevaluated", t_diff, text[:80]))
            return
        sizes = sizes_for(shapes)
        env = sample(shapes, kinds, sizes, seed=1)
        try:
            value = sympy_numeric(d, shapes, env, sizes, dims)
        except Exception as exc:  # noqa: BLE001 - no numbers from SymPy is a row of the table
            is_zero = d == 0 or isinstance(d, sp.ZeroMatrix)
            conn.send(("zero" if is_zero else "no numbers", t_diff, f"{type(exc).__name__}: {str(exc)[:60]}"))
            return
        outcome = compare(value, oracle_expected(case, env), jacobian=case["category"] == "jacobian")
        conn.send((outcome, t_diff, text[:80]))
    except Exception as exc:  # noqa: BLE001 - a crash in the child is a row of the table
        conn.send(("crash", 0.0, f"{type(exc).__name__}: {str(exc)[:80]} {traceback.format_exc()[-200:]}"))


def sympy_warm_up():
    shapes = {"x": ("n", 1), "A": ("n", "n"), "W": ("m", "n")}
    ns, _ = sympy_namespace(shapes)
    for src, var in (("x.T*A*x", "x"), ("tr(A*A)", "A"), ("sum_(ew(tanh, W*x))", "W"), ("a", "x")):
        try:
            eval(src, ns).diff(ns[var]).diff(ns[var]) if src != "a" else None  # noqa: S307 - our own table
        except Exception:  # noqa: BLE001 - only loading modules
            pass


def run_sympy(case, timeout):
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=sympy_case, args=(case, child))
    t = time.perf_counter()
    p.start()
    if parent.poll(timeout):
        out = parent.recv()
        p.join(5)
    else:
        out = ("timeout", time.perf_counter() - t, f"> {timeout:g} s")
    if p.is_alive():
        p.kill()
        p.join()
    return out


# ---------------------------------------------------------------------------
# matcalc side
# ---------------------------------------------------------------------------
def run_matcalc(case):
    import numpy as np

    import matcalc as mc
    from matcalc.outputs.codegen import compile_module

    kw = dict(wrt=case["wrt"], where=case["where"], order=case["order"])
    try:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            r = mc.derive(case["f"], **kw)
            times.append(time.perf_counter() - t)
    except Exception as exc:  # noqa: BLE001 - matcalc crashing is a row of the table
        return "crash", None, None, f"{type(exc).__name__}: {str(exc)[:80]}"
    t_derive = statistics.median(times)
    try:
        check_ok = bool(r.check(draws=case.get("draw")).ok)
    except Exception as exc:  # noqa: BLE001 - the check crashing is a row of the table
        return "check crashed", t_derive, False, f"{type(exc).__name__}: {str(exc)[:80]}"
    try:
        module = compile_module(r.numpy())
        function = ("hessians" if case["order"] == 2 else
                    "jacobians" if case["category"] == "jacobian" else "gradients")
        shapes, kinds = declarations(case)
        env = sample(shapes, kinds, sizes_for(shapes), seed=1)
        inputs = {k: env[k] for k in getattr(module, "INPUTS", env)}
        value = np.asarray(getattr(module, function)(**inputs)[case["wrt"]], dtype=float)
        outcome = compare(value, oracle_expected(case, env), jacobian=case["category"] == "jacobian")
    except Exception as exc:  # noqa: BLE001 - no numbers is a row of the table
        return "no numbers", t_derive, check_ok, f"{type(exc).__name__}: {str(exc)[:80]}"
    return outcome, t_derive, check_ok, ""


# ---------------------------------------------------------------------------
def table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fmt_ms(t):
    return "—" if t is None else f"{t * 1e3:.1f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per SymPy case (diff + evaluation)")
    p.add_argument("--only", default="", help="comma-separated case ids")
    args = p.parse_args(argv)

    import numpy
    import sympy

    import matcalc as mc

    cases = [json.loads(line) for line in open(args.corpus) if line.strip()]
    if args.only:
        keep = set(args.only.split(","))
        cases = [c for c in cases if c["id"] in keep]
    missing = [c["id"] for c in cases if c["id"] not in SYMPY]
    mc.derive("x^T A x", wrt="x")  # warm-up: rule base, grammar
    sympy_warm_up()  # SymPy's lazily imported modules load once, before the children fork
    print(f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}, numpy {numpy.__version__}, "
          f"sympy {sympy.__version__}, {time.strftime('%Y-%m-%d')}; BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}; SymPy timeout {args.timeout:g} s per case")
    rows, tally_mc, tally_sp = [], {}, {}
    t_mc, t_sp = [], []
    t0 = time.perf_counter()
    for case in cases:
        m_out, m_t, m_check, m_detail = run_matcalc(case)
        if case["id"] in SYMPY:
            s_out, s_t, s_detail = run_sympy(case, args.timeout)
        else:
            s_out, s_t, s_detail = "no translation", None, ""
        composed = any(f + "(" in SYMPY.get(case["id"], "") for f in COMPOSED)
        m_ok = m_out in ("ok", "ok (transposed)") and m_check
        tally_mc[m_out if m_check or m_out != "ok" else "ok but check failed"] = \
            tally_mc.get(m_out if m_check or m_out != "ok" else "ok but check failed", 0) + 1
        tally_sp[s_out] = tally_sp.get(s_out, 0) + 1
        if m_t is not None:
            t_mc.append(m_t)
        if s_t is not None and s_out != "timeout":
            t_sp.append(s_t)
        bold = "" if s_out.startswith("ok") else "**"
        rows.append((f"`{case['id']}`", case["order"], fmt_ms(m_t), ("ok" if m_ok else f"**{m_out}**")
                     + ("" if m_check else " (check failed)"),
                     fmt_ms(s_t) if s_out != "timeout" else f"> {args.timeout:g} s",
                     f"{bold}{s_out}{bold}" + (" (composed)" if composed else ""),
                     (s_detail if not s_out.startswith("ok") else "").replace("|", "\\|")[:70]
                     + (f" matcalc: {m_detail}" if m_detail else "")))
    n = len(cases)
    out = [f"#### (c) matcalc vs SymPy `diff` on {os.path.basename(args.corpus)} ({n} cases)", "",
           table(["case", "order", "matcalc derive ms", "matcalc result (check + oracle)",
                  "SymPy diff ms", "SymPy result", "SymPy detail"], rows), "",
           "Totals:", "",
           table(["", "matcalc", "SymPy"],
                 [("correct (matcalc: own check ok and equal to the oracle; SymPy: equal to the oracle)",
                   sum(1 for r in rows if r[3] == "ok"),
                   sum(v for k, v in tally_sp.items() if k.startswith("ok")))]
                 + [(LABELS.get(k, k), tally_mc.get(k, 0), tally_sp.get(k, 0))
                    for k in ("ok (transposed)", "zero", "wrong", "unevaluated", "crash", "no numbers", "timeout")]
                 + [("SymPy: composed from definitions (no matrix form for softmax, CE, logsumexp)", "—",
                     sum(1 for r in rows if "(composed)" in r[5]))]
                 + [("median derivation ms (cases that returned)",
                     f"{statistics.median(t_mc) * 1e3:.1f}" if t_mc else "—",
                     f"{statistics.median(t_sp) * 1e3:.1f}" if t_sp else "—"),
                    ("total derivation s", f"{sum(t_mc):.2f}", f"{sum(t_sp):.2f}")]), "",
           f"(run: {time.perf_counter() - t0:.0f} s; cases with no SymPy translation: {missing or 'none'})"]
    print()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
