"""course_lib.optim behaves as a torch.optim.Optimizer: state_dict round trips (also with
torch's classes), lr schedulers, closures, zero_grad, None grads, and the functional core."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.optim import lr_scheduler

import course_lib.optim as course_optim

# One configuration per optimizer that exercises all of its state entries.
CONFIGS = {
    "SGD": {"lr": 1e-2, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.1},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1},
    "Adadelta": {"rho": 0.9, "weight_decay": 0.1},
    "RMSprop": {"lr": 1e-2, "momentum": 0.5, "centered": True},
    "Adam": {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.1},
    "AdamW": {"lr": 1e-2, "amsgrad": True},
}
NAMES = sorted(CONFIGS)


def initial_params() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in [(3, 4), (4,), ()]]


def loss_fn(params: list[torch.Tensor]) -> torch.Tensor:
    """Non-quadratic: a tanh layer on fixed data plus a Rosenbrock-like term."""
    weight, bias, scale = params
    inputs = torch.linspace(-1, 1, 15, dtype=weight.dtype).reshape(5, 3)
    hidden = torch.tanh(inputs @ weight + bias)
    return (scale * hidden - 0.5).pow(2).mean() + (scale - bias[0] ** 2) ** 2


def fresh_params() -> list[torch.Tensor]:
    return [p.clone().requires_grad_() for p in initial_params()]


def make(library, name, params, **overrides):
    kwargs = {**CONFIGS[name], **overrides}
    if library is torch.optim:
        kwargs["foreach"] = False
    return getattr(library, name)(params, **kwargs)


def take_steps(optimizer, params, steps, scheduler=None, plateau=False):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step(loss.item()) if plateau else scheduler.step()


def assert_params_equal(ours, theirs, rtol=1e-9, atol=1e-12):
    for index, (a, b) in enumerate(zip(ours, theirs)):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=f"param {index}")


# --- state_dict ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [(course_optim, course_optim), (course_optim, torch.optim), (torch.optim, course_optim)],
    ids=["course->course", "course->torch", "torch->course"],
)
@pytest.mark.parametrize("name", NAMES)
def test_resuming_from_state_dict_continues_the_same_trajectory(name, first, second):
    never_stopped = fresh_params()
    take_steps(make(course_optim, name, never_stopped), never_stopped, 25)

    params = fresh_params()
    optimizer = make(first, name, params)
    take_steps(optimizer, params, 10)
    saved = copy.deepcopy(optimizer.state_dict())

    resumed_params = [p.detach().clone().requires_grad_() for p in params]
    resumed = make(second, name, resumed_params, lr=123.0)  # the saved lr must win
    resumed.load_state_dict(saved)
    take_steps(resumed, resumed_params, 15)

    assert_params_equal(resumed_params, never_stopped)
    assert resumed.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] != 123.0


@pytest.mark.parametrize("name", NAMES + ["SGD-plain"])
def test_state_dict_has_torchs_layout(name):
    overrides = {"momentum": 0.0, "dampening": 0.0} if name == "SGD-plain" else {}
    name = name.removesuffix("-plain")
    ours, theirs = fresh_params(), fresh_params()
    our_optimizer = make(course_optim, name, ours, **overrides)
    their_optimizer = make(torch.optim, name, theirs, **overrides)
    take_steps(our_optimizer, ours, 3)
    take_steps(their_optimizer, theirs, 3)
    our_state = our_optimizer.state_dict()["state"]
    their_state = their_optimizer.state_dict()["state"]
    assert our_state.keys() == their_state.keys()
    for index in their_state:
        assert our_state[index].keys() == their_state[index].keys()
        for key, value in their_state[index].items():
            assert our_state[index][key].dtype == value.dtype, key
            assert our_state[index][key].shape == value.shape, key
            assert our_state[index][key].device == value.device, key


# --- lr schedulers ------------------------------------------------------------------------

SCHEDULERS = {
    "StepLR": lambda opt, name: lr_scheduler.StepLR(opt, step_size=5, gamma=0.5),
    "CosineAnnealingLR": lambda opt, name: lr_scheduler.CosineAnnealingLR(opt, T_max=25),
    "LambdaLR": lambda opt, name: lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / (1 + epoch)),
    # OneCycleLR cycles "momentum" (SGD, RMSprop) or betas[0] (Adam, AdamW) too.
    "OneCycleLR": lambda opt, name: lr_scheduler.OneCycleLR(
        opt, max_lr=0.05, total_steps=25, cycle_momentum=name not in ("Adagrad", "Adadelta")
    ),
    # A threshold no step can beat: the loss "plateaus" and the lr is cut every 2 steps.
    "ReduceLROnPlateau": lambda opt, name: lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=1, threshold=10.0
    ),
}


@pytest.mark.parametrize("scheduler_name", sorted(SCHEDULERS))
@pytest.mark.parametrize("name", NAMES)
def test_lr_schedulers_work_unchanged(name, scheduler_name):
    make_scheduler = SCHEDULERS[scheduler_name]
    plateau = scheduler_name == "ReduceLROnPlateau"
    runs = {}
    for library in (course_optim, torch.optim):
        params = fresh_params()
        optimizer = make(library, name, params)
        start_lr = optimizer.param_groups[0]["lr"]
        scheduler = make_scheduler(optimizer, name)
        take_steps(optimizer, params, 25, scheduler, plateau=plateau)
        runs[library] = (params, optimizer)
    (ours, our_optimizer), (theirs, their_optimizer) = runs[course_optim], runs[torch.optim]
    assert_params_equal(ours, theirs)
    for our_group, their_group in zip(our_optimizer.param_groups, their_optimizer.param_groups):
        assert our_group["lr"] == their_group["lr"]
    # The schedule really moved the lr (so the comparison above is not of two constant runs).
    assert our_optimizer.param_groups[0]["lr"] != start_lr


# --- step(closure), zero_grad, None grads ---------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_step_with_closure_returns_its_loss_and_runs_it_with_grad_enabled(name):
    params = fresh_params()
    optimizer = make(course_optim, name, params)
    grad_was_enabled = []
    returned_losses = []

    def closure():
        grad_was_enabled.append(torch.is_grad_enabled())
        optimizer.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        returned_losses.append(loss)
        return loss

    with torch.no_grad():  # even when the caller disabled grad, the closure gets it back
        loss = optimizer.step(closure)
    assert loss is returned_losses[0]
    assert grad_was_enabled == [True]
    # The update itself builds no graph: params stay leaves.
    assert all(p.is_leaf and p.grad_fn is None for p in params)
    assert optimizer.step() is None


@pytest.mark.parametrize("name", NAMES)
def test_step_with_closure_equals_torch(name):
    runs = []
    for library in (course_optim, torch.optim):
        params = fresh_params()
        optimizer = make(library, name, params)

        def closure(params=params, optimizer=optimizer):
            optimizer.zero_grad()
            loss = loss_fn(params)
            loss.backward()
            return loss

        losses = [optimizer.step(closure).item() for _ in range(10)]
        runs.append((params, losses))
    assert_params_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == pytest.approx(runs[1][1], rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_zero_grad(name):
    params = fresh_params()
    optimizer = make(course_optim, name, params)
    loss_fn(params).backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_without_grad_is_skipped_like_torch(name):
    runs = []
    for library in (course_optim, torch.optim):
        params = fresh_params()
        idle = torch.ones(3, dtype=torch.float64, requires_grad=True)
        optimizer = make(library, name, [*params, idle])
        take_steps(optimizer, params, 5)
        runs.append((idle, optimizer))
    (our_idle, ours), (their_idle, theirs) = runs
    assert our_idle.grad is None
    assert torch.equal(our_idle.detach(), torch.ones(3, dtype=torch.float64))
    # No state, except Adagrad's, which torch creates eagerly (and leaves at step 0).
    assert (our_idle in ours.state) == (their_idle in theirs.state)
    if their_idle in theirs.state:
        for key, value in theirs.state[their_idle].items():
            torch.testing.assert_close(ours.state[our_idle][key], value)


# --- the functional core --------------------------------------------------------------------

UPDATES = {
    "SGD": (course_optim.sgd_init, course_optim.sgd_update, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "Adagrad": (course_optim.adagrad_init, course_optim.adagrad_update, {"lr": 0.1, "lr_decay": 0.1}),
    "Adadelta": (course_optim.adadelta_init, course_optim.adadelta_update, {"lr": 1.0, "rho": 0.8}),
    "RMSprop": (
        lambda p: course_optim.rmsprop_init(p, momentum=0.5, centered=True),
        course_optim.rmsprop_update,
        {"lr": 0.01, "momentum": 0.5, "centered": True},
    ),
    "Adam": (
        lambda p: course_optim.adam_init(p, amsgrad=True),
        course_optim.adam_update,
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "amsgrad": True, "weight_decay": 0.1},
    ),
    "AdamW": (course_optim.adam_init, course_optim.adamw_update, {"lr": 0.01, "weight_decay": 0.5}),
}


def torch_kwargs(function_kwargs: dict) -> dict:
    """The functional core takes beta1, beta2; the classes take betas=(beta1, beta2)."""
    kwargs = dict(function_kwargs)
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    return kwargs


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_update_function_equals_a_torch_step(name):
    init, update, kwargs = UPDATES[name]
    generator = torch.Generator().manual_seed(3)
    param = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    reference = param.clone().requires_grad_()
    optimizer = getattr(torch.optim, name)([reference], foreach=False, **torch_kwargs(kwargs))
    state = init(param)
    for _ in range(4):
        grad = torch.randn(4, 3, generator=generator, dtype=torch.float64)
        grad_before = grad.clone()
        assert update(param, grad, state, **kwargs) is None
        assert torch.equal(grad, grad_before), "the update must not modify the gradient"
        reference.grad = grad.clone()
        optimizer.step()
        torch.testing.assert_close(param, reference.detach(), rtol=1e-12, atol=0)
    assert state.keys() == optimizer.state[reference].keys()
    for key, value in optimizer.state[reference].items():
        torch.testing.assert_close(state[key], value, rtol=1e-12, atol=0)


def test_first_steps_match_closed_forms():
    """Step 1 of each algorithm in closed form (the formulas the lectures derive)."""
    theta = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    g = torch.tensor([0.3, -4.0, 1e-3], dtype=torch.float64)
    lr, eps = 0.1, 1e-8

    def first_step(init, update, **kwargs):
        param = theta.clone()
        update(param, g, init(param), **kwargs)
        return param

    # SGD with momentum and dampening: b₁ = g₁ (dampening skipped), θ₁ = θ₀ − γg₁.
    torch.testing.assert_close(
        first_step(course_optim.sgd_init, course_optim.sgd_update, lr=lr, momentum=0.9, dampening=0.5),
        theta - lr * g,
    )
    # Nesterov: θ₁ = θ₀ − γ(g₁ + μg₁).
    torch.testing.assert_close(
        first_step(course_optim.sgd_init, course_optim.sgd_update, lr=lr, momentum=0.9, nesterov=True),
        theta - lr * 1.9 * g,
    )
    # Adam: m̂₁ = g₁, v̂₁ = g₁², so θ₁ = θ₀ − γ g₁ / (|g₁| + ε).
    torch.testing.assert_close(
        first_step(course_optim.adam_init, course_optim.adam_update, lr=lr, eps=eps),
        theta - lr * g / (g.abs() + eps),
    )
    # AdamW: the decay uses θ₀ and is multiplied by lr.
    torch.testing.assert_close(
        first_step(course_optim.adam_init, course_optim.adamw_update, lr=lr, eps=eps, weight_decay=0.5),
        theta * (1 - lr * 0.5) - lr * g / (g.abs() + eps),
    )
    # Adagrad from a zero accumulator: θ₁ = θ₀ − γ g₁ / (|g₁| + ε).
    torch.testing.assert_close(
        first_step(course_optim.adagrad_init, course_optim.adagrad_update, lr=lr, eps=1e-10),
        theta - lr * g / (g.abs() + 1e-10),
    )
    # RMSprop, no bias correction: θ₁ = θ₀ − γ g₁ / (√(1 − α)|g₁| + ε).
    torch.testing.assert_close(
        first_step(course_optim.rmsprop_init, course_optim.rmsprop_update, lr=lr, alpha=0.99, eps=eps),
        theta - lr * g / (math.sqrt(0.01) * g.abs() + eps),
    )
    # Adadelta, ε inside both roots: Δx₁ = √ε / √((1 − ρ)g₁² + ε) · g₁.
    rho, ada_eps = 0.9, 1e-6
    torch.testing.assert_close(
        first_step(course_optim.adadelta_init, course_optim.adadelta_update, rho=rho, eps=ada_eps),
        theta - math.sqrt(ada_eps) / torch.sqrt((1 - rho) * g**2 + ada_eps) * g,
    )


def test_decoupled_weight_decay_is_a_separate_visible_step():
    param = torch.tensor([2.0, -4.0], dtype=torch.float64)
    course_optim.decoupled_weight_decay(param, lr=0.1, weight_decay=0.5)
    torch.testing.assert_close(param, torch.tensor([1.9, -3.8], dtype=torch.float64))
    course_optim.decoupled_weight_decay(param, lr=0.1, weight_decay=0.0)
    torch.testing.assert_close(param, torch.tensor([1.9, -3.8], dtype=torch.float64))


def test_adamw_update_is_adam_with_decoupled_weight_decay():
    generator = torch.Generator().manual_seed(5)
    param_a = torch.randn(5, generator=generator, dtype=torch.float64)
    param_b = param_a.clone()
    state_a, state_b = course_optim.adam_init(param_a), course_optim.adam_init(param_b)
    for _ in range(5):
        grad = torch.randn(5, generator=generator, dtype=torch.float64)
        course_optim.adamw_update(param_a, grad, state_a, lr=0.01, weight_decay=0.3)
        course_optim.adam_update(param_b, grad, state_b, lr=0.01, weight_decay=0.3,
                                 decoupled_weight_decay=True)
    assert torch.equal(param_a, param_b)


def test_adamw_is_an_adam_and_keeps_decoupled_decay_after_loading():
    params = fresh_params()
    optimizer = course_optim.AdamW(params)
    assert isinstance(optimizer, course_optim.Adam)
    saved = torch.optim.Adam(fresh_params(), weight_decay=0.01).state_dict()
    optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["decoupled_weight_decay"] is True


def test_every_name_in_all_is_exported():
    for exported in course_optim.__all__:
        assert getattr(course_optim, exported) is not None
    assert issubclass(course_optim.SGD, torch.optim.Optimizer)


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_and_non_contiguous_params_match_torch(name):
    """State is created with the parameter's memory format and every update is layout-blind."""
    generator = torch.Generator().manual_seed(7)
    conv_weight = torch.randn(4, 3, 2, 2, generator=generator, dtype=torch.float64)
    conv_weight = conv_weight.to(memory_format=torch.channels_last)
    transposed = torch.randn(5, 3, generator=generator, dtype=torch.float64).t()
    runs = []
    for library in (course_optim, torch.optim):
        params = [conv_weight.clone().requires_grad_(), transposed.clone().requires_grad_()]
        optimizer = make(library, name, params)
        for step in range(5):
            for param in params:
                param.grad = torch.sin(param.detach() * (step + 1)) + 0.1
            optimizer.step()
        runs.append((params, optimizer))
    (ours, our_optimizer), (theirs, their_optimizer) = runs
    assert_params_equal(ours, theirs)
    for mine, reference in zip(ours, theirs):
        for key, value in their_optimizer.state[reference].items():
            torch.testing.assert_close(our_optimizer.state[mine][key], value, rtol=1e-9, atol=1e-12)
            assert our_optimizer.state[mine][key].stride() == value.stride(), key
