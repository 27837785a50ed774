"""Hostile input (issue 8, SPEC §9): whatever text arrives, matcalc ends in
a result (exit 0) or a MatcalcError (exit 2) within a second, never a
traceback, a hang or a RecursionError; nothing evaluates user text; rules
that rewrite forever stop at a limit with a clear error."""
import contextlib
import io
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matcalc as mc
from matcalc.faces.cli import main
from matcalc.language.errors import LimitError, MatcalcError
from matcalc.language.expr import Num

ROOT = Path(__file__).resolve().parents[1]
# the CLI's last resort for a RecursionError: never reached if the stages bound their depth
RECURSION_FALLBACK = "LimitError: the input is nested too deeply"

SEEDS = [
    "CE(y, softmax(relu(x W + b1) U + b2))", "tr(A X B)", "x^T A x", "‖A X − B‖_F^2", "logdet(S) − tr(S⁻¹ C)",
    "sum(log(1 + exp(−y ∘ (X w))))", "σ(wᵀ x)", "λ (a + b)", "(xW)ᵀ U", "tr(A^-T X)", "sum(a .^ 2)",
    "kron(A, B)", "sum(diag(x) A)", "‖x‖ + ||y||", "logsumexp(θ) − θᵀ y", "det(X' X)", "sum(sqrt(x ∘ x + 1))",
    "CE(Y, softmax(X W + onesᵀ b)) / N", "sum(max(x, y))", "tr(inv(A) B)", "abs(sgn(x))ᵀ step(y)",
    "x: (1, D)\nz = x W + b1\nJ = sum(relu(z))", "a · b", "vec(X)ᵀ vec(Y)", "2.5e-3 tr(A)",
]
ALPHABETS = ["xyzWAUθλσ", "()[]{}‖|^ᵀ'.,;:=", "+-−*/∘⊙⊗@·", "0123456789e", " \t\n", "⁻¹²ᵀ𝟙", "\u0302\u0308"]


