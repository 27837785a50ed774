"""The simplifier owns its state, as egg's Runner does: its rules, limits,
memo and trace belong to one ``Simplifier``, and its algebra fires under
names that the trace records beside the rule files' names."""
import numpy as np
import pytest

from matcalc.faces.api import Program
from matcalc.language.errors import LimitError
from matcalc.language.evaluate import evaluate
from matcalc.rewriting.simplify import Limits, Simplifier

WHERE = ["A: (n, m)", "B: (m, n)", "x: (n, 1)"]
SIZES = {"n": 3, "m": 4}


def typed(objective: str):
    return Program("", where=WHERE, objective=objective).objective


def value(e, seed=0):
    rng = np.random.default_rng(seed)
    env = {"A": rng.standard_normal((3, 4)), "B": rng.standard_normal((4, 3)), "x": rng.standard_normal((3, 1))}
    return evaluate(e, env, SIZES)


def test_algebra_and_rules_fire_by_name_and_the_value_is_kept():
    e = typed("((A B)ᵀ)ᵀ x + 0 x + 2 (3 x) + (2 3) x")
    s = Simplifier()
    out = s(e)
    # ((A B)ᵀ)ᵀ -> A B (rules), 0 x -> 0, 2 (3 x) -> 6 x and (2 3) x -> 6 x (algebra), then one sum
    for name in ("double-transpose", "scale-by-zero", "scale-of-scale", "multiply-numbers", "collect-terms"):
        assert name in s.trace
    np.testing.assert_allclose(value(out), value(e), rtol=1e-12)


def test_simplifiers_do_not_share_rules_or_memo():
    e = typed("((A B)ᵀ)ᵀ x")
    bare, full = Simplifier(rules=[]), Simplifier()
    assert bare(e) != full(e)  # no double-transpose rule in the bare one
    assert "double-transpose" not in bare.trace and "double-transpose" in full.trace
    assert bare(e) == bare.memo[e]


def test_limits_belong_to_one_simplifier():
    e = typed("((A B)ᵀ)ᵀ x + 0 x + 2 (3 x)")
    with pytest.raises(LimitError, match="3 rewrites"):
        Simplifier(limits=Limits(steps=3))(e)
    Simplifier()(e)  # another simplifier keeps the default limits


def test_a_node_meets_only_the_rules_of_its_operator():
    s = Simplifier()
    transposes = s._rules_for("T")
    assert transposes and all(r.lhs.op == "T" or not hasattr(r.lhs, "op") for r in transposes)
    assert len(transposes) < len(s.rules)
