"""Rewriting: the rule files read by the grammar (``reader``), the rule base
as a value (``rules``), the ``when`` predicates, the named algebra rewrites
(``algebra``) and the simplifier that runs them (``simplify``).  The
mathematics is in the rule files at the top of the repository; this layer is
the machinery."""
