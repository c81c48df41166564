"""Initialisation: the closed forms against torch.nn.init and nn.Linear, the depth law against a
simulation, and the named schemes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.experiments import signal_propagation as init
from course_lib.theory import initialization as T


def test_xavier_bound_is_torchs():
    w = torch.empty(300, 500)
    torch.manual_seed(0)
    nn.init.xavier_uniform_(w, gain=1.7)
    bound = T.xavier_uniform_bound(500, 300, gain=1.7)   # torch: fan_in = 500 columns, fan_out = 300 rows
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.999 * bound
    assert float(w.var()) == pytest.approx(bound**2 / 3, rel=0.02)
    torch.manual_seed(0)
    nn.init.xavier_normal_(w)
    assert float(w.std()) == pytest.approx(T.xavier_normal_std(500, 300), rel=0.02)


def test_he_normal_is_torchs_kaiming_normal_for_relu():
    w = torch.empty(400, 250)
    torch.manual_seed(0)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert float(w.std()) == pytest.approx(T.he_normal_std(250), rel=0.02)


def test_nn_linear_default_is_uniform_one_over_sqrt_fan_in_for_weight_and_bias():
    torch.manual_seed(0)
    layer = nn.Linear(400, 600)
    bound = T.torch_linear_default_bound(400)
    for tensor in (layer.weight.detach(), layer.bias.detach()):
        assert float(tensor.abs().max()) <= bound and float(tensor.abs().max()) > 0.99 * bound
    assert float(layer.weight.std()) == pytest.approx(T.torch_linear_default_std(400), rel=0.02)
    assert T.torch_linear_default_std(400) ** 2 == pytest.approx(T.he_normal_std(400) ** 2 / 6)


@pytest.mark.parametrize("depth, gain", [(1, 1.0), (4, math.sqrt(2)), (6, 1.0), (5, 1.8)])
def test_depth_law_matches_a_simulation_averaged_over_networks(depth, gain):
    width, nets, batch = 256, 24, 256
    generator = torch.Generator().manual_seed(depth)
    x = torch.randn(nets, batch, width, generator=generator)
    z = x
    for layer in range(depth):
        w = torch.randn(nets, width, width, generator=generator) * gain / math.sqrt(width)
        z = torch.bmm(torch.relu(z) if layer > 0 else z, w)
    measured_rms = float(z.pow(2).mean().sqrt())   # finite width makes each net's scale random:
    assert measured_rms == pytest.approx(math.sqrt(T.relu_depth_mean_square(depth, gain)), rel=0.05)


def test_schemes_set_the_weights_they_name():
    net = init.initialise(init.deep_mlp(3, 50, seed=2), "he", math.sqrt(2))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert all(float(m.bias.abs().max()) == 0 for m in linears)
    stds = [float(m.weight.std()) for m in linears]
    assert stds == pytest.approx([T.he_normal_std(50)] * 3, rel=0.05)
    constant = init.initialise(init.deep_mlp(2, 10), "constant")
    assert torch.all(constant[0].weight == 0.1)
    default = init.deep_mlp(2, 10, seed=5)
    torch.manual_seed(5)
    assert torch.equal(default[0].weight, nn.Linear(10, 10).weight)
    with pytest.raises(ValueError, match="unknown scheme"):
        init.initialise(default, "orthogonal")


def test_layer_scales_equal_a_hand_computation():
    net = init.initialise(init.deep_mlp(3, 8, seed=1), "xavier")
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    scales = init.layer_scales(net, x)
    h1 = net[0](x)
    assert scales.activation_rms[0] == pytest.approx(float(h1.pow(2).mean().sqrt()), rel=1e-6)
    net.zero_grad()
    (0.5 * net(x).pow(2).mean()).backward()
    assert scales.weight_grad_rms[2] == pytest.approx(float(net[4].weight.grad.pow(2).mean().sqrt()), rel=1e-6)
