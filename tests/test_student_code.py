"""``matcalc check PROBLEM --code FILE.py:FUNC`` and ``check_function``: a
student's numpy backward pass for the CS224n network (over a batch, mean
loss) is called at the sampler's points and judged like a written answer."""
import json
import textwrap

import numpy as np
import pytest
from test_answers import cli

from matcalc.faces.answers import Problem
from matcalc.faces.student_code import check_function

PROGRAM = """\
X : (N, D)
Y : (N, C) onehot
Z = X W + b1
H = relu(Z)
P = softmax(H U + b2)
J = CE(Y, P) / N
"""
PROBLEM = Problem("J", "W", program=PROGRAM)

STUDENT = '''
import numpy as np


def _forward(X, W, b1, U, b2):
    Z = X @ W + b1
    H = np.maximum(Z, 0)
    T = H @ U + b2
    E = np.exp(T - T.max(axis=1, keepdims=True))
    return Z, E / E.sum(axis=1, keepdims=True)


def grad_W(X, W, b1, U, b2, Y):
    Z, P = _forward(X, W, b1, U, b2)
    delta1 = (P - Y) / X.shape[0]
    delta2 = delta1 @ U.T * (Z > 0)
    return X.T @ delta2


def grad_W_transposed(X, W, b1, U, b2, Y):
    return grad_W(X, W, b1, U, b2, Y).T


def grad_W_no_mean(X, W, b1, U, b2, Y):
    return grad_W(X, W, b1, U, b2, Y) * X.shape[0]


def grad_W_as_dict(**inputs):
    return {"W": grad_W(**inputs)}


def grad_W_raises(X, W, b1, U, b2, Y):
    return X @ W.T  # shapes do not fit: numpy raises


def grad_W_wrong_shape(X, W, b1, U, b2, Y):
    return np.ones(3)


def grad_W_not_numbers(X, W, b1, U, b2, Y):
    return "dJ/dW"
'''


def student_module(tmp_path):
    path = tmp_path / "hw1.py"
    path.write_text(STUDENT)
    namespace = {}
    exec(compile(STUDENT, str(path), "exec"), namespace)  # the test's own code, not a student's
    return path, namespace


@pytest.mark.parametrize("func, kind, words", [
    ("grad_W", "correct", "equals"),
    ("grad_W_transposed", "transpose", "layout"),
    ("grad_W_no_mean", "factor", "missing 1/N"),
    ("grad_W_as_dict", "correct", "equals"),
    ("grad_W_raises", "raises", "raised ValueError"),
    ("grad_W_wrong_shape", "shape", "your answer is a 1-D array of length 3 but ∂J/∂W is D×"),
    ("grad_W_not_numbers", "raises", "not an array"),
])
def test_check_function_judges_a_numpy_backward_pass(tmp_path, func, kind, words):
    _, namespace = student_module(tmp_path)
    v = check_function(PROBLEM, namespace[func])
    assert v.kind == kind and words in v.diagnosis, v.diagnosis
    assert v.correct == (kind == "correct")


def test_inputs_are_2d_arrays_shaped_as_declared_and_scalars_floats():
    seen = []

    def spy(**inputs):
        seen.append({n: (np.shape(v), type(v).__name__) for n, v in inputs.items()})
        return 2 * inputs["A"] @ inputs["x"] * inputs["lam"]
    v = check_function({"f": "lam x^T A x", "wrt": "x", "where": ["x: (n, 1)", "A: (n, n) symmetric", "lam: ()"]},
                       spy)
    assert v.correct, v.diagnosis
    assert all(s["lam"] == ((), "float") and len(s["x"][0]) == 2 and s["x"][0][1] == 1 for s in seen)
    assert {s["x"][0][0] for s in seen} == {2, 3}  # two size assignments


def test_the_student_cannot_change_the_cached_inputs():
    def vandal(A, x):
        A[:] = 0
        return A

    check_function({"f": "A x", "wrt": "x"}, vandal)
    from matcalc.faces.answers import check_answer

    assert check_answer({"f": "A x", "wrt": "x"}, "A").correct


@pytest.mark.parametrize("func, code, kind", [
    ("grad_W", 0, "correct"),
    ("grad_W_transposed", 1, "transpose"),
    ("grad_W_no_mean", 1, "factor"),
    ("grad_W_raises", 1, "raises"),
])
def test_cli_check_code_runs_the_file_in_a_worker(tmp_path, func, code, kind):
    path, _ = student_module(tmp_path)
    program = tmp_path / "batch.mc"
    program.write_text(PROGRAM)
    done = cli("check", "J", "-f", str(program), "--wrt", "W", "--code", f"{path}:{func}", "--format", "json")
    assert done.returncode == code, done.stdout + done.stderr
    assert json.loads(done.stdout)["kind"] == kind and "Traceback" not in done.stderr


def test_cli_check_code_survives_a_file_that_does_not_load(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""
        import sys
        print("hello from the student")
        sys.exit(3)
    """))
    done = cli("check", "A x", "--wrt", "x", "--code", f"{bad}:f")
    assert done.returncode == 1 and "(raises)" in done.stdout and "Traceback" not in done.stderr
    done = cli("check", "A x", "--wrt", "x", "--code", f"{bad}")
    assert done.returncode == 2 and "FILE.py:FUNCTION" in done.stderr


def test_a_function_that_never_returns_is_a_verdict(tmp_path):
    from matcalc.faces.student_code import check_code

    path = tmp_path / "loop.py"
    path.write_text("def f(A, x):\n    while True:\n        pass\n")
    v = check_code({"f": "A x", "wrt": "x"}, f"{path}:f", time_limit=3)
    assert v.kind == "raises" and "did not finish" in v.diagnosis


def test_a_function_that_allocates_too_much_is_a_verdict(tmp_path):
    from matcalc.faces.student_code import check_code

    path = tmp_path / "hog.py"
    path.write_text("import numpy as np\ndef f(A, x):\n    return np.ones((1 << 20, 1 << 12))\n")  # 32 GiB
    v = check_code({"f": "A x", "wrt": "x"}, f"{path}:f")
    assert v.kind == "raises" and "MemoryError" in v.diagnosis, v.diagnosis
