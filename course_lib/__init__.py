"""course_lib: the machinery behind the optimizer course, grouped by concern.

What is taught:

- ``course_lib.optim``        reference optimizers, numerically equal to ``torch.optim``
- ``course_lib.theory``       closed forms: rates, optimal settings, stability limits, schedules

What it is run on, and the runs:

- ``course_lib.problems``     2-D landscapes, the toy regression, sparse features, the digits
- ``course_lib.experiments``  trajectories, the optimizer race, schedule training, signal propagation

How it is shown, exercised and graded:

- ``course_lib.ui``           slider panels, the browser-drawn figure, the background trainer, plots
- ``course_lib.exercises``    checks, the exercise generator, ``make check``, the notebook runner
- ``course_lib.grade``        ``course-grade``: the sandboxed homework grader

A package imports only from the packages above it in this list (``docs/architecture.md``;
``tests/test_architecture.py`` enforces it).
"""

__version__ = "0.1.0"
