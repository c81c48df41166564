r"""Checkers for notebook 10, choosing an optimizer: exercises 10.1–10.3.

10.1 outcome-graded: ``make_optimizer(params, *, steps_per_epoch, epochs) -> (optimizer,
     scheduler or None)``; the check trains 5 of notebook 10's digits networks (64-32-10, ReLU,
     torch's default init, each from its own seed) for 3 epochs of batch 8 with it, calling
     ``scheduler.step()`` after every ``optimizer.step()``, and needs their median validation
     loss to be at most 0.12 (5 seeds drawn by the check). No constant lr reaches it: at batch
     8 the gradient noise sets a floor that only a decaying lr gets below.
10.2 predict, then measure: ``lr_for_summed_loss(name, lr, batch_size)``, the lr at which
     training with ``reduction="sum"`` follows the path that the batch mean takes at ``lr``; the
     check finds it by training both on the digits and searching the lr whose path ends closest.
     (``measured_matching_lr``, the first edition's measurement, stays for solution 10's demo.)
10.3 written answer: why the lr that wins a short tuning sweep sits near the edge of stability.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
import torch

from course_lib.experiments import optimizer_race
from course_lib.problems.digits import load_digits_split
from course_lib.problems.toy_regression import single_threaded

from ._framework import (Budget, Case, KnownMistake, register_outcome, register_prediction,
                         register_written, watch)
from .lr_schedules import _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 10.1 outcome-graded: beat the noise floor of small batches in 3 epochs
# --------------------------------------------------------------------------------------------

# Measured over 30 seeds (docs/benchmarks.md, "Exercise 10.1's target"): at batch 8 for 3
# epochs, the median validation loss of 5 networks is 0.132 or more for every constant lr of
# Adam (0.0056-0.0316) and SGD+momentum (0.0178-0.056) on every window of seeds, while Adam with
# a 10 % warmup and a linear decay to 0 (peak 0.0316) stays at or below 0.106, and one-cycle or
# AdamW with warmup + cosine at or below 0.115.
TARGET_LOSS = 0.12
BUDGET = Budget(epochs=3, seconds=60)
NETWORKS = optimizer_race.NETWORKS_PER_RUN


def validation_loss(state, *, seed: int) -> float:
    """The validation cross-entropy of the trained parameters ``state`` of the network built
    from ``seed``: loaded into a fresh copy of the course's own network and evaluated here, so
    nothing but the parameters is taken from the learner's run."""
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
        loss = float(torch.nn.functional.cross_entropy(net(data.x_val), data.y_val))
    return loss if math.isfinite(loss) else math.inf


def score_digits_nets(states, *, seed: int, budget: Budget) -> float:
    """The scoring half: the median validation loss of the networks
    :func:`course_lib.experiments.optimizer_race.train_digits_nets` trained (network ``k`` was
    built from ``seed + k``; in a grader the parameters arrive from the sandbox as plain tensors).
    """
    if not isinstance(states, list) or len(states) != NETWORKS:
        raise TypeError(f"the training run must return {NETWORKS} networks' state_dicts, "
                        f"got {type(states).__name__}")
    return float(np.median([validation_loss(state, seed=seed + k)
                            for k, state in enumerate(states)]))


def train_digits(make_optimizer, *, seed: int, budget: Budget) -> float:
    """The whole harness (as a notebook runs it): train, then score (the halves above)."""
    return score_digits_nets(optimizer_race.train_digits_nets(make_optimizer, seed=seed,
                                                              budget=budget),
                             seed=seed, budget=budget)


