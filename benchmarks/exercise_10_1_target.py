"""Where exercise 10.1's target comes from: constant learning rates against schedules at batch 8.

    .venv/bin/python benchmarks/exercise_10_1_target.py            # 30 seeds, about 2 minutes
    .venv/bin/python benchmarks/exercise_10_1_target.py --seeds 10

Each recipe trains notebook 10's digits network for exercise 10.1's budget (3 epochs of batch 8,
``optimizer_race.train_digits_net``) from seeds 0 … N-1 and records the validation loss. The
check scores the median of 5 networks from consecutive seeds, so the script prints, for every
window of 5 consecutive seeds, the smallest and largest median, and how many windows reach the
target. A constant lr must miss on every window and the check's reference must reach it on every
window, with room on both sides (docs/benchmarks.md, "Exercise 10.1's target").
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.exercises.checks import choosing_an_optimizer as checks10  # noqa: E402
from course_lib.experiments import optimizer_race  # noqa: E402


def constant(cls, lr, **kwargs):
    def make_optimizer(params, *, steps_per_epoch, epochs):
        return cls(params, lr=lr, **kwargs), None
    return make_optimizer


def warmup_cosine_adamw(peak):
    def make_optimizer(params, *, steps_per_epoch, epochs):
        optimizer = torch.optim.AdamW(params, lr=peak)
        total = steps_per_epoch * epochs
        warmup = total // 10

        def factor(step):
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return make_optimizer


def one_cycle(peak):
    def make_optimizer(params, *, steps_per_epoch, epochs):
        optimizer = torch.optim.Adam(params, lr=peak)
        # OneCycleLR's default cycle_momentum=True also cycles Adam's β₁ (between
        # base_momentum 0.85 and max_momentum 0.95, opposite to the lr): this recipe changes β₁ too
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peak, total_steps=steps_per_epoch * epochs)
    return make_optimizer


RECIPES = {
    "reference: Adam 0.0316, warmup + linear": checks10.reference_make_optimizer,
    "AdamW 0.0316, warmup + cosine": warmup_cosine_adamw(0.0316),
    "Adam one-cycle 0.03": one_cycle(0.03),
    **{f"Adam constant {lr}": constant(torch.optim.Adam, lr) for lr in (0.0056, 0.01, 0.0178, 0.0316)},
    **{f"SGD+momentum constant {lr}": constant(torch.optim.SGD, lr, momentum=0.9)
       for lr in (0.0178, 0.0316, 0.056, 0.316)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    seeds = parser.parse_args().seeds
    window = checks10.NETWORKS
    budget = SimpleNamespace(epochs=checks10.BUDGET.epochs)
    print(f"target: median of {window} validation losses <= {checks10.TARGET_LOSS}, "
          f"{budget.epochs} epochs of batch {optimizer_race.SMALL_BATCH_SIZE}, seeds 0-{seeds - 1}")
    print("| recipe | per seed: median (min-max) | median of 5: min-max | windows reaching |")
    print("|---|---|---|---|")
    for name, recipe in RECIPES.items():
        losses = np.array([checks10.validation_loss(
            optimizer_race.train_digits_net(recipe, seed=seed, budget=budget,
                                            batch_size=optimizer_race.SMALL_BATCH_SIZE), seed=seed)
            for seed in range(seeds)])
        medians = np.array([np.median(losses[k:k + window]) for k in range(seeds - window + 1)])
        reached = int(np.sum(medians <= checks10.TARGET_LOSS))
        print(f"| {name} | {np.median(losses):.3f} ({losses.min():.3f}-{losses.max():.3f}) "
              f"| {medians.min():.3f}-{medians.max():.3f} | {reached} of {len(medians)} |", flush=True)


if __name__ == "__main__":
    main()
