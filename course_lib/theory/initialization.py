r"""Initialisation scales from variance preservation, and torch's own defaults.

A linear layer :math:`z = Wx` with :math:`n_{\text{in}}` inputs and weights drawn independently
with mean 0 and variance :math:`\operatorname{Var}(w)` gives each output the variance

.. math::  \operatorname{Var}(z_j) = n_{\text{in}}\,\operatorname{Var}(w)\,\mathbb E[x_i^2].

**Forward**, keeping :math:`\operatorname{Var}(z) = \mathbb E[x^2]` needs
:math:`\operatorname{Var}(w) = 1/n_{\text{in}}`; **backward**, the gradient
:math:`\partial f/\partial x = W^\top \partial f/\partial z` keeps its variance when
:math:`\operatorname{Var}(w) = 1/n_{\text{out}}`. **Glorot & Bengio (2010)** compromise,
:math:`\operatorname{Var}(w) = 2/(n_{\text{in}}+n_{\text{out}})`; a uniform :math:`U(-a, a)` has variance
:math:`a^2/3`, so

.. math::  a_{\text{Xavier}} = \text{gain}\cdot\sqrt{\frac{6}{n_{\text{in}}+n_{\text{out}}}}.

**He et al. (2015)**: after a ReLU only half of a symmetric pre-activation survives,
:math:`\mathbb E[\operatorname{relu}(z)^2] = \operatorname{Var}(z)/2`, so preserving the
variance through ReLU layers needs twice as much, :math:`\operatorname{Var}(w) = 2/n_{\text{in}}`:

.. math::  W \sim \mathcal N\bigl(0,\ 2/n_{\text{in}}\bigr)\quad(\text{gain } \sqrt2,\ \text{fan\_in}).

**torch's ``nn.Linear`` default** is neither: ``kaiming_uniform_(W, a=√5)`` gives
:math:`U(-1/\sqrt{n_{\text{in}}}, 1/\sqrt{n_{\text{in}}})`, variance :math:`1/(3n_{\text{in}})`
(a third of the forward-preserving value, a sixth of He's), and the bias is drawn from the
same interval.

Through :math:`D` ReLU layers of equal width with :math:`\operatorname{Var}(w) = c^2/n` and zero biases, on
inputs with :math:`\mathbb E[x^2] = q_0`, the mean square of the last pre-activation is

.. math::  \mathbb E[z_D^2] = c^2 q_0 \Bigl(\frac{c^2}{2}\Bigr)^{D-1},

constant in depth exactly when :math:`c = \sqrt 2`.
"""

from __future__ import annotations

import math

__all__ = [
    "xavier_uniform_bound",
    "xavier_normal_std",
    "he_normal_std",
    "torch_linear_default_bound",
    "torch_linear_default_std",
    "relu_depth_mean_square",
]


def _check_fan(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def xavier_uniform_bound(n_in: int, n_out: int, gain: float = 1.0) -> float:
    r""":math:`a = \text{gain}\sqrt{6/(n_{\text{in}}+n_{\text{out}})}` of ``nn.init.xavier_uniform_``."""
    _check_fan("n_in", n_in)
    _check_fan("n_out", n_out)
    return gain * math.sqrt(6.0 / (n_in + n_out))


def xavier_normal_std(n_in: int, n_out: int, gain: float = 1.0) -> float:
    r""":math:`\text{gain}\sqrt{2/(n_{\text{in}}+n_{\text{out}})}` of ``nn.init.xavier_normal_``."""
    _check_fan("n_in", n_in)
    _check_fan("n_out", n_out)
    return gain * math.sqrt(2.0 / (n_in + n_out))


def he_normal_std(n_in: int, gain: float = math.sqrt(2.0)) -> float:
    r""":math:`\text{gain}/\sqrt{n_{\text{in}}}` of ``nn.init.kaiming_normal_`` (fan_in, ReLU: gain √2)."""
    _check_fan("n_in", n_in)
    return gain / math.sqrt(n_in)


def torch_linear_default_bound(n_in: int) -> float:
    r""":math:`1/\sqrt{n_{\text{in}}}`: ``nn.Linear`` draws weight and bias from :math:`U(-a, a)` with this :math:`a`."""
    _check_fan("n_in", n_in)
    return 1.0 / math.sqrt(n_in)


def torch_linear_default_std(n_in: int) -> float:
    r"""The standard deviation :math:`1/\sqrt{3 n_{\text{in}}}` of ``nn.Linear``'s default weights."""
    return torch_linear_default_bound(n_in) / math.sqrt(3.0)


def relu_depth_mean_square(depth: int, gain: float, input_mean_square: float = 1.0) -> float:
    r""":math:`\mathbb E[z_D^2] = c^2 q_0 (c^2/2)^{D-1}` for :math:`D` ReLU layers with :math:`\operatorname{Var}(w) = c^2/n`."""
    _check_fan("depth", depth)
    return gain**2 * input_mean_square * (gain**2 / 2.0) ** (depth - 1)
