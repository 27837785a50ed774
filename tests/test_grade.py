"""``matcalc grade``: a generated class of 100 students × 2 problems (right
answers, each kind of mistake, garbage, empty, malformed rows), graded in a
fresh process; the report says the right thing for every answer, and
``--jobs 2`` writes the same report."""
import csv
import io
import json
from pathlib import Path

import pytest
from test_answers import cli

from matcalc.faces.grading import read_answers, terminal_progress

DATA = Path(__file__).parent / "data"

# problem id -> [(answer, expected kind)]
ANSWERS = {
    "W": [
        ("x^T delta2", "correct"),
        ("xᵀ ((ŷ − y) Uᵀ ∘ step(z))", "correct"),
        (r"\mathbf{x}^\top \delta_2", "correct"),
        ("d = (yhat - y) U^T .* sgn(h); x^T d", "correct"),
        ("delta2^T x", "transpose"),
        ("2 x^T delta2", "factor"),
        ("-x^T delta2", "sign"),
        ("x^T (yhat - y) U^T", "mask"),
        ("x^T (yhat - y) U^T ∘ h", "counterexample"),
        ("x^T delta1", "shape"),
        ("x^T q", "unknown-name"),
        ("x^T delta2 + ) (", "unparsable"),
        ("", "empty"),
        ("@@@ \"'", "unparsable"),
    ],
    "b2": [
        ("ones^T delta1", "correct"),
        (r"\frac{1}{N} \mathbf{1}^\top (P - Y)", "correct"),
        ("delta1", "batch-sum"),
        ("ones^T (P - Y)", "factor"),
        ("-ones^T delta1", "sign"),
        ("ones^T P", "counterexample"),
        ("ones^T delta1 ) (", "unparsable"),
        ("", "empty"),
        ("delta1^T ones", "transpose"),
        ("b2^T", "shape"),
    ],
}
MALFORMED_AFTER = {10, 40, 77}  # a row with too many columns follows these students


def write_class(folder: Path, students: int = 100) -> tuple[Path, Path, dict]:
    problems = folder / "problems.json"
    for name in ("cs224n.mc", "two_layer_batch.mc"):  # a problem's file lies beside the problems file
        (folder / name).write_text((DATA / name).read_text(encoding="utf-8"), encoding="utf-8")
    problems.write_text(json.dumps([
        {"id": "W", "f": "J", "wrt": "W", "file": "cs224n.mc", "allow": ["delta1", "delta2"]},
        {"id": "b2", "f": "L", "wrt": "b2", "file": "two_layer_batch.mc", "allow": ["delta1"]},
    ]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "W", "b2"])
    expected, line, malformed = {}, 2, []
    for i in range(students):
        w = ANSWERS["W"][i % len(ANSWERS["W"])]
        b = ANSWERS["b2"][(i * 7) % len(ANSWERS["b2"])]
        writer.writerow([f"s{i:03d}", w[0], b[0]])
        expected[(line, "W")], expected[(line, "b2")] = w[1], b[1]
        line += 1
        if i in MALFORMED_AFTER:
            writer.writerow([f"bad{i}", "x", "y", "z"])
            malformed.append(line)
            line += 1
    answers = folder / "answers.csv"
    answers.write_text(buffer.getvalue(), encoding="utf-8")
    return answers, problems, {"kinds": expected, "malformed": malformed}


