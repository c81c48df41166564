"""Checkers 2.1-2.3: the references pass, stubs are 'not attempted', and every hint fires on a
learner-style wrong implementation written here (independently of the checker's own list)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from course_lib.problems import toy_regression
from course_lib.exercises.checks import run_check
from course_lib.exercises.checks import batch_minibatch_sgd as checks_02
from course_lib.exercises.checks._framework import REGISTRY

# --------------------------------------------------------------------------------------------
# 2.1 mini-batch index iterator
# --------------------------------------------------------------------------------------------


def good_iterator(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    # A correct learner answer written differently from the reference: a Python list shuffle.
    import random

    rng = random.Random(seed)
    for _ in range(epochs):
        order = list(range(n))
        rng.shuffle(order)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) == batch_size or not drop_last:
                yield batch


def iterator_with_replacement(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            if size == batch_size or not drop_last:
                yield torch.randint(0, n, (size,), generator=g)


def iterator_dropping_remainder(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for k in range(n // batch_size):
            yield order[k * batch_size:(k + 1) * batch_size]


def iterator_ignoring_drop_last(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        yield from torch.randperm(n, generator=g).split(batch_size)


def iterator_global_rng(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) == batch_size or not drop_last:
                yield batch


def iterator_hard_coded_seed(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    g = torch.Generator().manual_seed(42)
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) == batch_size or not drop_last:
                yield batch


def iterator_reseeding_each_epoch(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    for _ in range(epochs):
        torch.manual_seed(seed)
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) == batch_size or not drop_last:
                yield batch


def iterator_in_order(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            if start + batch_size <= n or not drop_last:
                yield list(range(start, min(start + batch_size, n)))


def test_2_1_reference_and_an_independent_correct_answer_pass():
    assert run_check("2.1", checks_02.reference_minibatch_indices).passed
    assert run_check("2.1", toy_regression.minibatch_indices).passed
    assert run_check("2.1", good_iterator).passed


@pytest.mark.parametrize("wrong, hint_id", [
    (iterator_with_replacement, "with_replacement"),
    (iterator_dropping_remainder, "dropped_remainder"),
    (iterator_ignoring_drop_last, "kept_remainder"),
    (iterator_global_rng, "ignored_seed_global_rng"),
    (iterator_hard_coded_seed, "ignored_seed_fixed"),
    (iterator_reseeding_each_epoch, "reseeded_every_epoch"),
    (iterator_in_order, "not_shuffled"),
])
def test_2_1_each_hint_fires_on_its_mistake(wrong, hint_id):
    result = run_check("2.1", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def _epochs_from(order_of_epoch):
    """An iterator that draws one permutation (seeded once) and makes epoch e's order from it
    by ``order_of_epoch(e, permutation)``: a deterministic rule, no reshuffle."""
    def iterator(n, batch_size, *, epochs=1, seed=0, drop_last=False):
        permutation = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        for epoch in range(epochs):
            order = [int(i) for i in order_of_epoch(epoch, permutation)]
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                if len(batch) == batch_size or not drop_last:
                    yield batch
    return iterator


iterator_rolled = _epochs_from(lambda e, p: p.roll(e))
iterator_reversed_every_other_epoch = _epochs_from(lambda e, p: p.flip(0) if e % 2 else p)
iterator_shifted_by_seven = _epochs_from(
    lambda e, p: [p[(i * 7 ** e) % len(p)] for i in range(len(p))] if len(p) % 7
    else [p[(i + e) % len(p)] for i in range(len(p))])
# DistributedSampler's way: a fresh generator per epoch seeded with seed + epoch. Legitimate.
def iterator_seed_plus_epoch(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    for epoch in range(epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
        yield from (b for b in order.split(batch_size) if len(b) == batch_size or not drop_last)


def iterator_reusing_one_permutation(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    g = torch.Generator().manual_seed(seed)   # seeded once, correctly...
    order = torch.randperm(n, generator=g)    # ...but the order is drawn only once
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) == batch_size or not drop_last:
                yield batch


def iterator_new_generator_each_epoch(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    for _ in range(epochs):
        g = torch.Generator().manual_seed(seed)
        yield from (b for b in torch.randperm(n, generator=g).split(batch_size)
                    if len(b) == batch_size or not drop_last)


def iterator_python_random_each_epoch(n, batch_size, *, epochs=1, seed=0, drop_last=False):
    import random
    for _ in range(epochs):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            if len(batch) == batch_size or not drop_last:
                yield batch


@pytest.mark.parametrize("wrong", [iterator_rolled, iterator_reversed_every_other_epoch,
                                   iterator_shifted_by_seven],
                         ids=["roll(epoch)", "reversed", "index-shuffled"])
def test_2_1_a_fixed_rearrangement_of_one_permutation_is_not_a_reshuffle(wrong):
    result = run_check("2.1", wrong)
    assert not result.passed
    assert result.hint_id in {"rearranged_one_permutation", "reused_one_permutation"}, \
        result.report()
    if wrong is iterator_rolled:
        assert result.hint_id == "rearranged_one_permutation"
        assert "fresh shuffles" in result.reason


def test_2_1_seed_plus_epoch_is_a_legitimate_reshuffle():
    assert run_check("2.1", iterator_seed_plus_epoch).passed


@pytest.mark.parametrize("wrong", [iterator_reseeding_each_epoch,
                                   iterator_new_generator_each_epoch,
                                   iterator_python_random_each_epoch])
def test_2_1_reseed_hint_fires_when_the_code_reseeds_each_epoch(wrong):
    result = run_check("2.1", wrong)
    assert result.hint_id == "reseeded_every_epoch", result.report()


def test_2_1_reseed_hint_does_not_fire_when_the_code_seeds_once():
    result = run_check("2.1", iterator_reusing_one_permutation)
    assert not result.passed
    assert result.hint_id == "reused_one_permutation", result.report()
    assert "re-seed" not in result.hint and "seed the generator again" not in result.hint


@pytest.mark.parametrize("seed", range(20))
def test_2_1_correct_answers_pass_under_many_seeds(seed):
    assert run_check("2.1", checks_02.reference_minibatch_indices, seed=seed).passed
    assert run_check("2.1", good_iterator, seed=seed).passed


def test_2_1_seeding_probes_are_restored():
    import random
    before = (torch.Generator, torch.manual_seed, random.seed, random.Random)
    run_check("2.1", iterator_reseeding_each_epoch)
    assert (torch.Generator, torch.manual_seed, random.seed, random.Random) == before


def test_2_1_reference_matches_torch_samplers():
    # Batch for batch, the course's iterator is torch's BatchSampler over a SubsetRandomSampler
    # (one randperm per epoch); its first epoch is also DataLoader(shuffle=True)'s RandomSampler.
    from torch.utils.data import BatchSampler, RandomSampler, SubsetRandomSampler

    for n, batch_size, drop_last in [(10, 4, False), (10, 4, True), (9, 3, False)]:
        ours = [b.tolist() for b in toy_regression.minibatch_indices(
            n, batch_size, epochs=3, seed=7, drop_last=drop_last)]
        subset = BatchSampler(SubsetRandomSampler(range(n), generator=torch.Generator().manual_seed(7)),
                              batch_size, drop_last)
        assert ours == [batch for _ in range(3) for batch in subset]
        random = BatchSampler(RandomSampler(range(n), generator=torch.Generator().manual_seed(7)),
                              batch_size, drop_last)
        first_epoch = list(random)
        assert ours[:len(first_epoch)] == first_epoch


def test_2_1_returning_floats_is_reported_not_raised():
    result = run_check("2.1", lambda n, batch_size, **kw: [torch.rand(batch_size)])
    assert result.status == "error" and "integer indices" in result.reason


# --------------------------------------------------------------------------------------------
# 2.2 gradient-noise variance
# --------------------------------------------------------------------------------------------


def variance_by_enumeration(per_sample_grads, batch_size, replacement):
    """E‖g_B − ḡ‖² by listing every equally likely batch (small N only): the ground truth."""
    import itertools

    n = per_sample_grads.shape[0]
    mean = per_sample_grads.mean(0)
    batches = (itertools.combinations(range(n), batch_size) if not replacement
               else itertools.product(range(n), repeat=batch_size))
    values = [((per_sample_grads[list(b)].mean(0) - mean) ** 2).sum() for b in batches]
    return float(torch.stack(values).mean())


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("replacement", [False, True])
def test_closed_form_equals_enumerating_every_batch(batch_size, replacement):
    grads = torch.randn(6, 3, generator=torch.Generator().manual_seed(batch_size),
                        dtype=torch.float64)
    expected = variance_by_enumeration(grads, batch_size, replacement)
    got = float(toy_regression.minibatch_gradient_variance(grads, batch_size,
                                                           replacement=replacement))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def good_variance(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    sigma2 = per_sample_grads.var(dim=0, unbiased=False).sum()
    return sigma2 / batch_size * (1.0 if replacement else (n - batch_size) / (n - 1))


def variance_without_correction(per_sample_grads, batch_size, *, replacement=False):
    return per_sample_grads.var(dim=0, unbiased=False).sum() / batch_size


def variance_always_corrected(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    return per_sample_grads.var(dim=0, unbiased=False).sum() / batch_size * (n - batch_size) / (n - 1)


def variance_as_std(per_sample_grads, batch_size, *, replacement=False):
    return good_variance(per_sample_grads, batch_size, replacement=replacement).sqrt()


def variance_unbiased_sigma(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    sigma2 = per_sample_grads.var(dim=0).sum()  # torch's default divides by N-1
    return sigma2 / batch_size * (1.0 if replacement else (n - batch_size) / (n - 1))


def variance_per_coordinate_mean(per_sample_grads, batch_size, *, replacement=False):
    return good_variance(per_sample_grads, batch_size, replacement=replacement) / per_sample_grads.shape[1]


def variance_without_one_over_b(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    sigma2 = per_sample_grads.var(dim=0, unbiased=False).sum()
    return sigma2 * (1.0 if replacement else (n - batch_size) / (n - 1))


def variance_from_second_moment(per_sample_grads, batch_size, *, replacement=False):
    n = per_sample_grads.shape[0]
    moment = (per_sample_grads ** 2).sum(1).mean()
    return moment / batch_size * (1.0 if replacement else (n - batch_size) / (n - 1))


def variance_corrected_over_n(per_sample_grads, batch_size, *, replacement=False):
    # the learner's (N − B)/N: right at B = N, wrong at B = 1
    n = per_sample_grads.shape[0]
    centred = per_sample_grads - per_sample_grads.mean(0)
    sigma2 = (centred ** 2).sum(1).mean()
    return sigma2 / batch_size * (1.0 if replacement else (n - batch_size) / n)


def test_2_2_reference_and_an_independent_correct_answer_pass():
    assert run_check("2.2", checks_02.reference_minibatch_gradient_variance).passed
    assert run_check("2.2", toy_regression.minibatch_gradient_variance).passed
    assert run_check("2.2", good_variance).passed


@pytest.mark.parametrize("wrong, hint_id", [
    (variance_without_correction, "no_finite_population_correction"),
    (variance_always_corrected, "correction_with_replacement"),
    (variance_as_std, "std_not_variance"),
    (variance_unbiased_sigma, "unbiased_sigma"),
    (variance_per_coordinate_mean, "mean_over_coordinates"),
    (variance_without_one_over_b, "not_divided_by_B"),
    (variance_from_second_moment, "second_moment"),
    (variance_corrected_over_n, "correction_over_n"),
])
def test_2_2_each_hint_fires_on_its_mistake(wrong, hint_id):
    result = run_check("2.2", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_sampled_variance_agrees_with_the_closed_form():
    grads = 1.0 + torch.randn(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for batch_size in (1, 5, 20, 39):
        for replacement in (False, True):
            exact = float(toy_regression.minibatch_gradient_variance(grads, batch_size,
                                                                     replacement=replacement))
            sampled = float(toy_regression.sampled_gradient_variance(
                grads, batch_size, draws=20_000, replacement=replacement))
            # the Monte-Carlo mean of 20 000 draws: a few per cent of the value
            assert sampled == pytest.approx(exact, rel=0.06)
    assert float(toy_regression.sampled_gradient_variance(grads, 40)) == pytest.approx(0.0, abs=1e-20)


# --------------------------------------------------------------------------------------------
# 2.3 updates to reach a loss
# --------------------------------------------------------------------------------------------


def _learner_loop(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed, count="updates",
                  use_batch_loss=False, only_at_epoch_end=False, start_at_one=False,
                  zero_grad=True):
    """A learner's training loop with torch.optim.SGD; the options are the classic mistakes."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with torch.no_grad():
        if nn.functional.mse_loss(model(x), y).item() <= target_loss:
            return 0
    updates = samples = epochs = 0
    generator = torch.Generator().manual_seed(seed)
    for _ in range(max_epochs):
        epochs += 1
        order = torch.randperm(len(x), generator=generator)
        batches = order.split(batch_size)
        for k, batch in enumerate(batches):
            if zero_grad:
                optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            updates += 1
            samples += len(batch)
            if only_at_epoch_end and k < len(batches) - 1:
                continue
            with torch.no_grad():
                full = nn.functional.mse_loss(model(x), y).item()
            if (loss.item() if use_batch_loss else full) <= target_loss:
                return {"updates": updates + start_at_one, "samples": samples,
                        "epochs": epochs}[count]
    return None


