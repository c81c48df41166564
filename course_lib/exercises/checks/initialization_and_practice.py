r"""Checkers for notebook 11, initialization and practice: exercises 11.1–11.3.

11.1 predict, then measure: the gain :math:`c` of weights :math:`\mathcal N(0, c^2/n)` at which a
     ``depth``-layer tanh network (no biases, standard-normal inputs) ends with output RMS 1;
     the check bisects the gain on measured random networks (8 of width 128, 64 inputs each).
11.2 predict, then measure: the cosine between the last SGD+momentum step with and without
     clipping by norm, after a short sequence of gradients with a spike; the check runs
     ``torch.optim.SGD`` with and without ``torch.nn.utils.clip_grad_norm_``.
11.3 written answer: why a larger SGD lr is not a substitute for a better initialisation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from course_lib.problems.toy_regression import single_threaded

from ._framework import REGISTRY, Case, KnownMistake, register_prediction, register_written
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
# 11.2 predict, then measure: how far clipping turns a momentum step
# --------------------------------------------------------------------------------------------


def _flat(gradients):
    return [torch.as_tensor(g, dtype=torch.float64).detach().clone().flatten() for g in gradients]


def measured_clip_cosine(gradients, max_norm, momentum):
    """Run ``torch.optim.SGD(lr=0.1, momentum=momentum)`` on one parameter twice from 0, feeding
    ``gradients`` in order, once as they are and once after ``torch.nn.utils.clip_grad_norm_(...,
    max_norm)``, and return the cosine between the two runs' last steps."""
    gradients = _flat(gradients)

    def last_step(clip):
        theta = torch.nn.Parameter(torch.zeros_like(gradients[0]))
        optimizer = torch.optim.SGD([theta], lr=0.1, momentum=momentum)
        for gradient in gradients:
            before = theta.detach().clone()
            theta.grad = gradient.clone()
            if clip:
                torch.nn.utils.clip_grad_norm_([theta], max_norm=max_norm)
            optimizer.step()
        return theta.detach() - before

    with single_threaded():
        plain, clipped = last_step(False), last_step(True)
    return float(torch.dot(plain, clipped) / (plain.norm() * clipped.norm()))


def _cosine(a, b):
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def _weighted(gradients, momentum, factors, *, reverse=False):
    count = len(gradients)
    total = torch.zeros_like(gradients[0])
    for k, (g, c) in enumerate(zip(gradients, factors)):
        power = k if reverse else count - 1 - k
        total = total + momentum**power * c * g
    return total


def _clip_factor(g, max_norm):
    return min(1.0, max_norm / (float(g.norm()) + 1e-6))


def _keeps_direction(gradients, max_norm, momentum):
    return 1.0


def _reversed_weights(gradients, max_norm, momentum):
    gradients = _flat(gradients)
    factors = [_clip_factor(g, max_norm) for g in gradients]
    return _cosine(_weighted(gradients, momentum, [1.0] * len(gradients), reverse=True),
                   _weighted(gradients, momentum, factors, reverse=True))


def _clips_only_the_spike(gradients, max_norm, momentum):
    gradients = _flat(gradients)
    spike = max(range(len(gradients)), key=lambda k: float(gradients[k].norm()))
    factors = [_clip_factor(g, max_norm) if k == spike else 1.0 for k, g in enumerate(gradients)]
    return _cosine(_weighted(gradients, momentum, [1.0] * len(gradients)),
                   _weighted(gradients, momentum, factors))


def _normalises_every_gradient(gradients, max_norm, momentum):
    gradients = _flat(gradients)
    factors = [max_norm / float(g.norm()) for g in gradients]
    return _cosine(_weighted(gradients, momentum, [1.0] * len(gradients)),
                   _weighted(gradients, momentum, factors))


