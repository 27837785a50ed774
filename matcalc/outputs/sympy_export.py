"""A derivation as SymPy matrix expressions: ``Result.to_sympy()`` and
``matcalc derive --format sympy``.

Dimensions become SymPy ``Symbol``s (integer, positive); a vector or matrix
becomes a ``MatrixSymbol`` of those dimensions, a scalar a ``Symbol``.  The δ
terms and the gradients are exported in the program's terms, as matcalc
prints them: a defined name (``ŷ``, ``h``) and a δ inside a later
expression are symbols of their own; ``SympyExport.inlined()`` substitutes
the δ's.

What SymPy can express, and so what is exported:

* sums, differences, scalar multiples, matrix products (``MatAdd``,
  ``MatMul``), ``Transpose``, ``Inverse``, matrix powers (``MatPow``),
  ``HadamardProduct``, ``HadamardPower`` (so ``A ./ B`` is
  ``A ∘ B^{∘-1}``), ``KroneckerProduct``, ``Trace``, ``Determinant``,
  ``log det``, ``diag`` (``DiagMatrix`` / ``DiagonalOf``), ``Identity``,
  ``OneMatrix``, ``ZeroMatrix``;
* numpy broadcasting written out with ``OneMatrix``: a row bias b added to
  an N×n matrix is ``OneMatrix(N, 1)*b``; a scalar s is ``s*OneMatrix(m, n)``;
* ``sum(A)`` as ``Trace(OneMatrix(1, m)*A*OneMatrix(n, 1))``, ``‖A‖`` as
  ``sqrt(Trace(A.T*A))``; a 1×1 matrix product that matcalc treats as a
  scalar (``xᵀ A x``) as the ``Trace`` of the 1×1 product;
* the elementwise functions SymPy has: exp, log, sqrt, sin, cos, tanh, abs
  (``Abs``), sgn (``sign``), applied to a matrix with
  ``ElementwiseApplyFunction`` (printed ``X.applyfunc(exp)``).

Left out, with a MatcalcError that names the function and the expression
it sits in: softmax, log_softmax, logsumexp, CE, sigmoid, softplus, relu,
step, max, min, vec, commutation, and functions added by rule files.  SymPy
has no matrix counterpart for these (softmax and logsumexp act row by row,
relu and step are piecewise).

SymPy is imported here only: ``import matcalc`` and ``matcalc derive`` do
not load it.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.str import StrPrinter

from ..language.errors import LimitError, MatcalcError
from ..language.expr import SCALAR, DimSize, Expr, Identity, Num, Ones, Op, Sym, Zero
from ..language.names import unicode_spelling
from ..language.printer import to_text

ELEMENTWISE = {"exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "sin": sympy.sin, "cos": sympy.cos,
               "tanh": sympy.tanh, "abs": sympy.Abs, "sgn": sympy.sign}
LEFT_OUT = ("softmax", "log_softmax", "logsumexp", "CE", "sigmoid", "softplus", "relu", "step",
            "max", "min", "vec", "commutation")


class SympyExportError(MatcalcError):
    """The expression uses something SymPy's matrix expressions cannot say."""


def python_name(name: str) -> str:
    """A name usable as a Python variable: ``lambda`` is ``lamda`` (SymPy's own
    spelling), other keywords get a trailing underscore."""
    if name == "lambda":
        return "lamda"
    return name + "_" if keyword.iskeyword(name) else name


