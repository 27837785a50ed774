"""The ASGI application of ``matcalc serve`` (Starlette; uvicorn serves it).

    GET  /               the page (static/index.html); the URL's query
                         (?f=…&wrt=…&order=…&where=…&answer=…) is read by it
    GET  /static/…       the page's script and style, and KaTeX (vendored)
    POST /api/derive     the CLI's fields -> the --format json document
    POST /api/check      the fields and "answer" -> the verdict
    POST /api/view       what the page shows (the document, LaTeX, steps)
    POST /api/preview    an answer typed so far -> its LaTeX

Bad input is HTTP 400 ``{"error": message, "position": {"field", "line",
"column"} or null}``.  Every job runs in a worker process under a time and
memory limit (``matcalc.faces.workers``); bodies are limited in size.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ..workers import Limits, WorkerPool

JOB = "matcalc.faces.web.jobs:run"
LIMIT_MESSAGES = {
    "time limit": "LimitError: the problem took longer than this server's time limit ({seconds:g} s); "
                  "try smaller or symbolic sizes",
    "memory limit": "LimitError: the problem needs more memory than this server allows "
                    "(declare smaller sizes, or none: matcalc picks small ones)",
}

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 100_000  # bytes of one request body
HEADERS = {  # the page loads nothing from another host, and says so to the browser
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(workers: int = 2, timeout: float = 20.0, memory_mb: int | None = 2048):
    """The Starlette app with its own pool of ``workers`` processes (each
    job at most ``timeout`` seconds and ``memory_mb`` MiB); the pool stops
    with the app.  (Starlette loads here: the module imports without the
    web extra.)"""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    pool: dict = {}

    def get_pool() -> WorkerPool:
        if "pool" not in pool:
            pool["pool"] = WorkerPool(workers, Limits(seconds=timeout, memory_mb=memory_mb),
                                      warm=("matcalc.faces.web.jobs:warm",), modules=("matcalc",))
        return pool["pool"]

    def start() -> None:  # every worker started and warm before the first request
        p = get_pool()
        p.map(JOB, [("preview", {"answer": "x"})] * p.jobs)

    async def page(request):
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    def endpoint(job: str):
        async def handle(request):
            body = await _body(request)
            if not isinstance(body, dict):
                return body
            outcome = await run_in_threadpool(get_pool().run, JOB, (job, body))
            if outcome.ok:
                status, value = outcome.value
                return JSONResponse(value, status_code=200 if status == "ok" else 400, headers=HEADERS)
            if outcome.status in LIMIT_MESSAGES:
                message = LIMIT_MESSAGES[outcome.status].format(seconds=timeout)
                return JSONResponse({"error": message, "position": None}, status_code=400, headers=HEADERS)
            return JSONResponse({"error": f"internal error ({outcome.message}); this is a bug in matcalc",
                                 "position": None}, status_code=500, headers=HEADERS)
        return handle

    def shutdown() -> None:
        if "pool" in pool:
            pool.pop("pool").close()

    routes = [
        Route("/", page),
        Route("/api/derive", endpoint("derive"), methods=["POST"]),
        Route("/api/check", endpoint("check"), methods=["POST"]),
        Route("/api/view", endpoint("view"), methods=["POST"]),
        Route("/api/preview", endpoint("preview"), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(start)
        try:
            yield
        finally:
            shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pool = get_pool
    return app


async def _body(request):
    """The request's JSON object, or a 400/413 response saying what is wrong."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        return _bad(f"the request is too large (more than {MAX_BODY} bytes)", 413)
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            return _bad(f"the request is too large (more than {MAX_BODY} bytes)", 413)
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _bad("the request body is not JSON: send the command line's fields as a JSON object, "
                    'e.g. {"f": "tr(A X B)", "wrt": "X"}')
    if not isinstance(body, dict):
        return _bad('the request body is a JSON object, e.g. {"f": "tr(A X B)", "wrt": "X"}')
    return body


def _bad(message: str, status: int = 400):
    from starlette.responses import JSONResponse  # the web extra: see create_app

    return JSONResponse({"error": message, "position": None}, status_code=status, headers=HEADERS)
