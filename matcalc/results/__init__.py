"""Results: what a derivation shows, decided once (``report``), the names it
gives to values (``naming``, ``sharing``), the steps of ``--steps``
(``steps``), and the numeric check: valid random points (``sampling``),
gradients against finite differences (``check``), Jacobians, Hessians and
HVPs (``check_higher``), a result's check as one verdict
(``result_check``)."""
