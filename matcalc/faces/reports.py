"""What ``matcalc grade`` writes: the report in four formats (issue 17).

* ``csv``  — one row per (student, problem): the verdict, points, feedback;
* ``json`` — the same rows and the summary;
* ``gradescope`` — the autograder's ``results.json`` for one submission:
  ``{"score", "max_score", "output", "tests": [{"name", "score",
  "max_score", "output", "status"}]}``, one test per problem, its output
  the feedback the student reads;
* ``canvas`` — a gradebook import CSV: the columns ``Student, ID, SIS User
  ID, SIS Login ID, Section`` and one column per assignment holding each
  student's points, a ``Points Possible`` row first.  Canvas imports no
  comments, so the feedback goes to a CSV beside it (``<OUT>.feedback.csv``,
  the ``csv`` report).

The format defaults from OUT's suffix (``.json`` -> json, else csv).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..language.errors import MatcalcError

FORMATS = ("csv", "json", "gradescope", "canvas")
REPORT_FIELDS = ["line", "student", "problem", "correct", "kind", "points", "max_points", "feedback",
                 "diagnosis", "answer"]
CANVAS_FIELDS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def report_format(path, fmt: str | None = None) -> str:
    """The format asked for, else the one OUT's suffix says."""
    if fmt:
        if fmt not in FORMATS:
            raise MatcalcError(f"--format is one of {', '.join(FORMATS)}, not {fmt!r}")
        return fmt
    return "json" if Path(path).suffix.lower() == ".json" else "csv"


def render(fmt: str, rows: list[dict], summary: dict, assignment: str = "matcalc") -> str:
    """The report's text; ``rows`` are the graded records (and malformed rows)."""
    if fmt == "json":
        return json.dumps({"summary": summary, "results": rows}, ensure_ascii=False, indent=1)
    if fmt == "gradescope":
        return json.dumps(gradescope_results(rows), ensure_ascii=False, indent=1)
    if fmt == "canvas":
        return canvas_csv(rows, assignment)
    return rows_csv(rows)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 32_000  # spreadsheets hold 32,767 characters a cell; Python's csv reads 131,072


def cell(value):
    """A CSV cell a spreadsheet shows as text: a string that starts like a
    formula (``=HYPERLINK(...)``, ``+A``, ``-x``, ``@SUM``) gets a leading
    ``'``, so a student's answer never runs in the TA's spreadsheet; a
    longer one than a cell holds is cut, saying so."""
    if not isinstance(value, str):
        return value
    if len(value) > MAX_CELL:
        value = value[:MAX_CELL] + f"… ({len(value) - MAX_CELL} more characters)"
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def rows_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: cell(v) for k, v in r.items()} for r in rows)
    return buffer.getvalue()


def _students(rows: list[dict]) -> dict:
    """(line, student) -> that student's graded rows, in file order."""
    out: dict = {}
    for r in rows:
        if r.get("problem"):
            out.setdefault((r["line"], r["student"]), []).append(r)
    return out


def gradescope_results(rows: list[dict]) -> dict:
    """The autograder ``results.json`` of one student's submission."""
    students = _students(rows)
    if len(students) != 1:
        raise MatcalcError(f"--format gradescope writes one submission's results.json, but the answers file "
                           f"has {len(students)} students; grade each submission on its own "
                           "(or use --format canvas for a class)")
    graded = next(iter(students.values()))
    tests = [{"name": r["problem"], "score": r["points"] or 0.0, "max_score": r["max_points"],
              "output": r["feedback"], "status": "passed" if r["correct"] else "failed"} for r in graded]
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    unjudged = [r["problem"] for r in graded if r["points"] is None]
    output = f"matcalc checked {len(tests)} answers: {score:.6g}/{max_score:.6g} points."
    if unjudged:
        output += f" Not graded automatically (to be graded by hand): {', '.join(unjudged)}."
    return {"score": score, "max_score": max_score, "output": output, "tests": tests}


def canvas_csv(rows: list[dict], assignment: str) -> str:
    """A Canvas gradebook import: a row per student, the assignment's points."""
    students = _students(rows)
    max_points = max((sum(r["max_points"] for r in graded) for graded in students.values()), default=0.0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CANVAS_FIELDS + [cell(assignment)])
    writer.writerow(["Points Possible", "", "", "", "", f"{max_points:.6g}"])
    for (_, student), graded in students.items():
        total = sum(r["points"] or 0.0 for r in graded)
        writer.writerow([cell(student), "", cell(student), "", "", f"{total:.6g}"])
    return buffer.getvalue()
