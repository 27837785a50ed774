"""Judging a student's numpy function as an answer (``matcalc check PROBLEM
--code FILE.py:FUNC``, ``matcalc.check_function``; issue 17).

The function is called at the problem's samples (the sampler's points: two
size assignments, several random points each) with the problem's inputs as
keyword arguments — 2-D float arrays shaped as declared (a row vector is
1×n), scalars as floats — and what it returns (an array, or a dict holding
the variable's name) is judged like a written answer: right, transpose,
factor, 1/N, batch sum, wrong shape, mask, ...  A function that raises or
returns something that is not an array is a verdict (kind ``raises``), never
a traceback::

    def grad_W(x, W, b1, U, b2, y):
        z = x @ W + b1
        ...
        return x.T @ delta2

``check_function`` calls a Python callable in this process (the caller
trusts it); the command line loads FILE.py in a separate Python process
with a time limit and, where the platform has them, CPU and memory limits,
so a student's loop or allocation ends in a verdict.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from ..language.errors import MatcalcError
from .answers import Reading, Verdict, as_problem, prepare

TIME_LIMIT = 60.0          # seconds for all the calls of one check
MEMORY_LIMIT = 2 << 30     # bytes of address space for the worker
# run as a script, so it needs no installed matcalc (it imports nothing of it)
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "student_worker.py")


def check_function(problem, fn, *, seed: int = 0) -> Verdict:
    """Whether the numpy function ``fn`` computes the derivative the problem asks for.

    >>> check_function({"f": "A x", "wrt": "x"}, lambda A, x: A).correct
    True
    """
    prepared = prepare(as_problem(problem), seed)

    def evaluate(samples):
        return [_as_answer(_call(fn, sample), prepared.wrt, sample) for sample in samples]
    return prepared.judge(Reading(_name_of(fn), "", evaluate, failure_kind="raises"))


def check_code(problem, spec: str, *, seed: int = 0, time_limit: float = TIME_LIMIT) -> Verdict:
    """``spec`` is ``FILE.py:FUNC``: the function is loaded and called in a worker process."""
    path, sep, func = spec.rpartition(":")
    if not sep or not path or not func.isidentifier():
        raise MatcalcError(f"--code {spec}: write FILE.py:FUNCTION, e.g. --code hw1.py:grad_W")
    if not os.path.isfile(path):
        raise MatcalcError(f"--code: no file {path}")
    prepared = prepare(as_problem(problem), seed)

    def evaluate(samples):
        results = run_in_worker(path, func, prepared.wrt, [s.inputs for s in samples], time_limit)
        return [_as_answer(r, prepared.wrt, s) for r, s in zip(results, samples)]
    return prepared.judge(Reading(f"{os.path.basename(path)}:{func}", "", evaluate, failure_kind="raises"))


def _name_of(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _call(fn, sample):
    inputs = {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in sample.inputs.items()}
    try:
        return fn(**inputs)
    except Exception as err:  # noqa: BLE001 - the student's function failing is a verdict
        raise MatcalcError(f"your function raised {type(err).__name__}: {err} "
                           f"(called with {_inputs_text(sample.inputs)})") from None


def _as_answer(value, wrt: str, sample) -> np.ndarray:
    if isinstance(value, dict):
        if wrt not in value:
            raise MatcalcError(f"your function returned a dict without the key {wrt!r} "
                               f"(keys: {', '.join(map(str, value)) or 'none'})")
        value = value[wrt]
    name = value.type_name if isinstance(value, _NotNumbers) else type(value).__name__
    try:
        if isinstance(value, _NotNumbers):
            raise TypeError(name)
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise MatcalcError(f"your function returned {name}, not an array of numbers "
                           f"(called with {_inputs_text(sample.inputs)})") from None
    return array


def _inputs_text(inputs: dict) -> str:
    return ", ".join(f"{n}: {'×'.join(map(str, np.shape(v))) or 'float'}" for n, v in inputs.items())


# -- the worker process --------------------------------------------------------

def run_in_worker(path: str, func: str, wrt: str, inputs: list[dict], time_limit: float = TIME_LIMIT) -> list:
    """The function's results at each input dict, computed in a fresh Python
    process: arrays, or a MatcalcError (raised here) saying what went wrong."""
    # the worker limits its own memory and CPU time before it loads the file
    # (no preexec_fn: forking a threaded parent to run Python code can deadlock)
    payload = json.dumps({"path": os.path.abspath(path), "func": func, "wrt": wrt,
                          "memory": MEMORY_LIMIT, "cpu": int(time_limit) + 1,
                          "calls": [{n: _encode(v) for n, v in call.items()} for call in inputs]})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, WORKER], input=payload, text=True,
                              capture_output=True, timeout=time_limit, env=env,
                              cwd=os.path.dirname(os.path.abspath(path)))
    except subprocess.TimeoutExpired:
        raise MatcalcError(f"your function did not finish within {time_limit:g} s") from None
    reply = _last_json_line(done.stdout)
    if reply is None:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise MatcalcError(f"your code did not run to the end (exit status {done.returncode}): {tail}")
    if "error" in reply:
        raise MatcalcError(reply["error"])
    return [_decode(r) for r in reply["results"]]


def _encode(v):
    return {"array": np.asarray(v, dtype=float).tolist()} if isinstance(v, np.ndarray) else {"float": float(v)}


def _decode(r):
    if "array" in r:
        return np.asarray(r["array"], dtype=float)
    if "float" in r:
        return r["float"]
    return _NotNumbers(r.get("type", "something"))


class _NotNumbers:
    """What the worker saw instead of numbers (its type's name)."""

    def __init__(self, type_name: str):
        self.type_name = type_name


def _last_json_line(text: str):
    for line in reversed(text.splitlines()):
        if line.startswith('{"matcalc-worker"'):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None
