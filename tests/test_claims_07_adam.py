"""Notebook 07's behavioural claims (issue 17), each against torch.optim or a closed form.

Where a claim involves randomness it is checked over at least five seeds and the count the
notebook prints ("on k of n seeds") is the count computed here. Rosenbrock and Reddi et al.'s
problem have no randomness; their claims are also checked from five perturbed starts where the
notebook's sentence would read as general.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.experiments.trajectories import run
from course_lib.problems import landscapes
from course_lib.problems.sparse_features import ADAGRAD_LRS, RMSPROP_LRS, lr_sweep, sparse_problem
from course_lib.theory.adam import spike_step_ratio, update_bound

SEEDS = range(5)


# -- section 5: a gradient after a silence -------------------------------------------------------


def returning_step(trained, silence, beta1=0.9, beta2=0.999):
    """|Δθ|/lr of torch.optim.Adam when g = 1 returns after ``trained`` steps of g = 1 and
    ``silence`` zeros."""
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=1.0, betas=(beta1, beta2), eps=1e-12)
    for t in range(trained + silence):
        theta.grad = torch.full((1,), 1.0 if t < trained else 0.0, dtype=torch.float64)
        optimizer.step()
    before = theta.item()
    theta.grad = torch.ones(1, dtype=torch.float64)
    optimizer.step()
    return abs(theta.item() - before)


def returning_step_closed_form(trained, silence, beta1=0.9, beta2=0.999):
    """The same step from the update's equations: m_n = (1 − β₁ⁿ)g and v_n = (1 − β₂ⁿ)g² after n
    steady steps, decayed over the silence, plus the returning gradient."""
    t = trained + silence + 1
    m = beta1 ** (silence + 1) * (1 - beta1**trained) + (1 - beta1)
    v = beta2 ** (silence + 1) * (1 - beta2**trained) + (1 - beta2)
    return m / (1 - beta1**t) / math.sqrt(v / (1 - beta2**t))


def test_the_silence_dip_from_a_fresh_start():
    ratios = [spike_step_ratio(0.9, 0.999, s) for s in range(0, 20_001)]
    for s in (10, 11, 50, 100, 105, 1000):
        assert returning_step(0, s) == pytest.approx(ratios[s], rel=1e-9)
    minimum = int(np.argmin(ratios))
    assert minimum == 11 and ratios[minimum] < 0.49  # "the minimum, 0.481 η, after 11"
    crossing = next(s for s in range(1, 20_001) if ratios[s] > 1)
    assert crossing == 105  # "passes η only after 105 silent steps"
    assert all(r < 1 for r in ratios[1:105])
    limit = 0.1 / math.sqrt(0.001)
    assert ratios[10_000] == pytest.approx(limit, rel=1e-3)  # "approaches 3.16 η after about 10⁴"


def test_after_1000_steps_of_gradients_the_silence_must_exceed_4200():
    for s in (1000, 4000, 4200, 4300):
        assert returning_step_closed_form(1000, s) == pytest.approx(
            returning_step(1000, s), rel=1e-9)
    crossing = next(s for s in range(1, 20_000) if returning_step_closed_form(1000, s) > 1)
    assert 4200 < crossing <= 4300


def test_kingma_ba_bound_is_exceeded_by_torch():
    beta1, beta2, steps = 0.9, 0.999, 1000
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=1.0, eps=1e-14)
    for t in range(1, steps + 1):
        before = theta.item()
        theta.grad = torch.full((1,), (beta1 / beta2) ** (steps - t), dtype=torch.float64)
        optimizer.step()
    reached = abs(theta.item() - before)
    assert reached == pytest.approx(update_bound(beta1, beta2, steps), rel=1e-6)
    assert reached > 1.8 * (1 - beta1) / math.sqrt(1 - beta2)  # 5.78 against 3.16


# -- section 6: tuned Adam against tuned SGD + momentum on Rosenbrock ----------------------------

ADAM_LRS = (1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0)
SGD_LRS = (1e-3, 2e-3, 3e-3, 4e-3)


def best_loss(optimizer_cls, lrs, start=None, **hyperparameters):
    rosenbrock = landscapes.rosenbrock()
    losses = [run(rosenbrock, optimizer_cls, steps=200, lr=lr, start=start, **hyperparameters).final_loss
              for lr in lrs]
    finite = [loss for loss in losses if np.isfinite(loss) and loss < 1e3]
    return min(finite)


def test_the_adam_coarse_sweep_is_what_the_myth_quotes():
    # "no tuning needed": 4.5 at lr 1e-3 down to 0.014 at lr 1, the best of the coarse grid
    losses = [run(landscapes.rosenbrock(), torch.optim.Adam, steps=200, lr=lr).final_loss
              for lr in ADAM_LRS]
    assert 4 < losses[0] < 5 and 0.01 < losses[4] < 0.02 and min(losses) == losses[4]
    # SGD + momentum diverges at 4e-3 from the lecture's start: its best lr sits below that
    assert not run(landscapes.rosenbrock(), torch.optim.SGD, steps=200, lr=4e-3,
                   momentum=0.9).final_loss < 1e3


def rosenbrock_starts(n=5):
    # the notebook's starts: the lecture's and four within about 0.1 of it
    starts = torch.tensor([landscapes.rosenbrock().start] * n, dtype=torch.float64)
    starts[1:] += 0.1 * torch.randn(n - 1, 2, generator=torch.Generator().manual_seed(0),
                                    dtype=torch.float64)
    return starts


def best_losses_from_starts(optimizer_cls, lrs, starts, **hyperparameters):
    """For each start (a row), the lowest loss after 200 steps of torch's optimizer over the lr
    grid; each run moves every start at once (the optimizers are elementwise)."""
    rosenbrock = landscapes.rosenbrock()
    losses = []
    for lr in lrs:
        theta = starts.clone().requires_grad_(True)
        optimizer = optimizer_cls([theta], lr=float(lr), **hyperparameters)
        for _ in range(200):
            theta.grad = rosenbrock.grad(theta.detach())
            optimizer.step()
        loss = rosenbrock(theta.detach())
        losses.append(torch.where(loss < 1e3, loss, torch.inf))
    return torch.stack(losses).min(0).values


def test_elementwise_batch_equals_separate_runs():
    starts = rosenbrock_starts()
    batched = best_losses_from_starts(torch.optim.Adam, [0.3], starts)
    for k in range(len(starts)):
        single = run(landscapes.rosenbrock(), torch.optim.Adam, steps=200, lr=0.3,
                     start=starts[k].tolist()).final_loss
        assert float(batched[k]) == pytest.approx(single, rel=1e-9)


@pytest.fixture(scope="module")
def rosenbrock_grids():
    starts = rosenbrock_starts()
    out = {}
    for per_grid in (9, 17):  # the notebook's grid, and one twice as fine
        adam_grid = np.logspace(-1.5, 0.5, per_grid)
        sgd_grid = np.logspace(-3.2, -2.4, per_grid)
        out[per_grid] = (best_losses_from_starts(torch.optim.Adam, adam_grid, starts),
                         best_losses_from_starts(torch.optim.SGD, sgd_grid, starts, momentum=0.9),
                         best_losses_from_starts(torch.optim.Adam, adam_grid, starts,
                                                 betas=(0.9, 0.9)))
    return out


def test_tuned_adam_ends_above_tuned_sgd_from_4_of_5_starts_on_either_grid(rosenbrock_grids):
    for per_grid, (adam, sgd, _) in rosenbrock_grids.items():
        assert int((adam > sgd).sum()) == 4, per_grid
    # the factor itself is not stable: it spans more than a factor of 10 between starts, and the
    # finer grid moves the lecture's start's factor by more than 2x
    ratio9 = rosenbrock_grids[9][0] / rosenbrock_grids[9][1]
    ratio17 = rosenbrock_grids[17][0] / rosenbrock_grids[17][1]
    higher = ratio9[ratio9 > 1]
    assert higher.min() < 5 and higher.max() > 100
    assert not 0.5 < float(ratio17[0] / ratio9[0]) < 2


def test_beta2_09_on_the_notebooks_grid(rosenbrock_grids):
    adam, sgd, fast = rosenbrock_grids[9]
    assert int((fast < adam).sum()) == 4  # "from 4 of the 5 starts"
    assert float((fast / sgd).max()) < 6  # "stays below 6 from every start"


def adam_state_at(lr, beta2, steps=200, start=None):
    rosenbrock = landscapes.rosenbrock()
    theta = torch.tensor(rosenbrock.start if start is None else start, dtype=torch.float64,
                         requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=lr, betas=(0.9, beta2))
    for _ in range(steps):
        theta.grad = rosenbrock.grad(theta.detach()).clone()
        optimizer.step()
    root_v_hat = (optimizer.state[theta]["exp_avg_sq"] / (1 - beta2**steps)).sqrt()
    return theta.grad.abs(), root_v_hat, float(rosenbrock(theta.detach()))


def test_v_remembers_the_early_gradients_and_beta2_09_closes_most_of_the_gap():
    last, root_v_hat, loss = adam_state_at(0.1, 0.999)
    assert (root_v_hat / last).min() > 10 and loss > 0.5
    last_fast, root_v_hat_fast, _ = adam_state_at(0.1, 0.9)
    assert (root_v_hat_fast / last_fast).max() < 6


@pytest.mark.parametrize("seed", SEEDS)
def test_v_memory_from_perturbed_starts(seed):
    # the memory effect is not a property of one start: from five starts near (−1.2, 1),
    # √v̂ at t = 200 is still several times |g| with β₂ = 0.999, and β₂ = 0.9 ends lower
    generator = torch.Generator().manual_seed(seed)
    start = (torch.tensor([-1.2, 1.0], dtype=torch.float64)
             + 0.2 * torch.randn(2, generator=generator, dtype=torch.float64)).tolist()
    last, root_v_hat, loss = adam_state_at(0.1, 0.999, start=start)
    assert (root_v_hat / last).min() > 3
    assert adam_state_at(0.1, 0.9, start=start)[2] < loss


# -- section 8: Reddi et al. ----------------------------------------------------------------------


@pytest.mark.parametrize("beta2", [0.1, 0.3, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("start", [0.0, -0.5, 0.5, 0.9, -0.9])
def test_momentum_keeps_m_positive_and_ends_at_minus_one(beta2, start):
    reddi = landscapes.reddi_problem(3.0)
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=0.1, betas=(0.9, beta2))
    xs = []
    with torch.no_grad():
        for t in range(1, 1001):
            x.grad = torch.tensor([reddi.gradient(t)], dtype=torch.float64)
            optimizer.step()
            x.clamp_(-1.0, 1.0)
            assert optimizer.state[x]["exp_avg"].item() > 0
            xs.append(x.item())
    assert np.mean(xs[-300:]) < -0.99


def reddi_paper(C, beta2, lr, steps, amsgrad=False, start=0.0, bias_correction=False,
                decaying=True):
    x, v, v_max, xs = start, 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = C if t % 3 == 1 else -1.0
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        denominator = v_max if amsgrad else v
        if bias_correction:
            denominator = denominator / (1 - beta2**t)
        step = (lr / math.sqrt(t) if decaying else lr) * g / math.sqrt(denominator)
        x = min(1.0, max(-1.0, x - step))
        xs.append(x)
    return np.array(xs)


def test_the_papers_loop_is_torchs_adam_when_given_torchs_setting():
    # the hand-written loop, with bias correction and a constant lr, is torch's Adam (β₁ = 0)
    reddi = landscapes.reddi_problem(3.0)
    for amsgrad in (False, True):
        ours = reddi_paper(3.0, 0.1, 0.1, 300, amsgrad=amsgrad, bias_correction=True, decaying=False)
        theirs = reddi.run(torch.optim.Adam, start=0.0, steps=300, lr=0.1, betas=(0.0, 0.1),
                           amsgrad=amsgrad, eps=0.0)
        np.testing.assert_allclose(ours, theirs[1:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("start", [0.0, -0.5, 0.5, 0.9, -0.9])
def test_the_papers_setting_gives_the_same_outcome(start):
    assert reddi_paper(3.0, 0.1, 0.5, 1000, start=start)[-300:].mean() > 0.95
    assert reddi_paper(3.0, 0.1, 0.5, 1000, amsgrad=True, start=start)[-300:].mean() < -0.95


def amsgrad_run(gradients, schedule=None, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    theta = torch.zeros(gradients.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=1.0, betas=betas, eps=eps, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) if schedule else None
    e, paper, steps, paper_steps = [], [], [], []
    for g in gradients:
        lr_t, before = optimizer.param_groups[0]["lr"], theta.detach().clone()
        theta.grad = g.clone()
        optimizer.step()
        state = optimizer.state[theta]
        t, m, v_max = state["step"].item(), state["exp_avg"], state["max_exp_avg_sq"]
        e_t = lr_t / ((v_max / (1 - beta2**t)).sqrt() + eps)
        step = theta.detach() - before
        torch.testing.assert_close(step, -e_t * m / (1 - beta1**t), rtol=1e-9, atol=1e-11)
        e.append(e_t)
        paper.append(lr_t / (v_max.sqrt() + eps))
        steps.append(step.abs())
        paper_steps.append(lr_t * m.abs() / (v_max.sqrt() + eps))
        if scheduler:
            scheduler.step()
    return [torch.stack(x) for x in (e, paper, steps, paper_steps)]


def sequences(seed, steps=1500, n=3):
    generator = torch.Generator().manual_seed(seed)
    sizes = 10 ** torch.empty(steps, n, dtype=torch.float64).uniform_(-3.0, 1.0, generator=generator)
    signs = torch.randint(0, 2, (steps, n), generator=generator).to(torch.float64) * 2 - 1
    return sizes * signs


def test_amsgrad_effective_lr_after_one_then_small():
    gradients = torch.full((3000, 1), 0.01, dtype=torch.float64)
    gradients[0] = 1.0
    e = amsgrad_run(gradients)[0][:, 0]
    beta2 = 0.999
    for t in (1, 10, 1000, 3000):  # closed form: v_max = (1 − β₂)·1² from step 1 on
        assert e[t - 1].item() == pytest.approx(
            math.sqrt((1 - beta2**t) / (1 - beta2)), rel=1e-6)
    assert e.max().item() < 1 / math.sqrt(1 - beta2)


@pytest.mark.parametrize("seed", SEEDS)
def test_amsgrad_effective_lr_claims_on_random_sequences(seed):
    gradients = sequences(seed)
    e, paper, steps, paper_steps = amsgrad_run(gradients)
    assert bool((e[1:] > e[:-1] * (1 + 1e-12)).any(dim=0).all())  # rises somewhere, every sequence
    assert bool((e <= paper * (1 + 1e-12)).all())                 # never above the paper's
    assert bool((paper[1:] <= paper[:-1] * (1 + 1e-12)).all())    # the paper's only falls
    assert bool((steps <= paper_steps * (1 + 1e-9) + 1e-11).all())  # nor are its steps larger
    decaying = amsgrad_run(gradients, schedule=lambda epoch: 1 / math.sqrt(epoch + 1))[0]
    assert bool((decaying[1:] <= decaying[:-1] * (1 + 1e-12)).all())


def test_amsgrad_claims_on_the_notebooks_sequences():
    # the six sequences of c07-amsgrad-lr, as the notebook builds them
    steps = 1000
    generator = torch.Generator().manual_seed(0)
    one_then_small = torch.full((steps, 1), 0.01, dtype=torch.float64)
    one_then_small[0] = 1.0
    sizes = 10 ** torch.empty(steps, 5, dtype=torch.float64).uniform_(-3.0, 1.0, generator=generator)
    signs = torch.randint(0, 2, (steps, 5), generator=generator).to(torch.float64) * 2 - 1
    gradients = torch.cat([one_then_small, sizes * signs], dim=1)
    e, paper, torch_steps, paper_steps = amsgrad_run(gradients)
    assert int((e[1:] > e[:-1] * (1 + 1e-12)).any(dim=0).sum()) == 6
    assert bool((e <= paper * (1 + 1e-12)).all())
    assert bool((torch_steps <= paper_steps * (1 + 1e-9) + 1e-11).all())
    decaying = amsgrad_run(gradients, schedule=lambda epoch: 1 / math.sqrt(epoch + 1))[0]
    assert int((decaying[1:] <= decaying[:-1] * (1 + 1e-12)).all(dim=0).sum()) == 6


def test_torchs_corrected_denominator_over_sqrt_t_never_decreases():
    # the closed-form reason: √(t/(1 − β₂ᵗ)) is non-decreasing in t for every β₂ in (0, 1)
    for beta2 in (0.5, 0.9, 0.99, 0.999, 0.9999):
        t = np.arange(1, 20_001, dtype=np.float64)
        factor = np.sqrt(t / -np.expm1(t * np.log(beta2)))
        assert np.all(np.diff(factor) >= -1e-12 * factor[1:])


def test_amsgrad_is_no_help_on_rosenbrock():
    # 7.3's rubric: AMSGrad can only remember longer; on Rosenbrock it ends no better
    rosenbrock = landscapes.rosenbrock()
    for lr in (0.1, 0.3, 1.0):
        plain = run(rosenbrock, torch.optim.Adam, steps=200, lr=lr).final_loss
        amsgrad = run(rosenbrock, torch.optim.Adam, steps=200, lr=lr, amsgrad=True).final_loss
        assert amsgrad >= plain
        if lr == 0.1:  # 7.3's rubric: about 1.08 against 1.00
            assert 1.0 < amsgrad / plain < 1.2 and 0.9 < plain < 1.1


# -- section 9: notebook 05's sparse problem -------------------------------------------------------


def sparse_results(seed):
    problem = sparse_problem(seed=seed)
    out = {}
    for name, cls, lrs, kwargs in (("Adagrad", optim.Adagrad, ADAGRAD_LRS, {}),
                                   ("RMSprop", optim.RMSprop, RMSPROP_LRS, {}),
                                   ("Adam", optim.Adam, RMSPROP_LRS, {}),
                                   ("RMSprop 0.999", optim.RMSprop, RMSPROP_LRS, dict(alpha=0.999))):
        result = lr_sweep(problem, cls, lrs, steps=600, seed=seed + 1, **kwargs)
        out[name] = (result.best_lr, result.losses[-1, result.best],
                     result.errors[-1, result.best][problem.rare].mean())
    return out


@pytest.fixture(scope="module")
def sparse_by_seed():
    return {seed: sparse_results(seed) for seed in SEEDS}


def test_the_notebooks_lrs_are_the_seed_0_grid_bests(sparse_by_seed):
    best = sparse_by_seed[0]
    assert best["Adagrad"][0] == ADAGRAD_LRS[4]
    assert best["RMSprop"][0] == RMSPROP_LRS[6]
    assert best["Adam"][0] == RMSPROP_LRS[7]
    assert best["RMSprop 0.999"][0] == RMSPROP_LRS[6]
    for name in best:  # and the best lr lies inside the grid, not at its edge
        grid = ADAGRAD_LRS if name == "Adagrad" else RMSPROP_LRS  # noqa: E501
        assert grid[0] < best[name][0] < grid[-1]


def test_adam_beats_rmsprop_on_5_of_5_seeds_and_is_closer_to_adagrad_on_4(sparse_by_seed):
    below = sum(r["Adam"][1] < r["RMSprop"][1] and r["Adam"][2] < r["RMSprop"][2]
                for r in sparse_by_seed.values())
    closer = sum(abs(r["Adam"][2] - r["Adagrad"][2]) < abs(r["Adam"][2] - r["RMSprop"][2])
                 for r in sparse_by_seed.values())
    assert (below, closer) == (5, 4)  # the counts notebook 07, section 9, states


def test_rmsprop_with_adams_memory_does_as_well_as_adam(sparse_by_seed):
    """Section 9's ablation: RMSprop with alpha = 0.999 (Adam's memory; no bias correction, no
    momentum), tuned on the same grid: loss below Adam's on 5 of 5 seeds, rare-weight error on
    4 of 5, and below plain RMSprop's in both on 5 of 5."""
    loss = sum(r["RMSprop 0.999"][1] < r["Adam"][1] for r in sparse_by_seed.values())
    rare = sum(r["RMSprop 0.999"][2] < r["Adam"][2] for r in sparse_by_seed.values())
    vs_rmsprop = sum(r["RMSprop 0.999"][1] < r["RMSprop"][1] and r["RMSprop 0.999"][2] < r["RMSprop"][2]
                     for r in sparse_by_seed.values())
    assert (loss, rare, vs_rmsprop) == (5, 4, 5)


