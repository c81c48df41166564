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

from course_lib.problems import toy_regression as tr
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
    "train_many_schedules_sgd",
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
    for t in range(steps):
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        if t == 0:
            # No gradient: nothing moves, but torch sees the right order and does not warn.
            # Once is enough (torch checks only before the first scheduler.step(), and no
            # scheduler reads the parameters), and the step's bookkeeping was half the time here.
            optimizer.step()
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


def train_many_schedules_sgd(lr_rows, *, momentum: float = 0.0, batch_size: int = 32, seed: int = 0,
                             eval_every: int = 5, labels=None) -> list[ScheduledRun]:
    r""":func:`train_with_schedule` with torch's SGD for K lr sequences at once, without autograd.

    The fast path of the schedule explorer. The mini-batches and the initial model depend only
    on ``seed``, never on the schedule, so K runs that differ only in their lrs are K copies of
    notebook 02's 1-20-1 MLP stacked along a leading axis and stepped together, each at its own
    lr :math:`\eta^{(k)}_t`. The gradients are written out (one tanh layer, so backprop is four
    lines) and the arithmetic is float64 numpy: no autograd graph, no per-op torch dispatch.

    Model :math:`\hat y = w_2^\top \tanh(w_1 x + b_1) + b_2`; batch loss
    :math:`L_B = \frac1B\sum_i (\hat y_i - y_i)^2`; with :math:`r_i = 2(\hat y_i - y_i)/B`,
    :math:`h_i = \tanh(w_1 x_i + b_1)` and :math:`\delta_i = r_i\, w_2 \odot (1 - h_i^2)`:

    .. math::  \nabla_{w_2} = \sum_i r_i h_i,\quad \nabla_{b_2} = \sum_i r_i,\quad
               \nabla_{w_1} = \sum_i \delta_i x_i,\quad \nabla_{b_1} = \sum_i \delta_i.

    Update exactly as ``torch.optim.SGD(momentum=β)`` (no dampening): :math:`v_1 = g_1`, then
    :math:`v_t = \beta v_{t-1} + g_t`, and :math:`\theta_{t} = \theta_{t-1} - \eta_t v_t`.
    Each run stops (its record ends) where :func:`train_with_schedule` would stop it: at the first
    evaluation whose loss is inf/NaN or above :math:`10^6` times the initial loss. The results
    equal :func:`train_with_schedule`'s up to float32-vs-float64 rounding (tested).
    """
    rows = [np.asarray(r, dtype=float) for r in lr_rows]
    if not rows or any(r.ndim != 1 or len(r) == 0 or not np.all(r >= 0) for r in rows):
        raise ValueError("lr_rows must be one or more non-empty 1-D sequences of learning rates >= 0")
    steps = len(rows[0])
    if any(len(r) != steps for r in rows):
        raise ValueError("every lr sequence in lr_rows must have the same length")
    labels = [""] * len(rows) if labels is None else list(labels)
    if len(labels) != len(rows):
        raise ValueError(f"got {len(labels)} labels for {len(rows)} lr sequences")
    lrs = np.stack(rows)                                       # (K, T)
    x, y, batches, params = _toy_task_float64(seed, batch_size, steps)
    hidden = len(params[0])
    # All parameters of model k in one row theta[k] = (w1, b1, w2, b2): one momentum update and
    # one parameter update per step for every model; w1, b1, w2, b2 are views into it.
    theta = np.repeat(np.concatenate([params[0], params[1], params[2], [params[3]]])[None], len(rows), axis=0)
    w1, b1, w2, b2 = (theta[:, :hidden], theta[:, hidden:2 * hidden], theta[:, 2 * hidden:3 * hidden],
                      theta[:, 3 * hidden])
    velocity = None

    def full_loss():
        out = np.tanh(x[None, :, None] * w1[:, None, :] + b1[:, None, :]) @ w2[:, :, None]
        return np.mean((out[:, :, 0] + b2[:, None] - y[None]) ** 2, axis=1)   # (K,)

    evals = [(0, full_loss())]
    with np.errstate(all="ignore"):      # a diverging run overflows to inf/NaN; it is cut below
        for t in range(steps):
            xb, yb = x[batches[t]], y[batches[t]]                               # (B,)
            h = np.tanh(xb[None, :, None] * w1[:, None, :] + b1[:, None, :])    # (K,B,H)
            r = 2.0 * ((h @ w2[:, :, None])[:, :, 0] + b2[:, None] - yb[None]) / len(xb)  # (K,B)
            delta = r[:, :, None] * w2[:, None, :] * (1.0 - h * h)              # (K,B,H)
            grad = np.concatenate([np.einsum("kbh,b->kh", delta, xb), delta.sum(axis=1),
                                   np.einsum("kb,kbh->kh", r, h), r.sum(axis=1)[:, None]], axis=1)
            velocity = grad if velocity is None else momentum * velocity + grad
            theta -= lrs[:, t, None] * velocity          # in place: w1, b1, w2, b2 follow
            if (t + 1) % eval_every == 0 or t + 1 == steps:
                evals.append((t + 1, full_loss()))
    updates = np.array([u for u, _ in evals])
    losses = np.stack([l for _, l in evals], axis=1)           # (K, evaluations)
    runs = []
    for k in range(len(rows)):
        bad = ~np.isfinite(losses[k]) | (losses[k] > 1e6 * losses[k, 0])
        bad[0] = False                   # like train_with_schedule: the initial loss is never checked
        end = int(np.argmax(bad)) + 1 if bad.any() else len(updates)
        runs.append(ScheduledRun(labels[k], updates[:end].copy(), losses[k, :end].copy(), rows[k]))
    return runs


_TOY_TASK_CACHE: dict = {}


def _toy_task_float64(seed: int, batch_size: int, steps: int):
    """(x, y, batch index rows, (w1, b1, w2, b2)) of train_with_schedule's task, as float64 numpy."""
    key = (seed, batch_size, steps)
    if key not in _TOY_TASK_CACHE:
        x, y = tr.make_data(seed=seed)
        model = tr.make_mlp(seed=seed)
        n = len(x)
        epochs = math.ceil(steps / tr.updates_per_epoch(n, batch_size, drop_last=True))
        batches = tr.minibatch_indices(n, batch_size, epochs=epochs, seed=seed, drop_last=True)
        rows = np.stack([b.numpy() for _, b in zip(range(steps), batches)])
        first, last = model[0], model[2]
        params = tuple(p.detach().double().numpy().reshape(shape) for p, shape in
                       ((first.weight, -1), (first.bias, -1), (last.weight, -1), (last.bias, ())))
        _TOY_TASK_CACHE.clear()          # one task at a time: the panel uses one seed
        _TOY_TASK_CACHE[key] = (x.double().numpy()[:, 0], y.double().numpy()[:, 0], rows, params)
    return _TOY_TASK_CACHE[key]
