r"""Checkers for notebook 02, batch vs mini-batch vs SGD: exercises 2.1 to 2.6.

2.1 ``minibatch_indices(n, batch_size, *, epochs, seed, drop_last)``: yield index batches so
    that every sample appears exactly once per epoch, in a fresh order each epoch, reproducible
    from ``seed``; the last partial batch is kept unless ``drop_last``. Any order with these
    properties passes (the checker tests the properties, not one particular shuffle): no two
    epochs alike, and the epochs fresh shuffles rather than one permutation rearranged by a
    fixed rule (``order.roll(epoch)``), which the checker tells apart across seeds.
2.2 ``minibatch_gradient_variance(per_sample_grads, batch_size, *, replacement)``: the total
    variance :math:`\mathbb E\lVert g_{\mathcal B} - \bar g\rVert^2` of a mini-batch gradient,
    :math:`\frac{\sigma^2}{B}\frac{N-B}{N-1}` without replacement, :math:`\frac{\sigma^2}{B}`
    with replacement, :math:`\sigma^2 = \frac1N\sum_i\lVert g_i-\bar g\rVert^2`.
2.3 ``updates_to_reach(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed)``: the
    number of SGD updates after which the full-data loss first is <= ``target_loss``,
    as ``course_lib.problems.toy_regression.updates_to_reach`` defines and computes it.
2.4 *predict, then measure* ``largest_stable_lr_at_batch_size(x, y, batch_size)``: one-hot
    least squares (one feature per sample, some features shared): the learner derives the worst
    batch's curvature along one feature; the check runs mini-batch ``torch.optim.SGD`` over a
    grid of learning rates (``_measure``). Cases with a shared feature tell it from the
    linear-scaling guess :math:`\frac Bn\cdot\frac2{L_{\rm full}}`.
2.6 *predict, then measure* ``cloud_mean_square(hessian, noise_cov, lr)``: the stationary
    :math:`\mathbb E\lVert\theta - \theta^*\rVert^2` of SGD with gradient noise of covariance
    :math:`\Sigma` on a rotated quadratic; the check runs 4000 noisy ``SGD`` runs at once.
2.5 written answer: why the 1-D fit's single-sample SGD survives far above :math:`2/c_{\max}`,
    and what that says about when the sharpest sample decides.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random

import torch
from torch import nn

from course_lib.problems import toy_regression

from ._framework import (Case, KnownMistake, Observation, register, register_prediction,
                         register_written, returns)
from ._measure import measured_largest_stable_lr_sgd

# --------------------------------------------------------------------------------------------
# 2.1 mini-batch index iterator: checked by its properties
# --------------------------------------------------------------------------------------------


class iterator_properties:
    """Call a batch iterator and observe what a correct one must guarantee.

    The observed values, in the order a learner should fix them: the batch sizes of each
    epoch, whether every epoch uses each index exactly once, whether the same seed gives the
    same batches, whether another seed gives another order, whether any two epochs come in the
    same order, whether the epochs are fresh shuffles, whether the first epoch is shuffled at
    all, and, only when epochs repeat, how often the code seeded a random generator.

    *Fresh shuffles*: epoch e's order, written as a rearrangement of epoch 1's positions, must
    not be the same rearrangement for three different seeds. A deterministic shortcut (one
    permutation rotated with ``order.roll(epoch)``, reversed, or shifted each epoch) gives the
    same rearrangement whatever the seed; independent shuffles agree by chance with probability
    1/n! per epoch and seed, so never in practice (all cases have n >= 7).
    """

    updates = ()  # the iterator only reads its arguments

    def __call__(self, fn, inputs) -> Observation:
        n, epochs, seed = inputs["n"], inputs["epochs"], inputs["seed"]
        with _count_seeding() as seedings:
            batches = _batches_as_lists(fn(**inputs))
        again = _batches_as_lists(fn(**inputs))
        other_seeds = [_batches_as_lists(fn(**{**inputs, "seed": seed + k})) for k in (1, 2)]
        epoch_orders = _split_into_epochs(batches, n, epochs)
        distinct = all(epoch_orders[a] != epoch_orders[b]
                       for a in range(epochs) for b in range(a + 1, epochs))
        values = {
            "number of batches": len(batches),
            "batch sizes": [len(batch) for batch in batches],
            "every index exactly once in each epoch": all(
                sorted(order) == list(range(n)) for order in epoch_orders
            ),
            "the same seed gives the same batches": batches == again,
            "another seed gives another order": batches != other_seeds[0],
        }
        if epochs >= 2:
            values["no two epochs come in the same order"] = distinct
            values["the epochs are fresh shuffles, not one order rearranged the same way "
                   "for every seed"] = _fresh_shuffles(
                [epoch_orders] + [_split_into_epochs(b, n, epochs) for b in other_seeds], n)
        values["the first epoch is shuffled"] = epoch_orders[0] != sorted(epoch_orders[0])
        if epochs >= 2:
            # Only when epochs repeat, to tell "re-seeded every epoch" from "reused one order".
            values["random generators seeded (when epochs repeat)"] = (
                None if distinct else ("once per epoch" if seedings[0] >= epochs else "once"))
        return Observation(values, returned=batches)


def _fresh_shuffles(runs: list[list[list[int]]], n: int) -> bool:
    """False when, for every later epoch, the rearrangement of epoch 1's positions that gives
    it is the same in every run (seed); None-safe: True when epochs are not permutations."""
    if any(sorted(order) != list(range(n)) for orders in runs for order in orders):
        return True  # not whole permutations (drop_last, or wrong): other properties report it
    rearrangements = []
    for orders in runs:
        position = {index: place for place, index in enumerate(orders[0])}
        rearrangements.append([[position[index] for index in order] for order in orders[1:]])
    return not all(r == rearrangements[0] for r in rearrangements[1:])


@contextlib.contextmanager
def _count_seeding():
    """Count the calls that seed a random generator inside the block: ``manual_seed`` of a
    ``torch.Generator`` made in it, ``torch.manual_seed``, ``numpy.random.seed``,
    ``numpy.random.default_rng``, ``random.seed`` and ``random.Random(seed)``. Yields a one-item
    list holding the count."""
    count = [0]
    original_generator = torch.Generator

    class CountingGenerator(original_generator):
        def manual_seed(self, seed):
            count[0] += 1
            return super().manual_seed(seed)

    class CountingRandom(random.Random):
        def seed(self, *args, **kwargs):  # also what random.Random(seed) calls
            count[0] += 1
            return super().seed(*args, **kwargs)

    def counted(function):
        def wrapper(*args, **kwargs):
            count[0] += 1
            return function(*args, **kwargs)
        return wrapper

    patches = [(torch, "Generator", CountingGenerator),
               (torch, "manual_seed", counted(torch.manual_seed)),
               (random, "seed", counted(random.seed)), (random, "Random", CountingRandom)]
    try:
        import numpy
        patches += [(numpy.random, "seed", counted(numpy.random.seed)),
                    (numpy.random, "default_rng", counted(numpy.random.default_rng))]
    except ImportError:  # pragma: no cover - numpy is part of the course's stack
        pass
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, replacement in patches:
        setattr(module, name, replacement)
    try:
        yield count
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _batches_as_lists(batches) -> list[list[int]]:
    if batches is None:
        raise TypeError("your function returned None; yield (or return a list of) index batches")
    result = []
    for batch in batches:
        flat = torch.as_tensor(batch).flatten()
        if flat.is_floating_point() or flat.dtype == torch.bool:
            raise TypeError(f"a batch holds {flat.dtype} values; batches must hold integer indices")
        result.append(flat.tolist())
    return result


def _split_into_epochs(batches: list[list[int]], n: int, epochs: int) -> list[list[int]]:
    """Concatenate the batches and cut the stream into ``epochs`` equal pieces (best effort)."""
    stream = [index for batch in batches for index in batch]
    per_epoch = max(1, len(stream) // epochs)
    return [stream[k * per_epoch:(k + 1) * per_epoch] for k in range(epochs)]


def reference_minibatch_indices(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    return list(toy_regression.minibatch_indices(n, batch_size, epochs=epochs, seed=seed,
                                                 drop_last=drop_last))


def _with_replacement(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    generator = torch.Generator().manual_seed(seed)
    sizes = _reference_sizes(n, batch_size, epochs, drop_last)
    return [torch.randint(n, (size,), generator=generator) for size in sizes]


def _drops_remainder(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    return reference_minibatch_indices(n, batch_size, epochs=epochs, seed=seed, drop_last=True)


def _keeps_remainder(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    return reference_minibatch_indices(n, batch_size, epochs=epochs, seed=seed, drop_last=False)


def _global_rng(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    batches = []
    for _ in range(epochs):
        order = torch.randperm(n)  # the global generator: a new order on every call
        batches += [b for b in order.split(batch_size) if not (drop_last and len(b) < batch_size)]
    return batches


def _fixed_seed(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    return reference_minibatch_indices(n, batch_size, epochs=epochs, seed=1234, drop_last=drop_last)


def _reseeds_every_epoch(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    batches = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        batches += [b for b in order.split(batch_size) if not (drop_last and len(b) < batch_size)]
    return batches


def _reuses_one_permutation(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    # seeded once, but the permutation is drawn before the epoch loop and reused
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    batches = []
    for _ in range(epochs):
        batches += [b for b in order.split(batch_size) if not (drop_last and len(b) < batch_size)]
    return batches


def _rotates_one_permutation(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    # one random permutation, rotated by one place each epoch: every epoch differs, but
    # nothing is reshuffled
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    batches = []
    for epoch in range(epochs):
        batches += [b for b in order.roll(epoch).split(batch_size)
                    if not (drop_last and len(b) < batch_size)]
    return batches


def _not_shuffled(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    batches = []
    for _ in range(epochs):
        batches += [b for b in torch.arange(n).split(batch_size)
                    if not (drop_last and len(b) < batch_size)]
    return batches


def _reference_sizes(n, batch_size, epochs, drop_last):
    full, rest = divmod(n, batch_size)
    per_epoch = [batch_size] * full + ([rest] if rest and not drop_last else [])
    return per_epoch * epochs


@register(
    "2.1",
    reference=reference_minibatch_indices,
    call=iterator_properties(),
    mistakes=[
        KnownMistake("with_replacement", _with_replacement,
                     "Some indices repeat within an epoch and others are missing: you sampled "
                     "with replacement (torch.randint). Shuffle a permutation instead "
                     "(torch.randperm(n, generator=...)) and cut it into consecutive batches."),
        KnownMistake("dropped_remainder", _drops_remainder,
                     "The last n % batch_size samples of each epoch are missing: keep the final, "
                     "shorter batch unless drop_last=True (DataLoader's default keeps it)."),
        KnownMistake("kept_remainder", _keeps_remainder,
                     "With drop_last=True the final, shorter batch of each epoch must be skipped, "
                     "so every batch has exactly batch_size indices."),
        KnownMistake("ignored_seed_global_rng", _global_rng,
                     "Two calls with the same seed gave different batches: you used torch's "
                     "global random generator. Make one torch.Generator().manual_seed(seed) and "
                     "pass generator=... to torch.randperm."),
        KnownMistake("ignored_seed_fixed", _fixed_seed,
                     "A different seed gave the same order: the seed argument is ignored "
                     "(a hard-coded seed?). Seed your generator with `seed`."),
        KnownMistake("reseeded_every_epoch", _reseeds_every_epoch,
                     "Every epoch comes in the same order: you seed the generator again at the "
                     "start of each epoch, with the same seed. Seed it once, before the epoch "
                     "loop, and draw a new permutation from it each epoch."),
        KnownMistake("reused_one_permutation", _reuses_one_permutation,
                     "Every epoch comes in the same order: you draw one permutation and reuse it. "
                     "Draw a new one (torch.randperm(n, generator=...)) at the start of every "
                     "epoch, from the generator you seeded once."),
        KnownMistake("rearranged_one_permutation", _rotates_one_permutation,
                     "Your epochs differ, but each is the first one rearranged in a fixed way "
                     "(rotated, reversed or shifted): epoch 2 follows from epoch 1 by the same "
                     "rule for every seed, so the pairs of samples that share a batch hardly "
                     "change. Draw a fresh random permutation every epoch."),
        KnownMistake("not_shuffled", _not_shuffled,
                     "The indices come in order 0, 1, 2, ...: shuffle each epoch with "
                     "torch.randperm(n, generator=...)."),
    ],
)
def minibatch_indices_cases(rng: torch.Generator):
    yield Case("n=10, batch_size=4 (a partial batch of 2), 3 epochs",
               n=10, batch_size=4, epochs=3, seed=0, drop_last=False)
    yield Case("n=10, batch_size=4, drop_last=True, 3 epochs",
               n=10, batch_size=4, epochs=3, seed=5, drop_last=True)
    yield Case("n=12, batch_size=3 (no remainder), 2 epochs",
               n=12, batch_size=3, epochs=2, seed=1, drop_last=False)
    yield Case("single-sample SGD: n=7, batch_size=1, 2 epochs",
               n=7, batch_size=1, epochs=2, seed=2, drop_last=False)
    yield Case("full batch: n=9, batch_size=9, 3 epochs",
               n=9, batch_size=9, epochs=3, seed=3, drop_last=False)
    for _ in range(3):
        n = int(torch.randint(20, 200, (), generator=rng))
        batch_size = int(torch.randint(2, n // 2, (), generator=rng))
        drop_last = bool(torch.randint(0, 2, (), generator=rng))
        seed = int(torch.randint(0, 10_000, (), generator=rng))
        yield Case(f"n={n}, batch_size={batch_size}, drop_last={drop_last}, 3 epochs, seed={seed}",
                   n=n, batch_size=batch_size, epochs=3, seed=seed, drop_last=drop_last)


# --------------------------------------------------------------------------------------------
# 2.2 gradient-noise variance vs batch size
# --------------------------------------------------------------------------------------------


def reference_minibatch_gradient_variance(per_sample_grads, batch_size, *, replacement=False):
    """σ²/B·(N−B)/(N−1) without replacement, σ²/B with; a float (a 0-dim tensor also passes)."""
    return float(toy_regression.minibatch_gradient_variance(per_sample_grads, batch_size,
                                                            replacement=replacement))


def _population_variance(per_sample_grads):
    return float(((per_sample_grads - per_sample_grads.mean(0)) ** 2).sum(1).mean())


def _variance_no_correction(per_sample_grads, batch_size, *, replacement=False):
    return _population_variance(per_sample_grads) / batch_size


def _variance_correction_always(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    return _population_variance(per_sample_grads) / batch_size * (n - batch_size) / (n - 1)


def _variance_correction_over_n(per_sample_grads, batch_size, *, replacement=False):
    # (N − B)/N instead of (N − B)/(N − 1)
    n = per_sample_grads.shape[0]
    factor = 1.0 if replacement else (n - batch_size) / n
    return _population_variance(per_sample_grads) / batch_size * factor


def _std_instead_of_variance(per_sample_grads, batch_size, *, replacement=False):
    return math.sqrt(reference_minibatch_gradient_variance(per_sample_grads, batch_size,
                                                           replacement=replacement))


def _unbiased_variance_with_correction(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    sample_variance = _population_variance(per_sample_grads) * n / (n - 1)
    factor = 1.0 if replacement else (n - batch_size) / (n - 1)
    return sample_variance / batch_size * factor


def _mean_over_coordinates(per_sample_grads, batch_size, *, replacement=False):
    return reference_minibatch_gradient_variance(
        per_sample_grads, batch_size, replacement=replacement) / per_sample_grads.shape[1]


def _not_divided_by_batch_size(per_sample_grads, batch_size, *, replacement=False):
    return reference_minibatch_gradient_variance(
        per_sample_grads, batch_size, replacement=replacement) * batch_size


def _second_moment_not_variance(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    second_moment = float((per_sample_grads ** 2).sum(1).mean())
    factor = 1.0 if replacement else (n - batch_size) / (n - 1)
    return second_moment / batch_size * factor


@register(
    "2.2",
    reference=reference_minibatch_gradient_variance,
    mistakes=[
        KnownMistake("no_finite_population_correction", _variance_no_correction,
                     "σ²/B holds for B independent draws. Without replacement a batch cannot "
                     "draw a sample twice, so its draws are not independent: work out the "
                     "covariance of two different draws (what do all the g_i − ḡ sum to?). "
                     "Check your result at B = N, where the batch is the whole data set."),
        KnownMistake("correction_with_replacement", _variance_correction_always,
                     "With replacement the B draws are independent: nothing ties one draw to "
                     "another, so the factor you found for sampling without replacement does not "
                     "apply here."),
        KnownMistake("correction_over_n", _variance_correction_over_n,
                     "Close, but your factor for sampling without replacement is off when N is "
                     "small. Test it at B = 1: a batch of one sample is a single draw, whatever "
                     "the sampling, so its variance must be exactly σ². Redo the covariance of "
                     "two different draws."),
        KnownMistake("std_not_variance", _std_instead_of_variance,
                     "You returned a standard deviation (a square root). The exercise asks for "
                     "the variance E‖g_B − ḡ‖², a squared norm."),
        KnownMistake("unbiased_sigma", _unbiased_variance_with_correction,
                     "You are a factor N/(N−1) too large: σ² here is the population variance of "
                     "the N per-sample gradients (divide by N, not N−1); your factor for sampling "
                     "without replacement already accounts for finite N."),
        KnownMistake("mean_over_coordinates", _mean_over_coordinates,
                     "You averaged over the P gradient coordinates. The total variance sums "
                     "them: ‖g_B − ḡ‖² = Σ_j (g_B,j − ḡ_j)²."),
        KnownMistake("not_divided_by_B", _not_divided_by_batch_size,
                     "Averaging B gradients divides the variance by B: you left out the 1/B."),
        KnownMistake("second_moment", _second_moment_not_variance,
                     "You used the mean of ‖g_i‖² instead of the spread around the mean "
                     "gradient: subtract ḡ = mean of the g_i first."),
    ],
)
def gradient_variance_cases(rng: torch.Generator):
    small = torch.randn(6, 3, generator=rng, dtype=torch.float64) + 1.0
    yield Case("N=6 samples, P=3, B=2, without replacement", per_sample_grads=small,
               batch_size=2, replacement=False)
    yield Case("N=6, B=2, with replacement", per_sample_grads=small, batch_size=2,
               replacement=True)
    yield Case("B = N = 6 without replacement: the batch is the data, variance 0",
               per_sample_grads=small, batch_size=6, replacement=False)
    yield Case("B = 1: single-sample SGD", per_sample_grads=small, batch_size=1,
               replacement=False)
    for n, p, b in [(10, 4, 3), (50, 7, 20), (200, 5, 199)]:
        grads = 0.5 + 2.0 * torch.randn(n, p, generator=rng, dtype=torch.float64)
        for replacement in (False, True):
            yield Case(f"N={n}, P={p}, B={b}, replacement={replacement}",
                       per_sample_grads=grads, batch_size=b, replacement=replacement)
    yield Case("float32 gradients, N=20, P=61, B=5", rtol=1e-5,
               per_sample_grads=torch.randn(20, 61, generator=rng), batch_size=5,
               replacement=False)
    yield Case("large gradients (1e3), N=8, B=3", per_sample_grads=1e3 * torch.randn(
        8, 2, generator=rng, dtype=torch.float64), batch_size=3, replacement=False)


# --------------------------------------------------------------------------------------------
# 2.3 updates needed to reach a loss
# --------------------------------------------------------------------------------------------


class returns_with_fresh_model(returns):
    """Like :class:`returns`, but every call trains its own deep copy of the ``model`` input.

    Calls run single-threaded: the tiny MLP's training is several times faster that way.
    """

    def __call__(self, fn, inputs) -> Observation:
        inputs = {name: copy.deepcopy(value) if isinstance(value, nn.Module) else value
                  for name, value in inputs.items()}
        with toy_regression.single_threaded():
            return super().__call__(fn, inputs)


def reference_updates_to_reach(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
    return toy_regression.updates_to_reach(model, x, y, batch_size=batch_size, lr=lr,
                                           target_loss=target_loss, max_epochs=max_epochs,
                                           seed=seed)


def _loss_history(model, x, y, *, batch_size, lr, max_epochs, seed, stop_below=None):
    """(updates, samples_seen, epoch, full-data loss, batch loss) after each update."""
    n = len(x)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    per_epoch = toy_regression.updates_per_epoch(n, batch_size)
    history, samples = [], 0
    batches = toy_regression.minibatch_indices(n, batch_size, epochs=max_epochs, seed=seed)
    for update, batch in enumerate(batches, start=1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        samples += len(batch)
        history.append((update, samples, math.ceil(update / per_epoch),
                        toy_regression.full_data_loss(model, x, y), loss.item(),
                        update % per_epoch == 0))
        if stop_below is not None and history[-1][3] <= stop_below and history[-1][5]:
            break  # both the loss and the epoch-end rule have met the target: no need to go on
    return history


def _first(history, target_loss, column, *, loss_column=3, epoch_ends_only=False):
    for row in history:
        if epoch_ends_only and not row[5]:
            continue
        if row[loss_column] <= target_loss:
            return row[column]
    return None


def _make_wrong(column, **options):
    def wrong(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
        if toy_regression.full_data_loss(model, x, y) <= target_loss:
            return 0
        history = _loss_history(model, x, y, batch_size=batch_size, lr=lr,
                                max_epochs=max_epochs, seed=seed, stop_below=target_loss)
        return _first(history, target_loss, column, **options)
    return wrong


def _without_zero_grad(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
    # the reference loop without optimizer.zero_grad(): every backward() adds to the old .grad
    if toy_regression.full_data_loss(model, x, y) <= target_loss:
        return 0
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    batches = toy_regression.minibatch_indices(len(x), batch_size, epochs=max_epochs, seed=seed)
    for update, batch in enumerate(batches, start=1):
        nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
        optimizer.step()
        loss = toy_regression.full_data_loss(model, x, y)
        if loss <= target_loss:
            return update
        if not math.isfinite(loss):
            return None  # the summed gradients blew up: this run never reaches the target
    return None


def _counted_one_extra(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
    answer = reference_updates_to_reach(model, x, y, batch_size=batch_size, lr=lr,
                                        target_loss=target_loss, max_epochs=max_epochs, seed=seed)
    return None if answer is None else answer + 1


@register(
    "2.3",
    reference=reference_updates_to_reach,
    call=returns_with_fresh_model(),
    mistakes=[
        KnownMistake("counted_epochs", _make_wrong(2),
                     "You counted epochs (passes over the data). An update is one optimizer "
                     "step: an epoch holds ceil(n / batch_size) of them."),
        KnownMistake("counted_samples", _make_wrong(1),
                     "You counted samples seen (batch_size per step). Count optimizer steps: "
                     "+1 per optimizer.step(), whatever the batch size."),
        KnownMistake("batch_loss", _make_wrong(0, loss_column=4),
                     "You stopped when the mini-batch loss reached the target. The definition "
                     "uses the full-data loss f(θ) over all n points, evaluated after each "
                     "update: a single lucky batch can be far below it."),
        KnownMistake("checked_at_epoch_ends", _make_wrong(0, epoch_ends_only=True),
                     "You checked the loss only at the end of each epoch. Evaluate the "
                     "full-data loss after every update and stop at the first one that reaches "
                     "the target."),
        KnownMistake("forgot_zero_grad", _without_zero_grad,
                     "Call optimizer.zero_grad() before each backward(): backward() *adds* the new "
                     "gradient to .grad, so without it every step uses the sum of all gradients "
                     "so far (a step that keeps growing)."),
        KnownMistake("off_by_one", _counted_one_extra,
                     "Off by one: count the updates actually taken when the loss is first at "
                     "or below the target (start the count at 0, add 1 after each step)."),
    ],
)
def updates_to_reach_cases(rng: torch.Generator):
    x, y = toy_regression.make_data(n=200, seed=2)
    model = toy_regression.make_mlp(seed=1)
    yield Case("a target a few updates away: B=16 of n=200, lr=0.05, target 0.2 (start: 0.72)",
               model=model, x=x, y=y, batch_size=16, lr=0.05, target_loss=0.2, max_epochs=5,
               seed=0)
    yield Case("mini-batch B=16 of n=200 (a partial batch of 8 per epoch), lr=0.2, target 0.04",
               model=model, x=x, y=y, batch_size=16, lr=0.2, target_loss=0.04, max_epochs=30,
               seed=0)
    yield Case("single-sample SGD B=1, lr=0.05, target 0.07", model=model, x=x, y=y,
               batch_size=1, lr=0.05, target_loss=0.07, max_epochs=3, seed=3)
    yield Case("full batch B=200, lr=0.2, target 0.05", model=model, x=x, y=y, batch_size=200,
               lr=0.2, target_loss=0.05, max_epochs=300, seed=0)
    yield Case("target above the initial loss: 0 updates", model=model, x=x, y=y,
               batch_size=16, lr=0.1, target_loss=10.0, max_epochs=2, seed=0)
    yield Case("target below the noise floor (0.001): never reached, None", model=model, x=x,
               y=y, batch_size=50, lr=0.1, target_loss=0.001, max_epochs=3, seed=0)
    data_seed, model_seed, order_seed = (int(v) for v in torch.randint(0, 10_000, (3,),
                                                                        generator=rng))
    x, y = toy_regression.make_data(n=120, seed=data_seed)
    batch_size = int(torch.randint(4, 25, (), generator=rng))
    yield Case(f"n=120 (data seed {data_seed}), model seed {model_seed}, B={batch_size}, "
               f"order seed {order_seed}, lr=0.2, target 0.05",
               model=toy_regression.make_mlp(seed=model_seed), x=x, y=y, batch_size=batch_size,
               lr=0.2, target_loss=0.05, max_epochs=30, seed=order_seed)


# --------------------------------------------------------------------------------------------
# 2.4 the largest stable learning rate at batch size B: predict, then measure
# --------------------------------------------------------------------------------------------


def measure_largest_stable_lr_at_batch_size(x, y, batch_size) -> float:
    """The truth for 2.4: mini-batch ``torch.optim.SGD`` on ``mse_loss(x @ w, y)`` with the
    batches of ``toy_regression.minibatch_indices``, run over a grid of learning rates
    (``_measure``); the largest one that does not diverge."""
    return measured_largest_stable_lr_sgd(x, y, batch_size)


def predicted_largest_stable_lr_at_batch_size(x, y, batch_size) -> float:
    r"""The theory's answer for one-hot samples (sample :math:`i` has one non-zero feature, of
    value :math:`r_i`; several samples may share a feature). A batch's loss
    :math:`\frac1B\sum_{i\in\mathcal B}(r_i w_{k_i} - y_i)^2` is a sum of independent parabolas,
    one per feature :math:`k`, of curvature :math:`\frac2B\sum_{i\in\mathcal B,\,k_i = k} r_i^2`.
    The worst batch holds the :math:`\min(m_k, B)` largest :math:`r_i^2` of one feature's
    :math:`m_k` samples, so :math:`\eta < B / \max_k S_k` with :math:`S_k` their sum. Without
    shared features that is :math:`B/\max_i r_i^2`, which equals the linear-scaling rule
    :math:`\frac Bn\cdot\frac2{L_{\rm full}}`; with a shared feature the two differ (at
    :math:`B = 1` one step sees one sample, whatever shares its feature). The check's cases
    with shared features use :math:`B = 1` and :math:`B = n`, where every possible batch occurs."""
    x = x.double()
    features = x.abs().argmax(dim=1)
    squared = (x ** 2).sum(1)
    worst = 0.0
    for feature in features.unique():
        on_it = squared[features == feature].sort(descending=True).values
        worst = max(worst, on_it[:batch_size].sum().item())
    return batch_size / worst


def _b_full_batch_limit(x, y, batch_size):
    x = x.double()
    return len(x) / torch.linalg.eigvalsh(x.T @ x).max().item()


def _b_forgot_the_two(x, y, batch_size):
    return 2 * predicted_largest_stable_lr_at_batch_size(x, y, batch_size)


def _b_ignored_batch_size(x, y, batch_size):
    return predicted_largest_stable_lr_at_batch_size(x, y, 1)


def _b_linear_scaling(x, y, batch_size):
    x = x.double()
    return batch_size / torch.linalg.eigvalsh(x.T @ x).max().item()


def _b_samples_alone(x, y, batch_size):
    return batch_size / (x.double() ** 2).sum(1).max().item()


def _b_average_sample(x, y, batch_size):
    return batch_size / (x.double() ** 2).sum(1).mean().item()


def _b_smallest_sample(x, y, batch_size):
    return batch_size / (x.double() ** 2).sum(1).min().item()


@register_prediction(
    "2.4",
    measure=measure_largest_stable_lr_at_batch_size,
    rtol=0.05,
    explain=("Look at one update: it uses only the B samples of its batch, and its loss is their "
             "mean. What is the curvature of that batch's loss along one sample's feature, and "
             "which batch is the first to make a step overshoot by more than a factor of 2?"),
    mistakes=[
        KnownMistake("full_batch_limit", _b_full_batch_limit,
                     "That is the full-batch limit of exercise 1.2. With one-hot "
                     "samples the full-batch loss spreads each sample's curvature over n, but one "
                     "update sees only its batch, where that sample weighs 1/B, not 1/n."),
        KnownMistake("linear_scaling", _b_linear_scaling,
                     "That is the full-batch limit scaled by B/n, the linear-scaling rule. It "
                     "agrees with the truth only while no two samples share a feature: look at "
                     "the case with a shared feature and at what one update of B = 1 sees there."),
        KnownMistake("samples_alone", _b_samples_alone,
                     "You treated every sample on its own. In the case with a shared feature, a "
                     "batch that holds several of its samples sees them along the same direction."),
        KnownMistake("forgot_the_two", _b_forgot_the_two,
                     "Twice too large: mse_loss has no ½. Differentiate one sample's squared "
                     "error (r·w − y)² twice along its feature and compare with what you used."),
        KnownMistake("ignored_batch_size", _b_ignored_batch_size,
                     "Your limit does not change with the batch size. The batch loss is a mean "
                     "over B samples: each sample's curvature is divided by B."),
        KnownMistake("average_sample", _b_average_sample,
                     "You used the average sample. Every batch must be stable, and the one "
                     "holding the sample with the largest feature value breaks first."),
        KnownMistake("smallest_sample", _b_smallest_sample,
                     "You used the sample with the smallest feature value; the largest one breaks "
                     "first."),
    ],
)
def largest_stable_lr_at_batch_size_cases(rng: torch.Generator):
    yield Case("4 one-hot samples with values 1, 2, 0.5, 1, batch size 1",
               x=torch.diag(torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)),
               y=torch.tensor([1.0, -1.0, 2.0, 0.0], dtype=torch.float64), batch_size=1)
    yield Case("the same 4 samples, full batch (B = n = 4)",
               x=torch.diag(torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)),
               y=torch.tensor([1.0, -1.0, 2.0, 0.0], dtype=torch.float64), batch_size=4)
    n = 12
    values = 0.5 + 2.5 * torch.rand(n, generator=rng, dtype=torch.float64)
    features = torch.randperm(n, generator=rng)
    x = torch.zeros(n, n, dtype=torch.float64)
    x[torch.arange(n), features] = values  # sample i has feature features[i], value values[i]
    y = torch.randn(n, generator=rng, dtype=torch.float64)
    for batch_size in (1, 3, 6):
        yield Case(f"12 one-hot samples (values {values.min().item():.2f} to "
                   f"{values.max().item():.2f}, shuffled features), batch size {batch_size}",
                   x=x, y=y, batch_size=batch_size)
    # a shared feature (a word seen 4 times): its samples add up in the full batch, not at B = 1
    singles = 0.5 + 1.0 * torch.rand(8, generator=rng, dtype=torch.float64)
    repeated = 1.0 + 0.3 * torch.rand((), generator=rng, dtype=torch.float64)
    values = torch.cat([singles, repeated.repeat(4)])
    features = torch.randperm(n, generator=rng)[:9]
    shared = torch.cat([features[:8], features[8].repeat(4)])
    order = torch.randperm(n, generator=rng)
    x = torch.zeros(n, n, dtype=torch.float64)
    x[torch.arange(n), shared[order]] = values[order]
    y = torch.randn(n, generator=rng, dtype=torch.float64)
    for batch_size in (1, n):
        yield Case(f"12 one-hot samples, 4 of which share one feature (value {repeated.item():.2f}), "
                   f"batch size {batch_size}", x=x, y=y, batch_size=batch_size)


# --------------------------------------------------------------------------------------------
# 2.5 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "2.5",
    prompt="In three sentences: on section 8b's 1-D fit of w·x², with mini-batches of B samples "
           "drawn with replacement, how does the mean-square stable learning rate move as B "
           "grows, towards what, and why does the largest per-sample curvature still not "
           "decide?",
    rubric=(
        (1, "One update multiplies w − w* by 1 − η·c̄_B, the batch's mean curvature, whose mean"
            " is c̄ and whose variance is Var(c)/B (exercise 2.2)."),
        (2, "E[(1 − η c̄_B)²] = (1 − η c̄)² + η²·Var(c)/B < 1 while η < 2c̄/(c̄² + Var(c)/B): "
            "2c̄/E[c²] at B = 1, rising towards the full batch's 2/c̄ as B grows. One mark for "
            "the direction and the limit, one for the second-moment argument that gives them."),
        (1, "Shown from the second point's limit, not restated from the lecture: it depends on "
            "the curvatures only through their mean and variance (E[c²]), so moving the largest "
            "c_i while keeping c̄ and Var(c) fixed leaves it unchanged, and at large B it lies "
            "(towards 2/c̄) far above 2/c_max, where a sharp sample alone would have "
            "|1 − η c_i| > 1. 'All samples act on the same direction' alone earns no mark."),
    ),
    max_score=4,
)


# --------------------------------------------------------------------------------------------
# 2.6 the size of SGD's noise cloud: predict, then measure
# --------------------------------------------------------------------------------------------


def measure_cloud_mean_square(hessian, noise_cov, lr, *, chains: int = 4000, seed: int = 0) -> float:
    r"""The truth for 2.6: ``chains`` independent runs of the course's ``SGD`` on
    :math:`\tfrac12\theta^\top H\theta` (minimum at 0), each step fed the gradient
    :math:`H\theta + \xi` with :math:`\xi \sim \mathcal N(0, \Sigma)` (``noise_cov``), started at
    the minimum; the mean of :math:`\lVert\theta\rVert^2` over the runs and over the last 100
    steps of a run long enough for the slowest direction to settle."""
    from course_lib.optim import SGD

    hessian, noise_cov = hessian.double(), noise_cov.double()
    smallest = torch.linalg.eigvalsh(hessian)[0].item()
    settle = math.ceil(5 / (lr * smallest * (2 - lr * smallest)))
    factor = torch.linalg.cholesky(noise_cov + 1e-15 * torch.eye(len(noise_cov), dtype=torch.float64))
    generator = torch.Generator().manual_seed(seed)
    theta = torch.zeros(chains, len(hessian), dtype=torch.float64)
    optimizer = SGD([theta], lr=lr)
    total, counted = 0.0, 0
    for step in range(settle + 100):
        noise = torch.randn(theta.shape, generator=generator, dtype=torch.float64) @ factor.T
        theta.grad = theta @ hessian + noise
        optimizer.step()
        if step >= settle:
            total += theta.square().sum(1).mean().item()
            counted += 1
    return total / counted


def predicted_cloud_mean_square(hessian, noise_cov, lr) -> float:
    r"""The theory's answer to 2.6: along an eigenvector :math:`q_i` of :math:`H` (curvature
    :math:`h_i`) the error obeys :math:`e_i \leftarrow (1 - \eta h_i)e_i - \eta\,q_i^\top\xi`, so its
    stationary variance is :math:`\eta\,q_i^\top\Sigma q_i / (h_i(2 - \eta h_i))`; the covariances
    between directions do not enter :math:`\mathbb E\lVert\theta\rVert^2`, the sum of these."""
    curvatures, directions = torch.linalg.eigh(hessian.double())
    along = torch.diagonal(directions.T @ noise_cov.double() @ directions)
    return (lr * along / (curvatures * (2 - lr * curvatures))).sum().item()


def _cloud_small_lr(hessian, noise_cov, lr):
    curvatures, directions = torch.linalg.eigh(hessian.double())
    along = torch.diagonal(directions.T @ noise_cov.double() @ directions)
    return (lr * along / (2 * curvatures)).sum().item()


def _cloud_isotropic(hessian, noise_cov, lr):
    curvatures = torch.linalg.eigvalsh(hessian.double())
    per_direction = torch.trace(noise_cov.double()) / len(noise_cov)
    return (lr * per_direction / (curvatures * (2 - lr * curvatures))).sum().item()


def _cloud_unrotated_noise(hessian, noise_cov, lr):
    curvatures = torch.linalg.eigvalsh(hessian.double())
    return (lr * torch.diagonal(noise_cov.double()) / (curvatures * (2 - lr * curvatures))).sum().item()


def _cloud_without_lr(hessian, noise_cov, lr):
    return predicted_cloud_mean_square(hessian, noise_cov, lr) / lr


def _cloud_radius(hessian, noise_cov, lr):
    return math.sqrt(predicted_cloud_mean_square(hessian, noise_cov, lr))


@register_prediction(
    "2.6",
    measure=measure_cloud_mean_square,
    rtol=0.05,
    explain=("Follow one eigen-direction of H at a time, as section 8 of the lecture did on the "
             "bowl: what part of the noise kicks that direction each step, and where do the "
             "shrinking and the kicks balance?"),
    mistakes=[
        KnownMistake("small_lr", _cloud_small_lr,
                     "Your cloud is right for a tiny learning rate only: in this case η·h is not "
                     "small, and the factor (1 − η·h) that shrinks the old error is squared in "
                     "the balance. Keep the exact balance of section 8."),
        KnownMistake("isotropic_noise", _cloud_isotropic,
                     "You spread the noise evenly over the directions. Here the noise is "
                     "stronger along some directions than others: how much of it falls along "
                     "each eigenvector of H?"),
        KnownMistake("unrotated_noise", _cloud_unrotated_noise,
                     "You paired the diagonal of the noise covariance with H's eigenvalues. H is "
                     "rotated here: its eigenvectors are not the coordinate axes, so measure the "
                     "noise along them."),
        KnownMistake("lr_missing", _cloud_without_lr,
                     "Your cloud does not grow with the learning rate the way the measurement "
                     "does: each kick is η·ξ, not ξ."),
        KnownMistake("radius_not_mean_square", _cloud_radius,
                     "That looks like a radius (a root mean square). The exercise asks for the "
                     "mean squared distance E‖θ − θ*‖²."),
    ],
)
def cloud_mean_square_cases(rng: torch.Generator):
    diagonal = torch.diag(torch.tensor([1.0, 0.1], dtype=torch.float64))
    yield Case("the lecture's bowl diag(1, 0.1), noise σ = 0.6 in every direction, lr = 0.3",
               hessian=diagonal, noise_cov=0.36 * torch.eye(2, dtype=torch.float64), lr=0.3)
    angle = torch.tensor(0.5, dtype=torch.float64)
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]),
                            torch.stack([angle.sin(), angle.cos()])])
    rotated = rotation @ torch.diag(torch.tensor([2.0, 0.4], dtype=torch.float64)) @ rotation.T
    along_x = torch.diag(torch.tensor([0.5, 0.02], dtype=torch.float64))
    yield Case("rotated 2x2 Hessian (curvatures 2 and 0.4), noise mostly along the x axis, "
               "lr = 0.75 (η·L = 1.5)", hessian=rotated, noise_cov=along_x, lr=0.75)
    yield Case("the same Hessian, noise mostly along the y axis, lr = 0.75", hessian=rotated,
               noise_cov=torch.diag(torch.tensor([0.02, 0.5], dtype=torch.float64)), lr=0.75)
    for size in (2, 3):
        q, _ = torch.linalg.qr(torch.randn(size, size, generator=rng, dtype=torch.float64))
        curvatures = torch.logspace(0, math.log10(float(2 + 3 * torch.rand((), generator=rng))),
                                    size, dtype=torch.float64)
        hessian = q @ torch.diag(curvatures) @ q.T
        hessian = (hessian + hessian.T) / 2
        mixing = torch.randn(size, size, generator=rng, dtype=torch.float64)
        noise_cov = 0.3 * mixing @ mixing.T + 0.01 * torch.eye(size, dtype=torch.float64)
        fraction = float(0.4 + 0.5 * torch.rand((), generator=rng))
        lr = fraction * 2 / curvatures.max().item()
        yield Case(f"random rotated {size}x{size} Hessian (κ = {curvatures.max().item():.1f}), "
                   f"correlated noise, η·L = {2 * fraction:.2f}", hessian=hessian,
                   noise_cov=noise_cov, lr=lr)
