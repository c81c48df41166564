"""Notebook 06's effective-lr panel, through panel.update: the drawn curves are the optimizers'
real effective learning rates (torch.optim.RMSprop and Adagrad run on the same stream), and the
notebook's "Things to try" promises hold."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.ui.panels.rmsprop_adadelta import PANEL_LR, effective_lr_panel, gradient_stream


@pytest.fixture(scope="module")
def panel():
    built = effective_lr_panel()
    yield built
    built.figure.fig.clf()


def torch_effective_lr(optimizer_cls, gradients, **hyper):
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_cls([theta], foreach=False, **hyper)
    factors = []
    for g in gradients:
        before = theta.item()
        theta.grad = torch.full((1,), float(g), dtype=torch.float64)
        optimizer.step()
        factors.append(-(theta.item() - before) / g)
    return np.array(factors)


def lines(panel):
    return [line.get_ydata() for line in panel.figure.lr_lines]


@pytest.mark.parametrize("alpha, stream", [(0.99, "steep, flat, steep"), (0.6, "flat, then steep")])
def test_drawn_curves_are_torchs_effective_lrs(panel, alpha, stream):
    panel.update(alpha=alpha, stream=stream)
    gradients = gradient_stream(stream)
    rms, ada = lines(panel)
    np.testing.assert_allclose(rms, torch_effective_lr(torch.optim.RMSprop, gradients, lr=PANEL_LR,
                                                       alpha=alpha), rtol=1e-9)
    np.testing.assert_allclose(ada, torch_effective_lr(torch.optim.Adagrad, gradients, lr=PANEL_LR),
                               rtol=1e-9)
    np.testing.assert_allclose(panel.figure.step_lines[0].get_ydata(), rms * np.abs(gradients))


def test_caption_states_the_memory(panel):
    panel.update(alpha=0.9, stream="steep, flat, steep")
    assert "1/(1−α) = 10 steps" in panel.caption_artist.get_text()


# -- Things to try (notebook 06, section 3) ----------------------------------------------------


def test_try_alpha_09_recovers_in_the_flat_part(panel):
    panel.update(alpha=0.9, stream="steep, flat, steep")
    rms, ada = lines(panel)
    assert rms[199] == pytest.approx(PANEL_LR / 0.1, rel=0.05)  # end of the flat third: lr/|g|
    assert ada[199] < ada[99]                                   # Adagrad's only falls
    assert ada[199] < rms[199] / 50


def test_try_alpha_05_steps_are_about_lr(panel):
    panel.update(alpha=0.5, stream="steep, flat, steep")
    steps = panel.figure.step_lines[0].get_ydata()
    settled = np.r_[10:100, 110:200, 210:300]
    assert np.all(np.abs(steps[settled] / PANEL_LR - 1) < 0.1)


def test_try_alpha_0999_looks_like_a_scaled_adagrad(panel):
    panel.update(alpha=0.999, stream="steep, flat, steep")
    rms, ada = lines(panel)
    ratio = rms[:100] / ada[:100]
    assert np.all(np.abs(ratio / (1 / np.sqrt(1 - 0.999)) - 1) < 0.06)


def test_try_constant_first_step_is_ten_times_larger(panel):
    panel.update(alpha=0.99, stream="constant")
    rms, _ = lines(panel)
    assert rms[0] == pytest.approx(10 * PANEL_LR, rel=1e-6)
    assert rms[-1] < 1.1 * PANEL_LR * 1 / np.sqrt(1 - 0.99**300)


def test_bad_alpha_is_reported(panel):
    assert panel.update(alpha=1.0) == []
    assert "alpha" in panel.error
