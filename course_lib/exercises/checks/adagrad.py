r"""Checkers for notebook 05, Adagrad: exercises 5.1 to 5.3.

5.1 ``adagrad_step(param, grad, state, *, lr, lr_decay, eps)``: one step of
    ``torch.optim.Adagrad`` in place on ``param`` and ``state`` (``step`` and ``sum``, created by
    ``course_lib.optim.adagrad_init`` with an ``initial_accumulator_value``). The reference is
    ``course_lib.optim.adagrad_update``, which equals torch (tests/test_theory_adagrad.py):

    .. math::

        t \leftarrow t + 1, \quad \tilde\eta = \frac{\eta}{1 + (t-1)\,d}, \quad
        s \leftarrow s + g^2, \quad \theta \leftarrow \theta - \tilde\eta\,\frac{g}{\sqrt s + \epsilon}

    with :math:`\eta` = ``lr``, :math:`d` = ``lr_decay``, :math:`\epsilon` = ``eps``.
5.2 *predict, then measure*: ``predicted_effective_lr(lr, lr_decay, initial_accumulator_value,
    eps, g, every, t)``, the effective learning rate :math:`-\Delta\theta_t / g` of a coordinate
    whose gradient is ``g`` on every ``every``-th step and 0 otherwise, at step ``t`` (a multiple of
    ``every``). The check measures it by running ``torch.optim.Adagrad``. The answer,
    :math:`\eta / (1 + (t-1) d) \,/\, (\sqrt{s_0 + (t/\text{every})\, g^2} + \epsilon)`, rests on two
    facts: zero gradients add nothing to the accumulator, but torch's step counter (and so the
    lr decay) counts every step of the parameter.
5.3 *written*: why a per-coordinate step size cannot fix a rotated valley.
5.4 *predict, then measure*: ``predicted_steps(error0, lr, tol, curvature, every)``, the first step
    at which a coordinate with loss ½·h·θ², seen every ``every``-th step, is within ``tol`` of its
    minimum under ``torch.optim.Adagrad(lr)``: the curvature cancels in g/√Σg², zero steps change
    nothing, so it is ``every`` times the number of appearances the κ-free recurrence needs.
"""

from __future__ import annotations

import math

import torch


from course_lib.optim.adagrad import adagrad_init, adagrad_update

from ._framework import Case, KnownMistake, register, register_prediction, register_written

# Bound once, when the checks load: a learner's cell that reassigns torch.optim.Adagrad or
# course_lib.optim.adagrad.adagrad_update afterwards cannot change what the checks compare with.
_TorchAdagrad = torch.optim.Adagrad
from ._state_calls import in_place_state

# --------------------------------------------------------------------------------------------
# 5.1 adagrad_step
# --------------------------------------------------------------------------------------------


def reference_adagrad_step(param, grad, state, *, lr, lr_decay, eps):
    """One torch Adagrad step: ``course_lib.optim.adagrad_update`` with these arguments."""
    adagrad_update(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps)


def _adagrad(param, grad, state, *, lr, lr_decay, eps, decay_steps=None, denominator=None,
             accumulate_first=True, rebind=()):
    # the reference's steps with one thing changed, named by the keyword used
    if "step" in rebind:
        state["step"] = state["step"] + 1
    else:
        state["step"] += 1
    t = state["step"].item()
    clr = lr / (1 + (decay_steps(t) if decay_steps else t - 1) * lr_decay)
    old_sum = state["sum"].clone()
    if "sum" in rebind:
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
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps, rebind=("sum",))


def _step_rebound(param, grad, state, *, lr, lr_decay, eps):
    _adagrad(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps, rebind=("step",))


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
    KnownMistake(
        "step_rebound", _step_rebound,
        "Right numbers, but state['step'] is now a new tensor: `state['step'] = state['step'] + 1` "
        "replaces it. Count in place, `state['step'] += 1`, as torch does."),
]


