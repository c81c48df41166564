"""The notebook-03 panel and theory: figure data after panel.update(...) against independent
computations (the heavy-ball recurrence in numpy, torch.optim.SGD, numpy eigenvalues)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.ui.panels import momentum as theory
from course_lib.ui.panels.momentum import momentum_panel
from course_lib.ui.slider_panel import slider_notches


@pytest.fixture(scope="module")
def panel():
    built = momentum_panel(steps=60)
    yield built
    built.figure.close()


def heavy_ball_recurrence(start, curvatures, lr, momentum, steps):
    """θ_{t+1} = (1 + β − ηh) θ_t − β θ_{t−1}, θ_{−1} = θ_0, per coordinate (diagonal Hessian)."""
    previous = current = np.asarray(start, dtype=np.float64)
    path = [current]
    for _ in range(steps):
        previous, current = current, (1 + momentum - lr * curvatures) * current - momentum * previous
        path.append(current)
    return np.array(path)


def path_data(panel, slot):
    x, y = panel.figure.path_lines[slot].get_data()
    return np.column_stack([x, y])


# -- theory -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lr, momentum, h", [(0.5, 0.0, 1.0), (1.0, 0.5, 1.0), (2.0, 0.8, 0.02),
                                             (3.5, 0.5, 1.0), (0.1, 0.99, 3.0)])
def test_rate_is_the_spectral_radius_of_the_matrix(lr, momentum, h):
    eigenvalues = np.linalg.eigvals(theory.heavy_ball_matrix(lr, momentum, h))
    assert theory.heavy_ball_rate(lr, momentum, h) == pytest.approx(np.abs(eigenvalues).max(), rel=1e-9)


def test_matrix_reproduces_torch_sgd_on_a_one_dimensional_quadratic():
    # torch's buffer form, b₁ = g₁, equals the 2x2 recurrence started from (θ₀, θ₀)
    lr, momentum, h = 0.3, 0.7, 2.0
    theta = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=momentum, foreach=False)
    state = np.array([1.0, 1.0])
    matrix = theory.heavy_ball_matrix(lr, momentum, h)
    for _ in range(20):
        optimizer.zero_grad()
        (0.5 * h * theta**2).sum().backward()
        optimizer.step()
        state = matrix @ state
        assert theta.item() == pytest.approx(state[0], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("mu, L", [(0.02, 1.0), (1.0, 9.0), (0.3, 30.0)])
def test_optimum_puts_both_extremes_on_the_double_root(mu, L):
    lr, momentum = theory.heavy_ball_optimum(mu, L)
    for h in (mu, L):
        c = 1 + momentum - lr * h
        assert c * c == pytest.approx(4 * momentum, rel=1e-9)  # discriminant zero
    kappa = L / mu
    assert theory.quadratic_rate(lr, momentum, mu, L) == pytest.approx(
        (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1), rel=1e-6)
    # a grid search finds nothing better
    grid = [theory.quadratic_rate(a, b, mu, L) for a in np.linspace(0.05, 1.5, 40) * 4 / L
            for b in np.linspace(0, 0.98, 40)]
    assert min(grid) >= theory.heavy_ball_optimal_rate(mu, L) - 1e-9


def test_gd_rate_at_its_optimum_and_stability_limit():
    mu, L = 0.1, 2.0
    assert theory.quadratic_rate(theory.gd_optimal_lr(mu, L), 0.0, mu, L) == pytest.approx(
        theory.gd_optimal_rate(mu, L))
    limit = theory.heavy_ball_stable_lr(0.6, L)
    assert theory.heavy_ball_rate(limit * 0.999, 0.6, L) < 1 < theory.heavy_ball_rate(limit * 1.001, 0.6, L)


@pytest.mark.parametrize("call, message", [
    (lambda: theory.heavy_ball_optimum(0.0, 1.0), "mu"),
    (lambda: theory.heavy_ball_optimum(2.0, 1.0), "L"),
    (lambda: theory.heavy_ball_rate(-0.1, 0.5, 1.0), "learning rate"),
    (lambda: theory.heavy_ball_rate(0.1, 1.0, 1.0), "momentum"),
    (lambda: theory.heavy_ball_vs_gd("beale", 0.1, 0.5), "beale"),
])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- the panel --------------------------------------------------------------------------------


def test_quadratic_paths_follow_the_recurrence(panel):
    panel.update(landscape="quadratic", lr=1.2, momentum=0.7)
    surface = theory.panel_landscape("quadratic")
    curvatures = np.array([surface.L, surface.mu])
    np.testing.assert_allclose(path_data(panel, 0),
                               heavy_ball_recurrence(surface.start, curvatures, 1.2, 0.7, 60),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(path_data(panel, 1),
                               heavy_ball_recurrence(surface.start, curvatures, 1.2, 0.0, 60),
                               rtol=1e-9, atol=1e-12)
    losses = panel.figure.loss_lines[0].get_ydata()
    expected = heavy_ball_recurrence(surface.start, curvatures, 1.2, 0.7, 60)
    np.testing.assert_allclose(losses, 0.5 * (expected**2 * curvatures).sum(axis=1), rtol=1e-9)


def test_caption_states_the_optimum_and_the_current_rate(panel):
    panel.update(landscape="quadratic", lr=0.8, momentum=0.3)
    surface = theory.panel_landscape("quadratic")
    mu, L = surface.mu, surface.L
    caption = panel.caption_artist.get_text()
    assert f"lr={4 / (math.sqrt(L) + math.sqrt(mu)) ** 2:.3g}" in caption
    kappa = L / mu
    assert f"β={((kappa**0.5 - 1) / (kappa**0.5 + 1)) ** 2:.3g}" in caption
    rate = np.abs(np.concatenate([np.linalg.eigvals(theory.heavy_ball_matrix(0.8, 0.3, h))
                                  for h in (mu, L)])).max()
    assert f"rate {rate:.3f}" in caption


def test_optimum_button_moves_the_sliders_and_converges_at_the_predicted_rate(panel):
    panel.update(landscape="rosenbrock", lr=1e-3, momentum=0.9)
    panel.optimum_button.click()
    surface = theory.panel_landscape("quadratic")
    assert panel.sliders["landscape"].value == "quadratic"
    lr, beta = panel.values["lr"], panel.values["momentum"]
    # the button sets notches the sliders hold (the browser would move any other value)
    assert lr in slider_notches(panel.sliders["lr"])
    assert any(abs(beta - notch) < 1e-12 for notch in slider_notches(panel.sliders["momentum"]))
    heavy_ball = panel.trajectories[0]
    distance = np.linalg.norm(heavy_ball.path, axis=1)
    measured = (distance[60] / distance[40]) ** (1 / 20)
    predicted = theory.quadratic_rate(lr, beta, surface.mu, surface.L)
    # a double root adds a factor t in front of ρ^t: (60/40)^(1/20) ≈ 1.02 at most
    assert predicted <= measured <= predicted * 1.03
    # within 3 % of Polyak's optimal rate
    assert predicted <= 1.03 * theory.heavy_ball_optimal_rate(surface.mu, surface.L)


def test_the_optimum_button_takes_the_best_notches_not_the_nearest(panel):
    """Polyak's (η*, β*) lies between the sliders' notches; the nearest notches of each diverge on
    the panel's quadratic (η* is within a notch of heavy ball's limit 2(1+β)/L), which is why the
    button takes the pair of notches with the smallest rate, checked here against every pair."""
    surface = theory.panel_landscape("quadratic")
    lr_star, beta_star = theory.heavy_ball_optimum(surface.mu, surface.L)
    lrs, betas = slider_notches(panel.sliders["lr"]), slider_notches(panel.sliders["momentum"])
    nearest_lr = min(lrs, key=lambda lr: abs(np.log(lr / lr_star)))
    nearest_beta = min(betas, key=lambda beta: abs(beta - beta_star))
    assert theory.quadratic_rate(nearest_lr, nearest_beta, surface.mu, surface.L) >= 1.0
    lr, beta = panel.presets[0][1]["lr"], panel.presets[0][1]["momentum"]
    best = min(theory.quadratic_rate(a, b, surface.mu, surface.L) for a in lrs for b in betas)
    assert theory.quadratic_rate(lr, beta, surface.mu, surface.L) == pytest.approx(best, rel=1e-12)
    assert panel.presets[0][0] is panel.optimum_button


def test_divergence_is_written_on_the_plot(panel):
    surface = theory.panel_landscape("quadratic")
    limit = 2 * (1 + 0.5) / surface.L
    trajectories = panel.update(landscape="quadratic", lr=limit * 1.5, momentum=0.5)
    assert trajectories[0].diverged
    texts = [t.get_text() for t in panel.figure.divergence_texts if t.get_visible()]
    assert any("heavy ball" in text and "diverge" in text for text in texts)
    assert "(diverges)" in panel.caption_artist.get_text()
    # just below the limit the heavy ball converges while GD (limit 2/L) does not
    trajectories = panel.update(lr=limit * 0.9, momentum=0.5)
    assert not trajectories[0].diverged
    assert trajectories[0].final_loss < trajectories[0].losses[0]


def test_rosenbrock_paths_equal_torch_sgd(panel):
    panel.update(landscape="rosenbrock", lr=1e-3, momentum=0.9)
    surface = theory.panel_landscape("rosenbrock")
    for slot, momentum in [(0, 0.9), (1, 0.0)]:
        theta = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.SGD([theta], lr=1e-3, momentum=momentum, foreach=False)
        expected = [theta.detach().numpy().copy()]
        for _ in range(60):
            optimizer.zero_grad()
            x, y = theta
            ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
            optimizer.step()
            expected.append(theta.detach().numpy().copy())
        np.testing.assert_allclose(path_data(panel, slot), np.array(expected), rtol=1e-9, atol=1e-12)
    assert panel.caption_artist.get_text().startswith("Rosenbrock")


def test_invalid_momentum_is_reported_not_raised(panel):
    assert panel.update(landscape="quadratic", lr=0.5, momentum=1.2) == []
    assert "momentum" in panel.error
    assert panel.update(momentum=0.5)  # and the panel recovers
    assert panel.error == ""


def test_optimum_button_sits_in_the_row_of_sliders(panel):
    assert panel.optimum_button in panel.controls.children
    assert panel.controls in panel.widget.children


def test_a_preset_between_notches_is_refused_with_the_nearest_notches(panel):
    """The browser would move a value between two notches to the nearest one (and send that back):
    add_preset refuses it, naming the slider and its nearest notches; an unknown slider or an
    option the dropdown lacks is refused too."""
    surface = theory.panel_landscape("quadratic")
    lr_star, beta_star = theory.heavy_ball_optimum(surface.mu, surface.L)
    with pytest.raises(ValueError, match=r"lr=3\.07\d*.*not a notch.*2\.81838, 3\.16228"):
        panel.add_preset("Polyak", {"lr": lr_star})
    with pytest.raises(ValueError, match=r"momentum=0\.5658.*not a notch.*0\.56, 0\.57"):
        panel.add_preset("Polyak", {"momentum": beta_star})
    with pytest.raises(ValueError, match="not one of"):
        panel.add_preset("bowl", {"landscape": "bowl"})
    with pytest.raises(ValueError, match="unknown slider"):
        panel.add_preset("steps", {"steps": 10})
    assert len(panel.presets) == 1 and panel.optimum_button in panel.controls.children

