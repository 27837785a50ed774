"""The numeric harness of the vocabulary tests: a derivation's compiled
gradient (or Jacobian) against central finite differences of an oracle
written in plain numpy, independently of the engine.

Every case declares its shapes with numbers, so a word split into letters
would show up as extra variables (and is caught)."""
from __future__ import annotations

import numpy as np

import matcalc as mc


def draw(name: str, shape, kinds: dict, rng) -> np.ndarray | float:
    """Inputs where every word is defined: vectors in (0.2, 0.8) (logs, roots,
    arcsin), square matrices 2 I + small (invertible, positive determinant),
    signed values away from 0 for the names in ``kinds["signed"]``."""
    if kinds.get(name) == "integer":
        return 3.0
    if shape == ():
        return float(rng.uniform(0.5, 1.5))
    rows, cols = shape
    if name in kinds.get("signed", ()):
        return rng.choice([-1.0, 1.0], (rows, cols)) * rng.uniform(0.2, 0.8, (rows, cols))
    if rows == cols and rows > 1:
        return 2 * np.eye(rows) + 0.3 * rng.uniform(-1, 1, (rows, cols))
    return rng.uniform(0.2, 0.8, (rows, cols))


def inputs(result, kinds: dict, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    sizes = {d: 2 + i for i, d in enumerate(result.program.typed.dims)}  # dimension names: 2, 3, ...
    shapes = {n: tuple(sizes.get(d, d) for d in s) for n, s in result.program.typed.shapes.items()}
    return {n: draw(n, shapes[n], kinds, rng) for n in result.program.variables}


def finite_difference(oracle, env: dict, wrt: str, h: float = 1e-6) -> np.ndarray:
    """∂oracle/∂wrt entry by entry (the shape of wrt for a scalar oracle; the
    numerator-layout Jacobian of vec(oracle) by vec(wrt) otherwise)."""
    x = env[wrt]
    if isinstance(x, float):
        up, down = dict(env, **{wrt: x + h}), dict(env, **{wrt: x - h})
        return (np.asarray(oracle(**up)) - np.asarray(oracle(**down))) / (2 * h)
    columns = []
    flat = x.reshape(-1, order="F")
    for j in range(flat.size):
        step = np.zeros_like(flat)
        step[j] = h
        up = dict(env, **{wrt: (flat + step).reshape(x.shape, order="F")})
        down = dict(env, **{wrt: (flat - step).reshape(x.shape, order="F")})
        columns.append((np.asarray(oracle(**up), float) - np.asarray(oracle(**down), float))
                       .reshape(-1, order="F") / (2 * h))
    jacobian = np.stack(columns, axis=1)
    return jacobian.reshape(x.shape, order="F") if jacobian.shape[0] == 1 else jacobian


def assert_matches_oracle(objective: str, wrt: str, where: list, oracle, signed=(), seeds=(0, 1)):
    """The derivation of ``objective`` by ``wrt`` equals finite differences of
    ``oracle`` (a numpy function of the declared names), and reads only the
    declared names (no word split into letters)."""
    result = mc.derive(objective, wrt=wrt, where=where)
    declared = {line.split(":")[0].strip() for line in where if ":" in line}
    declared = {mc.faces.api.canonical_name(n) for n in declared}
    assert set(result.program.variables) <= declared, \
        f"{objective!r} read names it was not given: {set(result.program.variables) - declared}"
    kinds = {**result.program.kinds, "signed": set(signed)}
    compiled = result.compile()
    for seed in seeds:
        env = inputs(result, kinds, seed)
        ours = np.asarray(compiled(**env)[mc.faces.api.canonical_name(wrt)], float)
        theirs = np.asarray(finite_difference(oracle, env, mc.faces.api.canonical_name(wrt)), float)
        theirs = theirs.reshape(ours.shape) if theirs.size == ours.size else theirs
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6, err_msg=objective)
    return result
