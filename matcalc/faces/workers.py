"""Jobs in worker processes, each under a time and a memory limit.

A ``WorkerPool`` keeps up to ``jobs`` fresh interpreters (``python -m
matcalc.faces.workers``: nothing of the caller is copied into them) and talks
JSON lines with them: a job is the name of a function in a matcalc module
(``"matcalc.faces.grading:judge"``, never text from the input) and its arguments
as JSON data.  Each job gets at most ``seconds`` of wall time (past it the
worker is killed and replaced) and its worker at most ``memory_mb`` of
address space (``RLIMIT_AS``: past it numpy and Python raise MemoryError,
and the worker, which may be left in a poor state, is replaced)::

    with WorkerPool(jobs=2, limits=Limits(seconds=10, memory_mb=1024)) as pool:
        for outcome in pool.map("matcalc.faces.grading:judge", [(problem, answer), ...]):
            outcome.status   # "ok" (outcome.value), "error", "time limit", "memory limit", "crashed"

A job that runs over, exhausts its memory, or kills its worker is one
outcome; the others go on.  ``run(job, args)`` runs one job (blocking;
callable from several threads, e.g. a web server's request threads).
``python -m`` puts no file of the caller on the worker's path; the package
the caller runs is put on ``PYTHONPATH``.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
STATUSES = ("ok", "error", "time limit", "memory limit", "crashed")


@dataclass(frozen=True)
class Limits:
    """Per job: ``seconds`` of wall time; per worker: ``memory_mb`` of
    address space (None or 0: no limit)."""

    seconds: float = 10.0
    memory_mb: int | None = 1024


@dataclass(frozen=True)
class Outcome:
    """What became of one job: ``status`` in ``STATUSES``; ``value`` (JSON
    data) when "ok"; ``message`` says what went wrong otherwise."""

    status: str
    value: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# -- the worker side -----------------------------------------------------------

def _resolve(job: str):
    module, _, name = job.partition(":")
    packages = os.environ.get("MATCALC_WORKER_MODULES", "matcalc").split(",")
    if not any(module == p or module.startswith(p + ".") for p in packages) or not name.isidentifier():
        raise ValueError(f"not a job of {', '.join(packages)}: {job!r}")
    return getattr(importlib.import_module(module), name)


def main() -> None:  # pragma: no cover (runs in the worker)
    """A worker's loop: a JSON line [job, args] in, a JSON line [status,
    value or message] out, until stdin closes."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything printed by accident goes to stderr, not into the replies
    memory_mb = int(os.environ.get("MATCALC_WORKER_MEMORY_MB") or 0)
    if memory_mb:
        import resource  # POSIX only, and only for a memory limit

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for job in filter(None, os.environ.get("MATCALC_WORKER_WARM", "").split(",")):
        with contextlib.suppress(Exception):  # a broken job shows when it is run
            _resolve(job)()
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            job, args = json.loads(line)
            reply = ["ok", _resolve(job)(*args)]
        except MemoryError:
            reply = ["memory limit", "ran out of memory"]
        except RecursionError:
            reply = ["error", "RecursionError: nested too deeply"]
        except Exception as err:  # noqa: BLE001 - the job's failure is its outcome; the worker lives on
            reply = ["error", f"{type(err).__name__}: {err}"]
        try:
            text = json.dumps(reply, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as err:
            text = json.dumps(["error", f"the job's value is not JSON data: {err}"])
        out.write(text + "\n")
        out.flush()
        if reply[0] == "memory limit":
            return  # a fresh worker for the next job


# -- the caller's side ---------------------------------------------------------

class _Worker:
    """One ``python -m matcalc.faces.workers``."""

    def __init__(self, limits: Limits, warm: tuple = (), modules: tuple = ("matcalc",)):
        package_root = str(Path(__file__).resolve().parents[2])  # the matcalc the caller runs
        env = dict(os.environ, MATCALC_WORKER_MEMORY_MB=str(limits.memory_mb or 0),
                   MATCALC_WORKER_WARM=",".join(warm), MATCALC_WORKER_MODULES=",".join(modules))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        for var in BLAS_THREADS:  # one thread each: the workers are the parallelism
            env[var] = "1"
        self.process = subprocess.Popen([sys.executable, "-m", "matcalc.faces.workers"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, bufsize=0)
        self._buffer = b""
        self.deadline: float | None = None  # of the job in progress
        self.task = None  # the caller's tag of the job in progress

    def send(self, job: str, args, seconds: float, task=None) -> None:
        self.deadline = time.monotonic() + seconds
        self.task = task
        self.process.stdin.write(json.dumps([job, list(args)], ensure_ascii=False).encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def reply(self) -> Outcome | None:
        """The reply if a whole one has arrived (reading what is there without
        blocking), else None; EOFError when the worker has died."""
        while True:
            line, newline, rest = self._buffer.partition(b"\n")
            if newline:
                self._buffer = rest
                if line.strip() == b"ready":
                    continue
                status, value = json.loads(line.decode("utf-8"))
                self.deadline = None
                return Outcome(status, value) if status == "ok" else Outcome(status, None, str(value))
            if not select.select([self.fileno()], [], [], 0)[0]:
                return None
            chunk = os.read(self.fileno(), 1 << 16)
            if not chunk:
                raise EOFError
            self._buffer += chunk

    def death(self) -> Outcome:
        """The outcome of the job whose worker died under it."""
        code = self.process.wait()
        if code == -9:  # killed, and not by us: the kernel's out-of-memory killer
            return Outcome("memory limit", None, "the worker was killed (out of memory)")
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return Outcome("crashed", None, f"the worker died ({how})")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class WorkerPool:
    """Up to ``jobs`` workers (capped at the usable cores), started as
    needed; ``warm`` names jobs each worker runs once at start (with no
    arguments) to load what the real jobs need; jobs are functions of the
    packages ``modules`` (matcalc's, unless a test adds its own)."""

    def __init__(self, jobs: int = 1, limits: Limits = Limits(), warm: tuple = (), modules: tuple = ("matcalc",)):
        self.jobs = max(1, min(int(jobs), usable_cores()))
        self.limits = limits
        self.warm = tuple(warm)
        self.modules = tuple(modules)
        self._idle: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(self.jobs)
        self._lock = threading.Lock()
        self._workers: set = set()
        self._closed = False

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> _Worker:
        worker = _Worker(self.limits, self.warm, self.modules)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.stop()

    def run(self, job: str, args=()) -> Outcome:
        """One job, blocking (at most ``jobs`` at once across threads)."""
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        with self._slots:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = self._start()
            outcome, keep = self._finish(worker, job, args)
            if keep:
                self._idle.put(worker)
            else:
                self._retire(worker)
        return outcome

    def _spare(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._start()

    def _finish(self, worker: _Worker, job: str, args) -> tuple[Outcome, bool]:
        """Send one job to ``worker`` and wait for its outcome (and whether
        the worker may serve again)."""
        try:
            worker.send(job, args, self.limits.seconds)
        except OSError:
            return worker.death(), False
        while True:
            select.select([worker.fileno()], [], [], max(0.0, worker.deadline - time.monotonic()))
            outcome, keep = self._collect(worker)
            if outcome is not None:
                return outcome, keep

    def _collect(self, worker: _Worker) -> tuple[Outcome | None, bool]:
        """The outcome of ``worker``'s job if it has one now (a reply, its
        death, or its deadline passed), and whether the worker may serve again."""
        try:
            outcome = worker.reply()
        except (EOFError, OSError):
            return worker.death(), False
        except ValueError:
            return Outcome("crashed", None, "the worker's reply was garbled"), False
        if outcome is None:
            if time.monotonic() < worker.deadline:
                return None, True
            return Outcome("time limit", None, f"took longer than {self.limits.seconds:g} s"), False
        return outcome, outcome.status != "memory limit"

    def map(self, job: str, items, progress=None, setup: tuple | None = None) -> list[Outcome]:
        """The outcome of ``job(*args)`` for each ``args`` in ``items``, in
        order, run on up to ``jobs`` workers at once.  ``setup``, a (job,
        args), runs first in each worker that joins, under its own time
        limit (to load what every item needs, so that no item's time pays
        for it)."""
        items = list(items)
        outcomes: list = [None] * len(items)
        pending = list(range(len(items)))[::-1]
        busy: list[_Worker] = []
        idle: list[_Worker] = []
        done = 0
        try:
            while pending or busy:
                while pending and len(busy) < self.jobs:
                    if idle:
                        worker, index = idle.pop(), pending.pop()
                        task = (job, items[index])
                    else:
                        worker = self._spare()
                        index = None if setup else pending.pop()
                        task = setup or (job, items[index])
                    try:
                        worker.send(*task, self.limits.seconds, index)
                        busy.append(worker)
                    except OSError:
                        self._retire(worker)
                        if index is not None:
                            outcomes[index], done = worker.death(), done + 1
                if not busy:
                    continue
                select.select([w.fileno() for w in busy], [], [],
                              max(0.0, min(w.deadline for w in busy) - time.monotonic()))
                for worker in list(busy):
                    outcome, keep = self._collect(worker)
                    if outcome is None:
                        continue
                    busy.remove(worker)
                    if keep:
                        idle.append(worker)
                    else:
                        self._retire(worker)
                    if worker.task is None:  # its setup
                        if not outcome.ok:
                            setup = None  # (it would fail again in the next worker: items go without it)
                        continue
                    outcomes[worker.task] = outcome
                    done += 1
                    if progress:
                        progress(done, len(items))
        finally:
            for worker in busy:
                self._retire(worker)
            for worker in idle:
                self._idle.put(worker)
        return outcomes

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
