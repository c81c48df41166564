"""Notebook 05's panel, through panel.update: figure data against course_lib's theory and the
"Things to try" promises of the notebook, each asserted here."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib.ui.panels.adagrad import START, adagrad_panel, panel_landscape
from course_lib.theory.adagrad import adagrad_diagonal_quadratic_path


@pytest.fixture(scope="module")
def panel():
    built = adagrad_panel()
    yield built
    built.figure.close()


def path_data(panel, slot):
    x, y = panel.figure.path_lines[slot].get_data()
    return np.column_stack([x, y])


def distance_left(panel):
    return float(np.linalg.norm(panel.trajectories[0].final_point))


def test_adagrad_path_is_the_kappa_free_recurrence(panel):
    panel.update(kappa=50.0, orientation="along the axes", lr=0.3, eps=1e-10)
    np.testing.assert_allclose(path_data(panel, 0),
                               adagrad_diagonal_quadratic_path(START, lr=0.3, steps=150),
                               rtol=1e-6, atol=1e-9)


def test_gd_runs_at_its_best_lr(panel):
    panel.update(kappa=20.0, orientation="along the axes", lr=0.3, eps=1e-10)
    gd = panel.trajectories[1]
    assert gd.hyperparams["lr"] == pytest.approx(2 / (1 + 1 / 20))
    rate = (20 - 1) / (20 + 1)
    assert abs(gd.path[-1, 1]) == pytest.approx(abs(gd.path[0, 1]) * rate**150, rel=1e-6)


def test_caption_names_both_runs_and_the_distance(panel):
    panel.update(kappa=50.0, orientation="turned 45°", lr=0.3, eps=1e-10)
    caption = panel.caption_artist.get_text()
    assert "Adagrad" in caption and "GD at its best lr" in caption
    assert f"{distance_left(panel):.2e}" in caption


# -- Things to try (notebook 05, section 6) ----------------------------------------------------


def test_try_kappa_along_the_axes_changes_nothing_for_adagrad(panel):
    paths, gd_distances = [], []
    for kappa in (1.0, 1000.0):
        panel.update(kappa=kappa, orientation="along the axes", lr=0.3, eps=1e-10)
        paths.append(path_data(panel, 0))
        gd_distances.append(float(np.linalg.norm(panel.trajectories[1].final_point)))
    np.testing.assert_allclose(paths[0], paths[1], rtol=1e-6, atol=1e-9)
    # gradient descent at its best lr: there in one step at κ = 1, far off at κ = 1000
    assert gd_distances[0] < 1e-6 < 0.5 < gd_distances[1]


def test_try_turning_the_valley_brings_kappa_back(panel):
    panel.update(kappa=1000.0, orientation="along the axes", lr=0.3, eps=1e-10)
    assert distance_left(panel) < 1e-6
    panel.update(kappa=1000.0, orientation="turned 45°", lr=0.3, eps=1e-10)
    assert distance_left(panel) > 1.0
    # no closer than gradient descent at its best lr
    assert distance_left(panel) >= float(np.linalg.norm(panel.trajectories[1].final_point))


def test_both_runs_start_at_the_generic_point(panel):
    for orientation in ("along the axes", "turned 45°"):
        panel.update(kappa=50.0, orientation=orientation, lr=0.3, eps=1e-10)
        for trajectory in panel.trajectories:
            np.testing.assert_array_equal(trajectory.path[0], START)


def test_try_a_small_lr_stalls(panel):
    panel.update(kappa=50.0, orientation="along the axes", lr=0.01, eps=1e-10)
    assert distance_left(panel) > 1.0


def test_try_a_large_eps_undoes_the_equalisation(panel):
    finals = []
    for kappa in (1.0, 1000.0):
        panel.update(kappa=kappa, orientation="along the axes", lr=0.3, eps=1.0)
        finals.append(panel.trajectories[0].final_point)
    # with ε = 1 the flat direction (curvature 1/κ) barely moves: κ matters again
    assert abs(finals[1][1]) > 10 * abs(finals[0][1])
    assert abs(finals[1][1]) > 0.9 * abs(START[1])  # of its 1.0 start


def test_bad_values_are_reported_not_raised(panel):
    assert panel.update(lr=-1.0) == []
    assert "learning rate" in panel.error
    panel.update(lr=0.3)
    assert panel.error == ""
