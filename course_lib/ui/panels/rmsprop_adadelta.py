r"""Notebook 06 (RMSProp and Adadelta): effective learning rates side by side.

The panel feeds one coordinate a gradient stream whose scale changes (steep, then flat, then
steep again) and draws, step by step,

* left: the effective learning rate :math:`-\Delta\theta_t / g_t` of Adagrad (:math:`\eta/(\sqrt{s_t}+\epsilon)`,
  only ever falling) and of RMSprop (:math:`\eta/(\sqrt{v_t}+\epsilon)`, which follows the
  gradient's recent scale) for the ``alpha`` slider's :math:`\alpha`;
* right: the size of the step each takes, :math:`|\Delta\theta_t|`, beside the gradient's size.

The curves come from :mod:`course_lib.theory` (tests prove them equal to ``torch.optim.Adagrad``
and ``torch.optim.RMSprop`` step by step); the figure is built once and its lines are updated in
place. ``panel.update(alpha=..., stream=...)`` is what the controls call.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from course_lib.theory.adagrad import adagrad_effective_lr_curve
from course_lib.theory.rmsprop import ema_memory, rmsprop_effective_lr_curve

__all__ = ["STREAMS", "gradient_stream", "Curve", "effective_lr_curves", "EffectiveLrFigure",
           "panel_caption", "effective_lr_panel", "PANEL_LR"]

#: the learning rate both optimizers use in the panel (torch's RMSprop default)
PANEL_LR = 0.01
STEPS = 300
STREAMS = ("steep, flat, steep", "flat, then steep", "constant")


def gradient_stream(name: str, steps: int = STEPS) -> np.ndarray:
    """The panel's gradient streams (length ``steps``): ``"steep, flat, steep"`` is 1.0 for the
    first third, 0.1 for the second, 1.0 again; ``"flat, then steep"`` is 0.1 then 1.0;
    ``"constant"`` is 1.0 throughout."""
    third = steps // 3
    if name == "steep, flat, steep":
        return np.concatenate([np.full(third, 1.0), np.full(third, 0.1), np.full(steps - 2 * third, 1.0)])
    if name == "flat, then steep":
        return np.concatenate([np.full(steps // 2, 0.1), np.full(steps - steps // 2, 1.0)])
    if name == "constant":
        return np.full(steps, 1.0)
    raise ValueError(f"stream {name!r} is not one of {list(STREAMS)}")


@dataclass(eq=False)
class Curve:
    """One optimizer's response to the stream: ``effective_lr[t-1]`` and ``step_size[t-1]`` at
    step ``t``."""

    label: str
    effective_lr: np.ndarray
    step_size: np.ndarray


def effective_lr_curves(alpha: float, stream: str = STREAMS[0], lr: float = PANEL_LR,
                        eps: float = 1e-8) -> list[Curve]:
    """``[RMSprop(alpha), Adagrad]`` curves for the named gradient stream, both at ``lr``."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"Invalid alpha value: {alpha} (must be in [0, 1))")
    gradients = gradient_stream(stream)
    rms = rmsprop_effective_lr_curve(gradients, lr=lr, alpha=alpha, eps=eps)
    ada = adagrad_effective_lr_curve(gradients, lr=lr, eps=1e-10)
    return [Curve(f"RMSprop (α={alpha:.3g})", rms, rms * np.abs(gradients)),
            Curve("Adagrad", ada, ada * np.abs(gradients))]


class EffectiveLrFigure:
    """Effective lr (left) and step size with the gradient's size (right) against the step, log
    scales; :meth:`show` moves the existing lines' data (nothing is rebuilt)."""

    def __init__(self, stream: str = STREAMS[0]):
        self.fig, (self.ax_lr, self.ax_step) = plt.subplots(1, 2, figsize=(9.5, 3.6), dpi=80)
        steps = np.arange(1, STEPS + 1)
        self.lr_lines = [self.ax_lr.plot(steps, np.ones(STEPS), color=c, lw=1.8)[0] for c in ("C0", "C1")]
        self.step_lines = [self.ax_step.plot(steps, np.ones(STEPS), color=c, lw=1.8)[0] for c in ("C0", "C1")]
        (self.gradient_line,) = self.ax_step.plot(steps, np.ones(STEPS), color="0.5", lw=1.2, ls="--",
                                                  label="|gradient|")
        for ax, title in ((self.ax_lr, "effective learning rate  −Δθ / g"),
                          (self.ax_step, "step size |Δθ|")):
            ax.set_yscale("log")
            ax.set_xlabel("step t")
            ax.set_title(title, fontsize=11)
            ax.grid(True, which="major", alpha=0.3)
        self.ax_lr.set_ylim(1e-4, 1.0)
        self.ax_step.set_ylim(1e-4, 2.0)
        self.stream = stream
        self.fig.tight_layout()

    def show(self, curves: list[Curve]) -> "EffectiveLrFigure":
        for line_lr, line_step, curve in zip(self.lr_lines, self.step_lines, curves):
            line_lr.set_ydata(curve.effective_lr)
            line_step.set_ydata(curve.step_size)
            line_lr.set_label(curve.label)
            line_step.set_label(curve.label)
        self.gradient_line.set_ydata(np.abs(gradient_stream(self.stream)))
        self.ax_lr.legend(fontsize=9, loc="upper right")
        self.ax_step.legend(fontsize=9, loc="lower left")
        self.fig.canvas.draw_idle()
        return self


def panel_caption(values: dict, curves: list[Curve]) -> str:
    """RMSprop's memory 1/(1−α) and both effective lrs at the last step."""
    rms, ada = curves
    return (f"RMSprop averages over about 1/(1−α) = {ema_memory(values['alpha']):.3g} steps   |   "
            f"effective lr at step {STEPS}: RMSprop {rms.effective_lr[-1]:.3g}, "
            f"Adagrad {ada.effective_lr[-1]:.3g}")


def effective_lr_panel(alpha: float = 0.99, stream: str = STREAMS[0]):
    """An α slider and a gradient-stream picker; RMSprop's and Adagrad's effective lr and step
    size over 300 steps, both at lr = 0.01."""
    import ipywidgets as widgets

    from course_lib.ui.slider_panel import SliderPanel, float_slider

    if stream not in STREAMS:
        raise ValueError(f"stream {stream!r} is not one of {list(STREAMS)}")
    figure = EffectiveLrFigure(stream)

    def compute(alpha, stream):
        figure.stream = stream
        return effective_lr_curves(alpha, stream)

    return SliderPanel(
        compute,
        {
            "alpha": float_slider(alpha, 0.0, 0.999, 0.001, "alpha α"),
            "stream": widgets.Dropdown(options=list(STREAMS), value=stream, description="gradients"),
        },
        figure=figure,
        caption=panel_caption,
        caption_lines=1,
        title="RMSprop's moving average vs Adagrad's sum: effective learning rates",
    )
