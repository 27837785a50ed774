"""Errors are values with positions: the library raises them, the CLI formats
them (``str(err)``) and exits 2.  Every error matcalc raises on bad input is a
``MatcalcError``."""
from __future__ import annotations


class MatcalcError(Exception):
    """Base of every error matcalc reports to a user.

    ``line`` and ``column`` are 1-based positions in ``source`` (the text the
    user gave); when both are known, ``str(err)`` shows the line with a caret
    under the spot.
    """

    exit_status = 2

    def __init__(self, message: str, *, source: str | None = None,
                 line: int | None = None, column: int | None = None,
                 suggestions: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        self.suggestions = list(suggestions or [])

    def __str__(self) -> str:
        parts = [self.message]
        if self.source is not None and self.line is not None and self.column is not None:
            lines = self.source.splitlines() or [""]
            if 1 <= self.line <= len(lines):
                text = lines[self.line - 1]
                if len(text) > 200:  # keep the caret readable on huge inputs
                    start = max(0, self.column - 100)
                    text = text[start:start + 200]
                    caret = self.column - start
                else:
                    caret = self.column
                where = f"line {self.line}, column {self.column}"
                parts = [f"{self.message} ({where})", "  " + text, "  " + " " * (caret - 1) + "^"]
        if self.suggestions:
            parts.append("did you mean: " + ", ".join(self.suggestions) + "?")
        return "\n".join(_printable(line) for part in parts for line in str(part).split("\n"))

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: in a notebook a
        # bad input reads like the CLI's message, caret included
        return f"{type(self).__name__}: {self}".splitlines()


def _printable(line: str) -> str:
    """The line with each control or unprintable character (an escape sequence
    in hostile input, a NUL, a tab) shown as one � or space: what reaches a
    terminal is text, and the caret still lines up."""
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else " " if c == "\t" else "\ufffd" for c in line)


class ParseError(MatcalcError):
    """The text is not in the matcalc language."""


class ShapeError(MatcalcError):
    """Shapes do not fit: names the operator and both operands' shapes."""


class UnknownFunctionError(MatcalcError):
    """A call of a name that is no function; carries close names."""


class NotDifferentiableError(MatcalcError):
    """No rule differentiates this expression."""


class RuleError(MatcalcError):
    """A rule file is malformed or a rule is unsound (shapes of its sides differ)."""


class CheckFailedError(MatcalcError):
    """The numeric check disagrees with the closed form (exit status 1)."""

    exit_status = 1


class CheckInconclusiveError(MatcalcError):
    """The numeric check found no valid point (every draw singular, ill
    conditioned or not finite): neither ok nor failed (exit status 2)."""


class LimitError(MatcalcError):
    """An input or a computation went past a safety limit (size, depth, steps)."""
