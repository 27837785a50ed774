"""Benchmark: ``matcalc grade`` on 1,000 answers to the CS224n problem (∂J/∂W).

    cd /work/main && python bench/grade_bench.py                 # --answers 1000 --jobs 2
    python bench/grade_bench.py --answers 5000 --jobs 1,2

The answers mix right ones (plain, LaTeX, with helper definitions) with each
kind of mistake (transpose, factor, sign, counterexample, shape, garbage,
empty).  Each run is the whole command in a fresh process (start-up, one
derivation per process, the checks, the report), timed by wall clock; the
target is under a minute with ``--jobs 2`` on two cores.  Prints a markdown
table.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RIGHT = "x^T delta2"
# (answer, expected kind): the right answer in several spellings, then mistaken
ANSWERS = [(RIGHT, "correct"), (r"\mathbf{x}^\top \delta_2", "correct"),
           ("d = (yhat - y) U^T .* sgn(h); x^T d", "correct"), ("xᵀ ((ŷ − y) Uᵀ ∘ step(z))", "correct")]
ANSWERS += [(template.format(RIGHT), kind) for template, kind in [
    ("({})^T", "transpose"), ("3 {}", "factor"), ("-{}", "sign"), ("x^T delta1", "shape"),
    ("{} + x^T z", "counterexample"), ("{} ) (", "unparsable")]]
ANSWERS.append(("", "empty"))


def _command() -> list[str]:
    """``python -m matcalc`` once cli.py knows ``grade``, else the module itself."""
    sys.path.insert(0, str(ROOT))
    from matcalc.faces.cli import build_parser

    wired = any("grade" in (getattr(a, "choices", None) or {}) for a in build_parser()._actions)
    return [sys.executable, "-m", "matcalc" if wired else "matcalc.faces.cli_answers"]


def write_inputs(folder: Path, count: int) -> tuple[Path, Path]:
    problems = folder / "problems.json"
    problems.write_text(json.dumps([{"id": "W", "f": "J", "wrt": "W",
                                     "file": str(ROOT / "tests" / "data" / "cs224n.mc")}]))
    answers = folder / "answers.csv"
    with answers.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "W"])
        for i in range(count):
            writer.writerow([f"s{i:05d}", ANSWERS[i % len(ANSWERS)][0]])
    return problems, answers


def run(count: int, jobs: int, folder: Path) -> dict:
    problems, answers = write_inputs(folder, count)
    report = folder / f"report-{jobs}.csv"
    start = time.perf_counter()
    done = subprocess.run([*_command(), "grade", str(answers), "--problems", str(problems),
                           "--report", str(report), "--jobs", str(jobs)],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"grade failed ({done.returncode}): {done.stderr}")
    with report.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    wrong = sum(r["kind"] != ANSWERS[i % len(ANSWERS)][1] for i, r in enumerate(rows))
    return {"answers": len(rows), "jobs": jobs, "wall": wall, "per_answer_ms": 1000 * wall / max(1, len(rows)),
            "unexpected": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--jobs", default="2", help="comma list of job counts")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| answers | jobs | wall (s) | ms per answer | verdicts not as expected |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (int(j) for j in args.jobs.split(",")):
            r = run(args.answers, jobs, Path(tmp))
            print(f"| {r['answers']} | {r['jobs']} | {r['wall']:.2f} | {r['per_answer_ms']:.2f} | {r['unexpected']} |")


if __name__ == "__main__":
    main()
