"""Every rule of rules/ on its own, numerically (SPEC §4), with oracles in
plain numpy: each rule is instantiated at its own left side (inputs that
satisfy its ``when`` conditions) and checked at random inputs.

* a derivative f'(u) against central differences of f;
* a differential d(P) = form against central differences of P along random
  directions;
* an adjoint F(L) => F*(G) by the defining identity ⟨G, F(L)⟩ = ⟨F*(G), L⟩;
* a Jacobian F(L) => M J by vec(F(L)) = M vec(L) (J = I);
* and the two tables against each other: for every adjoint rule, the
  Jacobian rule the engine picks for the same map is its transpose,
  vec(F*(G)) = Mᵀ vec(G).

(The simplifications are checked in test_rules.py.)"""
import numpy as np
import pytest

from matcalc.engine.forward import vec_size
from matcalc.engine.linearise import match_linear_map
from matcalc.faces.api import Program
from matcalc.language.evaluate import evaluate
from matcalc.language.expr import SCALAR, Identity, Num, Op, Sym, Zero
from matcalc.language.printer import to_ascii
from matcalc.results.sampling import assign_sizes, sample_inputs
from matcalc.rewriting.rules import Context, conditions_hold, default_rules, instantiate, match
from matcalc.shapes.dag import dims_from_inputs

from conftest import as_symbols

# how a condition is met by a declaration
DECLARE = {"scalar": "{}: ()", "column": "{}: (n, 1)", "row": "{}: (1, n)", "vector": "{}: (n, 1)",
           "matrix": "{}: (n, m)", "symmetric": "{}: (n, n) symmetric", "distribution": "{}: (n, m) onehot"}
# instances of left sides whose conditions or domains a bare declaration cannot meet
INSTANCES = {
    "power": ("a^k", ["a: ()", "k: ()"]),
    "elementwise-power": ("A .^ k", ["k: ()"]),
    "trace-power": ("tr(A^k)", ["A: (n, n)", "k: () integer"]),
    "log-det": ("log(det(A))", ["A: (n, n) spd"]),
    "logdet": ("logdet(A)", ["A: (n, n) spd"]),
    "det": ("det(A)", ["A: (n, n)"]),
    "inverse": ("inv(A)", ["A: (n, n)"]),
    "diag-of-matrix-adjoint": ("diag(L)", ["L: (n, n)"]),
    "diag-of-matrix-jacobian": ("diag(L)", ["L: (n, n)"]),
    "kron-right-adjoint": ("kron(A, L)", ["A: (m, n)", "L: (p, q)"]),
    "kron-left-adjoint": ("kron(L, B)", ["L: (m, n)", "B: (p, q)"]),
}
# positive draws where a rule's domain needs them (log, sqrt, powers)
POSITIVE = {"log", "log1p", "sqrt", "log-det", "logdet", "power", "elementwise-power", "CE"}
STEP = 1e-6


def rules_of(kind):
    return [pytest.param(r, id=r.name) for r in default_rules().of(kind)]


class Instance:
    """A rule's left side as a typed program, random inputs, and its bindings."""

    def __init__(self, rule, pattern, seed=0, extra=()):
        where = [DECLARE[p].format(v) for p, v in rule.conditions if p in DECLARE] + list(extra)
        objective, where = INSTANCES.get(rule.name, (to_ascii(as_symbols(pattern)), where))
        self.program = Program("", where=where, objective=objective)
        self.expr = self.program.objective
        self.bindings = match(pattern, self.expr)
        assert self.bindings is not None, "the rule does not match its own left side"
        assert conditions_hold(rule, self.bindings, Context.from_kinds(self.program.kinds))
        typed = self.program.typed
        self.shapes = {n: s for n, s in typed.shapes.items() if n in self.program.variables}
        positive = rule.name in POSITIVE or rule.function in POSITIVE
        draws = {n: "positive" for n in self.shapes if n not in typed.kinds} if positive else {}
        sizes = assign_sizes(typed.dims)
        self.env = sample_inputs(self.shapes, typed.kinds, sizes, np.random.default_rng(seed), draws)
        self.dims = {**sizes, **dims_from_inputs(typed.shapes, self.env)}
        self.rng = np.random.default_rng(seed + 100)

    def value(self, e, env=None):
        return np.asarray(evaluate(e, env or self.env, self.dims), dtype=float)

    def random_like(self, shape):
        return self.rng.standard_normal(()) if shape == SCALAR else self.rng.standard_normal(self.value_shape(shape))

    def value_shape(self, shape):
        return tuple(int(np.prod([self.size(f) for f in str(d).split("*")])) for d in shape)

    def size(self, factor: str) -> int:
        return int(factor) if factor.isdigit() else self.dims[factor]


def vec(a):
    return np.asarray(a, dtype=float).reshape(-1, 1, order="F")


