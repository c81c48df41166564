r"""Notebook 02 (batch vs mini-batch vs SGD): the batch-size panel.

One update of (mini-batch) SGD with batch size :math:`B` (``batch_size``) and learning rate
:math:`\eta` (``lr``) on the toy regression task (``course_lib.problems.toy_regression``) is

.. math::  \theta \leftarrow \theta - \eta\,\frac1B\sum_{i\in\mathcal B}\nabla\ell_i(\theta).

The panel trains the 1-20-1 tanh MLP for a fixed number of updates with the chosen :math:`B`
and, for reference, with the full batch :math:`B = N`, and shows

* the full-data loss against **updates** (optimizer steps): per update the full batch is best;
* the same losses against **samples seen** (:math:`B` per update): per sample, small batches
  are far cheaper;
* the gradient-noise variance :math:`\mathbb E\lVert g_{\mathcal B} - \nabla f\rVert^2` against
  :math:`B` at the initial parameters: the closed form :math:`\frac{\sigma^2}{B}\frac{N-B}{N-1}`
  for batches without replacement (what the trainer uses), :math:`\sigma^2/B` with replacement,
  and Monte-Carlo estimates at the slider's batch sizes, with the chosen :math:`B` marked.

The figure is built once; :meth:`BatchSizeFigure.show` moves the data of its lines, so a slider
move costs the training runs plus a few milliseconds of matplotlib.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.ticker import NullFormatter

from course_lib.problems import toy_regression as tr
from course_lib.ui.background import data_fingerprint, shared_trainer
from course_lib.ui.slider_panel import SliderPanel, lr_slider

__all__ = ["NoiseCurve", "gradient_noise_curve", "BatchSizeFigure", "GridRuns", "lr_grid",
           "batch_size_panel", "batch_size_slider"]

FIGSIZE = (11.0, 3.6)
DPI = 80
FULL_BATCH_COLOR = "0.45"
CHOSEN_COLOR = "C0"


class NoiseCurve:
    """Gradient-noise variance against batch size at one parameter point, for plotting.

    ``batch_sizes`` (1 … N), ``without_replacement`` (σ²/B·(N−B)/(N−1)) and
    ``with_replacement`` (σ²/B) are the closed forms; ``sampled_batch_sizes`` and ``sampled``
    are Monte-Carlo estimates (without replacement) that the closed form must match.
    """

    def __init__(self, per_sample_grads: torch.Tensor, sampled_batch_sizes=tr.BATCH_SIZE_CHOICES,
                 *, draws: int = 1000, seed: int = 1):
        num_samples = per_sample_grads.shape[0]
        self.num_samples = num_samples
        self.batch_sizes = np.unique(np.geomspace(1, num_samples, 200).round().astype(int))
        grads = per_sample_grads.double()
        # σ² once (B = 1 with replacement is σ² itself); the curves are then arithmetic.
        self.sigma2 = float(tr.minibatch_gradient_variance(grads, 1, replacement=True))
        self.without_replacement = np.array([self.at(int(b)) for b in self.batch_sizes])
        self.with_replacement = self.sigma2 / self.batch_sizes
        self.sampled_batch_sizes = np.array([b for b in sampled_batch_sizes if b <= num_samples])
        with tr.single_threaded():
            self.sampled = np.array([
                float(tr.sampled_gradient_variance(grads, int(b), draws=draws, seed=seed))
                for b in self.sampled_batch_sizes])

    def at(self, batch_size: int) -> float:
        """The closed-form variance (without replacement) at ``batch_size``."""
        b, n = batch_size, self.num_samples
        return self.sigma2 / b * (n - b) / (n - 1) if n > 1 else 0.0


def gradient_noise_curve(model, x, y, **kwargs) -> NoiseCurve:
    """The :class:`NoiseCurve` of ``model`` on ``(x, y)`` from its per-sample gradients."""
    return NoiseCurve(tr.per_sample_gradients(model, x, y), **kwargs)


def _positive(values: np.ndarray) -> np.ndarray:
    # Log axes cannot show 0 (the variance at B = N): mask it as NaN, which matplotlib skips.
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


class BatchSizeFigure:
    """Loss vs updates | loss vs samples seen | noise variance vs batch size, redrawn in place.

    ``show(runs)`` takes the runs to draw: the full-batch reference first, then the chosen
    batch size (one run when the chosen batch is the full batch). A run that diverged gets its
    message written on the loss axes.
    """

    def __init__(self, noise: NoiseCurve, *, noise_floor: float | None = None,
                 figsize=FIGSIZE, dpi=DPI):
        self.noise = noise
        self.fig, (self.ax_updates, self.ax_samples, self.ax_noise) = plt.subplots(
            1, 3, figsize=figsize, dpi=dpi)
        self.loss_lines = {}
        for ax, xlabel in ((self.ax_updates, "updates (optimizer steps)"),
                           (self.ax_samples, "samples seen")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # no "2×10⁰" clutter on short ranges
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(xlabel)
            ax.set_ylabel("full-data loss (MSE)")
            full, = ax.plot([], [], color=FULL_BATCH_COLOR, lw=1.5, label="full batch")
            chosen, = ax.plot([], [], color=CHOSEN_COLOR, lw=1.5, label="chosen B")
            self.loss_lines[ax] = (full, chosen)
            if noise_floor is not None:
                ax.axhline(noise_floor, color="k", ls=":", lw=1, label="noise floor")
        self.ax_updates.legend(loc="upper right", fontsize=8)
        self.divergence_texts = [
            ax.text(0.03, 0.04, "", transform=ax.transAxes, color="#b00020", fontsize=9)
            for ax in (self.ax_updates, self.ax_samples)]

        ax = self.ax_noise
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size B")
        ax.set_ylabel("E‖g_B − ∇L‖²")
        ax.plot(noise.batch_sizes, _positive(noise.without_replacement), color="C1",
                label="σ²/B·(N−B)/(N−1)")
        ax.plot(noise.batch_sizes, noise.with_replacement, color="C1", ls="--", lw=1,
                label="σ²/B (with replacement)")
        ax.plot(noise.sampled_batch_sizes, _positive(noise.sampled), "o", color="C2", ms=4,
                label="sampled batches")
        self.chosen_marker, = ax.plot([], [], "o", color=CHOSEN_COLOR, ms=9, mfc="none", mew=2)
        self.chosen_vline = ax.axvline(1, color=CHOSEN_COLOR, lw=1, alpha=0.6)
        self.noise_text = ax.text(0.03, 0.04, "", transform=ax.transAxes, fontsize=9)
        ax.legend(loc="upper right", fontsize=7)
        self.fig.tight_layout()  # SliderPanel lowers the axes itself to make room for its caption

    def show(self, runs) -> "BatchSizeFigure":
        runs = list(runs)
        full_run, chosen_run = runs[0], runs[-1]
        for ax, x_of in ((self.ax_updates, lambda r: r.updates),
                         (self.ax_samples, lambda r: r.samples_seen)):
            full_line, chosen_line = self.loss_lines[ax]
            for line, run in ((full_line, full_run), (chosen_line, chosen_run)):
                keep = x_of(run) > 0  # log x: update 0 / sample 0 cannot be drawn
                line.set_data(x_of(run)[keep], run.losses[keep])
            full_line.set_label(f"full batch (B = {full_run.batch_size})")
            shown = chosen_run is not full_run
            chosen_line.set_visible(shown)
            chosen_line.set_label(chosen_run.label if shown else "_hidden")  # "_": not in the legend
            self._rescale(ax, [x_of(r) for r in runs], [r.losses for r in runs])
        self.ax_updates.legend(loc="upper right", fontsize=8)
        messages = [f"{r.label}, lr = {r.lr:.3g}: {r.message}" for r in runs if r.message]
        for text in self.divergence_texts:
            text.set_text("\n".join(dict.fromkeys(messages)))

        batch_size = chosen_run.batch_size
        variance = self.noise.at(batch_size)
        shown = variance if variance > 0 else np.nan
        self.chosen_marker.set_data([batch_size], [shown])
        self.chosen_vline.set_xdata([batch_size, batch_size])
        self.noise_text.set_text(f"B = {batch_size}: {variance:.3g}"
                                 + (" (the full batch has no noise)" if variance == 0 else ""))
        return self

    @staticmethod
    def _rescale(ax, xs, losses) -> None:
        xs = np.concatenate([np.asarray(x, dtype=float) for x in xs])
        ys = np.concatenate([np.asarray(y, dtype=float) for y in losses])
        keep = (xs > 0) & np.isfinite(ys) & (ys > 0)
        if not keep.any():
            return
        ax.set_xlim(max(0.8, xs[keep].min() * 0.8), xs[keep].max() * 1.25)
        low, high = ys[keep].min(), min(ys[keep].max(), 1e3 * ys[keep].min())
        ax.set_ylim(low / 1.3, high * 1.3)


def batch_size_slider(value: int = 10, choices=tr.BATCH_SIZE_CHOICES) -> widgets.SelectionSlider:
    """Log-spaced batch sizes 1 … N; redraws while dragged (the panel coalesces the values)."""
    if value not in choices:
        raise ValueError(f"batch size {value} is not one of the choices {list(choices)}")
    return widgets.SelectionSlider(options=list(choices), value=value, description="batch size B",
                                   continuous_update=True, style={"description_width": "initial"})


# The lr slider's grid: 10^(−2 + 0.05k), k = 0 … 40, i.e. 0.01 … 1 in steps of ×1.12 (the lr
# slider's own notches). Every value the slider can take is on it, so each one is a cache hit
# once its batch size has been trained.
LR_MIN_EXP, LR_MAX_EXP, LR_STEP = -2.0, 0.0, 0.05
# Up to this batch size one stacked run of all 41 learning rates costs about as much as one
# plain run (Python overhead dominates); above it the arithmetic does, so a miss trains the
# asked-for learning rate alone and the stacked run is left to the background trainer.
STACK_AT_ONCE_UP_TO = 100
# Runs off the grid (or of a large batch not stacked yet) kept, oldest dropped first.
MAX_RUNS_ALONE = 64


def lr_grid(min_exp: float = LR_MIN_EXP, max_exp: float = LR_MAX_EXP,
            step: float = LR_STEP) -> list[float]:
    """The values of ``lr_slider(min_exp=..., max_exp=..., step=...)``: 10^(min_exp + k·step)."""
    count = round((max_exp - min_exp) / step)
    return [10 ** (min_exp + k * step) for k in range(count + 1)]


class GridRuns:
    r"""The panel's training runs, cached; for one batch size all learning rates train at once.

    The batches depend on the seed and :math:`B` only, never on :math:`\eta`, so
    ``tr.train_learning_rates`` trains every learning rate of the slider's grid in one stacked
    run (``tests/test_toy_regression.py`` checks it against separate ``tr.train`` calls); after
    that, every move of the lr slider at that :math:`B` is a cache hit. A learning rate off the
    grid (``panel.update(lr=0.2)``) is trained alone by ``tr.train``, exactly as a learner's call.

    With a ``background`` trainer (:class:`course_lib.ui.background.BackgroundTrainer`),
    :meth:`prefetch` has it train the batch sizes not trained yet, ahead of the learner; the
    panel asks for that only once it is live in a browser, never while a notebook is run top to
    bottom, so ``make run-notebook`` and nbval stay deterministic and fast.
    """

    def __init__(self, x, y, *, updates: int, seed: int, grid: list[float], background=None):
        self.x, self.y, self.updates, self.seed = x, y, updates, seed
        self.grid = list(grid)
        self._log_grid = np.log10(self.grid)
        self._by_batch: dict[int, list[tr.TrainingRun]] = {}
        self._alone: dict[tuple[int, float], tr.TrainingRun] = {}  # runs trained one at a time
        self._data_id = data_fingerprint(x, y)
        self.background = background
        if background is not None:
            background.subscribe(self._arrived)

    def grid_index(self, lr: float) -> int | None:
        """The position of ``lr`` on the grid, or None (float noise of the slider allowed)."""
        if not lr > 0:
            return None
        k = int(np.argmin(np.abs(self._log_grid - np.log10(lr))))
        return k if abs(self._log_grid[k] - np.log10(lr)) < 1e-9 else None

    def cached(self, batch_size: int) -> bool:
        return batch_size in self._by_batch

    def job_key(self, batch_size: int) -> tuple:
        """What names the background job for ``batch_size`` (its data, seed and grid included)."""
        return ("batch-size grid", batch_size, self.updates, self.seed, self._data_id, tuple(self.grid))

    def run(self, batch_size: int, lr: float) -> tr.TrainingRun:
        """The run for ``(batch_size, lr)``: from the stacked cache when it can be."""
        k = self.grid_index(lr)
        if k is None:
            return self._train_alone(batch_size, lr)
        runs = self._by_batch.get(batch_size)
        if runs is not None:
            return runs[k]
        if (batch_size, self.grid[k]) in self._alone:  # e.g. the runs made when the panel was built
            return self._alone[batch_size, self.grid[k]]
        if batch_size <= STACK_AT_ONCE_UP_TO:
            return self.train_grid(batch_size)[k]
        return self._train_alone(batch_size, self.grid[k])

    def train_grid(self, batch_size: int) -> list[tr.TrainingRun]:
        """All learning rates of the grid at ``batch_size``, trained once, here in the kernel."""
        if batch_size not in self._by_batch:
            self._by_batch[batch_size] = tr.train_lr_grid(self.x, self.y, batch_size=batch_size,
                                                          lrs=self.grid, updates=self.updates,
                                                          seed=self.seed)
        return self._by_batch[batch_size]

    def _train_alone(self, batch_size: int, lr: float) -> tr.TrainingRun:
        run = self._alone.get((batch_size, lr))
        if run is None:
            run = tr.train(tr.make_mlp(seed=self.seed), self.x, self.y, batch_size=batch_size,
                           lr=lr, updates=self.updates, eval_every="log", seed=self.seed)
            if len(self._alone) >= MAX_RUNS_ALONE:
                self._alone.pop(next(iter(self._alone)))  # the oldest
            self._alone[batch_size, lr] = run
        return run

    # -- background training ---------------------------------------------------------------------

    def prefetch(self, batch_sizes) -> None:
        """Have the background trainer train these batch sizes' grids, in this order."""
        if self.background is None:
            return
        kwargs = dict(lrs=self.grid, updates=self.updates, seed=self.seed)
        self.background.want([(self.job_key(b), tr.train_lr_grid, (self.x, self.y), {"batch_size": b, **kwargs})
                              for b in dict.fromkeys(batch_sizes) if b not in self._by_batch])

    def _arrived(self, key, runs) -> None:
        # called from the background trainer's reader thread when any job is done
        if isinstance(key, tuple) and key[:1] == ("batch-size grid",) and key == self.job_key(key[1]):
            self._by_batch.setdefault(key[1], runs)


