r"""Notebook 11 (initialization and practice): the depth panel.

A stack of ``depth`` linear layers of width 64 (the activation between them picked by a
dropdown), initialised by a scheme of :mod:`course_lib.experiments.signal_propagation` with a gain slider, takes
a batch of 256 standard-normal inputs. The panel plots, layer by layer on a log scale, the RMS
of each layer's output (forward) and of the gradient of its weights (backward, for the loss
half the mean square of the output). For ReLU layers with weights :math:`\mathcal N(0, c^2/n)`
("he" at any gain), the closed form :math:`\sqrt{\mathbb E[z_l^2]} = c\,(c/\sqrt2)^{l-1}`
(:func:`course_lib.theory.initialization.relu_depth_mean_square`) is drawn as a dashed line: the
average over random networks, around which a single network (the seed slider picks its weights
and inputs) scatters, the more so the deeper it is.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import pyplot as plt

from course_lib.experiments import signal_propagation as init
from course_lib.theory.initialization import relu_depth_mean_square
from course_lib.ui.slider_panel import SliderPanel, float_slider, int_slider

__all__ = ["DepthFigure", "depth_panel", "WIDTH", "BATCH"]

WIDTH, BATCH = 64, 256


class DepthFigure:
    """Activation RMS | weight-gradient RMS against layer index, log scale."""

    def __init__(self, figsize=(10.0, 3.6), dpi=80):
        self.fig, (self.ax_act, self.ax_grad) = plt.subplots(1, 2, figsize=figsize, dpi=dpi)
        self.act_line, = self.ax_act.plot([], [], "o-", ms=3, color="C0", label="measured")
        self.theory_line, = self.ax_act.plot([], [], "--", color="k", lw=1, label="c·(c/√2)^(l−1)")
        self.grad_line, = self.ax_grad.plot([], [], "o-", ms=3, color="C1")
        for ax, label in ((self.ax_act, "RMS of layer output"), (self.ax_grad, "RMS of weight gradient")):
            ax.set_yscale("log")
            ax.set_xlabel("layer l")
            ax.set_ylabel(label)
        self.ax_act.legend(loc="upper left", fontsize=8)
        self.fig.tight_layout()

    def show(self, results) -> "DepthFigure":
        scales, theory = results
        layers = np.arange(1, len(scales.activation_rms) + 1)
        for line, values, ax in ((self.act_line, scales.activation_rms, self.ax_act),
                                 (self.grad_line, scales.weight_grad_rms, self.ax_grad)):
            shown = np.where((values > 0) & np.isfinite(values), values, np.nan)
            line.set_data(layers, shown)
            ax.set_xlim(0.5, len(layers) + 0.5)
            finite = shown[np.isfinite(shown)]
            if theory is not None and ax is self.ax_act:
                finite = np.concatenate([finite, theory])
            if finite.size:
                ax.set_ylim(max(finite.min(), 1e-30) / 3, finite.max() * 3)
            else:  # every value underflowed to 0: a fixed window, not the previous setting's
                ax.set_ylim(1e-3, 1e3)
        if theory is None:
            self.theory_line.set_data([], [])
        else:
            self.theory_line.set_data(layers, theory)
        return self


def depth_panel(*, depth: int = 20, activation: str = "relu", scheme: str = "he",
                gain: float = math.sqrt(2), seed: int = 0) -> SliderPanel:
    """Sliders for depth, activation, initialisation scheme, gain and the seed of the network and inputs."""

    def compute(depth, activation, scheme, gain, seed):
        scales = init.scales_over_seeds(int(depth), WIDTH, [int(seed)], activation=activation,
                                        scheme=scheme, gain=float(gain), batch=BATCH)[0]
        theory = None
        if activation == "relu" and scheme == "he":
            theory = np.sqrt([relu_depth_mean_square(l, float(gain)) for l in range(1, int(depth) + 1)])
        return [scales, theory]

    def caption(values, results):
        scales, _ = results
        first, last = scales.activation_rms[0], scales.activation_rms[-1]
        return (f"{values['scheme']} (gain {float(values['gain']):.2f}), {values['activation']}, seed {int(values['seed'])}: "
                f"output RMS {first:.3g} at layer 1, {last:.3g} at layer {len(scales.activation_rms)}; "
                f"weight-gradient RMS from {scales.weight_grad_rms[0]:.2g} (layer 1) "
                f"to {scales.weight_grad_rms[-1]:.2g} (last)")

    def dropdown(options, value, description):
        return widgets.Dropdown(options=list(options), value=value, description=description,
                                style={"description_width": "initial"})

    sliders = {
        "depth": int_slider(depth, 1, 40, "depth"),
        "activation": dropdown(init.ACTIVATIONS, activation, "activation"),
        "scheme": dropdown(("he", "xavier", "torch_default", "torch_default_zero_bias", "normal"), scheme, "init"),
        "gain": float_slider(gain, 0.5, 2.5, 0.01, "gain c"),
        "seed": int_slider(seed, 0, 39, "seed"),
    }
    return SliderPanel(compute, sliders, figure=DepthFigure(), caption=caption, caption_lines=1,
                       title="Activation and gradient scale through depth")
