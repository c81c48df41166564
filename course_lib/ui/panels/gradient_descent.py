r"""Notebook 01 (gradient descent): the theory of GD on a quadratic, and its two slider panels.

Gradient descent with learning rate :math:`\eta` (``lr``) is

.. math::  \theta_{k+1} = \theta_k - \eta\, \nabla f(\theta_k),

which is ``torch.optim.SGD(params, lr=lr)`` (momentum 0) and ``course_lib.optim.SGD``.

**1-D.** On :math:`f(x) = \tfrac12 L x^2` (curvature :math:`L` = ``curvature``) the gradient is
:math:`Lx`, so one step multiplies the distance to the minimum :math:`x^* = 0` by a fixed factor:

.. math::  x_{k+1} = (1 - \eta L)\, x_k, \qquad x_k = (1 - \eta L)^k\, x_0 .

It converges iff :math:`|1 - \eta L| < 1`, i.e. :math:`0 < \eta < 2/L`: monotonically for
:math:`\eta < 1/L`, in one step at :math:`\eta = 1/L`, oscillating (the sign flips every step)
for :math:`1/L < \eta < 2/L`, and it diverges for :math:`\eta > 2/L`.

**2-D (any dimension).** On :math:`f(\theta) = \tfrac12 \theta^\top H \theta` each eigendirection
of :math:`H` (eigenvalue :math:`\lambda_i`, between :math:`\mu` and :math:`L`) is its own 1-D
problem with factor :math:`1 - \eta\lambda_i`. The slowest one sets the pace:

.. math::  \rho(\eta) = \max_i |1 - \eta \lambda_i| = \max(|1 - \eta\mu|,\ |1 - \eta L|),

stable iff :math:`\eta < 2/L`; the best fixed rate balances the two ends at
:math:`\eta^* = 2/(L+\mu)`, where :math:`\rho^* = (\kappa - 1)/(\kappa + 1)` with the condition
number :math:`\kappa = L/\mu`. Shrinking the error by a factor ``tol`` then takes about
:math:`\log(1/\mathrm{tol}) / \log(1/\rho^*) \approx \tfrac{\kappa}{2}\log(1/\mathrm{tol})` steps.

Panels: :func:`parabola_panel` (1-D, a zig-zag on the curve and the regime named on the plot)
and :func:`lr_condition_panel` (2-D: lr, condition number and landscape).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib.problems.landscapes import LANDSCAPES, get_landscape
from course_lib.optim import SGD
from course_lib.experiments.trajectories import DIVERGENCE_BOUND, Trajectory, run_many
from course_lib.ui.slider_panel import SliderPanel, float_slider, int_slider, landscape_picker, lr_slider

__all__ = [
    "gd_factor",
    "gd_regime",
    "gd_is_stable",
    "gd_rate",
    "gd_optimal_lr",
    "gd_optimal_rate",
    "steps_to_tolerance",
    "curvatures_at_minimum",
    "parabola_gd",
    "ParabolaFigure",
    "parabola_panel",
    "lr_condition_panel",
]

# --------------------------------------------------------------------------------------------
# Theory: the closed forms live in course_lib.theory.gradient_descent; imported here so that
# ``panels.gradient_descent.gd_rate`` and friends keep working.
# --------------------------------------------------------------------------------------------

from course_lib.theory.gradient_descent import (  # noqa: E402
    _check_curvature,
    _check_lr,
    curvatures_at_minimum,
    gd_factor,
    gd_is_stable,
    gd_optimal_lr,
    gd_optimal_rate,
    gd_rate,
    gd_regime,
    steps_to_tolerance,
)

_REGIME_TEXT = {
    "slow": "slow: ηL < 0.1, converges but each step removes < 10% of the distance",
    "monotone": "monotone: ηL < 1, converges without overshooting",
    "one step": "ηL = 1: lands on the minimum in one step",
    "oscillating": "oscillating: 1/L < η < 2/L, overshoots but still converges",
    "borderline": "borderline: η = 2/L, bounces between ±x₀ forever",
    "divergent": "divergent: η > 2/L, |1 − ηL| > 1",
}

_REGIME_COLOUR = {
    "slow": "#8a6d00",
    "monotone": "#1b7f3b",
    "one step": "#1b7f3b",
    "oscillating": "#b35900",
    "borderline": "#b00020",
    "divergent": "#b00020",
}


# --------------------------------------------------------------------------------------------
# 1-D panel: f(x) = ½ L x²
# --------------------------------------------------------------------------------------------


def parabola_gd(lr: float, curvature: float = 1.0, steps: int = 20, start: float = 1.0) -> Trajectory:
    r"""Run ``course_lib.optim.SGD(lr=lr)`` on :math:`f(x) = \tfrac12 L x^2` from :math:`x_0` = ``start``.

    Returns a Trajectory whose ``path`` is ``(k+1, 1)`` (the iterates :math:`x_k`) and ``losses``
    the :math:`f(x_k)`. Stops, marked diverged, once :math:`|x_k|` passes
    ``course_lib.experiments.trajectories.DIVERGENCE_BOUND`` (1e6), as every course trajectory does.
    """
    _check_lr(lr)
    _check_curvature(curvature)
    if steps < 0:
        raise ValueError(f"Invalid number of steps: {steps} (must be >= 0)")
    x = torch.tensor([float(start)], dtype=torch.float64, requires_grad=True)
    optimizer = SGD([x], lr=lr)
    iterates = [float(start)]
    diverged_at = None
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        (0.5 * curvature * x**2).sum().backward()
        optimizer.step()
        value = float(x.detach()[0])
        if not (math.isfinite(value) and abs(value) <= DIVERGENCE_BOUND):
            diverged_at = step
            break
        iterates.append(value)
    path = np.asarray(iterates)[:, None]
    return Trajectory(
        label=f"GD η={lr:.3g}",
        path=path,
        losses=0.5 * curvature * path[:, 0] ** 2,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        message="" if diverged_at is None else f"diverged at step {diverged_at}",
        hyperparams={"lr": lr},
    )


class ParabolaFigure:
    r"""Left: the curve :math:`\tfrac12 L x^2` with GD's iterates as a zig-zag on it and the regime
    named on top. Right: :math:`|x_k - x^*|` per step (log scale) against the closed form
    :math:`|1 - \eta L|^k |x_0|`.

    Built once; :meth:`show` moves the existing lines. ``set_problem(lr, curvature)`` tells it
    the :math:`\eta, L` that the closed form and the regime text use.
    """

    def __init__(self, lr: float = 0.1, curvature: float = 1.0):
        self.fig = Figure(figsize=(10, 3.8), layout="constrained")
        self.ax_curve, self.ax_distance = self.fig.subplots(1, 2)
        self.lr, self.curvature = lr, curvature

        (self.curve_line,) = self.ax_curve.plot([], [], color="0.6", lw=1.5, label="f(x) = ½Lx²")
        (self.path_line,) = self.ax_curve.plot(
            [], [], "o-", color="C0", ms=4, lw=1.2, label="GD iterates (x_k, f(x_k))"
        )
        (self.start_marker,) = self.ax_curve.plot([], [], "s", color="C0", ms=7)
        self.ax_curve.axvline(0.0, color="0.85", lw=1, zorder=0)
        self.ax_curve.set_xlabel("x")
        self.ax_curve.set_ylabel("f(x)")
        self.regime_text = self.ax_curve.text(
            0.5, 0.97, "", transform=self.ax_curve.transAxes, ha="center", va="top",
            fontsize=10, fontweight="bold",
        )
        self.factor_text = self.ax_curve.text(
            0.5, 0.87, "", transform=self.ax_curve.transAxes, ha="center", va="top", fontsize=9
        )
        self.divergence_text = self.ax_curve.text(
            0.5, 0.5, "", transform=self.ax_curve.transAxes, ha="center", va="center",
            fontsize=12, color="#b00020", fontweight="bold",
            bbox={"facecolor": "white", "edgecolor": "#b00020", "alpha": 0.9},
        )

        (self.distance_line,) = self.ax_distance.plot([], [], "o-", color="C0", ms=3, label="GD: |x_k|")
        (self.closed_form_line,) = self.ax_distance.plot(
            [], [], "--", color="k", lw=1, label="closed form |1 − ηL|ᵏ·|x₀|"
        )
        self.ax_distance.set_yscale("log", nonpositive="mask")
        self.ax_distance.set_xlabel("step k")
        self.ax_distance.set_ylabel("distance to the minimum |x_k − x*|")
        self.ax_distance.legend(loc="lower left", fontsize=8)

    def set_problem(self, lr: float, curvature: float) -> None:
        self.lr, self.curvature = float(lr), float(curvature)

    def show(self, trajectories) -> None:
        (trajectory,) = trajectories  # the 1-D panel draws exactly one run
        xs = trajectory.path[:, 0]
        fx = trajectory.losses
        x0 = abs(xs[0]) if xs[0] != 0 else 1.0
        # The window covers the start and every iterate up to 8|x0|; a diverging run leaves it,
        # and the message below says so.
        half_width = min(max(1.3 * x0, 1.1 * np.max(np.abs(xs))), 8.0 * x0)
        grid = np.linspace(-half_width, half_width, 201)
        self.curve_line.set_data(grid, 0.5 * self.curvature * grid**2)
        self.path_line.set_data(xs, fx)
        self.start_marker.set_data(xs[:1], fx[:1])
        self.ax_curve.set_xlim(-half_width, half_width)
        self.ax_curve.set_ylim(-0.05 * self.curvature * half_width**2, 0.62 * self.curvature * half_width**2)

        regime = gd_regime(self.lr, self.curvature)
        self.regime_text.set_text(_REGIME_TEXT[regime])
        self.regime_text.set_color(_REGIME_COLOUR[regime])
        factor = 1.0 - self.lr * self.curvature
        self.factor_text.set_text(
            f"η = {self.lr:.3g}, L = {self.curvature:.3g}: ηL = {self.lr * self.curvature:.3g}, "
            f"1 − ηL = {factor:.3g}, 2/L = {2 / self.curvature:.3g}"
        )
        if trajectory.diverged:
            warning = f"{trajectory.message}: |x| passed {DIVERGENCE_BOUND:.0e}"
        elif regime == "divergent":
            warning = f"diverging: |x| grows ×{abs(factor):.3g} every step"
        else:
            warning = ""
        self.divergence_text.set_text(warning)
        self.divergence_text.set_visible(bool(warning))

        steps = np.arange(len(xs))
        self.distance_line.set_data(steps, np.abs(xs))
        self.closed_form_line.set_data(steps, np.abs(factor) ** steps * abs(xs[0]))
        self.ax_distance.set_xlim(-0.5, max(len(xs) - 0.5, 1.5))
        self.ax_distance.relim()
        self.ax_distance.autoscale_view(scalex=False)


def parabola_panel(lr: float = 0.3, curvature: float = 1.0, steps: int = 20, *, play: bool = True) -> SliderPanel:
    r"""GD on :math:`\tfrac12 L x^2` from :math:`x_0 = 1`: sliders for :math:`\eta` (log scale),
    :math:`L` and the number of steps; the regime (slow, monotone, oscillating: all three converge; divergent) is
    named on the plot and the distance plot carries the closed form :math:`|1-\eta L|^k`."""
    figure = ParabolaFigure(lr, curvature)

    def compute(lr, curvature, steps):
        trajectory = parabola_gd(lr, curvature, steps)  # validates before the figure changes
        figure.set_problem(lr, curvature)
        return [trajectory]

    return SliderPanel(
        compute,
        {
            "lr": lr_slider(lr, min_exp=-2, max_exp=1, step=0.02),
            "curvature": float_slider(curvature, 0.25, 4.0, 0.25, "curvature L"),
            "steps": int_slider(steps, 1, 60, "steps"),
        },
        figure=figure,
        play=play,
        title="Gradient descent on f(x) = ½·L·x²",
    )


# --------------------------------------------------------------------------------------------
# 2-D panel: lr and condition number on the ill-conditioned quadratic, or any landscape
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _landscape(name: str, condition_number: float):
    # Cached, so the same slider values give the same object and the contour is not redrawn.
    if name == "quadratic":
        return get_landscape("quadratic", condition_number=condition_number)
    return get_landscape(name)


def _caption(landscape, lr: float, name: str) -> str:
    """Two lines: the curvatures and the stability limit 2/L; the rate at this lr (and η*)."""
    curvatures = curvatures_at_minimum(landscape)
    if curvatures is None:
        return f"{name}: no minimum, so no stability limit (the path runs off downhill)\nη = {lr:.3g}"
    mu, L = curvatures
    rate = gd_rate(lr, [mu, L])
    if rate >= 1.0:
        pace = "grows: diverges" if rate > 1.0 else "never shrinks"
    else:
        pace = f"≈ {steps_to_tolerance(rate, 0.1)} steps per 10× closer"
    if name == "quadratic":
        return (
            f"quadratic: μ = {mu:.3g}, L = {L:.3g}, κ = L/μ = {L / mu:.3g} · stable iff η < 2/L = {2 / L:.3g}\n"
            f"η = {lr:.3g}: rate max|1 − ηλᵢ| = {rate:.3g} ({pace}) · best η* = 2/(L+μ) = "
            f"{gd_optimal_lr(mu, L):.3g}, rate (κ−1)/(κ+1) = {gd_optimal_rate(mu, L):.3g}"
        )
    return (
        f"{name}, Hessian at the minimum: μ = {mu:.3g}, L = {L:.3g}, κ = {L / mu:.3g}"
        f" · stable there iff η < 2/L = {2 / L:.3g}\n"
        f"η = {lr:.3g}: rate near the minimum max|1 − ηλᵢ| = {rate:.3g} ({pace})"
    )


def lr_condition_panel(
    lr: float = 0.5,
    condition_number: float = 10.0,
    steps: int = 100,
    landscape: str = "quadratic",
    *,
    play: bool = True,
) -> SliderPanel:
    r"""GD (``course_lib.optim.SGD``) on a 2-D landscape with sliders for :math:`\eta`, the
    quadratic's condition number :math:`\kappa` and the number of steps, and a landscape picker.

    On the quadratic a second run at the best fixed rate :math:`\eta^* = 2/(L+\mu)` is drawn for
    comparison (toggle ``best η*``), and the caption states :math:`2/L`, your rate
    :math:`\max_i|1-\eta\lambda_i|` and :math:`(\kappa-1)/(\kappa+1)`. On other landscapes the
    same numbers come from the Hessian at the minimum.
    """

    def compute(lr, condition_number, steps, landscape, compare_best):
        _check_lr(lr)
        surface = _landscape(landscape, float(condition_number))
        runs = [(f"GD η={lr:.3g}", SGD, {"lr": lr})]
        if compare_best and landscape == "quadratic":
            best = gd_optimal_lr(surface.mu, surface.L)
            runs.append((f"GD η*=2/(L+μ)={best:.3g}", SGD, {"lr": best}))
        return run_many(surface, runs, steps=steps)

    def caption(values, trajectories):
        surface = _landscape(values["landscape"], float(values["condition_number"]))
        return _caption(surface, values["lr"], values["landscape"])

    import ipywidgets as widgets

    return SliderPanel(
        compute,
        {
            "lr": lr_slider(lr, min_exp=-4, max_exp=1, step=0.02),
            "condition_number": float_slider(condition_number, 1.0, 100.0, 0.02, "condition number κ", log=True),
            "steps": int_slider(steps, 10, 500, "steps", step=10),
            "landscape": landscape_picker(landscape, [name for name in LANDSCAPES if name != "noisy"]),
            "compare_best": widgets.Checkbox(value=True, description="best η*", indent=False),
        },
        landscape=lambda landscape, condition_number, **_: _landscape(landscape, float(condition_number)),
        caption=caption,
        play=play,
        title="Gradient descent: learning rate vs condition number",
    )
