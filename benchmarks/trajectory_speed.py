"""How long the trajectory runner takes for one 200-step run: the cost of a slider move.

Usage:  .venv/bin/python benchmarks/trajectory_speed.py [--rounds 21] [--steps 200]

Prints a Markdown table (paste it into docs/benchmarks.md, section "Trajectory runner") with the
median wall time of 200 steps on Rosenbrock for Adam and SGD with momentum, course_lib's and
torch's classes, through:

- ``run``: one trajectory (closed-form gradient, Python floats),
- ``run_many`` of 8 runs with the same settings and 8 start points, per trajectory (stacked as
  one (8, 2) parameter),
- a textbook loop (``zero_grad``, ``loss.backward()``, ``step``, ``.tolist()`` per step) as the
  baseline the runner is measured against.

Both wall time and the process's CPU time are reported: on a busy machine wall time includes
waiting for a core, while CPU time stays close to what the run costs on an idle one.

Rounds are interleaved (every case once per round) so that machine load affects all alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import course_lib.optim as course_optim
from course_lib.problems.landscapes import rosenbrock
from course_lib.experiments.trajectories import run, run_many

BATCH = 8


def textbook_loop(landscape, optimizer_cls, steps, **hyperparams):
    theta = torch.tensor(landscape.start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_cls([theta], **hyperparams)
    points = [theta.tolist()]
    for _ in range(steps):
        optimizer.zero_grad()
        landscape(theta).backward()
        optimizer.step()
        points.append(theta.tolist())
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)  # two-number tensors: threads only add overhead
    landscape = rosenbrock()
    starts = np.column_stack([np.linspace(-1.5, 0.5, BATCH), np.linspace(2.0, 0.0, BATCH)])
    settings = {
        "Adam lr=0.05": dict(lr=0.05),
        "SGD lr=1e-3, momentum=0.9": dict(lr=1e-3, momentum=0.9),
    }
    classes = {
        ("Adam lr=0.05", "course_lib"): course_optim.Adam,
        ("Adam lr=0.05", "torch"): torch.optim.Adam,
        ("SGD lr=1e-3, momentum=0.9", "course_lib"): course_optim.SGD,
        ("SGD lr=1e-3, momentum=0.9", "torch"): torch.optim.SGD,
    }
    cases = {}
    for (setting, source), cls in classes.items():
        hyperparams = settings[setting]
        cases[(setting, source, "run")] = (lambda c=cls, h=hyperparams: run(landscape, c, steps=args.steps, **h), 1)
        runs = [(None, cls, hyperparams)] * BATCH
        cases[(setting, source, f"run_many ×{BATCH}, per trajectory")] = (
            lambda r=runs: run_many(landscape, r, start=starts, steps=args.steps),
            BATCH,
        )
        cases[(setting, source, "textbook loop (autograd)")] = (
            lambda c=cls, h=hyperparams: textbook_loop(landscape, c, args.steps, **h),
            1,
        )
    for function, _ in cases.values():  # warm-up: imports, allocator, first-call paths
        function()
    wall = {key: [] for key in cases}
    cpu = {key: [] for key in cases}  # process CPU time: what the run costs when the machine is busy
    for _ in range(args.rounds):
        for key, (function, count) in cases.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[key].append((time.perf_counter() - start_wall) / count)
            cpu[key].append((time.process_time() - start_cpu) / count)

    print(f"{args.steps} steps on Rosenbrock, median of {args.rounds} interleaved rounds, "
          f"torch {torch.__version__}, 1 thread\n")
    print("| optimizer | class | how | ms per trajectory (wall) | ms per trajectory (CPU) |")
    print("|---|---|---|---:|---:|")
    for key in cases:
        setting, source, how = key
        print(f"| {setting} | {source} | {how} | {1e3 * statistics.median(wall[key]):.1f} "
              f"| {1e3 * statistics.median(cpu[key]):.1f} |")


if __name__ == "__main__":
    main()
