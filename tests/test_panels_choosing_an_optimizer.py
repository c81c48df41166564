"""The optimizer race of notebook 10, through panel.update: the lines are the median of separate
torch runs, and each "Things to try" promise holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import optimizer_race as race
from course_lib.digits import load_digits_split
from course_lib.panels.choosing_an_optimizer import EPOCHS, race_panel


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