# -- derivatives: f'(u) against central differences of f ----------------------

@pytest.mark.parametrize("rule", rules_of("derivative"))
def test_derivative_rule_holds_numerically(rule):
    u = Sym("u", ("n", 1))
    lhs, rhs = Op(rule.function, (u,), ("n", 1)), instantiate(rule.rhs, {rule.params[0]: u}, ("n", 1))
    rng = np.random.default_rng(0)
    values = rng.uniform(0.2, 2.0, (4, 1)) * rng.choice([-1, 1], (4, 1))
    if rule.function in POSITIVE:
        values = np.abs(values)

    def f(x):
        return evaluate(lhs, {"u": x}, {"n": 4})

    slope = (f(values + STEP) - f(values - STEP)) / (2 * STEP)
    np.testing.assert_allclose(evaluate(rhs, {"u": values}, {"n": 4}), slope, rtol=1e-5, atol=1e-7)


# -- differentials: d(P) = form along random directions --------------------------

@pytest.mark.parametrize("rule", rules_of("differential"))
def test_differential_rule_holds_numerically(rule):
    inst = Instance(rule, rule.lhs.args[0])
    # an integer (the k of A^k) does not move
    directions = {f"d_{n}": inst.random_like(s) * (inst.program.kinds.get(n) != "integer")
                  for n, s in inst.shapes.items()}

    def differential(v):
        if isinstance(v, Sym) and v.name in inst.shapes:
            return Sym(f"d_{v.name}", v.shape)
        return Num(0) if v.shape == SCALAR else Zero(v.shape)  # a constant (a number bound to k)

    form = instantiate(rule.rhs, inst.bindings, inst.expr.shape, differential=differential)

    def at(t):
        return inst.value(inst.expr, {n: x + t * directions[f"d_{n}"] for n, x in inst.env.items()})

    expected = (at(STEP) - at(-STEP)) / (2 * STEP)
    got = inst.value(form, {**inst.env, **directions})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * max(1.0, np.max(np.abs(expected))))


# -- adjoints and Jacobians of the linear maps ------------------------------------

def linear_map_instance(rule):
    inst = Instance(rule, rule.lhs)
    assert isinstance(inst.bindings["L"], Sym), "L binds the linear part"
    return inst


def is_linear_part(inst):
    part = inst.bindings["L"]
    return lambda e: part in e.walk()


@pytest.mark.parametrize("rule", rules_of("adjoint"))
def test_adjoint_rule_is_the_adjoint_of_its_map(rule):
    inst = linear_map_instance(rule)
    L = inst.bindings["L"]
    G = inst.random_like(inst.expr.shape)
    adjoint = instantiate(rule.rhs, {**inst.bindings, "G": Sym("G", inst.expr.shape)}, L.shape)
    lhs = np.sum(G * inst.value(inst.expr))  # ⟨G, F(L)⟩
    rhs = np.sum(inst.value(adjoint, {**inst.env, "G": G}) * inst.env[L.name])  # ⟨F*(G), L⟩
    np.testing.assert_allclose(rhs, lhs, rtol=1e-9, atol=1e-12)


def jacobian_matrix(rule, inst, bindings):
    """M of F(L) => M J, with J the identity (the Jacobian of L itself)."""
    n = vec_size(bindings["L"].shape)
    identity = Num(1) if n == 1 else Identity((n, n))
    return inst.value(instantiate(rule.rhs, {**bindings, "J": identity}, None))


@pytest.mark.parametrize("rule", rules_of("jacobian"))
def test_jacobian_rule_is_the_matrix_of_its_map(rule):
    inst = linear_map_instance(rule)
    M = np.atleast_2d(jacobian_matrix(rule, inst, inst.bindings))
    L = inst.bindings["L"]
    np.testing.assert_allclose(M @ vec(inst.env[L.name]), vec(inst.value(inst.expr)), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rule", rules_of("adjoint"))
def test_adjoint_and_jacobian_tables_are_transposes(rule):
    inst = linear_map_instance(rule)
    ctx = Context.from_kinds(inst.program.kinds)
    found = match_linear_map(default_rules().of("jacobian"), inst.expr, ctx, is_linear_part(inst))
    assert found is not None, f"no Jacobian rule for the map of {rule.name}"
    jacobian_rule, bindings = found
    M = np.atleast_2d(jacobian_matrix(jacobian_rule, inst, bindings))
    G = inst.random_like(inst.expr.shape)
    L = inst.bindings["L"]
    adjoint = instantiate(rule.rhs, {**inst.bindings, "G": Sym("G", inst.expr.shape)}, L.shape)
    np.testing.assert_allclose(vec(inst.value(adjoint, {**inst.env, "G": G})), M.T @ vec(G), rtol=1e-9, atol=1e-12)
