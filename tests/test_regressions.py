"""Bugs the fuzzer found (issue 8), one test each, named after what it
exercises; each holds the program hypothesis shrank the failure to, judged by
the fuzzer's oracle (finite differences of the original objective, at inputs
drawn independently of the engine).  The fix is named beside each."""
import matcalc as mc
from matcalc.language.expr import Sym

from fuzz_oracle import verify


def assert_correct(text, wrt, draws=None):
    outcome = verify(text, wrt, draws)
    assert outcome.status == "correct", f"{outcome.status}: {outcome.message}"


def test_cross_entropy_against_a_target_that_need_not_sum_to_one():
    # softmax-CE (ŷ − y) holds only where y sums to 1: σ(A2) does not, so the
    # generic CE rule applies (rules/differentials.rules: when distribution(Y))
    assert_correct("A1 : (n, m) onehot\nA2 : (n, m)\na4 : (N, 1)\nh3 = A2\nJ = CE(σ(A2), softmax(h3))",
                   ["A2"], {"A1": "onehot"})


def test_cross_entropy_against_a_softmax_target_keeps_the_fused_rule():
    r = mc.derive("CE(softmax(u), softmax(z))", wrt="z", where=["u: (1, n)", "z: (1, n)"])
    assert str(r.gradients["z"]) == "softmax(z) − softmax(u)" and not r.assumptions
    assert_correct("u : (1, n)\nz : (1, n)\nJ = CE(softmax(u), softmax(z))", ["u", "z"])


def test_definition_that_is_an_alias_of_an_input():
    # h2 = s1 named the input s1 "h2" everywhere, so "h2 = h2" could not be
    # evaluated (matcalc/faces/api.py: only computed nodes take a program's name)
    assert_correct("s1 : ()\na3 : (n, 1)\na4 : (N, 1)\nh2 = s1\nJ = h2 + s1", ["s1"])


def test_function_whose_derivative_is_zero():
    # d sgn(s1) = 0 ∘ d(s1) simplifies to 0, and 0 has no adjoint rule: a constant
    # form passes nothing back (matcalc/engine/reverse.py, _transpose)
    assert_correct("s1 : ()\na2 : (n, 1)\na3 : (N, 1)\nJ = sgn(s1)", ["s1"])
    assert_correct("x : (n, 1)\nW : (n, n)\nJ = sum(step(W x) ∘ (W x))", ["W", "x"])


def test_wrt_names_a_greek_variable_as_it_is_written():
    # --wrt μ6 named nothing: the program spells it mu6 (matcalc/faces/api.py, canonical_name)
    assert_correct("t5 : ()\nμ6 : ()\nJ = μ6 log(t5)", ["μ6", "t5"], {"t5": "positive"})
    assert set(mc.derive("sum(θ x)", wrt="θ").gradients) == {"theta"}


def test_check_redraws_where_a_norm_of_a_relu_is_zero():
    # relu(z2) = 0 at a draw makes ‖·‖'s gradient 0/0: the engine's check failed
    # a right answer instead of drawing again (matcalc/results/check.py: redraw, reported)
    program = mc.Program("w1 : (1, k)\nz2 : (1, k)\nJ = ‖softplus(w1) .* relu(z2)‖_F")
    check = program.derive(["w1", "z2"]).check(seed=2)
    assert check.ok and "redrew" in check.details and "not finite" in check.details
    assert_correct(program.source, ["w1", "z2"])


def test_check_draws_the_argument_of_a_log_positive():
    # sum(log(x)) failed its check on every normal draw (nan); x is now drawn
    # positive, as a declared kind would be (matcalc/results/sampling.py, domain_draws)
    r = mc.derive("sum(log(x)) + sqrt(s)", wrt="x,s", where=["s: ()"])
    check = r.check()
    assert check.ok and "redrew" not in check.details, check.details


def test_check_of_a_large_objective_with_modest_slopes():
    # J ~ 1e6 next to slopes ~ 1: round-off of f over the step (eps |J| / h) failed
    # right gradients at 1e-6 (bench seed 105767, ‖U − (A − log(det(C Cᵀ + I))³ √V)‖²);
    # a mismatch now gets a second opinion from wider, extrapolated differences
    # (matcalc/results/check.py, _extrapolated_difference)
    check = mc.derive("100000 sum(x ∘ x) + sum(sin(y))", wrt="y,x").check()
    assert check.ok, check.details
    assert_correct("U : (N, m)\nA : (N, m)\nV : (N, m)\nC : (k, m)\n"
                   "J = ‖U - (A − ((log(det(C Cᵀ + I))³) · sqrt(V)))‖²", ["C", "U", "A"], {"V": "positive"})


def test_a_named_objective_value_inside_a_delta_is_defined():
    # fuzz seed 3: tan' = 1 + tan², so δ1 holds the objective's own value; the
    # name the output gave it (u2) had no definition and the check FAILED
    program = """
z1 : (1, N)
b2 : (1, N)
a3 : (N, 1)
W5 : (m, m)
x6 : (m, 1)
λ7 : ()
g8 = W5 ones
J = tan(tanh(arccos(tanh(softmax(z1 ./ b2) * a3) / 2) - CE(σ(tanh(W5 x6 + λ7)), σ(atan(g8) .^ 2))) / 2)
"""
    result = mc.Program(program).derive(wrt=["λ7", "z1", "x6", "W5"])
    defined = {s.name for s in result.definitions} | {s.name for s in result.intermediates}
    defined |= set(result.program.variables)
    used = {n.name for e in [*result.gradients.values(), *(s.expr for s in result.intermediates)]
            for n in e.walk() if isinstance(n, Sym)}
    assert used <= defined, used - defined
    assert result.check().status == "ok"


SEED_3_INPUTS = ["z1 : (1, N)", "b2 : (1, N)", "a3 : (N, 1)", "W5 : (m, m)", "x6 : (m, 1)", "λ7 : ()", "g8 = W5 ones"]
SEED_3_OBJECTIVE = "tan(tanh(arccos(tanh(softmax(z1 ./ b2) * a3) / 2) - CE(σ(tanh(W5 x6 + λ7)), σ(atan(g8) .^ 2))) / 2)"


def test_the_objective_repeated_in_a_delta_is_defined_once_under_its_own_name():
    # fuzz seed 3 again: the value the sharing pass names (matcalc/results/sharing.py) was
    # the objective itself, printed twice (u2 = tan(h3 / 2) and J = tan(h3 / 2));
    # a named node keeps its name (shared_values), an unnamed objective is J
    # (matcalc/results/naming.py); with a definition J and with the objective as an expression
    for where, objective in ((SEED_3_INPUTS + [f"J = {SEED_3_OBJECTIVE}"], None), (SEED_3_INPUTS, SEED_3_OBJECTIVE)):
        result = mc.derive(objective, wrt="λ7,z1,x6,W5", where=where)
        tops = [s.name for s in result.definitions if s.expr.op == "tan"]
        assert tops == ["J"], tops
        text = repr(result)
        assert text.count("= tan(h3 / 2)") == 1 and "(1 + J²)" in text, text
        assert {n.name for n in result.intermediates[0].expr.walk() if isinstance(n, Sym)} >= {"J", "h3"}
        check = result.check()
        assert check.status == "ok", check.details
        assert_correct("\n".join(where + ([f"J = {objective}"] if objective else [])), ["λ7", "z1", "x6", "W5"])
