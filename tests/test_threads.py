"""Rule bases are values, and derivations in threads agree with serial ones
(issue 13): loading a rule file never changes another derivation, a result
keeps the rule base it was derived with, and the default rule base is built
once, whole, however many threads ask for it first."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import matcalc as mc

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# a fresh process with an empty cache: 8 threads start together, each deriving
# 50 times, while a ninth loads rule files (one that changes tanh', one that
# defines swish) and derives with them; then the same derivations serially
THREADS = textwrap.dedent(r"""
    import sys, threading
    import matcalc as mc
    from matcalc.outputs.render import render_text

    DATA = sys.argv[1]
    PROBLEMS = [
        ("sum(tanh(W x))", "W", []),
        ("CE(y, softmax(relu(x W + b1) U + b2))", "W,U", ["x: (1, D)"]),
        ("x^T A x", "x", []),
        ("tr(A X B)", "X", []),
        ("‖A X − B‖_F^2", "X", []),
        ("logdet(S) − tr(S⁻¹ C)", "S", []),
        ("sum(log(1 + exp(−y ∘ (X w))))", "w", []),
        ("2*2*sum(σ(W x) ∘ tanh(x))", "x", []),
        ("vec(X)ᵀ vec(Y) + tr(Xᵀ Y)", "X", ["X: (m, n)", "Y: (m, n)"]),
        ("sum(diag(x) A)", "x", []),
    ]

    def answer(problem, rules=None):
        try:
            r = mc.derive(problem[0], wrt=problem[1], where=problem[2], rules=rules)
            return render_text(r)
        except Exception as err:  # an error is an answer too: it must be the serial one
            return f"{type(err).__name__}: {err}"

    barrier = threading.Barrier(9)
    found = {}

    def worker(i):
        barrier.wait()
        found[i] = [answer(PROBLEMS[(i + k) % len(PROBLEMS)]) for k in range(50)]

    def loader():
        barrier.wait()
        found["rules"] = []
        for k in range(12):
            base = mc.load_rules(f"{DATA}/wrong_tanh.rules" if k % 2 else f"{DATA}/swish.rules")
            problem = ("sum(tanh(W x))", "W", []) if k % 2 else ("sum(swish(W x))", "W", [])
            found["rules"].append(answer(problem, base))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)] + [threading.Thread(target=loader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    serial = [answer(p) for p in PROBLEMS]
    wrong = 0
    for i in range(8):
        for k, got in enumerate(found[i]):
            if got != serial[(i + k) % len(PROBLEMS)]:
                wrong += 1
                print("MISMATCH", i, k, repr(got[:300]))
    with_rules = [answer(("sum(tanh(W x))", "W", []), mc.load_rules(f"{DATA}/wrong_tanh.rules")),
                  answer(("sum(swish(W x))", "W", []), mc.load_rules(f"{DATA}/swish.rules"))]
    for k, got in enumerate(found["rules"]):
        if got != with_rules[(k + 1) % 2]:
            wrong += 1
            print("MISMATCH rules", k, repr(got[:300]))
    errors = [s for s in serial if "Error" in s.split("\n")[0]]
    print("compared", sum(len(v) for v in found.values()), "wrong", wrong, "serial errors", errors)
""")


def test_threads_in_a_cold_process_agree_with_serial_derivations(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", THREADS, str(DATA)], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "compared 412 wrong 0 serial errors []" in p.stdout, p.stdout[-3000:]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), rng.standard_normal((4, 1))


def test_loading_a_rule_file_changes_no_later_derivation():
    default = mc.load_rules.__globals__["default_rules"]()
    sizes = {k: len(v) for k, v in default.rules.items()}
    wrong = mc.load_rules(DATA / "wrong_tanh.rules")
    assert {k: len(v) for k, v in default.rules.items()} == sizes  # the base it read on top of is unchanged
    W, x = _inputs()
    expected = ((1 - np.tanh(W @ x) ** 2) @ x.T)  # d sum(tanh(W x)) / dW, by hand
    plain = mc.derive("sum(tanh(W x))", wrt="W")
    assert plain.check().ok
    assert np.allclose(plain.compile()(W=W, x=x)["W"], expected)
    skewed = mc.derive("sum(tanh(W x))", wrt="W", rules=wrong)  # used where it is passed
    assert not skewed.check().ok
    assert not np.allclose(skewed.compile()(W=W, x=x)["W"], expected)


def test_a_result_keeps_the_rule_base_it_was_derived_with(tmp_path):
    W, x = _inputs()
    exp_before = mc.derive("sum(exp(W x))", wrt="W")
    swish = mc.derive("sum(swish(W x))", wrt="W", rules=mc.load_rules(DATA / "swish.rules"))
    other = tmp_path / "other.rules"
    other.write_text("exp-wrong: exp(u) = 1 + u\nswish: swish(u) = u ∘ tanh(u)\n", encoding="utf-8")
    later = mc.load_rules(other)
    mc.derive("sum(exp(W x)) + sum(swish(W x))", wrt="W", rules=later).compile()(W=W, x=x)
    z = W @ x
    assert np.allclose(exp_before.compile()(W=W, x=x)["W"], np.exp(z) @ x.T)
    s = _sigmoid(z)
    assert np.allclose(swish.compile()(W=W, x=x)["W"], (s + z * s * (1 - s)) @ x.T)
    assert swish.check().ok and exp_before.check().ok
    # and without a rule base that defines it, swish is no function at all
    try:
        mc.derive("sum(swish(W x))", wrt="W")
    except mc.MatcalcError:
        pass
    else:
        raise AssertionError("swish leaked out of the rule base that defined it")
