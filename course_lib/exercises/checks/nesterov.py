r"""Checkers for notebook 04, Nesterov momentum: exercises 4.1 to 4.6.

4.1 ``nesterov_step(param, grad, state, *, lr, momentum)``: torch's Nesterov step, in place,

    .. math::  b \leftarrow \beta b + g \;(b_1 = g_1), \qquad \theta \leftarrow \theta - \eta\,(g + \beta b)

    (``course_lib.optim.sgd_update(..., nesterov=True)``; :math:`b` = ``state["momentum_buffer"]``).
    The one "write the update" exercise of the notebook.
4.2 *predict, then measure* ``nesterov_overshoot_onset(momentum)``: the smallest η·h at which
    torch's Nesterov, started at rest on a 1-D quadratic, overshoots the minimum (where the
    eigenvalues of N(h) turn complex). The lecture gives heavy ball's boundaries, not
    Nesterov's; the check runs ``torch.optim.SGD(nesterov=True)`` on a grid of curvatures.
4.3 ``sutskever_to_torch(theta, velocity, *, old_lr, new_lr, momentum) -> (param, momentum_buffer)``:
    move a look-ahead-form run, whose velocity was built at ``old_lr``, to torch, which goes on at
    ``new_lr`` (a step decay, a warm-up): :math:`\text{param} = \theta + \beta v`,
    :math:`b = -v/\eta_{\text{new}}`. The lecture derives the map at a constant lr; the
    checker runs torch from the learner's mapping and compares the whole trajectory.
4.4 *predict, then measure* ``nesterov_best_momentum(mu, L, lr)``: the β that makes
    ``torch.optim.SGD(nesterov=True)`` converge fastest on a quadratic with curvatures
    :math:`\mu \dots L` at a given lr :math:`\eta \le 1/L`. The lecture gives the standard β for
    :math:`\eta = 1/L` only; the check runs torch on a grid of β (the answer lives in the tests).
4.5 *predict, then measure* ``nesterov_divergence_lr(mu, L, momentum)``: the smallest learning
    rate at which ``torch.optim.SGD(nesterov=True)`` diverges on a quadratic with curvatures
    :math:`\mu \dots L` (heavy ball's limit is :math:`2(1+\beta)/L`). The check runs torch on a
    grid of learning rates (``_measure``); the closed form lives in the tests.
4.6 written answer: why Nesterov's guarantee holds on every smooth strongly convex function while
    heavy ball's tuned rate does not, and what Nesterov pays for it at large learning rates.

Symbols and argument names (docs/notation.md): :math:`\eta` = ``lr``, :math:`\beta` =
``momentum``, :math:`h` = ``curvature``, :math:`v` = ``velocity``, :math:`\mu, L` the smallest and
largest curvature.
"""

from __future__ import annotations

import math

import torch

from ._framework import (Case, KnownMistake, Observation, in_place, register,
                         register_prediction, register_written, returns)
from ._measure import measured_largest_stable_lr_momentum

# --------------------------------------------------------------------------------------------
# 4.1 nesterov_step (torch's form)
# --------------------------------------------------------------------------------------------


def reference_nesterov_step(param, grad, state, *, lr, momentum) -> None:
    """torch's Nesterov step, by the course's SGD (what ``torch.optim.SGD(nesterov=True)`` does)."""
    from course_lib.optim.sgd import sgd_update  # imported on use: checks load without optim

    sgd_update(param, grad, state, lr=lr, momentum=momentum, nesterov=True)


def _buffer_update(grad, state, momentum):
    # The correct buffer: b₁ = g₁, then b ← βb + g. Shared by the mistakes that get it right.
    buffer = state.get("momentum_buffer")
    if buffer is None:
        buffer = grad.clone()
        state["momentum_buffer"] = buffer
    else:
        buffer.mul_(momentum).add_(grad)
    return buffer


def _nag_heavy_ball_step(param, grad, state, *, lr, momentum):
    buffer = _buffer_update(grad, state, momentum)
    param.sub_(lr * buffer)


def _nag_zero_buffer_first_step(param, grad, state, *, lr, momentum):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(param)
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad)
    param.sub_(lr * (grad + momentum * state["momentum_buffer"]))


def _nag_velocity_buffer(param, grad, state, *, lr, momentum):
    # The look-ahead form's velocity v = βv − ηg stored as the buffer: param moves exactly as
    # torch's, but the buffer holds −η·b.
    velocity = state.setdefault("momentum_buffer", torch.zeros_like(param))
    velocity.mul_(momentum).sub_(lr * grad)
    param.add_(momentum * velocity - lr * grad)


