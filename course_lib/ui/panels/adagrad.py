r"""Notebook 05 (Adagrad): the panel that shows a diagonal preconditioner at work.

Adagrad (``lr`` :math:`\eta`, ``eps`` :math:`\epsilon`) and plain gradient descent at *its* best
fixed learning rate :math:`2/(L+\mu)` run side by side on an ill-conditioned quadratic whose
condition number :math:`\kappa` and orientation (along the axes, or turned by 45°) are sliders.
On the axis-aligned valley Adagrad's path does not depend on :math:`\kappa` at all
(``course_lib.theory.adagrad.adagrad_diagonal_quadratic_path``); turned, the same valley slows it
down as :math:`\kappa` grows: the steep direction's gradients fill *both* accumulators, so both
effective learning rates settle near the same value of order :math:`1/L` and the flat direction
crawls as under gradient descent (a per-coordinate step size cannot undo a rotation). Both runs
start from :data:`START`.

The theory the panel relies on lives in :mod:`course_lib.theory.adagrad`; this module only builds
the widgets. ``panel.update(kappa=..., orientation=..., lr=..., eps=...)`` is what the sliders call.
"""

from __future__ import annotations

from functools import lru_cache

from course_lib.problems import landscapes
from course_lib.optim import SGD, Adagrad
from course_lib.experiments.trajectories import run

__all__ = ["START", "ORIENTATIONS", "panel_landscape", "adagrad_vs_gd", "panel_caption", "adagrad_panel"]

#: where both runs start, on either orientation: a generic point. The landscapes' own start
#: (-1.5, 1.5) lies exactly on the turned valley's flat eigenvector (1, -1), where Adagrad (in
#: exact arithmetic) never leaves it and the result does not depend on κ (notebook 05, section 2)
START = (-1.5, 1.0)

#: orientation name -> angle in degrees
ORIENTATIONS = {"along the axes": 0.0, "turned 45°": 45.0}


@lru_cache(maxsize=64)
def panel_landscape(kappa: float, orientation: str):
    """The valley for these slider values; one cached object per (κ, orientation) so the contour
    is redrawn only when one of them changes."""
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation {orientation!r} is not one of {list(ORIENTATIONS)}")
    if ORIENTATIONS[orientation] == 0.0:
        return landscapes.quadratic(condition_number=kappa)
    return landscapes.rotated_quadratic(condition_number=kappa, angle=ORIENTATIONS[orientation])


@lru_cache(maxsize=64)
def _best_gd(kappa: float, orientation: str, steps: int):
    # GD's run depends only on the valley, not on Adagrad's sliders: computed once per valley
    # (Trajectory objects are only read by the figure)
    valley = panel_landscape(kappa, orientation)
    best_gd_lr = 2.0 / (valley.L + valley.mu)
    return run(valley, SGD, start=START, steps=steps, label=f"GD at its best lr {best_gd_lr:.3g}",
               lr=best_gd_lr)


def adagrad_vs_gd(kappa: float, orientation: str, lr: float, eps: float, steps: int = 150) -> list:
    """``[Adagrad(lr, eps), GD at lr = 2/(L+μ)]`` trajectories from :data:`START`.
    A diverging run is marked in its Trajectory, never raised."""
    if not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not eps >= 0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    valley = panel_landscape(float(kappa), orientation)
    adagrad = run(valley, Adagrad, start=START, steps=steps, label=f"Adagrad (lr={lr:.3g}, eps={eps:.0e})",
                  lr=lr, eps=eps)
    return [adagrad, _best_gd(float(kappa), orientation, steps)]


def panel_caption(values: dict, trajectories: list) -> str:
    """Each run's final loss (or divergence), and the distance Adagrad still has to go."""
    if not trajectories:
        return ""
    adagrad = trajectories[0]
    distance = float((adagrad.final_point**2).sum() ** 0.5)
    return ("   |   ".join(t.outcome for t in trajectories)
            + f"\nAdagrad ends {distance:.2e} from the minimum after {adagrad.steps} steps")


def adagrad_panel(kappa: float = 50.0, orientation: str = "along the axes", lr: float = 0.3,
                  eps: float = 1e-10, steps: int = 150):
    """Sliders for κ, the valley's orientation, Adagrad's lr and eps; Adagrad and GD (at its own
    best lr) on one contour, loss curves beside it, final losses in the caption."""
    import ipywidgets as widgets

    from course_lib.ui.slider_panel import SliderPanel, float_slider, lr_slider

    panel_landscape(float(kappa), orientation)  # validates
    return SliderPanel(
        lambda kappa, orientation, lr, eps: adagrad_vs_gd(kappa, orientation, lr, eps, steps),
        {
            "kappa": float_slider(kappa, 1.0, 1000.0, 0.1, "condition number κ", log=True),
            "orientation": widgets.Dropdown(options=list(ORIENTATIONS), value=orientation,
                                            description="valley"),
            "lr": lr_slider(lr, min_exp=-3.0, max_exp=1.0),
            "eps": float_slider(eps, 1e-10, 10.0, 0.5, "eps ε", log=True),
        },
        landscape=lambda kappa, orientation, **_: panel_landscape(float(kappa), orientation),
        caption=panel_caption,
        play=True,
        title="Adagrad vs gradient descent on a valley: along the axes, or turned",
    )