def reference_make_optimizer(params, *, steps_per_epoch, epochs):
    """Adam at the top of its good region, 10 % linear warmup, then a linear decay to 0."""
    optimizer = torch.optim.Adam(params, lr=0.0316)
    total = steps_per_epoch * epochs
    warmup = total // 10

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / (total - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


_outcome_10_1 = register_outcome(
    "10.1",
    train=optimizer_race.train_digits_nets,
    score=score_digits_nets,
    target=TARGET_LOSS,
    higher_is_better=False,
    budget=BUDGET,
    reference=reference_make_optimizer,
    metric="median validation loss",
    n_seeds=1,
    explain="Look at how the training loss behaves over the last epoch at a constant lr: with "
            "batches of 8 it stops falling and jitters around a floor. Which lr gets you there "
            "fastest, and what would have to change during the run to get below that floor?",
)

# The answer to 10.1 *is* a torch.optim optimizer (and scheduler): only the course's own code is
# off limits to the grader's scan.
_outcome_10_1.forbidden_imports = _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 10.2 predict, then measure: the lr at which SGD with momentum matches SGD
# --------------------------------------------------------------------------------------------

# What the measurement runs: notebook 10's budget (5 epochs of batch 64, seeds 0-2, the median
# over the seeds), and the grid of momentum lrs it scans: 6 per decade from sgd_lr/100 to
# 10·sgd_lr, wide enough to hold every answer in the hints and fixed relative to ``sgd_lr``, not
# to any formula for the answer.
MATCH_SEEDS = (0, 1, 2)
MATCH_EPOCHS = 5
MATCH_BATCH_SIZE = 64  # notebook 10's own batch size
MATCH_GRID = (-2.0, 1.0, 6)  # log10 of (lowest, highest) lr / sgd_lr, points per decade
# Bound when the checker is imported: an answer that replaces optimizer_race.lr_sweep (to return
# made-up losses) does not change what the check measures.
_LR_SWEEP = optimizer_race.lr_sweep


def _median_final_losses(momentum: float, lrs) -> list[float]:
    """The median (over :data:`MATCH_SEEDS`) full-data training loss after
    :data:`MATCH_EPOCHS` epochs of ``torch.optim.SGD(lr, momentum=momentum)`` on notebook 10's
    digits network, one per lr of ``lrs`` (all trained at once by ``optimizer_race.lr_sweep``)."""
    data = load_digits_split()
    kwargs = {"momentum": momentum} if momentum else {}
    registry = {"SGD": (torch.optim.SGD, kwargs)}
    runs = _LR_SWEEP("SGD", lrs, registry=registry, x_train=data.x_train,
                     y_train=data.y_train, seeds=MATCH_SEEDS, epochs=MATCH_EPOCHS,
                     batch_size=MATCH_BATCH_SIZE)
    return [float(np.median(run.final_train_loss)) for run in runs]


@functools.lru_cache(maxsize=64)
def _sgd_loss(sgd_lr: float) -> float:
    """Plain SGD's median final loss at ``sgd_lr`` (three fixed cases share lr 0.03)."""
    return _median_final_losses(0.0, [sgd_lr])[0]


@functools.lru_cache(maxsize=64)
def measured_matching_lr(sgd_lr: float, momentum: float) -> float:
    r"""The lr at which ``SGD(momentum=momentum)`` ends notebook 10's 5-epoch budget at the same
    median training loss as plain SGD at ``sgd_lr``, measured by training both.

    SGD's loss at ``sgd_lr`` is the target; the momentum runs scan the log grid
    :data:`MATCH_GRID` and the answer is where their median loss first falls to the target,
    interpolated linearly in :math:`\log\eta` between the two grid points around it (below
    SGD's tuned lr the final loss falls steadily as the lr grows). Cached: a check and its
    hints ask for the same case several times, and each costs a fraction of a second.
    """
    sgd_lr, momentum = float(sgd_lr), float(momentum)
    if not (sgd_lr > 0 and 0 <= momentum < 1):
        raise ValueError(f"need sgd_lr > 0 and 0 <= momentum < 1, got {sgd_lr}, {momentum}")
    target = _sgd_loss(sgd_lr)
    low, high, per_decade = MATCH_GRID
    lrs = sgd_lr * np.logspace(low, high, int(round((high - low) * per_decade)) + 1)
    losses = np.array(_median_final_losses(momentum, lrs))
    reached = np.nonzero(losses <= target)[0]
    if len(reached) == 0 or reached[0] == 0:
        raise RuntimeError(f"SGD's loss {target:.4g} at lr {sgd_lr:g} is not crossed inside "
                           f"the scanned lrs {lrs[0]:.3g}–{lrs[-1]:.3g} (momentum {momentum:g})")
    k = int(reached[0])
    fraction = (losses[k - 1] - target) / (losses[k - 1] - losses[k])
    log_lr = math.log(lrs[k - 1]) + fraction * (math.log(lrs[k]) - math.log(lrs[k - 1]))
    return math.exp(log_lr)


# What the measurement stands on: an answer that replaces any of these (to hand the check
# made-up losses) fails with the patched-helpers hint instead of reaching the comparison.
watch(sys.modules[__name__], "_median_final_losses", "_sgd_loss", "measured_matching_lr")
watch(optimizer_race, "BatchedMLP", "_losses", "make_optimizer", "make_net")


# 10.2 (second edition): the lr after switching the loss from the batch's mean to its sum.
# The measurement trains notebook 10's digits network for SUM_STEPS steps on fixed batches with
# the mean loss at ``lr`` (the reference path), then searches, by golden section in log(lr), the
# lr at which the same steps with reduction="sum" end closest to that path. It uses no formula
# for the answer: the search interval is fixed relative to ``lr``.
SUM_STEPS = 15
SUM_SEARCH = (-3.5, 1.0)  # log10 of (lowest, highest) lr / lr searched
SUM_OPTIMIZERS = ("SGD", "SGD+momentum", "Adagrad", "RMSprop", "Adam")


def _path(name: str, lr: float, batch_size: int, reduction: str) -> torch.Tensor:
    data = load_digits_split()
    net = optimizer_race.make_net(seed=0)
    optimizer = optimizer_race.make_optimizer(name, net.parameters(), lr)
    order = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(devices=[]):
        for step in range(SUM_STEPS):
            batch = order[(step * batch_size) % (len(order) - batch_size):][:batch_size]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(data.x_train[batch]), data.y_train[batch],
                                              reduction=reduction).backward()
            optimizer.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()]).double()


