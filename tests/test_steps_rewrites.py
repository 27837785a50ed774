"""``--steps`` names, beside each line, the simplifier's rewrites (the
algebra of matcalc/rewriting/algebra.py and the rules of rules/simplify.rules or the
user's file) that turned what the derivative rules made into the form
printed, apart from the derivative rules; those tagged quiet stay out, and
the main output does not change.  Every derivation here is also checked
numerically."""
import pytest

import matcalc as mc
from matcalc.language.expr import Sym
from matcalc.language.parser import parse_program
from matcalc.language.printer import to_text
from matcalc.outputs.latex import render_latex
from matcalc.outputs.render import render_derivative_steps, render_steps_text, render_text
from matcalc.results.steps import derivation_steps
from matcalc.rewriting.algebra import REWRITES
from matcalc.rewriting.simplify import Simplifier
from matcalc.shapes.inference import infer_shapes

from conftest import ROOT

# z = A x, h = tanh(z), J = hᵀ B h: the cotangent of h is (hᵀ B)ᵀ + B h
# before the simplifier pushes the transpose in and collects the terms (the
# README shows its --steps)
LAYER = (ROOT / "tests" / "data" / "tanh_quadratic.mc").read_text(encoding="utf-8")


def names_in(result) -> tuple[set, set]:
    """(every simplifier rewrite name of the result's rule base and of the
    algebra, the quiet ones among them), read from the data."""
    rules = result.program.rules.of("simplify")
    algebra = [a for rewrites in REWRITES.values() for a in rewrites]
    known = {r.name for r in rules} | {a.name for a in algebra}
    quiet = {r.name for r in rules if "quiet" in r.tags} | {a.name for a in algebra if a.quiet}
    return known, quiet


def line_of(steps, name: str):
    return next(line for line in steps.lines if isinstance(line.target, Sym) and line.target.name == name)


def text_block(text: str, start: str) -> str:
    """The line of ``text`` that begins (after indentation) with ``start``,
    with its continuation lines (those that are not another ∂ line)."""
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip().startswith(start))
    block = [lines[i]]
    for line in lines[i + 1:]:
        if line.strip().startswith(("∂", "shape check")):
            break
        block.append(line)
    return "\n".join(block)


@pytest.fixture(scope="module")
def layer():
    result = mc.derive(program=LAYER, wrt="x")
    assert result.check().ok
    return result


def test_the_line_the_rewrites_shaped_names_them(layer):
    steps = derivation_steps(layer, "x")
    h, z, x = line_of(steps, "h"), line_of(steps, "z"), line_of(steps, "x")
    assert "(B + Bᵀ) h" == to_text(h.expr)
    assert {"transpose-of-product", "collect-terms"} <= set(h.rewrites)
    assert "transpose-of-product" not in z.rewrites + x.rewrites
    assert h.rules == ["product", "transpose"]  # the derivative rules stay apart

    text = render_steps_text(layer)
    shown = text_block(text, "∂J/∂h")
    assert "[product, transpose]" in shown and "simplified: " in shown
    assert shown.index("[product, transpose]") < shown.index("simplified: ")
    assert "transpose-of-product" in shown and "collect-terms" in shown
    assert "simplified" not in text_block(text, "∂J/∂z")

    latex = render_latex(layer, steps=True)
    row = next(r for r in latex.splitlines() if r.strip().startswith(r"\frac{\partial J}{\partial h} &="))
    assert r"\text{simplified: " in row and "transpose-of-product" in row
    z_row = next(r for r in latex.splitlines() if r.strip().startswith(r"\frac{\partial J}{\partial z} &="))
    assert "simplified" not in z_row


def test_the_main_output_does_not_name_rewrites(layer):
    assert "simplified" not in render_text(layer)
    assert "simplified" not in render_latex(layer)


@pytest.mark.parametrize("objective, where, wrt, options", [
    ("CE(y, softmax(relu(x W + b1) U + b2))", ["x: (1, D)", "W: (D, H)", "b1: (1, H)", "U: (H, C)", "b2: (1, C)",
                                                "y: (1, C)"], "W,U,b1", {}),
    ("x^T A x", ["x: (n, 1)", "A: (n, n)"], "x", {}),
    ("tr(Xᵀ A X)", ["X: (n, k)", "A: (n, n)"], "X", {}),
    ("λ sum(w ∘ w) + sum((X w - y) ∘ (X w - y))", ["X: (n, d)", "w: (d, 1)", "y: (n, 1)", "λ: (1, 1)"], "w", {}),
    ("softmax(W x)", ["W: (n, m)", "x: (m, 1)"], "x", {}),
    ("sum(tanh(W x))", ["W: (n, m)", "x: (m, 1)"], "x", {"order": 2}),
], ids=["cs224n", "quadratic", "trace", "ridge", "jacobian", "hessian"])
def test_every_name_shown_is_a_rewrite_of_the_rule_base_or_the_algebra(objective, where, wrt, options):
    result = mc.derive(objective, wrt=wrt, where=where, **options)
    assert result.check().ok
    known, quiet = names_in(result)
    shown = [n for w in result.gradients for line in derivation_steps(result, w).lines for n in line.rewrites]
    shown += [n for d in result.derivatives for step in d.steps for n in step.rewrites]
    assert set(shown) <= known - quiet
    for w in result.gradients:
        for line in derivation_steps(result, w).lines:
            assert len(set(line.rewrites)) == len(line.rewrites)  # each once
    if objective != "CE(y, softmax(relu(x W + b1) U + b2))":
        assert shown  # these need the simplifier to read as printed


