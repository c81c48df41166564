"""course_lib.theory.adam and .weight_decay against torch.optim, and the update equations that
notebooks 07 and 08 display, written out in numpy, against torch.optim and course_lib.optim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.ui.panels.adam import AdamWithoutBiasCorrection
from course_lib.theory import adam as adam_theory
from course_lib.theory import weight_decay as wd_theory


def step_lengths(optimizer_cls, gradients, **hyperparameters):
    """|θ_t − θ_{t−1}| for a scalar parameter fed the given gradients."""
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_cls([theta], **hyperparameters)
    lengths, previous = [], 0.0
    for g in gradients:
        theta.grad = torch.tensor([float(g)], dtype=torch.float64)
        optimizer.step()
        lengths.append(abs(theta.item() - previous))
        previous = theta.item()
    return np.array(lengths)


# -- the displayed equations ----------------------------------------------------------------------


def adam_as_displayed(theta, gradients, *, lr, beta1, beta2, eps, weight_decay=0.0, amsgrad=False,
                      decoupled=False, eps_inside=False):
    """Notebooks 07/08's equations, line by line (numpy, float64)."""
    theta = np.array(theta, dtype=np.float64)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    path = []
    for t, g in enumerate(gradients, start=1):
        g = np.array(g, dtype=np.float64)
        if weight_decay and decoupled:
            theta = theta * (1 - lr * weight_decay)       # θ ← θ(1 − ηλ)
        elif weight_decay:
            g = g + weight_decay * theta                  # g ← g + λθ
        m = beta1 * m + (1 - beta1) * g                   # m ← β₁m + (1 − β₁)g
        v = beta2 * v + (1 - beta2) * g * g               # v ← β₂v + (1 − β₂)g²
        if amsgrad:
            v_max = np.maximum(v_max, v)                  # vᵐᵃˣ ← max(vᵐᵃˣ, v)   (raw v)
            v_hat = v_max / (1 - beta2**t)                # then corrected
        else:
            v_hat = v / (1 - beta2**t)                    # v̂ = v / (1 − β₂ᵗ)
        m_hat = m / (1 - beta1**t)                        # m̂ = m / (1 − β₁ᵗ)
        denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        theta = theta - lr * m_hat / denominator          # θ ← θ − η m̂/(√v̂ + ε)
        path.append(theta.copy())
    return np.array(path)


def run_optimizer(optimizer_cls, theta, gradients, **hyperparameters):
    param = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_cls([param], **hyperparameters)
    path = []
    for g in gradients:
        param.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        path.append(param.detach().numpy().copy())
    return np.array(path)


