"""Where matcalc keeps what it computes once per version: the analysed
grammar (lark's cache) and the parsed rule base.

Both are pickles, and loading a pickle runs code.  So they live in a folder
only the current user can write, ``$XDG_CACHE_HOME/matcalc`` (by default
``~/.cache/matcalc``), never in the shared temporary folder, where another
user could plant a file for matcalc to load.  Without such a folder there is
no cache: matcalc works the same, a few tens of milliseconds slower to start.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def cache_file(name: str) -> Path | None:
    """``cache_file("rules-1a2b.pickle")``: a path in the private cache folder,
    or None when there is no folder that only this user can write."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "matcalc"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except (OSError, RuntimeError):  # no home, a read-only one, or not a folder
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    return folder / name
