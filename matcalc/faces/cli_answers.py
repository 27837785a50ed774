"""The command line for homework: ``matcalc check`` and ``matcalc grade``.

    matcalc check "CE(y, softmax(x W + b))" --wrt W --answer "xᵀ (softmax(x W + b) − y)"
    matcalc check J -f tests/data/cs224n.mc --wrt W --answer "x^T delta2" \\
        --where "delta2 = (ŷ - y) Uᵀ ∘ step(z)"
    matcalc grade answers.csv --problems problems.toml --report report.csv --jobs 2

``check`` exits 0 when the answer is right, 1 when it is wrong (a verdict),
2 on bad input (a problem matcalc cannot read, or an answer that does not
parse).  ``cli.py`` wires these in with ``add_commands(subparsers)``.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..language.errors import MatcalcError

# `matcalc --help` and `matcalc derive` import this module: what only check
# and grade need (the parser and lark, answers and numpy, the worker pool) is
# imported inside the command that runs, which keeps those startups light.

CHECK_EPILOG = """examples:
  matcalc check "tr(A X B)" --wrt X --answer "A^T B^T"
  matcalc check J -f model.mc --wrt W --answer "x^T delta2" --where "delta2 = (yhat - y) U^T .* step(z)"
  matcalc check J -f model.mc --wrt W --answer '\\mathbf{x}^\\top \\delta_2' --allow delta2
  matcalc check "softmax(x)" --wrt x --answer "diag(softmax(x)) - softmax(x) softmax(x)^T"
  matcalc check "x^T A x" --wrt x --order 2 --answer "A + A^T"
  matcalc check J -f model.mc --wrt W --code hw1.py:grad_W
exit status: 0 right, 1 wrong, 2 bad input
"""
GRADE_EPILOG = """answers: CSV (header student,<problem id>,...) or JSONL ({"student": ..., "<id>": answer})
problems: JSON (list of {"id", "f", "wrt", "where", "draw"}) or TOML ([[problems]] tables); a problem may
  add order = 2 (a Hessian), layout, allow = ["delta2"], points, credit = { transpose = 0.5 } and
  [[problems.expect]] answer = "...", credit = 0.5, message = "..." (anticipated mistakes)
examples:
  matcalc grade answers.csv --problems problems.toml --report report.json --jobs 2
  matcalc grade submission.jsonl --problems problems.toml --report results.json --format gradescope
  matcalc grade answers.csv --problems hw1.toml --report grades.csv --format canvas
"""


def read_file(path: str | None) -> str:
    """The text of a file the user named (empty for none); a MatcalcError
    when it cannot be read."""
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as err:
        raise MatcalcError(f"cannot read {path}: {err.strerror}") from None


def add_commands(subparsers) -> None:
    """Add ``check`` and ``grade`` to the ``matcalc`` subcommands; each
    parser's ``handler`` default is its command function."""
    c = subparsers.add_parser("check", help="check a homework answer against the true gradient",
                              epilog=CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("expr", nargs="?", default=None,
                   help="the objective: an expression or a defined name (default: the last definition)")
    c.add_argument("--wrt", required=True, metavar="VAR", help="the variable of the gradient")
    c.add_argument("--answer", metavar="ANSWER",
                   help="the answer: matcalc syntax or LaTeX; helper lines may come first: 'd = ...; xᵀ d'")
    c.add_argument("--code", metavar="FILE.py:FUNC",
                   help="instead of --answer: a numpy function computing the derivative, called with the "
                        "problem's inputs as keyword arguments (in a separate process, with limits)")
    c.add_argument("--where", action="append", default=[], metavar="LINE",
                   help="a declaration or definition of the problem, or a helper the answer uses (repeatable)")
    c.add_argument("-f", "--file", metavar="FILE", help="a program file of the problem")
    c.add_argument("--draw", action="append", default=[], metavar="NAME=KIND",
                   help="how to sample a variable (spd, onehot, positive, ...), repeatable")
    c.add_argument("--order", type=int, choices=[1, 2], default=1,
                   help="1: the gradient (or the Jacobian of a vector objective); 2: the Hessian")
    c.add_argument("--layout", choices=["numerator", "denominator"], default="numerator",
                   help="the layout of a Jacobian or Hessian answer (default numerator)")
    c.add_argument("--allow", action="append", default=[], metavar="NAME",
                   help="let the answer use matcalc's intermediate NAME (delta2) without defining it; "
                        "comma list, repeatable")
    c.add_argument("--latex", action="store_true", default=None, help="read the answer as LaTeX")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--show-answer", action="store_true", help="print the right answer too")
    c.add_argument("--seed", type=int, default=0, help="seed of the random test points")
    c.set_defaults(handler=cmd_check)

    g = subparsers.add_parser("grade", help="grade a file of answers (CSV or JSONL) and write a report",
                              epilog=GRADE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("answers", help="the answers: .csv or .jsonl, one row per student")
    g.add_argument("--problems", required=True, metavar="FILE", help="the problems: .json or .toml")
    g.add_argument("--report", metavar="OUT", help="the report, .csv or .json (default: <answers>.report.csv)")
    g.add_argument("--format", choices=["csv", "json", "gradescope", "canvas"], default=None,
                   help="csv or json (rows with points and feedback), gradescope (one submission's "
                        "results.json), canvas (gradebook import CSV); default from OUT's suffix")
    g.add_argument("--assignment", metavar="NAME", default=None,
                   help="the assignment's column in a canvas report (default: the problems file's name)")
    g.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="check in N worker processes (0: one per core; at most the cores)")
    g.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="per answer (and per problem's derivation): past it the row reads "
                        "'could not judge: time limit' (default 20)")
    g.add_argument("--memory-limit", type=int, default=None, metavar="MB",
                   help="address space of each worker: past it the row reads 'could not judge: memory limit' "
                        "(default 1024; 0: none)")
    g.set_defaults(handler=cmd_grade)


