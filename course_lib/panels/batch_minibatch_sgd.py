r"""Notebook 02 (batch vs mini-batch vs SGD): the batch-size panel.

One update of (mini-batch) SGD with batch size :math:`B` (``batch_size``) and learning rate
:math:`\eta` (``lr``) on the toy regression task (``course_lib.toy_regression``) is

.. math::  \theta \leftarrow \theta - \eta\,\frac1B\sum_{i\in\mathcal B}\nabla\ell_i(\theta).

The panel trains the 1-20-1 tanh MLP for a fixed number of updates with the chosen :math:`B`
and, for reference, with the full batch :math:`B = N`, and shows

* the full-data loss against **updates** (optimizer steps): per update the full batch is best;
* the same losses against **samples seen** (:math:`B` per update): per sample, small batches
  are far cheaper;
* the gradient-noise variance :math:`\mathbb E\lVert g_{\mathcal B} - \nabla L\rVert^2` against
  :math:`B` at the initial parameters: the closed form :math:`\frac{\sigma^2}{B}\frac{N-B}{N-1}`
  for batches without replacement (what the trainer uses), :math:`\sigma^2/B` with replacement,
  and Monte-Carlo estimates at the slider's batch sizes, with the chosen :math:`B` marked.

The figure is built once; :meth:`BatchSizeFigure.show` moves the data of its lines, so a slider
move costs the training runs plus a few milliseconds of matplotlib.
"""

from __future__ import annotations

import atexit
import time
import threading
import weakref

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.ticker import NullFormatter

from course_lib import toy_regression as tr
from course_lib.widgets import SliderPanel, lr_slider

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
                 figsize=FIGSIZE, dpi=DPI, after_show=None):
        self.noise = noise
        self.after_show = after_show  # called at the end of every show (the panel's prefetch)
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
        if self.after_show is not None:
            self.after_show()
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


# The lr slider's grid: 10^(−2 + 0.1k), k = 0 … 20, i.e. 0.01 … 1 in steps of ×1.26. Every value
# the slider can take is on it, so each one is a cache hit once its batch size has been trained.
LR_MIN_EXP, LR_MAX_EXP, LR_STEP = -2.0, 0.0, 0.1
# Up to this batch size one stacked run of all 21 learning rates costs about as much as one
# plain run (Python overhead dominates); above it the arithmetic does, so a miss trains the
# asked-for learning rate alone and the stacked run is left to the background prefetch.
STACK_AT_ONCE_UP_TO = 100
# The prefetch thread pauses while the kernel computes and draws a move, at most this long.
KERNEL_BUSY_MAX_S = 2.0
# Runs off the grid (or of a large batch not stacked yet) kept, oldest dropped first.
MAX_RUNS_ALONE = 64


def lr_grid(min_exp: float = LR_MIN_EXP, max_exp: float = LR_MAX_EXP,
            step: float = LR_STEP) -> list[float]:
    """The values of ``lr_slider(min_exp=..., max_exp=..., step=...)``: 10^(min_exp + k·step)."""
    count = round((max_exp - min_exp) / step)
    return [10 ** (min_exp + k * step) for k in range(count + 1)]


# Every GridRuns made, so that their prefetch threads are stopped before the interpreter
# exits (a thread still inside torch while Python shuts down aborts the process).
_ALL_GRID_RUNS: "weakref.WeakSet[GridRuns]" = weakref.WeakSet()


@atexit.register
def _stop_prefetching() -> None:
    for grid_runs in list(_ALL_GRID_RUNS):
        grid_runs.stop()


