"""Bad hyperparameters raise ValueError with torch's exact message; constructors match torch's."""

from __future__ import annotations

import inspect
import re

import pytest
import torch

import course_lib.optim as course_optim

# Bad arguments per optimizer; each must be refused by torch too, with the same message.
BAD_ARGUMENTS = {
    "SGD": [
        {"lr": -0.1},
        {"momentum": -0.5},
        {"weight_decay": -1e-4},
        {"nesterov": True},
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        {"lr": -1.0, "momentum": -1.0},
    ],
    "Adam": [
        {"lr": -0.1},
        {"eps": -1e-8},
        {"betas": (1.0, 0.999)},
        {"betas": (-0.1, 0.999)},
        {"betas": (0.9, 1.0)},
        {"weight_decay": -0.1},
        {"betas": (0, 0.999)},
        {"betas": (0, 0.999), "weight_decay": -1.0},
    ],
    "AdamW": [
        {"lr": -0.1},
        {"eps": -1.0},
        {"betas": (1.5, 0.999)},
        {"betas": (0.9, 1.0)},
        {"weight_decay": -0.01},
    ],
    "Adagrad": [
        {"lr": -0.1},
        {"lr_decay": -0.5},
        {"weight_decay": -0.1},
        {"initial_accumulator_value": -1.0},
        {"eps": -1e-10},
    ],
    "Adadelta": [
        {"lr": -0.1},
        {"rho": 1.1},
        {"rho": -0.1},
        {"eps": -1e-6},
        {"weight_decay": -0.1},
    ],
    "RMSprop": [
        {"lr": -0.1},
        {"eps": -1e-8},
        {"momentum": -0.9},
        {"weight_decay": -0.1},
        {"alpha": -0.99},
    ],
}

# Arguments course_lib leaves out on purpose (no foreach/fused/jit/capturable branches).
LEFT_OUT = {"foreach", "fused", "capturable", "differentiable"}


def torch_message(name: str, kwargs: dict) -> str:
    with pytest.raises(ValueError) as raised:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    return str(raised.value)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        pytest.param(name, kwargs, id=f"{name}-{kwargs}")
        for name, cases in BAD_ARGUMENTS.items()
        for kwargs in cases
    ],
)
def test_bad_hyperparameter_gives_torchs_message(name, kwargs):
    expected = torch_message(name, kwargs)
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        getattr(course_optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("SGD", {"lr": -0.1}, "Invalid learning rate: -0.1"),
        ("Adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0: 1.0"),
        ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.5},
         "Nesterov momentum requires a momentum and zero dampening"),
        ("Adadelta", {"rho": 1.5}, "Invalid rho value: 1.5"),
    ],
)
def test_messages_name_the_argument(name, kwargs, expected):
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        getattr(course_optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_tensor_learning_rate_is_refused_clearly(name):
    with pytest.raises(ValueError, match=r"take lr as a Python float, got a Tensor; use lr=0\.0"):
        getattr(course_optim, name)([torch.zeros(2, requires_grad=True)], lr=torch.tensor(0.01))


def test_tensor_betas_are_refused_clearly():
    with pytest.raises(ValueError, match=r"take betas\[0\] as a Python float"):
        course_optim.Adam([torch.zeros(2, requires_grad=True)], betas=(torch.tensor(0.9), torch.tensor(0.99)))


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_empty_parameter_list_is_refused_like_torch(name):
    expected = "optimizer got an empty parameter list"
    with pytest.raises(ValueError, match=re.escape(expected)):
        getattr(torch.optim, name)([])
    with pytest.raises(ValueError, match=re.escape(expected)):
        getattr(course_optim, name)([])


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_constructor_has_torchs_names_order_and_defaults(name):
    """Same argument names, in the same order, with the same defaults as torch 2.13's class,
    minus the foreach/fused/capturable/differentiable switches."""
    ours = inspect.signature(getattr(course_optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    their_kept = [p for p in theirs.values() if p.name not in LEFT_OUT]
    assert [p.name for p in ours.values()] == [p.name for p in their_kept]
    for parameter in their_kept:
        assert ours[parameter.name].default == parameter.default, parameter.name
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            # Never positional where torch is keyword-only.
            assert ours[parameter.name].kind is inspect.Parameter.KEYWORD_ONLY, parameter.name


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_defaults_dict_matches_torchs_minus_left_out_switches(name):
    params = [torch.zeros(2, requires_grad=True)]
    ours = getattr(course_optim, name)(params).defaults
    theirs = getattr(torch.optim, name)(params).defaults
    assert ours == {key: value for key, value in theirs.items() if key not in LEFT_OUT}
