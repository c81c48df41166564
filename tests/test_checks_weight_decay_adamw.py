"""Checkers for notebook 08 (weight decay, AdamW): the references pass, learner-style wrong
answers fail with the hint meant for them, the references equal torch, the measurement agrees
with the closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.exercises.checks import run_check
from course_lib.exercises.checks.weight_decay_adamw import (
    ADAMW_STEP_MISTAKES,
    DECAY_GROUP_MISTAKES,
    measured_l2_decay,
    reference_adamw_step,
    reference_decay_groups,
)
from course_lib.optim import adam_init, adam_update
from course_lib.theory.weight_decay import adam_l2_effective_decay

# -- 8.1 adamw_step --------------------------------------------------------------------------------


def learner_adamw(order="decay_first", times_lr=True, coupled=False, mutate_grad=False):
    def adamw_step(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
        factor = 1 - (lr * weight_decay if times_lr else weight_decay)
        if coupled:
            adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                        weight_decay=weight_decay)
            return
        if mutate_grad:
            # "L2 by hand" written into the caller's gradient
            grad.add_(param, alpha=weight_decay)
            adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
            return
        if order == "decay_first":
            param *= factor
        adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        if order == "decay_last":
            param *= factor

    return adamw_step


def test_reference_and_a_careful_learner_pass():
    assert run_check("8.1", reference_adamw_step).passed
    assert run_check("8.1", learner_adamw()).passed


@pytest.mark.parametrize("seed", [5, "learner-3"])
def test_passes_on_other_seeds(seed):
    assert run_check("8.1", learner_adamw(), seed=seed).passed


def test_adam_with_decoupled_flag_passes():
    def adamw_step(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
        adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, decoupled_weight_decay=True)

    assert run_check("8.1", adamw_step).passed


@pytest.mark.parametrize("kwargs, hint_id", [
    (dict(coupled=True), "coupled_l2"),
    (dict(times_lr=False), "decay_not_times_lr"),
    (dict(order="decay_last"), "decay_after_adam"),
    (dict(mutate_grad=True), "changed_input"),
])
def test_learner_mistakes_get_their_hint(kwargs, hint_id):
    result = run_check("8.1", learner_adamw(**kwargs))
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_every_known_mistake_gets_its_own_hint():
    for mistake in ADAMW_STEP_MISTAKES:
        assert run_check("8.1", mistake.wrong_function).hint_id == mistake.hint_id


def test_stub_is_not_attempted():
    def adamw_step(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
        raise NotImplementedError

    assert run_check("8.1", adamw_step).status == "not_attempted"


@pytest.mark.parametrize("weight_decay", [0.0, 0.01, 0.7])
def test_reference_equals_torch_adamw_and_decoupled_adam(weight_decay):
    generator = torch.Generator().manual_seed(1)
    start = torch.randn(5, generator=generator, dtype=torch.float64)
    gradients = [torch.randn(5, generator=generator, dtype=torch.float64) for _ in range(10)]
    adamw_param = start.clone().requires_grad_(True)
    adam_param = start.clone().requires_grad_(True)
    adamw = torch.optim.AdamW([adamw_param], lr=0.05, weight_decay=weight_decay, foreach=False)
    adam = torch.optim.Adam([adam_param], lr=0.05, weight_decay=weight_decay,
                            decoupled_weight_decay=True, foreach=False)
    ours, state = start.clone(), adam_init(start)
    for g in gradients:
        for p, opt in ((adamw_param, adamw), (adam_param, adam)):
            p.grad = g.clone()
            opt.step()
        reference_adamw_step(ours, g, state, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8,
                             weight_decay=weight_decay)
        torch.testing.assert_close(ours, adamw_param.detach(), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(adam_param.detach(), adamw_param.detach(), rtol=0, atol=0)


# -- 8.2 the L2 decay under Adam ------------------------------------------------------------------


@pytest.mark.parametrize("lr, weight_decay, grad_scale", [(0.01, 0.003, 0.1), (0.01, 0.3, 10.0),
                                                           (0.005, 2.0, 50.0)])
def test_measure_agrees_with_the_closed_form(lr, weight_decay, grad_scale):
    measured = measured_l2_decay(lr, weight_decay, grad_scale)
    assert measured == pytest.approx(adam_l2_effective_decay(lr, weight_decay, grad_scale), rel=0.04)
    # and it is not AdamW's rate: the preconditioner rescaled the L2 term by 1/grad_scale
    assert abs(measured / (lr * weight_decay) - 1) > 0.5


def test_measure_uses_torch_adams_l2():
    # the measurement's update is torch.optim.Adam(weight_decay=λ), step for step
    weights = torch.ones(7, dtype=torch.float64)
    theirs = weights.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theirs], lr=0.01, weight_decay=0.3, foreach=False)
    state = adam_init(weights)
    for k in range(20):
        g = torch.full((7,), (-1.0) ** k * 2.0, dtype=torch.float64)
        adam_update(weights, g, state, lr=0.01, weight_decay=0.3)
        theirs.grad = g.clone()
        optimizer.step()
    torch.testing.assert_close(weights, theirs.detach(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", [None, 11])
def test_the_closed_form_passes(seed):
    assert run_check("8.2", adam_l2_effective_decay, seed=seed).passed


@pytest.mark.parametrize("prediction, hint_id", [
    (lambda lr, weight_decay, grad_scale: lr * weight_decay, "adamw_rate"),
    (lambda lr, weight_decay, grad_scale: weight_decay / grad_scale, "forgot_lr"),
    (lambda lr, weight_decay, grad_scale: lr * weight_decay / grad_scale ** 2, "divided_by_v"),
    (lambda lr, weight_decay, grad_scale: lr * weight_decay * grad_scale, "times_scale"),
    (lambda lr, weight_decay, grad_scale: 2 * lr * weight_decay / grad_scale, "prediction_off"),
])
def test_wrong_predictions_get_their_hint(prediction, hint_id):
    result = run_check("8.2", prediction)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


# -- 8.3 param groups -------------------------------------------------------------------------------


def learner_groups_by_shape(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim >= 2:
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def learner_groups_by_name(model, weight_decay):
    decay = [p for n, p in model.named_parameters() if "bias" not in n and "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "norm" in n]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def learner_groups_forgot_key(model, weight_decay):
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay}]


def learner_groups_every_module(model, weight_decay):
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if p.requires_grad:
                (no_decay if name == "bias" or p.dim() == 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def learner_groups_bias_only(model, weight_decay):
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(".bias")]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith(".bias")]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def learner_groups_layernorm_only(model, weight_decay):
    no_decay_ids = set()
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            no_decay_ids |= {id(p) for p in module.parameters()}
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            no_decay_ids.add(id(p))
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if id(p) not in no_decay_ids], "weight_decay": weight_decay},
            {"params": [p for p in params if id(p) in no_decay_ids], "weight_decay": 0.0}]


def learner_groups_all_params(model, weight_decay):
    # the nanoGPT rule, but frozen parameters too
    params = list(model.parameters())
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


@pytest.mark.parametrize("seed", [None, 2, "learner-40"])
def test_shape_rule_passes(seed):
    assert run_check("8.3", reference_decay_groups, seed=seed).passed
    assert run_check("8.3", learner_groups_by_shape, seed=seed).passed


@pytest.mark.parametrize("learner, hint_id", [
    (lambda model, weight_decay: [{"params": list(model.parameters()), "weight_decay": weight_decay}],
     "decay_everything"),
    (learner_groups_forgot_key, "no_decay_group_without_key"),
    (learner_groups_every_module, "walks_modules"),
    (learner_groups_bias_only, "exempt_bias_by_name_only"),
    (learner_groups_layernorm_only, "exempt_listed_norms_only"),
    (learner_groups_all_params, "frozen_included"),
])
def test_learner_mistakes_get_their_hint(learner, hint_id):
    result = run_check("8.3", learner)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_a_name_rule_fails_on_a_model_it_was_not_written_for():
    # "bias" or "norm" in the name works for the learner's own MLP, not for BatchNorm in a
    # Sequential (named "1.weight") or a custom gain vector
    result = run_check("8.3", learner_groups_by_name)
    assert not result.passed


def test_returning_a_dict_or_nothing_fails_clearly():
    assert not run_check("8.3", lambda model, weight_decay: None).passed
    result = run_check("8.3", lambda model, weight_decay: {"params": list(model.parameters())})
    assert not result.passed and "list of param-group dicts" in result.report()


def test_every_known_group_mistake_gets_its_own_hint():
    for mistake in DECAY_GROUP_MISTAKES:
        assert run_check("8.3", mistake.wrong_function).hint_id == mistake.hint_id


def test_reference_groups_train_with_torch_adamw():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    optimizer = torch.optim.AdamW(reference_decay_groups(model, 0.1), lr=1e-2)
    decays = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decays[id(model[0].weight)] == 0.1 and decays[id(model[2].weight)] == 0.1
    assert decays[id(model[0].bias)] == 0.0 and decays[id(model[1].weight)] == 0.0


def test_written_answer_is_listed():
    assert "written answer" in run_check("8.4", None).report()


def test_freezing_the_model_does_not_fool_the_check():
    def decay_groups(model, weight_decay):
        model.requires_grad_(False)  # nothing trainable left, so "nothing to group"?
        return []

    result = run_check("8.3", decay_groups)
    assert not result.passed
    assert "no group" in result.report()


def test_groups_built_from_a_fresh_copy_fail():
    import copy

    def decay_groups(model, weight_decay):
        return reference_decay_groups(copy.deepcopy(model), weight_decay)

    assert not run_check("8.3", decay_groups).passed


def test_8_3_groups_chosen_by_module_type_get_their_hint():
    """minGPT's whitelist: the weights of Linear and Conv modules decay, nothing else (issue 16)."""
    def by_module_type(model, weight_decay):
        decay, no_decay = [], []
        for module_name, module in model.named_modules():
            for name, p in module.named_parameters(recurse=False):
                if not p.requires_grad:
                    continue
                if name == "weight" and isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                    decay.append(p)
                else:
                    no_decay.append(p)
        decay_ids = {id(p) for p in decay}
        no_decay = [p for p in dict.fromkeys(no_decay) if id(p) not in decay_ids]
        return [{"params": list(dict.fromkeys(decay)), "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]

    result = run_check("8.3", by_module_type)
    assert not result.passed and result.hint_id == "by_module_type", result.report()
