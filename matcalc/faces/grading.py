"""Grading a file of answers (``matcalc grade``, SPEC §7).

Answers: CSV with the header ``student,<problem id>,...`` or JSONL with one
``{"student": ..., "<problem id>": answer, ...}`` a line.  Problems: JSON
(a list of ``{"id", "f", "wrt", "where", "draw"}``, or a dict from id to
problem) or TOML (``[[problems]]`` tables, or one table per id); a problem
may name a program file (``file = "cs224n.mc"``, relative to the problems
file).  Each problem is derived once per process and each answer is checked
against the cached truth values (``matcalc.faces.answers``)::

    records, errors = grade_file("answers.csv", "problems.toml", jobs=2)

A garbage or empty answer is a verdict; a malformed row is an error record
with its line number; a problem matcalc cannot judge (it does not parse, its
derivative cannot be verified, its rubric is wrong) is reported once and its
column graded "problem-error", the other columns as usual.  A problem's
``points``, ``credit`` and anticipated mistakes (``expect``) are its rubric
(``matcalc.faces.rubric``); every record carries its points and the feedback a
student reads; ``matcalc.faces.reports`` writes csv, json, gradescope or canvas.
"""
from __future__ import annotations

import csv
import functools
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..language.errors import MatcalcError
from .answers import Problem, prepare
from .reports import render, report_format, rows_csv
from .rubric import Rubric
from .workers import Limits, WorkerPool


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
            item.update(_program_file(path, item.pop("file")))
        problems[str(item["id"]).strip()] = item
    return problems


PROBLEM_ERROR = "problem error"  # a problem dict's key: why it cannot be graded (set while reading it)
PROBLEM_FILE = "program file"  # a problem dict's key: the program file it read


def _program_file(problems_path, name) -> dict:
    """``{"program": text, PROBLEM_FILE: path}`` of a problem's ``file``,
    which must lie inside the problems file's folder (else ``{PROBLEM_ERROR:
    why}``: that problem is not graded, the others are)."""
    folder = Path(problems_path).resolve().parent
    target = (folder / str(name)).resolve()
    if not target.is_relative_to(folder):
        return {PROBLEM_ERROR: f"its file {str(name)!r} is outside the problems file's folder {folder}"}
    try:
        return {"program": _read_text(target), PROBLEM_FILE: str(target)}
    except MatcalcError as err:
        return {PROBLEM_ERROR: str(err)}


def input_files(answers, problems_path, problems: dict) -> list[Path]:
    """Every file grading reads: the answers, the problems, their program files."""
    files = [Path(answers), Path(problems_path)]
    files += [Path(p[PROBLEM_FILE]) for p in problems.values() if p.get(PROBLEM_FILE)]
    return files


def refuse_overwriting(report, inputs) -> None:
    """A MatcalcError when the report would replace one of the inputs."""
    target = Path(report).resolve()
    for f in inputs:
        if Path(f).resolve() == target or (target.exists() and Path(f).exists() and os.path.samefile(f, target)):
            raise MatcalcError(f"the report {report} is one of the inputs ({f}); choose another --report")


