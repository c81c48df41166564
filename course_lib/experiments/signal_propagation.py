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
* ``"torch_default"``: what ``nn.Linear`` does by itself, :math:`U(\pm 1/\sqrt{n_{\text{in}}})`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_lib.problems.toy_regression import single_threaded

__all__ = ["SCHEMES", "ACTIVATIONS", "deep_mlp", "initialise", "LayerScales", "layer_scales"]

SCHEMES = ("zero", "constant", "normal", "xavier", "he", "torch_default")
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
    activation = np.array([float(o.pow(2).mean().sqrt()) for o in outputs])
    grads = np.array([float(m.weight.grad.pow(2).mean().sqrt()) for m in net if isinstance(m, nn.Linear)])
    return LayerScales(activation, grads)
