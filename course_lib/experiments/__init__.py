"""Runs and sweeps of the optimizers on the problems: trajectories on a landscape, notebook 10's
optimizer race, notebook 09's training under a schedule and LR range test, notebook 11's signal
propagation through depth. Imports only ``optim``, ``theory`` and ``problems``.
"""
