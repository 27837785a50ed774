"""Every order-1 gradient case of the public corpus: matcalc derives it, its
own numeric check passes, and the gradient equals the corpus's expected
answer numerically (never by string)."""
import numpy as np
import pytest

import matcalc as mc
from matcalc.faces.api import Program
from matcalc.language.evaluate import evaluate
from matcalc.results.sampling import assign_sizes, sample_inputs
from matcalc.shapes.dag import dims_from_inputs

from conftest import corpus_cases


def is_gradient_case(case):
    return case["order"] == 1 and case["category"] != "jacobian"


def expected_value(case, result, env):
    """Evaluate the corpus's expected answer in the problem's own program."""
    # "+ 0 X" sizes what the answer alone leaves open (the I of tr(X)'s gradient)
    p = Program("", where=case["where"], objective=f"({case['expected']}) + 0 ({case['wrt']})")
    values = dict(env)
    dims = dims_from_inputs(p.typed.shapes, env)
    for name, expr in p.nodes.items():
        values[name] = evaluate(expr, values, dims)
    return evaluate(p.objective, values, dims)


@pytest.mark.parametrize("case", corpus_cases(is_gradient_case))
def test_corpus_gradient(case):
    result = mc.derive(case["f"], wrt=case["wrt"], where=case["where"])
    check = result.check(draws=case.get("draw"))
    assert check.ok, f"own check failed: {check.max_rel_error} {check.details}"

    typed = result.program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in result.program.variables}
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        sizes = assign_sizes(typed.dims)
        env = sample_inputs(variables, typed.kinds, sizes, rng, draws=case.get("draw"))
        _, gradients = result.evaluator()
        ours = np.asarray(gradients(env)[case["wrt"]], dtype=float)
        theirs = np.asarray(expected_value(case, result, env), dtype=float)
        theirs = np.broadcast_to(theirs, ours.shape) if theirs.size == 1 else theirs
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-9)