def good_updates_to_reach(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
    return _learner_loop(model, x, y, batch_size=batch_size, lr=lr, target_loss=target_loss,
                         max_epochs=max_epochs, seed=seed)


def _wrong(**mistake):
    def wrong(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
        return _learner_loop(model, x, y, batch_size=batch_size, lr=lr, target_loss=target_loss,
                             max_epochs=max_epochs, seed=seed, **mistake)
    return wrong


def test_2_3_reference_and_a_learner_style_loop_pass():
    assert run_check("2.3", checks_02.reference_updates_to_reach).passed
    assert run_check("2.3", good_updates_to_reach).passed


@pytest.mark.parametrize("wrong, hint_id", [
    (_wrong(count="epochs"), "counted_epochs"),
    (_wrong(count="samples"), "counted_samples"),
    (_wrong(use_batch_loss=True), "batch_loss"),
    (_wrong(only_at_epoch_end=True), "checked_at_epoch_ends"),
    (_wrong(start_at_one=True), "off_by_one"),
    (_wrong(zero_grad=False), "forgot_zero_grad"),
])
def test_2_3_each_hint_fires_on_its_mistake(wrong, hint_id):
    result = run_check("2.3", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_2_3_cases_are_not_borderline():
    # A target that a loss only just crosses could flip with the last bit of rounding; every
    # case keeps its target at least 1e-4 (relative) away from every loss on the way.
    for case in REGISTRY["2.3"].make_cases():
        inputs = case.fresh_inputs()
        run = toy_regression.train(
            copy.deepcopy(inputs["model"]), inputs["x"], inputs["y"], batch_size=inputs["batch_size"], lr=inputs["lr"],
            epochs=inputs["max_epochs"], seed=inputs["seed"])
        gaps = abs(run.losses - inputs["target_loss"]) / inputs["target_loss"]
        assert gaps.min() > 1e-4, case.description


def test_2_3_each_call_trains_its_own_copy_of_the_model():
    case = REGISTRY["2.3"].make_cases()[0]
    before = [p.detach().clone() for p in case.inputs["model"].parameters()]
    observation = checks_02.returns_with_fresh_model()(checks_02.reference_updates_to_reach,
                                                       case.fresh_inputs())
    assert observation.returned > 0  # it did train
    for old, new in zip(before, case.inputs["model"].parameters()):
        assert torch.equal(old, new)


def test_stubs_are_not_attempted():
    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise 2.x")

    for exercise_id in ("2.1", "2.2", "2.3", "2.4"):
        assert run_check(exercise_id, stub).status == "not_attempted"


def test_every_registered_hint_is_exercised_here():
    covered = {
        "2.1": {"with_replacement", "dropped_remainder", "kept_remainder", "ignored_seed_global_rng",
                "ignored_seed_fixed", "reseeded_every_epoch", "not_shuffled",
                "reused_one_permutation", "rearranged_one_permutation"},
        "2.2": {"no_finite_population_correction", "correction_with_replacement", "std_not_variance",
                "unbiased_sigma", "mean_over_coordinates", "not_divided_by_B", "second_moment",
                "correction_over_n"},
        "2.3": {"counted_epochs", "counted_samples", "batch_loss", "checked_at_epoch_ends",
                "off_by_one", "forgot_zero_grad"},
        "2.4": {"full_batch_limit", "linear_scaling", "samples_alone", "forgot_the_two",
                "ignored_batch_size", "average_sample", "smallest_sample"},
    }
    for exercise_id, hint_ids in covered.items():
        assert {m.hint_id for m in REGISTRY[exercise_id].mistakes} == hint_ids



# --------------------------------------------------------------------------------------------
# 2.4 largest stable lr at batch size B (predict, then measure)
# --------------------------------------------------------------------------------------------


def _one_hot(values, seed=0):
    n = len(values)
    x = torch.zeros(n, n, dtype=torch.float64)
    x[torch.arange(n), torch.randperm(n, generator=torch.Generator().manual_seed(seed))] = values
    return x


def _sgd_loss_ratio(x, y, batch_size, lr, epochs=400):
    """A learner-style torch.optim.SGD loop: the final full-data loss over the first."""
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    first = nn.functional.mse_loss(x @ w, y).item()
    for batch in toy_regression.minibatch_indices(len(x), batch_size, epochs=epochs, seed=3):
        optimizer.zero_grad()
        nn.functional.mse_loss(x[batch] @ w, y[batch]).backward()
        optimizer.step()
    return nn.functional.mse_loss(x @ w, y).item() / first


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_2_4_theory_is_the_edge_of_divergence_of_a_plain_sgd_loop(batch_size):
    values = torch.tensor([0.5, 1.0, 1.5, 2.0, 0.8, 1.2, 0.7, 1.1], dtype=torch.float64)
    x, y = _one_hot(values), torch.ones(8, dtype=torch.float64)
    limit = checks_02.predicted_largest_stable_lr_at_batch_size(x, y, batch_size)
    assert limit == pytest.approx(batch_size / 4.0)
    assert _sgd_loss_ratio(x, y, batch_size, 0.97 * limit) < 1.0
    assert not _sgd_loss_ratio(x, y, batch_size, 1.03 * limit) < 1e3


def test_2_4_full_batch_limit_is_n_times_the_single_sample_one():
    values = 0.5 + torch.rand(10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x, y = _one_hot(values), torch.zeros(10, dtype=torch.float64)
    single = checks_02.measure_largest_stable_lr_at_batch_size(x, y, 1)
    full = checks_02.measure_largest_stable_lr_at_batch_size(x, y, 10)
    assert full / single == pytest.approx(10, rel=0.04)


@pytest.mark.parametrize("seed", [None, 0, 1, "grader"])
def test_2_4_measurement_agrees_with_the_theory_and_the_theory_passes(seed):
    for case in REGISTRY["2.4"].make_cases(seed):
        assert checks_02.measure_largest_stable_lr_at_batch_size(**case.inputs) == pytest.approx(
            checks_02.predicted_largest_stable_lr_at_batch_size(**case.inputs), rel=0.03)
    assert run_check("2.4", checks_02.predicted_largest_stable_lr_at_batch_size, seed=seed).passed


def test_2_4_learner_solution_passes():
    def largest_stable_lr_at_batch_size(x, y, batch_size):
        worst = 0.0
        for column in x.T:                          # one feature at a time
            squares = (column ** 2).sort(descending=True).values
            # the worst batch holds the B largest samples on this feature: curvature 2·sum/B
            worst = max(worst, 2 * squares[:batch_size].sum().item() / batch_size)
        return 2 / worst

    assert run_check("2.4", largest_stable_lr_at_batch_size).passed


def test_2_4_linear_scaling_and_per_sample_answers_fail_on_a_shared_feature():
    def linear_scaling(x, y, batch_size):
        full_L = 2 * torch.linalg.eigvalsh(x.T @ x / len(x))[-1].item()
        return batch_size / len(x) * 2 / full_L

    def per_sample(x, y, batch_size):
        return batch_size / (x ** 2).sum(1).max().item()

    for wrong, hint_id in [(linear_scaling, "linear_scaling"), (per_sample, "samples_alone")]:
        result = run_check("2.4", wrong)
        assert not result.passed and "share one feature" in result.failing_case
        assert result.hint_id == hint_id, result.report()


@pytest.mark.parametrize("wrong, hint_id", [
    (lambda x, y, batch_size: (len(x) / torch.linalg.eigvalsh(x.T @ x)[-1]).item(),
     "full_batch_limit"),
    (lambda x, y, batch_size: 2 * batch_size / (x ** 2).sum(1).max().item(), "forgot_the_two"),
    (lambda x, y, batch_size: 1 / (x ** 2).sum(1).max().item(), "ignored_batch_size"),
    (lambda x, y, batch_size: batch_size / (x ** 2).sum(1).mean().item(), "average_sample"),
    (lambda x, y, batch_size: batch_size / (x ** 2).sum(1).min().item(), "smallest_sample"),
    (lambda x, y, batch_size: 0.123, "prediction_off"),
])
def test_2_4_each_hint_fires_on_its_mistake(wrong, hint_id):
    result = run_check("2.4", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_2_5_is_a_written_answer():
    assert run_check("2.5", print).status == "written"
    assert "three sentences" in REGISTRY["2.5"].prompt


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------


def _case_values(cases):
    return [repr(sorted((k, repr(v)) for k, v in c.inputs.items())) for c in cases]


@pytest.mark.parametrize("exercise_id", ["2.1", "2.2", "2.3", "2.4"])
def test_two_seeds_give_different_cases_and_keep_the_edge_cases(exercise_id):
    checker = REGISTRY[exercise_id]
    first, second = checker.make_cases(21), checker.make_cases(22)
    assert _case_values(first) != _case_values(second)
    fixed = {c.description for c in checker.make_cases(None)} & {c.description for c in first}
    assert fixed


@pytest.mark.parametrize("seed", range(10))
def test_references_pass_under_many_seeds(seed):
    assert run_check("2.2", checks_02.reference_minibatch_gradient_variance, seed=seed).passed
    assert run_check("2.3", good_updates_to_reach, seed=seed).passed


def test_2_2_variance_that_centres_the_gradients_in_place_fails():
    def centres_in_place(per_sample_grads, batch_size, *, replacement=False):
        n = per_sample_grads.shape[0]
        per_sample_grads -= per_sample_grads.mean(0)       # the caller's tensor changes
        sigma2 = (per_sample_grads ** 2).sum(1).mean()
        factor = 1.0 if replacement else (n - batch_size) / (n - 1)
        return sigma2 / batch_size * factor

    result = run_check("2.2", centres_in_place)
    assert not result.passed and result.hint_id == "changed_input", result.report()


def test_2_3_loop_that_normalises_x_in_place_fails():
    def normalises_x(model, x, y, *, batch_size, lr, target_loss, max_epochs, seed=0):
        x.mul_(1.0 + 1e-3)   # "rescale the inputs" in place
        return good_updates_to_reach(model, x, y, batch_size=batch_size, lr=lr,
                                     target_loss=target_loss, max_epochs=max_epochs, seed=seed)

    result = run_check("2.3", normalises_x)
    assert not result.passed and result.hint_id == "changed_input", result.report()


# --------------------------------------------------------------------------------------------
# 2.6 the noise cloud's mean square (predict, then measure)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [None, 0, "grader"])
def test_2_6_measurement_agrees_with_the_closed_form(seed):
    for case in REGISTRY["2.6"].make_cases(seed):
        assert checks_02.measure_cloud_mean_square(**case.inputs) == pytest.approx(
            checks_02.predicted_cloud_mean_square(**case.inputs), rel=0.02)
    assert run_check("2.6", checks_02.predicted_cloud_mean_square, seed=seed).passed


def test_2_6_closed_form_is_the_stationary_covariance():
    """Σ_i η qᵢᵀΣqᵢ/(hᵢ(2 − ηhᵢ)) is the trace of the solution of P = A P Aᵀ + η²Σ, A = I − ηH."""
    rng = torch.Generator().manual_seed(5)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=rng, dtype=torch.float64))
    hessian = q @ torch.diag(torch.tensor([3.0, 1.0, 0.2], dtype=torch.float64)) @ q.T
    mixing = torch.randn(3, 3, generator=rng, dtype=torch.float64)
    noise_cov, lr = mixing @ mixing.T, 0.5
    step = torch.eye(3, dtype=torch.float64) - lr * hessian
    covariance = torch.zeros(3, 3, dtype=torch.float64)
    for _ in range(5000):
        covariance = step @ covariance @ step.T + lr ** 2 * noise_cov
    assert torch.trace(covariance).item() == pytest.approx(
        checks_02.predicted_cloud_mean_square(hessian, noise_cov, lr), rel=1e-10)


def _learner_cloud(hessian, noise_cov, lr):
    total = 0.0
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian)
    for h, q in zip(eigenvalues, eigenvectors.T):
        kick = lr ** 2 * (q @ noise_cov @ q)
        total += (kick / (1 - (1 - lr * h) ** 2)).item()
    return total


def test_2_6_learner_solution_passes():
    assert run_check("2.6", _learner_cloud).passed


@pytest.mark.parametrize("hint_id, wrong", [
    ("small_lr", lambda h, s, lr: sum(
        (lr * (q @ s @ q) / (2 * c)).item() for c, q in zip(*[torch.linalg.eigh(h)[0],
                                                              torch.linalg.eigh(h)[1].T]))),
    ("isotropic_noise", lambda h, s, lr: _learner_cloud(
        h, torch.eye(len(s), dtype=torch.float64) * torch.trace(s) / len(s), lr)),
    ("lr_missing", lambda h, s, lr: _learner_cloud(h, s, lr) / lr),
    ("radius_not_mean_square", lambda h, s, lr: _learner_cloud(h, s, lr) ** 0.5),
    ("prediction_off", lambda h, s, lr: 1.0),
])
def test_2_6_hints(hint_id, wrong):
    result = run_check("2.6", lambda hessian, noise_cov, lr: wrong(hessian, noise_cov, lr))
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_2_6_unrotated_noise_hint():
    def paired_with_the_diagonal(hessian, noise_cov, lr):
        curvatures = torch.linalg.eigvalsh(hessian)
        return sum((lr * s / (h * (2 - lr * h))).item()
                   for h, s in zip(curvatures, torch.diagonal(noise_cov)))

    result = run_check("2.6", paired_with_the_diagonal)
    assert not result.passed and result.hint_id == "unrotated_noise", result.report()
