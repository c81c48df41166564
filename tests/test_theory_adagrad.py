"""Every Adagrad equation notebook 05 shows equals course_lib.optim and torch.optim.Adagrad:
``clr = lr / (1 + (t−1)·lr_decay)``, the accumulator started at ``initial_accumulator_value``,
ε outside the root; and the κ-free path on an axis-aligned quadratic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.problems import landscapes
from course_lib import optim
from course_lib.theory import adagrad as theory
from course_lib.experiments.trajectories import run
from optimizer_streams import parameter_changes


@pytest.mark.parametrize("hyper", [
    dict(lr=0.1),
    dict(lr=0.5, lr_decay=0.3),
    dict(lr=0.2, lr_decay=0.05, initial_accumulator_value=0.7, eps=0.1),
    dict(lr=1.0, eps=1e-10, initial_accumulator_value=0.0),
])
def test_effective_lr_curve_equals_course_lib_and_torch(hyper):
    rng = np.random.default_rng(0)
    stream = rng.normal(size=(25, 3)) * (rng.random((25, 3)) < 0.4)  # sparse: many zeros
    curve = theory.adagrad_effective_lr_curve(stream, **hyper)
    expected = -curve * stream
    for cls, extra in ((optim.Adagrad, {}), (torch.optim.Adagrad, {"foreach": False})):
        np.testing.assert_allclose(parameter_changes(cls, stream, **hyper, **extra), expected,
                                   rtol=1e-12, atol=1e-15)


def test_step_size_counts_from_one():
    assert theory.adagrad_step_size(0.4, 0.5, 1) == 0.4
    assert math.isclose(theory.adagrad_step_size(0.4, 0.5, 3), 0.4 / 2.0)
    with pytest.raises(ValueError, match="step"):
        theory.adagrad_step_size(0.4, 0.5, 0)


def test_eps_sits_outside_the_root():
    # s = 0.01, eps = 0.1: outside gives 1/(0.1 + 0.1) = 5, inside 1/sqrt(0.11) = 3.015
    assert math.isclose(theory.adagrad_effective_lr(1.0, 0.01, eps=0.1), 5.0)
    measured = -parameter_changes(torch.optim.Adagrad, [[0.1]], lr=1.0, eps=0.1, foreach=False)[0, 0] / 0.1
    assert math.isclose(measured, 5.0, rel_tol=1e-12)


def test_effective_lr_of_a_constant_gradient_falls_like_one_over_sqrt_t():
    curve = theory.adagrad_effective_lr_curve(np.full(400, 2.0), lr=0.1, eps=0.0)
    t = np.arange(1, 401)
    np.testing.assert_allclose(curve, 0.1 / (2.0 * np.sqrt(t)), rtol=1e-12)


@pytest.mark.parametrize("kappa", [1.0, 50.0, 1000.0])
def test_axis_aligned_path_does_not_depend_on_kappa(kappa):
    valley = landscapes.quadratic(condition_number=kappa)
    measured = run(valley, optim.Adagrad, steps=60, lr=0.3, eps=0.0)
    predicted = theory.adagrad_diagonal_quadratic_path(valley.start, lr=0.3, steps=60)
    np.testing.assert_allclose(measured.path, predicted, rtol=1e-9, atol=1e-300)
    theirs = run(valley, torch.optim.Adagrad, steps=60, lr=0.3, eps=0.0)
    np.testing.assert_allclose(theirs.path, predicted, rtol=1e-9, atol=1e-300)


def test_rotated_valley_brings_kappa_back():
    # the same lr and steps: on the turned valley the final distance to the minimum grows with
    # kappa; on the aligned one it is the same for every kappa (the path is κ-free)
    # from a generic start: the landscapes' own (-1.5, 1.5) lies on the turned valley's flat
    # eigenvector, where only round-off brings κ back (tests/test_claims_05_adagrad.py)
    def distance(valley):
        return float(np.linalg.norm(run(valley, optim.Adagrad, start=(-1.5, 1.0), steps=100,
                                        lr=0.3).final_point))

    aligned = [distance(landscapes.quadratic(k)) for k in (10.0, 1000.0)]
    turned = [distance(landscapes.rotated_quadratic(k)) for k in (10.0, 1000.0)]
    assert math.isclose(aligned[0], aligned[1], rel_tol=1e-6)
    assert turned[1] > 100 * turned[0]


def test_rotated_quadratic_is_the_quadratic_turned():
    flat = landscapes.quadratic(50.0)
    turned = landscapes.rotated_quadratic(50.0, angle=30.0)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    R = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    np.testing.assert_allclose(turned.hessian, R @ flat.hessian @ R.T, atol=1e-15)
    points = torch.randn(7, 2, dtype=torch.float64)
    np.testing.assert_allclose(turned(points), flat(points @ R), rtol=1e-12)
    auto = torch.func.vmap(torch.func.grad(turned))(points)
    np.testing.assert_allclose(turned.grad(points), auto, rtol=1e-12)
    assert landscapes.rotated_quadratic(50.0, angle=0.0).key != flat.key  # a different class
    np.testing.assert_allclose(landscapes.rotated_quadratic(50.0, angle=0.0).hessian, flat.hessian)


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="learning rate"):
        theory.adagrad_effective_lr_curve([1.0], lr=-1.0)
    with pytest.raises(ValueError, match="epsilon"):
        theory.adagrad_effective_lr(0.1, 1.0, eps=-1.0)


def test_full_matrix_adagrad_turns_with_the_valley():
    # started on an axis of an aligned valley, every gradient lies on that axis: G_t is then
    # diagonal and full-matrix Adagrad is torch's Adagrad. Turning the valley turns the path.
    flat = landscapes.quadratic(50.0)
    on_axis = theory.full_matrix_adagrad_path(flat.hessian.numpy(), (-1.5, 0.0), lr=0.3, steps=60)
    theirs = run(flat, torch.optim.Adagrad, start=(-1.5, 0.0), steps=60, lr=0.3).path
    np.testing.assert_allclose(on_axis, theirs, rtol=1e-8, atol=1e-12)
    ours = theory.full_matrix_adagrad_path(flat.hessian.numpy(), (-1.5, 1.0), lr=0.3, steps=60)
    angle = 30.0
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    R = np.array([[c, -s], [s, c]])
    turned = landscapes.rotated_quadratic(50.0, angle=angle)
    path = theory.full_matrix_adagrad_path(turned.hessian.numpy(), R @ np.array([-1.5, 1.0]),
                                           lr=0.3, steps=60)
    # (G_1 has rank 1: round-off along its null direction, divided by eps = 1e-10, moves the
    # path by about 1e-7)
    np.testing.assert_allclose(path, ours @ R.T, rtol=1e-5, atol=1e-8)


def test_diagonal_newton_and_preconditioned_rate():
    flat = landscapes.quadratic(50.0)
    path = theory.diagonal_newton_path(flat.hessian.numpy(), (-1.5, 1.0), steps=1)
    np.testing.assert_allclose(path[-1], 0.0, atol=1e-15)  # exact Newton on a diagonal H
    # a fixed diagonal P: the distance shrinks by the rate per step, late in a run
    H = landscapes.rotated_quadratic(100.0).hessian.numpy()
    p = np.array([0.6, 1.5])
    theta = np.array([-1.5, 1.0])
    for _ in range(300):
        theta = theta - p * (H @ theta)
    before = np.linalg.norm(theta)
    theta = theta - p * (H @ theta)
    assert np.linalg.norm(theta) / before == pytest.approx(theory.preconditioned_rate(p, H), rel=1e-6)