def _adagrad_state(param, initial_accumulator_value):
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


# --------------------------------------------------------------------------------------------
# 5.2 predict, then measure: the effective learning rate of a rare feature
# --------------------------------------------------------------------------------------------


def measure_effective_lr(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    """Run ``torch.optim.Adagrad`` on one float64 coordinate for ``t`` steps, the gradient being
    ``g`` on steps every, 2·every, ... and 0 otherwise, and return ``-Δθ_t / g`` at step ``t``."""
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = _TorchAdagrad([theta], lr=lr, lr_decay=lr_decay, eps=eps,
                                    initial_accumulator_value=initial_accumulator_value,
                                    foreach=False)
    before = 0.0
    for step in range(1, t + 1):
        theta.grad = torch.full((1,), g if step % every == 0 else 0.0, dtype=torch.float64)
        before = theta.item()
        optimizer.step()
    return -(theta.item() - before) / g


def _appearances(every, t):
    return t // every


def _lr_decay_counts_t(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    n = _appearances(every, t)
    return lr / (1 + t * lr_decay) / (math.sqrt(initial_accumulator_value + n * g * g) + eps)


def _lr_decay_counts_appearances(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    n = _appearances(every, t)
    return lr / (1 + (n - 1) * lr_decay) / (math.sqrt(initial_accumulator_value + n * g * g) + eps)


def _every_step_counted_in_sum(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    return lr / (1 + (t - 1) * lr_decay) / (math.sqrt(initial_accumulator_value + t * g * g) + eps)


def _eps_inside(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    n = _appearances(every, t)
    return lr / (1 + (t - 1) * lr_decay) / math.sqrt(initial_accumulator_value + n * g * g + eps)


def _no_initial_accumulator(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    n = _appearances(every, t)
    return lr / (1 + (t - 1) * lr_decay) / (math.sqrt(n * g * g) + eps)


def _explain_effective_lr(inputs, measured, predicted):
    return ("Build it from the update line by line. After t steps, which terms has "
            "state['sum'] collected (a zero gradient adds 0)? What is state['step'] at step t "
            "(it counts every optimizer step of the parameter)? Then the change at step t is "
            "−lr/(1 + (t−1)·lr_decay) · g/(√sum + eps): divide it by −g. "
            f"Here the optimizer's factor is {measured:.6g}, yours {predicted:.6g}.")


@register_prediction(
    "5.2",
    measure=measure_effective_lr,
    rtol=1e-6,
    explain=_explain_effective_lr,
    mistakes=[
        KnownMistake(
            "lr_decay_counts_t", _lr_decay_counts_t,
            "Your decay uses t. torch's step size at step t is lr / (1 + (t − 1)·lr_decay): the "
            "first step is undecayed."),
        KnownMistake(
            "lr_decay_counts_appearances", _lr_decay_counts_appearances,
            "You decayed the lr only on the steps where the feature appeared. torch's "
            "state['step'] counts every optimizer step of the parameter tensor, zero gradient "
            "or not: at step t the factor is 1 / (1 + (t − 1)·lr_decay)."),
        KnownMistake(
            "every_step_counted_in_sum", _every_step_counted_in_sum,
            "You counted g² on every one of the t steps. A step with a zero gradient adds 0² = 0 "
            "to the sum: only the t/every appearances count. That is why a rare feature keeps a "
            "large effective lr."),
        KnownMistake(
            "eps_inside_root", _eps_inside,
            "You put ε inside the root. torch divides by √sum + ε."),
        KnownMistake(
            "no_initial_accumulator", _no_initial_accumulator,
            "You left out initial_accumulator_value: the sum starts at s₀, not 0, so after n "
            "appearances it is s₀ + n·g²."),
    ],
)
def effective_lr_cases(rng: torch.Generator):
    def uniform(low, high):
        return low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64).item()

    def pick(*options):
        return options[int(torch.randint(0, len(options), (), generator=rng))]

    # fixed first: a rare feature (every 10th step) with lr_decay, s₀ and a visible ε
    yield Case("a feature seen every 10th step, at step 30, lr_decay 0.05, s₀ = 0.1, eps 0.01",
               lr=0.5, lr_decay=0.05, initial_accumulator_value=0.1, eps=0.01, g=0.8, every=10,
               t=30)
    yield Case("a dense feature (every step), at step 1: the full lr",
               lr=0.1, lr_decay=0.1, initial_accumulator_value=0.0, eps=1e-10, g=2.0, every=1,
               t=1)
    for _ in range(8):
        every = pick(1, 2, 5, 10, 25)
        yield Case("a random gradient stream", lr=round(uniform(0.01, 1.0), 3),
                   lr_decay=pick(0.0, round(uniform(0.01, 0.2), 3)),
                   initial_accumulator_value=pick(0.0, round(uniform(0.05, 1.0), 3)),
                   eps=pick(1e-10, round(uniform(0.01, 0.3), 3)),
                   g=round(pick(-1, 1) * uniform(0.1, 3.0), 3), every=every,
                   t=every * int(torch.randint(1, 9, (), generator=rng)))


# --------------------------------------------------------------------------------------------
# 5.3 written: a rotated valley
# --------------------------------------------------------------------------------------------

register_written(
    "5.3",
    prompt=("Write the 2x2 preconditioner P that makes θ ← θ − P∇f converge equally fast in every "
            "direction on the valley ½(Lx² + μy²) turned by 45°, and explain in three or four "
            "sentences why Adagrad's P_t can never become it."),
    rubric=("Adagrad is GD with a diagonal preconditioner P = diag(1/(√s+ε)): it rescales each "
            "coordinate axis. Fixing the conditioning needs P ≈ H⁻¹ (up to a scale) so that PH "
            "has equal eigenvalues. For an axis-aligned valley H is diagonal and a diagonal P "
            "can match it; turned by 45°, H has equal diagonal entries (L+μ)/2 and large "
            "off-diagonal ones, its eigenvectors are the diagonals, and no diagonal P (which only "
            "stretches along x and y) can shrink one diagonal direction relative to the other. "
            "Both coordinates see gradients of similar size, so Adagrad gives them similar "
            "steps and the steep/flat mismatch along the diagonals remains."),
)


# --------------------------------------------------------------------------------------------
# 5.4 predict, then measure: when does a rare coordinate reach the tolerance?
# --------------------------------------------------------------------------------------------

MAX_STEPS = 100_000


def measure_steps_to_tolerance(error0, lr, tol, curvature, every):
    """Run ``torch.optim.Adagrad(lr=lr)`` (default eps 1e-10, no decay, accumulator from 0) on one
    float64 coordinate with loss ½·curvature·θ², started at ``error0``, whose gradient reaches the
    optimizer only on every ``every``-th step (0 on the others); return the first step t with
    |θ_t| <= tol. (eps must not be 0 here: before the first appearance the accumulator is 0 and
    0/0 would make θ NaN.)"""
    theta = torch.full((1,), float(error0), dtype=torch.float64, requires_grad=True)
    optimizer = _TorchAdagrad([theta], lr=lr, foreach=False)
    for step in range(1, MAX_STEPS + 1):
        present = step % every == 0
        theta.grad = curvature * theta.detach().clone() if present else torch.zeros(1, dtype=torch.float64)
        optimizer.step()
        if abs(theta.item()) <= tol:
            return step
    return math.inf


def _appearances_needed(error0, lr, tol):
    # the κ-free recurrence of lecture 05, section 2, on the appearances only
    error, total, appearances = float(error0), 0.0, 0
    while abs(error) > tol and appearances < MAX_STEPS:
        total += error * error
        error *= 1 - lr / math.sqrt(total)
        appearances += 1
    return appearances


def _counts_appearances(error0, lr, tol, curvature, every):
    return _appearances_needed(error0, lr, tol)


def _first_appearance_at_step_one(error0, lr, tol, curvature, every):
    return (_appearances_needed(error0, lr, tol) - 1) * every + 1


def _curvature_kept(error0, lr, tol, curvature, every):
    # the recurrence with h left in: θ ← θ(1 − lr·h/√Σθ²)
    error, total, appearances = float(error0), 0.0, 0
    while abs(error) > tol and appearances < 10_000:
        total += error * error
        error *= 1 - lr * curvature / math.sqrt(total)
        appearances += 1
    return appearances * every


@register_prediction(
    "5.4",
    measure=measure_steps_to_tolerance,
    rtol=0.0,
    explain=("Count in two stages. Between appearances nothing happens (a zero gradient changes "
             "neither the sum nor θ, and with lr_decay 0 the step counter does not matter). At "
             "each appearance write the update for this coordinate: what happens to the curvature "
             "in g/√(sum of g²)? Then the number of appearances follows from a short loop, and "
             "the step of the last appearance is what the optimizer reports."),
    mistakes=[
        KnownMistake(
            "counts_appearances", _counts_appearances,
            "That is the number of *appearances*. The feature appears on steps every, 2·every, "
            "..., so the n-th appearance happens at step n·every."),
        KnownMistake(
            "first_appearance_at_step_one", _first_appearance_at_step_one,
            "The first appearance is at step `every`, not step 1 (the gradient arrives on steps "
            "every, 2·every, ...): the n-th appearance is at step n·every."),
        KnownMistake(
            "curvature_kept", _curvature_kept,
            "You kept the curvature in the step. Adagrad divides h·θ by √(Σ h²θ²) = h·√(Σθ²): the "
            "curvature cancels, so every coordinate needs the same number of appearances "
            "whatever its curvature."),
    ],
)
def steps_to_tolerance_cases(rng: torch.Generator):
    def uniform(low, high):
        return low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64).item()

    def pick(*options):
        return options[int(torch.randint(0, len(options), (), generator=rng))]

    yield Case("a rare, steep coordinate (curvature 50, every 20th step)",
               error0=1.5, lr=0.3, tol=1e-3, curvature=50.0, every=20)
    yield Case("a frequent, flat coordinate (curvature 0.02, every step)",
               error0=-1.5, lr=0.3, tol=1e-3, curvature=0.02, every=1)
    produced = 0
    while produced < 6:
        inputs = dict(error0=round(pick(-1, 1) * uniform(0.5, 3.0), 3), lr=round(uniform(0.1, 1.0), 3),
                      tol=pick(1e-2, 1e-3, 1e-4), curvature=round(10 ** uniform(-2, 2), 4),
                      every=pick(1, 3, 10, 50))
        # skip the rare draws where the error lands within rounding of the tolerance (the
        # count would then hinge on the last bit of a float)
        n = _appearances_needed(inputs["error0"], inputs["lr"], inputs["tol"])
        if not (_appearances_needed(inputs["error0"], inputs["lr"], inputs["tol"] * (1 + 1e-6)) == n
                == _appearances_needed(inputs["error0"], inputs["lr"], inputs["tol"] * (1 - 1e-6))):
            continue
        produced += 1
        yield Case("random start, lr, tolerance, curvature and frequency", **inputs)


# Helpers notebook 05's set-up hands the learner that answer a prediction themselves: the
# course's effective-lr curve (5.2) and the checker's own measurement (5.4). The grader's scan
# and its run-time guard refuse them in those exercises (answer_scan.refused_for).
from ._framework import REGISTRY as _REGISTRY  # noqa: E402

_REGISTRY["5.2"].refused_calls = {"course_lib.theory.adagrad.adagrad_effective_lr_curve": ()}
_REGISTRY["5.4"].refused_calls = {
    "course_lib.exercises.checks.adagrad.measure_steps_to_tolerance": ()}
