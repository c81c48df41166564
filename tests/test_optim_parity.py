"""course_lib.optim equals torch.optim (foreach=False): parameters and every state entry.

The grid per optimizer is at least torch's own ``optim_inputs_func_*`` in
torch/testing/_internal/common_optimizers.py (minus the tensor-lr and capturable entries, which
course_lib leaves out), plus extra combinations, plus several param groups with different
hyperparameters. Every run has a parameter whose gradient stays None.
"""

from __future__ import annotations

import pytest
import torch

import course_lib.optim as course_optim

STEPS = 30

# (course_lib class, torch class, constructor kwargs). The first block of each optimizer is
# torch's optim_inputs_func_* list; the rest widens it.
GRID = {
    "SGD": [
        {},
        {"lr": 1e-2},
        {"weight_decay": 0.5},
        {"momentum": 0.9},
        {"weight_decay": 0.1, "maximize": True},
        {"momentum": 0.9, "dampening": 0.5},
        {"momentum": 0.9, "weight_decay": 0.1},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
        # wider than torch's list
        {"lr": 0.05},
        {"lr": 1e-2, "momentum": 0.5, "nesterov": True, "maximize": True},
        {"lr": 1e-2, "momentum": 0.9, "dampening": 0.9, "weight_decay": 0.1, "maximize": True},
    ],
    "Adagrad": [
        {},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"lr": 0.1},
        {"initial_accumulator_value": 0.1, "weight_decay": 0.1},
        {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1},
        # wider than torch's list
        {"lr": 0.05, "eps": 1e-3, "maximize": True, "initial_accumulator_value": 0.5},
        {"lr_decay": 0.01},
    ],
    "Adadelta": [
        {},
        {"lr": 0.01},
        {"weight_decay": 0.1},
        {"maximize": True},
        {"weight_decay": 0.1, "maximize": True},
        {"rho": 0.95, "weight_decay": 0.9},
        # wider than torch's list
        {"lr": 0.5, "rho": 0.5, "eps": 1e-3},
        {"rho": 1.0},
    ],
    "RMSprop": [
        {},
        {"lr": 1e-3},
        {"weight_decay": 0.1},
        {"maximize": True},
        {"weight_decay": 0.1, "centered": True},
        {"maximize": True, "weight_decay": 0.1},
        {"weight_decay": 0.1, "centered": True, "momentum": 0.1},
        {"weight_decay": 0.1, "centered": True, "momentum": 0.1, "maximize": True},
        # wider than torch's list
        {"lr": 1e-3, "momentum": 0.9},
        {"lr": 1e-3, "alpha": 0.9, "eps": 1e-4, "centered": True},
    ],
    "Adam": [
        {},
        {"lr": 0.01},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"weight_decay": 0.1, "amsgrad": True},
        # wider than torch's list
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True,
         "maximize": True},
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4, "amsgrad": True},
        {"lr": 0.01, "betas": (0.0, 0.0)},
    ],
    "AdamW": [
        {},
        {"lr": 0.01},
        {"weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"weight_decay": 0.1, "amsgrad": True},
        # wider than torch's list
        {"lr": 0.01, "weight_decay": 0.0},
        {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True, "maximize": True},
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4},
    ],
}

# Per-group overrides for the param-group test: the second group differs in every
# hyperparameter the algorithm has a branch for.
SECOND_GROUP = {
    "SGD": ({"lr": 1e-2, "momentum": 0.9}, {"lr": 5e-3, "momentum": 0.5, "nesterov": True,
                                          "weight_decay": 0.1, "maximize": True}),
    "Adagrad": ({"lr": 0.1}, {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 0.2,
                              "eps": 1e-4}),
    "Adadelta": ({"rho": 0.9}, {"lr": 0.5, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.1,
                                "maximize": True}),
    "RMSprop": ({"lr": 1e-3}, {"lr": 2e-3, "alpha": 0.9, "momentum": 0.5, "centered": True,
                               "weight_decay": 0.1}),
    "Adam": ({"lr": 1e-2}, {"lr": 5e-3, "betas": (0.8, 0.99), "amsgrad": True,
                            "weight_decay": 0.1, "decoupled_weight_decay": True}),
    "AdamW": ({"lr": 1e-2}, {"lr": 5e-3, "betas": (0.8, 0.99), "amsgrad": True,
                             "weight_decay": 0.3, "maximize": True}),
}

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    ),
]

TOLERANCES = {torch.float64: {"rtol": 1e-9, "atol": 1e-12}, torch.float32: {"rtol": 1e-5, "atol": 1e-6}}


