"""Derivation that scales, tested by sizes, never by clocks: a deep single
expression prints about as much as the same net written as a program (the
values it would repeat are named), and a transformer stack's gradients are
in terms of the values the program named (X1ᵀ, never X1 spelt out)."""
import matcalc as mc
from matcalc.outputs.render import render_text


def deep(levels: int) -> tuple[str, list[str]]:
    e = "x"
    for i in range(levels, 0, -1):
        e = f"tanh(W{i} {e})"
    return "\n".join(["x: (n, 1)"] + [f"W{i}: (n, n)" for i in range(1, levels + 1)] + [f"J = sum({e})"]), \
        [f"W{i}" for i in range(1, levels + 1)]


def layered(levels: int) -> str:
    lines = ["x: (n, 1)"] + [f"W{i}: (n, n)" for i in range(1, levels + 1)]
    below = "x"
    for i in range(levels, 0, -1):
        lines.append(f"h{i} = tanh(W{i} {below})")
        below = f"h{i}"
    return "\n".join(lines + ["J = sum(h1)"])


def test_a_deep_expression_prints_no_more_than_twice_its_program_form():
    text, wrt = deep(24)
    result = mc.Program(text).derive(wrt=wrt)
    program_form = mc.Program(layered(24)).derive(wrt=wrt)
    assert len(render_text(result)) <= 2 * len(render_text(program_form))
    assert result.check().ok


def test_small_results_stay_inline():
    result = mc.derive("sum(tanh(W x))", wrt="W", where=["x: (n, 1)"])
    assert "tanh(W x)" in render_text(result) and "h1" not in render_text(result)


def attention(blocks: int) -> tuple[str, list[str]]:
    lines = ["X0: (n, d)"] + [f"W{k}{i}: (d, d)" for i in range(1, blocks + 1) for k in "qkv"]
    for i in range(1, blocks + 1):
        x = f"X{i - 1}"
        lines += [f"Q{i} = {x} Wq{i}", f"K{i} = {x} Wk{i}", f"V{i} = {x} Wv{i}",
                  f"A{i} = softmax(Q{i} K{i}ᵀ / 8)", f"X{i} = {x} + A{i} V{i}"]
    return "\n".join(lines + [f"J = sum(X{blocks})"]), [f"W{k}{i}" for i in range(1, blocks + 1) for k in "qkv"]


def test_attention_gradients_use_the_values_the_program_named():
    text, wrt = attention(3)
    result = mc.Program(text).derive(wrt=wrt)
    shown = render_text(result)
    assert "X1ᵀ" in shown and "Wv1ᵀ X0ᵀ" not in shown  # (X0 + A1 V1)ᵀ is not spelt out
    assert result.check().ok
    # the printed size grows linearly: 6 blocks print about twice 3 blocks
    assert len(render_text(mc.Program(attention(6)[0]).derive(wrt=attention(6)[1]))) < 2.5 * len(shown)


def test_the_emitted_attention_gradient_reuses_v():
    text, wrt = attention(1)
    code = mc.Program(text).derive(wrt=wrt).numpy()
    gradients = code[code.index("def gradients"):code.index("def value_and_gradients")]
    assert gradients.count("X0 @ Wv1") == 1  # V1 = X0 @ Wv1, computed once and reused
