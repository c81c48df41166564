"""The trajectory runner: equal to stepping torch.optim by hand, gradient descent at its
closed-form rate, clean divergence, batched runs equal to single runs, argument checks."""

import math

import numpy as np
import pytest
import torch

import course_lib.optim as course_optim
from course_lib.problems.landscapes import beale, himmelblau, noisy, quadratic, rosenbrock, saddle
from course_lib.experiments.trajectories import DIVERGENCE_BOUND, Trajectory, run, run_many

OPTIMIZERS = [
    (torch.optim.SGD, dict(lr=1e-3)),
    (torch.optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    (torch.optim.Adam, dict(lr=0.05)),
    (torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01)),
    (torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (torch.optim.Adagrad, dict(lr=0.3, lr_decay=0.01)),
    (torch.optim.Adadelta, dict(lr=1.0)),
    (torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
    (course_optim.SGD, dict(lr=1e-3, momentum=0.9, dampening=0.1)),
    (course_optim.Adam, dict(lr=0.05)),
    (course_optim.RMSprop, dict(lr=0.01, centered=True)),
]
IDS = [f"{cls.__module__.split('.')[0]}.{cls.__name__}-{i}" for i, (cls, _) in enumerate(OPTIMIZERS)]


def step_by_hand(landscape, optimizer_cls, start, steps, use_autograd, **hyperparams):
    """The textbook loop: zero_grad, loss.backward() (or the closed-form gradient), step."""
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_cls([theta], **hyperparams)
    points = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        if use_autograd:
            landscape(theta).backward()
        else:
            theta.grad = landscape.grad(theta.detach())
        optimizer.step()
        points.append(theta.detach().clone())
    return torch.stack(points).numpy()


@pytest.mark.parametrize("optimizer_cls, hyperparams", OPTIMIZERS, ids=IDS)
def test_run_equals_stepping_the_optimizer_by_hand(optimizer_cls, hyperparams):
    landscape = rosenbrock()
    trajectory = run(landscape, optimizer_cls, steps=60, **hyperparams)
    assert isinstance(trajectory, Trajectory) and not trajectory.diverged
    by_hand = step_by_hand(landscape, optimizer_cls, landscape.start, 60, use_autograd=False, **hyperparams)
    np.testing.assert_array_equal(trajectory.path, by_hand)
    # With autograd's gradient (rounded in a different order) the paths agree to ~machine precision.
    by_autograd = step_by_hand(landscape, optimizer_cls, landscape.start, 60, use_autograd=True, **hyperparams)
    np.testing.assert_allclose(trajectory.path, by_autograd, rtol=1e-9, atol=1e-12)
    expected_losses = landscape.value(torch.from_numpy(by_hand)).numpy()
    np.testing.assert_allclose(trajectory.losses, expected_losses, rtol=1e-12)


def test_path_and_losses_shapes_and_start():
    landscape = beale()
    trajectory = run(landscape, torch.optim.Adam, start=(1.0, 1.0), steps=37, lr=0.01)
    assert trajectory.path.shape == (38, 2) and trajectory.losses.shape == (38,)
    assert trajectory.path.dtype == np.float64
    assert trajectory.path[0].tolist() == [1.0, 1.0]
    assert trajectory.steps == 37 and trajectory.message == "" and trajectory.diverged_at is None
    assert run(landscape, torch.optim.Adam, steps=0).path.tolist() == [list(landscape.start)]


@pytest.mark.parametrize("lr", [0.1, 0.9, 1.5])
def test_gradient_descent_on_the_quadratic_follows_the_closed_form(lr):
    # θ_k = (I - lr·H)^k θ_0 with H = diag(L, μ): each coordinate shrinks by (1 - lr·λ) per step.
    landscape = quadratic(condition_number=20.0, L=1.0)
    x0, y0 = landscape.start
    trajectory = run(landscape, torch.optim.SGD, steps=100, lr=lr)
    k = np.arange(101)
    expected = np.stack([x0 * (1 - lr * landscape.L) ** k, y0 * (1 - lr * landscape.mu) ** k], axis=1)
    np.testing.assert_allclose(trajectory.path, expected, rtol=1e-10, atol=1e-300)
    expected_losses = 0.5 * (landscape.L * expected[:, 0] ** 2 + landscape.mu * expected[:, 1] ** 2)
    np.testing.assert_allclose(trajectory.losses, expected_losses, rtol=1e-10, atol=1e-300)
    assert not trajectory.diverged


@pytest.mark.parametrize("condition_number", [4.0, 50.0])
def test_the_best_fixed_learning_rate_contracts_both_coordinates_by_kappa_ratio(condition_number):
    # lr = 2 / (L + μ) balances |1 - lr·L| = |1 - lr·μ| = (κ - 1) / (κ + 1).
    landscape = quadratic(condition_number=condition_number, L=2.0)
    trajectory = run(landscape, torch.optim.SGD, steps=20, lr=2.0 / (landscape.L + landscape.mu))
    ratios = np.abs(trajectory.path[1:] / trajectory.path[:-1])
    np.testing.assert_allclose(ratios, (condition_number - 1) / (condition_number + 1), rtol=1e-9)


@pytest.mark.parametrize("lr", [2.05, 2.5, 4.0])
def test_gradient_descent_beyond_two_over_L_diverges_cleanly(lr):
    landscape = quadratic(condition_number=10.0, L=1.0)
    x0 = landscape.start[0]
    trajectory = run(landscape, torch.optim.SGD, steps=500, lr=lr)
    # |x_k| = |x0|·|1 - lr·L|^k first exceeds the bound at this k:
    first_out = math.floor(math.log(DIVERGENCE_BOUND / abs(x0)) / math.log(abs(1 - lr * landscape.L))) + 1
    assert trajectory.diverged
    assert trajectory.diverged_at == first_out
    assert trajectory.message == f"diverged at step {first_out}"
    assert trajectory.path.shape == (first_out, 2) and trajectory.losses.shape == (first_out,)
    assert np.isfinite(trajectory.path).all() and np.isfinite(trajectory.losses).all()
    assert np.abs(trajectory.path).max() <= DIVERGENCE_BOUND


def test_just_below_two_over_L_does_not_diverge():
    landscape = quadratic(condition_number=10.0, L=4.0)
    trajectory = run(landscape, torch.optim.SGD, steps=300, lr=0.99 * 2 / landscape.L)
    assert not trajectory.diverged and trajectory.path.shape == (301, 2)


def test_outcome_names_the_run_and_its_final_loss_or_divergence_step():
    landscape = quadratic(condition_number=10.0, L=1.0)
    converged = run(landscape, torch.optim.SGD, steps=50, label="GD", lr=0.5)
    assert converged.outcome == f"GD: loss {float(landscape.value(torch.tensor(converged.path[-1]))):.2e}"
    diverged = run(landscape, torch.optim.SGD, steps=500, label="GD", lr=3.0)
    assert diverged.outcome == f"GD: diverged at step {diverged.diverged_at}"


def test_nan_ends_the_path_at_the_last_finite_point():
    # lr = inf turns the first step into ±inf or NaN: the path keeps only the start.
    trajectory = run(himmelblau(), torch.optim.SGD, steps=50, lr=float("inf"))
    assert trajectory.diverged and trajectory.diverged_at == 1
    assert trajectory.path.shape == (1, 2) and np.isfinite(trajectory.losses).all()


def test_escaping_the_saddle_is_reported_as_divergence():
    trajectory = run(saddle(), torch.optim.SGD, steps=1000, lr=0.1)
    y0 = saddle().start[1]
    # y_k = y0·(1 + lr)^k leaves the bound at this k.
    expected = math.floor(math.log(DIVERGENCE_BOUND / y0) / math.log(1.1)) + 1
    assert trajectory.diverged_at == expected


def test_default_label_and_hyperparams():
    trajectory = run(rosenbrock(), torch.optim.Adam, steps=3, lr=0.1, betas=(0.9, 0.99))
    assert trajectory.label == "Adam lr=0.1, betas=(0.9, 0.99)"
    assert trajectory.hyperparams == dict(lr=0.1, betas=(0.9, 0.99))
    assert run(rosenbrock(), torch.optim.SGD, steps=3, label="GD", lr=0.1).label == "GD"


def test_optimizers_that_need_a_closure_run_too():
    trajectory = run(rosenbrock(), torch.optim.LBFGS, steps=25, lr=1.0)
    np.testing.assert_allclose(trajectory.path[-1], rosenbrock().minima[0].numpy(), atol=1e-4)


def test_noisy_runs_are_reproducible():
    landscape = noisy(rosenbrock(), sigma=5.0, seed=11)
    first = run(landscape, torch.optim.SGD, steps=50, lr=1e-3)
    again = run(landscape, torch.optim.SGD, steps=50, lr=1e-3)
    np.testing.assert_array_equal(first.path, again.path)
    clean = run(rosenbrock(), torch.optim.SGD, steps=50, lr=1e-3)
    other_seed = run(noisy(rosenbrock(), sigma=5.0, seed=12), torch.optim.SGD, steps=50, lr=1e-3)
    assert not np.allclose(first.path, clean.path) and not np.allclose(first.path, other_seed.path)
    # Recorded losses are the noise-free f at the path's points.
    np.testing.assert_allclose(first.losses, rosenbrock().value(torch.from_numpy(first.path)).numpy())


def test_any_differentiable_callable_works_through_autograd():
    def bowl(xy):
        return (xy**2).sum(dim=-1)

    bowl.start = (1.0, -2.0)
    trajectory = run(bowl, torch.optim.SGD, steps=10, lr=0.25)
    np.testing.assert_allclose(trajectory.path[-1], np.array([1.0, -2.0]) * 0.5**10)


class RebindingGD(torch.optim.Optimizer):
    """Gradient descent written the way many learners first write it: rebinding ``p.data``."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                p.data = p.data - group["lr"] * p.grad


def test_optimizers_that_rebind_data_instead_of_updating_in_place():
    landscape = quadratic(condition_number=4.0)
    trajectory = run(landscape, RebindingGD, steps=30, lr=0.5)
    reference = run(landscape, torch.optim.SGD, steps=30, lr=0.5)
    np.testing.assert_allclose(trajectory.path, reference.path, rtol=1e-15)
    assert not trajectory.diverged


# -- run_many --------------------------------------------------------------------------------


def test_run_many_equals_separate_runs():
    landscape = himmelblau()
    runs = [
        ("adam a", torch.optim.Adam, dict(lr=0.1)),
        ("sgd", torch.optim.SGD, dict(lr=0.01, momentum=0.5)),
        ("adam b", torch.optim.Adam, dict(lr=0.1)),           # batched with "adam a"
        (None, course_optim.Adam, dict(lr=0.1)),              # course_lib's, batched with the next
        (None, course_optim.Adam, dict(lr=0.1)),
        ("lbfgs", torch.optim.LBFGS, dict(lr=0.5)),           # not elementwise: run on its own
        ("too fast", torch.optim.SGD, dict(lr=0.5)),          # diverges
    ]
    starts = np.array([[0.0, 0.0], [-1.0, 1.0], [1.0, -1.0], [-0.5, -0.5], [2.0, 2.0], [1.0, 1.0], [0.5, 0.0]])
    together = run_many(landscape, runs, start=starts, steps=80)
    assert [t.label for t in together][:3] == ["adam a", "sgd", "adam b"]
    assert together[3].label == "Adam lr=0.1"
    for (label, cls, hyperparams), start, batched in zip(runs, starts, together):
        alone = run(landscape, cls, start=start, steps=80, label=label, **hyperparams)
        np.testing.assert_allclose(batched.path, alone.path, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batched.losses, alone.losses, rtol=1e-12, atol=1e-14)
        assert (batched.diverged, batched.diverged_at, batched.message) == (alone.diverged, alone.diverged_at, alone.message)
    assert together[-1].diverged and not together[0].diverged


def test_run_many_with_one_shared_start_and_stacked_noisy_replicas():
    landscape = noisy(quadratic(), sigma=0.5, seed=0)
    runs = [(f"replica {i}", torch.optim.SGD, dict(lr=0.1)) for i in range(4)]
    replicas = run_many(landscape, runs, steps=30)
    assert all(t.path[0].tolist() == list(landscape.start) for t in replicas)
    assert not np.allclose(replicas[0].path, replicas[1].path), "stacked runs draw independent noise"
    again = run_many(landscape, runs, steps=30)
    for first, second in zip(replicas, again):
        np.testing.assert_array_equal(first.path, second.path)


def test_run_many_stacked_rows_diverge_independently():
    landscape = quadratic(condition_number=10.0)
    starts = np.array([[1.0, 1.0], [1e5, 1.0]])  # same lr, one start much further out
    runs = [(None, torch.optim.SGD, dict(lr=2.2))] * 2
    near, far = run_many(landscape, runs, start=starts, steps=400)
    assert near.diverged and far.diverged and far.diverged_at < near.diverged_at
    assert np.isfinite(near.path).all() and np.isfinite(far.path).all()


def test_run_many_checks_its_arguments():
    assert run_many(rosenbrock(), []) == []
    with pytest.raises(ValueError, match=r"runs\[0\]"):
        run_many(rosenbrock(), [torch.optim.SGD])
    with pytest.raises(ValueError, match="start"):
        run_many(rosenbrock(), [(None, torch.optim.SGD, dict(lr=0.1))] * 2, start=np.zeros((3, 2)))


# -- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [-1, 2.5, "10", True])
def test_bad_steps(steps):
    with pytest.raises(ValueError, match="steps"):
        run(rosenbrock(), torch.optim.SGD, steps=steps, lr=0.1)


@pytest.mark.parametrize("start", [(1.0,), (1.0, 2.0, 3.0), (float("nan"), 0.0), "here"])
def test_bad_start(start):
    with pytest.raises(ValueError, match="start"):
        run(rosenbrock(), torch.optim.SGD, start=start, lr=0.1)


def test_unknown_hyperparameter_is_named_with_the_valid_ones():
    with pytest.raises(TypeError, match="'beta1'") as error:
        run(rosenbrock(), torch.optim.Adam, beta1=0.9)
    assert "betas" in str(error.value) and "lr" in str(error.value)


def test_an_optimizer_instance_or_a_non_optimizer_is_refused():
    theta = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="class"):
        run(rosenbrock(), torch.optim.SGD([theta], lr=0.1))
    with pytest.raises(ValueError, match="optimizer_cls"):
        run(rosenbrock(), dict, lr=0.1)


def test_bad_hyperparameter_values_keep_the_optimizers_own_message():
    with pytest.raises(ValueError, match="Invalid learning rate"):
        run(rosenbrock(), torch.optim.Adam, lr=-1.0)
