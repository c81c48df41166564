r"""Notebook 10 (choosing an optimizer): the optimizer race.

Two optimizers, each with its own learning rate, train notebook 10's digits network (64-32-10,
ReLU, torch's default init) for 5 epochs of batch 64 on three seeds
(:func:`course_lib.experiments.optimizer_race.train_race`). The panel draws the full training loss (left)
and the validation accuracy (right) against epochs: the median over the seeds as a line, the
range between the best and the worst seed as a band.

Why a move is instant: the lr sliders step over a grid of 19 notches (:data:`LR_GRID`), and
runs are kept per (optimizer, notch) in a :class:`RaceCache`. Building the panel trains only
the two settings it shows. Once the panel is live in a browser, a low-priority background
process (:mod:`course_lib.ui.background`) trains each optimizer's whole grid (19 × 3 networks
stacked, ~0.7 s of CPU), the two on screen first; a move it has not reached yet trains only
that setting in the kernel (3 networks, ~60 ms of CPU).
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib import pyplot as plt

from course_lib.experiments import optimizer_race as race
from course_lib.ui.background import data_fingerprint, shared_trainer
from course_lib.problems.digits import load_digits_split
from course_lib.ui.slider_panel import SliderPanel, lr_slider

__all__ = ["RaceFigure", "RaceCache", "race_panel", "grid_index", "EPOCHS", "SEEDS", "LR_GRID",
           "LR_MIN_EXP", "LR_MAX_EXP", "LR_STEP"]

EPOCHS = 5
SEEDS = (0, 1, 2)
COLORS = ("C0", "C3")
EVAL_EVERY = 5                      # optimizer steps between two points of the curves

# The lr sliders' range and notch (exponents of 10); the grid is every notch.
LR_MIN_EXP, LR_MAX_EXP, LR_STEP = -4.0, 0.5, 0.25
LR_GRID: tuple[float, ...] = tuple(10 ** (LR_MIN_EXP + k * LR_STEP)
                                   for k in range(round((LR_MAX_EXP - LR_MIN_EXP) / LR_STEP) + 1))


def grid_index(lr: float) -> int:
    """Index of the :data:`LR_GRID` value nearest to ``lr`` in log scale (the notch it sits on).

    The browser's slider sends ``10**exponent`` computed in JavaScript, which can miss the grid
    value by a rounding error, so values are matched by notch, not by float equality.
    """
    lr = float(lr)
    if not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr} (it must be positive)")
    k = round((np.log10(lr) - LR_MIN_EXP) / LR_STEP)
    return min(max(k, 0), len(LR_GRID) - 1)


class RaceCache:
    """Race runs by (optimizer, lr notch), on the digits split ``data``.

    ``run(name, lr)`` returns the :class:`~course_lib.experiments.optimizer_race.RaceRun` at the grid lr
    nearest ``lr``. A miss trains either that one setting (``whole_grid=False``: 3 networks) or
    every notch of :data:`LR_GRID` for the optimizer at once (``whole_grid=True``: one stacked
    run of 19 × 3 networks), whose runs are the same as the single ones.

    With a ``background`` trainer (:class:`course_lib.ui.background.BackgroundTrainer`),
    :meth:`prefetch` has it train whole grids ahead of the learner and their runs join the
    cache as they arrive. From the first :meth:`prefetch` on (the panel is live in a browser),
    a miss trains only the setting asked for (3 networks, ~60 ms of CPU) instead of the whole
    grid (~0.7 s), which the worker brings soon after: a learner never waits for a grid.
    """

    def __init__(self, data, *, whole_grid: bool = True, background=None):
        self.data = data
        self.whole_grid = whole_grid
        self.background = background
        self.runs: dict[tuple[str, int], race.RaceRun] = {}
        self.trainings: list[tuple[str, int]] = []   # (optimizer, networks) per training run
        self.live = False                             # True once prefetch has been asked for
        self._data_id = data_fingerprint(data.x_train, data.y_train, data.x_val, data.y_val)
        if background is not None:
            background.subscribe(self._arrived)

    def _budget(self) -> dict:
        return dict(seeds=SEEDS, x_train=self.data.x_train, y_train=self.data.y_train,
                    x_val=self.data.x_val, y_val=self.data.y_val, epochs=EPOCHS, eval_every=EVAL_EVERY)

    def job_key(self, name: str) -> tuple:
        """What names the background job training ``name``'s whole grid on this cache's data
        (shared by every panel of the kernel that trains the same thing)."""
        return ("race grid", name, EPOCHS, SEEDS, EVAL_EVERY, LR_GRID, self._data_id)

    def complete(self, name: str) -> bool:
        return all((name, k) in self.runs for k in range(len(LR_GRID)))

    def prefetch(self, names) -> None:
        """Have the background trainer train these optimizers' whole grids, in this order."""
        if self.background is None:
            return
        self.live = True
        self.background.want([(self.job_key(name), race.lr_sweep, (name, list(LR_GRID)), self._budget())
                              for name in dict.fromkeys(names) if not self.complete(name)])

    def _arrived(self, key, runs) -> None:
        # called from the background trainer's reader thread when any job is done
        if not (isinstance(key, tuple) and key[:1] == ("race grid",) and key == self.job_key(key[1])):
            return
        for k, run in enumerate(runs):
            self.runs.setdefault((key[1], k), run)

    def run(self, name: str, lr: float) -> race.RaceRun:
        k = grid_index(lr)
        if (name, k) not in self.runs:
            if self.whole_grid and not self.live:
                missing = [j for j in range(len(LR_GRID)) if (name, j) not in self.runs]
                runs = race.lr_sweep(name, [LR_GRID[j] for j in missing], **self._budget())
                self.runs.update({(name, j): run for j, run in zip(missing, runs)})
                self.trainings.append((name, len(missing) * len(SEEDS)))
            else:
                self.runs[name, k] = race.train_race(name, LR_GRID[k], **self._budget())
                self.trainings.append((name, len(SEEDS)))
        return self.runs[name, k]


