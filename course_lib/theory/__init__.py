"""Closed-form results about the optimizers: rates, optimal learning rates, stability limits,
effective step sizes. One module per method (pure functions, math in the docstrings), imported by
notebooks, panels and checkers. This package imports none of its submodules.
"""
