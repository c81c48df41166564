r"""Notebook 04 (Nesterov): the momentum-vs-Nesterov panel.

Heavy ball and torch's Nesterov (``SGD(momentum=β, nesterov=True)``) with the same
:math:`\eta` and :math:`\beta`, on one contour. The theory (the matrices :math:`M(h)`,
:math:`N(h)`, rates, stability limits, Nesterov's guarantee) lives in
:mod:`course_lib.theory.nesterov` and :mod:`course_lib.theory.momentum`; the names are imported
here too so that older code (``panels.nesterov.nesterov_rate``) keeps working.

Symbols: docs/notation.md (:math:`\eta` = ``lr``, :math:`\beta` = ``momentum``, which torch's
docs call :math:`\mu`).
"""

from __future__ import annotations

import math
from functools import lru_cache

# The closed forms live in course_lib.theory; imported here so that the old names
# (``panels.nesterov.nesterov_rate`` ...) keep working for the checkers.
from course_lib.theory.momentum import _check_lr_momentum, heavy_ball_stable_lr, largest_root_modulus  # noqa: F401
from course_lib.theory.nesterov import nesterov_matrix, nesterov_rate, nesterov_stable_lr

__all__ = [
    "nesterov_matrix",
    "nesterov_rate",
    "heavy_ball_stable_lr",
    "nesterov_stable_lr",
    "momentum_vs_nesterov",
    "momentum_vs_nesterov_panel",
    "panel_caption",
    "PANEL_LANDSCAPES",
    "SUGGESTED_LR",
]


# --------------------------------------------------------------------------------------------
# The panel: heavy ball and Nesterov with the same (lr, momentum), on the same landscape.
# --------------------------------------------------------------------------------------------

#: The landscapes the picker offers, with the arguments each is built with. The quadratic is made
#: ill-conditioned (κ = 50) so that heavy ball visibly zig-zags along its steep axis.
PANEL_LANDSCAPES = {
    "quadratic": {"condition_number": 50.0},
    "rosenbrock": {},
    "beale": {},
    "himmelblau": {},
}

#: The lr slider reaches 10**LR_SLIDER_MAX_EXP = 4.
LR_SLIDER_MAX_EXP = math.log10(4.0)

#: A learning rate at which both methods converge on each landscape: what to try after both diverged.
SUGGESTED_LR = {"quadratic": 1.0, "rosenbrock": 1e-3, "beale": 3e-3, "himmelblau": 3e-3}


@lru_cache(maxsize=None)
def _landscape(name: str):
    # One object per name, so the panel redraws the contour only when the picker changes.
    from course_lib.problems.landscapes import get_landscape

    if name not in PANEL_LANDSCAPES:
        raise ValueError(f"landscape {name!r} is not one of {list(PANEL_LANDSCAPES)}")
    return get_landscape(name, **PANEL_LANDSCAPES[name])


def momentum_vs_nesterov(landscape: str, lr: float, momentum: float, steps: int = 150) -> list:
    """Run heavy ball and Nesterov (``course_lib.optim.SGD``) with the same ``lr`` and
    ``momentum`` from the landscape's start point; returns ``[heavy_ball, nesterov]``
    trajectories (labelled "heavy ball" and "Nesterov")."""
    from course_lib.optim import SGD
    from course_lib.experiments.trajectories import run

    _check_lr_momentum(lr, momentum)
    if momentum == 0:
        raise ValueError("Nesterov momentum requires a momentum and zero dampening (set momentum > 0)")
    surface = _landscape(landscape)
    return [
        run(surface, SGD, steps=steps, label="heavy ball", lr=lr, momentum=momentum),
        run(surface, SGD, steps=steps, label="Nesterov", lr=lr, momentum=momentum, nesterov=True),
    ]


def panel_caption(values: dict, trajectories: list) -> str:
    """The line written on the panel's figure: each run's final loss or where it diverged, and a
    learning rate to try when both diverged."""
    text = "   |   ".join(t.outcome for t in trajectories)
    if trajectories and all(t.diverged for t in trajectories):
        text += f"   (try lr ≈ {SUGGESTED_LR[values['landscape']]:g} here)"
    return text


def momentum_vs_nesterov_panel(
    landscape: str = "quadratic", lr: float = 1.0, momentum: float = 0.9, steps: int = 150
):
    """Sliders for lr and momentum, a landscape picker and Play: heavy ball and Nesterov with
    the same hyperparameters drawn on one contour, with both loss curves beside it.

    The caption under the sliders gives each run's final loss, or the step where it diverged.
    """
    from course_lib.ui.slider_panel import SliderPanel, float_slider, landscape_picker, lr_slider

    if landscape not in PANEL_LANDSCAPES:
        raise ValueError(f"landscape {landscape!r} is not one of {list(PANEL_LANDSCAPES)}")
    return SliderPanel(
        lambda landscape, lr, momentum: momentum_vs_nesterov(landscape, lr, momentum, steps),
        {
            "landscape": landscape_picker(landscape, names=list(PANEL_LANDSCAPES)),
            # up to lr = 4, past heavy ball's limit 2(1+β)/L = 3.8 at β = 0.9 on the quadratic (L = 1)
            "lr": lr_slider(lr, min_exp=-4.0, max_exp=LR_SLIDER_MAX_EXP),
            "momentum": float_slider(momentum, 0.05, 0.99, 0.01, "momentum β"),
        },
        landscape=lambda landscape, **_: _landscape(landscape),
        caption=panel_caption,
        play=True,
        title="Heavy ball vs Nesterov: same lr, same β, same start",
    )

