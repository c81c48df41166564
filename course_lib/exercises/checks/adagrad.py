r"""Checkers for notebook 05, Adagrad: exercises 5.1 to 5.4.

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
5.3 *written*: why a start moved by 1e-9 off the turned valley's flat eigenvector grows into a
    κ-dependence at κ = 100 but not at κ = 10, and where the switch lies.
5.4 *predict, then measure*: ``predicted_steps_per_decade(kappa, lr, s_x, s_y)``, how many steps
    Adagrad needs late in a run on the 45°-turned valley (L = 1, μ = 1/κ) to shrink the distance to
    the minimum 10-fold once its accumulators have settled at ``(s_x, s_y)``: with the fixed
    diagonal P = diag(lr/√s), the rate is ρ = max |1 − λ(PH)| and the answer ln 10 / (−ln ρ).
    The check measures it with ``torch.optim.Adagrad``.
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
    return ("Build it from the update of lecture 05, section 1, line by line, for this gradient "
            "stream: what has state['sum'] collected by step t, and what is state['step'] then? "
            "Each zero-gradient step matters to one of the two and not to the other. "
            f"Here the optimizer's factor is {measured:.6g}, yours {predicted:.6g}.")


@register_prediction(
    "5.2",
    measure=measure_effective_lr,
    rtol=1e-6,
    explain=_explain_effective_lr,
    mistakes=[
        KnownMistake(
            "lr_decay_counts_t", _lr_decay_counts_t,
            "Your decay starts one step too early: torch's first step is undecayed. Look at "
            "when state['step'] is incremented and which value the decay uses (lecture 05, "
            "section 1, the lr_decay line of the three knobs)."),
        KnownMistake(
            "lr_decay_counts_appearances", _lr_decay_counts_appearances,
            "You decayed the lr only on the steps where the feature appeared. Ask what "
            "state['step'] counts on a step whose gradient is 0: it belongs to the whole "
            "parameter tensor, not to the feature."),
        KnownMistake(
            "every_step_counted_in_sum", _every_step_counted_in_sum,
            "You counted g² on every one of the t steps. Ask what a step with a zero gradient "
            "adds to state['sum']. That is why a rare feature keeps a large effective lr."),
        KnownMistake(
            "eps_inside_root", _eps_inside,
            "You put ε inside the root. torch divides by √sum + ε."),
        KnownMistake(
            "no_initial_accumulator", _no_initial_accumulator,
            "You left out initial_accumulator_value: look at where state['sum'] starts "
            "(lecture 05, section 1, the s₀ row of the table)."),
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
    # every random case is a rare feature (every > 1) with lr_decay > 0 and s₀ > 0, so each one
    # tells apart what the zero-gradient steps do to state["sum"] and to state["step"]
    for _ in range(8):
        every = pick(2, 5, 10, 25)
        yield Case("a random rare-feature stream", lr=round(uniform(0.01, 1.0), 3),
                   lr_decay=round(uniform(0.01, 0.2), 3),
                   initial_accumulator_value=round(uniform(0.05, 1.0), 3),
                   eps=pick(1e-10, round(uniform(0.01, 0.3), 3)),
                   g=round(pick(-1, 1) * uniform(0.1, 3.0), 3), every=every,
                   t=every * int(torch.randint(1, 9, (), generator=rng)))


# --------------------------------------------------------------------------------------------
# 5.3 written: the start on the flat eigenvector
# --------------------------------------------------------------------------------------------

register_written(
    "5.3",
    prompt=("On the valley ½(Lx² + μy²) turned by 45° (L = 1, μ = 1/κ), Adagrad at lr 0.3 started "
            "exactly on the flat eigenvector at (−1.5, 1.5) stays on it (lecture 05, section 2). "
            "With the start moved by 1e-9, κ comes back at κ = 100 and κ = 1000 but not at "
            "κ = 10. Work out the effective learning rates at the first step and once the "
            "accumulators have settled, and follow a small component along the steep eigenvector "
            "through the first step and the later ones (the accumulators feel it too). Explain why "
            "the perturbation grows at κ = 100 and dies at κ = 10, at which κ (for this lr and "
            "start; measure it with torch.optim.Adagrad) the switch lies, and what happens once "
            "it has grown."),
    rubric=(
        (1, "On the flat eigenvector both |g_i| = 1.5μ, so both coordinates get the same first "
            "effective lr 0.3/(1.5μ) = 0.2κ in units of 1/L; the flat run's sums then settle and "
            "leave about 0.105κ/L (1.05 at κ = 10, 10.5 at κ = 100; the flat run, measured in "
            "steps, does not depend on κ)."),
        (1, "The first step is a sign step (s = g², step lr·sign(g) = (+0.3, −0.3)), so the "
            "steep component passes step 1 unchanged (factor +1, not 1 − c₁L). After that the "
            "perturbation also unbalances the two accumulators, which pulls it back toward a "
            "weighted mean of its past values: δ ← δ − cL(δ − δ̄), not (1 − cL)δ; the pull fades "
            "as the flat gradients die out."),
        (1, "So the settled lr decides: the component grows once c·L > 2, gradient descent's "
            "limit, at 0.105κ = 2, κ ≈ 19 (measured: dies at κ = 19, grows from about 19.2 within "
            "150 steps), not at 0.2κ = 2 (κ = 10). A switch measured between 10 and 100 with the "
            "settled lr as the reason earns the point. At κ = 100, 1e-9 reaches about 0.1 in ten "
            "steps."),
        (1, "Once grown, the steep gradients Lu fill both accumulators alike, c drops (about "
            "1.3/L at κ = 100, 1.1/L at κ = 1000), the steep component collapses and the flat "
            "one crawls at about 1 − c/κ per step, as from a generic start: κ is back."),
    ),
    max_score=4,
)


# --------------------------------------------------------------------------------------------
# 5.4 predict, then measure: the late, linear rate on the turned valley
# --------------------------------------------------------------------------------------------


def measure_steps_per_decade(kappa, lr, s_x, s_y):
    """Run ``torch.optim.Adagrad(lr=lr)`` (default eps, no decay) on the valley ½(x² + y²/κ) turned
    by 45° (``course_lib.problems.landscapes.rotated_quadratic``), its accumulator
    ``state["sum"]`` set to ``(s_x, s_y)`` before the first step, from (−1.5e-3, 1e-3) (so the
    gradients add almost nothing to those sums); return how many steps the distance to the
    minimum takes to shrink 10-fold between steps 200 and 400."""
    from course_lib.problems.landscapes import rotated_quadratic

    hessian = rotated_quadratic(float(kappa)).hessian
    theta = torch.tensor([-1.5e-3, 1.0e-3], dtype=torch.float64, requires_grad=True)
    optimizer = _TorchAdagrad([theta], lr=lr, foreach=False)
    optimizer.state[theta]["sum"].copy_(torch.tensor([s_x, s_y], dtype=torch.float64))
    distances = {}
    for step in range(1, 401):
        theta.grad = hessian @ theta.detach()
        optimizer.step()
        if step in (200, 400):
            distances[step] = theta.detach().norm().item()
    return 200 * math.log(10) / math.log(distances[200] / distances[400])


def _turned_hessian(kappa):
    mu = 1.0 / kappa
    return [[(1 + mu) / 2, (1 - mu) / 2], [(1 - mu) / 2, (1 + mu) / 2]]


def _per_decade(rate):
    return math.log(10) / -math.log(rate) if 0 < rate < 1 else math.inf


def _mean_lr_on_flat(kappa, lr, s_x, s_y):
    # the flat curvature times the average of the two effective lrs
    c = (lr / math.sqrt(s_x) + lr / math.sqrt(s_y)) / 2
    return _per_decade(1 - c / kappa)


def _smallest_lr_on_flat(kappa, lr, s_x, s_y):
    c = min(lr / math.sqrt(s_x), lr / math.sqrt(s_y))
    return _per_decade(1 - c / kappa)


def _largest_lr_on_flat(kappa, lr, s_x, s_y):
    c = max(lr / math.sqrt(s_x), lr / math.sqrt(s_y))
    return _per_decade(1 - c / kappa)


def _gd_best_rate(kappa, lr, s_x, s_y):
    return _per_decade((kappa - 1) / (kappa + 1))


def _aligned_answer(kappa, lr, s_x, s_y):
    # κ-free, as on the aligned valley: each coordinate's own rate 1 − lr·h/√s with h√… cancelled
    return _per_decade(1 - lr / math.sqrt(max(s_x, s_y)))


def _lecture_number(kappa, lr, s_x, s_y):
    # the lecture's one printed case (effective lr about 1.2/L), carried over to every case
    return _per_decade(1 - 1.2 / kappa)


def _explain_per_decade(inputs, measured, predicted):
    return ("Once the sums stop growing, one step is the same linear map of the error every "
            "time. Write that map down from the update (lecture 05, sections 1 and 2): which "
            "direction does it shrink slowest, and by what factor per step? Then count the steps "
            "for a factor of 10. The two effective lrs differ here, so neither one alone, nor "
            "their average times a curvature, is the whole story. "
            f"Here the measured figure is {measured:.4g} steps, yours {predicted:.4g}.")


@register_prediction(
    "5.4",
    measure=measure_steps_per_decade,
    rtol=0.01,
    explain=_explain_per_decade,
    mistakes=[
        KnownMistake(
            "mean_lr_on_flat", _mean_lr_on_flat,
            "You took the average effective lr times the flat curvature. That is the answer only "
            "when both effective lrs are equal; with unequal ones the direction one step shrinks "
            "slowest is no longer the valley's flat direction. Look at the whole map one step "
            "applies."),
        KnownMistake(
            "smallest_lr_on_flat", _smallest_lr_on_flat,
            "You took the smaller effective lr times the flat curvature. Both coordinates mix the "
            "steep and the flat direction here: the slow rate comes from the whole map one step "
            "applies, both effective lrs and all of H."),
        KnownMistake(
            "largest_lr_on_flat", _largest_lr_on_flat,
            "You took the larger effective lr times the flat curvature. Both coordinates mix the "
            "steep and the flat direction here: the slow rate comes from the whole map one step "
            "applies, both effective lrs and all of H."),
        KnownMistake(
            "gd_best_rate", _gd_best_rate,
            "That is gradient descent's rate at its best lr. Adagrad runs at the lrs its "
            "accumulators hold, lr/√s per coordinate, not at GD's best one."),
        KnownMistake(
            "aligned_answer", _aligned_answer,
            "That treats each coordinate as its own curvature direction, as on the aligned "
            "valley. Turned, a coordinate's gradient mixes both curvatures: κ matters."),
        KnownMistake(
            "lecture_number", _lecture_number,
            "That carries the lecture's one printed case over. The effective lrs here are "
            "lr/√s for these sums and this lr: compute them."),
    ],
)
def steps_per_decade_cases(rng: torch.Generator):
    def uniform(low, high):
        return low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64).item()

    yield Case("κ = 100, lr 0.3, sums (0.25, 0.04)", kappa=100.0, lr=0.3, s_x=0.25, s_y=0.04)
    # two cases where the slow flat mode is not the whole story, so an approximation built on it
    # (μ times a mean of the effective lrs) fails: the fast mode near λ = 1.9 shrinks slowest
    # (|1 − λ| = 0.91), and at κ = 3 no eigenvalue of P·H is small
    yield Case("κ = 10, lr 0.5, sums (0.08, 0.06): a fast direction near its limit",
               kappa=10.0, lr=0.5, s_x=0.08, s_y=0.06)
    yield Case("κ = 3, lr 0.3, sums (0.25, 0.04)", kappa=3.0, lr=0.3, s_x=0.25, s_y=0.04)
    produced = 0
    while produced < 5:
        inputs = dict(kappa=round(10 ** uniform(1.0, 3.0), 1), lr=round(uniform(0.1, 0.5), 3),
                      s_x=round(10 ** uniform(-2.0, 0.0), 4))
        inputs["s_y"] = round(inputs["s_x"] * 10 ** uniform(-1.0, 1.0), 4)
        # keep the fast direction stable and quick to die (largest eigenvalue of P·H in (0.2, 1.8))
        p = [math.sqrt(inputs["lr"] / math.sqrt(inputs["s_x"])),
             math.sqrt(inputs["lr"] / math.sqrt(inputs["s_y"]))]
        h = _turned_hessian(inputs["kappa"])
        a, b, d = p[0] * p[0] * h[0][0], p[0] * p[1] * h[0][1], p[1] * p[1] * h[1][1]
        largest = (a + d) / 2 + math.sqrt(((a - d) / 2) ** 2 + b * b)
        if not 0.2 < largest < 1.8:
            continue
        produced += 1
        yield Case("random κ, lr and settled sums", **inputs)


# Helpers notebook 05's set-up hands the learner that answer a prediction themselves: the
# course's effective-lr curve (5.2) and the checker's own measurement (5.4; the course's
# preconditioned_rate is the closed form and is refused too). The grader's scan
# and its run-time guard refuse them in those exercises (answer_scan.refused_for).
from ._framework import REGISTRY as _REGISTRY  # noqa: E402

_REGISTRY["5.2"].refused_calls = {"course_lib.theory.adagrad.adagrad_effective_lr_curve": ()}
_REGISTRY["5.4"].refused_calls = {
    "course_lib.exercises.checks.adagrad.measure_steps_per_decade": (),
    "course_lib.theory.adagrad.preconditioned_rate": ()}
