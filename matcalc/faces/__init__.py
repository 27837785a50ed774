"""Faces, the top layer: what people use.  The Python API (``api``), the
command line (``cli``, ``cli_answers``), answer checking (``answers``,
``answer_hints``, ``answer_diagnosis``), grading a class (``grading``,
``rubric``, ``reports``, ``student_code``), jobs in worker processes under
limits (``workers``), and the web page (``web``)."""
