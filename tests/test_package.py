"""The package as a whole: what `dir(matcalc)` shows, the licence that
pyproject names."""
import pytest

import matcalc

from conftest import ROOT


def test_dir_shows_the_lazily_loaded_api():
    names = dir(matcalc)
    for name in ("derive", "Program", "check_answer", "Verdict", "Problem", "load_rules", "MatcalcError"):
        assert name in names
    assert all(hasattr(matcalc, name) for name in matcalc.__all__)


def test_the_license_file_is_the_license_pyproject_names():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
