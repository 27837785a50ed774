"""What the web server asks of matcalc, as plain functions of plain data.

Each job takes the request's fields (a dict of strings, numbers, lists) and
returns a JSON-ready dict; bad input raises ``BadRequest`` (a message and a
position).  The jobs run in worker processes (``matcalc.faces.workers``):
nothing here is handed code, only text that the parser reads.

The fields are the command line's: ``f`` (the objective: an expression, a
defined name, or a whole program of declarations and definitions with the
objective last, as the page's editor holds it), ``wrt``, ``where`` (lines),
``program`` (the text of a ``-f`` file), ``order`` (1, 2, "gradient",
"hessian", "hvp"), ``wrt2``, ``hvp`` (the direction's name), ``layout``,
``check``, ``seed``; for ``/api/check`` also ``answer``, ``latex`` and
``draw``.
"""
from __future__ import annotations

import json
import re

from ...language.errors import MatcalcError, ParseError
from ...language.latex_expr import latex_shape, to_latex
from ...language.latex_input import latex_to_expr_text, looks_like_latex
from ...language.parser import parse_expr, parse_program
from ...language.printer import to_text
from ...outputs.latex import render_latex
from ...outputs.render import render_json, render_text
from ..answers import Problem as Homework
from ..answers import check_answer, split_statements
from ..api import Program

MAX_TEXT = 20_000     # characters in all text fields of one request
MAX_LIST = 200        # items in a list field (where lines, wrt names)
STATEMENT = re.compile(r"^\s*[^\s=:(),]+\s*[=:]")  # a definition or a declaration
ORDERS = {"1": 1, "gradient": 1, "jacobian": 1, "2": 2, "hessian": 2, "hvp": "hvp"}


class BadRequest(Exception):
    """A request matcalc cannot answer: ``message`` and where in which field."""

    def __init__(self, message: str, position: dict | None = None):
        super().__init__(message)
        self.message = message
        self.position = position

    def to_dict(self) -> dict:
        return {"error": self.message, "position": self.position}


# -- fields ------------------------------------------------------------------
def _text(fields: dict, name: str, default: str = "") -> str:
    value = fields.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' is a string, not {type(value).__name__}")
    return value


def _lines(fields: dict, name: str) -> list[str]:
    """A list field: a list of strings, or one string of lines."""
    value = fields.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [line for line in value.split("\n") if line.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if len(value) > MAX_LIST:
            raise BadRequest(f"'{name}' has more than {MAX_LIST} items")
        return [v for v in value if v.strip()]
    raise BadRequest(f"'{name}' is a list of strings")


def _check_size(fields: dict) -> None:
    if not isinstance(fields, dict):
        raise BadRequest("the request body is a JSON object of the command line's fields")
    size = 0
    for value in fields.values():
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, list):
            size += sum(len(v) for v in value if isinstance(v, str))
        elif isinstance(value, dict):
            size += len(json.dumps(value))
    if size > MAX_TEXT:
        raise BadRequest(f"the problem is too long (more than {MAX_TEXT} characters)")


def _order(fields: dict):
    value = fields.get("order", 1)
    key = str(value).strip().lower()
    if key not in ORDERS:
        raise BadRequest(f"'order' is gradient (1), hessian (2) or hvp, not {value!r}")
    return ORDERS[key]


def _seed(fields: dict) -> int:
    seed = fields.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise BadRequest("'seed' is a whole number from 0 to 2³²−1")
    return seed


