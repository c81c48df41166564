"""Every "Things to try" suggestion under a panel in notebooks 01-02 does what the text promises
(on the panel's own seed; `tests/test_claims_01_*.py` and `test_claims_02_*.py` check the
claims over seeds, and notebooks 03-04's panels are tested in `tests/test_claims_03_*.py` and
`test_claims_04_*.py`).

Each test sets the sliders the notebook names through ``panel.update(...)``, the same call the
sliders make, and asserts the outcome the text describes. The texts point here; when a panel or
a suggestion changes, the matching test must change with it.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib.theory import gradient_descent as gd_theory
from course_lib.theory import momentum as hb_theory
from course_lib.theory import nesterov as nag_theory


def visible_texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


# --------------------------------------------------------------------------------------------
# Notebook 01
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parabola():
    from course_lib.ui.panels import gradient_descent as gd

    panel = gd.parabola_panel()
    yield panel
    matplotlib.pyplot.close(panel.fig)


def test_01_parabola_oscillating_still_converges(parabola):
    (monotone,) = parabola.update(lr=0.5, curvature=1.0, steps=20)
    assert parabola.figure.regime_text.get_text().startswith("monotone")
    assert np.all(monotone.path[:, 0] > 0)                      # approaches from one side
    (zigzag,) = parabola.update(lr=1.5, curvature=1.0, steps=20)
    assert parabola.figure.regime_text.get_text().startswith("oscillating")
    signs = np.sign(zigzag.path[:, 0])
    assert np.all(signs[1:] == -signs[:-1])                       # crosses the minimum every step
    assert abs(zigzag.path[-1, 0]) < 1e-5 and not zigzag.diverged


def test_01_parabola_one_step(parabola):
    (trajectory,) = parabola.update(lr=1.0, curvature=1.0, steps=20)
    assert trajectory.path[1, 0] == 0.0
    assert parabola.figure.regime_text.get_text().startswith("ηL = 1")


def test_01_parabola_above_two_over_L_diverges(parabola):
    (trajectory,) = parabola.update(lr=2.2, curvature=1.0, steps=20)
    assert np.all(np.diff(np.abs(trajectory.path[:, 0])) > 0)     # the zig-zag grows
    assert any("diverg" in text for text in visible_texts(parabola.fig))


def test_01_parabola_steeper_curve_moves_the_limit(parabola):
    (fine,) = parabola.update(lr=0.6, curvature=1.0, steps=60)
    assert not fine.diverged and abs(fine.path[-1, 0]) < 1e-6
    (trajectory,) = parabola.update(lr=0.6, curvature=4.0, steps=60)
    assert trajectory.diverged and gd_theory.gd_regime(0.6, 4.0) == "divergent"
    assert "2/L = 0.5" in parabola.figure.factor_text.get_text()


def test_01_parabola_small_lr_is_slow(parabola):
    (trajectory,) = parabola.update(lr=0.05, curvature=1.0, steps=20)
    assert parabola.figure.regime_text.get_text().startswith("slow")
    np.testing.assert_allclose(trajectory.path[1:, 0] / trajectory.path[:-1, 0], 0.95, rtol=1e-12)


@pytest.fixture(scope="module")
def lr_condition():
    from course_lib.ui.panels import gradient_descent as gd

    panel = gd.lr_condition_panel()
    yield panel
    matplotlib.pyplot.close(panel.fig)


def test_01_2d_past_two_over_L_leaves_along_the_steep_axis(lr_condition):
    mine, best = lr_condition.update(lr=2.2, condition_number=10.0, landscape="quadratic")
    assert mine.diverged and not best.diverged
    x, y = mine.path[-1]
    assert abs(x) > 1e3 and abs(y) < 1.5                          # blew up along x only
    assert any("diverged at step" in text for text in visible_texts(lr_condition.fig))


def test_01_2d_small_lr_crawls_along_the_flat_axis(lr_condition):
    mine, _ = lr_condition.update(lr=0.1, condition_number=10.0, landscape="quadratic", steps=100)
    x, y = mine.path[-1]
    x0, y0 = mine.path[0]
    assert abs(x) < 1e-3 * abs(x0)                                 # x settled long ago
    assert abs(y) > abs(y0) / 3                                    # y still over a third of the way


def test_01_2d_raising_kappa_slows_the_rate(lr_condition):
    counts = {}
    for kappa in (10.0, 100.0):
        lr_condition.update(lr=0.5, condition_number=kappa, landscape="quadratic")
        rate = gd_theory.gd_rate(0.5, [1.0, 1.0 / kappa])
        counts[kappa] = gd_theory.steps_to_tolerance(rate, 0.1)
        assert f"≈ {counts[kappa]} steps per 10× closer" in lr_condition.caption_artist.get_text()
    assert 8 <= counts[100.0] / counts[10.0] <= 12


def test_01_2d_rosenbrock_caption_uses_the_hessian_at_the_minimum(lr_condition):
    lr_condition.update(landscape="rosenbrock", lr=1e-3)
    caption = lr_condition.caption_artist.get_text()
    assert "Hessian at the minimum" in caption and "2/L = 0.002" in caption
    lr_condition.update(landscape="quadratic")


# --------------------------------------------------------------------------------------------
# Notebook 02 (each slider move trains the network for 1000 updates)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_panel():
    from course_lib.ui.panels.batch_minibatch_sgd import batch_size_panel

    panel = batch_size_panel()
    yield panel
    matplotlib.pyplot.close(panel.fig)


def _samples_to(run, loss):
    reached = np.flatnonzero(run.losses <= loss)
    return run.samples_seen[reached[0]]


def test_02_smaller_batches_track_per_update_and_save_samples(batch_panel):
    samples = {}
    for batch_size in (1000, 100, 10, 1):
        runs = batch_panel.update(batch_size=batch_size, lr=0.1)
        full, chosen = runs[0], runs[-1]
        samples[batch_size] = _samples_to(chosen, 0.05)
        if batch_size == 100:
            assert chosen.losses[-1] < 1.1 * full.losses[-1]     # close to the grey curve
        if batch_size == 1:
            assert chosen.losses[-1] > 1.5 * full.losses[-1]     # ends above it
    assert samples[1000] > samples[100] > samples[10] > samples[1]


def _lr_notch(exponent: float) -> float:
    """The lr slider's value at 10**exponent (it is log-spaced: 0.05 per notch in the exponent),
    as the slider itself rounds it."""
    return 10 ** exponent


@pytest.mark.parametrize("exponent, single_diverges, full_diverges", [
    (-0.8, False, False),   # η ≈ 0.16: both converge
    (-0.75, True, False),   # η ≈ 0.18: single-sample SGD diverges, the full batch converges
    (-0.7, True, False),    # η ≈ 0.20
    (-0.6, True, False),    # η ≈ 0.25: the full batch still converges
    (-0.55, True, True),    # η ≈ 0.28: now the full batch diverges too
])
def test_02_batch_size_one_diverges_before_the_full_batch(batch_panel, exponent, single_diverges,
                                                           full_diverges):
    lr = _lr_notch(exponent)
    batch_panel.sliders["lr"].value = lr          # a value the slider really offers
    assert batch_panel.sliders["lr"].value == pytest.approx(lr)
    full, single = batch_panel.update(batch_size=1, lr=lr)
    assert (single.diverged_at is not None) == single_diverges
    assert (full.diverged_at is not None) == full_diverges
    if not full_diverges:
        assert full.losses[-1] < full.losses[0]
    if not single_diverges:
        assert single.losses[-1] < single.losses[0]


def test_02_smaller_step_ends_closer_to_the_noise_floor(batch_panel):
    smaller = batch_panel.update(batch_size=1, lr=0.05)[-1].losses[-1]
    larger = batch_panel.update(batch_size=1, lr=0.1)[-1].losses[-1]
    assert smaller < larger
