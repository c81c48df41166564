"""The batch-size panel of notebook 02: slider values in, figure data checked against plain torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import BatchSampler, SubsetRandomSampler

from course_lib.problems import toy_regression as tr
from course_lib.ui.panels.batch_minibatch_sgd import BatchSizeFigure, NoiseCurve, batch_size_panel

UPDATES = 150


@pytest.fixture(scope="module")
def panel():
    return batch_size_panel(batch_size=10, lr=0.1, updates=UPDATES)


def textbook_losses(batch_size, lr, at_updates):
    """Full-data MSE after the given update counts, by the plain torch loop a learner writes."""
    x, y = tr.make_data()
    model = tr.make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    sampler = BatchSampler(SubsetRandomSampler(range(len(x)), generator=torch.Generator().manual_seed(0)),
                           batch_size, drop_last=False)
    wanted, losses, done = set(int(u) for u in at_updates), {}, 0
    while done < max(wanted):
        for batch in sampler:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
            done += 1
            if done in wanted:
                with torch.no_grad():
                    losses[done] = nn.functional.mse_loss(model(x), y).item()
            if done == max(wanted):
                break
    return np.array([losses[int(u)] for u in at_updates])


def noise_variance_by_loop(batch_size):
    """σ²/B·(N−B)/(N−1) from per-sample gradients taken one backward pass at a time."""
    x, y = tr.make_data()
    model = tr.make_mlp()
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        ((model(x[i:i + 1]) - y[i:i + 1]) ** 2).mean().backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]).double())
    grads = torch.stack(rows)
    sigma2 = ((grads - grads.mean(0)) ** 2).sum(1).mean().item()
    n = len(x)
    return sigma2, sigma2 / batch_size * (n - batch_size) / (n - 1)


def test_loss_curves_equal_the_textbook_loop(panel):
    panel.update(batch_size=10, lr=0.1)
    full_line, chosen_line = panel.figure.loss_lines[panel.figure.ax_updates]
    updates, losses = chosen_line.get_data()
    assert updates[0] == 1 and updates[-1] == UPDATES and len(updates) > 20
    np.testing.assert_allclose(losses, textbook_losses(10, 0.1, updates), rtol=1e-5)
    full_updates, full_losses = full_line.get_data()
    np.testing.assert_allclose(full_losses, textbook_losses(1000, 0.1, full_updates), rtol=1e-5)
    assert chosen_line.get_visible() and chosen_line.get_label() == "B = 10"


def test_samples_axis_is_updates_times_batch_size(panel):
    panel.update(batch_size=200, lr=0.1)
    by_updates = panel.figure.loss_lines[panel.figure.ax_updates][1].get_data()
    by_samples = panel.figure.loss_lines[panel.figure.ax_samples][1].get_data()
    np.testing.assert_array_equal(by_samples[0], by_updates[0] * 200)
    np.testing.assert_array_equal(by_samples[1], by_updates[1])
    full_samples = panel.figure.loss_lines[panel.figure.ax_samples][0].get_data()[0]
    np.testing.assert_array_equal(full_samples, panel.figure.loss_lines[panel.figure.ax_updates][0].get_data()[0] * 1000)


def test_noise_panel_marks_the_chosen_batch_on_the_closed_form(panel):
    sigma2, expected = noise_variance_by_loop(20)
    panel.update(batch_size=20, lr=0.1)
    figure = panel.figure
    marker_x, marker_y = figure.chosen_marker.get_data()
    assert list(marker_x) == [20] and list(figure.chosen_vline.get_xdata()) == [20, 20]
    assert marker_y[0] == pytest.approx(expected, rel=1e-4)
    curve_b, curve_v = figure.ax_noise.lines[0].get_data()
    n = 1000
    finite = curve_b < n
    np.testing.assert_allclose(curve_v[finite], sigma2 / curve_b[finite] * (n - curve_b[finite]) / (n - 1),
                               rtol=1e-4)
    assert np.isnan(curve_v[~finite]).all()  # B = N: zero noise, not drawable on a log axis
    np.testing.assert_allclose(figure.ax_noise.lines[1].get_data()[1], sigma2 / curve_b, rtol=1e-4)
    # The Monte-Carlo points (1000 batches each) sit on the closed form, not on σ²/B
    sampled_b, sampled_v = figure.ax_noise.lines[2].get_data()
    inside = sampled_b < n
    closed = sigma2 / sampled_b[inside] * (n - sampled_b[inside]) / (n - 1)
    np.testing.assert_allclose(sampled_v[inside], closed, rtol=0.25)
    at_500 = sampled_b == 500
    assert sampled_v[at_500][0] < 0.75 * sigma2 / 500  # the correction halves it there
    assert "B = 20: " in figure.noise_text.get_text()


def test_full_batch_choice_shows_one_run_and_no_noise(panel):
    runs = panel.update(batch_size=1000, lr=0.1)
    assert len(runs) == 1 and runs[0].batch_size == 1000
    assert not panel.figure.loss_lines[panel.figure.ax_updates][1].get_visible()
    assert np.isnan(panel.figure.chosen_marker.get_data()[1][0])
    assert "no noise" in panel.figure.noise_text.get_text()
    assert "1 update per epoch" in panel.caption_artist.get_text()
    assert f"{UPDATES} updates = {UPDATES} epochs" in panel.caption_artist.get_text()
    legend_texts = [t.get_text() for t in panel.figure.ax_updates.get_legend().get_texts()]
    assert "B = 1000" not in legend_texts and "full batch (B = 1000)" in legend_texts


def test_divergence_is_written_on_the_plot(panel):
    runs = panel.update(batch_size=1, lr=0.9)
    assert runs[-1].diverged_at is not None
    text = panel.figure.divergence_texts[0].get_text()
    assert f"B = 1, lr = 0.9: diverged at update {runs[-1].diverged_at}" in text
    assert "diverged at update" in panel.caption_artist.get_text()
    assert panel.error == ""


def test_caption_counts_updates_per_epoch(panel):
    runs = panel.update(batch_size=50, lr=0.1)
    caption = panel.caption_artist.get_text()
    assert caption.startswith("B = 50: 20 updates per epoch")
    assert f"{UPDATES} updates = {UPDATES * 50 / 1000:g} epochs" in caption
    assert f"final loss {runs[-1].losses[-1]:.4g}" in caption


def test_a_batch_larger_than_the_data_is_reported_not_raised(panel):
    assert panel.update(batch_size=5000) == []
    assert "larger than the data set" in panel.error


def test_noise_curve_closed_form_is_zero_at_full_batch():
    grads = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    curve = NoiseCurve(grads, sampled_batch_sizes=(1, 10, 50), draws=50)
    assert curve.at(50) == 0.0
    assert curve.at(1) == pytest.approx(curve.sigma2)
    assert curve.sampled[-1] == pytest.approx(0.0, abs=1e-10)
    figure = BatchSizeFigure(curve)
    assert len(figure.ax_noise.lines) == 5  # two closed forms, samples, marker, chosen-B line


# -- the lr grid: every slider value trains all learning rates of its batch size at once -----

def test_lr_slider_values_are_the_grid():
    from course_lib.ui.panels.batch_minibatch_sgd import lr_grid

    grid = lr_grid()
    assert grid[0] == pytest.approx(0.01) and grid[-1] == pytest.approx(1.0) and len(grid) == 41
    np.testing.assert_allclose(np.diff(np.log10(grid)), 0.05)
    panel = batch_size_panel(updates=20)
    slider = panel.sliders["lr"]
    positions = np.arange(slider.min, slider.max + slider.step / 2, slider.step)
    np.testing.assert_allclose(slider.base ** positions, grid)
    for k, lr in enumerate(grid):  # the slider's values, float noise included, find their place
        assert panel.runs.grid_index(lr) == k
        assert panel.runs.grid_index(lr * (1 + 1e-14)) == k
    assert panel.runs.grid_index(0.2) is None and panel.runs.grid_index(0.05) is None


def test_a_grid_lr_move_draws_the_stacked_run_equal_to_train(panel):
    runs = panel.update(batch_size=20, lr=10**-1.5)
    assert panel.runs.cached(20)  # one stacked run for all lrs at B = 20
    x, y = tr.make_data()
    for lr in (10**-1.5, 10**-0.5, 1.0):
        chosen = panel.update(batch_size=20, lr=lr)[-1]
        assert chosen is panel.runs._by_batch[20][panel.runs.grid_index(lr)]
        alone = tr.train(tr.make_mlp(), x, y, batch_size=20, lr=lr, updates=UPDATES, eval_every="log")
        assert chosen.diverged_at == alone.diverged_at
        finite = np.isfinite(alone.losses) & (alone.losses < 1e3)
        np.testing.assert_allclose(chosen.losses[finite], alone.losses[finite], rtol=2e-4)
    assert runs[-1].lr == pytest.approx(10**-1.5)


def test_an_lr_off_the_grid_is_trained_exactly_as_train_does(panel):
    chosen = panel.update(batch_size=50, lr=0.2)[-1]
    x, y = tr.make_data()
    alone = tr.train(tr.make_mlp(), x, y, batch_size=50, lr=0.2, updates=UPDATES, eval_every="log")
    np.testing.assert_array_equal(chosen.losses, alone.losses)
    assert chosen.lr == 0.2


def test_background_training_starts_only_when_the_panel_is_live_in_a_browser():
    from course_lib.ui.background import BackgroundTrainer

    panel = batch_size_panel(updates=30)
    trainer = BackgroundTrainer()
    panel.runs.background = trainer          # a trainer of this test's own, not the kernel's
    trainer.subscribe(panel.runs._arrived)
    try:
        for values in (dict(batch_size=5), dict(lr=0.01), dict(batch_size=1000)):
            panel.update(**values)
        panel.sliders["batch_size"].value = 2  # code (a cell, nbval) moving a slider: no prefetch
        assert trainer.status(panel.runs.job_key(200)) == "unknown" and not panel.runs.cached(200)
        # The browser view's first message: the panel is on screen with its kernel behind it
        panel.view._on_frontend_msg(panel.view, {"type": "ping"}, [])
        assert trainer.wait_all(timeout=300)
        assert trainer.errors == {}
        assert all(panel.runs.cached(b) for b in tr.BATCH_SIZE_CHOICES)
        # Every lr at every batch size is now a cache hit, equal to what train gives
        x, y = tr.make_data()
        run = panel.update(batch_size=500, lr=10**-0.7)[-1]
        assert run is panel.runs._by_batch[500][panel.runs.grid_index(10**-0.7)]
        alone = tr.train(tr.make_mlp(), x, y, batch_size=500, lr=10**-0.7, updates=30, eval_every="log")
        np.testing.assert_allclose(run.losses, alone.losses, rtol=2e-4)
    finally:
        trainer.close()