class RaceFigure:
    """Training loss | validation accuracy against epochs, median line and min–max band per run."""

    def __init__(self, figsize=(10.0, 3.6), dpi=80):
        self.fig, (self.ax_loss, self.ax_acc) = plt.subplots(1, 2, figsize=figsize, dpi=dpi)
        self.lines, self.bands = {}, {}
        for ax, ylabel in ((self.ax_loss, "training loss (full data)"), (self.ax_acc, "validation accuracy")):
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            self.lines[ax] = [ax.plot([], [], color=c, lw=2)[0] for c in COLORS]
            self.bands[ax] = [None, None]
        self.ax_loss.set_yscale("log")
        self.ax_acc.set_ylim(0, 1)
        self.fig.tight_layout()

    def show(self, runs) -> "RaceFigure":
        for ax, values_of in ((self.ax_loss, lambda r: r.train_loss), (self.ax_acc, lambda r: r.val_accuracy)):
            for k, run in enumerate(runs):
                values = np.where(np.isfinite(values_of(run)), values_of(run), np.nan)
                epochs = run.epochs_at
                self.lines[ax][k].set_data(epochs, np.nanmedian(values, axis=0))
                self.lines[ax][k].set_label(f"{run.name}, lr {run.lr:.3g}")
                if self.bands[ax][k] is not None:
                    self.bands[ax][k].remove()
                self.bands[ax][k] = ax.fill_between(epochs, np.nanmin(values, axis=0), np.nanmax(values, axis=0),
                                                    color=COLORS[k], alpha=0.2, lw=0)
            ax.set_xlim(0, EPOCHS)
            ax.legend(loc="best", fontsize=8)
        losses = np.concatenate([r.train_loss[np.isfinite(r.train_loss)] for r in runs])
        self.ax_loss.set_ylim(max(losses.min(), 1e-3) / 1.5, min(losses.max(), 50) * 1.5)
        return self


def race_panel(*, first: str = "Adam", first_lr: float | None = None, second: str = "SGD+momentum",
               second_lr: float = 0.1) -> SliderPanel:
    """Two optimizer pickers and two lr sliders; ``first_lr=None`` starts at torch's default.

    Runs are trained at the :data:`LR_GRID` notch nearest each lr (the browser's slider only
    produces notches; a value given in code between two notches uses the nearer one, and the
    legend and caption print the lr that was trained).
    """
    # While the panel is built only the two settings it first shows are trained; afterwards a
    # miss trains the optimizer's whole lr grid (see RaceCache).
    cache = RaceCache(load_digits_split(), whole_grid=False, background=shared_trainer())

    def compute(first, first_lr, second, second_lr):
        return [cache.run(first, first_lr), cache.run(second, second_lr)]

    def caption(values, runs):
        parts = []
        for run in runs:
            accuracy = run.val_accuracy[:, -1]
            parts.append(f"{run.name} at lr {run.lr:.3g}: validation accuracy {np.median(accuracy):.3f} "
                         f"(seeds {accuracy.min():.3f}–{accuracy.max():.3f})")
        return "; ".join(parts)

    def picker(value, description):
        return widgets.Dropdown(options=list(race.OPTIMIZERS), value=value, description=description,
                                style={"description_width": "initial"})

    sliders = {
        "first": picker(first, "optimizer 1"),
        "first_lr": lr_slider(race.default_lr(first) if first_lr is None else first_lr, min_exp=LR_MIN_EXP,
                              max_exp=LR_MAX_EXP, description="lr 1", step=LR_STEP),
        "second": picker(second, "optimizer 2"),
        "second_lr": lr_slider(second_lr, min_exp=LR_MIN_EXP, max_exp=LR_MAX_EXP, description="lr 2",
                               step=LR_STEP),
    }
    def prefetch(values):
        # The two optimizers on screen first (their lr moves), then the others in the pickers'
        # order: about 0.6 s of CPU each in the background, 4-5 s for all seven.
        cache.prefetch([values["first"], values["second"], *race.OPTIMIZERS])

    panel = SliderPanel(compute, sliders, figure=RaceFigure(), caption=caption, caption_lines=1,
                        title="Optimizer race on the digits: 5 epochs, 3 seeds (line: median, band: best to worst)",
                        prefetch=prefetch)
    cache.whole_grid = True
    panel.race_cache = cache          # tests and benchmarks read what was trained
    return panel