@functools.lru_cache(maxsize=64)
def measured_lr_for_summed_loss(name: str, lr: float, batch_size: int) -> float:
    """The lr at which training with ``cross_entropy(..., reduction="sum")`` follows the path
    that ``reduction="mean"`` takes at ``lr`` (same network, batches and optimizer), found by a
    golden-section search of the distance between the two end points over log(lr)."""
    if name not in SUM_OPTIMIZERS:
        raise ValueError(f"name must be one of {SUM_OPTIMIZERS}, got {name!r}")
    lr, batch_size = float(lr), int(batch_size)
    with single_threaded():
        reference = _path(name, lr, batch_size, "mean")

        def distance(log_lr):
            return float((_path(name, 10.0 ** log_lr, batch_size, "sum") - reference).norm())

        low, high = math.log10(lr) + SUM_SEARCH[0], math.log10(lr) + SUM_SEARCH[1]
        ratio = (math.sqrt(5) - 1) / 2
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        fa, fb = distance(a), distance(b)
        for _ in range(36):
            if fa < fb:
                high, b, fb = b, a, fa
                a = high - ratio * (high - low)
                fa = distance(a)
            else:
                low, a, fa = a, b, fb
                b = low + ratio * (high - low)
                fb = distance(b)
        return 10.0 ** (0.5 * (low + high))


watch(sys.modules[__name__], "_path", "measured_lr_for_summed_loss")


def _times_batch(name, lr, batch_size):
    return lr * batch_size


def _unchanged(name, lr, batch_size):
    return lr


def _divided_for_all(name, lr, batch_size):
    return lr / batch_size


def _sqrt_batch(name, lr, batch_size):
    return lr / math.sqrt(batch_size)


def _explain_sum(inputs, measured, predicted):
    ratio = predicted / measured
    return (f"Your lr is {ratio:.3g} times the measured one for {inputs['name']} at batch size "
            f"{inputs['batch_size']}. Summing instead of averaging multiplies every gradient by the "
            "batch size. Write out one step of this optimizer's update: which of its quantities "
            "grow with the gradient, and does anything in the step cancel that growth?")


