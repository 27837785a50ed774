"""The ``read as`` line (issue 11): it appears exactly when a split of a run
of letters or a default kind decided the reading, in text, JSON and LaTeX."""
import json
import subprocess
import sys

import pytest

import matcalc as mc
from matcalc.outputs.latex import render_latex
from matcalc.outputs.render import render_json, render_text


def run(*args):
    return subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True, text=True, timeout=120)


# (objective, --where lines, the read as line)
READ = [
    ("xW + b1", [],
     "read as  x W + b1   (xW split into x W; b1 a row vector by default — declare b1: () for a scalar)"),
    ("relu(w^T x + b)", [], "read as  relu(wᵀ x + b)   (b a column vector by default — declare b: () for a scalar)"),
    ("x' A x + c", [], "read as  xᵀ A x + c   (c a column vector by default — declare c: () for a scalar)"),
    ("sum(xW)", ["x: (1, 3)", "W: (3, 2)"], "read as  sum(x W)   (xW split into x W)"),
    ("J", ["z = xW", "J = sum(z)"], "read as  z = x W   (xW split into x W)"),
    ("sum(X W) / batch", [], "read as  sum(X W) / b a t c h   (batch split into b a t c h)"),
]

# nothing decided for the user: declared, forced by the operators, or no sum with a default
NOT_READ = [
    ("tr(A X B)", []),
    ("x W + b1", ["b1: (1, m)"]),
    ("x^T A x", []),
    ("CE(y, softmax(θ))", ["y: (1, C) onehot"]),
    ("sum(X W) / batch", ["X: (batch, D)"]),
    ("relu(w^T x + b)", ["b: ()"]),
    ("sum(hinge(X w))", []),
]


def derived(objective, where):
    variables = mc.Program(objective=objective, where=where).variables
    return mc.derive(objective, wrt=variables[-1], where=where)


@pytest.mark.parametrize("objective, where, line", READ, ids=[r[0] for r in READ])
def test_read_as_when_a_split_or_a_default_decided(objective, where, line):
    result = derived(objective, where)
    assert line in render_text(result).splitlines()
    data = json.loads(render_json(result))
    assert data["read_as"]["notes"] and all(note in line for note in data["read_as"]["notes"])
    assert r"\text{read as }" in render_latex(result)


@pytest.mark.parametrize("objective, where", NOT_READ, ids=[r[0] for r in NOT_READ])
def test_no_read_as_when_nothing_was_decided(objective, where):
    result = derived(objective, where)
    assert "read as" not in render_text(result)
    assert json.loads(render_json(result))["read_as"] is None
    assert "read as" not in render_latex(result)


def test_read_as_on_the_command_line():
    out = run("derive", "xW + b1", "--wrt", "W")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == ("read as  x W + b1   (xW split into x W; b1 a row vector by default"
                                          " — declare b1: () for a scalar)")
    out = run("derive", "xW + b1", "--wrt", "W", "--ascii")
    assert "read as  x W + b1   (xW split into x W; b1 a row vector by default -- declare b1: () for a scalar)" \
        in out.stdout
