"""Answers as simple as the book (issue 16): for each book problem in
tests/data/book_forms.jsonl, matcalc's answer equals the book's numerically
(the book's form parsed and evaluated in the problem's own program, never
compared as a string), its own check passes, and it is no longer than the
book's in tokens, counting the δ lines it uses (bench/book_form.py counts
the same way over the whole corpus)."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import matcalc as mc
from matcalc.faces.api import Program
from matcalc.language.evaluate import evaluate
from matcalc.results.sampling import assign_sizes, sample_inputs
from matcalc.shapes.dag import dims_from_inputs

ROOT = Path(__file__).resolve().parents[1]
CASES = [json.loads(line) for line in (ROOT / "tests" / "data" / "book_forms.jsonl").read_text().splitlines()
         if line.strip()]

_spec = importlib.util.spec_from_file_location("book_form", ROOT / "bench" / "book_form.py")
book_form = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_form)


def book_value(case, env):
    """The book's answer evaluated with plain inputs in the problem's program."""
    p = Program("", where=case["where"], objective=f"({case['expected']}) + 0 ({case['wrt']})"
                if case["order"] == 1 else case["expected"])
    values = dict(env)
    dims = dims_from_inputs(p.typed.shapes, env)
    for name, expr in p.nodes.items():
        values[name] = evaluate(expr, values, dims)
    return np.asarray(evaluate(p.objective, values, dims), dtype=float)


def our_value(result, case, env):
    if result.derivatives:
        d = next(d for d in result.derivatives if d.wrt == case["wrt"])
        values = dict(env)
        dims = dims_from_inputs(result.program.typed.shapes, env)
        for name, expr in result.program.nodes.items():
            values[name] = evaluate(expr, values, dims)
        return np.asarray(evaluate(d.value, values, dims), dtype=float)
    _, gradients = result.evaluator()
    return np.asarray(gradients(env)[case["wrt"]], dtype=float)


# rows not in the book's form yet (issue 16): expected to fail, so that one
# that starts passing is noticed
PENDING: set = set()


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason="not in the book's form yet")] if case["id"] in PENDING else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_book_form(case):
    result = mc.derive(case["f"], wrt=case["wrt"], where=case["where"], order=case["order"])
    check = result.check(draws=case.get("draw"))
    assert check.ok, check.details
    typed = result.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in result.program.variables}
    for seed in (1, 2):
        env = sample_inputs(variables, typed.kinds, assign_sizes(typed.dims), np.random.default_rng(seed),
                            draws=case.get("draw"))
        ours, theirs = our_value(result, case, env), book_value(case, env)
        theirs = np.broadcast_to(theirs, ours.shape) if theirs.size == 1 else theirs
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-9)
    row = book_form.measure(case)
    printed = "; ".join(row["lines"] + [row["text"]])
    assert row["ours"] <= row["book"], f"{printed} ({row['ours']} tokens) against {row['book_text']} ({row['book']})"
