r"""Notebook 05's synthetic sparse-feature regression, and an lr sweep that trains on it.

Each sample is a row of 0/1 indicators :math:`x \in \{0, 1\}^d` (think: which words occur in a
document). Feature :math:`j` is present with probability :math:`p_j`; the target is linear,
:math:`y = x^\top w^* + \sigma\,\xi` with :math:`w^*_j = \pm 1` and Gaussian noise :math:`\xi`.
The loss of weights :math:`w` on a mini-batch :math:`B` is the mean squared error

.. math::  \ell_B(w) = \frac{1}{2|B|} \sum_{i \in B} (x_i^\top w - y_i)^2, \qquad
    \nabla \ell_B(w) = \frac{1}{|B|} \sum_{i \in B} (x_i^\top w - y_i)\, x_i .

A feature that is absent from a sample gets a gradient of exactly 0 from it: a rare feature is
updated on only a fraction :math:`p_j` of the steps. With SGD every update moves it by the same
:math:`\eta\,\times` residual as a frequent one, and :math:`\eta` must be small enough for the
frequent features, so rare features learn slowly. Adagrad divides by the root of the *sum* of a
coordinate's squared gradients, which stays small for a rare feature: its few steps are large.

:func:`lr_sweep` trains one copy of the weights per learning rate (one parameter group each, so
the optimizer really is ``optimizer_cls`` with that ``lr``) on the same seeded sequence of
samples, and records every weight's error and the full-data loss at every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["SparseProblem", "sparse_problem", "dense_problem", "SweepResult", "lr_sweep",
           "SGD_LRS", "ADAGRAD_LRS", "RMSPROP_LRS"]

#: The learning-rate grids notebooks 05 and 06 sweep (and their tests): each optimizer's best lr
#: lies inside its grid on both problems, for every seed the tests try.
SGD_LRS = np.logspace(-2.5, 0.0, 9)
ADAGRAD_LRS = np.logspace(-1.5, 1.0, 9)
RMSPROP_LRS = np.logspace(-3.5, -1.0, 9)


@dataclass(frozen=True, eq=False)
class SparseProblem:
    """A regression data set: ``X`` (n, d) of 0/1 floats, ``y`` (n,), the true weights ``w_true``
    (d,), each feature's presence probability ``frequencies`` (d,) and a ``name``."""

    name: str
    X: torch.Tensor
    y: torch.Tensor
    w_true: torch.Tensor
    frequencies: np.ndarray

    def loss(self, weights) -> np.ndarray:
        r"""Full-data loss :math:`\tfrac{1}{2n}\lVert Xw - y\rVert^2` for ``weights`` of shape (d,)
        or (k, d) (one loss per row), from the moments :math:`A = X^\top X/n`, :math:`b = X^\top y/n`,
        :math:`c = y^\top y/n` as :math:`\tfrac12(w^\top A w - 2 b^\top w + c)`: a (d, d) product
        instead of an (n, d) one, which is what makes a per-step loss curve cheap."""
        weights = np.asarray(weights, dtype=np.float64)
        A, b, c = self._moments
        with np.errstate(all="ignore"):  # a diverged row gives inf, not a warning
            return 0.5 * (np.einsum("...i,ij,...j->...", weights, A, weights) - 2 * weights @ b + c)

    @property
    def _moments(self):
        cached = self.__dict__.get("_moments_cache")
        if cached is None:
            n = len(self.y)
            X, y = self.X.numpy(), self.y.numpy()
            cached = (X.T @ X / n, X.T @ y / n, float(y @ y) / n)
            object.__setattr__(self, "_moments_cache", cached)
        return cached

    @property
    def rare(self) -> np.ndarray:
        """Mask of the features rarer than the most frequent one (all False for a dense problem)."""
        return self.frequencies < self.frequencies.max()


