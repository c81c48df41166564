"""Checkers for notebook 08 (weight decay, AdamW): the references pass, learner-style wrong
answers fail with the hint meant for them, the measurements run torch's optimizers and agree
with the closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course_lib.exercises.checks import run_check
from course_lib.exercises.checks.weight_decay_adamw import (
    DECAY_GROUP_MISTAKES,
    box_constrained_minimiser,
    measured_adamw_end,
    measured_rms_weight,
    reference_decay_groups,
)

# -- 8.1 where AdamW ends -------------------------------------------------------------------------


def box_end(hessian, minimiser, weight_decay):
    (a, b), (_, d) = hessian
    bound = 1 / weight_decay
    theta1 = theta2 = 0.0
    for _ in range(500):
        theta1 = max(-bound, min(bound, minimiser[0] - b * (theta2 - minimiser[1]) / a))
        theta2 = max(-bound, min(bound, minimiser[1] - b * (theta1 - minimiser[0]) / d))
    return theta2


@pytest.mark.parametrize("seed", [None, 5])
def test_the_box_constrained_minimiser_passes(seed):
    result = run_check("8.1", box_end, seed=seed)
    assert result.passed, result.report()


def test_the_reference_enumeration_and_coordinate_descent_agree():
    for hessian, minimiser, weight_decay in [([[1.0, 0.8], [0.8, 1.0]], [3.0, 0.5], 0.5),
                                             ([[4.0, 1.9], [1.9, 1.0]], [2.0, -0.5], 1.0),
                                             ([[0.3, -0.2], [-0.2, 5.0]], [0.1, 0.2], 2.0)]:
        assert box_constrained_minimiser(hessian, minimiser, weight_decay)[1] == pytest.approx(
            box_end(hessian, minimiser, weight_decay), abs=1e-9)


@pytest.mark.parametrize("prediction, hint_id", [
    (lambda hessian, minimiser, weight_decay: max(-1 / weight_decay, min(1 / weight_decay,
                                                                         minimiser[1])),
     "clip_each_coordinate"),
    (lambda hessian, minimiser, weight_decay: minimiser[1], "unregularised"),
    (lambda hessian, minimiser, weight_decay: math.copysign(1 / weight_decay, minimiser[1]),
     "always_on_the_boundary"),
    (lambda hessian, minimiser, weight_decay: max(-1.0, min(1.0, minimiser[1])),
     "box_of_size_one"),
    (lambda hessian, minimiser, weight_decay: 0.9 * box_end(hessian, minimiser, weight_decay),
     "prediction_off"),
])
def test_wrong_endpoints_get_their_hint(prediction, hint_id):
    result = run_check("8.1", prediction)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_the_l2_endpoint_gets_its_hint():
    def l2(hessian, minimiser, weight_decay):
        H = torch.tensor(hessian, dtype=torch.float64)
        c = torch.tensor(minimiser, dtype=torch.float64)
        return torch.linalg.solve(H + weight_decay * torch.eye(2, dtype=torch.float64), H @ c)[1].item()

    result = run_check("8.1", l2)
    assert not result.passed and result.hint_id == "l2_minimiser", result.report()


def test_a_constant_guess_and_a_stub_fail():
    assert not run_check("8.1", lambda hessian, minimiser, weight_decay: 2.0).passed

    def predicted_adamw_end(hessian, minimiser, weight_decay):
        raise NotImplementedError

    assert run_check("8.1", predicted_adamw_end).status == "not_attempted"


def test_the_endpoint_does_not_depend_on_the_curvature_scale():
    # AdamW's endpoint ignores a common scale of H; L2's (H + λI)⁻¹Hc does not
    ends = [measured_adamw_end([[s, 0.0], [0.0, 0.01 * s]], [0.5, 3.0], 0.5)
            for s in (1e-2, 1.0, 1e2)]
    assert max(ends) - min(ends) < 1e-3
    assert ends[0] == pytest.approx(2.0, rel=0.01)      # the edge 1/λ of the box


def test_the_measurement_is_torch_adamw():
    H = torch.tensor([[2.0, 0.5], [0.5, 0.7]], dtype=torch.float64)
    c = torch.tensor([-0.4, 0.3], dtype=torch.float64)
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.AdamW([theta], lr=0.02, betas=(0.9, 0.99), weight_decay=2.0)
    tail = []
    for step in range(2500):
        theta.grad = H @ (theta.detach() - c)
        optimizer.step()
        if step >= 2000:
            tail.append(theta[1].item())
    assert measured_adamw_end(H.tolist(), c.tolist(), 2.0) == pytest.approx(
        sum(tail) / len(tail), rel=1e-9)


# -- 8.2 the size a noise-driven weight settles at ---------------------------------------------------


def balance(lr, weight_decay, grad_scale, decoupled):
    rate = lr * weight_decay if decoupled else lr * weight_decay / grad_scale
    return math.sqrt(lr**2 / (2 * rate))


def test_the_balance_passes():
    result = run_check("8.2", balance)
    assert result.passed, result.report()


@pytest.mark.parametrize("prediction, hint_id", [
    (lambda lr, weight_decay, grad_scale, decoupled: math.sqrt(lr / (2 * weight_decay)),
     "same_for_both"),
    (lambda lr, weight_decay, grad_scale, decoupled:
     math.sqrt(2) * balance(lr, weight_decay, grad_scale, decoupled),
     "shrink_of_theta_not_theta_squared"),
    (lambda lr, weight_decay, grad_scale, decoupled:
     balance(lr, weight_decay, grad_scale, decoupled) ** 2, "no_square_root"),
    (lambda lr, weight_decay, grad_scale, decoupled:
     grad_scale * balance(lr, weight_decay, grad_scale, decoupled), "raw_gradient_steps"),
    (lambda lr, weight_decay, grad_scale, decoupled:
     math.sqrt(0.1 / 1.9) * balance(lr, weight_decay, grad_scale, decoupled),
     "one_step_rms_as_the_noise"),
    (lambda lr, weight_decay, grad_scale, decoupled: 0.1, "prediction_off"),
])
def test_wrong_sizes_get_their_hint(prediction, hint_id):
    result = run_check("8.2", prediction)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_adamw_settles_at_the_same_size_whatever_the_gradient_scale():
    small = measured_rms_weight(0.01, 0.2, 0.1, True)
    large = measured_rms_weight(0.01, 0.2, 10.0, True)
    assert small == pytest.approx(large, rel=1e-6)  # Adam's step is scale-free, so is the decay
    assert small == pytest.approx(balance(0.01, 0.2, 1.0, True), rel=0.04)


def test_one_adam_step_is_short_but_theta_wanders_like_a_walk_with_steps_of_lr():
    """The mechanism 8.2's solution teaches, against torch.optim.Adam without decay: one step's
    RMS is η·√((1−β₁)/(1+β₁)) ≈ 0.23η, yet Var θ grows by about η² per step."""
    generator = torch.Generator().manual_seed(0)
    lr, steps = 0.01, 1000
    weights = torch.zeros(4000, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=lr)
    squares, before = [], weights.detach().clone()
    for step in range(steps):
        weights.grad = 0.5 * (torch.randint(0, 2, weights.shape, generator=generator,
                                             dtype=torch.float64) * 2 - 1)
        optimizer.step()
        if step > 200:
            squares.append(((weights.detach() - before) ** 2).mean().item())
        before = weights.detach().clone()
    one_step = math.sqrt(sum(squares) / len(squares)) / lr
    assert one_step == pytest.approx(math.sqrt(0.1 / 1.9), rel=0.05)
    assert (weights.detach() ** 2).mean().item() / (steps * lr**2) == pytest.approx(1.0, rel=0.1)


# -- 8.1 and 8.2 are predictions: a simulation is flagged by make check's and the grader's scan ----

SIMULATE_8_1 = """
import torch
def predicted_adamw_end(hessian, minimiser, weight_decay):
    H = torch.tensor(hessian, dtype=torch.float64); c = torch.tensor(minimiser, dtype=torch.float64)
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([theta], lr=0.02, betas=(0.9, 0.99), weight_decay=weight_decay)
    total = 0.0
    for step in range(2500):
        theta.grad = H @ (theta.detach() - c); opt.step()
        if step >= 2000: total += theta[1].item()
    return total / 500