# -- section 5's table and the myth "no tuning needed" ------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_steps_are_about_lr_for_steady_gradients_and_shorter_for_noise(seed):
    # c07-scale-free's claim on other seeds: steady coordinates step ≈ η, pure noise far less
    generator = torch.Generator().manual_seed(seed)
    means = torch.tensor([100.0, 1.0, 0.01, 0.0], dtype=torch.float64)
    spreads = torch.tensor([10.0, 0.1, 0.001, 1.0], dtype=torch.float64)
    theta = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=0.01)
    path = []
    for _ in range(500):
        theta.grad = means + spreads * torch.randn(4, generator=generator, dtype=torch.float64)
        optimizer.step()
        path.append(theta.detach().clone())
    path = torch.stack(path)
    steps = (path[100:] - path[99:-1]).abs().mean(dim=0) / 0.01
    assert bool(((steps[:3] > 0.95) & (steps[:3] < 1.05)).all())
    assert steps[3] < 0.3


def test_adams_lr_still_decides_a_factor_of_about_300():
    rosenbrock = landscapes.rosenbrock()
    default = run(rosenbrock, torch.optim.Adam, steps=200, lr=1e-3).final_loss
    best = best_loss(torch.optim.Adam, ADAM_LRS)
    assert 200 < default / best < 500