def _make(name: str, frequencies, n_samples: int, noise: float, seed: int) -> SparseProblem:
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if frequencies.ndim != 1 or not np.all((frequencies > 0) & (frequencies <= 1)):
        raise ValueError(f"frequencies must be probabilities in (0, 1], got {frequencies}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    generator = torch.Generator().manual_seed(seed)
    d = len(frequencies)
    X = (torch.rand(n_samples, d, generator=generator, dtype=torch.float64)
         < torch.from_numpy(frequencies)).to(torch.float64)
    w_true = torch.where(torch.rand(d, generator=generator) < 0.5, -1.0, 1.0).to(torch.float64)
    y = X @ w_true + noise * torch.randn(n_samples, generator=generator, dtype=torch.float64)
    return SparseProblem(name, X, y, w_true, frequencies)


def sparse_problem(frequent: int = 10, rare: int = 10, *, p_frequent: float = 0.9,
                   p_rare: float = 0.01, n_samples: int = 2000, noise: float = 0.1,
                   seed: int = 0) -> SparseProblem:
    """``frequent`` features present in a fraction ``p_frequent`` of the samples and ``rare`` ones
    present in ``p_rare`` (by default 10 in 90 % and 10 in 1 %)."""
    frequencies = [p_frequent] * frequent + [p_rare] * rare
    return _make(f"sparse ({frequent} features at p={p_frequent:g}, {rare} at p={p_rare:g})",
                 frequencies, n_samples, noise, seed)


def dense_problem(features: int = 20, *, p: float = 0.5, n_samples: int = 2000,
                  noise: float = 0.1, seed: int = 0) -> SparseProblem:
    """Every feature equally frequent (``p``): no rare features for Adagrad to favour."""
    return _make(f"dense ({features} features at p={p:g})", [p] * features, n_samples, noise, seed)


@dataclass(eq=False)
class SweepResult:
    """One optimizer trained at several learning rates on the same samples.

    ``errors[t, i, j]`` is :math:`|w_j - w^*_j|` after step ``t`` (0 = the start, all weights 0)
    at ``lrs[i]``; ``losses[t, i]`` the full-data loss. A run whose weights stop being finite (or
    exceed 1e6) is marked in ``diverged`` and its later entries are ``inf``. ``optimizer`` and
    ``params`` are the trained optimizer and its parameters (one per lr), so its state can be read.
    """

    label: str
    lrs: np.ndarray
    errors: np.ndarray
    losses: np.ndarray
    diverged: np.ndarray
    optimizer: object = None
    params: list = None

    @property
    def best(self) -> int:
        """Index of the learning rate with the lowest final full-data loss."""
        final = np.where(self.diverged, np.inf, self.losses[-1])
        return int(np.argmin(final))

    @property
    def best_lr(self) -> float:
        return float(self.lrs[self.best])


def lr_sweep(problem: SparseProblem, optimizer_cls, lrs, *, steps: int = 600,
             batch_size: int = 1, seed: int = 1, label: str | None = None,
             **hyperparams) -> SweepResult:
    """Train ``optimizer_cls(lr=lr, **hyperparams)`` from zero weights for ``steps`` mini-batches
    of ``batch_size`` samples (drawn with a seeded generator, the same for every lr and every
    optimizer), once per ``lr`` in ``lrs``. Returns a :class:`SweepResult`."""
    lrs = np.atleast_1d(np.asarray(lrs, dtype=np.float64))
    if lrs.ndim != 1 or not np.all(lrs > 0):
        raise ValueError(f"lrs must be positive learning rates, got {lrs}")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    X, y = problem.X, problem.y
    d = X.shape[1]
    params = [torch.zeros(d, dtype=torch.float64, requires_grad=True) for _ in lrs]
    optimizer = optimizer_cls([{"params": [p], "lr": float(lr)} for p, lr in zip(params, lrs)],
                              **hyperparams)
    generator = torch.Generator().manual_seed(seed)
    batches = torch.randint(0, len(X), (steps, batch_size), generator=generator)
    weights = torch.zeros(len(lrs), d, dtype=torch.float64)
    errors = np.empty((steps + 1, len(lrs), d))
    losses = np.empty((steps + 1, len(lrs)))
    errors[0] = (weights - problem.w_true).abs().numpy()
    losses[0] = problem.loss(weights.numpy())
    diverged = np.zeros(len(lrs), dtype=bool)
    for t in range(steps):
        X_batch, y_batch = X[batches[t]], y[batches[t]]
        residual = X_batch @ weights.T - y_batch[:, None]          # (B, k)
        gradients = (residual.T @ X_batch) / batch_size             # (k, d): one row per lr
        for param, gradient in zip(params, gradients):
            param.grad = gradient.clone()
        optimizer.step()
        with torch.no_grad():
            weights = torch.stack([p.detach() for p in params])
        bad = ~torch.isfinite(weights).all(1) | (weights.abs() > 1e6).any(1)
        diverged |= bad.numpy()
        if diverged.any():
            # a diverged copy stays at zero from here on, so it cannot poison the others' arithmetic
            for index in np.flatnonzero(diverged):
                with torch.no_grad():
                    params[index].zero_()
                weights[index] = 0.0
        errors[t + 1] = (weights - problem.w_true).abs().numpy()
        losses[t + 1] = problem.loss(weights.numpy())
        errors[t + 1][diverged] = math.inf
        losses[t + 1][diverged] = math.inf
    name = label or getattr(optimizer_cls, "__name__", str(optimizer_cls))
    return SweepResult(name, lrs, errors, losses, diverged, optimizer, params)
