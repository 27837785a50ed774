"""Hessians of random programs (the fuzzer's generator): every one agrees with
finite differences of the closed-form gradient, or is refused cleanly.  The
gradient itself is checked against the objective in test_fuzz.py, so together
they tie the Hessian to the objective."""
import random

import pytest

import matcalc as mc
from fuzz_programs import generate_case
from matcalc.errors import NotDifferentiableError


@pytest.mark.parametrize("seed", range(300))
def test_hessian_of_a_random_program(seed):
    case = generate_case(random.Random(seed))
    wrt = case.wrt[0]
    try:
        result = mc.Program(case.text).derive([wrt], order=2)
    except NotDifferentiableError as err:
        # the only functions the generator uses without a rule: max, and X^k (k symbolic) outside tr
        assert "max" in str(err) or "symbolic power" in str(err)
        return
    check = result.check(draws=case.draws)
    assert check.ok, f"{case.text}\n--wrt {wrt} --order 2: {check.details}"
