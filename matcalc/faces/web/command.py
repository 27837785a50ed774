"""``matcalc serve``: the subcommand (``cli.py`` adds it with ``add_command``)."""
from __future__ import annotations

import argparse

from ...language.errors import MatcalcError
from ..web import serve

EPILOG = """examples:
  matcalc serve                      # http://127.0.0.1:8000/
  matcalc serve --port 8080 --open   # and open it in the browser
  matcalc serve --host 0.0.0.0       # other machines may connect: only on a network you trust
"""


def add_command(subparsers) -> None:
    s = subparsers.add_parser("serve", help="serve the web page and its JSON API on this machine",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000, help="the port (default 8000)")
    s.add_argument("--open", action="store_true", help="open the page in the browser")
    s.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes: requests derived at the same time (default 2)")
    s.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                   help="time limit of one request (default 20)")
    s.set_defaults(handler=cmd_serve)


def cmd_serve(args) -> int:
    try:  # the web extra is optional: asked for only when serve runs
        import starlette  # noqa: F401 - only: is the web extra installed?
        import uvicorn  # noqa: F401 - only: is the web extra installed?
    except ImportError:
        raise MatcalcError('matcalc serve needs the web extra: pip install "matcalc[web]" '
                           '(from a checkout: pip install ".[web]")') from None
    if not 0 < args.port < 65536:
        raise MatcalcError(f"--port {args.port}: a port is 1 to 65535")
    if args.workers < 1 or not args.timeout > 0:
        raise MatcalcError("--workers is at least 1 and --timeout more than 0 seconds")
    try:
        serve(args.host, args.port, open_browser=args.open, workers=args.workers, timeout=args.timeout)
    except KeyboardInterrupt:
        pass
    return 0
