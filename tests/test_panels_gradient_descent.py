"""Notebook 01's theory functions and slider panels, against torch.optim.SGD and closed forms.

The panels are driven as the sliders drive them, through ``panel.update(**slider_values)``,
and the assertions read the matplotlib figure's own data (line xdata/ydata and texts).
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from course_lib.problems.landscapes import get_landscape  # noqa: E402
from course_lib.ui.panels import gradient_descent as gd  # noqa: E402


# --------------------------------------------------------------------------------------------
# references: torch.optim.SGD run independently of course_lib
# --------------------------------------------------------------------------------------------


def torch_sgd_path(loss_fn, start, lr: float, steps: int) -> np.ndarray:
    """The iterates of ``torch.optim.SGD(lr=lr)`` on ``loss_fn`` (start included), float64."""
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr)
    points = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(theta).backward()
        optimizer.step()
        points.append(theta.detach().clone())
    return torch.stack(points).numpy()


def all_texts(fig) -> list[str]:
    texts = [t.get_text() for t in fig.texts if t.get_visible()]
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.texts if t.get_visible()]
    return texts


def assert_figure_has_line(fig, xs, ys):
    """Some line of ``fig`` has exactly this data (to float64 round-off)."""
    for ax in fig.axes:
        for line in ax.lines:
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if x.shape == np.shape(xs) and np.allclose(x, xs, rtol=1e-10, atol=1e-12) and np.allclose(
                y, ys, rtol=1e-10, atol=1e-12
            ):
                return
    raise AssertionError(f"no line in the figure holds the expected {len(xs)}-point path")


# --------------------------------------------------------------------------------------------
# theory
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lr", "curvature", "regime"),
    [
        (0.05, 1.0, "slow"),
        (0.02, 4.0, "slow"),
        (0.3, 1.0, "monotone"),
        (0.25, 4.0, "one step"),
        (1.0, 1.0, "one step"),
        (1.5, 1.0, "oscillating"),
        (0.4, 4.0, "oscillating"),
        (2.0, 1.0, "borderline"),
        (0.5, 4.0, "borderline"),
        (2.01, 1.0, "divergent"),
        (10.0, 0.25, "divergent"),
    ],
)
def test_regime_follows_lr_times_curvature(lr, curvature, regime):
    assert gd.gd_regime(lr, curvature) == regime


def test_factor_is_what_torch_multiplies_x_by():
    for lr, curvature in [(0.1, 1.0), (1.5, 1.0), (0.3, 4.0), (0.7, 3.5)]:
        xs = torch_sgd_path(lambda x: 0.5 * curvature * (x**2).sum(), [1.0], lr, 6)[:, 0]
        np.testing.assert_allclose(xs[1:] / xs[:-1], gd.gd_factor(lr, curvature), rtol=1e-12)


@pytest.mark.parametrize("kappa", [1.0, 4.0, 10.0, 100.0])
@pytest.mark.parametrize("lr_over_best", [0.3, 1.0, 1.05])
def test_rate_is_the_worst_start_contraction_of_torch_sgd(kappa, lr_over_best):
    landscape = get_landscape("quadratic", condition_number=kappa)
    lr = lr_over_best * gd.gd_optimal_lr(landscape.mu, landscape.L)
    rate = gd.gd_rate(lr, torch.linalg.eigvalsh(landscape.hessian).numpy())
    # from a start with weight on both eigendirections the slower one dominates after a while:
    # the distance ratio over the last steps tends to max|1 − ηλ|
    path = torch_sgd_path(lambda t: landscape(t), [1.0, 1.0], lr, 400)
    norms = np.linalg.norm(path, axis=1)
    if rate == 0.0:
        assert norms[1] == pytest.approx(0.0, abs=1e-15)
        return
    # the last ratio before the distance underflows towards float64's floor
    last = np.flatnonzero(norms > 1e-100)[-1]
    assert last >= 60
    assert norms[last] / norms[last - 1] == pytest.approx(rate, rel=1e-6)


def test_optimal_lr_balances_both_ends_and_gives_kappa_rate():
    for mu, L in [(0.1, 1.0), (1.0, 1.0), (0.01, 2.0)]:
        best = gd.gd_optimal_lr(mu, L)
        assert abs(1 - best * mu) == pytest.approx(abs(1 - best * L))
        kappa = L / mu
        assert gd.gd_optimal_rate(mu, L) == pytest.approx((kappa - 1) / (kappa + 1))
        assert gd.gd_rate(best, [mu, L]) == pytest.approx(gd.gd_optimal_rate(mu, L))
        # and it is the minimum over lr: nudging either way is worse
        for nudge in (0.98, 1.02):
            assert gd.gd_rate(best * nudge, [mu, L]) > gd.gd_rate(best, [mu, L])


def test_steps_to_tolerance_matches_a_torch_run():
    landscape = get_landscape("quadratic", condition_number=10.0)
    lr = gd.gd_optimal_lr(landscape.mu, landscape.L)
    rate = gd.gd_optimal_rate(landscape.mu, landscape.L)
    steps = gd.steps_to_tolerance(rate, 1e-6)
    # from (1, 1) at η* both directions shrink by exactly ρ, so ‖θ_k‖ = ρ^k ‖θ_0‖
    path = torch_sgd_path(lambda t: landscape(t), [1.0, 1.0], lr, steps)
    norms = np.linalg.norm(path, axis=1) / np.linalg.norm(path[0])
    assert norms[steps] <= 1e-6 < norms[steps - 1]
    assert gd.steps_to_tolerance(1.0, 0.1) == math.inf
    assert gd.steps_to_tolerance(0.0, 0.1) == 1
    assert gd.steps_to_tolerance(0.1, 1e-3) == 3


def test_curvatures_at_minimum_are_the_hessian_eigenvalues():
    mu, L = gd.curvatures_at_minimum(get_landscape("quadratic", condition_number=25.0))
    assert (mu, L) == pytest.approx((1.0 / 25.0, 1.0))
    # Rosenbrock's Hessian at (1, 1) is [[802, -400], [-400, 200]]
    expected = np.linalg.eigvalsh(np.array([[802.0, -400.0], [-400.0, 200.0]]))
    assert gd.curvatures_at_minimum(get_landscape("rosenbrock")) == pytest.approx(tuple(expected))
    assert gd.curvatures_at_minimum(get_landscape("saddle")) is None


def test_theory_rejects_bad_input():
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        gd.gd_rate(-0.1, [1.0])
    with pytest.raises(ValueError, match="L = 0.5 must be >= mu = 1.0"):
        gd.gd_optimal_lr(1.0, 0.5)
    with pytest.raises(ValueError, match="Invalid tolerance"):
        gd.steps_to_tolerance(0.5, 2.0)
    with pytest.raises(ValueError, match="Invalid curvature L: 0.0"):
        gd.parabola_gd(0.1, 0.0)


# --------------------------------------------------------------------------------------------
# 1-D panel
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parabola():
    return gd.parabola_panel(play=True)


@pytest.mark.parametrize(("lr", "curvature"), [(0.05, 1.0), (0.3, 2.0), (1.5, 1.0), (0.45, 4.0), (2.4, 1.0)])
def test_parabola_panel_draws_torch_iterates_on_the_curve(parabola, lr, curvature):
    parabola.update(lr=lr, curvature=curvature, steps=15)
    xs = torch_sgd_path(lambda x: 0.5 * curvature * (x**2).sum(), [1.0], lr, 15)[:, 0]
    line = parabola.figure.path_line
    np.testing.assert_allclose(line.get_xdata(), xs, rtol=1e-12)
    np.testing.assert_allclose(line.get_ydata(), 0.5 * curvature * xs**2, rtol=1e-12)
    # the distance panel: |x_k| and the closed form |1 − ηL|^k, equal
    np.testing.assert_allclose(parabola.figure.distance_line.get_ydata(), np.abs(xs), rtol=1e-12)
    np.testing.assert_allclose(
        parabola.figure.closed_form_line.get_ydata(), np.abs(1 - lr * curvature) ** np.arange(16), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("lr", "words"),
    [(0.05, "slow"), (0.5, "monotone"), (1.5, "oscillating"), (2.0, "borderline"), (3.0, "divergent")],
)
def test_parabola_panel_names_the_regime_on_the_plot(parabola, lr, words):
    parabola.update(lr=lr, curvature=1.0, steps=20)
    assert parabola.figure.regime_text.get_text().startswith(words)
    assert "2/L = 2" in parabola.figure.factor_text.get_text()


def test_parabola_panel_shows_divergence_above_two_over_L(parabola):
    # η = 0.6 > 2/L = 0.5 for L = 4: grows ×1.4 per step, passes 1e6 at step ⌈ln 1e6 / ln 1.4⌉
    trajectories = parabola.update(lr=0.6, curvature=4.0, steps=60)
    first_past = math.ceil(math.log(1e6) / math.log(1.4))
    assert trajectories[0].diverged and trajectories[0].diverged_at == first_past
    assert any(f"diverged at step {first_past}" in text for text in all_texts(parabola.fig))
    # and just below 2/L nothing diverges and no warning is drawn
    trajectories = parabola.update(lr=0.49, curvature=4.0, steps=60)
    assert not trajectories[0].diverged
    assert not any("diverg" in text for text in all_texts(parabola.fig) if "η >" not in text)


def test_parabola_panel_reports_bad_values_in_the_panel(parabola):
    assert parabola.update(curvature=0.0) == []
    assert "Invalid curvature L: 0.0" in parabola.error
    parabola.update(curvature=1.0)
    assert parabola.error == ""


# --------------------------------------------------------------------------------------------
# 2-D panel
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plane():
    return gd.lr_condition_panel(play=False)


@pytest.mark.parametrize(("lr", "kappa"), [(0.5, 10.0), (1.9, 10.0), (0.1, 50.0)])
def test_lr_condition_panel_draws_torch_paths(plane, lr, kappa):
    plane.update(lr=lr, condition_number=kappa, steps=40, landscape="quadratic", compare_best=True)
    landscape = get_landscape("quadratic", condition_number=kappa)
    mine = torch_sgd_path(lambda t: landscape(t), list(landscape.start), lr, 40)
    assert_figure_has_line(plane.fig, mine[:, 0], mine[:, 1])
    best = torch_sgd_path(lambda t: landscape(t), list(landscape.start), 2 / (landscape.L + landscape.mu), 40)
    assert_figure_has_line(plane.fig, best[:, 0], best[:, 1])


def test_lr_condition_panel_caption_states_limit_and_rates(plane):
    plane.update(lr=0.5, condition_number=9.0, landscape="quadratic")
    caption = plane.caption_artist.get_text()
    rate = max(abs(1 - 0.5 * 1.0), abs(1 - 0.5 / 9.0))
    assert "2/L = 2" in caption
    assert f"max|1 − ηλᵢ| = {rate:.3g}" in caption
    assert f"2/(L+μ) = {2 / (1 + 1 / 9):.3g}" in caption
    assert f"(κ−1)/(κ+1) = {8 / 10:.3g}" in caption


def test_lr_condition_panel_shows_divergence_above_two_over_L(plane):
    trajectories = plane.update(lr=2.2, condition_number=10.0, steps=300, landscape="quadratic")
    assert trajectories[0].diverged
    assert any("diverged" in text for text in all_texts(plane.fig))
    trajectories = plane.update(lr=1.9, condition_number=10.0, steps=300, landscape="quadratic")
    assert not any(t.diverged for t in trajectories)


def test_lr_condition_panel_landscape_picker(plane):
    plane.update(lr=1e-3, landscape="rosenbrock", steps=50)
    rosenbrock = get_landscape("rosenbrock")
    mine = torch_sgd_path(lambda t: rosenbrock(t), list(rosenbrock.start), 1e-3, 50)
    assert_figure_has_line(plane.fig, mine[:, 0], mine[:, 1])
    assert "2/L = 0.002" in plane.caption_artist.get_text()
    assert len(plane.trajectories) == 1  # the η* comparison is for the quadratic only
    plane.update(landscape="saddle", lr=0.01)
    assert "no minimum" in plane.caption_artist.get_text()
    plane.update(landscape="quadratic", lr=0.5)


def test_lr_condition_panel_bad_lr_is_a_message(plane):
    assert plane.update(lr=0.0) == []
    assert "Invalid learning rate" in plane.error
    plane.update(lr=0.5)
