"""Hessians of random programs (the fuzzer's generator), judged by the
oracle of ``tests/fuzz_oracle.py`` independently of the engine: uᵀ H v of
the closed form against mixed second differences of the generator's numpy
objective along random (non-symmetric) directions, H v against ``--hvp``, H
symmetric, and the engine's own check not failed.  The Hessian is taken in a
declared symmetric or spd matrix whenever the program has one (issue 12),
else in the first variable."""
import random

import pytest

from fuzz_oracle import structured_wrt, verify_hessian
from fuzz_programs import generate_case


@pytest.mark.parametrize("seed", range(300))
def test_hessian_of_a_random_program(seed):
    case = generate_case(random.Random(seed))
    wrt = structured_wrt(case.text, case.wrt)
    outcome = verify_hessian(case.text, wrt, case.draws, case.forward, seed=seed)
    if outcome.status == "refused":
        # the only functions the generator uses without a rule: max, and X^k (k symbolic) outside tr
        assert "max" in outcome.message or "symbolic power" in outcome.message
        return
    assert outcome.status in ("correct", "unverifiable"), f"{case.text}\n--wrt {wrt} --order 2: {outcome.message}"


def test_structured_declarations_are_fuzzed():
    structured = 0
    for seed in range(300):
        case = generate_case(random.Random(seed))
        wrt = structured_wrt(case.text, case.wrt)
        structured += any(line.startswith(f"{wrt} ") and ("symmetric" in line or "spd" in line)
                          for line in case.text.splitlines())
    assert structured >= 20, structured
