r"""Notebook 09 (learning-rate schedules): the schedule explorer.

Pick a schedule and its settings; the panel draws

* left: the lr of every optimizer step, :math:`\eta_t`, from course_lib's closed form
  (:mod:`course_lib.theory.schedules`, a line) and from torch's scheduler built with the same
  settings (:func:`course_lib.experiments.schedule_training.torch_lrs`, dots every few steps): they coincide,
  and the caption prints the largest gap;
* right: the full-data loss of notebook 02's 1-20-1 MLP trained with SGD (momentum 0.9, batch
  32) under that schedule, next to a constant lr at the same peak value. Both runs are trained
  together by :func:`course_lib.experiments.schedule_training.train_many_schedules_sgd` (the same SGD, stacked and
  without autograd, so a slider move stays fast) and kept for when a value comes back.

The sliders share one meaning across schedules: ``lr`` is the peak lr (``base_lr``, or
``max_lr`` for one-cycle and cyclic), ``final_fraction`` the share of it left at the end
(step: three drops by the same factor; exponential: :math:`\gamma = f^{1/T}`; cosine and
warmup+cosine: ``eta_min`` :math:`= f\eta_{\text{base}}`), ``warmup_fraction`` the share of the run spent
rising (warmup+cosine: :math:`W/T`; one-cycle: ``pct_start``; cyclic: the rising share of each
of 4 cycles). ``seed`` picks the data, the mini-batches and the initial model of both runs, so a
"Things to try" claim can be checked on several seeds.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib import pyplot as plt

from course_lib.experiments import schedule_training as ls
from course_lib.ui.slider_panel import SliderPanel, float_slider, int_slider, lr_slider

__all__ = ["SCHEDULE_CHOICES", "schedule_settings", "ScheduleFigure", "schedule_panel", "STEPS"]

STEPS = 400            # optimizer steps per run: 12.8 epochs of 1000 samples at batch 32
BATCH_SIZE = 32
MOMENTUM = 0.9
EVAL_EVERY = 10
NOISE_FLOOR = 0.1**2   # the data's noise variance: no model gets below it on average
SCHEDULE_CHOICES = ("constant", "step", "exponential", "cosine", "warmup_cosine", "one_cycle", "cyclic")


def schedule_settings(schedule: str, *, lr: float, final_fraction: float, warmup_fraction: float,
                      steps: int = STEPS) -> dict:
    """The closed form's keyword arguments (``base_lr`` included) for the panel's slider values."""
    if not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0 < final_fraction <= 1:
        raise ValueError(f"final_fraction must be in (0, 1], got {final_fraction}")
    if not 0 < warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in (0, 1), got {warmup_fraction}")
    if schedule == "constant":
        return {"base_lr": lr}
    if schedule == "step":
        return {"base_lr": lr, "step_size": steps // 4, "gamma": final_fraction ** (1 / 3)}
    if schedule == "exponential":
        return {"base_lr": lr, "gamma": final_fraction ** (1 / (steps - 1))}
    if schedule == "cosine":
        return {"base_lr": lr, "T_max": steps - 1, "eta_min": final_fraction * lr}
    if schedule == "warmup_cosine":
        return {"base_lr": lr, "warmup_steps": max(1, round(warmup_fraction * (steps - 1))),
                "total_steps": steps - 1, "start_factor": 0.01, "eta_min": final_fraction * lr}
    if schedule == "one_cycle":
        return {"base_lr": lr, "max_lr": lr, "total_steps": steps, "pct_start": warmup_fraction}
    if schedule == "cyclic":
        cycle = steps // 4
        up = max(1, round(warmup_fraction * cycle))
        return {"base_lr": lr / 25, "max_lr": lr, "step_size_up": up, "step_size_down": max(1, cycle - up)}
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULE_CHOICES}")


def schedule_lrs(schedule: str, settings: dict, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """(closed-form lrs, torch's lrs) for the settings of :func:`schedule_settings`."""
    if schedule == "constant":
        lrs = np.full(steps, settings["base_lr"])
        return lrs, lrs.copy()
    kwargs = dict(settings)
    base_lr = kwargs.pop("base_lr")
    ours = ls.closed_form_lrs(schedule, steps, base_lr=base_lr, **kwargs)
    theirs = ls.torch_lrs(schedule, steps, base_lr=base_lr, **kwargs)
    return np.array(ours), np.array(theirs)


class ScheduleFigure:
    """lr(t) from course_lib and torch | full-data loss under the schedule and a constant lr."""

    def __init__(self, figsize=(10.0, 3.6), dpi=80):
        self.fig, (self.ax_lr, self.ax_loss) = plt.subplots(1, 2, figsize=figsize, dpi=dpi)
        ax = self.ax_lr
        self.ours_line, = ax.plot([], [], color="C0", lw=2, label="course_lib closed form")
        self.torch_dots, = ax.plot([], [], "o", color="C3", ms=3.5, label="torch scheduler")
        ax.set_xlabel("optimizer step t")
        ax.set_ylabel("learning rate η_t")
        ax.legend(loc="upper right", fontsize=8)
        ax = self.ax_loss
        self.constant_line, = ax.plot([], [], color="0.5", lw=1.5, label="constant lr")
        self.scheduled_line, = ax.plot([], [], color="C0", lw=1.8, label="schedule")
        ax.axhline(NOISE_FLOOR, color="k", ls=":", lw=1, label="noise floor 0.01")
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step t")
        ax.set_ylabel("full-data loss (MSE)")
        ax.legend(loc="upper right", fontsize=8)
        self.diverged_text = ax.text(0.03, 0.04, "", transform=ax.transAxes, color="#b00020", fontsize=9)
        self.fig.tight_layout()

    def show(self, results) -> "ScheduleFigure":
        ours, theirs, scheduled, constant = results
        steps = np.arange(len(ours))
        self.ours_line.set_data(steps, ours)
        every = max(1, len(ours) // 40)
        self.torch_dots.set_data(steps[::every], theirs[::every])
        self.ax_lr.set_xlim(0, len(ours))
        self.ax_lr.set_ylim(0, max(ours.max(), theirs.max()) * 1.1)
        self.scheduled_line.set_data(scheduled.updates, scheduled.losses)
        self.constant_line.set_data(constant.updates, constant.losses)
        self.ax_loss.set_xlim(0, len(ours))
        finite = np.concatenate([r.losses[np.isfinite(r.losses)] for r in (scheduled, constant)])
        low, high = max(finite.min(), 1e-3), min(finite.max(), 1e3)
        self.ax_loss.set_ylim(min(low, NOISE_FLOOR) / 1.3, max(high, 2 * NOISE_FLOOR) * 1.3)
        messages = [f"{r.label}: diverged" for r in (scheduled, constant) if diverged(r)]
        self.diverged_text.set_text("\n".join(messages))
        return self


def diverged(run: ls.ScheduledRun) -> bool:
    """Stopped early (the trainer stops at an inf/NaN/huge loss), or its last recorded loss is
    non-finite or above 10⁶ times the initial one (a blow-up caught at the very last evaluation)."""
    last = run.losses[-1]
    return run.updates[-1] < len(run.lrs) or not np.isfinite(last) or last > 1e6 * run.losses[0]


def schedule_panel(*, schedule: str = "warmup_cosine", lr: float = 0.2, final_fraction: float = 0.01,
                   warmup_fraction: float = 0.1, seed: int = 0) -> SliderPanel:
    """The schedule explorer: a schedule picker and three sliders (see the module docstring)."""

    # Every move re-trains: the schedule's run and the constant-lr run go through the stacked,
    # autograd-free trainer together (one pass for both, ~10x faster than two torch loops;
    # equal to train_with_schedule up to float32 rounding, see tests/test_panels_lr_schedules.py).
    # Runs already seen are kept, so going back to a value (or keeping lr while changing the
    # schedule) costs nothing.
    cache: dict[tuple, ls.ScheduledRun] = {}

    def train(run_seed: int, *lr_rows: np.ndarray) -> list:
        keys = [(run_seed, tuple(row.tolist())) for row in lr_rows]
        missing = list(dict.fromkeys(k for k in keys if k not in cache))
        if missing:
            if len(cache) + len(missing) > 128:
                cache.clear()  # then every run asked for is missing, not only the new ones
                missing = list(dict.fromkeys(keys))
            runs = ls.train_many_schedules_sgd([np.array(k[1]) for k in missing], momentum=MOMENTUM,
                                               batch_size=BATCH_SIZE, seed=run_seed, eval_every=EVAL_EVERY)
            cache.update(zip(missing, runs))
        return [cache[k] for k in keys]

    def compute(schedule, lr, final_fraction, warmup_fraction, seed=seed):
        settings = schedule_settings(schedule, lr=float(lr), final_fraction=float(final_fraction),
                                     warmup_fraction=float(warmup_fraction))
        ours, theirs = schedule_lrs(schedule, settings)
        scheduled, constant = train(int(seed), ours, np.full(STEPS, float(lr)))
        scheduled = ls.ScheduledRun(schedule, scheduled.updates, scheduled.losses, scheduled.lrs)
        constant = ls.ScheduledRun("constant lr", constant.updates, constant.losses, constant.lrs)
        return [ours, theirs, scheduled, constant]

    def caption(values, results):
        ours, theirs, scheduled, constant = results
        gap = float(np.max(np.abs(ours - theirs)))

        def final(run):
            return "diverged" if diverged(run) else f"{run.losses[-1]:.4f}"

        return (f"{values['schedule']}: largest |course_lib − torch| = {gap:.1e}; "
                f"final loss {final(scheduled)} (constant lr {float(values['lr']):.3g}: {final(constant)})")

    picker = widgets.Dropdown(options=list(SCHEDULE_CHOICES), value=schedule, description="schedule",
                              style={"description_width": "initial"})
    sliders = {
        "schedule": picker,
        "lr": lr_slider(lr, min_exp=-2.0, max_exp=0.0, description="peak lr"),
        "final_fraction": float_slider(final_fraction, 0.001, 1.0, 0.1, "final share f", log=True),
        "warmup_fraction": float_slider(warmup_fraction, 0.02, 0.5, 0.02, "warmup share"),
        "seed": int_slider(seed, 0, 9, "seed (data, batches, init)"),
    }
    return SliderPanel(compute, sliders, figure=ScheduleFigure(), caption=caption, caption_lines=1,
                       title="Schedule explorer: lr(t) from course_lib and torch, and the training it gives")