class GridRuns:
    r"""The panel's training runs, cached; for one batch size all learning rates train at once.

    The batches depend on the seed and :math:`B` only, never on :math:`\eta`, so
    ``tr.train_learning_rates`` trains every learning rate of the slider's grid in one stacked
    run (``tests/test_toy_regression.py`` checks it against separate ``tr.train`` calls); after
    that, every move of the lr slider at that :math:`B` is a cache hit. A learning rate off the
    grid (``panel.update(lr=0.2)``) is trained alone by ``tr.train``, exactly as a learner's call.

    ``prefetch`` trains the batch sizes a learner has not visited yet in a background thread;
    the panel starts it only when a learner moves a slider (never while a notebook is run
    top to bottom, so ``make run-notebook`` and nbval stay deterministic and fast).
    """

    def __init__(self, x, y, *, updates: int, seed: int, grid: list[float]):
        self.x, self.y, self.updates, self.seed = x, y, updates, seed
        self.grid = list(grid)
        self._log_grid = np.log10(self.grid)
        self._by_batch: dict[int, list[tr.TrainingRun]] = {}
        self._lock = threading.Lock()           # guards the dictionaries below
        self._batch_locks: dict[int, threading.Lock] = {}
        self._wanted: list[int] = []            # batch sizes the prefetch thread will train
        self._thread: threading.Thread | None = None
        self._training: int | None = None       # the batch size being trained stacked now
        self._waiting_for: int | None = None    # the batch size the kernel waits for
        self._kernel_busy_since: float | None = None  # when the kernel began its slider move
        _ALL_GRID_RUNS.add(self)
        self._alone: dict[tuple[int, float], tr.TrainingRun] = {}  # runs trained one at a time

    def grid_index(self, lr: float) -> int | None:
        """The position of ``lr`` on the grid, or None (float noise of the slider allowed)."""
        if not lr > 0:
            return None
        k = int(np.argmin(np.abs(self._log_grid - np.log10(lr))))
        return k if abs(self._log_grid[k] - np.log10(lr)) < 1e-9 else None

    def cached(self, batch_size: int) -> bool:
        return batch_size in self._by_batch

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
            return self.train_grid(batch_size)[k]  # (waits for the prefetch thread if it began it)
        return self._train_alone(batch_size, self.grid[k])

    def train_grid(self, batch_size: int) -> list[tr.TrainingRun]:
        """All learning rates of the grid at ``batch_size``, trained once (one thread at a time)."""
        with self._lock:
            lock = self._batch_locks.setdefault(batch_size, threading.Lock())
        in_background = threading.current_thread() is self._thread
        if not in_background:
            self._waiting_for = batch_size
        try:
            with lock:  # the prefetch thread may be training this batch size now: wait for it
                runs = self._by_batch.get(batch_size)
                if runs is None:
                    self._training = batch_size
                    try:
                        runs = tr.train_learning_rates(
                            tr.make_mlp(seed=self.seed), self.x, self.y, batch_size=batch_size,
                            lrs=self.grid, updates=self.updates, eval_every="log", seed=self.seed,
                            between_updates=self._yield_to_kernel if in_background else None)
                    finally:
                        self._training = None
                    self._by_batch[batch_size] = runs
                return runs
        finally:
            if not in_background:
                self._waiting_for = None

    def kernel_busy(self, busy: bool = True) -> None:
        """The kernel begins (True) or ends (False) a slider move: the prefetch pauses meanwhile."""
        self._kernel_busy_since = time.monotonic() if busy else None

    def _yield_to_kernel(self) -> None:
        # Two threads share one interpreter lock, and torch releases it around every operation:
        # training in both at once, each of the kernel's many small operations would wait for
        # the other thread's turn (measured: a 150 ms run took 15 s). So the prefetch thread
        # sleeps while the kernel computes and draws a move, unless the kernel is waiting for
        # this very batch size (or the move has not ended within KERNEL_BUSY_MAX_S: a lost end).
        while True:
            since = self._kernel_busy_since
            if (since is None or self._waiting_for == self._training
                    or time.monotonic() - since > KERNEL_BUSY_MAX_S):
                return
            time.sleep(0.005)

    def _train_alone(self, batch_size: int, lr: float) -> tr.TrainingRun:
        run = self._alone.get((batch_size, lr))
        if run is None:
            run = tr.train(tr.make_mlp(seed=self.seed), self.x, self.y, batch_size=batch_size,
                           lr=lr, updates=self.updates, eval_every="log", seed=self.seed)
            if len(self._alone) >= MAX_RUNS_ALONE:
                self._alone.pop(next(iter(self._alone)))  # the oldest
            self._alone[batch_size, lr] = run
        return run

    # -- background prefetch -------------------------------------------------------------------

    def prefetch(self, batch_sizes) -> None:
        """Train ``batch_sizes`` not trained yet, in this order, in a daemon thread.

        A later call reorders what is still waiting (the learner's latest batch size first).
        """
        with self._lock:
            self._wanted = [b for b in dict.fromkeys(batch_sizes) if b not in self._by_batch]
            if self._thread is None and self._wanted:
                self._thread = threading.Thread(target=self._prefetch_loop, daemon=True,
                                                name="batch-size panel prefetch")
                self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the prefetch thread has nothing left to train (tests, benchmarks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def stop(self) -> None:
        """Drop what the prefetch thread has not begun, and wait for the batch size it trains."""
        with self._lock:
            self._wanted.clear()
        self.wait()

    def _prefetch_loop(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._wanted:
                        self._thread = None  # under the lock: a later prefetch starts a new one
                        return
                    batch_size = self._wanted.pop(0)
                self.train_grid(batch_size)
        except BaseException:
            with self._lock:  # a failed run: the kernel trains what it needs itself
                self._thread = None
            raise


def batch_size_panel(*, batch_size: int = 10, lr: float = 0.1, updates: int = 1000,
                     n: int = 1000, seed: int = 0) -> SliderPanel:
    """Sliders for the batch size (log-spaced, 1 … ``n``) and lr; trains for ``updates`` steps.

    The lr slider's values are the grid ``lr_grid()``; for each batch size all of them are
    trained at once (:class:`GridRuns`), so an lr move at a visited batch size draws at once.
    Once a learner moves a slider, the batch sizes not visited yet train in the background.
    """
    x, y = tr.make_data(n=n, seed=seed)
    choices = tuple(b for b in tr.BATCH_SIZE_CHOICES if b < n) + (n,)
    noise = gradient_noise_curve(tr.make_mlp(seed=seed), x, y, sampled_batch_sizes=choices)
    runs = GridRuns(x, y, updates=updates, seed=seed, grid=lr_grid())

    def compute(batch_size, lr):
        batch_size, lr = int(batch_size), float(lr)
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the data set (n = {n})")
        runs.kernel_busy()  # until the figure has been drawn (BatchSizeFigure.show's end)
        try:
            full = runs.run(n, lr)
            return [full] if batch_size == n else [full, runs.run(batch_size, lr)]
        except BaseException:
            runs.kernel_busy(False)
            raise

    def caption(values, trained):
        chosen = trained[-1]
        per_epoch = tr.updates_per_epoch(n, chosen.batch_size)

        def final(run):
            return run.message or f"final loss {run.losses[-1]:.4g}"

        return (f"B = {chosen.batch_size}: {per_epoch} update{'s' * (per_epoch > 1)} per epoch, "
                f"{updates} updates = {updates * chosen.batch_size / n:g} epochs; "
                f"{final(chosen)} (full batch: {final(trained[0])})")

    figure = BatchSizeFigure(noise, noise_floor=0.1**2, after_show=lambda: runs.kernel_busy(False))
    sliders = {"batch_size": batch_size_slider(batch_size, choices),
               "lr": lr_slider(lr, min_exp=LR_MIN_EXP, max_exp=LR_MAX_EXP, step=LR_STEP)}
    panel = SliderPanel(compute, sliders, figure=figure, caption=caption,
                        title="Batch size: loss per update, loss per sample, gradient noise")
    panel.runs = runs

    def learner_moved(change):
        # A slider moved by a learner (or a benchmark), not by panel.update's write-back: from
        # now on the batch sizes not trained yet train in the background.
        if panel._syncing:
            return
        chosen = sliders["batch_size"].value
        # The cheap small batches nearest the chosen one first (each about one plain run), then
        # the full batch (every lr move needs it as the grey reference), then the other large
        # ones. With the back-to-back moves of benchmarks/slider_latency.py this order gave
        # p95 207-226 ms, the full batch first 332 ms (docs/benchmarks.md).
        order = sorted(choices, key=lambda b: (b > STACK_AT_ONCE_UP_TO, b != n,
                                               abs(np.log(b) - np.log(chosen))))
        runs.prefetch(order)

    for slider in sliders.values():
        slider.observe(learner_moved, names="value")
    return panel
