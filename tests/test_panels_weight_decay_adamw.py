"""The notebook-08 panel: the stacked training equals torch.optim.Adam (L2) and torch.optim.AdamW
on one nn.Sequential trained alone; the figure shows the grid's numbers after panel.update; each
"Things to try" promise of the notebook."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.ui.panels import weight_decay_adamw as wd


def train_alone(weight_decay, *, decoupled, steps, lr=wd.LR):
    """torch.optim on the nn.Sequential itself: weights in a decaying group, biases exempt."""
    model = wd.init_model(0)
    x_train, y_train, *_ = wd.make_task(0)
    weights = [model[i].weight for i in (0, 2, 4)]
    biases = [model[i].bias for i in (0, 2, 4)]
    groups = [{"params": weights, "weight_decay": weight_decay},
              {"params": biases, "weight_decay": 0.0}]
    optimizer = (torch.optim.AdamW(groups, lr=lr, foreach=False) if decoupled
                 else torch.optim.Adam(groups, lr=lr, foreach=False))
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(x_train) - y_train) ** 2).mean().backward()
        optimizer.step()
    return model


@pytest.mark.parametrize("decoupled", [False, True])
def test_a_row_of_the_stack_is_torch_trained_alone(decoupled):
    decays = [0.0, 0.1, 1.0]
    stack = wd.train_stack(decays, wd.LR, decoupled=decoupled, steps=40)
    for row, weight_decay in enumerate(decays):
        model = train_alone(weight_decay, decoupled=decoupled, steps=40)
        for layer, index in zip((0, 2, 4), (0, 2, 4)):
            torch.testing.assert_close(stack[index][row], model[layer].weight.detach().T,
                                       rtol=1e-7, atol=1e-9)
            torch.testing.assert_close(stack[index + 1][row, 0], model[layer].bias.detach(),
                                       rtol=1e-7, atol=1e-9)


def test_mixed_stack_equals_separate_stacks():
    mixed = wd.train_stack([0.3, 0.3], wd.LR, decoupled=[False, True], steps=20)
    l2 = wd.train_stack([0.3], wd.LR, decoupled=False, steps=20)
    adamw = wd.train_stack([0.3], wd.LR, decoupled=True, steps=20)
    for m, a, b in zip(mixed, l2, adamw):
        torch.testing.assert_close(m[0], a[0], rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(m[1], b[0], rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def panel():
    built = wd.weight_decay_panel()
    yield built


def test_update_shows_the_grid(panel):
    grid = panel.grid
    for index, weight_decay in enumerate(wd.WEIGHT_DECAYS):
        panel.update(weight_decay=weight_decay)
        for method in wd.METHODS:
            _, y = panel.figure.markers[method].get_data()
            assert y[0] == grid.valid_loss[method][index]
            heights = [bar.get_height() for bar in panel.figure.bars[method]]
            np.testing.assert_allclose(heights, grid.weight_norms[method][index])
            _, fit = panel.figure.fit_lines[method].get_data()
            np.testing.assert_allclose(fit, grid.predictions[method][index])
        assert f"{grid.valid_loss['AdamW'][index]:.3f}" in panel.caption_artist.get_text()


def test_grid_losses_are_the_models_losses(panel):
    grid = panel.grid
    model = train_alone(0.1, decoupled=True, steps=wd.STEPS)
    *_, x_valid, y_valid = wd.make_task(0)
    with torch.no_grad():
        loss = ((model(x_valid) - y_valid) ** 2).mean().item()
    assert grid.valid_loss["AdamW"][wd.WEIGHT_DECAYS.index(0.1)] == pytest.approx(loss, rel=1e-6)


# -- "Things to try" in notebook 08 -------------------------------------------------------------


def test_try_lambda_zero_both_methods_are_the_same_run(panel):
    grid = panel.grid
    assert grid.valid_loss["Adam + L2"][0] == grid.valid_loss["AdamW"][0]
    np.testing.assert_array_equal(grid.weight_norms["Adam + L2"][0], grid.weight_norms["AdamW"][0])


def test_try_lambda_one_l2_collapses_the_network_adamw_still_fits(panel):
    grid = panel.grid
    index = wd.WEIGHT_DECAYS.index(1.0)
    assert grid.weight_norms["Adam + L2"][index].sum() < 0.05
    # a collapsed network predicts a constant: the validation loss of the best constant or worse
    *_, y_valid = wd.make_task(0)
    assert grid.valid_loss["Adam + L2"][index] >= y_valid.var().item() * 0.95
    assert grid.weight_norms["AdamW"][index].sum() > 3.0
    assert grid.valid_loss["AdamW"][index] < grid.valid_loss["AdamW"][0]


def test_try_the_best_lambdas_are_about_100x_apart(panel):
    grid = panel.grid
    best_l2 = wd.WEIGHT_DECAYS[int(np.argmin(grid.valid_loss["Adam + L2"]))]
    best_adamw = wd.WEIGHT_DECAYS[int(np.argmin(grid.valid_loss["AdamW"]))]
    assert best_l2 <= 0.01 and best_adamw >= 0.1
    assert best_adamw / best_l2 >= 30
    # and both beat no decay at their best
    for method in wd.METHODS:
        assert grid.valid_loss[method].min() < 0.8 * grid.valid_loss[method][0]


def test_bad_weight_decay_is_refused():
    with pytest.raises(ValueError, match="weight_decay"):
        wd.weight_decay_panel(weight_decay=0.5)