SETTINGS = [
    dict(),
    dict(amsgrad=True),
    dict(weight_decay=0.3),
    dict(weight_decay=0.3, amsgrad=True),
    dict(weight_decay=0.3, decoupled_weight_decay=True),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("torch_cls", [torch.optim.Adam, optim.Adam])
def test_displayed_adam_equations_equal_torch_and_course_lib(settings, torch_cls):
    rng = np.random.default_rng(0)
    theta = rng.normal(size=4)
    # large then small gradients, so AMSGrad's max matters; small ones, so ε matters
    gradients = [rng.normal(size=4) * 10.0 ** -(k % 5) for k in range(25)]
    hyper = dict(lr=0.05, betas=(0.8, 0.99), eps=1e-4, **settings)
    if torch_cls is torch.optim.Adam:
        hyper["foreach"] = False
    ours = adam_as_displayed(theta, gradients, lr=0.05, beta1=0.8, beta2=0.99, eps=1e-4,
                             weight_decay=settings.get("weight_decay", 0.0),
                             amsgrad=settings.get("amsgrad", False),
                             decoupled=settings.get("decoupled_weight_decay", False))
    np.testing.assert_allclose(run_optimizer(torch_cls, theta, gradients, **hyper), ours,
                               rtol=1e-10, atol=1e-13)


def test_eps_inside_the_root_is_not_torch():
    rng = np.random.default_rng(1)
    theta, gradients = rng.normal(size=3), [rng.normal(size=3) * 1e-4 for _ in range(10)]
    inside = adam_as_displayed(theta, gradients, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8,
                               eps_inside=True)
    torch_path = run_optimizer(torch.optim.Adam, theta, gradients, lr=0.01, eps=1e-8)
    assert np.abs(inside - torch_path).max() > 1e-4  # the two differ visibly at gradients ~1e-4


@pytest.mark.parametrize("cls", [torch.optim.AdamW, optim.AdamW])
def test_adamw_is_adam_with_decoupled_weight_decay(cls):
    rng = np.random.default_rng(2)
    theta, gradients = rng.normal(size=5), [rng.normal(size=5) for _ in range(20)]
    adam = run_optimizer(torch.optim.Adam, theta, gradients, lr=0.01, weight_decay=0.5,
                         decoupled_weight_decay=True)
    np.testing.assert_array_equal(run_optimizer(cls, theta, gradients, lr=0.01, weight_decay=0.5), adam)
    np.testing.assert_allclose(adam, adam_as_displayed(theta, gradients, lr=0.01, beta1=0.9,
                                                       beta2=0.999, eps=1e-8, weight_decay=0.5,
                                                       decoupled=True), rtol=1e-11, atol=1e-13)


# -- theory.adam ----------------------------------------------------------------------------------


@pytest.mark.parametrize("beta1, beta2", [(0.9, 0.999), (0.5, 0.9)])
def test_bias_correction_undoes_the_zero_start(beta1, beta2):
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], betas=(beta1, beta2))
    for t in range(1, 30):
        theta.grad = torch.tensor([2.5], dtype=torch.float64)
        optimizer.step()
        state = optimizer.state[theta]
        assert state["exp_avg"].item() * adam_theory.bias_correction(beta1, t) == pytest.approx(2.5)
        assert state["exp_avg_sq"].item() * adam_theory.bias_correction(beta2, t) == pytest.approx(6.25)


def test_steady_step_ratio_with_and_without_correction():
    corrected = step_lengths(torch.optim.Adam, [3.0] * 40, lr=0.01, eps=1e-12)
    np.testing.assert_allclose(corrected / 0.01, 1.0, rtol=1e-9)
    uncorrected = step_lengths(AdamWithoutBiasCorrection, [3.0] * 40, lr=0.01, eps=1e-12)
    expected = [adam_theory.steady_step_ratio(0.9, 0.999, t, bias_correction=False) for t in range(1, 41)]
    np.testing.assert_allclose(uncorrected / 0.01, expected, rtol=1e-9)
    assert max(expected) == pytest.approx(max(adam_theory.steady_step_ratio(
        0.9, 0.999, t, bias_correction=False) for t in range(1, 3000)))  # the peak is in the first 40


@pytest.mark.parametrize("grad, eps", [(2.0, 1e-8), (1e-7, 1e-8), (-3e-3, 1e-2)])
@pytest.mark.parametrize("bias_correction", [True, False])
def test_first_step(grad, eps, bias_correction):
    cls = torch.optim.Adam if bias_correction else AdamWithoutBiasCorrection
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = cls([theta], lr=0.1, eps=eps)
    theta.grad = torch.tensor([grad], dtype=torch.float64)
    optimizer.step()
    assert theta.item() == pytest.approx(adam_theory.first_step(0.1, grad, eps=eps,
                                                                bias_correction=bias_correction), rel=1e-12)


@pytest.mark.parametrize("beta1, beta2, quiet", [(0.9, 0.999, 0), (0.9, 0.999, 30), (0.8, 0.99, 1000)])
def test_spike_step_ratio_is_torchs_step(beta1, beta2, quiet):
    lengths = step_lengths(torch.optim.Adam, [0.0] * quiet + [5.0], lr=1.0, betas=(beta1, beta2), eps=1e-14)
    assert lengths[-1] == pytest.approx(adam_theory.spike_step_ratio(beta1, beta2, quiet), rel=1e-9)