@register_prediction(
    "10.2",
    measure=measured_lr_for_summed_loss,
    rtol=0.05,
    explain=_explain_sum,
    mistakes=[
        KnownMistake("times_batch", _times_batch,
                     "Wrong direction: with the summed loss every gradient is already larger, so "
                     "an optimizer whose step grows with the gradient needs a smaller lr, not a "
                     "larger one."),
        KnownMistake("unchanged_for_all", _unchanged,
                     "Right for some optimizers, not for all: follow the step of plain SGD (and of "
                     "torch's momentum buffer) when every gradient is multiplied by the batch size."),
        KnownMistake("divided_for_all", _divided_for_all,
                     "Right for some optimizers, not for all: an adaptive method divides by a "
                     "running size of the same gradients. What happens to that ratio when every "
                     "gradient is multiplied by the same factor?"),
        KnownMistake("sqrt_batch", _sqrt_batch,
                     "A square root appears in the batch-size scaling rules for noise, not here: "
                     "the summed loss multiplies each gradient exactly by the batch size."),
    ],
)
def summed_loss_cases(rng):
    # SGD and Adam first: there every hint's wrong rule is far from the truth
    yield Case("SGD at lr 0.1, batches of 64", name="SGD", lr=0.1, batch_size=64)
    yield Case("Adam at lr 0.01, batches of 64", name="Adam", lr=0.01, batch_size=64)
    yield Case("SGD+momentum at lr 0.05, batches of 32", name="SGD+momentum", lr=0.05, batch_size=32)
    yield Case("RMSprop at lr 0.003, batches of 16", name="RMSprop", lr=0.003, batch_size=16)
    name = SUM_OPTIMIZERS[int(torch.randint(0, len(SUM_OPTIMIZERS), (), generator=rng))]
    batch_size = (8, 16, 32, 128)[int(torch.randint(0, 4, (), generator=rng))]
    lr = round(float(10 ** (-2.5 + 1.5 * torch.rand((), generator=rng))), 4)
    yield Case(f"{name} at lr {lr:g}, batches of {batch_size}", name=name, lr=lr, batch_size=batch_size)


# --------------------------------------------------------------------------------------------
# 10.3 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "10.3",
    prompt="Notebook 10 tuned each optimizer's lr on seeds 0-2 and reported it on fresh seeds; the "
           "lr that won for Nesterov sat close to its stability edge, and one seed fell apart there. "
           "Why does the lr that wins a short tuning sweep tend to sit near the edge of stability, "
           "and what would you run instead for the final, longer training? Give your reasons.",
    rubric=(
        (1, "In a short fixed budget a larger lr makes more progress per step, so the loss "
            "keeps falling as the lr grows until runs go unstable: the winning grid point is "
            "the largest one that still converged on the tuning seeds, just below the edge."),
        (1, "The edge moves from seed to seed (initial weights, batch order, the curvature met "
            "early), and the best of several lrs on three seeds favours a lucky draw, so on "
            "fresh seeds some runs cross it; Nesterov's edge is lower than heavy ball's (ηλ < "
            "1.36 against 3.8 at β = 0.9)."),
        (1, "For the final run: one grid point lower, or the peak with warmup and decay "
            "(notebook 09), judged on the worst seed as well as the median; a longer run also "
            "tends to want a smaller lr than a 110-step one."),
    ),
    max_score=3,
)


# The set-up imports the check's own measurement for the notebook's demo; as 10.2's answer it is
# refused by the grader's scan and run-time guard.
from ._framework import REGISTRY as _REGISTRY  # noqa: E402

_prediction_10_2 = _REGISTRY["10.2"]
_prediction_10_2.refused_calls = {
    "course_lib.exercises.checks.choosing_an_optimizer.measured_lr_for_summed_loss": (),
    "course_lib.exercises.checks.choosing_an_optimizer.measured_matching_lr": ()}
