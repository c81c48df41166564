r"""Checkers for notebook 10, choosing an optimizer: exercises 10.1–10.3.

10.1 outcome-graded: ``make_optimizer(params, *, steps_per_epoch, epochs) -> (optimizer,
     scheduler or None)``; the check trains notebook 10's digits network (64-32-10, ReLU,
     torch's default init from the seed) for 5 epochs of batch 64 with it, calling
     ``scheduler.step()`` after every ``optimizer.step()``, and needs a validation accuracy of at
     least 0.93 on each of two seeds (default Adam reaches about 0.8).
10.2 predict, then measure: the largest learning rate at which full-batch gradient descent on
     the least-squares loss :math:`L(w) = \frac1n\lVert Xw - y\rVert^2` stays stable, from the
     data matrix ``X``; the check finds it by running gradient descent (doubling, then bisection).
10.3 written answer: choose an optimizer for a new task from the notebook's curves.
"""

from __future__ import annotations

import math

import torch

from course_lib import optimizer_race
from course_lib.digits import load_digits_split
from course_lib.toy_regression import single_threaded

from ._framework import Budget, Case, KnownMistake, register_outcome, register_prediction, register_written
from .lr_schedules import _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 10.1 outcome-graded: reach 0.93 validation accuracy in 5 epochs
# --------------------------------------------------------------------------------------------

TARGET_ACCURACY = 0.93
BUDGET = Budget(epochs=5, seconds=20)
BATCH_SIZE = 64


def score_digits_net(state, *, seed: int, budget: Budget) -> float:
    """The scoring half: the validation accuracy of the trained parameters ``state``.

    ``state`` is what :func:`course_lib.optimizer_race.train_digits_net` returned (in a grader,
    it comes from the sandbox as plain tensors): it is loaded into a fresh copy of the course's
    own network and evaluated here, on the validation split, so nothing but the parameters is
    taken from the learner's run.
    """
    net = optimizer_race.make_net(seed=seed)
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        raise TypeError("the training run must return the network's state_dict "
                        f"(keys {sorted(expected)}), got {type(state).__name__}")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor) or value.shape != expected[name].shape:
            raise TypeError(f"parameter {name!r} of the trained network is not a tensor of shape "
                            f"{tuple(expected[name].shape)}")
    net.load_state_dict({name: value.to(expected[name].dtype) for name, value in state.items()})
    data = load_digits_split()
    with torch.no_grad():
        return float((net(data.x_val).argmax(1) == data.y_val).float().mean())


def train_digits(make_optimizer, *, seed: int, budget: Budget) -> float:
    """The whole harness (as a notebook runs it): train, then score (the halves above)."""
    return score_digits_net(optimizer_race.train_digits_net(make_optimizer, seed=seed, budget=budget,
                                                            batch_size=BATCH_SIZE),
                            seed=seed, budget=budget)


def reference_make_optimizer(params, *, steps_per_epoch, epochs):
    """Adam at a range-test-sized lr with one-cycle: rises, then anneals within the budget."""
    optimizer = torch.optim.Adam(params, lr=0.03)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.03,
                                                    total_steps=steps_per_epoch * epochs)
    return optimizer, scheduler


_outcome_10_1 = register_outcome(
    "10.1",
    train=optimizer_race.train_digits_net,
    score=score_digits_net,
    target=TARGET_ACCURACY,
    budget=BUDGET,
    reference=reference_make_optimizer,
    metric="validation accuracy",
    n_seeds=2,
    explain="Five epochs are not many steps (110): torch's default learning rates are far too "
            "small here. Read a better lr off the notebook's sensitivity curves, and let a "
            "schedule (warmup then decay, or one-cycle) use a large lr safely.",
)

# The answer to 10.1 *is* a torch.optim optimizer (and scheduler): only the course's own code is
# off limits to the grader's scan.
_outcome_10_1.forbidden_imports = _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 10.2 predict, then measure: the largest stable lr of full-batch GD on least squares
# --------------------------------------------------------------------------------------------


def _growing(X: torch.Tensor, lrs: torch.Tensor, steps: int = 1000) -> torch.Tensor:
    """Run gradient descent on L(w) = mean((Xw)²) (the targets do not affect stability) at every
    lr of ``lrs`` at once, from the same random start, and report which runs end with a larger
    loss than they started with. The gradient (2/n)·Xᵀ(Xw) is applied as G·w with the Gram
    matrix G = (2/n)·XᵀX formed once: the same numbers, a 64×64 product per step."""
    n, d = X.shape
    gram = (2.0 / n) * (X.T @ X)
    w0 = torch.randn(d, 1, generator=torch.Generator().manual_seed(0), dtype=X.dtype)
    w = w0.expand(d, len(lrs)).clone()
    for _ in range(steps):
        w = w - lrs * (gram @ w)
        w = torch.nan_to_num(w, nan=1e30, posinf=1e30, neginf=-1e30).clamp(-1e30, 1e30)
    loss = ((X @ w) ** 2).mean(dim=0)
    return loss > ((X @ w0) ** 2).mean()


