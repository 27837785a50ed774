"""Jobs in worker processes, each under a time and a memory limit.

A ``WorkerPool`` keeps ``size`` processes (``python -m
matcalc.web.workers``: fresh interpreters, nothing of the server copied),
each with the parser, rules and numpy already loaded, talking JSON lines.  ``run(name, fields)`` hands a job name from
``matcalc.web.jobs.JOBS`` and its data (never code) to an idle worker and
waits at most ``timeout`` seconds for the answer.  A worker that runs over
is killed and replaced, so a hostile problem costs its own request an error
and nobody else anything.  The memory limit is the worker's address space
(``RLIMIT_AS``): past it numpy raises MemoryError, reported as an error.
Blocking: the server calls ``run`` from a thread per request.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class JobError(Exception):
    """The job produced no answer: ``status`` is the HTTP status to send."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def main() -> None:  # pragma: no cover (runs in the worker)
    """A worker's loop: read a JSON line [job name, fields] from stdin, write
    a JSON line [status, value] to the stdout it was given."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything printed by accident goes to stderr, not into the answers
    memory_mb = int(os.environ.get("MATCALC_WORKER_MEMORY_MB") or 0)
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from matcalc.web import jobs

    with contextlib.suppress(Exception):  # a broken install shows on the first request instead
        jobs.warm()
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            name, fields = json.loads(line)
        except (ValueError, TypeError):
            return
        out.write(json.dumps(_answer(jobs, name, fields), ensure_ascii=False) + "\n")
        out.flush()


def _answer(jobs, name: str, fields) -> tuple[str, dict]:  # pragma: no cover (runs in the worker)
    from matcalc.errors import MatcalcError

    try:
        return "ok", jobs.JOBS[name](fields)
    except jobs.BadRequest as err:
        return "bad", err.to_dict()
    except MatcalcError as err:
        return "bad", {"error": f"{type(err).__name__}: {err}", "position": None}
    except MemoryError:
        return "bad", {"error": "LimitError: the problem needs more memory than this server allows "
                                "(declare smaller sizes, or none: matcalc picks small ones)", "position": None}
    except RecursionError:
        return "bad", {"error": "LimitError: the input is nested too deeply", "position": None}
    except Exception as err:  # noqa: BLE001 (a bug of ours: said plainly, the worker lives on)
        return "error", {"error": f"internal error ({type(err).__name__}: {err}); this is a bug in matcalc",
                         "position": None}


class _Worker:
    """``python -m matcalc.web.workers``: one JSON line in, one out."""

    def __init__(self, memory_mb):
        package_root = str(Path(__file__).resolve().parents[2])  # the matcalc the server runs
        env = dict(os.environ, MATCALC_WORKER_MEMORY_MB=str(memory_mb or 0))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        for var in BLAS_THREADS:  # one thread each: the workers are the parallelism
            env[var] = "1"
        self.process = subprocess.Popen([sys.executable, "-m", "matcalc.web.workers"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, bufsize=0)
        self._buffer = b""

    def ask(self, name: str, fields, timeout: float):
        """The answer, or None when none came within ``timeout`` seconds
        (EOFError when the worker died)."""
        deadline = time.monotonic() + timeout
        self.process.stdin.write(json.dumps([name, fields], ensure_ascii=False).encode("utf-8") + b"\n")
        self.process.stdin.flush()
        fd = self.process.stdout.fileno()
        while True:
            line, newline, rest = self._buffer.partition(b"\n")
            if newline:
                self._buffer = rest
                if line.strip() == b"ready":
                    continue
                return json.loads(line.decode("utf-8"))
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError
            self._buffer += chunk

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class WorkerPool:
    """``size`` worker processes; each job at most ``timeout`` seconds (and
    ``memory_mb`` of address space).  A request waits at most ``timeout``
    for a free worker too (then HTTP 503)."""

    def __init__(self, size: int = 2, timeout: float = 20.0, memory_mb: int | None = 2048):
        self.size = size
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._idle: queue.Queue = queue.Queue()
        self._workers: set = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.stop()
        if not self._closed:
            self._idle.put(self._start())

    def run(self, name: str, fields) -> tuple[str, dict]:
        """("ok" | "bad" | "error", value) of job ``name``; a JobError when
        the job ran over its time or its worker died."""
        if self._closed:
            raise JobError("the server is shutting down", 503)
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise JobError("the server is busy: try again in a moment", 503) from None
        try:
            answer = worker.ask(name, fields, self.timeout)
            if answer is None:
                threading.Thread(target=self._retire, args=(worker,), daemon=True).start()
                raise JobError(f"LimitError: the problem took longer than this server's time limit "
                               f"({self.timeout:g} s); try smaller or symbolic sizes", 400)
        except (EOFError, OSError, ValueError):
            threading.Thread(target=self._retire, args=(worker,), daemon=True).start()
            raise JobError("LimitError: the problem stopped its worker (out of memory?); "
                           "try smaller or symbolic sizes", 400) from None
        self._idle.put(worker)
        return tuple(answer)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
