"""Grading a file of answers (``matcalc grade``, SPEC §7).

Answers: CSV with the header ``student,<problem id>,...`` or JSONL with one
``{"student": ..., "<problem id>": answer, ...}`` a line.  Problems: JSON
(a list of ``{"id", "f", "wrt", "where", "draw"}``, or a dict from id to
problem) or TOML (``[[problems]]`` tables, or one table per id); a problem
may name a program file (``file = "cs224n.mc"``, relative to the problems
file).  Each problem is derived once per process and each answer is checked
against the cached truth values (``matcalc.answers``)::

    records, errors = grade_file("answers.csv", "problems.toml", jobs=2)

A garbage or empty answer is a verdict; a malformed row is an error record
with its line number; a problem matcalc cannot judge (it does not parse, its
derivative cannot be verified, its rubric is wrong) is reported once and its
column graded "problem-error", the other columns as usual.  A problem's
``points``, ``credit`` and anticipated mistakes (``expect``) are its rubric
(``matcalc.rubric``); every record carries its points and the feedback a
student reads; ``matcalc.reports`` writes csv, json, gradescope or canvas.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .answers import Problem, prepare
from .errors import MatcalcError
from .reports import REPORT_FIELDS, render, report_format, rows_csv
from .rubric import Rubric


@dataclass
class Row:
    """One student's answers, with the line it starts on."""

    line: int
    student: str
    answers: dict = field(default_factory=dict)


# -- reading -----------------------------------------------------------------

def _read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as err:
        raise MatcalcError(f"cannot read {path}: {err.strerror}") from None


def toml_module():
    """``tomllib`` (Python 3.11+), else ``tomli``, its backport (a dependency on 3.10)."""
    try:
        import tomllib
        return tomllib
    except ImportError:
        pass
    try:
        import tomli
        return tomli
    except ImportError:
        raise MatcalcError("reading TOML needs Python 3.11+ or the tomli package (pip install tomli); "
                           "or write the problems as JSON") from None