def test_forward_mode_steps_name_the_rewrites_of_each_jacobian():
    result = mc.derive("softmax(W x)", wrt="x", where=["W: (n, m)", "x: (m, 1)"])
    assert result.check().ok
    (d,) = result.derivatives
    last = d.steps[-1]
    assert last.rewrites and "softmax" in last.rules
    assert not set(last.rewrites) & set(last.rules)
    # W x is not shown: its Jacobian is written inside the last one, with its rules and rewrites
    hidden = [s for s in d.steps[:-1] if s.node not in result.program.names]
    assert hidden
    for step in hidden:
        assert set(step.rules) <= set(last.rules) and set(step.rewrites) <= set(last.rewrites)
    text = render_derivative_steps(result)
    assert "simplified: " + ", ".join(last.rewrites) in text
    latex = render_latex(result, steps=True)
    assert r"\text{simplified: " in latex.split("% forward-mode steps")[1]


def test_a_rewrite_tagged_quiet_is_not_named(tmp_path):
    """The same rewrite (a scalar's transpose is itself), once in a user file
    as it is and once tagged quiet: it fires in both, is named in one."""
    loud, hushed = tmp_path / "loud.rules", tmp_path / "hushed.rules"
    loud.write_text("scalar-transpose-named: aᵀ -> a   when scalar(a)\n", encoding="utf-8")
    hushed.write_text("scalar-transpose-hushed: aᵀ -> a   when scalar(a)   tag quiet\n", encoding="utf-8")
    where = ["a: (n, 1)", "b: (n, 1)", "x: (n, 1)"]
    results = [mc.derive("(aᵀ x) (bᵀ x)", wrt="x", where=where, rules=str(path)) for path in (loud, hushed)]
    lines = [line_of(derivation_steps(r, "x"), "x") for r in results]
    assert all(r.check().ok for r in results)
    assert to_text(lines[0].expr) == to_text(lines[1].expr)
    assert "scalar-transpose-named" in lines[0].rewrites
    assert "scalar-transpose-hushed" not in lines[1].rewrites
    assert "scalar-transpose-hushed" not in render_steps_text(results[1])
    # and it did fire: a simplifier over the same rule base traces it
    typed = infer_shapes(parse_program("\n".join(where) + "\nF = ((aᵀ x) (bᵀ x))ᵀ"))
    simplifier = Simplifier(results[1].program.rules.of("simplify"))
    simplifier(typed.definitions["F"])
    assert "scalar-transpose-hushed" in simplifier.trace
    assert "scalar-transpose-hushed" not in simplifier.rewrites_of(typed.definitions["F"])


def test_a_user_rule_is_named_as_its_file_names_it(tmp_path, layer):
    path = tmp_path / "mine.rules"
    path.write_text("my-transpose-of-product: (A B)ᵀ -> Bᵀ Aᵀ\n", encoding="utf-8")
    result = mc.derive(program=LAYER, wrt="x", rules=str(path))
    assert result.check().ok
    h = line_of(derivation_steps(result, "x"), "h")
    assert "my-transpose-of-product" in h.rewrites
    assert "transpose-of-product" not in h.rewrites  # the user's rule came first
    known, _ = names_in(result)
    assert "my-transpose-of-product" in known
    assert "my-transpose-of-product" in text_block(render_steps_text(result), "∂J/∂h")
    assert to_text(h.expr) == to_text(line_of(derivation_steps(layer, "x"), "h").expr)


def test_a_node_the_memo_simplified_earlier_still_names_its_rewrites():
    """The second expression meets ((A B)ᵀ)ᵀ already simplified: nothing
    fires on it again, yet the rewrites that made it are named."""
    typed = infer_shapes(parse_program("A: (n, n)\nB: (n, n)\nC: (n, n)\nF = ((A B)ᵀ)ᵀ\nG = ((A B)ᵀ)ᵀ C"))
    simplifier = Simplifier()
    first, second = typed.definitions["F"], typed.definitions["G"]
    simplifier(first)
    fired = len(simplifier.trace)
    with simplifier.recording() as names:
        simplifier(second)
    assert "double-transpose" not in simplifier.trace[fired:]
    assert "double-transpose" in simplifier.rewrites_of(second)
    assert names == list(simplifier.rewrites_of(second))


@pytest.mark.parametrize("objective, where, wrt", [
    ("sum(tanh(W x))", ["W: (n, m)", "x: (m, 1)"], "x"),
    ("sum(log(1 + exp(X w)))", ["X: (n, d)", "w: (d, 1)"], "w"),
    ("CE(y, softmax(W x))", ["W: (C, D)", "x: (D, 1)", "y: (C, 1)"], "W"),
], ids=["tanh", "softplus", "softmax-CE"])
def test_a_step_names_only_the_deltas_the_derivation_keeps(objective, where, wrt):
    """A δ written back into the one gradient that used it (a layer of its
    own) is gone from the steps too: the gradient's line reads as the
    gradient does, never with a δ that is defined nowhere."""
    result = mc.derive(objective, wrt=wrt, where=where)
    assert result.check().ok
    kept = {i.name for i in result.derivation.intermediates}
    steps = derivation_steps(result, wrt)
    for line in steps.lines:
        used = {n.name for n in line.expr.walk() if isinstance(n, Sym) and n.name.startswith("delta")}
        assert used <= kept, (to_text(line.expr), kept)
    assert to_text(steps.lines[-1].expr) == to_text(result.gradients[wrt])
