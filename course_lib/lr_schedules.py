r"""Notebook 09's machinery: torch's schedulers built from the same settings as the closed forms,
the LR range test, and training the toy regression task under a schedule.

The closed forms live in :mod:`course_lib.theory.schedules`; :func:`torch_scheduler` builds
the ``torch.optim.lr_scheduler`` object for the same name and settings, and
:func:`torch_lrs` records the lr it gives each optimizer step, so a test (and the schedule
explorer) can put the two side by side.

The LR range test (Smith 2017, "the LR finder"): start from a fresh model, take one optimizer
step per mini-batch while the lr grows geometrically from ``lr_min`` to ``lr_max``,

.. math::  \eta_k = \eta_{\min}\,(\eta_{\max}/\eta_{\min})^{k/(K-1)},\qquad k = 0,\dots,K-1,

and record the mini-batch loss *before* step :math:`k` (the loss of the parameters that
:math:`\eta_k` is about to move). Stop early once the loss exceeds ``stop_factor`` times the
smallest loss seen. A good lr lies where the loss still falls steeply, well below the lr at
the minimum of the curve (which is already at the edge of divergence).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from course_lib import toy_regression as tr
from course_lib.theory import schedules as closed

__all__ = [
    "torch_scheduler",
    "torch_lrs",
    "closed_form_lrs",
    "RangeTest",
    "lr_range_test",
    "suggest_lr",
    "toy_batches",
    "ScheduledRun",
    "train_with_schedule",
]


def torch_scheduler(name: str, optimizer: torch.optim.Optimizer, **settings):
    """The ``torch.optim.lr_scheduler`` object for a schedule name of :data:`closed.SCHEDULES`.

    ``settings`` are the closed form's keywords (``base_lr`` excepted: it is the optimizer's lr).
    """
    sched = torch.optim.lr_scheduler
    s = dict(settings)
    s.pop("base_lr", None)
    if name == "step":
        return sched.StepLR(optimizer, step_size=s["step_size"], gamma=s.get("gamma", 0.1))
    if name == "multistep":
        return sched.MultiStepLR(optimizer, milestones=list(s["milestones"]), gamma=s.get("gamma", 0.1))
    if name == "exponential":
        return sched.ExponentialLR(optimizer, gamma=s["gamma"])
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=s["T_max"], eta_min=s.get("eta_min", 0.0))
    if name == "warmup_cosine":
        warmup, total = s["warmup_steps"], s["total_steps"]
        return sched.SequentialLR(optimizer, [
            sched.LinearLR(optimizer, start_factor=s["start_factor"], end_factor=1.0, total_iters=warmup),
            sched.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=s.get("eta_min", 0.0)),
        ], milestones=[warmup])
    if name == "one_cycle":
        return sched.OneCycleLR(optimizer, max_lr=s["max_lr"], total_steps=s["total_steps"],
                                pct_start=s.get("pct_start", 0.3), div_factor=s.get("div_factor", 25.0),
                                final_div_factor=s.get("final_div_factor", 1e4),
                                anneal_strategy="cos", cycle_momentum=False)
    if name == "cyclic":
        return sched.CyclicLR(optimizer, base_lr=s["base_lr_cyclic"] if "base_lr_cyclic" in s else optimizer.param_groups[0]["lr"],
                              max_lr=s["max_lr"], step_size_up=s["step_size_up"],
                              step_size_down=s.get("step_size_down"), mode="triangular",
                              cycle_momentum=False)
    raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(closed.SCHEDULES)}")


def torch_lrs(name: str, steps: int, *, base_lr: float, **settings) -> list[float]:
    """The lr torch's scheduler gives optimizer steps 0 … ``steps``−1 (``scheduler.step()`` after each)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = torch_scheduler(name, optimizer, **settings)
    lrs = []
    for _ in range(steps):
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()      # no gradient: nothing moves, but torch sees the right order
        scheduler.step()
    return lrs


def closed_form_lrs(name: str, steps: int, *, base_lr: float, **settings) -> list[float]:
    """The same list from :mod:`course_lib.theory.schedules`' closed form."""
    schedule = closed.SCHEDULES[name]
    if name == "one_cycle":
        return closed.schedule_values(schedule, steps, **settings)
    return closed.schedule_values(schedule, steps, base_lr=base_lr, **settings)


# --------------------------------------------------------------------------------------------
# The LR range test
# --------------------------------------------------------------------------------------------


