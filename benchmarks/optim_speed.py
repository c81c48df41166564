"""How fast is a course_lib optimizer step compared with torch.optim's?

Times one ``optimizer.step()`` on ~8M float32 parameters (a few large matrices plus many small
biases, like a small network) for each course_lib optimizer and for torch.optim's for-loop
(``foreach=False``) and multi-tensor (``foreach=True``) paths, all in one process.

Rounds are interleaved (every implementation of every variant is sampled once per round, in a
rotating order) so that a slow patch of the machine hits all of them alike. A sample is the
fastest of a few back-to-back steps, since other processes can only make a step slower. The
table reports median step times and the median over rounds of the per-round ratio
course_lib / torch. About a minute on a 2-core CPU.

    .venv/bin/python benchmarks/optim_speed.py               # the table in docs/benchmarks.md
    .venv/bin/python benchmarks/optim_speed.py --threads 1   # single-threaded
    .venv/bin/python benchmarks/optim_speed.py --rounds 5    # a quick look
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import course_lib.optim as course_optim

# (label, class name, constructor kwargs). lr values keep 100+ steps on fixed gradients finite.
VARIANTS = [
    ("SGD", "SGD", {"lr": 1e-3}),
    ("SGD momentum", "SGD", {"lr": 1e-3, "momentum": 0.9}),
    ("SGD nesterov", "SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    ("Adagrad", "Adagrad", {"lr": 1e-2}),
    ("Adadelta", "Adadelta", {}),
    ("RMSprop", "RMSprop", {"lr": 1e-3}),
    ("RMSprop centered", "RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.9}),
    ("Adam", "Adam", {"lr": 1e-3}),
    ("Adam amsgrad", "Adam", {"lr": 1e-3, "amsgrad": True}),
    ("AdamW", "AdamW", {"lr": 1e-3, "weight_decay": 1e-2}),
]

IMPLEMENTATIONS = ("course_lib", "torch foreach=False", "torch foreach=True")


def make_template(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """~8M float32 (value, gradient) pairs: three 2048x1024 matrices, one 1024x1536,
    24 biases of 1024 and one scalar, like the layers of a small network."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(2048, 1024)] * 3 + [(1024, 1536)] + [(1024,)] * 24 + [()]
    return [
        (torch.randn(shape, generator=generator), 1e-2 * torch.randn(shape, generator=generator))
        for shape in shapes
    ]


def make_params(template) -> list[torch.Tensor]:
    """A fresh copy of the template's parameters, each with its fixed gradient."""
    params = []
    for value, grad in template:
        param = value.clone().requires_grad_()
        param.grad = grad.clone()
        params.append(param)
    return params


def make_optimizer(implementation: str, class_name: str, kwargs: dict, params):
    if implementation == "course_lib":
        return getattr(course_optim, class_name)(params, **kwargs)
    foreach = implementation == "torch foreach=True"
    return getattr(torch.optim, class_name)(params, foreach=foreach, **kwargs)


def time_step(optimizer, repeats: int) -> float:
    """The fastest of ``repeats`` back-to-back steps: other processes can only slow a step
    down, so the minimum is the least disturbed measurement."""
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        optimizer.step()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="steps per sample, fastest kept (default 3)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch intra-op threads (default: torch's own choice, one per core)",
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    template = make_template()
    numel = sum(value.numel() for value, _ in template)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, {numel / 1e6:.2f}M float32 parameters, "
        f"{args.rounds} interleaved rounds, fastest of {args.repeats} steps per sample"
    )

    # One parameter copy per (variant, implementation), so each keeps its own state.
    optimizers = {}
    for label, class_name, kwargs in VARIANTS:
        for implementation in IMPLEMENTATIONS:
            optimizer = make_optimizer(implementation, class_name, kwargs, make_params(template))
            for _ in range(args.warmup):
                optimizer.step()  # also creates the lazy state, which is not what we time
            optimizers[label, implementation] = optimizer

    seconds = {key: [] for key in optimizers}
    for round_index in range(args.rounds):
        for label, _, _ in VARIANTS:
            # Rotate who goes first, so no implementation always runs on a cold cache.
            shift = round_index % len(IMPLEMENTATIONS)
            for implementation in IMPLEMENTATIONS[shift:] + IMPLEMENTATIONS[:shift]:
                seconds[label, implementation].append(
                    time_step(optimizers[label, implementation], args.repeats)
                )

    def median_ratio(label: str, baseline: str) -> float:
        ours, theirs = seconds[label, "course_lib"], seconds[label, baseline]
        return statistics.median(a / b for a, b in zip(ours, theirs))

    print()
    print("| optimizer | course_lib ms | torch foreach=False ms | torch foreach=True ms "
          "| ratio vs foreach=False | ratio vs foreach=True |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, _ in VARIANTS:
        medians_ms = [1e3 * statistics.median(seconds[label, impl]) for impl in IMPLEMENTATIONS]
        print(
            f"| {label} | {medians_ms[0]:.1f} | {medians_ms[1]:.1f} | {medians_ms[2]:.1f} "
            f"| {median_ratio(label, 'torch foreach=False'):.3f} "
            f"| {median_ratio(label, 'torch foreach=True'):.3f} |"
        )


if __name__ == "__main__":
    main()