def run_cli(*argv):
    """(exit status, stdout, stderr) of matcalc.faces.cli.main, in process.  No
    wall-clock bound: the engine bounds its own work by steps and sizes
    (LimitError), which these tests reach."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def assert_clean(status, err, allowed=(0, 2)):
    shown = err[:600]
    assert status in allowed, shown
    assert "Traceback" not in err and "internal error" not in err and RECURSION_FALLBACK not in err, shown
    if status == 2:
        assert re.match(r"matcalc: \w+Error: ", err), shown
    assert all(c.isprintable() or c == "\n" for c in err), repr(shown)  # no escape sequences echoed back


def mutate(text: str, rng: random.Random) -> str:
    """A character deleted, duplicated, swapped with its neighbour, or inserted."""
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text)) if text else 0
        how = rng.choice(["delete", "duplicate", "swap", "insert"])
        if how == "delete":
            text = text[:i] + text[i + 1:]
        elif how == "duplicate":
            text = text[:i] + text[i:i + 1] + text[i:]
        elif how == "swap" and i + 1 < len(text):
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        else:
            text = text[:i] + rng.choice(rng.choice(ALPHABETS)) + text[i:]
    return text


def random_unicode(rng: random.Random) -> str:
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x2200, 0x22FF), (0x300, 0x36F), (0x4E00, 0x4FFF),
              (0x1F600, 0x1F64F), (0x0, 0x1F), (0x200B, 0x202E), (0xFFF0, 0xFFFF), (0xD800, 0xDFFF)]
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(1, 30)))


def hostile_strings(count: int = 1000):
    rng = random.Random(8)
    for k in range(count):
        kind = k % 10
        if kind < 6:
            yield mutate(rng.choice(SEEDS), rng)
        elif kind < 8:
            yield random_unicode(rng)
        elif kind == 8:  # control characters around a valid expression
            s = rng.choice(SEEDS)
            i = rng.randrange(len(s))
            yield s[:i] + rng.choice(["\x00", "\x1b[2J", "\r", "\x7f", "\u2028", "\ufeff", "\x0c", "\x08"]) + s[i:]
        else:  # operator soup from the language's own tokens
            yield "".join(rng.choice(["x", "W", "(", ")", "+", "ᵀ", "‖", "^", "-1", ".^", ",", "softmax(",
                                      "tr(", "=", ":", ";", "\n", "I", "ones", "2"]) for _ in range(rng.randint(1, 15)))


def test_a_thousand_random_and_mutated_strings_end_cleanly():
    run_cli("parse", "x")  # load the grammar and the rules once
    for k, text in enumerate(hostile_strings()):
        letters = [c for c in text if c.isascii() and c.isalpha()]
        wrt = letters[0] if letters else "x"
        argv = ["parse", "--", text] if k % 2 else ["derive", "--wrt", wrt, "--no-check", "--", text]
        status, _, err = run_cli(*argv)
        assert_clean(status, err)


@pytest.mark.parametrize("name, text", [
    ("letters", "a" * 1_000_000), ("sum", "x + " * 250_000 + "x"), ("parentheses", "(" * 1_000_000),
    ("digits", "7" * 1_000_000), ("spaces", " " * 1_000_000 + "x"), ("unicode", "θ∘" * 500_000),
    ("nul", "\x00" * 1_000_000), ("newlines", "x\n" * 500_000), ("words", "xW" * 500_000),
], ids=lambda v: v if len(v) < 20 else "")
def test_a_megabyte_of_input_ends_within_a_second(name, text, tmp_path):
    status, _, err = run_cli("derive", "--wrt", "x", "--no-check", "--", text)
    assert_clean(status, err)
    program = tmp_path / "big.mc"
    program.write_text(text, encoding="utf-8")
    status, _, err = run_cli("parse", "-f", str(program))
    assert_clean(status, err)


@pytest.mark.parametrize("text", [
    "(" * 10_000 + "x" + ")" * 10_000, "-" * 10_000 + "x", "tanh(" * 10_000 + "x" + ")" * 10_000,
    "x" + "ᵀ" * 10_000, "‖" * 10_000 + "x" + "‖" * 10_000, "x" + "^2" * 10_000,
    "\n".join(["h0 : (n, 1)"] + [f"h{i} = tanh(h{i - 1})" for i in range(1, 10_001)]),
], ids=["parentheses", "negations", "calls", "transposes", "norms", "powers", "definitions"])
def test_ten_thousand_deep_nesting_fails_clearly(text, tmp_path):
    program = "\n" in text
    with pytest.raises(MatcalcError) as caught:  # a RecursionError would escape this
        (mc.Program(text) if program else mc.Program(objective=text)).derive("h0" if program else "x")
    assert isinstance(caught.value, LimitError)
    path = tmp_path / "deep.mc"
    path.write_text(text, encoding="utf-8")
    argv = ["-f", str(path), "--wrt", "h0"] if program else ["--wrt", "x", "--", text]
    status, _, err = run_cli("derive", *argv)
    assert_clean(status, err, allowed=(2,))


def test_a_sum_of_ten_thousand_terms_is_a_chain_not_nesting():
    """x + x + ... is one flat chain in the grammar: it parses, derives and
    collects (10⁴ x -> ∂/∂x = 10⁴), where nesting 10⁴ deep is refused."""
    result = mc.Program(objective=" + ".join(["x"] * 10_000), where=["x: ()"]).derive("x")
    assert result.gradients["x"] == Num(10_000)


def network(layers: int) -> str:
    lines = ["h0 : (n, 1)"] + [f"W_{i} : (n, n)" for i in range(1, layers + 1)]
    lines += [f"h{i} = tanh(W_{i} h{i - 1})" for i in range(1, layers + 1)]
    return "\n".join(lines + [f"J = sum(h{layers})"])


def test_a_five_hundred_layer_network_is_derived_and_checked(tmp_path):
    program = tmp_path / "deep.mc"
    program.write_text(network(500), encoding="utf-8")
    status, out, err = run_cli("derive", "-f", str(program), "--wrt", "W_1,W_250,W_500")
    assert_clean(status, err, allowed=(0,))
    assert "∂J/∂W_1 =" in out and "check  ok" in out
    status, out, err = run_cli("derive", "-f", str(program), "--wrt", "W_1", "--format", "numpy",
                                        "--no-check")
    assert_clean(status, err, allowed=(0,))
    assert "def gradients(" in out


HOSTILE_NAMES = ["eval", "exec", "lambda", "open", "print", "globals", "np", "inputs", "gradients", "import",
                 "sys", "os", "system", "None", "True", "class", "def", "if", "compile", "getattr"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_python_words_are_just_names(name):
    program = mc.Program(f"{name} : (n, 1)\nW : (n, n)\nJ = sum(tanh(W {name}))")
    result = program.derive([name, "W"])
    assert result.check().ok
    rng = np.random.default_rng(0)
    inputs = {name: rng.standard_normal((3, 1)), "W": rng.standard_normal((3, 3))}
    canonical = program.variables[0]  # lambda is spelled lambda; the module takes the canonical name
    compiled = result.compile()(**{canonical if k == name else k: v for k, v in inputs.items()})
    _, gradients = result.evaluator()
    expected = gradients({canonical if k == name else k: v for k, v in inputs.items()})
    assert np.allclose(compiled["W"], expected["W"]) and np.allclose(compiled[canonical], expected[canonical])


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch {f}')", "os.system('touch {f}')", "eval(\"open('{f}', 'w')\")",
    "exec(open('{f}', 'w'))", "lambda: open('{f}', 'w')", "x + __import__", "sum(x) #'; open('{f}', 'w')",
])
def test_code_in_the_input_is_never_run(text, tmp_path):
    marker = tmp_path / "pwned"
    text = text.format(f=marker)
    for argv in (["parse", "--", text], ["derive", "--wrt", "x", "--format", "numpy", "--", text]):
        status, _, err = run_cli(*argv)
        assert_clean(status, err)
    assert not marker.exists()


def test_only_matcalc_generated_code_is_ever_evaluated():
    # every eval/exec/pickle load, and where its text comes from (read each one when this fails)
    allowed = {("evaluate.py", "eval"): "the function table's numpy spellings (matcalc.language.functions)",
               ("codegen.py", "exec"): "the module emit_module wrote from a typed tree",
               }  # no pickle: the caches are JSON data (matcalc.language.cache)
    found = set()
    for path in (ROOT / "matcalc").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            for call in re.findall(r"\b(eval|exec|pickle\.loads?|marshal\.loads?|sympify|parse_expr\w*)\(", code):
                if call.startswith("parse_expr") and path.name != "sympy_export.py":
                    continue  # matcalc's own parser
                found.add((path.name, call))
    assert found <= set(allowed), found - set(allowed)


def test_caches_live_in_a_folder_only_the_user_can_write(tmp_path, monkeypatch):
    from matcalc.language.cache import cache_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = cache_file("rules-0.pickle")
    assert path is not None and path.parent == tmp_path / "matcalc"
    assert (path.parent.stat().st_mode & 0o077) == 0
    if hasattr(os, "getuid"):
        path.parent.chmod(0o777)  # writable by others: no cache rather than a planted pickle
        assert cache_file("rules-0.pickle") is None


OBJECTIVE = "sum(tanh(W x)) + tr(Aᵀ B) + xᵀ Wᵀ W x"
GROWING_RULES = {
    "grow": "grow: A -> A + 0 A",
    "wrap": "wrap: A -> (Aᵀ)ᵀ",
    "commute": "commute: A + B -> B + A",
    "undo": "flip: Aᵀ B -> (Bᵀ A)ᵀ",  # transpose-of-product and double-transpose undo it
}


@pytest.mark.parametrize("name", GROWING_RULES)
def test_rules_that_rewrite_forever_stop_at_a_limit(name, tmp_path):
    rules = tmp_path / f"{name}.rules"
    rules.write_text(GROWING_RULES[name] + "\n", encoding="utf-8")
    with pytest.raises(LimitError) as caught:
        mc.derive(OBJECTIVE, wrt="W,A", rules=str(rules))
    assert GROWING_RULES[name].split(":")[0] in str(caught.value)
    status, _, err = run_cli("derive", OBJECTIVE, "--wrt", "W,A", "--rules", str(rules))
    assert_clean(status, err, allowed=(2,))
    assert "LimitError" in err


def test_a_users_simplification_rule_is_applied(tmp_path):
    rules = tmp_path / "square.rules"
    rules.write_text("tanh-square: tanh(A) ∘ tanh(A) -> tanh(A) .^ 2\n", encoding="utf-8")
    result = mc.derive("sum(tanh(W x))", wrt="W", rules=str(rules))
    assert ".^ 2" in repr(result) and result.check().ok


SUBPROCESS_CASES = [
    ["derive", "--wrt", "x", "--", "CE(y, softmax(x W + b1)"],
    ["derive", "--wrt", "x", "--", "x +\x1b[31m y"],
    ["parse", "--", "(" * 10_000 + "x" + ")" * 10_000],
    ["derive", "--wrt", "x", "--", "__import__('os').system('echo pwned')"],
    ["derive", "--wrt", "W", "--", "sum(tanh(W x))"],
]


@pytest.mark.parametrize("argv", SUBPROCESS_CASES, ids=["unclosed", "escape", "deep", "import", "valid"])
def test_a_real_process_exits_cleanly(argv, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MATCALC_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "matcalc", *argv], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert_clean(done.returncode, done.stderr)
    assert "pwned" not in done.stdout