@pytest.mark.parametrize("beta1, beta2", [(0.9, 0.999), (0.8, 0.99), (0.0, 0.9)])
def test_update_bound_holds_and_is_reached(beta1, beta2):
    steps = 60
    bound = adam_theory.update_bound(beta1, beta2, steps)
    rng = np.random.default_rng(3)
    for _ in range(50):  # heavy-tailed random sequences never exceed it
        gradients = rng.standard_cauchy(steps)
        assert step_lengths(torch.optim.Adam, gradients, lr=1.0, betas=(beta1, beta2), eps=1e-14)[-1] <= bound * (1 + 1e-9)
    # gradients growing like (β₂/β₁)^t reach it (age k carries (β₁/β₂)^k)
    ratio = beta1 / beta2 if beta1 > 0 else 0.0
    worst = [ratio ** (steps - t) for t in range(1, steps + 1)]
    assert step_lengths(torch.optim.Adam, worst, lr=1.0, betas=(beta1, beta2), eps=1e-14)[-1] == pytest.approx(bound, rel=1e-9)


def test_default_betas_bounds():
    assert adam_theory.update_bound(0.9, 0.999, 1) == pytest.approx(1.0)
    assert adam_theory.spike_step_ratio(0.9, 0.999, 10**6) == pytest.approx(0.1 / math.sqrt(0.001))
    assert adam_theory.update_bound(0.9, 0.999, 10**6) == pytest.approx(7.27, abs=0.01)


@pytest.mark.parametrize("bad", [dict(beta=1.0, step=1), dict(beta=0.9, step=0), dict(beta=-0.1, step=3)])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        adam_theory.bias_correction(**bad)


# -- theory.weight_decay ----------------------------------------------------------------------------


def test_plain_sgd_l2_is_decay_with_the_same_lambda():
    rng = np.random.default_rng(4)
    theta, gradients = rng.normal(size=4), [rng.normal(size=4) for _ in range(15)]
    l2 = run_optimizer(torch.optim.SGD, theta, gradients, lr=0.1, weight_decay=0.2)
    by_hand, current = [], np.array(theta)
    for g in gradients:
        current = current * wd_theory.decay_factor(0.1, 0.2) - 0.1 * g  # θ(1 − ηλ) − ηg
        by_hand.append(current.copy())
    np.testing.assert_allclose(l2, by_hand, rtol=1e-12, atol=1e-14)


def test_with_momentum_sgd_l2_is_not_decay():
    rng = np.random.default_rng(5)
    theta, gradients = rng.normal(size=4), [rng.normal(size=4) for _ in range(15)]
    l2 = run_optimizer(torch.optim.SGD, theta, gradients, lr=0.1, momentum=0.9, weight_decay=0.2)
    current, buffer, by_hand = np.array(theta), None, []
    for g in gradients:
        current = current * (1 - 0.1 * 0.2)
        buffer = g.copy() if buffer is None else 0.9 * buffer + g
        current = current - 0.1 * buffer
        by_hand.append(current.copy())
    assert np.abs(l2 - np.array(by_hand)).max() > 1e-2


@pytest.mark.parametrize("cls", [torch.optim.AdamW, optim.AdamW])
def test_shrink_under_schedule_is_torchs_decay(cls):
    # zero gradients: only the decay moves θ, by (1 − η_t λ) with the *scheduled* η_t
    theta = torch.ones(3, dtype=torch.float64, requires_grad=True)
    optimizer = cls([theta], lr=0.1, weight_decay=0.5)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50)
    lrs = []
    for _ in range(50):
        lrs.append(optimizer.param_groups[0]["lr"])
        theta.grad = torch.zeros(3, dtype=torch.float64)
        optimizer.step()
        scheduler.step()
    assert theta[0].item() == pytest.approx(wd_theory.shrink_under_schedule(lrs, 0.5), rel=1e-12)
    constant_half = wd_theory.shrink_under_schedule([0.05] * 50, 0.5)
    assert math.log(theta[0].item()) == pytest.approx(math.log(constant_half), rel=0.05)


def test_paper_weight_decay_and_half_life():
    assert wd_theory.paper_weight_decay(1e-3, 0.1) == pytest.approx(1e-4)
    steps = wd_theory.half_life(1e-3, 1e-2)
    assert wd_theory.decay_factor(1e-3, 1e-2) ** steps == pytest.approx(0.5)
    assert 69_000 < steps < 69_400
    assert wd_theory.half_life(1e-3, 0.0) == math.inf
    with pytest.raises(ValueError):
        wd_theory.decay_factor(-1.0, 0.1)
