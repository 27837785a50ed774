"""Issue 13 at scale: a hostile class graded as a batch job, and derivations
in threads in cold processes.  Results go to bench/RELIABILITY.md.

    python bench/hostile.py              # the class once, the threads 5 times
    python bench/hostile.py --trials 20
"""
from __future__ import annotations

import argparse
import collections
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def hostile_class() -> str:
    from test_batch_safety import _digest, _hostile_class

    folder = Path(tempfile.mkdtemp(prefix="matcalc-hostile-"))
    answers, problems, expected = _hostile_class(folder)
    before = _digest(answers, problems)
    report = folder / "report.csv"
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "matcalc", "grade", str(answers), "--problems", str(problems),
                        "--report", str(report), "--jobs", "2"], cwd=ROOT, capture_output=True, text=True,
                       check=False)
    wall = time.perf_counter() - start
    rows = list(csv.DictReader(report.read_text(encoding="utf-8").splitlines()))
    kinds = collections.Counter(r["kind"] for r in rows)
    lines = {int(r["line"]) for r in rows}
    return (f"exit {p.returncode}, {wall:.1f} s wall, {len(expected)} lines in, {len(lines)} lines in the report, "
            f"inputs unchanged: {_digest(answers, problems) == before}\n"
            + "\n".join(f"| {kind} | {n} |" for kind, n in kinds.most_common()))


def threads(trials: int) -> str:
    from test_threads import DATA, THREADS

    bad = 0
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "XDG_CACHE_HOME": home, "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, "-c", THREADS, str(DATA)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=False).stdout
            bad += "compared 412 wrong 0 serial errors []" not in out
    return (f"{trials} cold processes x 412 derivations (8 threads x 50, a 9th loading rule files): "
            f"{bad} with a mismatch")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    print(hostile_class())
    print(threads(args.trials))
