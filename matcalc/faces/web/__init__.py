"""``matcalc serve``: the web page and its JSON API (the ``web`` extra:
Starlette and uvicorn).  ``create_app()`` builds the ASGI app;
``serve()`` runs it with uvicorn, on 127.0.0.1 unless told otherwise."""
from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def create_app(**options):
    from .app import create_app as build

    return build(**options)


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, open_browser: bool = False,
          workers: int = 2, timeout: float = 20.0) -> None:
    """Serve the page until interrupted; print its URL first."""
    import uvicorn

    app = create_app(workers=workers, timeout=timeout)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"matcalc serve: {url}  (Ctrl+C stops)", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
