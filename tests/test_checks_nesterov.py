"""Checkers 4.1-4.5 (notebook 04, Nesterov): pass on the reference, fail on wrong code, every hint
fires on a learner-style wrong implementation, and the references agree with torch.optim and with
simulation."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
import torch

from course_lib.exercises.checks import run_check
from course_lib.exercises.checks import nesterov as checks
from course_lib.theory.nesterov import nesterov_matrix, nesterov_rate

# --------------------------------------------------------------------------------------------
# The references are right (against torch, not against stored numbers)
# --------------------------------------------------------------------------------------------


def test_reference_nesterov_step_equals_torch_sgd_nesterov():
    torch.manual_seed(0)
    start = torch.randn(3, 4, dtype=torch.float64)
    ours, state = start.clone(), {}
    theirs = start.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([theirs], lr=0.07, momentum=0.85, nesterov=True, foreach=False)
    for _ in range(6):
        grad = torch.sin(3 * ours) + ours  # a gradient field evaluated where each run is
        checks.reference_nesterov_step(ours, grad, state, lr=0.07, momentum=0.85)
        theirs.grad = torch.sin(3 * theirs.detach()) + theirs.detach()
        optimizer.step()
        torch.testing.assert_close(ours, theirs.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(state["momentum_buffer"],
                                   optimizer.state[theirs]["momentum_buffer"])


@pytest.mark.parametrize("v0_scale", [0.0, 0.4])
def test_sutskever_iterates_mapped_are_torch_iterates(v0_scale):
    # Proves the 4.2 and 4.3 references together: run Sutskever's form, map every iterate, and
    # it must be exactly what torch's SGD(nesterov=True) holds after the same number of steps.
    torch.manual_seed(1)
    field = checks.TestGradient(a=2.0, c=0.5)
    lr, momentum = 0.1, 0.9
    theta = torch.randn(5, dtype=torch.float64)
    velocity = v0_scale * torch.randn(5, dtype=torch.float64)
    param0, buffer0 = checks.reference_sutskever_to_torch(theta, velocity, old_lr=lr, new_lr=lr, momentum=momentum)
    param = param0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum, nesterov=True, foreach=False)
    if v0_scale:
        optimizer.state[param]["momentum_buffer"] = buffer0.clone()
    for _ in range(20):
        checks.reference_sutskever_nesterov_step(theta, velocity, field, lr=lr, momentum=momentum)
        param.grad = field(param.detach())
        optimizer.step()
        mapped_param, mapped_buffer = checks.reference_sutskever_to_torch(
            theta, velocity, old_lr=lr, new_lr=lr, momentum=momentum)
        torch.testing.assert_close(param.detach(), mapped_param, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(optimizer.state[param]["momentum_buffer"], mapped_buffer,
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lr,momentum,curvature",
                         [(0.1, 0.9, 1.0), (1.0, 0.8, 0.01), (1.2, 0.5, 1.0), (0.3, 0.7, 2.0)])
def test_reference_rate_is_the_contraction_torch_shows(lr, momentum, curvature):
    x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum, nesterov=True, foreach=False)
    errors = []
    for _ in range(400):
        x.grad = curvature * x.detach()
        optimizer.step()
        errors.append(abs(x.item()))
    # Over many steps |x_t|^(1/t) tends to the spectral radius (spirals wobble, hence 100 steps).
    measured = (errors[399] / errors[299]) ** (1 / 100)
    expected = nesterov_rate(lr, momentum, curvature)
    assert measured == pytest.approx(expected, rel=2e-2)
    eigen = max(abs(np.linalg.eigvals(nesterov_matrix(lr, momentum, curvature))))
    assert expected == pytest.approx(eigen, rel=1e-9)


# --------------------------------------------------------------------------------------------
# 4.1 nesterov_step
# --------------------------------------------------------------------------------------------


def test_41_reference_passes():
    result = run_check("4.1", checks.reference_nesterov_step)
    assert result.passed and result.n_cases >= 8


def test_41_plainly_wrong_fails():
    def plain_sgd(param, grad, state, *, lr, momentum):
        param.sub_(lr * grad)

    assert not run_check("4.1", plain_sgd).passed


def _learner_heavy_ball(param, grad, state, *, lr, momentum):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + grad
    param -= lr * state["momentum_buffer"]


def _learner_zeros_init(param, grad, state, *, lr, momentum):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(param)
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + grad
    param -= lr * (grad + momentum * state["momentum_buffer"])


def _learner_velocity_buffer(param, grad, state, *, lr, momentum):
    v = state.get("momentum_buffer", torch.zeros_like(param))
    v = momentum * v - lr * grad
    state["momentum_buffer"] = v
    param += momentum * v - lr * grad


def _learner_lookahead_formula(param, grad, state, *, lr, momentum):
    v = state.get("momentum_buffer", torch.zeros_like(param))
    v = momentum * v - lr * grad
    state["momentum_buffer"] = v
    param += v


def _learner_ema(param, grad, state, *, lr, momentum):
    if "momentum_buffer" in state:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - momentum) * grad
    else:
        state["momentum_buffer"] = grad.clone()
    param -= lr * (grad + momentum * state["momentum_buffer"])


def _learner_copy(param, grad, state, *, lr, momentum):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad)
    param = param - lr * (grad + momentum * state["momentum_buffer"])
    return param


@pytest.mark.parametrize("learner,hint_id", [
    (_learner_heavy_ball, "heavy_ball_step"),
    (_learner_zeros_init, "zero_buffer_first_step"),
    (_learner_velocity_buffer, "velocity_as_buffer"),
    (_learner_lookahead_formula, "lookahead_formula"),
    (_learner_ema, "ema_buffer"),
    (_learner_copy, "updated_a_copy"),
])
def test_41_hints(learner, hint_id):
    result = run_check("4.1", learner)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_41_zero_initialised_buffer_done_right_passes():
    # b₀ = 0 then b ← μb + g gives b₁ = g₁: with zero dampening this *is* torch's rule.
    def zeros_then_update(param, grad, state, *, lr, momentum):
        buffer = state.setdefault("momentum_buffer", torch.zeros_like(param))
        buffer.mul_(momentum).add_(grad)
        param.sub_(lr * (grad + momentum * buffer))

    assert run_check("4.1", zeros_then_update).passed


# --------------------------------------------------------------------------------------------
# 4.2 where Nesterov starts to overshoot (predict, then measure)
# --------------------------------------------------------------------------------------------


def overshoot_onset(momentum):
    """The closed form 4.2 asks for (kept in the tests): N(h)'s discriminant
    (1+β)²s² − 4βs vanishes at s = 1 − ηh = 4β/(1+β)², i.e. ηh = ((1−β)/(1+β))²."""
    return ((1 - momentum) / (1 + momentum)) ** 2


@pytest.mark.parametrize("momentum", [0.2, 0.5, 0.9])
def test_42_measurement_equals_the_closed_form(momentum):
    assert checks.measure_nesterov_overshoot_onset(momentum) == pytest.approx(overshoot_onset(momentum), rel=0.01)


@pytest.mark.parametrize("momentum", [0.3, 0.8])
def test_42_closed_form_is_where_n_of_h_turns_complex(momentum):
    from course_lib.theory.nesterov import nesterov_matrix
    onset = overshoot_onset(momentum)
    below = np.linalg.eigvals(nesterov_matrix(0.99 * onset, momentum, 1.0))
    above = np.linalg.eigvals(nesterov_matrix(1.01 * onset, momentum, 1.0))
    assert np.isreal(below).all() and (below.real > 0).all()
    assert not np.isreal(above).all()


def test_42_closed_form_passes_and_plain_guesses_fail():
    assert run_check("4.2", overshoot_onset).passed
    assert not run_check("4.2", lambda momentum: 0.1).passed
    assert not run_check("4.2", lambda momentum: None).passed


@pytest.mark.parametrize("learner, hint_id", [
    (lambda momentum: (1 - momentum ** 0.5) ** 2, "heavy_ball_onset"),          # the lecture's heavy ball
    (lambda momentum: 1 / (1 + momentum), "first_step_overshoot"),
    (lambda momentum: 1.0, "gradient_descent_onset"),
    (lambda momentum: (1 - momentum) / (1 + momentum), "not_squared"),
    (lambda momentum: 4 * momentum / (1 + momentum) ** 2, "s_not_eta_h"),
])
def test_42_hints(learner, hint_id):
    result = run_check("4.2", learner)
    assert not result.passed and result.hint_id == hint_id, result.report()


# --------------------------------------------------------------------------------------------
# 4.3 sutskever_to_torch
# --------------------------------------------------------------------------------------------


def test_43_map_after_an_lr_change_retraces_sutskever():
    # Independent of the checker: Sutskever's form runs 10 steps at lr 0.1, then goes on at
    # 0.02; torch started at the switch from the reference map (at 0.02) holds Sutskever's
    # look-ahead point θ + βv after every later step.
    torch.manual_seed(3)
    field = checks.TestGradient(a=2.0, c=0.5)
    old_lr, new_lr, momentum = 0.1, 0.02, 0.9
    theta = torch.randn(4, dtype=torch.float64)
    velocity = torch.zeros(4, dtype=torch.float64)
    for _ in range(10):
        checks.reference_sutskever_nesterov_step(theta, velocity, field, lr=old_lr, momentum=momentum)
    param0, buffer0 = checks.reference_sutskever_to_torch(theta, velocity, old_lr=old_lr,
                                                          new_lr=new_lr, momentum=momentum)
    param = param0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([param], lr=new_lr, momentum=momentum, nesterov=True, foreach=False)
    optimizer.state[param]["momentum_buffer"] = buffer0.clone()
    for _ in range(15):
        checks.reference_sutskever_nesterov_step(theta, velocity, field, lr=new_lr, momentum=momentum)
        param.grad = field(param.detach())
        optimizer.step()
        torch.testing.assert_close(param.detach(), theta + momentum * velocity, rtol=1e-12, atol=1e-12)


def test_43_reference_passes():
    result = run_check("4.3", checks.reference_sutskever_to_torch)
    assert result.passed and result.n_cases >= 4


def test_43_a_mapping_right_only_at_the_start_fails_on_the_trajectory():
    # Right param, buffer zero: the mapping looks plausible but torch's run drifts from step 1.
    def zero_buffer(theta, velocity, *, old_lr, new_lr, momentum):
        return theta + momentum * velocity, torch.zeros_like(velocity)

    result = run_check("4.3", zero_buffer)
    assert not result.passed
    assert "momentum_buffer" in result.reason


def test_43_wrong_return_type_is_reported():
    result = run_check("4.3", lambda theta, velocity, *, old_lr, new_lr, momentum: theta)
    assert not result.passed and result.status == "failed"


@pytest.mark.parametrize("learner,hint_id", [
    (lambda theta, velocity, *, old_lr, new_lr, momentum: (theta, -velocity / new_lr), "forgot_lookahead_point"),
    (lambda theta, velocity, *, old_lr, new_lr, momentum: (theta - momentum * velocity, -velocity / new_lr),
     "lookahead_sign"),
    (lambda theta, velocity, *, old_lr, new_lr, momentum: (theta + momentum * velocity, velocity / new_lr),
     "buffer_sign"),
    (lambda theta, velocity, *, old_lr, new_lr, momentum: (theta + momentum * velocity, -velocity),
     "buffer_without_lr"),
    (lambda theta, velocity, *, old_lr, new_lr, momentum: (theta + momentum * velocity,
                                                           -velocity / old_lr),
     "old_lr_in_buffer"),
])
def test_43_hints(learner, hint_id):
    result = run_check("4.3", learner)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


# --------------------------------------------------------------------------------------------
# 4.4 the best momentum at another lr (predict, then measure)
# --------------------------------------------------------------------------------------------


def _best_momentum(mu, L, lr):
    # the closed form (critical damping of N(μ)), never shown to the learner
    root = math.sqrt(lr * mu)
    return (1 - root) / (1 + root)


def test_44_closed_form_passes_and_matches_torch():
    result = run_check("4.4", _best_momentum)
    assert result.passed and result.n_cases >= 5, result.report()
    for mu, L, lr in [(0.01, 1.0, 0.25), (0.4, 4.0, 0.125), (0.01, 1.0, 1.0)]:
        measured = checks.measure_nesterov_best_momentum(mu, L, lr)
        assert abs(measured / _best_momentum(mu, L, lr) - 1) < 0.006


def test_44_blank_and_guesses_fail():
    assert not run_check("4.4", lambda mu, L, lr: 0.9).passed
    assert not run_check("4.4", lambda mu, L, lr: 0.0).passed
    assert not run_check("4.4", lambda mu, L, lr: 1 - lr * mu).passed


@pytest.mark.parametrize("learner,hint_id", [
    (lambda mu, L, lr: (math.sqrt(L / mu) - 1) / (math.sqrt(L / mu) + 1), "lecture_recipe_at_any_lr"),
    (lambda mu, L, lr: ((1 - math.sqrt(lr * mu)) / (1 + math.sqrt(lr * mu))) ** 2, "heavy_ball_optimum"),
    (lambda mu, L, lr: 1 - math.sqrt(lr * mu), "one_minus_root"),
])
def test_44_hints(learner, hint_id):
    result = run_check("4.4", learner)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_44_refuses_the_theory_rate():
    from course_lib.exercises.checks import REGISTRY
    assert "course_lib.theory.nesterov.nesterov_rate" in REGISTRY["4.4"].refused_calls


# --------------------------------------------------------------------------------------------
# the holes of issue 7 §3 and issue 8's slip: aliasing, one grad_fn call, abs() of real roots
# --------------------------------------------------------------------------------------------


def _learner_aliasing(param, grad, state, *, lr, momentum):
    buffer = state.get("momentum_buffer")
    if buffer is None:
        buffer = state["momentum_buffer"] = grad      # no clone: the buffer is grad itself
    else:
        buffer.mul_(momentum).add_(grad)
    param.sub_(lr * (grad + momentum * buffer))


def test_41_buffer_that_aliases_grad_fails_with_the_clone_hint():
    result = run_check("4.1", _learner_aliasing)
    assert not result.passed and result.hint_id == "aliased_input", result.report()
    assert "clone" in result.hint


def test_43_mapping_that_changes_theta_fails():
    def in_place_mapping(theta, velocity, *, old_lr, new_lr, momentum):
        theta.add_(momentum * velocity)   # the look-ahead point, computed into theta itself
        return theta, -velocity / new_lr

    result = run_check("4.3", in_place_mapping)
    assert not result.passed and result.hint_id in {"changed_input", "aliased_input"}, \
        result.report()


# --------------------------------------------------------------------------------------------
# 4.5 Nesterov's divergence lr (predict, then measure) and 4.6
# --------------------------------------------------------------------------------------------


def predicted_nesterov_divergence_lr(mu, L, momentum):
    """The closed form 4.5 asks for (kept in the tests): r = −1 is a root of N(L)'s characteristic
    polynomial when 1 + (1+2β)(1 − ηL) = 0, i.e. η = 2(1+β)/((1+2β)L)."""
    return 2 * (1 + momentum) / ((1 + 2 * momentum) * L)


def _torch_nesterov_loss_ratio(lr, momentum, curvatures, steps=3000):
    """A plain torch.optim.SGD(nesterov=True) loop on ½Σhθ²: final loss / first loss."""
    theta = torch.ones(len(curvatures), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=momentum, nesterov=True)
    h = torch.tensor(curvatures, dtype=torch.float64)
    first = (0.5 * h * theta.detach() ** 2).sum().item()
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * h * theta ** 2).sum().backward()
        optimizer.step()
    return (0.5 * h * theta.detach() ** 2).sum().item() / first


@pytest.mark.parametrize("momentum", [0.5, 0.9])
def test_45_theory_is_where_a_plain_torch_loop_diverges(momentum):
    limit = predicted_nesterov_divergence_lr(0.02, 1.0, momentum)
    assert _torch_nesterov_loss_ratio(0.97 * limit, momentum, [0.02, 1.0]) < 1.0
    assert not _torch_nesterov_loss_ratio(1.03 * limit, momentum, [0.02, 1.0]) < 1e3
    # heavy ball at the same lr still converges: Nesterov is the less robust one here
    assert predicted_nesterov_divergence_lr(0.02, 1.0, momentum) < 2 * (1 + momentum)


@pytest.mark.parametrize("seed", [None, 0, 1, "grader"])
def test_45_measurement_equals_the_theory_and_the_theory_passes(seed):
    from course_lib.exercises.checks import REGISTRY
    for case in REGISTRY["4.5"].make_cases(seed):
        assert checks.measure_nesterov_divergence_lr(**case.inputs) == pytest.approx(
            predicted_nesterov_divergence_lr(**case.inputs), rel=0.03)
    assert run_check("4.5", predicted_nesterov_divergence_lr, seed=seed).passed


def test_45_solution_from_the_44_matrix_passes():
    def nesterov_divergence_lr(mu, L, momentum):
        # p(r) = r² − (1+β)s·r + βs with s = 1 − ηL; a root at −1: 1 + (1+2β)s = 0
        return (1 + 1 / (1 + 2 * momentum)) / L

    assert run_check("4.5", nesterov_divergence_lr).passed


@pytest.mark.parametrize("learner, hint_id", [
    (lambda mu, L, momentum: 2 * (1 + momentum) / L, "heavy_ball_limit"),
    (lambda mu, L, momentum: 2 / L, "gradient_descent_limit"),
    (lambda mu, L, momentum: 2 * (1 + momentum) / ((1 + 2 * momentum) * mu), "smallest_curvature"),
    (lambda mu, L, momentum: 1 / L, "one_over_L"),
    (lambda mu, L, momentum: 0.05, "prediction_off"),
])
def test_45_hints(learner, hint_id):
    result = run_check("4.5", learner)
    assert not result.passed and result.hint_id == hint_id, result.report()


def test_46_is_a_written_answer():
    assert run_check("4.6", print).status == "written"


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", ["4.1", "4.2", "4.3", "4.4", "4.5"])
def test_two_seeds_give_different_cases_and_keep_the_edge_cases(exercise_id):
    from course_lib.exercises.checks import REGISTRY
    checker = REGISTRY[exercise_id]
    first, second = checker.make_cases(41), checker.make_cases(42)
    values = [[repr(sorted((k, repr(v)) for k, v in c.inputs.items())) for c in cases]
              for cases in (first, second)]
    assert values[0] != values[1]
    assert {c.description for c in checker.make_cases(None)} & {c.description for c in first}


@pytest.mark.parametrize("seed", range(15))
def test_references_pass_under_many_seeds(seed):
    assert run_check("4.1", checks.reference_nesterov_step, seed=seed).passed
    assert run_check("4.3", checks.reference_sutskever_to_torch, seed=seed).passed


def test_41_stale_buffer_gets_a_hint_that_names_it():
    def nesterov_step(param, grad, state, *, lr, momentum):
        old = state.get("momentum_buffer")
        step = grad.clone() if old is None else grad + momentum * old    # the buffer before its update
        if old is None:
            state["momentum_buffer"] = grad.clone()
        else:
            old.mul_(momentum).add_(grad)
        param.sub_(lr * step)

    result = run_check("4.1", nesterov_step)
    assert not result.passed and result.hint_id == "heavy_ball_step"
    assert "stale" in result.report()


def test_43_velocity_stored_as_the_buffer_gets_its_hint():
    def sutskever_to_torch(theta, velocity, *, old_lr, new_lr, momentum):
        return theta + momentum * velocity, velocity.clone()

    result = run_check("4.3", sutskever_to_torch)
    assert not result.passed and result.hint_id == "velocity_as_buffer", result.report()


# --------------------------------------------------------------------------------------------
# Shortcuts: the lecture's stable-lr formula (4.5) and the checker's own measurement (4.2)
# --------------------------------------------------------------------------------------------


def _scan_flags(exercise_id, source):
    from course_lib.exercises import answer_scan
    from course_lib.exercises.checks import discover
    from course_lib.exercises.checks._framework import REGISTRY

    discover()
    return [f.what for f in answer_scan.scan([("c", source)], REGISTRY[exercise_id], [source])]


@pytest.mark.parametrize("exercise_id, source, name", [
    ("4.5", "def predicted(mu, L, momentum):\n    return nesterov_stable_lr(momentum, L)\n",
     "nesterov_stable_lr"),
    ("4.5", "from course_lib.theory.nesterov import nesterov_stable_lr as f\n"
            "def predicted(mu, L, momentum):\n    return f(momentum, L)\n", "nesterov_stable_lr"),
    ("4.2", "from course_lib.exercises.checks.nesterov import measure_nesterov_overshoot_onset\n"
            "def predicted(momentum):\n    return measure_nesterov_overshoot_onset(momentum)\n",
     "measure_nesterov_overshoot_onset"),
])
def test_shortcut_helpers_are_refused(exercise_id, source, name):
    from course_lib.exercises.checks._framework import REGISTRY
    from course_lib.exercises.checks import discover

    discover()
    assert any(name in key for key in REGISTRY[exercise_id].refused_calls)
    hits = _scan_flags(exercise_id, source)
    assert any(name in hit or "forbids" in hit for hit in hits), hits
