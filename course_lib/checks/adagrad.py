r"""Checkers for notebook 05, Adagrad: exercises 5.1 to 5.3.

5.1 ``adagrad_step(param, grad, state, *, lr, lr_decay, eps)``: one step of
    ``torch.optim.Adagrad`` in place on ``param`` and ``state`` (``step`` and ``sum``, created by
    ``course_lib.optim.adagrad_init`` with an ``initial_accumulator_value``). The reference is
    ``course_lib.optim.adagrad_update``, which equals torch (tests/test_theory_adagrad.py):

    .. math::

        t \leftarrow t + 1, \quad \tilde\eta = \frac{\eta}{1 + (t-1)\,d}, \quad
        s \leftarrow s + g^2, \quad \theta \leftarrow \theta - \tilde\eta\,\frac{g}{\sqrt s + \epsilon}

    with :math:`\eta` = ``lr``, :math:`d` = ``lr_decay``, :math:`\epsilon` = ``eps``.
"""

from __future__ import annotations

import torch

from ._framework import Case, KnownMistake, register
from ._state_calls import in_place_state

# --------------------------------------------------------------------------------------------
# 5.1 adagrad_step
# --------------------------------------------------------------------------------------------


def reference_adagrad_step(param, grad, state, *, lr, lr_decay, eps):
    """One torch Adagrad step: ``course_lib.optim.adagrad_update`` with these arguments."""
    from course_lib.optim.adagrad import adagrad_update

    adagrad_update(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps)


def _adagrad(param, grad, state, *, lr, lr_decay, eps, decay_steps=None, denominator=None,
             accumulate_first=True, rebind=False):
    # the reference's steps with one thing changed, named by the keyword used
    state["step"] += 1
    t = state["step"].item()
    clr = lr / (1 + (decay_steps(t) if decay_steps else t - 1) * lr_decay)
    old_sum = state["sum"].clone()
    if rebind:
        state["sum"] = state["sum"] + grad * grad
    else:
        state["sum"].add_(grad * grad)
    s = state["sum"] if accumulate_first else old_sum
    denom = denominator(s, eps) if denominator else s.sqrt() + eps
    param.sub_(clr * grad / denom)


def _eps_inside(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps,
             denominator=lambda s, e: (s + e).sqrt())


def _decay_uses_t(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps, decay_steps=lambda t: t)


def _decay_ignored(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps, decay_steps=lambda t: 0)


def _no_square_root(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps,
             denominator=lambda s, e: s + e)


def _old_accumulator(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps, accumulate_first=False)


def _accumulator_rebound(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps, rebind=True)


ADAGRAD_STEP_MISTAKES = [
    KnownMistake(
        "eps_inside_root", _eps_inside,
        "You divided by √(s + ε). torch adds ε *outside* the root: g / (√s + ε). The two differ "
        "most when s is small (early steps, rare features), which is exactly where ε matters."),
    KnownMistake(
        "decay_uses_t", _decay_uses_t,
        "Your step size decays from the first step on. torch uses lr / (1 + (t − 1)·lr_decay) "
        "with t counted after incrementing, so step 1 uses the full lr."),
    KnownMistake(
        "decay_ignored", _decay_ignored,
        "Your steps ignore lr_decay. torch scales lr by 1 / (1 + (t − 1)·lr_decay), where t is "
        "state['step'] after this step's increment."),
    KnownMistake(
        "no_square_root", _no_square_root,
        "You divided by the accumulated sum itself. Adagrad divides by its square root, √s + ε, "
        "so that the step has the units of θ (g / √(Σg²) is unitless)."),
    KnownMistake(
        "old_accumulator", _old_accumulator,
        "You divided by the accumulator from before this step. torch first adds g² to "
        "state['sum'] and then divides by √s + ε with the new s."),
    KnownMistake(
        "accumulator_rebound", _accumulator_rebound,
        "Right numbers, but state['sum'] is now a new tensor: `state['sum'] = state['sum'] + …` "
        "replaces it instead of updating it. Update the accumulator in place "
        "(`state['sum'].add_(grad * grad)` or `state['sum'] += grad * grad`), as torch does, so "
        "everything holding it (the optimizer's state_dict, for one) sees the new value."),
]


def _adagrad_state(param, initial_accumulator_value):
    from course_lib.optim.adagrad import adagrad_init

    return adagrad_init(param, initial_accumulator_value)


@register(
    "5.1",
    reference=reference_adagrad_step,
    call=in_place_state("state", "param", steps_over="grad"),
    mistakes=ADAGRAD_STEP_MISTAKES,
)
def adagrad_step_cases(rng: torch.Generator):
    def randn(*shape, dtype=torch.float64, scale=1.0):
        return scale * torch.randn(shape, generator=rng, dtype=dtype)

    def uniform(low, high):
        return low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64).item()

    # First the cases that tell the misconceptions apart: a large ε and small gradients
    # (ε inside vs outside), lr_decay > 0 over several steps (t vs t − 1), s₀ > 0 (old vs new s).
    param = randn(4)
    yield Case("three steps, lr_decay 0.5, eps 0.1, accumulator starting at 0.2",
               param=param, grad=[randn(4, scale=0.3) for _ in range(3)],
               state=_adagrad_state(param, 0.2), lr=uniform(0.05, 0.5), lr_decay=0.5, eps=0.1)
    param = randn(3)
    yield Case("first step only, accumulator starting at 0 (torch's default), eps 1e-10",
               param=param, grad=[randn(3)], state=_adagrad_state(param, 0.0),
               lr=uniform(0.01, 1.0), lr_decay=0.0, eps=1e-10)
    for dtype in (torch.float32, torch.float64):
        for shape in [(5,), (2, 3), ()]:
            param = randn(*shape, dtype=dtype)
            steps = int(torch.randint(2, 6, (), generator=rng))
            yield Case(f"{steps} steps, shape {tuple(shape)}, {str(dtype).replace('torch.', '')}",
                       param=param, grad=[randn(*shape, dtype=dtype) for _ in range(steps)],
                       state=_adagrad_state(param, uniform(0.0, 0.5)), lr=uniform(0.01, 1.0),
                       lr_decay=uniform(0.0, 1.0), eps=10 ** uniform(-10, -1))
    param = randn(4)
    sparse_grads = [torch.zeros(4, dtype=torch.float64) for _ in range(4)]
    sparse_grads[0][0] = sparse_grads[3][0] = 1.5  # coordinate 0 appears twice, the others never
    yield Case("a sparse feature: zero gradients on most steps and coordinates (s₀ = 0)",
               param=param, grad=sparse_grads, state=_adagrad_state(param, 0.0),
               lr=uniform(0.1, 1.0), lr_decay=0.25, eps=1e-10)
    param = randn(3)
    yield Case("large gradients (1e3), lr_decay 0.1",
               param=param, grad=[randn(3, scale=1e3) for _ in range(3)],
               state=_adagrad_state(param, 0.0), lr=0.1, lr_decay=0.1, eps=1e-10)
