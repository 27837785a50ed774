"""The language, the lowest layer: expression trees (``expr``), the grammar
and the parser (``syntax``, ``parser``, ``names``), the function table
(``functions``), the printers (``printer``: text and ASCII; ``latex_expr``:
LaTeX), LaTeX read back (``latex_input``), what an expression means in
numbers (``evaluate``, ``runtime``), the errors every layer raises, and the
cache of parsed grammar and rules.  Imports nothing else of matcalc."""