def _rosenbrock_adam(amsgrad, start, lr=0.1, steps=200):
    """torch.optim.Adam on Rosenbrock: final loss, raw v after each step, the final state."""
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([theta], lr=lr, amsgrad=amsgrad)
    raw_v = []
    for _ in range(steps):
        adam.zero_grad()
        x, y = theta[0], theta[1]
        ((1 - x) ** 2 + 100 * (y - x * x) ** 2).backward()
        adam.step()
        raw_v.append(adam.state[theta]["exp_avg_sq"].clone())
    x, y = theta.detach()
    return float((1 - x) ** 2 + 100 * (y - x * x) ** 2), torch.stack(raw_v), adam.state[theta]


@pytest.mark.parametrize("start", [(-1.2, 1.0), (-1.25, 1.0), (-1.2, 1.05), (-1.15, 0.95),
                                   (-1.2, 0.97)])
def test_amsgrad_holds_the_raw_v_peak_of_about_step_40_not_step_1(start):
    # exercise 7.3's rubric: torch's maximum is of the raw v, which peaks around step 40 on
    # Rosenbrock (the corrected v̂ peaks at step 1); by step 200 it is about 1.16 × Adam's v
    _, raw_v, state = _rosenbrock_adam(True, start)
    peak_step = raw_v.argmax(0) + 1
    assert all(25 <= int(s) <= 60 for s in peak_step)
    corrected = raw_v / (1 - 0.999 ** torch.arange(1, 201, dtype=torch.float64)).unsqueeze(1)
    assert all(int(s) == 1 for s in corrected.argmax(0) + 1)
    assert torch.equal(state["max_exp_avg_sq"], raw_v.max(0).values)
    ratio = state["max_exp_avg_sq"] / raw_v[-1]
    assert all(1.08 < float(r) < 1.25 for r in ratio)
    assert 0.84 < 0.999 ** 160 < 0.86


def test_amsgrad_ends_rosenbrock_slightly_higher_from_the_lecture_start():
    # "AMSGrad ends slightly higher at lr 0.1 (about 1.08 against 1.00)"
    adam, _, _ = _rosenbrock_adam(False, (-1.2, 1.0))
    amsgrad, _, _ = _rosenbrock_adam(True, (-1.2, 1.0))
    assert adam < amsgrad < 1.15 * adam
