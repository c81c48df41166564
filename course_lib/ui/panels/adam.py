r"""Notebook 07 (Adam): Adam against SGD with momentum, with β₁, β₂, ε and bias correction on
sliders.

The panel runs ``course_lib.optim.Adam`` (which equals ``torch.optim.Adam``) or, with the bias
correction switched off, :class:`AdamWithoutBiasCorrection`, the same update with
:math:`\hat m = m` and :math:`\hat v = v`:

.. math::

    m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
    \theta \leftarrow \theta - \eta\, \frac{m}{\sqrt{v} + \epsilon}
    \qquad\text{(no bias correction)}.

Beside it runs SGD with momentum (β = 0.9) at a learning rate that suits each landscape, so the
paths can be compared; the caption gives Adam's first step lengths per coordinate, in units of
η, which is where the bias correction shows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from torch import Tensor

from course_lib.optim.adam import Adam

__all__ = [
    "AdamWithoutBiasCorrection",
    "PANEL_LANDSCAPES",
    "SGD_MOMENTUM_SETTINGS",
    "panel_landscape",
    "adam_vs_sgd_momentum",
    "first_step_ratios",
    "panel_caption",
    "adam_panel",
    "BETA2_CHOICES",
]


class AdamWithoutBiasCorrection(Adam):
    r"""Adam with the bias correction left out: :math:`\theta \leftarrow \theta - \eta\, m/(\sqrt v
    + \epsilon)`. Not a torch optimizer: it exists to show what the correction does (the first
    step is :math:`(1-\beta_1)/\sqrt{1-\beta_2}` times too long, 3.16× for the default betas).
    Weight decay, AMSGrad and maximize are not supported."""

    def update_param(self, param: Tensor, grad: Tensor, state: dict[str, Any],
                     group: dict[str, Any]) -> None:
        if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
            raise ValueError("AdamWithoutBiasCorrection supports neither weight_decay, "
                             "amsgrad nor maximize")
        beta1, beta2 = group["betas"]
        state["step"] += 1
        # m ← β₁m + (1 − β₁)g ;  v ← β₂v + (1 − β₂)g²
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        # θ ← θ − η·m/(√v + ε)   (no 1 − βᵗ anywhere)
        param.addcdiv_(state["exp_avg"], state["exp_avg_sq"].sqrt().add_(group["eps"]),
                       value=-group["lr"])


PANEL_LANDSCAPES = ("rosenbrock", "saddle", "quadratic")
# SGD with momentum 0.9 at a learning rate that works on each landscape (the fastest of
# 1e-4, 1e-3, 2e-3, 1e-2, 0.1 that does not diverge on Rosenbrock; 0.1 on the quadratic; the
# saddle has no minimum, 0.01 escapes it at a visible pace).
SGD_MOMENTUM_SETTINGS = {
    "rosenbrock": {"lr": 2e-3, "momentum": 0.9},
    "saddle": {"lr": 1e-2, "momentum": 0.9},
    "quadratic": {"lr": 0.1, "momentum": 0.9},
}
PANEL_CONDITION_NUMBER = 50.0
BETA2_CHOICES = (0.5, 0.9, 0.99, 0.999, 0.9999)
EPS_CHOICES = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1)


@lru_cache(maxsize=None)
def panel_landscape(name: str):
    """One cached landscape per name (the contour is redrawn only when the picker changes)."""
    from course_lib.problems import landscapes

    if name == "quadratic":
        return landscapes.quadratic(condition_number=PANEL_CONDITION_NUMBER)
    if name in ("rosenbrock", "saddle"):
        return landscapes.get_landscape(name)
    raise ValueError(f"landscape {name!r} is not one of {list(PANEL_LANDSCAPES)}")


def adam_vs_sgd_momentum(landscape: str, lr: float, beta1: float, beta2: float, eps: float,
                         bias_correction: bool = True, steps: int = 200) -> list:
    """``[adam, sgd_momentum]`` trajectories from the landscape's start: Adam with these
    settings (without bias correction when asked) and SGD with the landscape's momentum
    setting (:data:`SGD_MOMENTUM_SETTINGS`)."""
    from course_lib.optim import SGD
    from course_lib.experiments.trajectories import run

    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {beta1}")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {beta2}")
    surface = panel_landscape(landscape)
    adam_cls = Adam if bias_correction else AdamWithoutBiasCorrection
    label = f"Adam (β₁={beta1:g}, β₂={beta2:g}, ε={eps:g})" + ("" if bias_correction
                                                               else " no bias corr.")
    sgd = SGD_MOMENTUM_SETTINGS[landscape]
    return [
        run(surface, adam_cls, steps=steps, label=label, lr=lr, betas=(beta1, beta2), eps=eps),
        run(surface, SGD, steps=steps, label=f"SGD+momentum (lr={sgd['lr']:g}, β=0.9)", **sgd),
    ]


def first_step_ratios(trajectory, lr: float, count: int = 3) -> np.ndarray:
    """|Δθ| per coordinate of the first ``count`` steps, divided by lr: shape (count, 2)."""
    path = np.asarray(trajectory.path, dtype=np.float64)
    return np.abs(np.diff(path[: count + 1], axis=0)) / lr


def panel_caption(values: dict, trajectories: list) -> str:
    """Adam's first three steps per coordinate in units of η, then each run's outcome."""
    adam = trajectories[0]
    ratios = first_step_ratios(adam, values["lr"])
    steps = ", ".join(f"({x:.2f}, {y:.2f})" for x, y in ratios)
    correction = "on" if values["bias_correction"] else "off"
    return (f"bias correction {correction}: Adam's first steps |Δθ|/η per coordinate: {steps}\n"
            + "   |   ".join(t.outcome for t in trajectories))


def adam_panel(landscape: str = "rosenbrock", lr: float = 0.1, beta1: float = 0.9,
               beta2: float = 0.999, eps: float = 1e-8, bias_correction: bool = True,
               steps: int = 200):
    """Sliders for lr, β₁, β₂, ε, a bias-correction switch and a landscape picker (Rosenbrock,
    the saddle, the κ = 50 quadratic): Adam against SGD with momentum, paths and loss curves,
    Adam's first step lengths in the caption. ``panel.update(...)`` is what the controls call."""
    import ipywidgets as widgets

    from course_lib.ui.slider_panel import SliderPanel, float_slider, landscape_picker, lr_slider

    if landscape not in PANEL_LANDSCAPES:
        raise ValueError(f"landscape {landscape!r} is not one of {list(PANEL_LANDSCAPES)}")
    if beta2 not in BETA2_CHOICES:
        raise ValueError(f"beta2 {beta2} is not one of the slider's values {BETA2_CHOICES}")
    if eps not in EPS_CHOICES:
        raise ValueError(f"eps {eps} is not one of the slider's values {EPS_CHOICES}")
    style = {"description_width": "initial"}
    panel = SliderPanel(
        lambda landscape, lr, beta1, beta2, eps, bias_correction: adam_vs_sgd_momentum(
            landscape, lr, beta1, beta2, eps, bias_correction, steps),
        {
            "landscape": landscape_picker(landscape, names=PANEL_LANDSCAPES),
            "lr": lr_slider(lr, min_exp=-3.0, max_exp=0.0, description="Adam lr η"),
            "beta1": float_slider(beta1, 0.0, 0.99, 0.01, "β₁"),
            "beta2": widgets.SelectionSlider(options=BETA2_CHOICES, value=beta2, description="β₂",
                                             continuous_update=True, style=style),
            "eps": widgets.SelectionSlider(options=EPS_CHOICES, value=eps, description="ε",
                                           continuous_update=True, style=style),
            "bias_correction": widgets.Checkbox(value=bias_correction,
                                                description="bias correction", style=style),
        },
        landscape=lambda landscape, **_: panel_landscape(landscape),
        caption=panel_caption,
        play=True,
        title="Adam vs SGD with momentum: β₁, β₂, ε and the bias correction",
    )
    return panel
