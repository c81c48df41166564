r"""Checkers for notebook 11, initialization and practice: exercises 11.1–11.3.

11.1 predict, then measure: the RMS of the last pre-activation of a deep ReLU network with
     weights :math:`\mathcal N(0, g^2/n)`, zero biases and standard-normal inputs, from its depth
     and gain; the check runs such networks (16 of width 128, 128 inputs each) and measures it.
11.2 ``clip_grad_norm(grads, max_norm)``: clip a list of gradients by their *total* norm in place
     and return that norm, as ``torch.nn.utils.clip_grad_norm_`` does (the reference is torch's).
11.3 written answer: why zero or constant initialisation fails.
"""

from __future__ import annotations

import math

import torch

from course_lib.problems.toy_regression import single_threaded

from ._framework import REGISTRY, Case, KnownMistake, Observation, register, register_prediction, register_written
from .lr_schedules import _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 11.1 predict, then measure: activation scale through depth
# --------------------------------------------------------------------------------------------

WIDTH, NETS, SAMPLES = 128, 16, 128


def measured_last_rms(depth: int, gain: float) -> float:
    """Build ``NETS`` random ReLU networks (weights N(0, gain²/WIDTH), no biases), push standard
    normal inputs through ``depth`` linear layers (ReLU between them) and return the RMS of the
    last layer's output over all networks and inputs."""
    generator = torch.Generator().manual_seed(1000 * depth + round(100 * gain))
    with single_threaded():
        z = torch.randn(NETS, SAMPLES, WIDTH, generator=generator, dtype=torch.float64)
        for layer in range(depth):
            weights = torch.randn(NETS, WIDTH, WIDTH, generator=generator, dtype=torch.float64)
            z = torch.bmm(torch.relu(z) if layer > 0 else z, weights * gain / math.sqrt(WIDTH))
        return float(z.pow(2).mean().sqrt())


def _no_relu_halving(depth, gain):
    return gain**depth


def _halving_on_every_layer(depth, gain):
    return (gain / math.sqrt(2)) ** depth


def _halving_the_std(depth, gain):
    return gain * (gain / 2) ** (depth - 1)


def _variance_not_rms(depth, gain):
    return gain**2 * (gain**2 / 2) ** (depth - 1)


@register_prediction(
    "11.1",
    measure=measured_last_rms,
    rtol=0.1,
    explain="Follow the mean square layer by layer: a linear layer with n inputs and weight "
            "variance g²/n multiplies E[x²] by g²; what does a ReLU do to the mean square of a "
            "symmetric input, and does the first layer get a ReLU before it?",
    mistakes=[
        KnownMistake("no_relu_halving", _no_relu_halving,
                     "You ignored the ReLUs: a ReLU zeroes the negative half of a symmetric "
                     "pre-activation, so it halves the mean square (E[relu(z)²] = E[z²]/2)."),
        KnownMistake("halving_on_every_layer", _halving_on_every_layer,
                     "One halving too many: the inputs go into the first layer directly; only the "
                     "depth − 1 layers after it see a ReLU first."),
        KnownMistake("halving_the_std", _halving_the_std,
                     "The ReLU halves the mean square, not the RMS: the RMS shrinks by √2."),
        KnownMistake("variance_not_rms", _variance_not_rms,
                     "That is the mean square E[z²]; the exercise asks for its square root, the RMS."),
    ],
)
def depth_scale_cases(rng):
    yield Case("one layer, gain 1", depth=1, gain=1.0)
    yield Case("He's gain √2, 6 layers", depth=6, gain=math.sqrt(2))
    yield Case("gain 1 (LeCun's variance 1/n), 5 layers", depth=5, gain=1.0)
    for _ in range(2):
        depth = int(torch.randint(2, 7, (), generator=rng))
        gain = round(float(0.8 + 1.0 * torch.rand((), generator=rng)), 2)
        yield Case(f"{depth} layers, gain {gain}", depth=depth, gain=gain)


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
REGISTRY["11.1"].measured_by = "pushing inputs through 16 random networks"

# --------------------------------------------------------------------------------------------
# 11.3 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "11.3",
    prompt="Notebook 11 trains a network whose weights all start at the same constant. Why does "
           "it never learn more than a one-unit network, and why is that not a problem of "
           "exploding or vanishing gradients?",
    rubric="With equal incoming weights every hidden unit of a layer computes the same output, so "
           "its outgoing weights receive the same gradient and its incoming weights the same "
           "gradient: after every update the units are still identical (the symmetry is never "
           "broken, by any optimizer that treats them alike), so a layer of width n behaves like "
           "one unit. The gradients themselves can have any size (the notebook shows they are "
           "neither exploding nor vanishing); random initialisation breaks the symmetry. "
           "All-zero weights are the special case where the hidden gradients are also zero.",
)
