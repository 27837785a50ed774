import json
import os
from pathlib import Path

import pytest

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
        return [pytest.param(None, marks=pytest.mark.skip(reason="corpus not found"))]
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [pytest.param(c, id=c["id"]) for c in cases if predicate(c)]
