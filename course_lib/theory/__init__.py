"""Closed-form results of the course's optimizers: one module per method (``gradient_descent``,
``momentum``, ``nesterov``, ...), pure functions with the math in their docstrings, imported by
the notebooks, the panels and the checkers. Import the module you need; this package imports none
of them itself. Symbols follow docs/notation.md."""
