"""The rule base checks itself: every rule file loads, and every
simplification holds numerically at random inputs of distinct sizes (both
sides evaluated), so a new rule is tested the moment it exists."""
import numpy as np
import pytest

from matcalc.faces.api import Program
from matcalc.language.errors import RuleError
from matcalc.language.evaluate import evaluate
from matcalc.language.printer import to_ascii
from matcalc.results.sampling import assign_sizes, sample_inputs
from matcalc.rewriting.reader import parse_rule_line
from matcalc.rewriting.rules import Context, conditions_hold, default_rules, instantiate, match
from matcalc.shapes.dag import dims_from_inputs

from conftest import as_symbols

DECLARE = {"scalar": "{}: ()", "column": "{}: (n, 1)", "row": "{}: (1, n)",
           "symmetric": "{}: (n, n) symmetric", "matrix": "{}: (n, m)", "vector": "{}: (n, 1)",
           "nonscalar": None}  # uppercase names are matrices already


# rules whose sizes inference cannot guess from the rule alone
EXAMPLES = {"kron-mixed-product": ["A: (m, n)", "B: (p, q)", "C: (n, r)", "D: (q, s)"],
            "inverse-of-product": ["A: (n, n)", "B: (n, n)"],
            "kron-row-through": ["B: (p, m)", "A: (m, q)"],
            "kron-column-through": ["A: (m, q)", "B: (q, p)"]}
# rules whose conditions a bare name cannot meet: an instance of the left side
INSTANCES = {"weighted-gram": ("A^T (exp(u) ∘ A)", ["u: (n, 1)"]),
             "kron-distribute-left": ("(kron(A, B) + C) kron(D, E)",
                                      ["A: (m, n)", "B: (p, q)", "D: (n, r)", "E: (q, s)"]),
             "kron-distribute-right": ("kron(D, E) (kron(A, B) + C)",
                                       ["A: (m, n)", "B: (p, q)", "D: (r, m)", "E: (s, p)"]),
             "reshape-of-vec": ("reshape(vec(A), n, m)", ["A: (m, n)"]),
             "ones-outer-hadamard": ("(ones r) ∘ A", ["r: (1, m)", "A: (n, m)"])}


def simplification_rules():
    return [pytest.param(r, id=r.name) for r in default_rules().of("simplify")]


@pytest.mark.parametrize("rule", simplification_rules())
def test_simplification_holds_numerically(rule):
    where = [DECLARE[pred].format(var) for pred, var in rule.conditions if DECLARE.get(pred)]
    where += EXAMPLES.get(rule.name, [])
    objective, where = INSTANCES.get(rule.name, (to_ascii(as_symbols(rule.lhs)), where))
    program = Program("", where=where, objective=objective)
    lhs = program.objective
    bindings = match(rule.lhs, lhs)
    assert bindings is not None, "the rule does not match its own left side"
    ctx = Context.from_kinds(program.kinds)
    assert conditions_hold(rule, bindings, ctx)
    rhs = instantiate(rule.rhs, bindings, lhs.shape)
    assert rhs.shape == lhs.shape, "the two sides have different shapes"
    typed = program.typed
    variables = {n: s for n, s in typed.shapes.items() if n in program.variables}
    for seed in (0, 1):
        env = sample_inputs(variables, typed.kinds, assign_sizes(typed.dims), np.random.default_rng(seed),
                            draws={n: "positive" for n in variables if n not in typed.kinds})
        dims = {**assign_sizes(typed.dims), **dims_from_inputs(typed.shapes, env)}
        np.testing.assert_allclose(evaluate(rhs, env, dims), evaluate(lhs, env, dims), rtol=1e-10, atol=1e-12)


def test_every_rule_file_loads_and_every_rule_has_a_name():
    base = default_rules()
    for kind in ("differential", "derivative", "simplify", "adjoint"):
        assert base.of(kind), f"no {kind} rules"
    names = [r.name for rules in base.rules.values() for r in rules]
    assert all(names)


@pytest.mark.parametrize("line, message", [
    ("no-arrow: A B", "a rule is 'name: lhs = rhs'"),
    ("unbound: (A B)ᵀ -> C", "not on the left"),
    ("bad-condition: Aᵀ -> A when shiny(A)", "unknown condition"),
    ("not-a-differential: A + B = B + A", "left side"),
])
def test_malformed_rules_are_rule_errors(line, message):
    with pytest.raises(RuleError, match=message):
        parse_rule_line(line, "test.rules:1")
