"""The engine: linearisation by the differential rules (``linearise``), shared
by reverse mode (``reverse``: δ terms and gradients) and forward mode
(``forward``: Jacobians and directional derivatives), and second derivatives
built on both (``derivatives``: the Jacobians, Hessians and Hessian-vector
products of a program)."""
