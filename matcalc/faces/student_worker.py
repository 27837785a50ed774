"""The worker of ``matcalc check --code``: loads a student's file, calls one
function at the inputs it reads (JSON on stdin) and writes one JSON line
``{"matcalc-worker": 1, "results": [...]}`` (or ``"error"``) on stdout.
Whatever the student's code prints goes to stderr.  Run by
``matcalc.faces.student_code.run_in_worker`` in a separate, limited process, as
a script (``python student_worker.py``): it imports nothing of matcalc."""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys


def _value(v):
    import numpy as np  # loaded by main(), after matcalc's folder left sys.path

    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return {"value": None, "type": type(v).__name__}
    return {"array": a.tolist()} if a.ndim else {"float": float(a)}


def _limit(memory, cpu) -> None:
    """Address space and CPU time for what follows (where the platform has them)."""
    try:
        import resource  # POSIX only

        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    except (ImportError, ValueError, OSError):
        pass  # no limits here: the caller's wall-clock timeout still holds


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]  # matcalc's files are not the student's
    import numpy as np  # only now: run as a script, matcalc's files could shadow the modules numpy imports

    request = json.loads(sys.stdin.read())
    _limit(request.get("memory"), request.get("cpu"))
    sys.path.insert(0, os.path.dirname(request["path"]))  # the student's own helper modules
    out = {"matcalc-worker": 1}
    with contextlib.redirect_stdout(sys.stderr):
        try:
            spec = importlib.util.spec_from_file_location("student_code", request["path"])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            fn = getattr(module, request["func"], None)
            if not callable(fn):
                raise LookupError(f"{request['path']} defines no function {request['func']}")
        except BaseException as err:  # noqa: BLE001 - the student's file failing is a verdict
            out["error"] = f"cannot load your code: {type(err).__name__}: {err}"
            fn = None
        if fn is not None:
            results = []
            for call in request["calls"]:
                inputs = {n: (np.asarray(v["array"], dtype=float) if "array" in v else v["float"])
                          for n, v in call.items()}
                try:
                    value = fn(**inputs)
                except BaseException as err:  # noqa: BLE001 - the student's function failing is a verdict
                    shapes = ", ".join(f"{n}: {'×'.join(map(str, np.shape(v))) or 'float'}"
                                       for n, v in inputs.items())
                    out["error"] = f"your function raised {type(err).__name__}: {err} (called with {shapes})"
                    break
                if isinstance(value, dict):
                    if request["wrt"] not in value:
                        out["error"] = (f"your function returned a dict without the key {request['wrt']!r} "
                                        f"(keys: {', '.join(map(str, value)) or 'none'})")
                        break
                    value = value[request["wrt"]]
                results.append(_value(value))
            else:
                out["results"] = results
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
