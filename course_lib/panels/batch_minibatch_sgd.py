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

from functools import lru_cache

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.ticker import NullFormatter

from course_lib import toy_regression as tr
from course_lib.widgets import SliderPanel, lr_slider

__all__ = ["NoiseCurve", "gradient_noise_curve", "BatchSizeFigure", "batch_size_panel",
           "batch_size_slider"]

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
    """Log-spaced batch sizes 1 … N; recomputes on release."""
    if value not in choices:
        raise ValueError(f"batch size {value} is not one of the choices {list(choices)}")
    return widgets.SelectionSlider(options=list(choices), value=value, description="batch size B",
                                   continuous_update=False, style={"description_width": "initial"})


def batch_size_panel(*, batch_size: int = 10, lr: float = 0.1, updates: int = 1000,
                     n: int = 1000, seed: int = 0) -> SliderPanel:
    """Sliders for the batch size (log-spaced, 1 … ``n``) and lr; trains for ``updates`` steps.

    The full-batch run is cached per lr, so moving the batch-size slider trains one model.
    """
    x, y = tr.make_data(n=n, seed=seed)
    choices = tuple(b for b in tr.BATCH_SIZE_CHOICES if b < n) + (n,)
    noise = gradient_noise_curve(tr.make_mlp(seed=seed), x, y, sampled_batch_sizes=choices)

    @lru_cache(maxsize=32)
    def run(batch_size: int, lr: float) -> tr.TrainingRun:
        return tr.train(tr.make_mlp(seed=seed), x, y, batch_size=batch_size, lr=lr,
                        updates=updates, eval_every="log", seed=seed)

    def compute(batch_size, lr):
        batch_size, lr = int(batch_size), float(lr)
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the data set (n = {n})")
        full = run(n, lr)
        return [full] if batch_size == n else [full, run(batch_size, lr)]

    def caption(values, runs):
        chosen = runs[-1]
        per_epoch = tr.updates_per_epoch(n, chosen.batch_size)

        def final(run):
            return run.message or f"final loss {run.losses[-1]:.4g}"

        return (f"B = {chosen.batch_size}: {per_epoch} update{'s' * (per_epoch > 1)} per epoch, "
                f"{updates} updates = {updates * chosen.batch_size / n:g} epochs; "
                f"{final(chosen)} (full batch: {final(runs[0])})")

    figure = BatchSizeFigure(noise, noise_floor=0.1**2)
    return SliderPanel(compute, {"batch_size": batch_size_slider(batch_size, choices),
                                 "lr": lr_slider(lr, min_exp=-2.0, max_exp=0.0)},
                       figure=figure, caption=caption,
                       title="Batch size: loss per update, loss per sample, gradient noise")