def read_report(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    answers, problems, truth = write_class(folder)
    done = cli("grade", str(answers), "--problems", str(problems))
    return folder, answers, problems, truth, done


def test_grade_writes_a_correct_report(graded):
    folder, answers, _, truth, done = graded
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = read_report(Path(f"{answers}.report.csv"))
    verdicts = [r for r in rows if r["kind"] != "malformed-row"]
    assert len(verdicts) == 200
    for r in verdicts:
        assert r["kind"] == truth["kinds"][(int(r["line"]), r["problem"])], r
        assert (r["correct"] == "True") == (r["kind"] == "correct")
        assert r["diagnosis"]
    bad = [int(r["line"]) for r in rows if r["kind"] == "malformed-row"]
    assert bad == truth["malformed"]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # written atomically


def test_grade_prints_a_summary(graded):
    _, _, _, truth, done = graded
    right = {pid: sum(k == "correct" for (line, p), k in truth["kinds"].items() if p == pid) for pid in ANSWERS}
    out = done.stdout
    assert f"{right['W']:>4}/100" in out and f"{right['b2']:>4}/100" in out
    assert "malformed rows: 3" in out and "line 13" in done.stderr
    w_line = next(line for line in out.splitlines() if line.strip().startswith("W "))
    assert "transpose" in w_line and "unparsable" in w_line


def test_jobs_2_writes_the_same_report(graded, tmp_path):
    _, answers, problems, _, _ = graded
    report = tmp_path / "parallel.csv"
    done = cli("grade", str(answers), "--problems", str(problems), "--jobs", "2", "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert report.read_text(encoding="utf-8") == Path(f"{answers}.report.csv").read_text(encoding="utf-8")


def test_jsonl_answers_toml_problems_and_a_broken_problem(tmp_path):
    (tmp_path / "problems.toml").write_text(
        '[[problems]]\nid = "X"\nf = "tr(A X B)"\nwrt = "X"\nwhere = ["A: (p, m)", "X: (m, n)", "B: (n, p)"]\n'
        '[[problems]]\nid = "broken"\nf = "tr(A X"\nwrt = "X"\n')
    lines = [json.dumps({"student": "ann", "X": "A^T B^T", "broken": "I"}),
             "{not json",
             json.dumps({"student": "ben", "X": None}),
             json.dumps(["a list"]),
             json.dumps({"student": "cy", "X": "B A"})]
    (tmp_path / "answers.jsonl").write_text("\n".join(lines) + "\n")
    report = tmp_path / "out.json"
    done = cli("grade", str(tmp_path / "answers.jsonl"), "--problems", str(tmp_path / "problems.toml"),
               "--report", str(report))
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    kinds = {(r["student"], r["problem"]): r["kind"] for r in data["results"]}
    assert kinds[("ann", "X")] == "correct" and kinds[("ben", "X")] == "empty"
    assert kinds[("cy", "X")] == "transpose" and kinds[("ann", "broken")] == "problem-error"
    assert [e["line"] for e in data["summary"]["malformed_rows"]] == [2, 4]
    assert done.stderr.count("cannot be graded") == 1  # the broken problem is reported once


def test_bad_inputs_exit_2(tmp_path):
    (tmp_path / "p.json").write_text("[{\"id\": \"X\"")
    (tmp_path / "a.csv").write_text("student,X\nann,I\n")
    done = cli("grade", str(tmp_path / "a.csv"), "--problems", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "not valid JSON" in done.stderr and "Traceback" not in done.stderr
    done = cli("grade", str(tmp_path / "missing.csv"), "--problems", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_csv_reader_keeps_line_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('student,X\nann,"multi\nline"\nben,1,2\ncy,I\n')
    rows, errors, columns = read_answers(path)
    assert columns == ["X"] and [r.line for r in rows] == [2, 5] and errors == [(4, "expected 2 columns, found 3")]


def test_progress_counter_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    show = terminal_progress(stream)
    show(5, 10)
    show(10, 10)
    assert stream.getvalue() == "\rgrading 5/10 answers\rgrading 10/10 answers\n"
    assert terminal_progress(io.StringIO()) is None


TOML_PROBLEMS = '''
[[problems]]
id = "jac"
f = "A x"
wrt = "x"

[[problems]]
id = "hess"
f = "x^T A x"
wrt = "x"
order = 2
'''


def test_toml_problems_without_tomllib(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: the declared tomli backport reads the file."""
    import sys

    pytest.importorskip("tomli", reason="tomli is not installed (a dependency on Python 3.10)")
    from matcalc.faces.grading import load_problems, toml_module

    monkeypatch.setitem(sys.modules, "tomllib", None)  # import tomllib -> ImportError
    assert toml_module().__name__ == "tomli"
    path = tmp_path / "problems.toml"
    path.write_text(TOML_PROBLEMS)
    problems = load_problems(path)
    assert problems["hess"]["order"] == 2 and problems["jac"]["f"] == "A x"
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(Exception, match="tomli"):
        load_problems(path)
