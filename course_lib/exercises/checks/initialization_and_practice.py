r"""Checkers for notebook 11, initialization and practice: exercises 11.1–11.3.

11.1 predict, then measure: the gain :math:`c` of weights :math:`\mathcal N(0, c^2/n)` at which a
     ``depth``-layer tanh network (no biases, standard-normal inputs) ends with output RMS 1;
     the check bisects the gain on measured random networks (8 of width 128, 64 inputs each).
11.2 ``clip_grad_norm(grads, max_norm)``: clip a list of gradients by their *total* norm in place
     and return that norm, as ``torch.nn.utils.clip_grad_norm_`` does (the reference is torch's).
11.3 written answer: why a larger SGD lr is not a substitute for a better initialisation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from course_lib.problems.toy_regression import single_threaded

from ._framework import REGISTRY, Case, KnownMistake, Observation, register, register_prediction, register_written
from .lr_schedules import _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 11.1 predict, then measure: the tanh gain that keeps the signal at RMS 1
# --------------------------------------------------------------------------------------------

WIDTH, NETS, SAMPLES = 128, 8, 64
GAIN_BRACKET = (0.8, 2.2)


def measured_rms(depth: int, gain: float, *, seed: int | None = None) -> float:
    """Build ``NETS`` random tanh networks (``depth`` linear layers of width ``WIDTH``, weights
    N(0, gain²/WIDTH), no biases, tanh between consecutive layers), push standard-normal inputs
    through them and return the RMS of the last layer's output over all networks and inputs.
    The draws depend on ``depth`` (and ``seed``) only, so the RMS is a smooth increasing function
    of ``gain``."""
    generator = torch.Generator().manual_seed(1000 * depth + (0 if seed is None else 7919 * seed))
    with single_threaded():
        z = torch.randn(NETS, SAMPLES, WIDTH, generator=generator, dtype=torch.float64)
        for layer in range(depth):
            weights = torch.randn(NETS, WIDTH, WIDTH, generator=generator, dtype=torch.float64)
            z = torch.bmm(torch.tanh(z) if layer > 0 else z, weights * gain / math.sqrt(WIDTH))
        return float(z.pow(2).mean().sqrt())


def measured_unit_rms_gain(depth: int) -> float:
    """The gain at which the measured RMS (:func:`measured_rms`, same draws for every gain) of the
    ``depth``-th layer's output is 1, found by bisection on the measurement."""
    low, high = GAIN_BRACKET
    for _ in range(16):
        middle = 0.5 * (low + high)
        if measured_rms(depth, middle) < 1.0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _xavier_gain(depth):
    return 1.0


def _calculate_gain(depth):
    return 5.0 / 3.0


def _he_gain(depth):
    return math.sqrt(2.0)


def _fixed_point_gain(depth):
    # the gain for which mean square 1 maps to itself, ignoring that the input layer starts there
    # without a tanh in front: right only once the signal has settled
    z, w = np.polynomial.hermite_e.hermegauss(81)
    return float(1.0 / math.sqrt(np.sum(w / w.sum() * np.tanh(z) ** 2)))


@register_prediction(
    "11.1",
    measure=measured_unit_rms_gain,
    rtol=0.02,
    explain="Follow the mean square q layer by layer. The first layer sees the inputs directly "
            "(no tanh before it). After that, a wide layer's pre-activation is close to Gaussian "
            "with mean square q: what does one tanh and one more linear layer turn q into? Unlike "
            "a ReLU, tanh does not scale q by a constant factor, so compute the new q from the old "
            "one (an expectation over a standard normal, numerically), repeat, and solve for the "
            "gain that ends at 1.",
    mistakes=[
        KnownMistake("xavier_gain", _xavier_gain,
                     "Gain 1 is Glorot & Bengio's, from treating tanh as the identity near 0. tanh "
                     "compresses everything else, so each layer loses a little: the lecture's 30 "
                     "layers end at about a tenth."),
        KnownMistake("calculate_gain", _calculate_gain,
                     "5/3 is torch's calculate_gain('tanh'), a rounded recommendation, not the "
                     "gain that gives RMS 1: the lecture measured it ending somewhat above 1. "
                     "Compute the mean square layer by layer instead."),
        KnownMistake("he_gain", _he_gain,
                     "√2 is He's gain for ReLU, whose halving of the mean square tanh does not do. "
                     "Follow what tanh does to a Gaussian's mean square."),
        KnownMistake("fixed_point_gain", _fixed_point_gain,
                     "That is the gain for which mean square 1 maps to itself: right once the signal "
                     "has settled, deep in the network. For a few layers it has not: the first "
                     "layer's input has no tanh in front of it and the mean square only approaches "
                     "its fixed point layer by layer. Iterate from the input for exactly `depth` layers."),
    ],
)
def unit_rms_gain_cases(rng):
    yield Case("two layers", depth=2)
    yield Case("three layers", depth=3)
    yield Case("twelve layers", depth=12)
    depth = int(torch.randint(4, 10, (), generator=rng))
    yield Case(f"{depth} layers", depth=depth)


