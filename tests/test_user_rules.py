"""Jacobians and Hessians honour the user's rule file (SPEC §4): their
display, their layout and their cheap form are simplified with the rule
base the program was given, never with the default rules alone."""
import numpy as np
import pytest

import matcalc as mc
from matcalc.language.printer import to_text

WHERE = ["W: (m, n)", "x: (n, 1)"]


@pytest.fixture
def transpose_rule(tmp_path):
    # a rule the default base lacks; it fires only on the transposes that the
    # denominator layout creates after the Jacobian is built
    path = tmp_path / "mine.rules"
    path.write_text("tanh-of-transpose: tanh(A)ᵀ -> tanh(Aᵀ)\n", encoding="utf-8")
    return str(path)


def written(derivative) -> str:
    where = "; ".join(f"{name} = {to_text(e)}" for name, e in derivative.where)
    return f"{to_text(derivative.expr)}; {where}"


@pytest.mark.parametrize("objective, options", [
    ("tanh(W x)", {}),
    ("sum(tanh(W x))", {"order": 2}),
], ids=["jacobian", "hessian"])
def test_denominator_layout_is_simplified_with_the_users_rules(objective, options, transpose_rule):
    plain = mc.derive(objective, wrt="x", where=WHERE, layout="denominator", **options)
    mine = mc.derive(objective, wrt="x", where=WHERE, layout="denominator", rules=transpose_rule, **options)
    assert "tanh(xᵀ Wᵀ)" not in written(plain.derivatives[0])
    assert "tanh(xᵀ Wᵀ)" in written(mine.derivatives[0])
    assert mine.check().ok


def test_the_users_rules_reach_the_jacobian_value(transpose_rule):
    # the evaluated Jacobian (cheap form, user rules) against plain numpy
    r = mc.derive("tanh(W x)", wrt="x", where=WHERE, layout="denominator", rules=transpose_rule)
    jacobians = r.compile(function="jacobians")
    rng = np.random.default_rng(1)
    W, x = rng.standard_normal((3, 2)), rng.standard_normal((2, 1))
    expected = (W * (1 - np.tanh(W @ x) ** 2)).T  # denominator layout: (∂f/∂x)ᵀ
    assert np.allclose(jacobians(W=W, x=x)["x"], expected)
