"""The notebook-07 panel: figure data after panel.update(...) against torch.optim.Adam and the
no-bias-correction equations written out in numpy; each "Things to try" promise of the notebook."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.problems import landscapes
from course_lib.ui.panels.adam import AdamWithoutBiasCorrection, adam_panel, first_step_ratios
from course_lib.theory.adam import steady_step_ratio
from course_lib.experiments.trajectories import run

DEFAULTS = dict(landscape="rosenbrock", lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True)


@pytest.fixture(scope="module")
def panel():
    built = adam_panel()
    yield built
    built.figure.close()


def drawn_path(panel, slot):
    x, y = panel.figure.path_lines[slot].get_data()
    return np.column_stack([x, y])


def escape_step(path):
    """First step at which |y| >= 1: the run has left the saddle."""
    hits = np.nonzero(np.abs(path[:, 1]) >= 1.0)[0]
    return int(hits[0]) if len(hits) else None


def test_drawn_adam_path_is_torch_adam(panel):
    panel.update(**DEFAULTS)
    theirs = run(landscapes.rosenbrock(), torch.optim.Adam, steps=200, lr=0.1, foreach=False)
    np.testing.assert_allclose(drawn_path(panel, 0), theirs.path, rtol=1e-10, atol=1e-12)


def test_drawn_sgd_path_is_torch_sgd_with_momentum(panel):
    panel.update(**{**DEFAULTS, "landscape": "quadratic"})
    theirs = run(landscapes.quadratic(condition_number=50.0), torch.optim.SGD, steps=200, lr=0.1,
                 momentum=0.9, foreach=False)
    np.testing.assert_allclose(drawn_path(panel, 1), theirs.path, rtol=1e-10, atol=1e-12)


def test_no_bias_correction_is_the_equations_without_it():
    # m ← β₁m + (1−β₁)g ; v ← β₂v + (1−β₂)g² ; θ ← θ − η m/(√v + ε), in numpy
    surface = landscapes.rosenbrock()
    ours = run(surface, AdamWithoutBiasCorrection, steps=50, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    theta = np.array(surface.start, dtype=np.float64)
    m = np.zeros(2)
    v = np.zeros(2)
    for step in range(50):
        g = surface.grad(torch.tensor(theta)).numpy()
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        theta = theta - 0.05 * m / (np.sqrt(v) + 1e-6)
        np.testing.assert_allclose(ours.path[step + 1], theta, rtol=1e-10, atol=1e-12)


# -- "Things to try" in notebook 07 -------------------------------------------------------------


def test_try_bias_correction_off_makes_the_first_step_316_lr(panel):
    with_correction = panel.update(**DEFAULTS)
    np.testing.assert_allclose(first_step_ratios(with_correction[0], 0.1)[0], [1.0, 1.0], rtol=1e-6)
    assert "(1.00, 1.00)" in panel.caption_artist.get_text()
    without = panel.update(**{**DEFAULTS, "bias_correction": False})
    expected = steady_step_ratio(0.9, 0.999, 1, bias_correction=False)
    np.testing.assert_allclose(first_step_ratios(without[0], 0.1)[0], [expected] * 2, rtol=1e-6)
    assert "(3.16, 3.16)" in panel.caption_artist.get_text()


def test_try_the_saddle_adam_leaves_it_first(panel):
    adam, sgd = panel.update(**{**DEFAULTS, "landscape": "saddle"})
    assert escape_step(adam.path) <= 12
    assert escape_step(sgd.path) >= 40


def test_try_large_eps_on_the_quadratic_slows_the_flat_coordinate(panel):
    small_eps = panel.update(**{**DEFAULTS, "landscape": "quadratic"})[0]
    np.testing.assert_allclose(first_step_ratios(small_eps, 0.1)[0], [1.0, 1.0], rtol=1e-5)
    large_eps = panel.update(**{**DEFAULTS, "landscape": "quadratic", "eps": 0.1})[0]
    x_ratio, y_ratio = first_step_ratios(large_eps, 0.1)[0]
    assert x_ratio > 0.9 and y_ratio < 0.3  # the flat direction's gradient is below ε


def test_try_smaller_beta2_on_rosenbrock(panel):
    default = panel.update(**DEFAULTS)[0]
    fast_v = panel.update(**{**DEFAULTS, "beta2": 0.9})[0]
    assert default.final_loss > 0.5
    assert fast_v.final_loss < 0.01


def test_bad_beta_is_reported_not_raised(panel):
    assert panel.update(**{**DEFAULTS, "beta1": 1.0}) == []
    assert "beta" in panel.error
    panel.update(**DEFAULTS)
    assert panel.error == ""
