"""Issue 13: products of numbers written by the user settle in the simplifier."""
import numpy as np
import pytest

import matcalc as mc


@pytest.mark.parametrize("objective, factor", [
    ("2*2*2*sum(x)", 8), ("2*2*2*2*sum(x)", 16), ("(2*2)*(2*2)*sum(x)", 16), ("3*2*2*sum(x)", 12),
])
def test_products_of_numbers_do_not_end_in_a_limit_error(objective, factor):
    r = mc.derive(objective, wrt="x", where=["x: (n, 1)"])
    x = np.random.default_rng(0).standard_normal((4, 1))
    assert np.allclose(r.compile()(x=x)["x"], factor * np.ones((4, 1)))
    assert r.check().ok
