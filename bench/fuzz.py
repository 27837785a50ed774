"""The fuzzer at scale (issue 8): 10,000 random well-typed programs through
the engine, each judged by the oracle of ``tests/fuzz_oracle.py`` (finite
differences of the original objective, the engine's own check, the
generated numpy module).  Reports correct / refused / wrong / crashed counts,
the slowest case, and every case that is not correct.

    python bench/fuzz.py                      # 10,000 programs, seeds 0..9999
    python bench/fuzz.py --n 500 --start 20000 --jobs 2
    python bench/fuzz.py --order 2            # Hessians (in a declared symmetric/spd
                                              # matrix when there is one), fuzz_oracle.verify_hessian

Program k is ``generate_case(random.Random(k))``, the generator the
hypothesis tests use (``tests/strategies.py``), so any case reproduces with
``--start k --n 1``.  Exit status 1 when a case is wrong or crashed.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from run import machine  # noqa: E402  (bench/run.py: CPU, cores, Python, numpy, date)

from fuzz_oracle import structured_wrt, verify, verify_hessian  # noqa: E402 - after the path (tests/)
from fuzz_programs import generate_case  # noqa: E402 - after the path (tests/)

STATUSES = ("correct", "refused", "unverifiable", "wrong", "crashed")
TIMEOUT = 60  # seconds a case may take before it counts as a crash (a hang)


def _timeout(signum, frame):
    raise TimeoutError(f"the case took more than {TIMEOUT} s")


def warm_up() -> None:
    """Load the rules, the grammar and numpy once per worker, so the slowest
    case is a slow program, not a cold start."""
    verify("x : (n, 1)\nJ = sum(tanh(x))", ["x"])


ORDER = 1  # set by --order (inherited by the forked workers)


def run_one(seed: int) -> tuple:
    """(seed, status, message, seconds, program text, wrt) of program ``seed``."""
    case = generate_case(random.Random(seed))
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(TIMEOUT)
    try:
        if ORDER == 2:
            wrt = [structured_wrt(case.text, case.wrt)]
            outcome = verify_hessian(case.text, wrt[0], case.draws, case.forward, seed=seed)
        else:
            wrt = case.wrt
            outcome = verify(case.text, case.wrt, case.draws, case.forward, seed=seed)
    except TimeoutError as err:
        from fuzz_oracle import Outcome

        outcome = Outcome("crashed", str(err), TIMEOUT)
    finally:
        signal.alarm(0)
    return seed, outcome.status, outcome.message, outcome.seconds, case.text, wrt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="how many programs (default 10000)")
    parser.add_argument("--start", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--order", type=int, choices=[1, 2], default=1,
                        help="2: Hessians and HVPs (fuzz_oracle.verify_hessian) instead of gradients")
    args = parser.parse_args(argv)
    global ORDER
    ORDER = args.order

    seeds = range(args.start, args.start + args.n)
    counts: Counter = Counter()
    notable, slowest = [], (0.0, None)
    refusals: Counter = Counter()
    structured: Counter = Counter()  # order 2: outcomes of Hessians in a declared symmetric/spd matrix
    start = time.perf_counter()
    with multiprocessing.Pool(args.jobs, initializer=warm_up) as pool:
        for done, (seed, status, message, seconds, text, wrt) in enumerate(
                pool.imap_unordered(run_one, seeds, chunksize=16), 1):
            counts[status] += 1
            if args.order == 2 and any(line.startswith(f"{wrt[0]} ") and line.rstrip().endswith(("symmetric", "spd"))
                                       for line in text.splitlines()):
                structured[status] += 1
            if seconds > slowest[0]:
                slowest = (seconds, (seed, text, wrt))
            if status == "refused":
                refusals[message.split(":", 1)[0] + ": " + message.split(":", 2)[1].strip()[:40]] += 1
            elif status != "correct":
                notable.append((seed, status, message, text, wrt))
            if done % 1000 == 0:
                print(f"  {done} programs, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    wall = time.perf_counter() - start

    order = " --order 2" if args.order == 2 else ""
    print(f"matcalc fuzz{order}: {args.n} programs (seeds {seeds.start}..{seeds.stop - 1}), "
          f"{wall:.0f} s wall on {args.jobs} workers ({args.n / wall:.0f} programs/s)")
    print(machine())
    print("| outcome | programs |\n|---|---|")
    for status in STATUSES:
        print(f"| {status} | {counts[status]} |")
    if args.order == 2:
        print(f"\nin a declared symmetric or spd matrix: {sum(structured.values())} programs, "
              + ", ".join(f"{structured[s]} {s}" for s in STATUSES))
    seconds, (seed, text, wrt) = slowest
    print(f"\nslowest: seed {seed}, {seconds:.2f} s, --wrt {','.join(wrt)}\n" + _indent(text))
    if refusals:
        print("\nrefusals:")
        for reason, n in refusals.most_common():
            print(f"  {n:5d}  {reason}")
    for seed, status, message, text, wrt in sorted(notable):
        print(f"\n{status}: seed {seed}, --wrt {','.join(wrt)}\n{_indent(text)}\n  -> {message.strip()[:2000]}")
    return 1 if counts["wrong"] or counts["crashed"] else 0


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
