"""Issue 13: a grader you can leave running.  Each answer is judged in a
worker under a time and memory limit, and any failure is that row's verdict;
bad rows are reported with their line; the report never replaces an input
nor carries spreadsheet formulas; problem files stay in their folder.  And
products of numbers written by the user settle in the simplifier."""
import csv
import hashlib
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

import matcalc as mc
from matcalc.faces.workers import Limits, WorkerPool, usable_cores


@pytest.mark.parametrize("objective, factor", [
    ("2*2*2*sum(x)", 8), ("2*2*2*2*sum(x)", 16), ("(2*2)*(2*2)*sum(x)", 16), ("3*2*2*sum(x)", 12),
])
def test_products_of_numbers_do_not_end_in_a_limit_error(objective, factor):
    r = mc.derive(objective, wrt="x", where=["x: (n, 1)"])
    x = np.random.default_rng(0).standard_normal((4, 1))
    assert np.allclose(r.compile()(x=x)["x"], factor * np.ones((4, 1)))
    assert r.check().ok


# -- jobs in workers under limits (matcalc.faces.workers) ---------------------------------

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def job_pool(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    with WorkerPool(jobs=2, limits=Limits(seconds=3, memory_mb=400), modules=("workerjobs",)) as pool:
        yield pool


def test_each_job_failure_is_its_own_outcome(job_pool):
    jobs = [("echo", ["a"]), ("sleep", [60]), ("allocate", [1000]), ("die", [signal.SIGKILL]),
            ("die", [signal.SIGSEGV]), ("fail", []), ("echo", [{"b": [1, 2]}])]
    outcomes = [job_pool.map(f"workerjobs:{name}", [args])[0] for name, args in jobs]
    assert [o.status for o in outcomes] == ["ok", "time limit", "memory limit", "memory limit", "crashed",
                                             "error", "ok"]
    assert outcomes[0].value == "a" and outcomes[-1].value == {"b": [1, 2]}
    assert "3 s" in outcomes[1].message and "ValueError: a bug in the job" in outcomes[5].message
    # in one batch too, in order, the others unharmed
    batch = job_pool.map("workerjobs:echo", [[i] for i in range(5)])
    assert [o.value for o in batch] == list(range(5))


def test_run_from_threads_and_only_named_packages(job_pool):
    import threading

    found = {}

    def ask(i):
        found[i] = job_pool.run("workerjobs:echo", [i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i: o.value for i, o in found.items()} == {i: i for i in range(6)}
    refused = job_pool.run("os:system", ["echo pwned"])
    assert refused.status == "error" and "not a job" in refused.message


def test_jobs_are_capped_at_the_cores():
    assert WorkerPool(jobs=200).jobs == usable_cores()


# -- a hostile class (acceptance 1) ----------------------------------------------------

K4 = "kron(kron(A,A),kron(A,A))"
HUGE = f"sum(kron({K4}, kron({K4}, A))) A"  # with A 3×3: 3^18 entries, 3 GB at once
# with A 3×3: a hundred products of 729×729 matrices, each new (4 MB): minutes, not memory
SLOW = f"K = kron({K4}, kron(A, A)) / 1000; P0 = K; " + "; ".join(f"P{i} = P{i - 1} K" for i in range(1, 100)) \
    + "; sum(P99) A"
PROBLEMS = [
    {"id": "p1", "f": "tr(A X)", "wrt": "X", "where": ["X: (n, n)", "A: (n, n)"]},
    {"id": "pk", "f": "tr(A X)", "wrt": "X", "where": ["X: (3, 3)", "A: (3, 3)"]},
    {"id": "pm", "f": "A X", "wrt": "X", "where": ["A: (m, n)", "X: (n, k)"]},  # matrix-valued
    {"id": "pf", "f": "J", "wrt": "x", "file": "/etc/passwd"},  # outside the problems' folder
    {"id": "pg", "f": "J", "wrt": "x", "file": "model.mc"},  # beside it: read
]
FORMULAS = ['=HYPERLINK("http://evil")', "=1+2", "+A", "-A", "@SUM(A1)"]


def _digest(*paths) -> list:
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]


def _hostile_class(folder: Path) -> tuple[Path, Path, dict]:
    (folder / "model.mc").write_text("x: (n, 1)\nJ = sum(x ∘ x)\n", encoding="utf-8")
    problems = folder / "problems.json"
    problems.write_text(json.dumps(PROBLEMS), encoding="utf-8")
    lines, expected = [], {}  # line -> {problem: kind} (or "malformed-row")

    def add(text, kinds):
        lines.append(text)
        expected[len(lines)] = kinds

    hostile = [
        ('{"student": "big", "p1": ' + "7" * 5000 + "}", {"p1": "unparsable"}),
        ('{"student": "deep", "p1": ' + "[" * 100_000 + "]" * 100_000 + "}", "malformed-row"),
        (json.dumps({"student": "deeptext", "p1": "(" * 100_000 + "A" + ")" * 100_000}), {"p1": "unparsable"}),
        (json.dumps({"student": "memory", "pk": HUGE}), {"pk": "could not judge: memory limit"}),
        (json.dumps({"student": "slow", "pk": SLOW}), {"pk": "could not judge: time limit"}),
        (json.dumps({"student": "object", "p1": {"a": [1, 2]}}), {"p1": "unparsable"}),
        (json.dumps({"student": "long", "p1": "A + " * 3150 + "A"}), {"p1": None}),
        (json.dumps({"student": FORMULAS[0], "p1": FORMULAS[1], "pk": FORMULAS[2], "pm": FORMULAS[3],
                     "pg": FORMULAS[4]}), {"p1": None}),
        ('{"student": "broken", "p1": "A"', "malformed-row"),
        ("[1, 2, 3]", "malformed-row"),
    ]
    for i in range(200):
        if i % 20 == 10:
            add(*hostile[(i // 20) % len(hostile)])
        add(json.dumps({"student": f"s{i:03d}", "p1": "Aᵀ" if i % 2 else "A", "pk": "Aᵀ", "pm": "Aᵀ",
                        "pf": "2 x", "pg": "2 x" if i % 3 else "x"}),
            {"p1": "correct" if i % 2 else "transpose", "pk": "correct", "pm": "shape",
             "pf": "problem-error", "pg": "correct" if i % 3 else "factor"})
    answers = folder / "answers.jsonl"
    answers.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return answers, problems, expected


def test_a_hostile_class_is_graded_whole_and_its_inputs_are_untouched(tmp_path):
    from test_answers import cli

    answers, problems, expected = _hostile_class(tmp_path)
    before = _digest(answers, problems, tmp_path / "model.mc")
    refused = cli("grade", str(answers), "--problems", str(problems), "--report", str(answers))
    assert refused.returncode == 2 and "is one of the inputs" in refused.stderr
    refused = cli("grade", str(answers), "--problems", str(problems), "--report", str(tmp_path / "model.mc"))
    assert refused.returncode == 2
    report = tmp_path / "report.csv"
    done = cli("grade", str(answers), "--problems", str(problems), "--report", str(report),
               "--jobs", "200", "--time-limit", "8")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _digest(answers, problems, tmp_path / "model.mc") == before
    raw = report.read_text(encoding="utf-8")
    rows = list(csv.DictReader(raw.splitlines()))
    by_line: dict = {}
    for r in rows:
        by_line.setdefault(int(r["line"]), []).append(r)
    assert set(by_line) == set(expected)  # every line of the class is in the report
    for line, kinds in expected.items():
        found = by_line[line]
        if kinds == "malformed-row":
            assert [r["kind"] for r in found] == ["malformed-row"] and found[0]["diagnosis"], found
            continue
        graded = {r["problem"]: r for r in found}
        assert set(graded) == {"p1", "pk", "pm", "pf", "pg"}, found
        for pid, r in graded.items():
            assert r["kind"] not in ("internal-error",), r
            want = kinds.get(pid)
            if want and want.startswith("could not judge"):
                assert r["kind"] == "not-judged" and r["diagnosis"].startswith(want), r
            elif want:
                assert r["kind"] == want, r
        if "pf" in kinds:
            assert "outside the problems file's folder" in graded["pf"]["diagnosis"]
    assert "root:" not in raw  # /etc/passwd was never read into the report
    for cells in csv.reader(raw.splitlines()):
        assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), cells
    for text in FORMULAS:
        assert "'" + text in raw or "'" + text.replace('"', '""') in raw
    assert "could not judge: memory limit" in raw and "could not judge: time limit" in raw
    assert "--jobs 200: this machine has" in done.stderr


def test_an_unterminated_quote_drops_no_later_student(tmp_path):
    from matcalc.faces.grading import read_answers

    text = ("student,p1\n" + "".join(f"s{i},Aᵀ\n" for i in range(5)) + 's5,"Aᵀ\n'
            + "".join(f"s{i},Aᵀ\n" for i in range(6, 12)) + 's12,"A\nᵀ"\n' + "s13,A,extra\n" + "s14,Aᵀ\n")
    path = tmp_path / "answers.csv"
    path.write_text(text, encoding="utf-8")
    rows, errors, columns = read_answers(path)
    assert columns == ["p1"]
    assert [r.student for r in rows] == [f"s{i}" for i in range(15) if i not in (5, 13)]
    assert [line for line, _ in errors] == [7, 16]  # the quote's line and the row with a cell too many
    assert "quote" in errors[0][1]
    assert next(r for r in rows if r.student == "s12").answers["p1"] == "A\nᵀ"  # a real multi-line cell


def test_a_problem_file_outside_its_folder_is_not_read(tmp_path):
    from matcalc.faces.grading import PROBLEM_ERROR, load_problems

    outside = tmp_path / "secret.mc"
    outside.write_text("x: (n, 1)\nJ = sum(x)\n", encoding="utf-8")
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "problems.json").write_text(json.dumps([
        {"id": "a", "f": "J", "wrt": "x", "file": "../secret.mc"},
        {"id": "b", "f": "J", "wrt": "x", "file": str(outside)},
        {"id": "c", "f": "J", "wrt": "x", "file": "missing.mc"},
    ]), encoding="utf-8")
    problems = load_problems(folder / "problems.json")
    for pid in "ab":
        assert "outside the problems file's folder" in problems[pid][PROBLEM_ERROR]
        assert "program" not in problems[pid]
    assert "cannot read" in problems["c"][PROBLEM_ERROR]