@dataclass(frozen=True)
class BadCell:
    """An answer cell that is no text (a JSON list or object): its reason."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def read_answers(path) -> tuple[list[Row], list[tuple[int, str]], list[str]]:
    """(rows, errors as (line, message), the problem columns) of a CSV or JSONL file."""
    text = _read_text(path)
    name = str(path).lower()
    if name.endswith((".jsonl", ".ndjson", ".json")) or (not name.endswith(".csv") and text.lstrip()[:1] == "{"):
        return _read_jsonl(text)
    return _read_csv(text)


def _read_csv(text: str):
    """Rows of a CSV file.  A record that spans lines is a quoted cell with
    line breaks only when none of its later lines is a whole row by itself;
    otherwise (an unterminated quote) its first line is reported and reading
    goes on at the next line, so no later student is swallowed."""
    lines = text.splitlines(keepends=True)
    rows, errors = [], []
    header, i = None, 0
    while i < len(lines):
        start = i + 1
        reader = csv.reader((lines[k] for k in range(i, len(lines))), strict=True)
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            errors.append((start, f"not CSV: {err}" + ("; a quote is not closed" if '"' in lines[i] else "")))
            i += 1
            continue
        span = reader.line_num
        if span > 1 and header is not None and _swallows_rows(lines[i + 1:i + span], len(header)):
            errors.append((start, "a quote opened on this line is not closed on it (the row is not graded; "
                                  "the rows after it are)"))
            i += 1
            continue
        i += span
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


def _swallows_rows(continuation: list, width: int) -> bool:
    """Whether any of these lines, read alone, is a whole row of ``width`` cells."""
    for line in continuation:
        try:
            cells = next(csv.reader([line], strict=True))
        except (csv.Error, StopIteration):
            continue
        if len(cells) == width and cells[0].strip():
            return True
    return False


def _read_jsonl(text: str):
    rows, errors, columns = [], [], {}
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:  # numbers stay text: a 5,000-digit one is an answer to judge, not an int to convert
            item = json.loads(raw, parse_int=str, parse_float=str, parse_constant=str)
        except json.JSONDecodeError as err:
            errors.append((number, f"not JSON: {err.msg}"))
            continue
        except (ValueError, RecursionError) as err:
            errors.append((number, f"not JSON: {'nested too deeply' if isinstance(err, RecursionError) else err}"))
            continue
        if not isinstance(item, dict) or "student" not in item or not isinstance(item["student"], str):
            errors.append((number, 'expected an object {"student": ..., "<problem id>": answer}'))
            continue
        answers = {str(k): _cell(v) for k, v in item.items() if k != "student"}
        columns.update(dict.fromkeys(answers))
        rows.append(Row(number, item["student"], answers))
    return rows, errors, list(columns)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    return BadCell(f"an answer is text, not a JSON {'list' if isinstance(value, list) else 'object'}")


# -- checking ----------------------------------------------------------------

# Each problem is derived, and each answer judged, in a worker process under
# a time and a memory limit (``matcalc.faces.workers``): an answer that runs over,
# exhausts its memory or kills its worker is that row's verdict, never the
# class's.
LIMITS = Limits(seconds=20.0, memory_mb=1024)
NOT_JUDGED = "not-judged"  # the kind of an answer no worker could judge


@functools.lru_cache(maxsize=64)
def _problem(text: str) -> Problem:
    return Problem.from_dict(json.loads(text))


def verify(problem: str, expect: list) -> None:
    """(in a worker) Derive the problem (JSON text) and read its rubric's
    anticipated answers: a MatcalcError says why it cannot be graded."""
    ready = prepare(_problem(problem))
    for answer in expect:  # a rubric's mistake matcalc cannot read is the TA's to fix
        ready.expectation_values(answer)


def verify_all(problems: list) -> None:
    """(in a worker, as it joins) Derive every problem: no answer's time limit pays for it."""
    for problem, expect in problems:
        verify(problem, expect)


def judge(problem: str, expect: list, answer: str) -> list:
    """(in a worker) [correct, kind, diagnosis, anticipated] of one answer."""
    try:
        v = prepare(_problem(problem)).check(answer, expect=tuple(expect))
        return [v.correct, v.kind, v.diagnosis, v.anticipated]
    except (MatcalcError, RecursionError) as err:
        return [False, "unparsable", f"cannot read your answer: {err}", None]


def _problem_text(problem: dict) -> str:
    return json.dumps(problem, sort_keys=True, ensure_ascii=False, default=str)


