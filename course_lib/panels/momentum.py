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

import cmath
import math
from functools import lru_cache

import numpy as np

from .gradient_descent import gd_optimal_lr, gd_optimal_rate  # plain GD, for comparison

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


def _check_curvatures(mu: float, L: float) -> None:
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"Invalid smallest curvature mu: {mu} (must be > 0)")
    if not (math.isfinite(L) and L >= mu):
        raise ValueError(f"Invalid largest curvature L: {L} (must be >= mu = {mu})")


def _check_lr_momentum(lr: float, momentum: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum value: {momentum} (must be in [0, 1))")


def heavy_ball_matrix(lr: float, momentum: float, curvature: float) -> np.ndarray:
    """The 2x2 matrix :math:`M(h) = [[1 + \\beta - \\eta h, -\\beta], [1, 0]]` that maps
    :math:`(\\theta_t, \\theta_{t-1})` to :math:`(\\theta_{t+1}, \\theta_t)` along an eigendirection
    of curvature :math:`h` (= ``curvature``), with :math:`\\eta` = ``lr``, :math:`\\beta` = ``momentum``."""
    _check_lr_momentum(lr, momentum)
    return np.array([[1.0 + momentum - lr * curvature, -momentum], [1.0, 0.0]])


def heavy_ball_rate(lr: float, momentum: float, curvature: float) -> float:
    """Spectral radius :math:`\\rho(M(h))`: the factor by which heavy ball shrinks the error per
    step along a direction of curvature :math:`h`.

    The roots of :math:`r^2 - (1 + \\beta - \\eta h) r + \\beta = 0` are
    :math:`r = \\tfrac12\\big(c \\pm \\sqrt{c^2 - 4\\beta}\\big)` with :math:`c = 1 + \\beta - \\eta h`.
    When :math:`c^2 < 4\\beta` they are complex conjugates with :math:`|r| = \\sqrt\\beta`: the
    error spirals in, and the rate does not depend on :math:`\\eta` or :math:`h` at all.
    A rate >= 1 means that direction does not converge (> 1: it diverges).
    """
    _check_lr_momentum(lr, momentum)
    return largest_root_modulus(1.0 + momentum - lr * curvature, momentum)


def largest_root_modulus(c: float, d: float) -> float:
    """The larger modulus of the two (possibly complex) roots of :math:`r^2 - c\\,r + d = 0`:
    the spectral radius of a 2x2 iteration matrix with trace :math:`c` and determinant :math:`d`."""
    root = cmath.sqrt(c * c - 4.0 * d)
    return max(abs((c + root) / 2.0), abs((c - root) / 2.0))


def quadratic_rate(lr: float, momentum: float, mu: float, L: float) -> float:
    """Worst rate over all curvatures in :math:`[\\mu, L]`: :math:`\\max(\\rho(M(\\mu)), \\rho(M(L)))`.

    The worst direction is always one of the two extremes: :math:`\\rho` equals
    :math:`\\sqrt\\beta` in the middle band where the roots are complex and grows towards the ends.
    ``momentum=0`` gives plain gradient descent, :math:`\\max(|1 - \\eta\\mu|, |1 - \\eta L|)`.
    """
    _check_curvatures(mu, L)
    return max(heavy_ball_rate(lr, momentum, mu), heavy_ball_rate(lr, momentum, L))


def heavy_ball_optimum(mu: float, L: float) -> tuple[float, float]:
    """Polyak's optimal heavy-ball step for a quadratic with curvatures in :math:`[\\mu, L]`:

    .. math::

        \\eta^* = \\frac{4}{(\\sqrt L + \\sqrt\\mu)^2}, \\qquad
        \\beta^* = \\left(\\frac{\\sqrt\\kappa - 1}{\\sqrt\\kappa + 1}\\right)^2, \\qquad \\kappa = L/\\mu.

    Returned as ``(lr, momentum)``, ready for ``SGD(lr=..., momentum=...)`` (dampening 0). At this
    point both extreme directions sit exactly where their roots turn complex, so every direction
    converges at the same rate :math:`\\sqrt{\\beta^*}`.
    """
    _check_curvatures(mu, L)
    sqrt_mu, sqrt_L = math.sqrt(mu), math.sqrt(L)
    lr = 4.0 / (sqrt_L + sqrt_mu) ** 2
    momentum = ((sqrt_L - sqrt_mu) / (sqrt_L + sqrt_mu)) ** 2
    return lr, momentum


def heavy_ball_optimal_rate(mu: float, L: float) -> float:
    """:math:`\\rho^* = (\\sqrt\\kappa - 1)/(\\sqrt\\kappa + 1)`, the rate at :func:`heavy_ball_optimum`."""
    _check_curvatures(mu, L)
    sqrt_kappa = math.sqrt(L / mu)
    return (sqrt_kappa - 1.0) / (sqrt_kappa + 1.0)


def heavy_ball_stable_lr(momentum: float, L: float) -> float:
    """Largest stable heavy-ball learning rate on curvatures up to ``L``: :math:`2(1 + \\beta)/L`.

    (At :math:`\\eta L = 2(1 + \\beta)` a root of :math:`r^2 - (1 + \\beta - \\eta L) r + \\beta` reaches
    -1.) Momentum raises plain gradient descent's limit :math:`2/L` by the factor :math:`1 + \\beta`.
    """
    _check_lr_momentum(1.0, momentum)
    if not L > 0:
        raise ValueError(f"Invalid largest curvature L: {L} (must be > 0)")
    return 2.0 * (1.0 + momentum) / L


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
