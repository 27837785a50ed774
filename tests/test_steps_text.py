"""How ``--steps`` writes what the steps decided (matcalc.results.steps):
the chain rule only when there is a chain, the shape check with a sum
factor in brackets, and ASCII all the way through with ``--ascii``."""
import matcalc as mc
from matcalc.outputs.latex import render_latex
from matcalc.outputs.render import render_steps_text

QUADRATIC = "x: (n, 1)\nA: (n, n)\nJ = xᵀ A x"   # ∂J/∂x = (A + Aᵀ) x
CS224N = "x: (1, D)\nz = x W + b1\nh = relu(z)\ntheta = h U + b2\nJ = CE(y, softmax(theta))"


def test_a_sum_factor_of_the_shape_check_is_bracketed():
    result = mc.derive(program=QUADRATIC, wrt="x")
    assert result.check().ok
    text = render_steps_text(result)
    assert "shape check: (A + Aᵀ) (n×n) x (n×1) is n×1, the shape of x ✓" in text
    # without the brackets the line would read A + (Aᵀ x), which is not the gradient
    assert "shape check: A + Aᵀ" not in text
    assert r"\left(A + A^\top\right)\ (n \times n)" in render_latex(result, steps=True)


def test_ascii_steps_are_ascii():
    result = mc.derive(program=QUADRATIC, wrt="x")
    text = render_steps_text(result, unicode=False)
    assert text.isascii(), [c for c in text if not c.isascii()]
    assert "shape check: (A + A^T) (nxn) x (nx1) is nx1, the shape of x ok" in text


def test_the_chain_rule_line_is_written_only_for_a_chain():
    direct = mc.derive("tr(A X B)", wrt="X")
    assert direct.check().ok
    assert "(chain rule)" not in render_steps_text(direct)  # not ∂J/∂X = ∂J/∂X
    assert "chain rule" not in render_latex(direct, steps=True)
    net = mc.derive(program=CS224N, wrt="W")
    assert net.check().ok
    assert "∂J/∂W = ∂J/∂θ · ∂θ/∂h · ∂h/∂z · ∂z/∂W   (chain rule)" in render_steps_text(net)
