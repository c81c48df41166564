r"""Notebook 03 (momentum): the lr/β slider panel, heavy ball against plain GD.

The theory (the 2x2 matrix :math:`M(h)` per eigendirection, rates, Polyak's optimum, the
stability limit :math:`2(1+\beta)/L`) lives in :mod:`course_lib.theory.momentum`; the names are
imported here too so that older code (``panels.momentum.heavy_ball_rate``) keeps working.

Symbols: docs/notation.md (:math:`\eta` = ``lr``, :math:`\beta` = ``momentum``, which torch's
docs call :math:`\mu`; :math:`\mu, L` the extreme curvatures).
"""

from __future__ import annotations

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
    "optimum_on_notches",
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
    from course_lib.problems import landscapes

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
    from course_lib.experiments.trajectories import run

    _check_lr_momentum(lr, momentum)
    surface = panel_landscape(landscape)
    runs = [
        run(surface, SGD, steps=steps, label=f"heavy ball (β={momentum:.3g})", lr=lr, momentum=momentum),
        run(surface, SGD, steps=steps, label="plain GD", lr=lr),
    ]
    if landscape == "quadratic":  # the closed form says which run diverges, however slowly
        diverges = [quadratic_rate(lr, beta, surface.mu, surface.L) > 1.0 for beta in (momentum, 0.0)]
    else:
        diverges = [trajectory.diverged for trajectory in runs]
    return [stop_outside_window(surface, t) if d else t for t, d in zip(runs, diverges)]


def stop_outside_window(surface, trajectory):
    """For a run that diverges: ``trajectory`` cut after its first point outside the plot window (``surface.xlim``,
    ``surface.ylim``, widened by half its size), marked diverging with the step it left.

    A diverging run grows geometrically; drawn in full, its first huge steps would be straight
    lines across the whole contour and hide the run that converges. Cut at the window's edge,
    the path shows where it went and the message says that it left.
    """
    import dataclasses

    (x_low, x_high), (y_low, y_high) = surface.xlim, surface.ylim
    x_pad, y_pad = 0.5 * (x_high - x_low), 0.5 * (y_high - y_low)
    path = trajectory.path
    outside = ((path[:, 0] < x_low - x_pad) | (path[:, 0] > x_high + x_pad)
               | (path[:, 1] < y_low - y_pad) | (path[:, 1] > y_high + y_pad))
    if not outside.any():
        return trajectory
    step = int(np.argmax(outside))
    return dataclasses.replace(
        trajectory, path=path[: step + 1], losses=trajectory.losses[: step + 1], diverged=True,
        diverged_at=step, message=f"diverges: left the plot at step {step}")


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
    gd_rate = quadratic_rate(values["lr"], 0.0, mu, L)
    gd_note = f"plain GD at this lr: rate {gd_rate:.3f}" + (
        f" (diverges: lr > 2/L = {2 / L:.3g})" if gd_rate >= 1.0 else "")
    return (f"optimal heavy ball: lr={lr_star:.3g}, β={momentum_star:.3g}, rate "
            f"{heavy_ball_optimal_rate(mu, L):.3f} (best GD {gd_optimal_rate(mu, L):.3f})\n"
            f"your lr, β: {yours}   |   {gd_note}")


def optimum_on_notches(lrs, momenta, mu: float, L: float) -> tuple[float, float]:
    r"""The pair of slider notches ``(lr, β)`` with the smallest rate :func:`quadratic_rate` on
    curvatures :math:`[\mu, L]`: what the panel's button sets.

    Polyak's :math:`(\eta^*, \beta^*)` lies between notches, and in the browser a slider moves a
    value to its nearest notch (and sends that back): on the panel's quadratic, the nearest
    notches of :math:`\eta^* = 3.07` and :math:`\beta^* = 0.566` are 3.16 and 0.57, past heavy
    ball's stability limit :math:`\eta < 2(1+\beta)/L`, so they diverge. The best pair of notches
    converges at a rate a little above the optimum's (the caption shows both).
    """
    rates = [(quadratic_rate(lr, beta, mu, L), lr, beta) for lr in lrs for beta in momenta]
    _, lr, beta = min(rates)
    # the browser's notches are exact to its readout (0.59, not 0.5900000000000001)
    return float(lr), round(float(beta), 12)


def momentum_panel(landscape: str = "quadratic", lr: float = 1.0, momentum: float = 0.5,
                   steps: int = 150):
    """Sliders for lr and β (``momentum``) and a landscape picker (the κ = 50 quadratic or
    Rosenbrock): heavy ball and plain GD with the same lr on one contour, loss curves beside it,
    the optimum and rates in the caption, and a button that moves the sliders to the pair of
    notches closest in rate to Polyak's optimum on the quadratic (:func:`optimum_on_notches`).
    ``panel.update(landscape=..., lr=..., momentum=...)`` is what the sliders call;
    ``panel.jump_to_optimum()`` is what the button calls."""
    import ipywidgets as widgets

    from course_lib.ui.slider_panel import SliderPanel, float_slider, landscape_picker, lr_slider, slider_notches

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

    # Polyak's optimum exists for the quadratic only; on Rosenbrock the button switches back first.
    surface = panel_landscape("quadratic")
    lr_best, momentum_best = optimum_on_notches(slider_notches(panel.sliders["lr"]),
                                                slider_notches(panel.sliders["momentum"]), surface.mu, surface.L)
    optimum = {"landscape": "quadratic", "lr": lr_best, "momentum": momentum_best}
    button = panel.add_preset("optimal lr, β (quadratic)", optimum, button_style="info",
                              layout=widgets.Layout(width="auto"))
    # room at the top for the two caption lines, above the axes' titles
    panel.fig.subplots_adjust(top=0.80)
    panel.jump_to_optimum = lambda *_: panel.update(**optimum)
    panel.optimum_button = button
    return panel
