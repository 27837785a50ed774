"""The repository is clean under ruff with the configuration in pyproject.toml
(issue 14): a finding fails the suite with ruff's own report.  ruff reads the
whole repository (package, tests, bench, notebooks) in well under a second."""
import subprocess
import sys

import pytest

from conftest import ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("ruff", reason="ruff is not installed (pip install '.[test]')")
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *args],
                          cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing_in_the_repository():
    done = ruff(str(ROOT))
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"


def test_ruff_reports_a_finding_with_this_configuration(tmp_path):
    # the test above can fail: the same command, with the repository's configuration, sees an unused import
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n", encoding="utf-8")
    done = ruff("--config", str(ROOT / "pyproject.toml"), str(bad))
    assert done.returncode == 1 and "F401" in done.stdout, done.stdout + done.stderr