def grade(problems: dict[str, dict], rows: list[Row], columns: list[str], *, jobs: int = 1,
          progress=None, warn=print, limits: Limits = LIMITS) -> list[dict]:
    """One record per (student, problem column): the verdict, the points
    its rubric gives (None when the problem cannot be judged) and the
    feedback a student reads, in a dict.  ``jobs`` workers (at most the
    cores) judge, each answer within ``limits``."""
    rubrics: dict[str, Rubric] = {}
    broken: dict[str, str] = {}
    texts: dict[str, str] = {}
    for pid in columns:
        if pid not in problems:
            warn(f"column '{pid}' names no problem; ignored")
            continue
        try:
            if problems[pid].get(PROBLEM_ERROR):
                raise MatcalcError(problems[pid][PROBLEM_ERROR])
            rubrics[pid] = Rubric.from_dict(problems[pid], f"problem '{pid}'")
            Problem.from_dict(problems[pid])
            texts[pid] = _problem_text(problems[pid])
        except (MatcalcError, RecursionError, ValueError, TypeError) as err:
            broken[pid] = "the problem cannot be graded: " + (str(err).splitlines() or [type(err).__name__])[0]
            warn(f"problem '{pid}' cannot be graded: {err}")
    with WorkerPool(jobs, limits) as pool:
        checked = [pid for pid in columns if pid in texts]
        for pid, outcome in zip(checked, pool.map("matcalc.faces.grading:verify",
                                                  [(texts[pid], list(rubrics[pid].answers)) for pid in checked])):
            if not outcome.ok:
                reason = _not_judged(outcome) if outcome.status != "error" else outcome.message.partition(": ")[2]
                broken[pid] = "the problem cannot be graded: " + (reason.splitlines() or [outcome.status])[0]
                warn(f"problem '{pid}' cannot be graded: {reason}")
        records, tasks = [], []
        for row in rows:
            for pid in columns:
                if pid not in problems:
                    continue
                answer = row.answers.get(pid, "")
                record = {"line": row.line, "student": row.student, "problem": pid,
                          "answer": "" if isinstance(answer, BadCell) else answer,
                          "max_points": rubrics[pid].points if pid in rubrics else 1.0}
                if pid in broken:
                    record.update(correct=False, kind="problem-error", diagnosis=broken[pid], points=None,
                                  feedback=f"Not graded automatically ({broken[pid]}); "
                                           "your answer will be graded by hand.")
                elif isinstance(answer, BadCell):
                    _score(record, rubrics[pid], [False, "unparsable", f"cannot read your answer: {answer}", None])
                else:
                    tasks.append((len(records), pid, answer))
                records.append(record)
        ready = [[texts[pid], list(rubrics[pid].answers)] for pid in checked if pid not in broken]
        outcomes = pool.map("matcalc.faces.grading:judge", [(texts[pid], list(rubrics[pid].answers), answer)
                                                      for _, pid, answer in tasks], progress,
                            setup=("matcalc.faces.grading:verify_all", [ready]))
    for (index, pid, _), outcome in zip(tasks, outcomes):
        if outcome.ok:
            verdict = outcome.value
        elif outcome.status == "error":  # a bug of matcalc's: this answer only
            verdict = [False, "internal-error", f"matcalc failed on this answer: {outcome.message}", None]
        else:
            verdict = [False, NOT_JUDGED, _not_judged(outcome), None]
        _score(records[index], rubrics[pid], verdict)
    return records


def _not_judged(outcome) -> str:
    """``could not judge: time limit (took longer than 20 s)``."""
    return f"could not judge: {outcome.status} ({outcome.message})"


def _score(record: dict, rubric: Rubric, verdict: list) -> None:
    correct, kind, diagnosis, anticipated = verdict
    if kind == NOT_JUDGED:
        record.update(correct=False, kind=kind, diagnosis=diagnosis, points=None,
                      feedback=f"Not graded automatically ({diagnosis}); your answer will be graded by hand.")
        return
    points, feedback = rubric.score(kind, correct, anticipated, diagnosis)
    record.update(correct=correct, kind=kind, diagnosis=diagnosis, points=points, feedback=feedback)
    if anticipated is not None:
        record["kind"] = f"{kind} (anticipated {anticipated + 1})"


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