def measured_max_stable_lr(X: torch.Tensor) -> float:
    """Scan a wide geometric grid of lrs, then refine the bracket where runs start to grow, by
    running gradient descent at 64 lrs at a time, to 0.1 %."""
    X = X.double()
    grid = torch.logspace(-8, 4, 64, dtype=X.dtype)
    while True:
        with single_threaded():  # 64×64 products: threads only add hand-off costs
            grows = _growing(X, grid)
        if not grows.any() or grows.all():
            raise ValueError("no stability limit found in the scanned range of learning rates")
        first = int(grows.nonzero()[0])
        low, high = float(grid[first - 1]), float(grid[first])
        if high - low <= 1e-3 * high:
            return (low + high) / 2
        grid = torch.linspace(low, high, 64, dtype=X.dtype)


def _top_eig(matrix: torch.Tensor) -> float:
    return float(torch.linalg.eigvalsh(matrix.double())[-1])


def _no_factor_two(X):
    return 2.0 / _top_eig(X.T @ X / len(X))


def _no_mean(X):
    return 1.0 / _top_eig(X.T @ X)


def _singular_value(X):
    return 1.0 / math.sqrt(_top_eig(X.T @ X / len(X)))


def _trace(X):
    return 1.0 / float(torch.trace(X.T @ X / len(X)))


def _explain_gap(inputs, measured, predicted):
    ratio = predicted / measured
    return (f"Your value is {ratio:.3g} times the measured one. Write the gradient of "
            "L(w) = (1/n)·‖Xw − y‖² (the factor 2 of the square and the 1/n of the mean both "
            "count), so that one step is w ← (I − η·H)w + const with a fixed matrix H; the step "
            "is stable when |1 − η·λ| < 1 for every eigenvalue λ of H.")


@register_prediction(
    "10.2",
    measure=measured_max_stable_lr,
    rtol=0.02,
    explain=_explain_gap,
    mistakes=[
        KnownMistake("no_factor_two", _no_factor_two,
                     "2/λ_max(XᵀX/n) forgets the 2 from the square: the Hessian of (1/n)‖Xw − y‖² is "
                     "2XᵀX/n, so the limit is 2/λ_max(2XᵀX/n)."),
        KnownMistake("no_mean", _no_mean,
                     "That is n times too small: the loss is a mean over the n rows, so its Hessian "
                     "carries 1/n."),
        KnownMistake("singular_value", _singular_value,
                     "The curvature is a squared scale: use the top eigenvalue of XᵀX/n (the square "
                     "of X/√n's top singular value), not the singular value itself."),
        KnownMistake("trace", _trace,
                     "The trace adds up all curvatures; stability is set by the largest one alone."),
    ],
)
def stable_lr_cases(rng):
    data = load_digits_split()
    yield Case("all training digits, pixels scaled to [0, 1]", X=data.x_train.double())
    yield Case("all training digits, raw pixels 0–16", X=(16 * data.x_train).double())
    for _ in range(2):
        n = int(torch.randint(100, 800, (), generator=rng))
        rows = torch.randperm(len(data.x_train), generator=rng)[:n]
        scale = float(10 ** (2 * torch.rand((), generator=rng) - 1))
        yield Case(f"{n} drawn digits, pixels times {scale:.3g}", X=(scale * data.x_train[rows]).double())


# --------------------------------------------------------------------------------------------
# 10.3 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "10.3",
    prompt="A colleague starts a new small image-classification project and can afford only three "
           "training runs to choose the optimizer and its learning rate. Using notebook 10's "
           "sensitivity curves, which optimizer and which three learning rates would you tell "
           "them to try, and why?",
    rubric="Picks from the curves, e.g. Adam (or AdamW): its good region on the log grid is wide "
           "(low loss over about a decade around 1e-2) and sits in the same place whatever the "
           "data scale, so three lrs a factor ~3 apart (3e-3, 1e-2, 3e-2) are very likely to "
           "contain a good one; SGD with momentum can match or beat it once tuned but its good "
           "region is narrower and moves with the data scale (exercise 10.2), so three runs may "
           "miss it; plain SGD at its default lr barely moves; mentions the spread over seeds "
           "and that the default lrs are not tuned values.",
)
