"""matcalc: symbolic matrix calculus that writes gradients the way the CS224n
notes do (δ terms, shapes, identities) and proves each one numerically.

>>> import matcalc as mc
>>> r = mc.derive("CE(y, softmax(relu(x W + b1) U + b2))", wrt="W")
>>> print(r.gradients["W"])
xᵀ δ2

Importing matcalc is cheap: numpy, sympy and the parser load on first use.
"""
from __future__ import annotations

from .language import printer  # noqa: F401 - installs str() of expressions (pure Python, no numpy)
from .language.errors import (
    CheckFailedError,
    CheckInconclusiveError,
    LimitError,
    MatcalcError,
    NotDifferentiableError,
    ParseError,
    RuleError,
    ShapeError,
    UnknownFunctionError,
)
from .version import __version__

__all__ = [
    "__version__", "derive", "Program", "load_rules", "MatcalcError", "ParseError", "ShapeError",
    "UnknownFunctionError", "NotDifferentiableError", "RuleError", "CheckFailedError", "CheckInconclusiveError",
    "LimitError", "check_answer", "check_function", "Verdict", "Problem",
]


def __getattr__(name):
    # the API loads lazily so that `matcalc --help` and `import matcalc` stay fast
    if name in ("derive", "Program"):
        from .faces import api

        return getattr(api, name)
    if name in ("check_answer", "Verdict", "Problem"):
        from .faces import answers

        return getattr(answers, name)
    if name == "check_function":
        from .faces.student_code import check_function

        return check_function
    if name == "load_rules":
        from .rewriting.rules import load_rules

        return load_rules
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")


def __dir__():
    # the lazily loaded names too, so that tab completion shows the whole API
    return sorted(set(globals()) | set(__all__))