def _objective(args, program: str) -> str:
    """The objective: given, else the last definition of the file (else of --where)."""
    if args.expr:
        return args.expr
    from ..language.parser import parse_program  # lark: only when check runs

    for text in (program, "\n".join(args.where)):
        definitions = parse_program(text).definitions if text.strip() else []
        if definitions:
            return definitions[-1].name
    raise MatcalcError("check: give the objective (an expression or the name of a definition)")


def _draws(items) -> dict:
    draws = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name.strip() or not kind.strip():
            raise MatcalcError(f"--draw {item}: write NAME=KIND, e.g. X=spd")
        draws[name.strip()] = kind.strip()
    return draws


def cmd_check(args) -> int:
    from .answers import Problem, check_answer  # the engine and numpy: only when check runs

    program = read_file(args.file)
    allow = [a.strip() for item in args.allow for a in item.split(",") if a.strip()]
    problem = Problem(_objective(args, program), args.wrt.strip(), tuple(args.where), program,
                      _draws(args.draw), order=args.order, layout=args.layout, allow=tuple(allow))
    if (args.answer is None) == (args.code is None):
        raise MatcalcError("check: give the answer with --answer TEXT or --code FILE.py:FUNC (one of them)")
    if args.code is not None:
        from .student_code import check_code  # only for --code

        verdict = check_code(problem, args.code, seed=args.seed)
    else:
        verdict = check_answer(problem, args.answer, latex=args.latex, seed=args.seed)
    if args.format == "json":
        print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    else:
        print(verdict_text(verdict, show_answer=args.show_answer))
    if verdict.correct:
        return 0
    if verdict.kind in ("unparsable", "empty"):
        if args.format == "text":
            print(f"matcalc: {verdict.diagnosis}", file=sys.stderr)
        return 2
    return 1


def verdict_text(verdict, show_answer: bool = False) -> str:
    """``right  xᵀ δ2 equals ∂J/∂W ...`` / ``wrong  (transpose) a layout mistake ...``."""
    lines = []
    if verdict.kind in ("unparsable", "empty"):
        lines.append("cannot check: " + verdict.diagnosis.splitlines()[0])
    elif verdict.correct:
        lines.append(f"right   {verdict.diagnosis}")
    else:
        lines.append(f"wrong   ({verdict.kind}) {verdict.diagnosis}")
    if verdict.answer_text and verdict.kind not in ("unparsable", "empty"):
        shape = f"   {verdict.answer_shape}" if verdict.answer_shape else ""
        lines.append(f"read as {verdict.answer_text}{shape}")
    if show_answer and not verdict.correct:
        lines.append(f"answer  {verdict.expected_text}   {verdict.expected_shape}")
    return "\n".join(lines)


def cmd_grade(args) -> int:
    from pathlib import Path  # (stdlib, but not yet loaded by --help)

    from .workers import Limits, usable_cores  # subprocess, threads: only when grade runs

    cores = usable_cores()
    jobs = args.jobs if args.jobs > 0 else cores
    if jobs > cores:
        print(f"matcalc: --jobs {jobs}: this machine has {cores} cores; using {cores}", file=sys.stderr)
        jobs = cores
    # answers and numpy: only when grade runs
    from .grading import (
        LIMITS,
        grade,
        input_files,
        load_problems,
        read_answers,
        refuse_overwriting,
        summarize,
        summary_text,
        terminal_progress,
        write_report,
    )

    seconds = LIMITS.seconds if args.time_limit is None else args.time_limit
    memory = LIMITS.memory_mb if args.memory_limit is None else args.memory_limit
    if not seconds > 0 or memory < 0:
        raise MatcalcError("--time-limit is a positive number of seconds, --memory-limit a number of MB (0: none)")
    limits = Limits(seconds=seconds, memory_mb=memory or None)
    problems = load_problems(args.problems)
    report = args.report or f"{args.answers}.report.csv"
    inputs = input_files(args.answers, args.problems, problems)
    for written in (report, f"{report}.feedback.csv"):  # (a canvas report writes its feedback beside it)
        refuse_overwriting(written, inputs)
    rows, errors, columns = read_answers(args.answers)
    for line, message in errors:
        print(f"matcalc: {args.answers}, line {line}: {message}", file=sys.stderr)
    records = grade(problems, rows, columns, jobs=jobs, progress=terminal_progress(), limits=limits,
                    warn=lambda m: print(f"matcalc: {m}", file=sys.stderr))
    summary = summarize(records, errors)

    assignment = args.assignment or Path(args.problems).stem
    written = write_report(report, records, errors, summary, fmt=args.format, assignment=assignment)
    print(summary_text(summary, " + ".join(str(w) for w in written)))
    return 0
