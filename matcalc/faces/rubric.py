"""Points and partial credit for one problem (``matcalc grade``, issue 17).

A problem of a problems file may carry a rubric::

    [[problems]]
    id = "W"
    f = "J"
    file = "cs224n.mc"
    wrt = "W"
    points = 4
    credit = { transpose = 0.5, factor = 0.5, batch-sum = 0.75 }

    [[problems.expect]]
    answer = "x^T (yhat - y) U^T"
    credit = 0.25
    message = "You dropped the relu mask: δ2 = δ1 Uᵀ ∘ step(z)."

A right answer earns ``points``; a wrong one the fraction its diagnosis kind
gets in ``credit`` (0 when not listed); an answer equal to an anticipated
mistake (``expect``, compared by value like every answer) gets that
mistake's credit and message instead.  Every row gets the feedback a student
should read, with the points.

>>> Rubric.from_dict({"points": 2, "credit": {"transpose": 0.5}}).score("transpose", False, None, "...")[0]
1.0
"""
from __future__ import annotations

from dataclasses import dataclass

from ..language.errors import MatcalcError

# diagnosis kinds a rubric may give credit to (matcalc.faces.answers.KINDS but "correct")
CREDIT_KINDS = ("shape", "transpose", "factor", "sign", "batch-sum", "mask", "symmetric-only",
                "counterexample", "unparsable", "unknown-name", "empty", "raises")


@dataclass(frozen=True)
class Expectation:
    """An anticipated wrong answer, its credit (a fraction) and its message."""

    answer: str
    credit: float
    message: str


@dataclass(frozen=True)
class Rubric:
    points: float = 1.0
    credit: tuple = ()  # ((kind, fraction), ...)
    expect: tuple = ()  # (Expectation, ...)

    @classmethod
    def from_dict(cls, d: dict, where: str = "the problem") -> "Rubric":
        """``points``, ``credit`` and ``expect`` of a problem dict, checked."""
        points = d.get("points", 1)
        if not _number(points) or points <= 0:
            raise MatcalcError(f"{where}: 'points' is a positive number, not {points!r}")
        credit = d.get("credit") or {}
        if not isinstance(credit, dict):
            raise MatcalcError(f"{where}: 'credit' maps a mistake to a fraction, e.g. {{ transpose = 0.5 }}")
        fractions = []
        for kind, fraction in credit.items():
            kind = str(kind).strip().replace("_", "-")
            if kind not in CREDIT_KINDS:
                raise MatcalcError(f"{where}: no mistake is called {kind!r} in 'credit'; "
                                   f"the kinds: {', '.join(CREDIT_KINDS)}")
            fractions.append((kind, _fraction(fraction, f"{where}: credit for {kind}")))
        expect = d.get("expect") or []
        if isinstance(expect, dict):
            expect = [expect]
        if not isinstance(expect, list):
            raise MatcalcError(f"{where}: 'expect' is a list of {{answer, credit, message}}")
        mistakes = []
        for i, item in enumerate(expect, 1):
            if not isinstance(item, dict) or not str(item.get("answer", "")).strip():
                raise MatcalcError(f"{where}: anticipated mistake {i} needs an 'answer'")
            mistakes.append(Expectation(str(item["answer"]),
                                        _fraction(item.get("credit", 0), f"{where}: credit of mistake {i}"),
                                        str(item.get("message") or "").strip()))
        return cls(float(points), tuple(fractions), tuple(mistakes))

    @property
    def answers(self) -> tuple:
        """The anticipated answers, in order (``PreparedProblem.check(expect=...)``)."""
        return tuple(e.answer for e in self.expect)

    def score(self, kind: str, correct: bool, anticipated: int | None, diagnosis: str) -> tuple[float, str]:
        """(points, the feedback a student reads) for a verdict."""
        if correct:
            return self.points, f"Correct ({points_text(self.points)}/{points_text(self.points)} points): {diagnosis}"
        if anticipated is not None:
            mistake = self.expect[anticipated]
            earned = round(self.points * mistake.credit, 6)
            return earned, f"{mistake.message or diagnosis} ({points_text(earned)}/{points_text(self.points)} points)"
        earned = round(self.points * dict(self.credit).get(kind, 0.0), 6)
        partial = " — partial credit" if 0 < earned < self.points else ""
        return earned, f"{diagnosis} ({points_text(earned)}/{points_text(self.points)} points{partial})"


def points_text(x: float) -> str:
    """``2.0`` -> ``2``, ``0.5`` -> ``0.5``."""
    return f"{x:.6g}"


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _fraction(x, what: str) -> float:
    if not _number(x) or not 0 <= x <= 1:
        raise MatcalcError(f"{what} is a fraction from 0 to 1, not {x!r}")
    return float(x)
