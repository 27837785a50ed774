"""How matcalc read the input where it had to decide (the ``read as``
line): runs of letters it split (``xW`` into ``x W``) and names that are
vectors only by the lowercase default."""
from __future__ import annotations

from dataclasses import dataclass

from ..language.expr import Op, Sym
from ..language.latex_expr import latex_name, to_latex
from ..language.printer import to_ascii, to_text


@dataclass(frozen=True)
class Reading:
    """How matcalc read the input where it had to decide: runs of letters it
    split (``xW`` into ``x W``) and names that are vectors only by the
    lowercase default.  ``str``: ``x W + b1   (xW split into x W; b1 a row
    vector by default — declare b1: () for a scalar)``."""

    exprs: tuple  # (defined name or None for the objective, surface expression)
    notes: tuple  # one sentence per decision

    def text(self, unicode: bool = True) -> str:
        show = to_text if unicode else to_ascii
        return "; ".join((f"{show(Sym(name))} = " if name else "") + show(e) for name, e in self.exprs)

    def latex(self) -> str:
        return r";\ ".join((f"{latex_name(name)} = " if name else "") + to_latex(e) for name, e in self.exprs)

    def __str__(self) -> str:
        return f"{self.text()}   ({'; '.join(self.notes)})"


def reading_of(surface, objective, objective_splits: list, typed) -> Reading | None:
    """The ``read as`` line of a program, or None when nothing was decided
    for the user (no split, no default that a scalar would also have fitted)."""
    def split_note(word, pieces):
        return f"{word} split into {' '.join(to_text(Sym(p)) for p in pieces)}"

    def defaulted_terms(e):
        """Names made vectors by default that stand as a term of a sum (a bias)."""
        found = []
        for node in e.walk():
            if isinstance(node, Op) and node.op == "add":
                for a in node.args:
                    a = a.args[1] if isinstance(a, Op) and a.op == "scale" and len(a.args) == 2 else a
                    if isinstance(a, Sym) and a.name in typed.defaulted and a.name not in found:
                        found.append(a.name)
        return found

    def default_note(name):
        shape = typed.shapes[name]
        kind = "a row vector" if shape[0] == 1 else "a column vector"
        shown = to_text(Sym(name))
        return f"{shown} {kind} by default — declare {shown}: () for a scalar"

    exprs, notes, names = [], [], []
    sources = [(d.expr, [s for s in surface.splits if s[0] == d.line], d.name) for d in surface.definitions]
    if objective is not None:
        sources.append((objective, objective_splits, None))
    for expr, splits, name in sources:
        defaults = [n for n in defaulted_terms(expr) if n not in names]
        if not splits and not defaults:
            continue
        exprs.append((name, expr))
        notes.extend(split_note(word, pieces) for _, word, pieces in splits)
        notes.extend(default_note(n) for n in defaults)
        names.extend(defaults)
    return Reading(tuple(exprs), tuple(dict.fromkeys(notes))) if notes else None