"""
SIMULATE_8_2 = """
import math, torch
from torch.optim import Adam, AdamW
def predicted_rms_weight(lr, weight_decay, grad_scale, decoupled):
    g = torch.Generator().manual_seed(1)
    rate = lr * weight_decay if decoupled else lr * weight_decay / grad_scale
    n = int(3 / rate); w = torch.zeros(400, dtype=torch.float64, requires_grad=True)
    opt = (AdamW if decoupled else Adam)([w], lr=lr, weight_decay=weight_decay)
    total, count = 0.0, 0
    for s in range(n):
        w.grad = grad_scale * (torch.randint(0, 2, (400,), generator=g, dtype=torch.float64) * 2 - 1)
        opt.step()
        if s > n // 2: total += (w.detach() ** 2).mean().item(); count += 1
    return math.sqrt(total / count)
"""
FUNCTIONAL = [
    "from torch.optim._functional import adamw\n",
    "import torch\ntorch.optim.adamw.adamw([p], [g], [m], [v], [], [s])\n",
    "from torch.optim.adam import adam\n",
    "from course_lib.optim import adam_update\n",
    "import course_lib.optim as o\n",
]


@pytest.mark.parametrize("exercise_id, source", [("8.1", SIMULATE_8_1), ("8.2", SIMULATE_8_2)]
                         + [(eid, s) for eid in ("8.1", "8.2") for s in FUNCTIONAL])
def test_a_simulating_answer_is_flagged_by_the_scan(exercise_id, source):
    from course_lib.exercises import answer_scan as scan
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    found = [f.what for f in scan.scan([("answer", source)], REGISTRY[exercise_id], [source])]
    assert any("forbids" in what for what in found), found


def test_the_exercise_text_does_not_publish_the_measurement_protocol():
    import json
    from pathlib import Path

    notebook = json.loads(Path(__file__).parents[1].joinpath(
        "solutions", "08_weight_decay_adamw.ipynb").read_text())
    text = {c["id"]: "".join(c["source"]) for c in notebook["cells"]}
    for settings in ("lr=0.02", "0.99", "2500", "last 500"):
        assert settings not in text["wd-ex1-text"], settings
    for settings in ("2000", "6 %", "default betas"):
        assert settings not in text["wd-ex2-text"], settings
    assert "Predict, don't simulate" in text["wd-ex1-text"]
    assert "Predict, don't simulate" in text["wd-ex2-text"]


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