def load_problems(path) -> dict[str, dict]:
    """Problem id -> problem dict, in file order (JSON or TOML)."""
    text = _read_text(path)
    if str(path).lower().endswith(".toml"):
        toml = toml_module()
        try:
            data = toml.loads(text)
        except toml.TOMLDecodeError as err:
            raise MatcalcError(f"{path}: not valid TOML: {err}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise MatcalcError(f"{path}: not valid JSON: {err.msg} (line {err.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("problems", data.get("problem")), list):
        data = data.get("problems", data.get("problem"))
    if isinstance(data, dict):
        data = [{"id": key, **value} for key, value in data.items() if isinstance(value, dict)]
    if not isinstance(data, list) or not data:
        raise MatcalcError(f"{path}: expected a list of problems or a table per problem")
    problems: dict[str, dict] = {}
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict) or not str(item.get("id", "")).strip():
            raise MatcalcError(f"{path}: problem {i} has no 'id'")
        item = dict(item)
        if item.get("file"):
            item["program"] = _read_text(Path(path).parent / str(item.pop("file")))
        problems[str(item["id"]).strip()] = item
    return problems


def read_answers(path) -> tuple[list[Row], list[tuple[int, str]], list[str]]:
    """(rows, errors as (line, message), the problem columns) of a CSV or JSONL file."""
    text = _read_text(path)
    name = str(path).lower()
    if name.endswith((".jsonl", ".ndjson", ".json")) or (not name.endswith(".csv") and text.lstrip()[:1] == "{"):
        return _read_jsonl(text)
    return _read_csv(text)


def _read_csv(text: str):
    rows, errors = [], []
    reader = csv.reader(io.StringIO(text))
    header, line = None, 1
    while True:
        start = line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            errors.append((start, f"not CSV: {err}"))
            line = reader.line_num + 1
            continue
        line = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            if not header or header[0].lower() != "student":
                raise MatcalcError("the CSV header must start with 'student' (student,<problem id>,...)")
            continue
        if len(cells) != len(header):
            errors.append((start, f"expected {len(header)} columns, found {len(cells)}"))
            continue
        rows.append(Row(start, cells[0].strip(), dict(zip(header[1:], cells[1:]))))
    if header is None:
        raise MatcalcError("the answers file is empty (expected a header student,<problem id>,...)")
    return rows, errors, header[1:]


def _read_jsonl(text: str):
    rows, errors, columns = [], [], {}
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as err:
            errors.append((number, f"not JSON: {err.msg}"))
            continue
        if not isinstance(item, dict) or "student" not in item:
            errors.append((number, 'expected an object {"student": ..., "<problem id>": answer}'))
            continue
        answers = {str(k): ("" if v is None else str(v)) for k, v in item.items() if k != "student"}
        columns.update(dict.fromkeys(answers))
        rows.append(Row(number, str(item["student"]), answers))
    return rows, errors, list(columns)


# -- checking ----------------------------------------------------------------

_PROBLEMS: dict[str, tuple] = {}  # id -> (Problem, anticipated answers), in each worker


def _init_worker(problems: dict[str, tuple]) -> None:
    _PROBLEMS.update(problems)


def _check_chunk(chunk: list) -> list:
    """[(index, problem id, answer)] -> [(index, correct, kind, diagnosis, anticipated)]."""
    out = []
    for index, pid, answer in chunk:
        problem, expect = _PROBLEMS[pid]
        try:
            v = prepare(problem).check(answer, expect=expect)
            out.append((index, v.correct, v.kind, v.diagnosis, v.anticipated))
        except (MatcalcError, RecursionError) as err:
            out.append((index, False, "unparsable", f"cannot read your answer: {err}", None))
        except Exception as err:  # noqa: BLE001 - one bad answer must not stop a class's grading
            out.append((index, False, "internal-error", f"matcalc failed on this answer: {err!r}", None))
    return out


def grade(problems: dict[str, dict], rows: list[Row], columns: list[str], *, jobs: int = 1,
          progress=None, warn=print) -> list[dict]:
    """One record per (student, problem column): the verdict, the points
    its rubric gives (None when the problem cannot be judged) and the
    feedback a student reads, in a dict."""
    prepared: dict[str, tuple] = {}
    rubrics: dict[str, Rubric] = {}
    broken: dict[str, str] = {}
    for pid in columns:
        if pid not in problems:
            warn(f"column '{pid}' names no problem; ignored")
            continue
        try:
            rubrics[pid] = Rubric.from_dict(problems[pid], f"problem '{pid}'")
            problem = Problem.from_dict(problems[pid])
            ready = prepare(problem)  # derive now, so forked workers inherit it
            for answer in rubrics[pid].answers:  # a rubric's mistake matcalc cannot read is the TA's to fix
                ready.expectation_values(answer)
            prepared[pid] = (problem, rubrics[pid].answers)
        except (MatcalcError, RecursionError) as err:
            broken[pid] = "the problem cannot be graded: " + (str(err).splitlines() or [type(err).__name__])[0]
            warn(f"problem '{pid}' cannot be graded: {err}")
            prepared.pop(pid, None)
        except Exception as err:  # noqa: BLE001 - one problem matcalc fails on must not stop the class
            broken[pid] = f"the problem cannot be graded: matcalc failed on it ({err!r})"
            warn(f"problem '{pid}' cannot be graded: matcalc failed on it ({err!r})")
            prepared.pop(pid, None)
    records, tasks = [], []
    for row in rows:
        for pid in columns:
            if pid not in problems:
                continue
            answer = row.answers.get(pid, "")
            record = {"line": row.line, "student": row.student, "problem": pid, "answer": answer,
                      "max_points": rubrics[pid].points if pid in rubrics else 1.0}
            if pid in broken:
                record.update(correct=False, kind="problem-error", diagnosis=broken[pid], points=None,
                              feedback=f"Not graded automatically ({broken[pid]}); "
                                       "your answer will be graded by hand.")
            else:
                tasks.append((len(records), pid, answer))
            records.append(record)
    for index, correct, kind, diagnosis, anticipated in _run(tasks, prepared, jobs, progress):
        record = records[index]
        points, feedback = rubrics[record["problem"]].score(kind, correct, anticipated, diagnosis)
        record.update(correct=correct, kind=kind, diagnosis=diagnosis, points=points, feedback=feedback)
        if anticipated is not None:
            record["kind"] = f"{kind} (anticipated {anticipated + 1})"
    return records


def _run(tasks: list, problems: dict, jobs: int, progress):
    if not tasks:
        return []
    _init_worker(problems)
    if jobs <= 1:
        results = []
        for start in range(0, len(tasks), 25):
            results += _check_chunk(tasks[start:start + 25])
            if progress:
                progress(len(results), len(tasks))
        return results
    size = max(1, min(100, len(tasks) // (jobs * 4)))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    results, done = [], 0
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(problems,)) as pool:
        for future in as_completed([pool.submit(_check_chunk, c) for c in chunks]):
            part = future.result()
            results += part
            done += len(part)
            if progress:
                progress(done, len(tasks))
    return results


def terminal_progress(stream=None):
    """A ``\\r`` counter on a terminal (None when ``stream`` is no TTY)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        stream.write(f"\rgrading {done}/{total} answers" + ("\n" if done == total else ""))
        stream.flush()
    return show


# -- reporting ---------------------------------------------------------------

def summarize(records: list[dict], errors: list) -> dict:
    """Per problem: answers, right, points given, the mistakes by kind (most common first)."""
    per: dict[str, dict] = {}
    for r in records:
        entry = per.setdefault(r["problem"], {"answers": 0, "right": 0, "points": 0.0, "graded": 0,
                                              "mistakes": Counter()})
        entry["answers"] += 1
        entry["graded"] += r.get("points") is not None
        entry["right"] += bool(r["correct"])
        entry["points"] += r.get("points") or 0.0
        entry["max_points"] = r.get("max_points", 1.0)
        if not r["correct"]:
            entry["mistakes"][r["kind"]] += 1
    return {
        "problems": {pid: {"answers": e["answers"], "right": e["right"], "graded": e["graded"],
                           "points": round(e["points"], 6),
                           "max_points": e["max_points"] * e["answers"],
                           "mistakes": dict(e["mistakes"].most_common())} for pid, e in per.items()},
        "students": len({(r["line"], r["student"]) for r in records}),
        "malformed_rows": [{"line": line, "error": message} for line, message in errors],
    }


def summary_text(summary: dict, report: str) -> str:
    lines = [f"graded {summary['students']} students → {report}"]
    width = max([len(p) for p in summary["problems"]] + [7])
    for pid, e in summary["problems"].items():
        mistakes = ", ".join(f"{k} {n}" for k, n in list(e["mistakes"].items())[:4]) or "none"
        points = f"{e['points']:.6g}/{e['max_points']:.6g} points" if e["graded"] else "not graded"
        lines.append(f"  {pid:<{width}}  {e['right']:>4}/{e['answers']:<4} right   {points:<16}  mistakes: {mistakes}")
    bad = summary["malformed_rows"]
    if bad:
        shown = ", ".join(f"line {b['line']} ({b['error']})" for b in bad[:5])
        lines.append(f"  malformed rows: {len(bad)}: {shown}" + (" ..." if len(bad) > 5 else ""))
    return "\n".join(lines)


def error_records(errors: list) -> list[dict]:
    return [{"line": line, "student": "", "problem": "", "correct": False, "kind": "malformed-row",
             "diagnosis": message, "answer": "", "points": None, "max_points": None,
             "feedback": f"this row was not graded: {message}"} for line, message in errors]


def write_report(path, records: list[dict], errors: list, summary: dict, fmt: str | None = None,
                 assignment: str = "matcalc") -> list[Path]:
    """The report in ``fmt`` (csv, json, gradescope, canvas; default by the
    extension), written to a temporary file in the same folder, then renamed
    over ``path`` (never a half-written report).  A canvas report carries
    points only, so the feedback goes to ``<path>.feedback.csv`` beside it.
    Returns the files written."""
    path = Path(path)
    rows = sorted(records + error_records(errors), key=lambda r: (r["line"], r["problem"] != ""))
    fmt = report_format(path, fmt)
    written = [_write_atomically(path, render(fmt, rows, summary, assignment))]
    if fmt == "canvas":
        written.append(_write_atomically(path.with_name(path.name + ".feedback.csv"), rows_csv(rows)))
    return written


def _write_atomically(path: Path, text: str) -> Path:
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise MatcalcError(f"cannot write the report in {folder}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(temp, path)
    except OSError as err:
        if os.path.exists(temp):
            os.unlink(temp)
        raise MatcalcError(f"cannot write the report {path}: {err.strerror}") from None
    return path
