"""The caches hold data, not code (issue 13): JSON that ``matcalc.language.cache``
reads back field by field, keyed by the package version and the hash of the
grammar and every rule file.  A planted or tampered file is never executed
(at worst it is ignored), and a changed grammar is a new cache file."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from matcalc.language import cache
from matcalc.language.expr import Num, Op, Sym
from matcalc.language.syntax import _grammar_path, grammar_cache_name
from matcalc.rewriting.rules import _cache_key, _cached_classes, _rules_folder

ROOT = Path(__file__).resolve().parents[1]
DERIVE = "import matcalc as mc; print(mc.derive('sum(tanh(W x))', wrt='W').gradients['W'])"


class Planted:
    """Unpickling this runs a command: what a planted pickle would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _run(home: Path) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", DERIVE], cwd=ROOT, env=env, capture_output=True, text=True,
                       check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def test_a_tampered_cache_is_never_executed(tmp_path):
    home = tmp_path / "cache"
    first = _run(home)
    files = sorted((home / "matcalc").iterdir())
    assert {f.name.split("-")[0] for f in files} == {"rules", "grammar"}  # both caches written ...
    assert all(json.loads(f.read_text(encoding="utf-8")) for f in files)  # ... as JSON
    marker = tmp_path / "pwned"
    payloads = [pickle.dumps(Planted(marker)),  # a pickle that would run a command
                json.dumps({"o": ["Planted", {}]}).encode(),  # an instance of a class not cached
                json.dumps({"o": ["Sym", {"name": "x", "__class__": "os"}]}).encode(),  # a field not a field
                b"\x80\x04not json at all", json.dumps({"d": [[1]]}).encode(), b"[" * 100_000]
    for payload in payloads:
        for f in files:
            f.write_bytes(payload)
        assert _run(home) == first  # the same answer: the file was refused and the caches rebuilt
        assert not marker.exists()


def test_a_changed_grammar_or_rule_file_is_a_new_cache(tmp_path):
    grammar = tmp_path / "matcalc.lark"
    grammar.write_bytes(_grammar_path().read_bytes() + b"\n// a comment\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in _rules_folder().glob("*.rules"):
        (rules / f.name).write_bytes(f.read_bytes())
    assert _cache_key(rules, _grammar_path()) == _cache_key()
    assert _cache_key(rules, grammar) != _cache_key()  # the rule base is keyed by the grammar too
    assert grammar_cache_name(("expression", "program"), grammar) != grammar_cache_name(("expression", "program"))
    (rules / "simplify.rules").write_text((rules / "simplify.rules").read_text(encoding="utf-8") + "\n# more\n",
                                          encoding="utf-8")
    assert _cache_key(rules, _grammar_path()) != _cache_key()


@pytest.mark.parametrize("value", [
    {"a": (1, 2), 3: [Num(2), None], "s": frozenset({"x"})},
    Op("add", (Sym("x", (2, 1)), Sym("y", (2, 1))), (2, 1)),
])
def test_cache_data_round_trips(value):
    assert cache.decode(json.loads(json.dumps(cache.encode(value))), _cached_classes()) == value


def test_decode_builds_only_the_classes_it_is_given():
    data = json.loads(json.dumps(cache.encode(Sym("x", (2, 1)))))
    with pytest.raises(ValueError):
        cache.decode(data, {})