def initial_params(dtype: torch.dtype, device: str) -> list[torch.Tensor]:
    """A weight matrix, a bias, a 3-D kernel, a 0-dim scale, and one never used by the loss."""
    generator = torch.Generator().manual_seed(0)
    shapes = [(5, 4), (4,), (2, 2, 3), (), (3,)]
    return [torch.randn(shape, generator=generator, dtype=dtype).to(device) for shape in shapes]


def loss_fn(params: list[torch.Tensor]) -> torch.Tensor:
    """A small tanh network on fixed data plus a Rosenbrock-like coupling: non-quadratic,
    with gradients of different sizes in every tensor. The log1p terms grow slowly, so the
    ``maximize=True`` runs stay finite too. The last param is never used."""
    weight, bias, kernel, scale, _unused = params
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(8, 5, generator=generator, dtype=weight.dtype).to(weight.device)
    targets = torch.randn(8, 3, generator=generator, dtype=weight.dtype).to(weight.device)
    hidden = torch.tanh(inputs @ weight + bias)
    outputs = scale * (hidden @ kernel.reshape(4, 3))
    fit = (outputs - targets).pow(2).mean()
    coupling = (kernel.flatten()[1:] - kernel.flatten()[:-1] ** 2).pow(2).mean()
    return torch.log1p(fit) + 0.5 * torch.log1p(coupling) + 0.1 * (1 - scale) ** 2


def run(optimizer_cls, param_groups_of, steps: int, dtype: torch.dtype, device: str, **kwargs):
    """Run ``steps`` steps of ``optimizer_cls`` and return (params, optimizer)."""
    params = [p.clone().requires_grad_() for p in initial_params(dtype, device)]
    optimizer = optimizer_cls(param_groups_of(params), **kwargs)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(params).backward()
        optimizer.step()
    return params, optimizer


def one_group(params):
    return params


def assert_same_run(course_params, course_opt, torch_params, torch_opt, dtype, device):
    tolerance = TOLERANCES[dtype]
    start = initial_params(dtype, device)
    for index, (ours, theirs) in enumerate(zip(course_params, torch_params)):
        assert torch.isfinite(theirs).all(), f"param {index} diverged: pick a gentler case"
        torch.testing.assert_close(ours, theirs, **tolerance, msg=f"param {index}")
        our_state = course_opt.state.get(ours, {})
        their_state = torch_opt.state.get(theirs, {})
        assert our_state.keys() == their_state.keys(), f"state keys of param {index}"
        for key in their_state:
            # assert_close also checks dtype and device: `step` must be stored as torch does.
            torch.testing.assert_close(
                our_state[key], their_state[key], **tolerance, msg=f"state[{key!r}] of param {index}"
            )
    # The runs must have done something: used params moved, the unused one did not.
    for index in range(4):
        assert not torch.equal(course_params[index].detach(), start[index]), f"param {index} never moved"
    assert torch.equal(course_params[4].detach(), start[4])


def grid_cases():
    return [
        pytest.param(
            name, kwargs, id=f"{name}-" + (",".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults")
        )
        for name, kwargs_list in GRID.items()
        for kwargs in kwargs_list
    ]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("name", "kwargs"), grid_cases())
def test_matches_torch_on_the_grid(name, kwargs, dtype, device):
    course_cls = getattr(course_optim, name)
    torch_cls = getattr(torch.optim, name)
    ours = run(course_cls, one_group, STEPS, dtype, device, **kwargs)
    theirs = run(torch_cls, one_group, STEPS, dtype, device, foreach=False, **kwargs)
    assert_same_run(*ours, *theirs, dtype, device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(SECOND_GROUP))
def test_matches_torch_with_several_param_groups(name, device):
    constructor_kwargs, second_group_overrides = SECOND_GROUP[name]

    def two_groups(params):
        return [
            {"params": params[:2]},
            {"params": params[2:], **second_group_overrides},
        ]

    dtype = torch.float64
    ours = run(getattr(course_optim, name), two_groups, STEPS, dtype, device, **constructor_kwargs)
    theirs = run(
        getattr(torch.optim, name), two_groups, STEPS, dtype, device, foreach=False,
        **constructor_kwargs,
    )
    assert_same_run(*ours, *theirs, dtype, device)
    for our_group, their_group in zip(ours[1].param_groups, theirs[1].param_groups):
        for key, value in our_group.items():
            if key != "params":
                assert value == their_group[key], key


@pytest.mark.parametrize("name", sorted(GRID))
def test_float64_default_dtype_stores_a_float64_step(name):
    """torch keeps `step` in float64 when the default dtype is float64; so must we."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ours = run(getattr(course_optim, name), one_group, 3, torch.float64, "cpu", lr=1e-3)
        theirs = run(getattr(torch.optim, name), one_group, 3, torch.float64, "cpu", lr=1e-3,
                     foreach=False)
    finally:
        torch.set_default_dtype(previous)
    assert_same_run(*ours, *theirs, torch.float64, "cpu")