# -- the problem -------------------------------------------------------------
class Problem:
    """The fields read as a problem: the program lines in the CLI's order
    (``where``, then the file, then the editor's lines) and the objective.

    The editor's text ``f`` is a program when every line is a declaration or
    a definition (the objective is its last definition, or ``of``); else its
    last line is the objective expression and the lines above it are the
    program."""

    def __init__(self, fields: dict):
        _check_size(fields)
        self.f = _text(fields, "f") or _text(fields, "expr")
        self.where = _lines(fields, "where")
        self.file = _text(fields, "program")
        self.of = _text(fields, "of").strip() or None
        text = self.f.strip("\n")
        if not text.strip():
            if not self.file and not self.where:
                raise BadRequest("type an expression or a program to differentiate",
                                 {"field": "f", "line": 1, "column": 1})
            self.head, self.objective = "", self.of
            return
        lines = text.split("\n")
        try:
            surface = parse_program(text)
            self.head, self.objective = text, self.of or _last_definition(surface)
            return
        except ParseError as err:
            whole = err
        if STATEMENT.match(lines[-1]):  # "J = ..." or "x: (...)": a line of the program, not the objective
            raise self.bad(whole, "program")
        if len(lines) == 1:
            self.head, self.objective = "", text
            return
        head = "\n".join(lines[:-1])
        try:
            parse_program(head)
        except ParseError:
            raise self.bad(whole, "program") from None
        self.head, self.objective = head, lines[-1]

    def program(self):
        """The matcalc ``Program`` (a BadRequest located in its field)."""
        try:
            return Program(self.joined, objective=self.objective)
        except MatcalcError as err:
            raise self.bad(err) from None

    @property
    def joined(self) -> str:
        """The program text in the command line's order: where, file, editor."""
        return "\n".join(self.where + ([self.file] if self.file else []) + ([self.head] if self.head else []))

    def bad(self, err, source: str | None = None) -> BadRequest:
        """A MatcalcError as a BadRequest: its message with the caret, and its
        place: ``{"field": "f" | "where" | "program" | "of", "line", "column"}``
        (lines of that field, 1-based; the message counts lines the same way)."""
        place = self._place(err, source)
        if place is not None:
            field, err.line, err.source = place
            place = {"field": field, "line": err.line, "column": err.column}
        return BadRequest(f"{type(err).__name__}: {err}", place)

    def _place(self, err, source):
        """(field, line in it, its text) of an error, or None if unknown."""
        line = err.line
        if line is None or err.column is None or err.source is None:
            return None
        if source == "program":  # the editor's text, parsed whole
            return "f", line, err.source
        if err.source == self.joined and (self.where or self.file or self.head):
            where = sum(len(w.split("\n")) for w in self.where)
            file = len(self.file.split("\n")) if self.file else 0
            if line > where + file:
                return "f", line - where - file, self.head
            if line > where:
                return "program", line - where, self.file
            return "where", line, "\n".join(self.where)
        if self.objective is not None and err.source == self.objective:
            if self.objective == self.of:
                return "of", line, self.of
            offset = len(self.head.split("\n")) if self.head else 0
            return "f", line + offset, self.f.strip("\n")
        return None


def _last_definition(surface) -> str | None:
    return surface.definitions[-1].name if surface.definitions else None


def _wrt(fields: dict) -> list[str]:
    names = [w.strip() for item in _lines(fields, "wrt") for w in item.split(",") if w.strip()]
    if not names:
        raise BadRequest("say which variables to differentiate with respect to ('wrt', e.g. \"W\" or \"W,b1\")",
                         {"field": "wrt", "line": 1, "column": 1})
    return names


def _direction(program, fields: dict) -> str:
    """The HVP direction's name: given, else the first of v, u, d, v1, ...
    that the problem does not use."""
    given = _text(fields, "hvp").strip()
    if given:
        return given
    taken = set(program.shapes)
    for name in ["v", "u", "d"] + [f"v{i}" for i in range(1, 100)]:
        if name not in taken:
            return name
    raise BadRequest("no free name for the HVP direction: give one with 'hvp'")


def derived(fields: dict):
    """(Problem, Result) for the fields: derived and, unless ``check`` is
    false, checked."""
    problem = Problem(fields)
    wrt = _wrt(fields)
    order = _order(fields)
    layout = _text(fields, "layout", "numerator") or "numerator"
    wrt2 = _text(fields, "wrt2").strip() or None
    program = problem.program()
    try:
        hvp = _direction(program, fields) if order == "hvp" or _text(fields, "hvp").strip() else None
        result = program.derive(wrt, order=2 if order == 2 else 1, wrt2=wrt2, hvp=hvp, layout=layout)
        if fields.get("check", True) is not False:
            result.check(seed=_seed(fields))
    except MatcalcError as err:
        raise problem.bad(err) from None
    return problem, result


# -- the jobs ----------------------------------------------------------------
def derive_document(fields: dict) -> dict:
    """``POST /api/derive``: the ``--format json`` document (SPEC §6)."""
    problem, result = derived(fields)
    return json.loads(render_json(result.report(), input_text=problem.f))