def batch_size_panel(*, batch_size: int = 10, lr: float = 0.1, updates: int = 1000,
                     n: int = 1000, seed: int = 0) -> SliderPanel:
    """Sliders for the batch size (log-spaced, 1 … ``n``) and lr; trains for ``updates`` steps.

    The lr slider's values are the grid ``lr_grid()``; for each batch size all of them are
    trained at once (:class:`GridRuns`), so an lr move at a visited batch size draws at once.
    Once the panel is live in a browser, the batch sizes not visited yet train in a background
    process (:mod:`course_lib.ui.background`).
    """
    x, y = tr.make_data(n=n, seed=seed)
    choices = tuple(b for b in tr.BATCH_SIZE_CHOICES if b < n) + (n,)
    noise = gradient_noise_curve(tr.make_mlp(seed=seed), x, y, sampled_batch_sizes=choices)
    runs = GridRuns(x, y, updates=updates, seed=seed, grid=lr_grid(), background=shared_trainer())

    def compute(batch_size, lr):
        batch_size, lr = int(batch_size), float(lr)
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the data set (n = {n})")
        full = runs.run(n, lr)
        return [full] if batch_size == n else [full, runs.run(batch_size, lr)]

    def caption(values, trained):
        chosen = trained[-1]
        per_epoch = tr.updates_per_epoch(n, chosen.batch_size)

        def final(run):
            return run.message or f"final loss {run.losses[-1]:.4g}"

        return (f"B = {chosen.batch_size}: {per_epoch} update{'s' * (per_epoch > 1)} per epoch, "
                f"{updates} updates = {updates * chosen.batch_size / n:g} epochs; "
                f"{final(chosen)} (full batch: {final(trained[0])})")

    def prefetch(values):
        # The batch size on screen and the full batch first (every lr move needs both), then the
        # others, nearest the chosen batch size first.
        chosen = int(values["batch_size"])
        runs.prefetch(sorted(choices, key=lambda b: (b not in (chosen, n), abs(np.log(b) - np.log(chosen)))))

    figure = BatchSizeFigure(noise, noise_floor=0.1**2)
    sliders = {"batch_size": batch_size_slider(batch_size, choices),
               "lr": lr_slider(lr, min_exp=LR_MIN_EXP, max_exp=LR_MAX_EXP, step=LR_STEP)}
    panel = SliderPanel(compute, sliders, figure=figure, caption=caption, prefetch=prefetch,
                        title="Batch size: loss per update, loss per sample, gradient noise")
    panel.runs = runs
    return panel
