"""Where matcalc keeps what it computes once per version: the analysed
grammar (lark's parse tables) and the parsed rule base.

Both are data, never code: JSON, read back by ``decode``, which builds only
plain values (lists, tuples, dicts, numbers, strings, fractions) and
instances of the classes it is given by name (the expression nodes, ``Rule``,
``Function``), field by field.  A planted or corrupted file is at worst
wrong data: ``decode`` refuses it (ValueError) and matcalc parses again.
No pickle is ever read.  The files are named by a key (``key``): the package
version, and the hash of the grammar, of every rule file and of the code
that reads them, so that any change makes a new file.

They live in a folder only the current user can write,
``$XDG_CACHE_HOME/matcalc`` (by default ``~/.cache/matcalc``), never in the
shared temporary folder.  Without such a folder there is no cache: matcalc
works the same, a few tens of milliseconds slower to start.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from fractions import Fraction
from pathlib import Path

from ..version import __version__


def cache_file(name: str) -> Path | None:
    """``cache_file("rules-1a2b.json")``: a path in the private cache folder,
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


def key(*parts) -> str:
    """A short hash of the package version and ``parts`` (paths are read: their bytes count)."""
    digest = hashlib.sha256(__version__.encode())
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else str(part).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:20]


def encode(value):
    """JSON data for ``value``: tuples, frozensets, non-string keys, fractions and
    dataclass instances tagged (``{"t": [...]}``, ``{"d": [[k, v], ...]}``,
    ``{"f": [n, d]}``, ``{"o": [class name, {field: value}]}``)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"t": [encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {"s": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"d": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, Fraction):
        return {"f": [value.numerator, value.denominator]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"o": [type(value).__name__, fields]}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def decode(data, classes: dict):
    """The value ``encode`` made; instances only of ``classes`` (name ->
    class), built from their fields.  A ValueError for anything else."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, classes) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        (tag, body), = data.items()
        if tag == "t" and isinstance(body, list):
            return tuple(decode(v, classes) for v in body)
        if tag == "s" and isinstance(body, list):
            return frozenset(decode(v, classes) for v in body)
        if tag == "d" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
            return {decode(k, classes): decode(v, classes) for k, v in body}
        if tag == "f" and isinstance(body, list) and len(body) == 2 and all(type(n) is int for n in body):
            return Fraction(*body)
        if tag == "o" and isinstance(body, list) and len(body) == 2 and body[0] in classes \
                and isinstance(body[1], dict):
            cls = classes[body[0]]
            names = {f.name for f in dataclasses.fields(cls) if f.init}
            if not set(body[1]) <= names:
                raise ValueError(f"unknown fields of {body[0]}")
            return cls(**{k: decode(v, classes) for k, v in body[1].items()})
    raise ValueError("not matcalc cache data")


def read(name: str, classes: dict):
    """The value cached under ``name`` (None when there is none, or it is not
    valid cache data)."""
    path = cache_file(name)
    if path is None:
        return None
    try:
        return decode(json.loads(path.read_text(encoding="utf-8")), classes)
    except (OSError, ValueError, TypeError, RecursionError):  # missing, stale, foreign: computed again
        return None


def write(name: str, value) -> None:
    """Cache ``value`` under ``name`` (written to a temporary file, then
    renamed: a reader never sees half a file).  Nothing when it cannot."""
    path = cache_file(name)
    if path is None:
        return
    try:
        text = json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError, RecursionError):  # a read-only folder: no cache, no harm
        pass
