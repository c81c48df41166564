r"""Checkers for notebook 06, RMSProp and Adadelta: exercises 6.1 to 6.4.

6.1 ``rmsprop_step(param, grad, state, *, lr, alpha, eps, momentum, centered)``: one step of
    ``torch.optim.RMSprop`` in place on ``param`` and ``state`` (built by
    ``course_lib.optim.rmsprop_init(param, momentum, centered)``). The reference is
    ``course_lib.optim.rmsprop_update``, which equals torch (tests/test_theory_rmsprop.py):

    .. math::

        v \leftarrow \alpha v + (1-\alpha) g^2, \quad
        \bar g \leftarrow \alpha \bar g + (1-\alpha) g, \quad
        D = \sqrt{v - \bar g^2} + \epsilon \ (\text{centered; else } \sqrt v + \epsilon), \\
        b \leftarrow \beta b + g / D,\ \theta \leftarrow \theta - \eta b \ (\beta > 0; \text{ else }
        \theta \leftarrow \theta - \eta\, g / D).
"""

from __future__ import annotations

import torch

from ._framework import Case, KnownMistake, register
from ._state_calls import in_place_state

# --------------------------------------------------------------------------------------------
# 6.1 rmsprop_step
# --------------------------------------------------------------------------------------------


def reference_rmsprop_step(param, grad, state, *, lr, alpha, eps, momentum, centered):
    """One torch RMSprop step: ``course_lib.optim.rmsprop_update`` with these arguments."""
    from course_lib.optim.rmsprop import rmsprop_update

    rmsprop_update(param, grad, state, lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                   centered=centered)


def _rmsprop(param, grad, state, *, lr, alpha, eps, momentum, centered, square_weight=None,
             bias_correct=False, denominator=None, momentum_form="torch", rebind=False):
    # the reference's steps with one thing changed, named by the keyword used
    state["step"] += 1
    t = state["step"].item()
    new_v = alpha * state["square_avg"] + (square_weight if square_weight is not None
                                           else 1 - alpha) * grad * grad
    if rebind:
        state["square_avg"] = new_v
    else:
        state["square_avg"].copy_(new_v)
    v = state["square_avg"] / (1 - alpha**t) if bias_correct else state["square_avg"]
    mean = None
    if centered:
        state["grad_avg"].mul_(alpha).add_((1 - alpha) * grad)
        mean = state["grad_avg"]
    if denominator is not None:
        avg = denominator(v, mean, eps)
    elif centered:
        avg = (v - mean * mean).sqrt() + eps
    else:
        avg = v.sqrt() + eps
    if momentum > 0:
        buffer = state["momentum_buffer"]
        if momentum_form == "ema":
            buffer.mul_(momentum).add_((1 - momentum) * grad / avg)
        elif momentum_form == "raw_grad":
            buffer.mul_(momentum).add_(grad)
            param.sub_(lr * buffer / avg)
            return
        else:
            buffer.mul_(momentum).add_(grad / avg)
        param.sub_(lr * buffer)
    else:
        param.sub_(lr * grad / avg)


def _eps_inside(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw,
             denominator=lambda v, m, e: ((v if m is None else v - m * m) + e).sqrt())


def _bias_corrected(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw, bias_correct=True)


def _no_one_minus_alpha(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw, square_weight=1.0)


def _centered_outside_root(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw,
             denominator=lambda v, m, e: v.sqrt() + e if m is None else v.sqrt() - m * m + e)


def _momentum_ema(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw, momentum_form="ema")


def _momentum_on_raw_gradient(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw, momentum_form="raw_grad")


def _square_avg_rebound(param, grad, state, **kw):
    _rmsprop(param, grad, state, **kw, rebind=True)