@dataclass
class SympyExport:
    """δ terms, gradients (and Jacobians, Hessians) as SymPy expressions;
    ``symbols`` maps each
    Python name used (dimensions, variables, defined names) to its SymPy
    object.  ``str()`` is a Python script that rebuilds them."""

    objective: str
    symbols: dict = field(default_factory=dict)
    intermediates: dict = field(default_factory=dict)  # δ name (as matcalc spells it) -> expression
    gradients: dict = field(default_factory=dict)  # variable (as matcalc spells it) -> ∂J/∂variable
    derivatives: dict = field(default_factory=dict)  # "jacobian_x", "hessian_x", "hessian_x_y", "hvp_x_v"
    defined: list = field(default_factory=list)  # the program's defined names used, as symbols

    def inlined(self) -> dict:
        """The gradients with every δ replaced by its expression."""
        done: dict = {}
        for name, e in self.intermediates.items():
            done[self.symbols[python_name(name)]] = e.xreplace(done)
        return {w: g.xreplace(done) for w, g in self.gradients.items()}

    def source(self) -> str:
        """A Python script (``from sympy import *``) that declares the
        symbols and assigns each δ and gradient."""
        printer = _PythonPrinter()
        deltas = {python_name(n) for n in self.intermediates}
        dims = [n for n, s in self.symbols.items() if n not in deltas and s.is_Symbol and s.is_integer]
        lines = [f"# the δ terms and gradients of {self.objective}, as SymPy matrix expressions (matcalc)",
                 "from sympy import *", ""]
        if dims:
            lines.append(f"{', '.join(dims)} = symbols(\"{' '.join(dims)}\", integer=True, positive=True)"
                         if len(dims) > 1 else f"{dims[0]} = Symbol(\"{dims[0]}\", integer=True, positive=True)")
        for n, s in self.symbols.items():
            if n in deltas or n in dims:
                continue
            if isinstance(s, sympy.MatrixSymbol):
                rows, cols = (printer.doprint(d) for d in s.shape)
                lines.append(f"{n} = MatrixSymbol(\"{n}\", {rows}, {cols})")
            else:
                lines.append(f"{n} = Symbol(\"{n}\")")
        if self.defined:
            lines.append(f"# defined in the program, symbols here: {', '.join(map(python_name, self.defined))}")
        lines.append("")
        lines += [f"{python_name(n)} = {printer.doprint(e)}" for n, e in self.intermediates.items()]
        lines += [f"d{self.objective}_d{python_name(w)} = {printer.doprint(g)}" for w, g in self.gradients.items()]
        lines += [f"{python_name(k)} = {printer.doprint(e)}" for k, e in self.derivatives.items()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.source()


class _PythonPrinter(StrPrinter):
    """``str()`` of SymPy, adjusted so that every line is Python that
    rebuilds the expression (SymPy prints ``OneMatrix(1, n)*x`` as ``1*x``)."""

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Rational(self, expr):
        return f"Rational({expr.p}, {expr.q})"

    def _print_OneMatrix(self, expr):
        return f"OneMatrix({self._print(expr.shape[0])}, {self._print(expr.shape[1])})"

    def _print_ZeroMatrix(self, expr):
        return f"ZeroMatrix({self._print(expr.shape[0])}, {self._print(expr.shape[1])})"

    def _print_Identity(self, expr):
        return f"Identity({self._print(expr.shape[0])})"

    def _print_ElementwiseApplyFunction(self, expr):
        function = expr.function
        if isinstance(function, sympy.Lambda) and function.expr.args == tuple(function.variables):
            function = function.expr.func
        operand = self._print(expr.expr)
        if not isinstance(expr.expr, sympy.MatrixSymbol):
            operand = f"({operand})"
        return f"{operand}.applyfunc({self._print(function) if isinstance(function, sympy.Lambda) else function})"


def to_sympy(result) -> SympyExport:
    """The δ terms and gradients of ``result`` (a ``matcalc.faces.api.Result``).

    ``derive("tr(A X B)", wrt="X").to_sympy().gradients["X"]`` is
    ``A.T*B.T`` (``MatMul(Transpose(A), Transpose(B))``).
    """
    show = unicode_spelling
    shapes = {**result.shapes, **getattr(result, "directions", {})}
    translator = _Translator(shapes)
    for n in result.program.variables:  # declare the variables in the program's order
        translator.leaf(n, shapes[n])
    export = SympyExport(python_name(result.objective_name))
    for step in result.intermediates:
        export.intermediates[step.name] = translator.translate(step.expr, f"{show(step.name)} = ")
        translator.leaf(step.name, step.shape)
    for w, g in result.gradients.items():
        export.gradients[w] = translator.translate(g, f"∂{show(result.objective_name)}/∂{show(w)} = ")
    for d in getattr(result, "derivatives", []):
        key = "_".join([d.kind, d.wrt] + ([d.wrt2] if d.wrt2 else []))
        export.derivatives[key] = translator.translate(d.expr, f"the {d.kind} in {d.wrt}: ")
    export.symbols = dict(translator.symbols)
    export.defined = [n for n in result.program.typed.definitions if python_name(n) in export.symbols]
    return export


def sympy_source(result) -> str:
    """``--format sympy``: the Python script of ``to_sympy(result)``."""
    return to_sympy(result).source()


class _Translator:
    """matcalc nodes -> SymPy, sharing one symbol per name and dimension."""

    def __init__(self, shapes: dict):
        self.shapes = shapes
        self.symbols: dict = {}

    def dim(self, d):
        if isinstance(d, int):
            return sympy.Integer(d)
        value = sympy.Integer(1)
        for factor in str(d).split("*"):
            if factor.isdigit():
                value *= int(factor)
            else:
                name = python_name(factor)
                if name not in self.symbols:
                    self.symbols[name] = sympy.Symbol(name, integer=True, positive=True)
                value *= self.symbols[name]
        return value

    def shape(self, shape) -> tuple:
        return tuple(self.dim(d) for d in shape)

    def leaf(self, name: str, shape):
        key = python_name(name)
        if key not in self.symbols:
            self.symbols[key] = (sympy.Symbol(key) if shape == SCALAR
                                 else sympy.MatrixSymbol(key, *self.shape(shape)))
        return self.symbols[key]

    def translate(self, e: Expr, where: str):
        """SymPy for ``e``, iteratively (children first); ``where`` names the
        line for error messages."""
        done: dict = {}
        stack = [e]
        try:
            while stack:
                node = stack[-1]
                waiting = [c for c in node.children if id(c) not in done]
                if waiting:
                    stack.extend(waiting)
                    continue
                stack.pop()
                if id(node) not in done:
                    done[id(node)] = self.node(node, [done[id(c)] for c in node.children])
        except SympyExportError as err:
            raise SympyExportError(f"{err.message}, in {where}{to_text(e)}") from None
        except RecursionError:
            raise LimitError("the expression is nested too deeply for SymPy") from None
        return done[id(e)]

    def broadcast(self, value, shape, target):
        """``value`` (of matcalc shape ``shape``) spread to ``target`` the way
        numpy broadcasts: ones-matrix products, written out."""
        if shape == target or target == SCALAR:
            return value
        rows, cols = self.shape(target)
        if shape == SCALAR:
            return value * sympy.OneMatrix(rows, cols)
        if shape[0] == 1 and target[0] != 1:
            value = sympy.OneMatrix(rows, 1) * value
        if shape[1] == 1 and target[1] != 1:
            value = value * sympy.OneMatrix(1, cols)
        return value

    def node(self, e: Expr, args: list):
        if isinstance(e, Sym):
            return self.leaf(e.name, e.shape if e.shape is not None else self.shapes.get(e.name, SCALAR))
        if isinstance(e, DimSize):
            return self.dim(e.name)
        if isinstance(e, Num):
            return sympy.Rational(e.value.numerator, e.value.denominator)
        if isinstance(e, Identity):
            return sympy.Identity(self.dim(e.shape[0]))
        if isinstance(e, Ones):
            return sympy.OneMatrix(*self.shape(e.shape)) if e.shape != SCALAR else sympy.Integer(1)
        if isinstance(e, Zero):
            return sympy.ZeroMatrix(*self.shape(e.shape)) if e.shape != SCALAR else sympy.Integer(0)
        if not isinstance(e, Op):
            raise SympyExportError(f"SymPy export: no counterpart for {type(e).__name__}")
        return _scalar(self.operation(e, args), e.shape)

    def operation(self, e: Op, args: list):
        op, shapes = e.op, [a.shape for a in e.args]
        scalar = [s == SCALAR for s in shapes]
        if op == "add":
            a, b = (self.broadcast(x, s, e.shape) for x, s in zip(args, shapes))
            return a + b
        if op in ("matmul", "mul", "scale"):
            return args[0] * args[1]
        if op == "had":
            if scalar[0] or scalar[1]:
                return args[0] * args[1]
            a, b = (self.broadcast(x, s, e.shape) for x, s in zip(args, shapes))
            return sympy.HadamardProduct(a, b)
        if op == "div":
            if scalar[1]:
                return args[0] / args[1]
            reciprocal = sympy.HadamardPower(self.broadcast(args[1], shapes[1], e.shape), -1)
            if isinstance(e.args[0], Ones):
                return reciprocal
            if scalar[0]:
                return args[0] * reciprocal
            return sympy.HadamardProduct(self.broadcast(args[0], shapes[0], e.shape), reciprocal)
        if op in ("T", "tr", "det"):
            if scalar[0]:
                return args[0]
            return {"T": sympy.Transpose, "tr": sympy.Trace, "det": sympy.Determinant}[op](args[0])
        if op == "inv":
            return 1 / args[0] if scalar[0] else sympy.Inverse(args[0])
        if op == "logdet":
            return sympy.log(args[0] if scalar[0] else sympy.Determinant(args[0]))
        if op == "pow":
            return args[0] ** args[1] if scalar[0] else sympy.MatPow(args[0], args[1])
        if op == "epow":
            return args[0] ** args[1] if scalar[0] else sympy.HadamardPower(args[0], args[1])
        if op == "kron":
            return sympy.KroneckerProduct(args[0], args[1])
        if op == "sum":
            return args[0] if scalar[0] else self.sum_entries(args[0], shapes[0])
        if op == "norm":
            if scalar[0]:
                return sympy.Abs(args[0])
            a = args[0]
            return sympy.sqrt(sympy.Trace(a * a.T if shapes[0][0] == 1 else a.T * a))
        if op == "diag":
            if scalar[0]:
                return args[0]
            return sympy.DiagMatrix(args[0]) if 1 in shapes[0] else sympy.DiagonalOf(args[0])
        if op in ELEMENTWISE:
            f = ELEMENTWISE[op]
            return f(args[0]) if scalar[0] else ElementwiseApplyFunction(f, args[0])
        raise SympyExportError(
            f"SymPy export: SymPy's matrix expressions have no {op}; exported are the matrix algebra "
            f"(products, transposes, inverses, Hadamard, trace, det, kron), exp, log, sqrt, sin, cos, tanh, "
            f"abs, sgn; left out: {', '.join(LEFT_OUT)} and functions from rule files")

    def sum_entries(self, a, shape):
        rows, cols = self.shape(shape)
        if shape[0] != 1:
            a = sympy.OneMatrix(1, rows) * a
        if shape[1] != 1:
            a = a * sympy.OneMatrix(cols, 1)
        return a


def _scalar(value, shape):
    """A 1×1 matrix expression where matcalc has a scalar (``xᵀ A x``) is the
    trace of it: a SymPy scalar, so it can multiply a matrix."""
    if shape == SCALAR and isinstance(value, sympy.MatrixExpr):
        return sympy.Trace(value)
    return value