def derive_view(fields: dict) -> dict:
    """What the page shows: the JSON document, the LaTeX of the derivation
    (its first row the ``read as`` line when a reading was decided) and of
    each ``--steps`` block, the objective as parsed, the text output and
    the LaTeX download."""
    problem, result = derived(fields)
    report = result.report()
    with result.program.rules.scope():  # a rule file's functions, in the LaTeX too
        full = render_latex(report, steps=True)
    main, steps = _latex_blocks(full)
    written = report.objective.written
    return {
        "document": json.loads(render_json(report, input_text=problem.f)),
        "objective": {"latex": to_latex(written), "text": to_text(written),
                      "shape": latex_shape(report.objective.shape),
                      "expression": problem.objective is not None
                      and problem.objective.strip() not in result.program.typed.definitions},
        "latex": main,
        "steps": steps,
        "text": render_text(report),
        "latex_document": full,
    }


def _latex_blocks(text: str) -> tuple[str, list[dict]]:
    """``render_latex``'s output cut at its ``%`` comment lines: the main
    ``align*`` block and each steps block with its title."""
    blocks: list[dict] = []
    title, body = None, []
    for line in text.split("\n"):
        if line.startswith("%"):
            if body:
                blocks.append({"title": title, "latex": "\n".join(body)})
            title, body = line.lstrip("% ").strip(), []
        else:
            body.append(line)
    if body:
        blocks.append({"title": title, "latex": "\n".join(body)})
    return blocks[0]["latex"], blocks[1:]


def check_verdict(fields: dict) -> dict:
    """``POST /api/check``: the verdict on ``answer`` (``Verdict.to_dict()``)."""
    problem = Problem(fields)
    answer = _text(fields, "answer")
    if not answer.strip():
        raise BadRequest("type the answer to check", {"field": "answer", "line": 1, "column": 1})
    wrt = _wrt(fields)
    if len(wrt) != 1:
        raise BadRequest("an answer is checked against one variable's gradient: give one 'wrt'",
                         {"field": "wrt", "line": 1, "column": 1})
    latex = fields.get("latex")
    if latex is not None and not isinstance(latex, bool):
        raise BadRequest("'latex' is true, false or null (detect)")
    draw = fields.get("draw") or {}
    if not isinstance(draw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in draw.items()):
        raise BadRequest("'draw' maps names to kinds, e.g. {\"X\": \"spd\"}")
    program = "\n".join(([problem.file] if problem.file else []) + ([problem.head] if problem.head else []))
    objective = problem.objective
    if objective is None:
        problem.program()  # says what is wrong
        raise BadRequest("nothing to differentiate: give an objective or a definition")
    homework = Homework(objective, wrt[0], tuple(problem.where), program, draw)
    try:
        verdict = check_answer(homework, answer, latex=latex, seed=_seed(fields))
    except MatcalcError as err:
        raise problem.bad(err) from None
    out = verdict.to_dict()
    out["answer_latex"] = _answer_latex(verdict.answer_text) if verdict.answer_text else ""
    return out


def _answer_latex(text: str) -> str:
    try:
        return to_latex(parse_expr(text))
    except MatcalcError:
        return ""


def preview(fields: dict) -> dict:
    """The answer as typeset math while it is typed: each statement (``;``
    or a new line between them) read as matcalc syntax or LaTeX."""
    _check_size(fields)
    answer = _text(fields, "answer")
    latex = fields.get("latex")
    parts = []
    for statement in split_statements(answer):
        name, sep, rest = statement.partition("=")
        if not sep or not name.strip().isidentifier():
            name, rest = "", statement
        try:
            read = latex is True or (latex is None and looks_like_latex(rest))
            text = latex_to_expr_text(rest) if read else rest
            body = to_latex(parse_expr(text))
        except MatcalcError as err:
            raise BadRequest(f"{type(err).__name__}: {err}", {"field": "answer", "line": 1,
                                                               "column": err.column}) from None
        parts.append(f"{name.strip()} = {body}" if name else body)
    return {"latex": r" ;\quad ".join(parts)}


JOBS = {"derive": derive_document, "view": derive_view, "check": check_verdict, "preview": preview}


def run(name: str, fields) -> list:
    """The worker's entry (``matcalc.faces.workers`` runs "matcalc.faces.web.jobs:run"):
    ``["ok", value]``, ``["bad", {"error", "position"}]`` for bad input, or
    ``["error", {...}]`` for a bug of ours."""
    try:
        return ["ok", JOBS[name](fields)]
    except BadRequest as err:
        return ["bad", err.to_dict()]
    except MatcalcError as err:
        return ["bad", {"error": f"{type(err).__name__}: {err}", "position": None}]
    except RecursionError:
        return ["bad", {"error": "LimitError: the input is nested too deeply", "position": None}]


def warm() -> None:
    """Load the parser, the rules and numpy before the first request."""
    derive_document({"f": "tr(A X B)", "wrt": "X", "check": False})