RMSPROP_STEP_MISTAKES = [
    KnownMistake(
        "eps_inside_root", _eps_inside,
        "You divided by √(v + ε). torch's RMSprop adds ε *outside* the root: √v + ε "
        "(TensorFlow's kernel puts it inside; the two differ while v is small)."),
    KnownMistake(
        "bias_correction", _bias_corrected,
        "You divided v by (1 − αᵗ), Adam's bias correction. torch's RMSprop has none: it divides "
        "by √v + ε with v started at 0, so its first steps are larger than later ones."),
    KnownMistake(
        "no_one_minus_alpha", _no_one_minus_alpha,
        "Your v adds the whole g². The moving average weighs the new square by (1 − α): "
        "v ← α·v + (1 − α)·g²."),
    KnownMistake(
        "centered_outside_root", _centered_outside_root,
        "Centered RMSprop subtracts the squared mean *inside* the root: √(v − ḡ²) + ε, the "
        "estimated standard deviation of the gradient, not √v − ḡ²."),
    KnownMistake(
        "momentum_ema", _momentum_ema,
        "Your momentum buffer is a moving average, b ← β·b + (1 − β)·g/D. torch's is a sum, as "
        "in SGD: b ← β·b + g/D, then θ ← θ − lr·b."),
    KnownMistake(
        "momentum_on_raw_gradient", _momentum_on_raw_gradient,
        "You accumulated the raw gradient and divided afterwards. torch puts the *normalised* "
        "gradient into the buffer, b ← β·b + g/D, and steps θ ← θ − lr·b."),
    KnownMistake(
        "square_avg_rebound", _square_avg_rebound,
        "Right numbers, but state['square_avg'] is now a new tensor: "
        "`state['square_avg'] = alpha * state['square_avg'] + …` replaces it. Update it in place "
        "(`.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)`), as torch does."),
]


def _rmsprop_state(param, momentum, centered):
    from course_lib.optim.rmsprop import rmsprop_init

    return rmsprop_init(param, momentum=momentum, centered=centered)


@register(
    "6.1",
    reference=reference_rmsprop_step,
    call=in_place_state("state", "param", steps_over="grad"),
    mistakes=RMSPROP_STEP_MISTAKES,
)
def rmsprop_step_cases(rng: torch.Generator):
    def randn(*shape, dtype=torch.float64, scale=1.0):
        return scale * torch.randn(shape, generator=rng, dtype=dtype)

    def uniform(low, high):
        return low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64).item()

    def case(description, shape=(4,), steps=3, dtype=torch.float64, scale=1.0, **hyper):
        param = randn(*shape, dtype=dtype)
        return Case(description, param=param,
                    grad=[randn(*shape, dtype=dtype, scale=scale) for _ in range(steps)],
                    state=_rmsprop_state(param, hyper["momentum"], hyper["centered"]), **hyper)

    # First the cases that tell the misconceptions apart: plain, then each variant on its own.
    yield case("three plain steps (momentum 0, not centered), eps 0.01, small gradients",
               scale=0.1, lr=uniform(0.001, 0.1), alpha=uniform(0.8, 0.99), eps=0.01,
               momentum=0.0, centered=False)
    yield case("three centered steps (momentum 0)", lr=uniform(0.001, 0.1),
               alpha=uniform(0.5, 0.95), eps=1e-8, momentum=0.0, centered=True)
    yield case("three steps with momentum 0.9 (not centered)", lr=uniform(0.001, 0.1),
               alpha=uniform(0.8, 0.99), eps=1e-8, momentum=0.9, centered=False)
    for dtype in (torch.float32, torch.float64):
        for shape in [(5,), (2, 3), ()]:
            steps = int(torch.randint(2, 6, (), generator=rng))
            momentum = [0.0, uniform(0.1, 0.95)][int(torch.randint(0, 2, (), generator=rng))]
            centered = bool(torch.randint(0, 2, (), generator=rng))
            yield case(f"{steps} steps, shape {tuple(shape)}, {str(dtype).replace('torch.', '')}, "
                       f"momentum {momentum:.3g}, centered={centered}",
                       shape=shape, steps=steps, dtype=dtype, lr=uniform(0.001, 0.1),
                       alpha=uniform(0.5, 0.99), eps=10 ** uniform(-8, -2),
                       momentum=momentum, centered=centered)
    yield case("centered with momentum, 5 steps", steps=5, lr=0.01, alpha=0.9, eps=1e-8,
               momentum=0.5, centered=True)
    param = torch.zeros(3, dtype=torch.float64)
    yield Case("a zero gradient on the first step (v stays 0: the step is 0/ε = 0)", param=param,
               grad=[torch.zeros(3, dtype=torch.float64), randn(3)],
               state=_rmsprop_state(param, 0.0, False), lr=0.01, alpha=0.99, eps=1e-8,
               momentum=0.0, centered=False)