def _nag_lookahead_velocity_step(param, grad, state, *, lr, momentum):
    # Sutskever's θ ← θ + v with the gradient taken where the parameter is: that is heavy ball.
    velocity = state.setdefault("momentum_buffer", torch.zeros_like(param))
    velocity.mul_(momentum).sub_(lr * grad)
    param.add_(velocity)


def _nag_ema_buffer(param, grad, state, *, lr, momentum):
    buffer = state.get("momentum_buffer")
    if buffer is None:
        buffer = state["momentum_buffer"] = grad.clone()
    else:
        buffer.mul_(momentum).add_((1 - momentum) * grad)
    param.sub_(lr * (grad + momentum * buffer))


@register(
    "4.1",
    reference=reference_nesterov_step,
    call=in_place("param", "state", steps_over="grad"),
    mistakes=[
        KnownMistake(
            "heavy_ball_step", _nag_heavy_ball_step,
            "Your step is θ ← θ − η·b_t, heavy ball's. Either you stepped along the buffer alone, "
            "or along g + β·b with a stale buffer: b from the previous step, read before you "
            "updated it (g + β·b_{t−1} is exactly b_t). Nesterov in torch's form updates the "
            "buffer first and then steps along g + β·(the updated buffer)."),
        KnownMistake(
            "zero_buffer_first_step", _nag_zero_buffer_first_step,
            "On the first step torch sets the buffer to the gradient itself, b₁ = g₁; yours "
            "stayed at zero. (Starting from zeros is fine only if you then do b ← β·0 + g "
            "on that same step.)"),
        KnownMistake(
            "velocity_as_buffer", _nag_velocity_buffer,
            "Your param moves correctly, but momentum_buffer holds the look-ahead form's "
            "velocity v = βv − η·g. torch's buffer has no learning rate and no minus sign in "
            "it: b ← βb + g, and the step is θ ← θ − η(g + βb)."),
        KnownMistake(
            "lookahead_formula", _nag_lookahead_velocity_step,
            "You applied the look-ahead formula v ← βv − η·g, θ ← θ + v with the gradient at "
            "the current point: that is heavy ball. Here the gradient you are given *is* the "
            "look-ahead gradient (torch's param is the look-ahead point), so the step is "
            "b ← βb + g, θ ← θ − η(g + βb)."),
        KnownMistake(
            "ema_buffer", _nag_ema_buffer,
            "Your buffer is an exponential moving average, βb + (1 − β)g. torch adds the "
            "whole gradient: b ← βb + g (dampening is 0, as Nesterov requires)."),
    ],
)
def nesterov_step_cases(rng: torch.Generator):
    def grads(n, shape, dtype, scale=1.0):
        return [scale * torch.randn(shape, generator=rng, dtype=dtype) for _ in range(n)]

    for dtype in (torch.float64, torch.float32):
        name = str(dtype).replace("torch.", "")
        yield Case(f"first step from an empty state ({name}, shape (4,)), lr=0.1, momentum=0.9",
                   param=torch.randn(4, generator=rng, dtype=dtype), grad=grads(1, (4,), dtype),
                   state={}, lr=0.1, momentum=0.9)
        yield Case(f"three steps from an empty state ({name}, shape (2, 3)), lr=0.05, "
                   "momentum=0.9",
                   param=torch.randn(2, 3, generator=rng, dtype=dtype),
                   grad=grads(3, (2, 3), dtype), state={}, lr=0.05, momentum=0.9)
        yield Case(f"four steps ({name}, shape (3, 1, 2)), lr=1.0, momentum=0.5",
                   param=torch.randn(3, 1, 2, generator=rng, dtype=dtype),
                   grad=grads(4, (3, 1, 2), dtype), state={}, lr=1.0, momentum=0.5)
    yield Case("0-dim (scalar) parameter, three steps, lr=0.3, momentum=0.99",
               param=torch.tensor(2.0, dtype=torch.float64),
               grad=[torch.tensor(v, dtype=torch.float64) for v in (1.0, -0.5, 0.25)],
               state={}, lr=0.3, momentum=0.99)
    yield Case("resumed run: state already holds a momentum_buffer, two steps",
               param=torch.randn(5, generator=rng, dtype=torch.float64),
               grad=grads(2, (5,), torch.float64),
               state={"momentum_buffer": torch.randn(5, generator=rng, dtype=torch.float64)},
               lr=0.02, momentum=0.8)
    yield Case("zero gradient on step 2 (momentum alone keeps the parameter moving)",
               param=torch.randn(3, generator=rng, dtype=torch.float64),
               grad=[torch.randn(3, generator=rng, dtype=torch.float64),
                     torch.zeros(3, dtype=torch.float64)],
               state={}, lr=0.1, momentum=0.9)
    yield Case("large values (gradients ~1e4, parameters ~1e6), two steps",
               param=1e6 * torch.randn(6, generator=rng, dtype=torch.float64),
               grad=grads(2, (6,), torch.float64, scale=1e4), state={}, lr=3.0, momentum=0.7)


