import json
import os
import sys
from pathlib import Path

import pytest

from matcalc.language.expr import Op, PatternVar, Sym

ROOT = Path(__file__).resolve().parents[1]


def corpus_path() -> Path | None:
    """../shared/corpus/public.jsonl beside the repository (or $MATCALC_CORPUS)."""
    env = os.environ.get("MATCALC_CORPUS")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "corpus" / "public.jsonl")
    for c in candidates:
        if c.exists():
            return c
    return None


def corpus_cases(predicate=lambda case: True) -> list:
    path = corpus_path()
    if path is None:
        reason = "corpus not found: ../shared/corpus/public.jsonl beside the repository, or $MATCALC_CORPUS"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [pytest.param(c, id=c["id"]) for c in cases if predicate(c)]


def python_calls(fn, *args) -> int:
    """How many Python function calls ``fn(*args)`` makes: a measure of work
    that, unlike a stopwatch, does not depend on how busy the machine is
    (tests bound work by steps, never by wall-clock time)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        fn(*args)
    finally:
        sys.setprofile(None)
    return calls


def as_symbols(e):
    """A rule's pattern with its pattern variables as plain symbols, so it
    can be written out and read back as a program (``A B`` from ``?A ?B``)."""
    memo = {}
    for node in e.walk():
        if isinstance(node, PatternVar):
            memo[node] = Sym(node.name)
        elif isinstance(node, Op):
            memo[node] = Op(node.op, tuple(memo.get(a, a) for a in node.args))
    return memo.get(e, e)
