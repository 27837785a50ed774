"""The engine as a whole, against an oracle that does not share its
derivation path: for random well-typed programs (``tests/strategies.py``)
every gradient agrees with finite differences of the original objective, or
the engine refuses with a clean error (issue 8).

Deterministic (``derandomize``) so CI sees the same few hundred programs on
every run; ``bench/fuzz.py`` runs the same generator on 10,000.  A failure
prints the shrunk program: it becomes a named test in ``test_regressions.py``.
"""
import random

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fuzz_oracle import verify
from fuzz_programs import generate_case
from strategies import programs


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(case=programs())
def test_every_gradient_agrees_with_finite_differences_or_is_refused(case):
    outcome = verify(case.text, case.wrt, case.draws, case.forward)
    event(outcome.status)
    assert outcome.status in ("correct", "refused", "unverifiable"), \
        f"{outcome.status}: {outcome.message}\n{case.text}\n--wrt {','.join(case.wrt)}"


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_programs_as_the_benchmark_draws_them(seed):
    # hypothesis's random choices lean small; seeds give bench/fuzz.py's larger programs
    # (reproduce one with: python bench/fuzz.py --start SEED --n 1)
    case = generate_case(random.Random(seed))
    outcome = verify(case.text, case.wrt, case.draws, case.forward, seed=seed)
    assert outcome.status in ("correct", "refused", "unverifiable"), \
        f"seed {seed}: {outcome.status}: {outcome.message}\n{case.text}"


def test_the_oracle_catches_a_wrong_derivative(monkeypatch):
    # a deliberately wrong tanh' (1 − tanh instead of 1 − tanh²) must be caught
    from matcalc.rewriting.reader import parse_rule_line
    from matcalc.rewriting.rules import default_rules

    wrong = parse_rule_line("tanh: tanh'(u) = 1 - tanh(u)", "test.rules:1")
    monkeypatch.setitem(default_rules().derivatives, "tanh", wrong)
    outcome = verify("W : (n, m)\nx : (m, 1)\nJ = sum(tanh(W x))", ["W"], engine_check=False)
    assert outcome.status == "wrong" and "mismatch" in outcome.message
