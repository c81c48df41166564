"""Closed-form results (rates, optimal learning rates, stability limits, schedules) as pure functions.

One module per method; notebooks, panels and checkers import the module they need. This package
imports none of them itself.
"""