@register_prediction(
    "11.2",
    measure=measured_clip_cosine,
    rtol=0.005,
    atol=0.002,
    explain="Write the last step of each run as a sum over the gradients fed so far: torch's "
            "buffer recursion (notebook 03) says with which weight each gradient enters. Then ask "
            "what clip_grad_norm_, called before every step() (the lecture's section 6), does to "
            "each term, and compare the two sums' directions.",
    mistakes=[
        KnownMistake("keeps_direction", _keeps_direction,
                     "Clipping by norm keeps each *gradient's* direction, but the step is the "
                     "momentum buffer, a sum of several gradients, and clipping shrinks some of "
                     "them and not others: the lecture's section 6 measured the step turning."),
        KnownMistake("reversed_weights", _reversed_weights,
                     "The weights run the wrong way: in torch's buffer the newest gradient counts "
                     "fully and older ones less each step. Recheck the recursion in notebook 03."),
        KnownMistake("clips_only_the_spike", _clips_only_the_spike,
                     "You clipped only the largest gradient. clip_grad_norm_ runs at every step "
                     "and shrinks every gradient whose norm is above max_norm, ordinary ones "
                     "included: check each gradient's norm against the threshold."),
        KnownMistake("normalises_every_gradient", _normalises_every_gradient,
                     "You scaled every gradient to norm max_norm. Clipping never scales a "
                     "gradient up: one already below the threshold enters the buffer unchanged."),
    ],
)
def clip_cosine_cases(rng):
    def vec(*values):
        return torch.tensor(values, dtype=torch.float64)

    yield Case("a spike between two ordinary gradients",
               gradients=[vec(2.0, 0.5), vec(-6.0, 8.0), vec(0.3, -0.4)], max_norm=1.0, momentum=0.9)
    yield Case("a spike first",
               gradients=[vec(0.0, 25.0), vec(1.5, 0.2), vec(0.4, -0.3)], max_norm=1.0, momentum=0.9)
    yield Case("a spike last, momentum 0.5",
               gradients=[vec(0.3, 0.2), vec(0.8, 0.1), vec(-3.0, 6.0)], max_norm=0.5, momentum=0.5)
    max_norm = 1.5
    direction = torch.randn(3, generator=rng, dtype=torch.float64)
    direction = direction / direction.norm()
    small = float(0.3 + 0.6 * torch.rand((), generator=rng)) * max_norm   # left alone by clipping
    large = float(1.3 + 1.5 * torch.rand((), generator=rng)) * max_norm   # clipped a little
    ordinary = [(size * direction + 0.3 * torch.randn(3, generator=rng, dtype=torch.float64))
                for size in (small, large)]
    spike = 30.0 * torch.randn(3, generator=rng, dtype=torch.float64)
    where = int(torch.randint(0, 3, (), generator=rng))
    gradients = ordinary[:where] + [spike] + ordinary[where:]
    momentum = float(0.6 + 0.35 * torch.rand((), generator=rng))
    yield Case(f"drawn gradients, spike at position {where + 1}, momentum {momentum:.2f}",
               gradients=gradients, max_norm=max_norm, momentum=momentum)


# 11.2 is answered by derivation: running torch's optimizer or clipping (the measurement) is flagged.
REGISTRY["11.2"].forbidden_imports = _GRADER_DEFAULT_FORBIDDEN + ("torch.optim", "torch.nn.utils.clip_grad")
REGISTRY["11.2"].measured_by = "running torch.optim.SGD with and without torch.nn.utils.clip_grad_norm_"
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
    rubric=(
        (2, "First reason, worked out rather than restated: an lr multiplies every layer's "
            "relative step by the same factor, so the default init's output-to-hidden ratio of "
            "the per-layer table (5 to 8 in the median row, 3 to 9 over seeds) survives any "
            "lr. 50 times the lr brings the hidden layers near He's (He ÷ default is 36-53× "
            "there) but drives the output layer at about 50 × 7.2e-3 ≈ 0.36 per unit lr, about 3 "
            "times He's 0.12: no single lr matches He's init on every layer. Repeating that 'one "
            "lr scales all layers alike' without this consequence earns no mark."),
        (2, "Second reason, the mechanism: an init scales the weights, an lr only the updates. "
            "The forward signal through six layers is multiplied by every layer's gain, a "
            "product the init fixes at step 0; at torch's default the input-dependent part of "
            "the activations shrinks layer by layer, so the output barely depends on the input "
            "and the hidden gradients carry little information about it. A larger lr can change "
            "that product only by growing the weights along those uninformative gradients, so "
            "it scales the steps without restoring the signal. Citing the lr sweep's failure "
            "alone (stated in the prompt and the lecture) earns no mark."),
        (1, "He's init restores the signal at every layer and keeps the hidden layers' relative "
            "gradients equal (the output's within about 2.4× of them), so one lr fits all layers; credit also: Adam copes by "
            "normalising each weight's step, which removes the scale but not the weak signal."),
    ),
    max_score=5,
)