# --------------------------------------------------------------------------------------------
# 11.2 clip by the total norm
# --------------------------------------------------------------------------------------------


class clips_in_place:
    """Call ``fn(grads=..., max_norm=...)`` and observe the returned norm, then every gradient."""

    updates = ("grads",)

    def __call__(self, fn, inputs) -> Observation:
        grads = inputs["grads"]
        originals = list(grads)
        returned = fn(grads=grads, max_norm=inputs["max_norm"])
        same_tensors = len(grads) == len(originals) and all(a is b for a, b in zip(grads, originals))
        values = {"whether the list still holds the caller's own tensors": same_tensors,
                  "returned total norm": _as_float(returned)}
        for k, original in enumerate(originals):
            values[f"grads[{k}] after the call"] = original  # the caller's tensor: in place
        return Observation(values, returned=returned)


def _as_float(value):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    return value


def reference_clip_grad_norm(grads, max_norm):
    """torch's own: parameters whose .grad *is* each tensor, so torch scales them in place."""
    params = []
    for grad in grads:
        param = torch.zeros_like(grad, requires_grad=True)
        param.grad = grad
        params.append(param)
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


def _eps_added_to_factor(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.mul_(torch.clamp(max_norm / total + 1e-6, max=1.0))
    return total


def _eps_in_numerator(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.mul_(torch.clamp((max_norm + 1e-6) / total, max=1.0))
    return total


def _clips_a_copy(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g = g * factor  # a new tensor: the caller's gradient is untouched
    return total


def _per_tensor(grads, max_norm):
    norms = [g.norm() for g in grads]
    for g, n in zip(grads, norms):
        g.mul_(torch.clamp(max_norm / (n + 1e-6), max=1.0))
    return torch.stack(norms).norm()


def _no_clamp(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total


def _no_eps(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.mul_(torch.clamp(max_norm / total, max=1.0))
    return total


def _returns_clipped_norm(grads, max_norm):
    reference_clip_grad_norm(grads, max_norm)
    return torch.stack([g.norm() for g in grads]).norm()


def _replaces_tensors(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    grads[:] = [g * torch.clamp(max_norm / (total + 1e-6), max=1.0) for g in grads]
    return total


def _by_value(grads, max_norm):
    total = torch.stack([g.norm() for g in grads]).norm()
    for g in grads:
        g.clamp_(-max_norm, max_norm)
    return total


@register(
    "11.2",
    reference=reference_clip_grad_norm,
    call=clips_in_place(),
    mistakes=[
        KnownMistake("per_tensor", _per_tensor,
                     "You clipped each tensor by its own norm. clip_grad_norm_ computes ONE norm "
                     "over all gradients together, ‖(g₁, g₂, …)‖ = √(Σ‖gₖ‖²), and scales them all by "
                     "the same factor, so the update keeps its direction."),
        KnownMistake("no_clamp", _no_clamp,
                     "You scaled gradients that were already below max_norm up to it. The factor "
                     "max_norm/(total + 1e-6) is clamped at 1: small gradients are left alone."),
        KnownMistake("no_eps", _no_eps,
                     "Almost: torch divides by total_norm + 1e-6 (so a zero gradient never divides "
                     "by zero); without it your factor differs slightly."),
        KnownMistake("eps_added_to_factor", _eps_added_to_factor,
                     "Your 1e-6 is added to the factor. torch adds it to the total norm, in the "
                     "factor's denominator (the exercise's text says where): your factor is "
                     "slightly larger than torch's."),
        KnownMistake("eps_in_numerator", _eps_in_numerator,
                     "Your 1e-6 is added to max_norm. torch adds it to the total norm, in the "
                     "factor's denominator (the exercise's text says where)."),
        KnownMistake("clips_a_copy", _clips_a_copy,
                     "Your factor and returned norm are right, but the caller's tensors are "
                     "unchanged: `g = g * factor` (or a clone) scales a copy. Scale each tensor "
                     "in place, as the exercise asks: in training they are the parameters' .grad, "
                     "which the optimizer reads next."),
        KnownMistake("returns_clipped_norm", _returns_clipped_norm,
                     "Return the total norm measured *before* clipping (what torch returns, useful "
                     "to log spikes), not the norm after it."),
        KnownMistake("replaces_tensors", _replaces_tensors,
                     "You put new tensors into the list. Scale the caller's own tensors in place "
                     "(g.mul_(factor)): in training they are the parameters' .grad, which the "
                     "optimizer reads next."),
        KnownMistake("by_value", _by_value,
                     "That clips each entry to [−max_norm, max_norm] (clip_grad_value_), which "
                     "changes the gradient's direction. Clip by the total norm instead."),
    ],
)
def clip_cases(rng):
    def grads(shapes, scale, dtype=torch.float64):
        return [torch.randn(shape, generator=rng, dtype=dtype) * scale for shape in shapes]

    yield Case("a spike: total norm far above max_norm", grads=grads([(3, 4), (4,)], 10.0), max_norm=1.0)
    yield Case("already small: nothing to clip", grads=grads([(5,), (2, 2)], 0.01), max_norm=1.0)
    yield Case("float32 tensors", grads=grads([(8,), (3,)], 2.0, torch.float32), max_norm=0.5)
    yield Case("one tensor, total norm about 0.5, max_norm 0.1", grads=grads([(6,)], 0.2), max_norm=0.1)
    yield Case("all zeros", grads=[torch.zeros(3, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)],
               max_norm=1.0)
    for _ in range(2):
        scale = float(10 ** (2 * torch.rand((), generator=rng) - 1))
        yield Case(f"drawn gradients of scale {scale:.3g}",
                   grads=grads([(int(torch.randint(1, 6, (), generator=rng)), 3), (7,), ()], scale),
                   max_norm=float(0.1 + torch.rand((), generator=rng)))


# 11.2 asks for clip_grad_norm_ itself: calling torch's is flagged by the grader's scan too.
REGISTRY["11.2"].forbidden_imports = _GRADER_DEFAULT_FORBIDDEN + ("torch.optim", "torch.nn.utils.clip_grad")
# 11.1 runs no optimizer: its Expected line says how its truth is measured
REGISTRY["11.1"].measured_by = "bisecting the gain on 8 random tanh networks of width 128"

# --------------------------------------------------------------------------------------------
# 11.3 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "11.3",
    prompt="At torch's default init the 6-layer network's hidden layers all get about the same, far too "
           "small relative gradient; SGD+momentum stalls and Adam trains. Why is a 50 times larger "
           "SGD lr not equivalent to He's initialisation? Give two reasons from the measurements.",
    rubric="(1) One lr scales every layer's step alike, but the output layer's relative gradient is "
           "several times the hidden layers' (the lecture's per-layer table): an lr that moves the "
           "hidden weights enough moves the output layer by a large fraction of its size per step "
           "and destabilises it first. (2) The init sets the forward signal, not only the gradient "
           "size: at torch's default the part of the activations that depends on the input shrinks layer "
           "by layer (a few percent of the output's RMS; the rest is the biases' level), so the "
           "output hardly depends on the input and the hidden gradients carry little information; "
           "larger steps along them do not restore the signal (the lecture: no lr from 0.03 to 3 "
           "gets SGD+momentum past 0.5). He's init restores the signal and "
           "keeps the layers' relative gradients balanced. Credit also: Adam copes by normalising "
           "each weight's step, which removes the scale but not the weak signal.",
)
