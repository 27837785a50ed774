"""How names are spelled (SPEC §2): Greek letters, accents, canonical ASCII
names, and the splitting of a run of letters into names.

Every name has one canonical, ASCII spelling, which is what ``Sym.name``
holds: ``θ`` is ``theta``, ``ŷ`` is ``yhat``, ``x̄`` is ``xbar``, ``δ2`` is
``delta2``, ``Σ`` is ``Sigma``.  The unicode printer spells it back
(``unicode_spelling("yhat") == "ŷ"``).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable

_LOWER = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
          "nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()
# letter -> canonical name; ``ς`` (final sigma) reads as sigma
GREEK_NAMES: dict[str, str] = {
    **dict(zip("αβγδεζηθικλμνξοπρστυφχψω", _LOWER)),
    **dict(zip("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ", (n.capitalize() for n in _LOWER))),
    "ς": "sigma",
}
# the unicode printer writes these capitals as Greek letters; the others
# (Alpha, Beta, ...) look like Latin capitals, so they stay spelled out
_PRINTED_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
                     "Phi", "Psi", "Omega"}
_GREEK_LETTERS = {name: letter for letter, name in GREEK_NAMES.items()
                  if letter != "ς" and (name.islower() or name in _PRINTED_CAPITALS)}

# combining mark -> the word that spells it in a canonical name (ŷ = yhat)
ACCENTS = {"\u0302": "hat", "\u0304": "bar", "\u0305": "bar", "\u0303": "tilde",
           "\u0307": "dot", "\u0308": "ddot"}
_MARKS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "dot": "\u0307",
          "ddot": "\u0308"}

_GREEK = "|".join(sorted(GREEK_NAMES.values(), key=len, reverse=True))
_ACCENT_WORDS = "(?:ddot|hat|bar|tilde|dot)*"
# one letter, Latin or a Greek letter's name, with accents: x, theta, yhat
_LETTER_NAME = re.compile(rf"(?:{_GREEK}|[A-Za-z]){_ACCENT_WORDS}")
_SPELLING = re.compile(rf"(?P<base>{_GREEK}|[A-Za-z])(?P<accents>{_ACCENT_WORDS})"
                       r"(?P<rest>[0-9]*(?:_[A-Za-z0-9]+)*)")
# a word is letters (each with its combining marks), digit runs, _subscripts
_UNIT = re.compile(r"[0-9]+|_[A-Za-z0-9]+|.[\u0300-\u036F]*", re.DOTALL)


def canonical_letter(letter: str) -> str | None:
    """``θ`` -> ``theta``, ``ŷ`` -> ``yhat``, ``x`` -> ``x``; None when the
    letter or one of its accents has no name (``é``, ``ø``)."""
    base, *marks = unicodedata.normalize("NFD", letter)
    name = base if base.isascii() and base.isalpha() else GREEK_NAMES.get(base)
    accents = [ACCENTS.get(mark) for mark in marks]
    if name is None or None in accents:
        return None
    return name + "".join(accents)


def word_units(word: str) -> list[str]:
    """A word cut into letters, digit runs and subscripts, each letter in its
    canonical spelling: ``θ_1x2`` -> ``["theta", "_1", "x", "2"]``.  Raises
    ValueError(letter) for a letter with no canonical spelling."""
    units = []
    for match in _UNIT.finditer(word):
        unit = match.group()
        if unit[0].isascii() and (unit[0].isdigit() or unit[0] == "_"):
            units.append(unit)
            continue
        name = canonical_letter(unit)
        if name is None:
            raise ValueError(unit)
        units.append(name)
    return units


def is_letter_name(text: str) -> bool:
    """One letter with its accents, by name: ``x``, ``theta``, ``Sigma``, ``yhat``."""
    return _LETTER_NAME.fullmatch(text) is not None


def split_word(units: list[str], is_name: Callable[[str, bool], bool],
               longest: int = 40) -> list[str]:
    """Cut a run of letters into names, greedily from the left: at each letter
    take the longest run of units that ``is_name(text, reaches_end)`` accepts
    (a single letter always counts), then the digits and subscripts that
    follow it.  ``xWb1`` -> ``["x", "W", "b1"]``; ``yhatx`` -> ``["yhat", "x"]``.
    """
    pieces = []
    start = 0
    while start < len(units):
        end = start + 1
        for stop in range(min(len(units), start + longest), start + 1, -1):
            if is_name("".join(units[start:stop]), stop == len(units)):
                end = stop
                break
        while end < len(units) and not units[end][0].isalpha():  # digits, _subscripts
            end += 1
        pieces.append("".join(units[start:end]))
        start = end
    return pieces


def unicode_spelling(name: str) -> str:
    """How the unicode printer writes a canonical name: ``theta`` -> ``θ``,
    ``yhat`` -> ``ŷ``, ``delta2`` -> ``δ2``; other names as they are."""
    match = _SPELLING.fullmatch(name)
    if match is None:
        return name
    base = match["base"]
    letter = _GREEK_LETTERS.get(base, base if len(base) == 1 else None)
    if letter is None:
        return name
    marks = "".join(_MARKS[accent] for accent in re.findall("ddot|hat|bar|tilde|dot", match["accents"]))
    return unicodedata.normalize("NFC", letter + marks) + match["rest"]


def canonical_name(name: str) -> str:
    """A name as the program spells it internally: ``--wrt θ`` names
    ``theta``, ``ŷ`` names ``yhat`` (a word that is no name stays as it is)."""
    try:
        return "".join(word_units(name))
    except ValueError:
        return name
