"""How the course is exercised: one checker per exercise (``exercises.checks``), the generator
that makes ``exercises/`` from ``solutions/`` (``generate``), ``make check`` (``make_check``), the
notebook runner, the check cells' verdict protocol and the scan of what an answer may use
(``answer_scan``, shared with the grader). Imports the subject, the problems and the experiments;
never ``ui`` or ``grade``.

This package imports none of its modules itself: ``python -m course_lib.exercises.generate``
must not load torch.
"""
