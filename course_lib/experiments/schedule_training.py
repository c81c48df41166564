r"""Notebook 09's machinery: torch's schedulers built from the same settings as the closed forms,
the LR range test, and training the toy regression task under a schedule.

The closed forms live in :mod:`course_lib.theory.schedules`; :func:`torch_scheduler` builds
the ``torch.optim.lr_scheduler`` object for the same name and settings, and
:func:`torch_lrs` records the lr it gives each optimizer step, so a test (and the schedule
explorer) can put the two side by side.

The LR range test in fastai's form (its "LR finder"; Smith 2017 ramped the lr linearly and read
the accuracy): start from a fresh model, take one optimizer step per mini-batch while the lr
grows geometrically from ``lr_min`` to ``lr_max``,

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
    "torch_lrs_restarts",
    "torch_lrs_one_cycle_three_phase",
    "RangeTest",
    "lr_range_test",
    "suggest_lr",
    "toy_batches",
    "ScheduledRun",
    "train_with_schedule",
    "train_many_schedules_sgd",
    "train_schedules_over_seeds",
    "count_seeds",
    "sharpness_along_run",
    "momentum_forms_final_loss",
    "adam_update_ratios",
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


def _record_lrs(optimizer, scheduler, steps: int) -> list[float]:
    lrs = []
    for t in range(steps):
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        if t == 0:
            optimizer.step()     # no gradient: nothing moves; torch sees the right order
        scheduler.step()
    return lrs


def torch_lrs_restarts(steps: int, *, base_lr: float, T_0: int, T_mult: int = 1,
                       eta_min: float = 0.0) -> list[float]:
    """The lr ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` gives steps 0 … ``steps``−1."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=T_0, T_mult=T_mult,
                                                                     eta_min=eta_min)
    return _record_lrs(optimizer, scheduler, steps)


def torch_lrs_one_cycle_three_phase(steps: int, *, max_lr: float, pct_start: float = 0.3,
                                    div_factor: float = 25.0, final_div_factor: float = 1e4) -> list[float]:
    """The lr of ``OneCycleLR(three_phase=True, anneal_strategy="linear")`` (Smith & Topin's shape:
    a linear rise, a symmetric linear fall back to the start, then a final drop), steps 0 … ``steps``−1."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=steps, pct_start=pct_start, div_factor=div_factor,
        final_div_factor=final_div_factor, three_phase=True, anneal_strategy="linear",
        cycle_momentum=False)
    return _record_lrs(optimizer, scheduler, steps)


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
    rows, steps = _lr_rows(lr_rows)
    labels = [""] * len(rows) if labels is None else list(labels)
    if len(labels) != len(rows):
        raise ValueError(f"got {len(labels)} labels for {len(rows)} lr sequences")
    x, y, batches, params = _toy_task_float64(seed, batch_size, steps)
    theta = np.concatenate([params[0], params[1], params[2], [params[3]]])[None]
    # One task shared by the K runs: x, y and the batches have a leading axis of 1 that
    # broadcasts against the K models.
    updates, losses = _train_stacked(x[None], y[None], batches[None], theta, np.stack(rows),
                                     momentum=momentum, eval_every=eval_every)
    return [_scheduled_run(labels[k], updates, losses[k], rows[k]) for k in range(len(rows))]


def _lr_rows(lr_rows) -> tuple[list[np.ndarray], int]:
    """``lr_rows`` as float arrays, and their common length; a clear error for bad rows."""
    rows = [np.asarray(r, dtype=float) for r in lr_rows]
    if not rows or any(r.ndim != 1 or len(r) == 0 or not np.all(r >= 0) for r in rows):
        raise ValueError("lr_rows must be one or more non-empty 1-D sequences of learning rates >= 0")
    steps = len(rows[0])
    if any(len(r) != steps for r in rows):
        raise ValueError("every lr sequence in lr_rows must have the same length")
    return rows, steps


def _train_stacked(x, y, batches, theta, lrs, *, momentum: float, eval_every: int):
    """Step M stacked copies of the 1-20-1 MLP with SGD(momentum); ``(updates, losses (M, E))``.

    ``x``, ``y``: (D, n) data and ``batches``: (D, T, B) index rows, where D is 1 (one task for
    every model) or M (model m trains on task m); ``theta``: (D or M, 3H + 1) initial
    parameters (w1, b1, w2, b2), copied to (M, 3H + 1); ``lrs``: (M, T).
    """
    M = len(lrs)
    theta = np.array(np.broadcast_to(theta, (M, theta.shape[1])))
    hidden = (theta.shape[1] - 1) // 3
    # All parameters of model m in one row theta[m]: one momentum update and one parameter
    # update per step for every model; w1, b1, w2, b2 are views into it.
    w1, b1, w2, b2 = (theta[:, :hidden], theta[:, hidden:2 * hidden], theta[:, 2 * hidden:3 * hidden],
                      theta[:, 3 * hidden])
    tasks = np.arange(len(x))[:, None]
    velocity = None

    def full_loss():
        out = np.tanh(x[:, :, None] * w1[:, None, :] + b1[:, None, :]) @ w2[:, :, None]
        return np.mean((out[:, :, 0] + b2[:, None] - y) ** 2, axis=1)     # (M,)

    evals = [(0, full_loss())]
    with np.errstate(all="ignore"):      # a diverging run overflows to inf/NaN; it is cut later
        for t in range(lrs.shape[1]):
            xb, yb = x[tasks, batches[:, t]], y[tasks, batches[:, t]]       # (D, B)
            h = np.tanh(xb[:, :, None] * w1[:, None, :] + b1[:, None, :])    # (M, B, H)
            r = 2.0 * ((h @ w2[:, :, None])[:, :, 0] + b2[:, None] - yb) / xb.shape[1]  # (M, B)
            delta = r[:, :, None] * w2[:, None, :] * (1.0 - h * h)           # (M, B, H)
            # One shared batch: the contraction over b is a matrix product (BLAS), 1.3x faster.
            grad_w1 = (np.einsum("mbh,b->mh", delta, xb[0]) if len(xb) == 1
                       else np.einsum("mbh,mb->mh", delta, xb))
            grad = np.concatenate([grad_w1, delta.sum(axis=1),
                                   np.einsum("mb,mbh->mh", r, h), r.sum(axis=1)[:, None]], axis=1)
            velocity = grad if velocity is None else momentum * velocity + grad
            theta -= lrs[:, t, None] * velocity          # in place: w1, b1, w2, b2 follow
            if (t + 1) % eval_every == 0 or t + 1 == lrs.shape[1]:
                evals.append((t + 1, full_loss()))
    return np.array([u for u, _ in evals]), np.stack([l for _, l in evals], axis=1)


def _scheduled_run(label: str, updates, losses, lrs) -> ScheduledRun:
    """The record :func:`train_with_schedule` would keep: it stops at the first evaluation whose
    loss is inf/NaN or above 10⁶ times the initial loss (the initial loss is never checked)."""
    bad = ~np.isfinite(losses) | (losses > 1e6 * losses[0])
    bad[0] = False
    end = int(np.argmax(bad)) + 1 if bad.any() else len(updates)
    return ScheduledRun(label, updates[:end].copy(), losses[:end].copy(), lrs)


def train_schedules_over_seeds(lr_rows, seeds, *, momentum: float = 0.9, batch_size: int = 32,
                               eval_every: int = 10) -> list[list[ScheduledRun]]:
    r""":func:`train_many_schedules_sgd` for every seed of ``seeds`` in one stacked pass.

    ``runs[i][k]`` is the run of lr sequence ``lr_rows[k]`` on seed ``seeds[i]`` (its data, its
    mini-batches and its initial model), the same training as
    ``train_many_schedules_sgd(lr_rows, seed=seeds[i])`` (tested). Stacking the seeds as well
    as the schedules costs about as much as one seed: notebook 09 uses it to count on how many
    seeds a claim holds within the lecture's time budget.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    rows, steps = _lr_rows(lr_rows)
    K = len(rows)
    tasks = [_toy_task_float64(seed, batch_size, steps, keep=True) for seed in seeds]
    lrs = np.tile(np.stack(rows), (len(seeds), 1))                    # (S*K, T), seed-major
    x = np.repeat(np.stack([t[0] for t in tasks]), K, axis=0)         # (S*K, n)
    y = np.repeat(np.stack([t[1] for t in tasks]), K, axis=0)
    batches = np.repeat(np.stack([t[2] for t in tasks]), K, axis=0)   # (S*K, T, B)
    theta = np.repeat(np.stack([np.concatenate([p[0], p[1], p[2], [p[3]]]) for _, _, _, p in tasks]),
                      K, axis=0)
    updates, losses = _train_stacked(x, y, batches, theta, lrs, momentum=momentum, eval_every=eval_every)
    return [[_scheduled_run(f"seed {seed}", updates, losses[i * K + k], rows[k]) for k in range(K)]
            for i, seed in enumerate(seeds)]


def count_seeds(predicate, runs_per_seed) -> int:
    """How many seeds' runs satisfy ``predicate(run)`` (a list of runs, one per seed)."""
    return sum(bool(predicate(run)) for run in runs_per_seed)


_TOY_TASK_CACHE: dict = {}
_TOY_TASK_KEPT: dict = {}


def _toy_task_float64(seed: int, batch_size: int, steps: int, keep: bool = False):
    """(x, y, batch index rows, (w1, b1, w2, b2)) of train_with_schedule's task, as float64 numpy.

    ``keep=True`` (several seeds at once) keeps every task built in a second, bounded cache.
    """
    key = (seed, batch_size, steps)
    if keep:
        if key not in _TOY_TASK_KEPT:
            if len(_TOY_TASK_KEPT) > 64:
                _TOY_TASK_KEPT.clear()
            _TOY_TASK_KEPT[key] = _toy_task_float64(seed, batch_size, steps)
        return _TOY_TASK_KEPT[key]
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


# --------------------------------------------------------------------------------------------
# Notebook 09's checks of three mechanisms: sharpness, momentum forms, Adam's early steps
# --------------------------------------------------------------------------------------------


def sharpness_along_run(lrs, *, at_steps, momentum: float = 0.9, batch_size: int = 32,
                        seed: int = 0) -> dict[int, float]:
    """:func:`~course_lib.problems.toy_regression.sharpness` of notebook 02's MLP after each step count in ``at_steps``
    of SGD (torch's, with ``momentum``) at lr ``lrs[t]`` for step t (0 included: the init)."""
    x, y = tr.make_data(seed=seed)
    model = tr.make_mlp(seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=float(lrs[0]), momentum=momentum)
    at_steps = sorted(set(int(t) for t in at_steps))
    found = {}
    epochs = math.ceil(max(at_steps + [1]) / tr.updates_per_epoch(len(x), batch_size, drop_last=True))
    batches = tr.minibatch_indices(len(x), batch_size, epochs=epochs, seed=seed, drop_last=True)
    with tr.single_threaded():
        for t, batch in zip(range(max(at_steps) + 1), batches):
            if t in at_steps:
                found[t] = tr.sharpness(model, x, y)
            if t == max(at_steps):
                break
            optimizer.param_groups[0]["lr"] = float(lrs[t])
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return found


def momentum_forms_final_loss(lrs, *, momentum: float = 0.9, batch_size: int = 32,
                              seed: int = 0) -> tuple[float, float]:
    r"""Final full-data loss of notebook 02's MLP trained at lr ``lrs[t]`` for step t with
    torch's SGD momentum (:math:`b_t = \beta b_{t-1} + g_t`, :math:`\theta_t = \theta_{t-1} -
    \eta_t b_t`) and with the velocity form (:math:`v_t = \beta v_{t-1} - \eta_t g_t`,
    :math:`\theta_t = \theta_{t-1} + v_t`), on the same mini-batches: ``(torch, velocity)``."""
    x, y = tr.make_data(seed=seed)
    finals = []
    for form in ("torch", "velocity"):
        model = tr.make_mlp(seed=seed)
        params = list(model.parameters())
        state = [torch.zeros_like(p) for p in params]
        epochs = math.ceil(len(lrs) / tr.updates_per_epoch(len(x), batch_size, drop_last=True))
        batches = tr.minibatch_indices(len(x), batch_size, epochs=epochs, seed=seed, drop_last=True)
        with tr.single_threaded():
            for t, batch in zip(range(len(lrs)), batches):
                lr = float(lrs[t])
                grads = torch.autograd.grad(nn.functional.mse_loss(model(x[batch]), y[batch]), params)
                with torch.no_grad():
                    for p, g, s in zip(params, grads, state):
                        if form == "torch":
                            s.mul_(momentum if t > 0 else 0.0).add_(g)
                            p.sub_(lr * s)
                        else:
                            s.mul_(momentum).sub_(lr * g)
                            p.add_(s)
        finals.append(tr.full_data_loss(model, x, y))
    return finals[0], finals[1]


def adam_update_ratios(grads: Tensor, *, beta1: float = 0.9, beta2: float = 0.999,
                       perfect_v: float | None = None) -> Tensor:
    r""":math:`|\hat m_t / \sqrt{\hat v_t}|` of Adam for every step t = 1 … T and coordinate.

    ``grads`` is (T, N): row t−1 holds the gradients of step t of N independent coordinates.
    The result (T, N) is the size of Adam's update in units of its lr (ε = 0). With
    ``perfect_v`` the denominator is :math:`\sqrt{\text{perfect\_v}}` instead: what the update
    would be with an exact second moment.
    """
    m = torch.zeros_like(grads[0])
    v = torch.zeros_like(grads[0])
    ratios = []
    for t in range(1, len(grads) + 1):
        g = grads[t - 1]
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        denominator = math.sqrt(perfect_v) if perfect_v is not None else torch.sqrt(v / (1 - beta2**t))
        ratios.append((m_hat / denominator).abs())
    return torch.stack(ratios)
