r"""Notebook 11's machinery: initialise a network by a named scheme, and measure the scale of its
activations and gradients layer by layer.

Schemes (weights; biases are set to 0 except for ``"torch_default"``, which keeps torch's):

* ``"zero"``: :math:`W = 0`; ``"constant"``: every weight :math:`1/n_{\text{in}}`
  (non-zero, but all equal: the symmetry problem without the zeros);
* ``"normal"``: :math:`\mathcal N(0, (\text{gain}\cdot 0.01)^2)`, the "small random numbers" of
  older tutorials;
* ``"xavier"``: ``nn.init.xavier_uniform_(W, gain)``;
* ``"he"``: ``nn.init.kaiming_normal_(W, nonlinearity="relu")`` scaled by ``gain/√2`` so that
  ``gain = √2`` is He's :math:`\mathcal N(0, 2/n_{\text{in}})`; in general
  :math:`\mathcal N(0, \text{gain}^2/n_{\text{in}})`;
* ``"torch_default"``: what ``nn.Linear`` does by itself, :math:`U(\pm 1/\sqrt{n_{\text{in}}})`;
* ``"torch_default_zero_bias"``: torch's default weights with the biases set to 0 (to separate
  what the weights do from what torch's biases do).

:func:`layer_scales` measures one network; :func:`scales_over_seeds` the same network built from
many seeds (single deep networks scatter around the average, Hanin & Rolnick 2018);
:func:`relative_weight_gradients` gives :math:`\lVert\nabla_W f\rVert/\lVert W\rVert` per layer for a
classification loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.problems.toy_regression import single_threaded

__all__ = ["SCHEMES", "ACTIVATIONS", "deep_mlp", "initialise", "LayerScales", "layer_scales",
           "scales_over_seeds", "relative_weight_gradients"]

SCHEMES = ("zero", "constant", "normal", "xavier", "he", "torch_default", "torch_default_zero_bias")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}


def deep_mlp(depth: int, width: int, *, activation: str = "relu", n_in: int | None = None,
             n_out: int | None = None, seed: int = 0) -> nn.Sequential:
    """``depth`` linear layers of ``width`` units, each followed by ``activation`` but the last."""
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got {depth} and {width}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
    sizes = [n_in or width] + [width] * (depth - 1) + [n_out or width]
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if k < depth - 1:
                layers.append(ACTIVATIONS[activation]())
    return net_with_seed(nn.Sequential(*layers), seed)


def net_with_seed(net: nn.Sequential, seed: int) -> nn.Sequential:
    net.seed = seed  # initialise() draws from a generator seeded with it
    return net


def initialise(net: nn.Sequential, scheme: str, gain: float = 1.0, *, seed: int | None = None) -> nn.Sequential:
    """Re-initialise every ``nn.Linear`` of ``net`` in place by ``scheme`` (see the module docstring)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {list(SCHEMES)}")
    if scheme == "torch_default":
        return net
    if scheme == "torch_default_zero_bias":
        with torch.no_grad():
            for layer in (m for m in net if isinstance(m, nn.Linear)):
                layer.bias.zero_()
        return net
    seed = getattr(net, "seed", 0) if seed is None else seed
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed + 1)
        for layer in (m for m in net if isinstance(m, nn.Linear)):
            n_in = layer.in_features
            if scheme == "zero":
                layer.weight.zero_()
            elif scheme == "constant":
                layer.weight.fill_(1.0 / n_in)
            elif scheme == "normal":
                layer.weight.normal_(0.0, 0.01 * gain)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(layer.weight, gain=gain)
            elif scheme == "he":
                layer.weight.normal_(0.0, gain / math.sqrt(n_in))
            layer.bias.zero_()
    return net


@dataclass
class LayerScales:
    """Per linear layer (input side first): the RMS of its output (pre-activation) on the batch,
    and the RMS of the gradient of the loss with respect to its weight."""

    activation_rms: np.ndarray
    weight_grad_rms: np.ndarray


def layer_scales(net: nn.Sequential, x: torch.Tensor, loss_fn=None) -> LayerScales:
    """Forward ``x`` through ``net``, record each linear layer's output RMS, backpropagate
    ``loss_fn(output)`` (default: half the mean square of the output) and record each weight
    gradient's RMS."""
    outputs = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach()))
             for m in net if isinstance(m, nn.Linear)]
    try:
        with single_threaded():
            net.zero_grad()
            out = net(x)
            loss = 0.5 * (out**2).mean() if loss_fn is None else loss_fn(out)
            loss.backward()
    finally:
        for hook in hooks:
            hook.remove()
    # in float64: the squares of float32 values below about 1e-23 underflow to 0 in float32,
    # which would show gradients of 1e-25 (small, but not zero) as exactly 0
    activation = np.array([float(o.double().pow(2).mean().sqrt()) for o in outputs])
    grads = np.array([float(m.weight.grad.double().pow(2).mean().sqrt()) for m in net if isinstance(m, nn.Linear)])
    return LayerScales(activation, grads)


def scales_over_seeds(depth: int, width: int, seeds, *, activation: str = "relu", scheme: str = "he",
                      gain: float = math.sqrt(2), batch: int = 256) -> list[LayerScales]:
    """:func:`layer_scales` of the network that notebook 11's depth panel builds at each seed:
    ``deep_mlp(depth, width, activation, seed)`` initialised by ``scheme`` and ``gain``, fed
    ``batch`` standard-normal inputs drawn from ``torch.Generator().manual_seed(seed)``."""
    results = []
    for seed in seeds:
        x = torch.randn(batch, width, generator=torch.Generator().manual_seed(int(seed)))
        net = initialise(deep_mlp(depth, width, activation=activation, seed=int(seed)), scheme, gain)
        results.append(layer_scales(net, x))
    return results


def relative_weight_gradients(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    r""":math:`\lVert\nabla_{W_l} f\rVert / \lVert W_l\rVert` for each linear layer (input side first),
    with :math:`f` the mean cross-entropy of ``net(x)`` against the labels ``y``: the fraction of
    its own size that one SGD step at lr 1 would move each weight matrix."""
    with single_threaded():
        net.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
    linears = [m for m in net if isinstance(m, nn.Linear)]
    return np.array([float(m.weight.grad.double().norm() / m.weight.detach().double().norm()) for m in linears])
