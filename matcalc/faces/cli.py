"""The command line: ``matcalc parse`` and ``matcalc derive`` (``check``, ``grade``
and ``serve`` live in cli_answers.py and web/command.py).

Bad input is a ``MatcalcError``: its message goes to stderr and the exit
status is 2 (1 for a failed numeric check).  No traceback reaches the user.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from ..language.errors import MatcalcError
from ..language.expr import Sym, format_shape
from ..language.printer import to_text
from ..version import __version__
from .cli_answers import add_commands, read_file
from .web.command import add_command as add_serve

EPILOG = """examples:
  matcalc derive "CE(y, softmax(relu(x W + b1) U + b2))" --wrt W
  matcalc derive J --wrt W,b1 --where "x: (1, D)" --where "z = x W + b1" --where "J = sum(relu(z))"
  matcalc derive -f model.mc --wrt W,U --format numpy
  matcalc parse "x W + b" --where "x: (1, D)"
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--where", action="append", default=[], metavar="LINE",
                   help='a declaration or definition, e.g. "x: (1, D)" or "h = relu(z)" (repeatable)')
    p.add_argument("-f", "--file", metavar="FILE", help="a program file of declarations and definitions")
    p.add_argument("--rules", action="append", default=[], metavar="FILE",
                   help="an extra rule file (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matcalc", description="Symbolic matrix calculus: closed-form gradients, checked numerically.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"matcalc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("parse", help="parse an expression and show its shapes")
    p.add_argument("expr", nargs="?", default=None, help="an expression (or a defined name)")
    _common(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--latex", action="store_true", default=None,
                   help="read the expression as LaTeX (default: detected)")

    d = sub.add_parser("derive", help="derive gradients", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("expr", nargs="?", default=None,
                   help="the objective: an expression, or the name of a definition (default: the last definition)")
    d.add_argument("--wrt", action="append", default=[], metavar="VARS",
                   help="variables to differentiate with respect to: a comma list (repeatable)")
    d.add_argument("--of", metavar="NAME", help="the definition to differentiate (instead of the last)")
    d.add_argument("--latex", action="store_true", default=None,
                   help="read the objective as LaTeX, e.g. \\mathbf{x}^\\top A \\mathbf{x} (default: detected)")
    _common(d)
    d.add_argument("--format", choices=["text", "json", "numpy", "jax", "torch", "latex", "sympy"], default="text",
                   help="text (default), json, numpy (a module with value, gradients and value_and_gradients), "
                        "jax or torch (the same module over jax.numpy or torch), latex (an align* block), "
                        "sympy (SymPy matrix expressions, as Python)")
    d.add_argument("--bold", action="store_true",
                   help="with --format latex: vectors and matrices in bold, as the CS224n notes")
    d.add_argument("--check", dest="check", action="store_true", default=True,
                   help="check the result numerically (the default)")
    d.add_argument("--no-check", dest="check", action="store_false", help="skip the numeric check")
    d.add_argument("--seed", type=int, default=0, help="seed of the numeric check's random inputs")
    d.add_argument("--ascii", action="store_true", help="ASCII spelling instead of unicode")
    d.add_argument("--order", type=int, choices=[1, 2], default=1,
                   help="2: the Hessian of a scalar objective (of vec X for a matrix X)")
    d.add_argument("--wrt2", metavar="VAR", help="mixed second derivative ∂²J/∂x∂VAR (implies --order 2)")
    d.add_argument("--hvp", metavar="V", help="the Hessian-vector product along a new input V, without the Hessian")
    d.add_argument("--layout", choices=["numerator", "denominator"], default="numerator",
                   help="Jacobian layout (default numerator: rows follow f, columns the variable)")
    d.add_argument("--steps", action="store_true",
                   help="show the derivation step by step: chain rule, rules used, shapes")
    add_commands(sub)  # matcalc check, matcalc grade
    add_serve(sub)  # matcalc serve
    return parser


def _rules(files):
    if not files:
        return None
    from ..rewriting.rules import load_rules  # the rule reader (lark) loads when rules are given

    return load_rules(files)


def cmd_parse(args) -> int:
    # the engine and the renderers load here, not at import: `matcalc --help` stays fast
    from ..outputs.render import shape_list
    from .api import Program

    if args.expr is None and not args.file and not args.where:
        raise MatcalcError("parse: give an expression")
    program = Program(read_file(args.file), where=args.where, objective=args.expr, rules=_rules(args.rules),
                      latex=args.latex)
    typed = program.typed
    expr = typed.objective
    shapes = program.shapes
    if args.format == "json":
        print(json.dumps({"expr": to_text(expr, unicode=False), "shape": shape_list(expr.shape),
                          "shapes": {n: shape_list(s) for n, s in shapes.items()}}, ensure_ascii=False))
        return 0
    print(f"expr     {to_text(expr)}")
    print(f"shape    {format_shape(expr.shape)}")
    print("shapes   " + "   ".join(f"{to_text_name(n)}: {format_shape(s)}" for n, s in shapes.items()))
    return 0


def to_text_name(name: str) -> str:
    return to_text(Sym(name))


def cmd_derive(args) -> int:
    # the engine and the renderers load here, not at import: `matcalc --help` stays fast
    from ..outputs.latex import render_latex
    from ..outputs.render import render_derivative_steps, render_json, render_steps_text, render_text
    from .api import Program

    wrt = [w for item in args.wrt for w in item.split(",") if w.strip()]
    if not wrt:
        raise MatcalcError("derive: say which variables with --wrt (e.g. --wrt W or --wrt W,b1)")
    objective = args.of or args.expr
    program = Program(read_file(args.file), where=args.where, objective=objective, rules=_rules(args.rules),
                      latex=args.latex if args.expr else False)
    result = program.derive(wrt, order=args.order, wrt2=args.wrt2, hvp=args.hvp, layout=args.layout)
    check = None
    if args.check:
        check = result.check(seed=args.seed)
    report = result.report()
    if args.format == "json":
        print(render_json(report, input_text=args.expr or ""))
    elif args.format in ("numpy", "jax", "torch"):
        print(result.numpy(args.format))
    elif args.format == "latex":
        print(render_latex(report, bold=args.bold, steps=args.steps))
    elif args.format == "sympy":
        from ..outputs.sympy_export import sympy_source  # sympy loads only for --format sympy

        print(sympy_source(result))
    else:
        print(render_text(report, unicode=not args.ascii))
        if args.steps:
            if report.gradients:
                print()
                print(render_steps_text(report, unicode=not args.ascii))
            if report.derivatives:
                print()
                print(render_derivative_steps(report, unicode=not args.ascii))
    if check is not None and check.status == "inconclusive":
        print("matcalc: the numeric check is inconclusive (see the check line): the result is not verified",
              file=sys.stderr)
        return 2
    if check is not None and not check.ok:
        print(f"matcalc: the numeric check FAILED (max rel err {check.max_rel_error:.2e}) at sizes "
              f"{', '.join(f'{k}={v}' for k, v in check.dims.items()) or 'as declared'}: "
              "the closed form disagrees with finite differences", file=sys.stderr)
        return 1
    return 0


# the optional extra that brings a package (the others are core dependencies)
EXTRAS = {"starlette": "[web]", "uvicorn": "[web]", "jax": "[jax]", "torch": "[torch]"}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if getattr(args, "handler", None):
            return args.handler(args)
        if args.command == "parse":
            return cmd_parse(args)
        return cmd_derive(args)
    except MatcalcError as err:
        print(f"matcalc: {type(err).__name__}: {err}", file=sys.stderr)
        return err.exit_status
    except RecursionError:
        print("matcalc: LimitError: the input is nested too deeply", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `matcalc ... | head`: the reader is gone, and so is our output
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except Exception as err:  # a bug of ours: say so plainly (MATCALC_DEBUG=1 shows the traceback)
        if os.environ.get("MATCALC_DEBUG"):
            raise
        missing = (getattr(err, "name", None) or "").split(".")[0] if isinstance(err, ModuleNotFoundError) else ""
        if missing and missing != "matcalc":  # not our bug: this Python lacks a package matcalc needs
            extra = EXTRAS.get(missing, "")
            print(f"matcalc: the package {missing} is not installed for this Python ({sys.executable}); "
                  f"install matcalc with what it needs, from the repository: pip install \".{extra}\"",
                  file=sys.stderr)
            return 3
        print(f"matcalc: internal error ({type(err).__name__}: {err}); this is a bug in matcalc, "
              "please report it with the command line (MATCALC_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