def lr_range_test(model: nn.Module, batches, *, lr_min: float, lr_max: float,
                  optimizer_cls: type[torch.optim.Optimizer] = torch.optim.SGD,
                  stop_factor: float = 4.0, loss_fn=nn.functional.mse_loss) -> tuple[list[float], list[float]]:
    r"""Run the LR range test on ``model`` (trained in place) and return ``(lrs, losses)``.

    One optimizer step per batch of ``batches`` (a list of ``(x, y)`` pairs, :math:`K` of them),
    step :math:`k` at :math:`\eta_k = \eta_{\min}(\eta_{\max}/\eta_{\min})^{k/(K-1)}` (set in
    every param group). ``losses[k]`` is the mean squared error of batch :math:`k` *before* step
    :math:`k`. The test stops after recording a loss that is not finite or is above
    ``stop_factor`` times the smallest loss recorded so far (the lr has passed the edge).
    ``loss_fn(output, target)`` is the batch loss (mean squared error unless given).
    """
    if not 0 < lr_min < lr_max:
        raise ValueError(f"need 0 < lr_min < lr_max, got {lr_min} and {lr_max}")
    batches = list(batches)
    if len(batches) < 2:
        raise ValueError(f"the range test needs at least 2 batches, got {len(batches)}")
    optimizer = optimizer_cls(model.parameters(), lr=lr_min)
    ratio = lr_max / lr_min
    lrs, losses = [], []
    best = math.inf
    for k, (x, y) in enumerate(batches):
        lr = lr_min * ratio ** (k / (len(batches) - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        lrs.append(lr)
        losses.append(loss.item())
        best = min(best, losses[-1])
        if not math.isfinite(losses[-1]) or losses[-1] > stop_factor * best:
            break
        loss.backward()
        optimizer.step()
    return lrs, losses


@dataclass
class RangeTest:
    """An LR range test's curve and the lr read from it.

    ``smoothed`` is the bias-corrected moving average of ``losses`` (β = ``smoothing``), as the
    curve is noisy batch to batch; ``lr_at_min`` is the lr at its minimum, ``suggested`` one
    tenth of it (the edge of divergence is near ``lr_at_min``; a tenth of it still makes fast
    progress with room to spare).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    lr_at_min: float
    suggested: float


def suggest_lr(lrs, losses, *, smoothing: float = 0.8, divisor: float = 10.0) -> RangeTest:
    """Smooth the range test's losses and pick ``lr_at_min / divisor``."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    average, smoothed = 0.0, []
    for k, loss in enumerate(losses, start=1):
        average = smoothing * average + (1 - smoothing) * loss
        smoothed.append(average / (1 - smoothing**k))  # bias correction, as Adam's m̂
    smoothed = np.array(smoothed)
    lr_at_min = float(lrs[int(np.argmin(smoothed))])
    return RangeTest(lrs, losses, smoothed, lr_at_min, lr_at_min / divisor)


def toy_batches(*, batch_size: int = 32, steps: int = 100, seed: int = 0, n: int = 1000):
    """``steps`` mini-batches ``(x, y)`` of the toy regression task, every sample once per epoch."""
    x, y = tr.make_data(n=n, seed=seed)
    epochs = math.ceil(steps / tr.updates_per_epoch(n, batch_size, drop_last=True))
    indices = tr.minibatch_indices(n, batch_size, epochs=epochs, seed=seed, drop_last=True)
    return [(x[i], y[i]) for i, _ in zip(indices, range(steps))]


# --------------------------------------------------------------------------------------------
# Training the toy regression task with one lr per step
# --------------------------------------------------------------------------------------------


@dataclass
class ScheduledRun:
    """Full-data losses of one run: ``losses[k]`` after ``updates[k]`` optimizer steps."""

    label: str
    updates: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray


def train_with_schedule(lrs, *, momentum: float = 0.0, batch_size: int = 32, seed: int = 0,
                        eval_every: int = 5, label: str = "", optimizer_cls=None,
                        **optimizer_kwargs) -> ScheduledRun:
    """Train notebook 02's 1-20-1 MLP, step ``t`` at lr ``lrs[t]``; record the full-data loss.

    ``optimizer_cls`` defaults to ``torch.optim.SGD(momentum=momentum)``. The lr is written into
    the param group before each step, exactly what a scheduler does between steps.
    """
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or len(lrs) == 0 or not np.all(lrs >= 0):
        raise ValueError("lrs must be a non-empty 1-D sequence of learning rates >= 0")
    x, y = tr.make_data(seed=seed)
    model = tr.make_mlp(seed=seed)
    if optimizer_cls is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=float(lrs[0]), momentum=momentum)
    else:
        optimizer = optimizer_cls(model.parameters(), lr=float(lrs[0]), **optimizer_kwargs)
    n = len(x)
    epochs = math.ceil(len(lrs) / tr.updates_per_epoch(n, batch_size, drop_last=True))
    batches = tr.minibatch_indices(n, batch_size, epochs=epochs, seed=seed, drop_last=True)
    updates, losses = [0], [tr.full_data_loss(model, x, y)]
    with tr.single_threaded():
        for t, batch in zip(range(len(lrs)), batches):
            optimizer.param_groups[0]["lr"] = float(lrs[t])
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
            if (t + 1) % eval_every == 0 or t + 1 == len(lrs):
                updates.append(t + 1)
                losses.append(tr.full_data_loss(model, x, y))
                if not math.isfinite(losses[-1]) or losses[-1] > 1e6 * losses[0]:
                    break
    return ScheduledRun(label, np.array(updates), np.array(losses), lrs)