# --------------------------------------------------------------------------------------------
# 4.2 sutskever_nesterov_step (the look-ahead form)
# --------------------------------------------------------------------------------------------


class TestGradient:
    """A gradient field ``∇f(x) = a·x + c·sin(x)`` (elementwise, so any shape works).

    Nonlinear on purpose: on a quadratic a gradient taken at the wrong point can still be
    a linear function of the right one, which hides mistakes. The 4.2 checker wraps it in a
    :class:`CountingGradient` to count the calls of each step.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, a: float, c: float):
        self.a, self.c = a, c

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * x + self.c * torch.sin(x)

    def __repr__(self) -> str:
        return f"∇f(x) = {self.a:g}·x + {self.c:g}·sin(x)"


class CountingGradient:
    """Wraps a gradient field and counts how often it is called (one wrapper per step)."""

    __test__ = False

    def __init__(self, field):
        self.field = field
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(x)

    def __repr__(self) -> str:
        return repr(self.field)


class in_place_counting_calls(in_place):
    """``in_place(..., steps_over="grad_fn")`` that also observes how many times each step
    called ``grad_fn``, first of all the values of that step: Sutskever's step evaluates the
    gradient exactly once, at the look-ahead point."""

    def __call__(self, fn, inputs) -> Observation:
        inputs = dict(inputs)
        counters = [CountingGradient(field) for field in inputs[self.steps_over]]
        inputs[self.steps_over] = counters
        observation = super().__call__(fn, inputs)
        values = {}
        for step, counter in enumerate(counters, start=1):
            values[f"calls of grad_fn in step {step}"] = counter.calls
            values.update((key, value) for key, value in observation.values.items()
                          if key.endswith(f" after step {step}"))
        values.update(observation.values)  # anything not tied to a step keeps its place
        observation.values = values
        return observation


def reference_sutskever_nesterov_step(theta, velocity, grad_fn, *, lr, momentum) -> None:
    r"""One step of Sutskever et al.'s Nesterov momentum, in place.

    .. math::  v \leftarrow \mu v - \eta\, \nabla f(\theta + \mu v), \qquad \theta \leftarrow \theta + v
    """
    lookahead_grad = grad_fn(theta + momentum * velocity)  # the gradient where momentum will carry us
    velocity.mul_(momentum).sub_(lr * lookahead_grad)
    theta.add_(velocity)


# --------------------------------------------------------------------------------------------
# 4.2 where Nesterov starts to overshoot: predict, then measure
# --------------------------------------------------------------------------------------------


def _sign_changes(curvatures: torch.Tensor, momentum: float, steps: int) -> torch.Tensor:
    """For each curvature h (lr = 1, so η·h = h): does torch's ``SGD(nesterov=True)``, started
    at rest at θ = 1 on f = ½·h·θ², ever cross the minimum within ``steps`` steps?

    The dynamics are linear in (θ, buffer), so each element is rescaled (θ and its buffer by the
    same factor) whenever it gets small: no underflow however fast it converges.
    """
    param = torch.ones_like(curvatures, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=1.0, momentum=momentum, nesterov=True, foreach=False)
    crossed = torch.zeros_like(curvatures, dtype=torch.bool)
    with torch.no_grad():
        for step in range(1, steps + 1):
            param.grad = curvatures * param.detach()
            optimizer.step()
            crossed |= param < 0
            if step % 50 == 0:
                small = (param.abs() < 1e-100) & (param != 0)
                if small.any():
                    scale = torch.where(small, torch.full_like(param, 1e100), torch.ones_like(param))
                    param.mul_(scale)
                    optimizer.state[param]["momentum_buffer"].mul_(scale)
    return crossed


def measure_nesterov_overshoot_onset(momentum: float) -> float:
    """The truth for 4.2, by running ``torch.optim.SGD(nesterov=True)``: the smallest η·h at which
    the error, started at rest, changes sign within 1500 steps (overshoots the minimum). A log
    grid of 16 values of η·h in (1e-6, 1], refined twice around the first one that overshoots
    (about 0.4 % apart at the end)."""
    low, high = 1e-6, 1.0
    for _ in range(3):
        grid = torch.logspace(math.log10(low), math.log10(high), 16, dtype=torch.float64)
        crossed = _sign_changes(grid, momentum, 1500)
        first = int(torch.nonzero(crossed)[0])
        low, high = float(grid[max(first - 1, 0)]), float(grid[first])
    return high


def _onset_heavy_ball(momentum):
    return (1 - math.sqrt(momentum)) ** 2


def _onset_first_step(momentum):
    return 1 / (1 + momentum)


def _onset_not_squared(momentum):
    return (1 - momentum) / (1 + momentum)


def _onset_s_not_eta_h(momentum):
    return 4 * momentum / (1 + momentum) ** 2


def _onset_gradient_descent(momentum):
    return 1.0


@register_prediction(
    "4.2",
    measure=measure_nesterov_overshoot_onset,
    rtol=0.03,
    explain=("Below the onset both eigenvalues of N(h) are real and positive and the error "
             "creeps to 0 from one side; above it they are complex and the error spirals, "
             "crossing 0. Find where they meet: set the discriminant of N(h)'s characteristic "
             "polynomial (lecture section 6) to zero and solve for η·h."),
    mistakes=[
        KnownMistake("s_not_eta_h", _onset_s_not_eta_h,
                     "Your value is the root of the discriminant in s = 1 − η·h, not in η·h: "
                     "convert back."),
        KnownMistake("heavy_ball_onset", _onset_heavy_ball,
                     "That is heavy ball's critical damping, from M(h) (notebook 03, section 5). "
                     "Nesterov's matrix N(h) has another trace and determinant: its discriminant "
                     "vanishes elsewhere."),
        KnownMistake("first_step_overshoot", _onset_first_step,
                     "That is where the very first step already jumps past the minimum. The error "
                     "can cross it later, after a few steps of spiralling: look at when N(h)'s "
                     "eigenvalues turn complex."),
        KnownMistake("gradient_descent_onset", _onset_gradient_descent,
                     "η·h = 1 is where plain gradient descent starts to overshoot. With momentum "
                     "the error overshoots much earlier: find where N(h)'s eigenvalues turn "
                     "complex."),
        KnownMistake("not_squared", _onset_not_squared,
                     "Close: your expression is the square root of the measured onset. Check the "
                     "last step of your algebra."),
    ],
)
def nesterov_overshoot_onset_cases(rng: torch.Generator):
    yield Case("momentum 0.5", momentum=0.5)
    yield Case("momentum 0.9", momentum=0.9)
    yield Case("momentum 0.2", momentum=0.2)
    for _ in range(2):
        momentum = round(0.3 + 0.65 * torch.rand((), generator=rng).item(), 3)
        yield Case(f"momentum {momentum:g}", momentum=momentum)


def _random_field(rng: torch.Generator) -> TestGradient:
    """A TestGradient with coefficients drawn from ``rng`` (rounded, so the case text is exact)."""
    a = round(0.5 + 3.0 * torch.rand((), generator=rng).item(), 3)
    c = round(-1.0 + 2.0 * torch.rand((), generator=rng).item(), 3)
    return TestGradient(a=a, c=c)


# --------------------------------------------------------------------------------------------
# 4.3 sutskever_to_torch (the change of variables)
# --------------------------------------------------------------------------------------------


def reference_sutskever_to_torch(theta, velocity, *, old_lr, new_lr, momentum):
    r"""Map Sutskever's state :math:`(\theta, v)`, built by a run at ``old_lr``, to torch's
    ``(param, momentum_buffer)`` for a run that goes on at ``new_lr``.

    .. math::  \text{param} = \theta + \beta v \;(\text{the look-ahead point}), \qquad
               b = -v/\eta_{\text{new}}

    torch's next step moves param by ``new_lr`` times the buffer; Sutskever's moves the
    look-ahead point by βv_new − η_new·g̃, so the buffer is v over the lr the run goes on at.
    ``old_lr`` only built v: it does not enter the map.
    """
    return theta + momentum * velocity, -velocity / new_lr


class trajectory_under_torch:
    """Call strategy for 4.3: map the case's ``(theta, velocity)`` with ``fn``, then let
    ``torch.optim.SGD(nesterov=True, foreach=False)`` run ``steps`` steps from that param and
    buffer on ``grad_fn``, and observe the mapping and every iterate torch produces.

    Against the reference this is Sutskever's look-ahead trajectory; a mapping that is only
    close at the start drifts away from it, and the report says after which step.
    """

    def __call__(self, fn, inputs) -> Observation:
        grad_fn = inputs.pop("grad_fn")
        steps = inputs.pop("steps")
        theta, velocity = inputs["theta"], inputs["velocity"]
        returned = fn(**inputs)
        if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
            # Compared as a pair first, so a wrong return type gets a clear report.
            return Observation({"return value (param, momentum_buffer)": returned},
                               returned=returned)
        param0, buffer0 = returned
        values = {"param (your mapping)": param0, "momentum_buffer (your mapping)": buffer0}
        if not (isinstance(param0, torch.Tensor) and isinstance(buffer0, torch.Tensor)
                and param0.shape == theta.shape and buffer0.shape == velocity.shape):
            return Observation(values, returned=returned)
        param = param0.detach().clone().requires_grad_(True)
        optimizer = torch.optim.SGD([param], lr=inputs["new_lr"], momentum=inputs["momentum"],
                                    nesterov=True, foreach=False)
        optimizer.state[param]["momentum_buffer"] = buffer0.detach().clone()
        for step in range(1, steps + 1):
            param.grad = grad_fn(param.detach())
            optimizer.step()
            values[f"torch's param after step {step}"] = param.detach().clone()
        return Observation(values, returned=returned)


def _map_forgot_lookahead(theta, velocity, *, old_lr, new_lr, momentum):
    return theta.clone(), -velocity / new_lr


def _map_buffer_sign(theta, velocity, *, old_lr, new_lr, momentum):
    return theta + momentum * velocity, velocity / new_lr


def _map_buffer_without_lr(theta, velocity, *, old_lr, new_lr, momentum):
    return theta + momentum * velocity, -velocity.clone()


def _map_lookahead_sign(theta, velocity, *, old_lr, new_lr, momentum):
    return theta - momentum * velocity, -velocity / new_lr


def _map_old_lr(theta, velocity, *, old_lr, new_lr, momentum):
    return theta + momentum * velocity, -velocity / old_lr


def _map_velocity_as_buffer(theta, velocity, *, old_lr, new_lr, momentum):
    return theta + momentum * velocity, velocity.clone()


@register(
    "4.3",
    reference=reference_sutskever_to_torch,
    call=trajectory_under_torch(),
    mistakes=[
        KnownMistake(
            "forgot_lookahead_point", _map_forgot_lookahead,
            "torch's param is not θ but the look-ahead point θ + βv: torch evaluates its "
            "gradient at param, and Sutskever evaluates it at θ + βv."),
        KnownMistake(
            "lookahead_sign", _map_lookahead_sign,
            "The look-ahead point is θ + βv (where momentum carries θ next), not θ − βv."),
        KnownMistake(
            "old_lr_in_buffer", _map_old_lr,
            "Your buffer is scaled by the lr that built the velocity. torch's following steps "
            "multiply the buffer by the lr they run at: which lr is that, and which lr does "
            "Sutskever's next velocity step use?"),
        KnownMistake(
            "velocity_as_buffer", _map_velocity_as_buffer,
            "Your param is right, but momentum_buffer holds the paper's velocity v itself, the "
            "mistake lecture 04 section 9 names: v is a displacement with the learning rate and "
            "the minus sign inside, torch's buffer is a sum of raw gradients. Compare the two "
            "update lines term by term."),
        KnownMistake(
            "buffer_sign", _map_buffer_sign,
            "Sign of the buffer: v is a displacement (it points downhill), while torch's buffer "
            "accumulates gradients (it points uphill). Compare the signs of the two update lines."),
        KnownMistake(
            "buffer_without_lr", _map_buffer_without_lr,
            "torch's buffer has no learning rate in it (b ← βb + g), while v has one "
            "(v ← βv − η·g): your buffer is off by that factor."),
    ],
)
def sutskever_to_torch_cases(rng: torch.Generator):
    field = TestGradient(a=1.5, c=0.8)
    yield Case(f"3-vector, velocity built at lr=0.1, torch goes on at lr=0.01 (a step decay), "
               f"momentum=0.9, 5 torch steps; {field}",
               theta=torch.randn(3, generator=rng, dtype=torch.float64),
               velocity=0.3 * torch.randn(3, generator=rng, dtype=torch.float64),
               grad_fn=field, steps=5, old_lr=0.1, new_lr=0.01, momentum=0.9)
    yield Case(f"start at rest (v = 0), shape (2, 2), lr=0.2 then 0.2, momentum=0.5, "
               f"5 torch steps; {field}",
               theta=torch.randn(2, 2, generator=rng, dtype=torch.float64),
               velocity=torch.zeros(2, 2, dtype=torch.float64),
               grad_fn=field, steps=5, old_lr=0.2, new_lr=0.2, momentum=0.5)
    steep = TestGradient(a=20.0, c=-3.0)
    yield Case(f"0-dim parameter, velocity built at lr=0.005, torch goes on at lr=0.01 (warm-up), "
               f"momentum=0.95, 8 torch steps; {steep}",
               theta=torch.tensor(1.0, dtype=torch.float64),
               velocity=torch.tensor(-0.2, dtype=torch.float64), grad_fn=steep, steps=8,
               old_lr=0.005, new_lr=0.01, momentum=0.95)
    yield Case(f"float32, shape (3,), constant lr=0.1, momentum=0.9, 5 torch steps; {field}",
               rtol=1e-5,
               theta=torch.randn(3, generator=rng, dtype=torch.float32),
               velocity=0.3 * torch.randn(3, generator=rng, dtype=torch.float32),
               grad_fn=field, steps=5, old_lr=0.1, new_lr=0.1, momentum=0.9)
    random_field = _random_field(rng)
    old_lr = round(0.05 + 0.2 * torch.rand((), generator=rng).item(), 3)
    new_lr = round(old_lr * (0.2 + 0.5 * torch.rand((), generator=rng).item()), 4)
    yield Case(f"shape (4,), velocity built at lr={old_lr:g}, torch goes on at lr={new_lr:g}, "
               f"momentum=0.8, 6 torch steps; {random_field}",
               theta=torch.randn(4, generator=rng, dtype=torch.float64),
               velocity=0.3 * torch.randn(4, generator=rng, dtype=torch.float64),
               grad_fn=random_field, steps=6, old_lr=old_lr, new_lr=new_lr, momentum=0.8)
    yield Case(f"large learning rate: built at lr=1, torch goes on at lr=2, momentum=0.3, "
               f"shape (5,), 4 torch steps; {field}",
               theta=torch.randn(5, generator=rng, dtype=torch.float64),
               velocity=torch.randn(5, generator=rng, dtype=torch.float64), grad_fn=field,
               steps=4, old_lr=1.0, new_lr=2.0, momentum=0.3)


# --------------------------------------------------------------------------------------------
# 4.4 the best momentum at a given learning rate: predict, then measure
# --------------------------------------------------------------------------------------------


def _measured_rates(mu, L, lr, momenta, steps):
    """Per-step factor of the distance for each β in ``momenta``: ``torch.optim.SGD(nesterov=True)``
    (one param group per β) on ½(μθ₁² + Lθ₂²), started at rest at θ = (1, 1). The factor is
    (‖z_N‖/‖z_{N/2}‖)^(2/N) with z = (param, η·buffer); the state is rescaled whenever it gets
    small (the dynamics are linear), so fast rates do not underflow."""
    curvatures = torch.tensor([mu, L], dtype=torch.float64)
    params = [torch.ones(2, dtype=torch.float64, requires_grad=True) for _ in momenta]
    optimizer = torch.optim.SGD([{"params": [p], "momentum": float(b)} for p, b in zip(params, momenta)],
                                lr=lr, momentum=0.5, nesterov=True, foreach=False)
    log_scale = [0.0] * len(params)

    def log_norms():
        out = []
        for i, p in enumerate(params):
            buffer = optimizer.state[p].get("momentum_buffer")
            z = p.detach() if buffer is None else torch.cat([p.detach(), lr * buffer])
            norm = float(z.norm())
            out.append(math.log(norm) - log_scale[i] if norm > 0 else -math.inf)
        return out

    with torch.no_grad():
        for step in range(1, steps + 1):
            for p in params:
                p.grad = curvatures * p.detach()
            optimizer.step()
            if step % 25 == 0:
                for i, p in enumerate(params):
                    size = float(p.detach().abs().max())
                    if 0 < size < 1e-100:
                        p.mul_(1e100)
                        optimizer.state[p]["momentum_buffer"].mul_(1e100)
                        log_scale[i] += 100 * math.log(10)
            if step == steps // 2:
                half = log_norms()
    return [math.exp(2 * (end - start) / steps) for end, start in zip(log_norms(), half)]


def measure_nesterov_best_momentum(mu, L, lr) -> float:
    """The truth for 4.4, by running ``torch.optim.SGD(nesterov=True)``: the β in (0, 1) whose
    measured per-step factor on ½(μθ₁² + Lθ₂²) at this lr is the smallest. A grid of 21 values
    of β, refined twice (to about 0.001)."""
    low, high, points, steps = 0.01, 0.99, 21, 600
    for _ in range(3):
        momenta = [low + (high - low) * i / (points - 1) for i in range(points)]
        rates = _measured_rates(mu, L, lr, momenta, steps)
        best = min(range(points), key=rates.__getitem__)
        low, high = momenta[max(best - 1, 0)], momenta[min(best + 1, points - 1)]
        points, steps = 11, 1200
    return momenta[best]


def _best_beta_lecture_recipe(mu, L, lr):
    root = math.sqrt(L / mu)
    return (root - 1) / (root + 1)


def _best_beta_heavy_ball(mu, L, lr):
    root = math.sqrt(lr * mu)
    return ((1 - root) / (1 + root)) ** 2


def _best_beta_steep_direction(mu, L, lr):
    root = math.sqrt(min(lr * L, 0.999))
    return (1 - root) / (1 + root)


def _best_beta_one_minus_root(mu, L, lr):
    return 1 - math.sqrt(lr * mu)


@register_prediction(
    "4.4",
    measure=measure_nesterov_best_momentum,
    rtol=0.01,
    explain=("Too little momentum and the flat direction creeps in from one side; too much and "
             "it spirals. The best β sits where the two regimes meet, in the direction that "
             "converges slowest. Use N(h) from lecture section 6: which h is the slowest "
             "at this lr, and where does N(h) switch from real to complex eigenvalues?"),
    mistakes=[
        KnownMistake("lecture_recipe_at_any_lr", _best_beta_lecture_recipe,
                     "That is the standard β of section 7b, which goes with η = 1/L. Here the lr "
                     "is another one: redo the reasoning at this lr instead of reusing the "
                     "recipe."),
        KnownMistake("heavy_ball_optimum", _best_beta_heavy_ball,
                     "That has the shape of Polyak's heavy-ball β (notebook 03). Nesterov's "
                     "matrix N(h) has another trace and determinant, so its best β is elsewhere."),
        KnownMistake("steep_direction", _best_beta_steep_direction,
                     "You tuned β for the steepest direction (curvature L). At an lr up to 1/L "
                     "the flat direction is the slow one and sets the rate."),
        KnownMistake("one_minus_root", _best_beta_one_minus_root,
                     "Close, but not where N(h)'s eigenvalues meet: solve that condition for β "
                     "exactly rather than to first order."),
    ],
)
def nesterov_best_momentum_cases(rng: torch.Generator):
    yield Case("κ = 100 at lr = 0.3/L: μ = 0.01, L = 1, lr = 0.3", mu=0.01, L=1.0, lr=0.3)
    yield Case("κ = 10 at lr = 1/(2L): μ = 0.4, L = 4, lr = 0.125", mu=0.4, L=4.0, lr=0.125)
    yield Case("κ = 400 at lr = 0.2/L: μ = 0.0025, L = 1, lr = 0.2", mu=0.0025, L=1.0, lr=0.2)
    for _ in range(2):
        L = float(f"{10 ** (-1 + 2 * torch.rand((), generator=rng).item()):.3g}")
        kappa = float(f"{10 ** (1 + 1.3 * torch.rand((), generator=rng).item()):.3g}")
        fraction = round(0.15 + 0.35 * torch.rand((), generator=rng).item(), 2)
        yield Case(f"μ = {L / kappa:.4g}, L = {L:g} (κ = {kappa:g}), lr = {fraction:g}/L",
                   mu=L / kappa, L=L, lr=fraction / L)


# --------------------------------------------------------------------------------------------
# 4.5 Nesterov's divergence learning rate: predict, then measure
# --------------------------------------------------------------------------------------------


def measure_nesterov_divergence_lr(mu, L, momentum) -> float:
    """The truth for 4.5: ``torch.optim.SGD(nesterov=True)`` on ½(μθ₁² + Lθ₂²) run over a grid
    of learning rates (``_measure``); the lr where it starts to diverge."""
    return measured_largest_stable_lr_momentum(
        torch.tensor([mu, L], dtype=torch.float64), momentum, nesterov=True)


def _div_heavy_ball(mu, L, momentum):
    return 2 * (1 + momentum) / L


def _div_gradient_descent(mu, L, momentum):
    return 2 / L


def _div_smallest_curvature(mu, L, momentum):
    return 2 * (1 + momentum) / ((1 + 2 * momentum) * mu)


def _div_one_over_L(mu, L, momentum):
    return 1 / L


@register_prediction(
    "4.5",
    measure=measure_nesterov_divergence_lr,
    rtol=0.05,
    explain=("Use N(h) (lecture section 6) on the steepest direction (h = L): as η grows, one root of "
             "r² − tr·r + det leaves the unit circle through r = −1. Solve p(−1) = 0 for η."),
    mistakes=[
        KnownMistake("heavy_ball_limit", _div_heavy_ball,
                     "2(1+β)/L is heavy ball's limit, from M(h). Nesterov's look-ahead changes "
                     "the matrix: solve p(−1) = 0 with the trace and determinant of "
                     "N(h) instead, and compare the two limits."),
        KnownMistake("gradient_descent_limit", _div_gradient_descent,
                     "2/L is plain gradient descent's limit; with momentum β the root reaches "
                     "−1 at another η. Solve p(−1) = 0 for N(h)."),
        KnownMistake("smallest_curvature", _div_smallest_curvature,
                     "You used μ. The steepest direction (curvature L) is the first to diverge."),
        KnownMistake("one_over_L", _div_one_over_L,
                     "1/L is the usual *choice* of lr for Nesterov (its guarantee), not where it "
                     "diverges."),
    ],
)
def nesterov_divergence_lr_cases(rng: torch.Generator):
    yield Case("κ = 50: μ = 0.02, L = 1, momentum 0.9", mu=0.02, L=1.0, momentum=0.9)
    yield Case("κ = 50 with L = 10: μ = 0.2, momentum 0.5", mu=0.2, L=10.0, momentum=0.5)
    yield Case("momentum 0: plain gradient descent, μ = 1, L = 4", mu=1.0, L=4.0, momentum=0.0)
    for _ in range(3):
        L = float(f"{10 ** (-1 + 2 * torch.rand((), generator=rng).item()):.3g}")
        kappa = float(f"{10 ** (0.5 + 2 * torch.rand((), generator=rng).item()):.3g}")
        momentum = round(0.3 + 0.69 * torch.rand((), generator=rng).item(), 3)
        yield Case(f"μ = {L / kappa:.4g}, L = {L:g} (κ = {kappa:g}), momentum {momentum:g}",
                   mu=L / kappa, L=L, momentum=momentum)


# --------------------------------------------------------------------------------------------
# 4.6 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "4.6",
    prompt="In three sentences: Nesterov's guarantee at κ = 25 is a distance factor of about "
           "0.894 per step, heavy ball's rate at Polyak's optimum 0.667. Explain why the slower "
           "number is the one worth having on a general smooth strongly convex loss, and why "
           "Nesterov's smaller stable range (your 4.5) is not a price paid for that guarantee.",
    rubric=(
        (1, "Heavy ball's 0.667 holds on quadratics only: Polyak's (η, β) come from a constant "
            "Hessian, and on a general smooth strongly convex loss (Lessard, Recht & Packard's "
            "κ = 25 function) heavy ball at those settings can fail to converge (a 3-cycle)."),
        (1, "Nesterov's bound (loss gap × (1 − 1/√κ) per step, distance its square root, 0.894)"
            " holds on every L-smooth, μ-strongly convex function: a worst case one can plan "
            "with."),
        (2, "The smaller stable range compares the two methods at the same (η, β); the "
            "guarantee uses η = 1/L, well inside Nesterov's range, so it neither needs nor "
            "costs a smaller lr. The range comes from the look-ahead term at long steps: a "
            "reason to lower lr when switching a heavy-ball setup to nesterov=True, not the "
            "price of the guarantee."),
    ),
    max_score=4,
)


# Helpers that answer a prediction themselves: the lecture imports the course's stable-lr
# formula (4.5's answer) and this module's own onset measurement is public (4.2's answer). The
# grader's scan and its run-time guard refuse them in those exercises (answer_scan.refused_for).
from ._framework import REGISTRY as _REGISTRY  # noqa: E402

_REGISTRY["4.2"].refused_calls = {
    "course_lib.exercises.checks.nesterov.measure_nesterov_overshoot_onset": ()}
_REGISTRY["4.5"].refused_calls = {"course_lib.theory.nesterov.nesterov_stable_lr": ()}
# 4.4: the lecture imports nesterov_rate; a grid search over it (or over this module's own
# measurement) would find the best β without the reasoning the exercise asks for.
_REGISTRY["4.4"].refused_calls = {
    "course_lib.theory.nesterov.nesterov_rate": (),
    "course_lib.exercises.checks.nesterov.measure_nesterov_best_momentum": (),
    "course_lib.exercises.checks.nesterov._measured_rates": ()}
