r"""Measurements for the *predict, then measure* exercises: the truth found by running torch.

A prediction exercise compares the learner's derived number with what the optimizer really
does. Everything here finds that number by running ``torch.optim.SGD``, never by the formula
the learner is asked for, so a wrong theory (theirs or ours) shows up as a failing test.

Largest stable learning rates are found on a grid of learning rates that all run at once:
``k`` independent copies of the parameters form the rows of one tensor ``W`` (shape
``(k, d)``), and row ``j``'s loss is multiplied by its learning rate :math:`\eta_j` before
``backward()``. One ``torch.optim.SGD(lr=1)`` step then moves row ``j`` by
:math:`-1\cdot\eta_j\nabla L_j`, exactly plain SGD at :math:`\eta_j`; with momentum the buffer
of row ``j`` becomes :math:`\eta_j b_j`, so the step :math:`\eta_j(g_j + \beta b_j)` (Nesterov)
or :math:`\eta_j b_j` (heavy ball) is again exactly torch's at :math:`\eta_j`. Two passes: a
coarse grid over twelve decades brackets the limit, a fine grid (steps 1.45 % apart) run
longer locates it. A run *diverged* when its final loss is not finite or is above its
starting loss; below the limit the excess loss only shrinks, above it the unstable direction
grows geometrically, so the measured limit is within a few percent of the true one (slightly
above: a run just past the limit grows too slowly to notice).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

# The learning rates tried first (log-spaced); the limit must lie inside.
COARSE_RANGE = (1e-6, 1e6)
COARSE_POINTS = 49   # 4 per decade: neighbours are 1.78x apart
COARSE_RATIO = 10 ** (12 / (COARSE_POINTS - 1))
FINE_POINTS = 81     # over two coarse intervals below the first diverged lr: 1.45 % apart


def largest_stable_lr(run: Callable[[torch.Tensor, int], torch.Tensor], *, coarse_steps: int,
                      fine_steps: int) -> float:
    """The largest learning rate at which ``run`` does not diverge, bracketed on two grids.

    ``run(lrs, steps)`` runs one copy of the optimizer per learning rate in ``lrs`` for
    ``steps`` (epochs, updates: the caller's unit) and returns a bool tensor, True where that
    run diverged. Returns the geometric midpoint of the last stable and the first diverged
    learning rate of the fine grid.
    """
    from course_lib.problems.toy_regression import single_threaded

    with single_threaded():  # tiny tensors: threads only add overhead (and fight under load)
        return _largest_stable_lr(run, coarse_steps, fine_steps)


def _largest_stable_lr(run, coarse_steps: int, fine_steps: int) -> float:
    lo, hi = COARSE_RANGE
    coarse = torch.logspace(math.log10(lo), math.log10(hi), COARSE_POINTS, dtype=torch.float64)
    stable_below, diverged_at = _bracket(coarse, run(coarse, coarse_steps))
    # A short run can miss a slow divergence: the fine grid reaches one coarse step further
    # down, and moves down again in the rare case that every one of its runs diverged.
    for _ in range(4):
        low = stable_below / COARSE_RATIO
        fine = torch.logspace(math.log10(low), math.log10(diverged_at), FINE_POINTS,
                              dtype=torch.float64)
        diverged = run(fine, fine_steps)
        if not bool(diverged[0]):
            stable_below, diverged_at = _bracket(fine, diverged)
            return math.sqrt(stable_below * diverged_at)
        stable_below, diverged_at = low, low
    raise RuntimeError("every run diverged on the fine grid")


def _bracket(lrs: torch.Tensor, diverged: torch.Tensor) -> tuple[float, float]:
    """(last stable lr before the first diverged one, the first diverged one)."""
    if not bool(diverged.any()):
        raise RuntimeError(f"no run diverged up to lr = {lrs[-1].item():g}: the measurement's "
                           "range is too small for this case")
    first = int(diverged.nonzero()[0])
    if first == 0:
        raise RuntimeError(f"every run diverged, even at lr = {lrs[0].item():g}")
    return lrs[first - 1].item(), lrs[first].item()


# --------------------------------------------------------------------------------------------
# Mini-batch SGD on least squares (exercises 1.2 and 2.4)
# --------------------------------------------------------------------------------------------


def sgd_least_squares_diverges(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                               *, seed: int = 0) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``run(lrs, epochs)`` for :func:`largest_stable_lr`: mini-batch SGD on the linear model
    ``x @ w`` with ``torch.nn.functional.mse_loss``'s loss (the mean over the batch of the
    squared error), batches from ``course_lib.problems.toy_regression.minibatch_indices`` (``seed``),
    every copy started from the same random ``w``."""
    from course_lib.problems.toy_regression import minibatch_indices

    x = x.detach().to(torch.float64)
    y = y.detach().to(torch.float64).reshape(-1)
    n, d = x.shape
    start = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    start = 3.0 * (1.0 + y.abs().max()) * start  # far from the solution in every direction

    def full_loss(weights: torch.Tensor) -> torch.Tensor:
        return ((x @ weights.T - y[:, None]) ** 2).mean(0)

    def run(lrs: torch.Tensor, epochs: int) -> torch.Tensor:
        weights = start.repeat(len(lrs), 1).requires_grad_(True)
        optimizer = torch.optim.SGD([weights], lr=1.0)
        with torch.no_grad():
            initial = full_loss(weights)
        for batch in minibatch_indices(n, batch_size, epochs=epochs, seed=seed):
            optimizer.zero_grad()
            residuals = x[batch] @ weights.T - y[batch][:, None]       # (B, k)
            per_lr_loss = (residuals ** 2).mean(0)                      # mse_loss of each copy
            (lrs * per_lr_loss).sum().backward()                        # row j sees η_j·∇L
            optimizer.step()
        with torch.no_grad():
            final = full_loss(weights)
        return ~torch.isfinite(final) | (final > initial)

    return run


def measured_largest_stable_lr_sgd(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """The largest lr at which mini-batch SGD on ``mse_loss(x @ w, y)`` converges, measured."""
    run = sgd_least_squares_diverges(x, y, batch_size)
    return largest_stable_lr(run, coarse_steps=30, fine_steps=200)


# --------------------------------------------------------------------------------------------
# Momentum on a quadratic (exercise 4.5)
# --------------------------------------------------------------------------------------------


def measured_largest_stable_lr_momentum(curvatures: torch.Tensor, momentum: float, *,
                                        nesterov: bool) -> float:
    """The largest lr at which ``torch.optim.SGD(momentum=..., nesterov=...)`` converges on
    :math:`f(\\theta) = \\tfrac12\\sum_i h_i\\theta_i^2`, measured by running it."""
    curvatures = curvatures.to(torch.float64)
    start = torch.ones(len(curvatures), dtype=torch.float64)

    def loss(weights: torch.Tensor) -> torch.Tensor:
        return 0.5 * (curvatures * weights ** 2).sum(1)

    def run(lrs: torch.Tensor, steps: int) -> torch.Tensor:
        weights = start.repeat(len(lrs), 1).requires_grad_(True)
        optimizer = torch.optim.SGD([weights], lr=1.0, momentum=momentum,
                                    nesterov=nesterov and momentum > 0)  # β = 0: plain GD
        with torch.no_grad():
            initial = loss(weights)
        for _ in range(steps):
            optimizer.zero_grad()
            (lrs * loss(weights)).sum().backward()
            optimizer.step()
        with torch.no_grad():
            final = loss(weights)
        return ~torch.isfinite(final) | (final > initial)

    return largest_stable_lr(run, coarse_steps=100, fine_steps=2000)
