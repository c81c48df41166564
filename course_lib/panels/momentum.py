"""Notebook 03 (momentum): the heavy-ball theory on a quadratic, and the lr/β slider panel.

The theory, in torch's convention with ``dampening = 0`` (which is Polyak's heavy ball exactly):

.. math::

    b_t = \\beta\\, b_{t-1} + g_t \\quad (b_0 = g_0), \\qquad
    \\theta_{t+1} = \\theta_t - \\eta\\, b_t, \\qquad g_t = \\nabla f(\\theta_t)

(counting from the start :math:`\\theta_0`; torch's docs count from 1 and write :math:`b_1 = g_1`).

On a quadratic, each Hessian eigendirection with curvature :math:`h` evolves on its own. Writing
:math:`\\eta b_{t-1} = \\theta_{t-1} - \\theta_t` turns the two lines into one second-order
recurrence,

.. math::

    \\theta_{t+1} = (1 + \\beta - \\eta h)\\, \\theta_t - \\beta\\, \\theta_{t-1},
    \\qquad
    \\begin{pmatrix}\\theta_{t+1}\\\\ \\theta_t\\end{pmatrix}
    = \\underbrace{\\begin{pmatrix}1 + \\beta - \\eta h & -\\beta\\\\ 1 & 0\\end{pmatrix}}_{M(h)}
      \\begin{pmatrix}\\theta_t\\\\ \\theta_{t-1}\\end{pmatrix},

(torch's first step, where the buffer is the first gradient, is this recurrence with the previous
point equal to the start, :math:`\\theta_{-1} = \\theta_0`: the ball starts at rest). The error
shrinks per step by the spectral radius :math:`\\rho(M(h))`, the largest :math:`|r|` over the
roots of :math:`r^2 - (1 + \\beta - \\eta h) r + \\beta = 0`.

Symbols and argument names: :math:`\\eta` = ``lr``, :math:`\\beta` = ``momentum`` (torch's docs
call it :math:`\\mu`; here :math:`\\mu` is the smallest curvature, as in the optimisation
literature), :math:`h` = ``curvature``, :math:`\\mu, L` = ``mu``, ``L`` (smallest and largest
Hessian eigenvalue), :math:`\\kappa = L/\\mu`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

# The closed forms live in course_lib.theory.momentum; imported here so that the old names
# (``panels.momentum.heavy_ball_rate`` ...) keep working for the checkers.
from course_lib.theory.gradient_descent import gd_optimal_lr, gd_optimal_rate  # plain GD, for comparison
from course_lib.theory.momentum import (
    _check_curvatures,
    _check_lr_momentum,
    heavy_ball_matrix,
    heavy_ball_optimal_rate,
    heavy_ball_optimum,
    heavy_ball_rate,
    heavy_ball_stable_lr,
    largest_root_modulus,
    quadratic_rate,
)

__all__ = [
    "heavy_ball_matrix",
    "heavy_ball_rate",
    "quadratic_rate",
    "heavy_ball_optimum",
    "heavy_ball_optimal_rate",
    "gd_optimal_lr",
    "gd_optimal_rate",
    "heavy_ball_stable_lr",
    "PANEL_LANDSCAPES",
    "panel_landscape",
    "heavy_ball_vs_gd",
    "panel_caption",
    "momentum_panel",
]


# --------------------------------------------------------------------------------------------
# The panel: heavy ball against plain GD at the same lr, on a kappa = 50 valley or Rosenbrock.
# --------------------------------------------------------------------------------------------

PANEL_LANDSCAPES = ("quadratic", "rosenbrock")
PANEL_CONDITION_NUMBER = 50.0  # ill-conditioned enough that GD crawls and momentum visibly helps


@lru_cache(maxsize=None)
def panel_landscape(name: str):
    """The landscape the panel shows for ``name``: one cached object per name, so the contour
    is redrawn only when the picker changes. The quadratic has condition number 50."""
    from course_lib import landscapes

    if name == "quadratic":
        return landscapes.quadratic(condition_number=PANEL_CONDITION_NUMBER)
    if name == "rosenbrock":
        return landscapes.rosenbrock()
    raise ValueError(f"landscape {name!r} is not one of {list(PANEL_LANDSCAPES)}")


def heavy_ball_vs_gd(landscape: str, lr: float, momentum: float, steps: int = 150) -> list:
    """Run heavy ball (``SGD(lr, momentum)``, dampening 0) and plain GD (``SGD(lr)``) from the
    landscape's start; returns ``[heavy_ball, gd]`` trajectories. A diverging run is marked in
    its Trajectory, never raised."""
    from course_lib.optim import SGD
    from course_lib.trajectories import run

    _check_lr_momentum(lr, momentum)
    surface = panel_landscape(landscape)
    return [
        run(surface, SGD, steps=steps, label=f"heavy ball (β={momentum:.3g})", lr=lr, momentum=momentum),
        run(surface, SGD, steps=steps, label="plain GD", lr=lr),
    ]


def panel_caption(values: dict, trajectories: list) -> str:
    """The line the panel writes on its figure.

    On the quadratic: the heavy-ball optimum (lr*, β*) and its rate, GD's best rate, and the
    rate of the current sliders (from the spectral radius; "diverges" when >= 1). On Rosenbrock,
    which has no single condition number: each run's final loss or its divergence step.
    """
    surface = panel_landscape(values["landscape"])
    if values["landscape"] != "quadratic":
        return "Rosenbrock: no single optimum   |   " + "   |   ".join(t.outcome for t in trajectories)
    mu, L = surface.mu, surface.L
    lr_star, momentum_star = heavy_ball_optimum(mu, L)
    rate = quadratic_rate(values["lr"], values["momentum"], mu, L)
    yours = f"rate {rate:.3f}" + (" (diverges)" if rate >= 1.0 else "")
    return (f"optimal heavy ball: lr={lr_star:.3g}, β={momentum_star:.3g}, rate "
            f"{heavy_ball_optimal_rate(mu, L):.3f} (best GD {gd_optimal_rate(mu, L):.3f})   |   "
            f"your lr, β: {yours}")


def momentum_panel(landscape: str = "quadratic", lr: float = 1.0, momentum: float = 0.5,
                   steps: int = 150):
    """Sliders for lr and β (``momentum``) and a landscape picker (the κ = 50 quadratic or
    Rosenbrock): heavy ball and plain GD with the same lr on one contour, loss curves beside it,
    the optimum and rates in the caption, and a button that moves the sliders to Polyak's optimum
    on the quadratic. ``panel.update(landscape=..., lr=..., momentum=...)`` is what the sliders
    call; ``panel.jump_to_optimum()`` is what the button calls."""
    import ipywidgets as widgets

    from course_lib.widgets import SliderPanel, float_slider, landscape_picker, lr_slider

    if landscape not in PANEL_LANDSCAPES:
        raise ValueError(f"landscape {landscape!r} is not one of {list(PANEL_LANDSCAPES)}")
    panel = SliderPanel(
        lambda landscape, lr, momentum: heavy_ball_vs_gd(landscape, lr, momentum, steps),
        {
            "landscape": landscape_picker(landscape, names=PANEL_LANDSCAPES),
            "lr": lr_slider(lr, min_exp=-4.0, max_exp=0.75),
            "momentum": float_slider(momentum, 0.0, 0.99, 0.01, "momentum β"),
        },
        landscape=lambda landscape, **_: panel_landscape(landscape),
        caption=panel_caption,
        play=True,
        title="Heavy ball vs plain GD: same lr, same start",
    )

    def jump_to_optimum(*_):
        # Polyak's optimum exists for the quadratic only; on Rosenbrock it switches back first.
        surface = panel_landscape("quadratic")
        lr_star, momentum_star = heavy_ball_optimum(surface.mu, surface.L)
        return panel.update(landscape="quadratic", lr=lr_star, momentum=momentum_star)

    button = widgets.Button(description="optimal lr, β (quadratic)", button_style="info",
                            layout=widgets.Layout(width="auto"))
    button.on_click(jump_to_optimum)
    # room at the top for the caption line, above the axes' titles
    panel.fig.subplots_adjust(top=0.84)
    panel.jump_to_optimum = jump_to_optimum
    panel.optimum_button = button
    panel.add_control(button)
    return panel
