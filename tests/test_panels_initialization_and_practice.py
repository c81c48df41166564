"""The depth panel of notebook 11, through panel.update: the curves equal a hand-built torch
network, the dashed line is the closed form, and each "Things to try" promise holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.ui.panels.initialization_and_practice import BATCH, WIDTH, depth_panel
from course_lib.theory.initialization import relu_depth_mean_square


@pytest.fixture(scope="module")
def panel():
    return depth_panel()


def activations(panel):
    return panel.figure.act_line.get_data()[1]


def gradients(panel):
    return panel.figure.grad_line.get_data()[1]


def test_curves_equal_a_hand_built_network(panel):
    panel.update(depth=5, activation="tanh", scheme="xavier", gain=1.3, seed=0)
    x = torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(0))
    layers = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        linears = [nn.Linear(WIDTH, WIDTH) for _ in range(5)]  # same draws as deep_mlp(seed=0)
    torch.manual_seed(1)
    for linear in linears:
        nn.init.xavier_uniform_(linear.weight, gain=1.3)
        nn.init.zeros_(linear.bias)
    h, rms = x, []
    for k, linear in enumerate(linears):
        h = linear(h)
        rms.append(float(h.detach().pow(2).mean().sqrt()))
        if k < 4:
            h = torch.tanh(h)
    (0.5 * h.pow(2).mean()).backward()
    np.testing.assert_allclose(activations(panel), rms, rtol=1e-5)
    np.testing.assert_allclose(gradients(panel), [float(l.weight.grad.pow(2).mean().sqrt()) for l in linears], rtol=1e-4)


def test_dashed_line_is_the_closed_form_only_for_relu_and_he(panel):
    panel.update(depth=12, activation="relu", scheme="he", gain=1.2)
    np.testing.assert_allclose(panel.figure.theory_line.get_data()[1],
                               [math.sqrt(relu_depth_mean_square(l, 1.2)) for l in range(1, 13)])
    panel.update(scheme="xavier")
    assert len(panel.figure.theory_line.get_data()[0]) == 0


def test_he_at_seed_0_is_one_draw_around_the_closed_form(panel):
    # the closed form is the average over networks; one seed scatters around it (the claims,
    # over 40 seeds, are in tests/test_claims_11_initialization.py)
    panel.update(depth=30, activation="relu", scheme="he", gain=math.sqrt(2), seed=0)
    assert np.all(np.abs(np.log(activations(panel) / math.sqrt(2))) < math.log(10))


def test_things_to_try_xavier_with_relu_halves_the_mean_square_per_layer(panel):
    # "Xavier (gain 1) with ReLU: by layer 30 the output is below 1/1000 of layer 1's."
    panel.update(depth=30, activation="relu", scheme="xavier", gain=1.0)
    assert activations(panel)[-1] < 1e-3 * activations(panel)[0]
    # "Xavier with tanh at gain 1: it shrinks far less, but still to about a tenth by layer 30."
    panel.update(activation="tanh")
    assert 0.05 < activations(panel)[-1] < 0.2


def test_things_to_try_gain_two_explodes(panel):
    # "He with gain 2: the output RMS passes 1000 by layer 30."
    panel.update(depth=30, activation="relu", scheme="he", gain=2.0)
    assert activations(panel)[-1] > 1e3


def test_things_to_try_torchs_default_starves_the_first_layers(panel):
    # "torch's default with ReLU, 30 layers: the first layer's weight gradient is a millionth
    #  of the last layer's or less."
    panel.update(depth=30, activation="relu", scheme="torch_default", gain=1.0, seed=0)
    assert gradients(panel)[0] < 1e-6 * gradients(panel)[-1]
    # "... switch to torch_default_zero_bias: the layers get about the same gradient"
    panel.update(scheme="torch_default_zero_bias")
    assert 0.2 < gradients(panel)[0] / gradients(panel)[-1] < 5
