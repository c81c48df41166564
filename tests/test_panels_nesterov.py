"""Notebook 04's panel and theory: the figure shows what torch.optim.SGD computes, divergence is
drawn, and the rates and stability limits are the closed forms the lecture states."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.problems.landscapes import get_landscape
from course_lib.ui.panels import nesterov as nag
from course_lib.ui.panels.momentum import heavy_ball_rate


@pytest.fixture(scope="module")
def panel():
    built = nag.momentum_vs_nesterov_panel()
    yield built
    matplotlib.pyplot.close(built.fig)


def torch_path(landscape, lr, momentum, nesterov, steps):
    """The path torch.optim.SGD takes from the landscape's start, gradients by autograd."""
    point = torch.tensor(landscape.start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([point], lr=lr, momentum=momentum, nesterov=nesterov, foreach=False)
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        landscape(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path).numpy()


@pytest.mark.parametrize("name,lr,momentum", [("quadratic", 1.0, 0.9), ("rosenbrock", 1e-3, 0.95),
                                              ("himmelblau", 3e-3, 0.8)])
def test_panel_draws_torch_paths_and_losses(panel, name, lr, momentum):
    trajectories = panel.update(landscape=name, lr=lr, momentum=momentum)
    landscape = get_landscape(name, **nag.PANEL_LANDSCAPES[name])
    assert [t.label for t in trajectories] == ["heavy ball", "Nesterov"]
    for slot, nesterov in enumerate([False, True]):
        expected = torch_path(landscape, lr, momentum, nesterov, steps=150)
        line = panel.figure.path_lines[slot]
        drawn = np.column_stack([line.get_xdata(), line.get_ydata()])
        np.testing.assert_allclose(drawn, expected, rtol=1e-9, atol=1e-12)
        expected_losses = landscape(torch.from_numpy(expected)).numpy()
        np.testing.assert_allclose(panel.figure.loss_lines[slot].get_ydata(), expected_losses,
                                   rtol=1e-9, atol=1e-300)
    assert panel.landscape == landscape


def test_nesterov_divergence_is_drawn_where_heavy_ball_is_stable(panel):
    # μ = 0.9 on the κ=50 quadratic (L = 1): heavy ball is stable up to lr = 2(1+μ)/L = 3.8,
    # Nesterov only up to 2(1+μ)/((1+2μ)L) ≈ 1.357. lr = 1.6 sits between the two.
    lr, momentum = 1.6, 0.9
    assert nag.nesterov_stable_lr(momentum, 1.0) < lr < nag.heavy_ball_stable_lr(momentum, 1.0)
    heavy, nesterov = panel.update(landscape="quadratic", lr=lr, momentum=momentum)
    assert not heavy.diverged and nesterov.diverged
    texts = [t.get_text() for t in panel.figure.divergence_texts if t.get_visible()]
    assert texts == [f"Nesterov: {nesterov.message}"]
    assert "diverged at step" in nesterov.message
    caption = panel.caption_artist.get_text()
    assert caption.startswith("heavy ball: loss ") and "Nesterov: diverged at step" in caption


def test_both_diverged_caption_suggests_a_learning_rate(panel):
    trajectories = panel.update(landscape="rosenbrock", lr=0.05, momentum=0.9)
    assert all(t.diverged for t in trajectories)
    assert panel.caption_artist.get_text().endswith("(try lr ≈ 0.001 here)")
    assert len([t for t in panel.figure.divergence_texts if t.get_visible()]) == 2


def test_nesterov_ahead_at_high_momentum_as_the_rates_predict(panel):
    # At lr = 1, μ = 0.95 on curvatures {1, 1/50}, theory says NAG's worst rate is smaller; the
    # drawn loss curves must show it.
    lr, momentum = 1.0, 0.95
    heavy_rate = max(heavy_ball_rate(lr, momentum, h) for h in (1.0, 1 / 50))
    nesterov_rate = max(nag.nesterov_rate(lr, momentum, h) for h in (1.0, 1 / 50))
    assert nesterov_rate < heavy_rate
    panel.update(landscape="quadratic", lr=lr, momentum=momentum)
    heavy_loss = panel.figure.loss_lines[0].get_ydata()[-1]
    nesterov_loss = panel.figure.loss_lines[1].get_ydata()[-1]
    assert nesterov_loss < heavy_loss


def test_bad_slider_values_are_reported_not_raised(panel):
    assert panel.update(landscape="quadratic", lr=-1.0, momentum=0.9) == []
    assert "Invalid learning rate" in panel.error


def test_unknown_landscape_is_a_clear_error():
    with pytest.raises(ValueError, match="not one of"):
        nag.momentum_vs_nesterov_panel(landscape="everest")


# --------------------------------------------------------------------------------------------
# Theory: the rate and the stability limits
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr,momentum,curvature", [(0.1, 0.9, 1.0), (1.0, 0.8, 0.01),
                                                   (1.2, 0.5, 1.0), (2.0, 0.9, 1.0)])
def test_nesterov_matrix_reproduces_torch_iterates(lr, momentum, curvature):
    # (θ_{t+1}, θ_t) = N(h) (θ_t, θ_{t-1}) for torch's iterates on f = h θ²/2 from step 1 on.
    x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum, nesterov=True, foreach=False)
    iterates = [1.0]
    for _ in range(12):
        x.grad = curvature * x.detach()
        optimizer.step()
        iterates.append(x.item())
    matrix = nag.nesterov_matrix(lr, momentum, curvature)
    for t in range(1, 12):
        predicted = matrix @ np.array([iterates[t], iterates[t - 1]])
        assert predicted[0] == pytest.approx(iterates[t + 1], rel=1e-12, abs=1e-12)


def test_rate_is_complex_modulus_in_the_spiral_regime():
    lr, momentum, h = 0.1, 0.9, 1.0
    assert nag.nesterov_rate(lr, momentum, h) == pytest.approx(math.sqrt(momentum * (1 - lr * h)))
    assert nag.nesterov_rate(lr, momentum, h) < heavy_ball_rate(lr, momentum, h) == pytest.approx(
        math.sqrt(momentum))


@pytest.mark.parametrize("momentum", [0.3, 0.9, 0.99])
def test_stability_limits_are_where_the_rate_crosses_one(momentum):
    for limit, rate in [(nag.nesterov_stable_lr(momentum, 2.0), nag.nesterov_rate),
                        (nag.heavy_ball_stable_lr(momentum, 2.0), heavy_ball_rate)]:
        assert rate(limit * 0.999, momentum, 2.0) < 1.0 < rate(limit * 1.001, momentum, 2.0)


@pytest.mark.parametrize("bad", [dict(lr=0.0), dict(lr=float("nan")), dict(momentum=1.0),
                                 dict(momentum=-0.1)])
def test_theory_rejects_bad_hyperparameters(bad):
    args = dict(lr=0.1, momentum=0.9, curvature=1.0) | bad
    with pytest.raises(ValueError, match="Invalid"):
        nag.nesterov_rate(**args)
