"""The optimizer race of notebook 10, through panel.update: the lines are the median of separate
torch runs, and each "Things to try" promise holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.experiments import optimizer_race as race
from course_lib.problems.digits import load_digits_split
from course_lib.ui.panels.choosing_an_optimizer import EPOCHS, race_panel


@pytest.fixture(scope="module")
def panel():
    return race_panel()


def median_accuracy(panel, k):
    return panel.figure.lines[panel.figure.ax_acc][k].get_data()[1][-1]


def test_the_line_is_the_median_of_three_plain_torch_runs(panel):
    panel.update(first="Adam", first_lr=0.01)
    data = load_digits_split()
    accuracies = []
    for seed in (0, 1, 2):
        net = race.make_net(seed=seed)
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(EPOCHS):
            order = torch.randperm(len(data.x_train), generator=generator)
            for first in range(0, len(order), 64):
                batch = order[first:first + 64]
                optimizer.zero_grad()
                nn.functional.cross_entropy(net(data.x_train[batch]), data.y_train[batch]).backward()
                optimizer.step()
        with torch.no_grad():
            accuracies.append(float((net(data.x_val).argmax(1) == data.y_val).float().mean()))
    assert median_accuracy(panel, 0) == pytest.approx(np.median(accuracies), abs=1.5 / len(data.y_val))
    assert "Adam at lr 0.01" in panel.caption_artist.get_text()


def test_things_to_try_torchs_default_adam_loses_to_tuned_momentum(panel):
    # "Adam at its default lr 0.001 against SGD+momentum at 0.1: momentum ends ahead by more
    #  than 0.1 in accuracy."
    panel.update(first="Adam", first_lr=0.001, second="SGD+momentum", second_lr=0.1)
    assert median_accuracy(panel, 1) > median_accuracy(panel, 0) + 0.1


def test_things_to_try_ten_times_the_default_fixes_adam(panel):
    # "Raise Adam's lr to 0.01: it catches up (median accuracy above 0.9)."
    panel.update(first="Adam", first_lr=0.01)
    assert median_accuracy(panel, 0) > 0.9


def test_things_to_try_sgd_at_momentums_lr_is_slower(panel):
    # "Plain SGD at 0.1 next to SGD+momentum at 0.1: without momentum it ends more than 0.15
    #  behind (its effective step is 10 times smaller)."
    panel.update(first="SGD", first_lr=0.1, second="SGD+momentum", second_lr=0.1)
    assert median_accuracy(panel, 0) < median_accuracy(panel, 1) - 0.15


def test_things_to_try_rmsprop_at_ten_times_its_default_splits_the_seeds(panel):
    # "RMSprop at 0.1: the band opens up; the seeds end more than 0.3 apart in accuracy."
    runs = panel.update(first="RMSprop", first_lr=0.1)
    accuracy = runs[0].val_accuracy[:, -1]
    assert accuracy.max() - accuracy.min() > 0.3


# The stacked lr grid behind the panel (one batched run per optimizer) against the plain route.

from course_lib.ui.panels.choosing_an_optimizer import LR_GRID, LR_MAX_EXP, LR_MIN_EXP, LR_STEP, grid_index  # noqa: E402


def test_the_lr_grid_is_every_notch_of_the_sliders(panel):
    for key in ("first_lr", "second_lr"):
        slider = panel.sliders[key]
        assert (slider.min, slider.max, slider.step) == (LR_MIN_EXP, LR_MAX_EXP, LR_STEP)
        notches = [10 ** (slider.min + k * slider.step)
                   for k in range(round((slider.max - slider.min) / slider.step) + 1)]
        assert list(LR_GRID) == notches
    # every notch (and a value the browser's arithmetic left an ulp off) finds itself
    for k, lr in enumerate(LR_GRID):
        assert grid_index(lr) == grid_index(lr * (1 + 1e-12)) == grid_index(lr * (1 - 1e-12)) == k
    assert LR_GRID[grid_index(0.01)] == 0.01 and LR_GRID[grid_index(0.001)] == 0.001
    with pytest.raises(ValueError, match="learning rate"):
        grid_index(0.0)


def test_a_new_optimizer_trains_its_whole_lr_grid_once_then_lr_moves_only_look_up():
    panel = race_panel(first="Adam", first_lr=0.001, second="SGD+momentum", second_lr=0.1)
    cache = panel.race_cache
    # building the panel trains only the two settings it shows (3 networks each)
    assert cache.trainings == [("Adam", 3), ("SGD+momentum", 3)]
    panel.update(first="Nesterov", first_lr=0.01)
    assert cache.trainings[2:] == [("Nesterov", len(LR_GRID) * 3)]
    for lr in (1e-4, 10 ** -2.75, 0.1, 10 ** 0.5):
        runs = panel.update(first_lr=lr)
        assert runs[0].lr == LR_GRID[grid_index(lr)] and runs[0].name == "Nesterov"
    panel.update(first_lr=0.01, second_lr=0.01)     # SGD+momentum's grid, less the lr built with
    assert cache.trainings[3:] == [("SGD+momentum", (len(LR_GRID) - 1) * 3)]
    assert len(cache.trainings) == 4


@pytest.mark.parametrize("name, lr", [("Adam", 10 ** -2.5), ("SGD", 0.1), ("RMSprop", 0.1),
                                      ("AdamW", 10 ** -3.25), ("Adagrad", 10 ** 0.25)])
def test_the_stacked_grid_gives_what_one_setting_trained_alone_gives(name, lr):
    data = load_digits_split()
    panel = race_panel()
    runs = panel.update(first=name, first_lr=lr)
    trained, networks = panel.race_cache.trainings[-1]
    assert trained == name and networks >= (len(LR_GRID) - 1) * 3     # it came from the stacked grid
    alone = race.train_race(name, lr, seeds=(0, 1, 2), x_train=data.x_train, y_train=data.y_train,
                            x_val=data.x_val, y_val=data.y_val, epochs=EPOCHS, eval_every=5)
    got = runs[0]
    assert got.lr == lr and got.seeds == alone.seeds
    np.testing.assert_array_equal(got.steps_at, alone.steps_at)
    for field in ("train_loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(getattr(got, field), getattr(alone, field), rtol=1e-6, atol=1e-7,
                                   equal_nan=True, err_msg=f"{name} at lr {lr:.3g}: {field}")
