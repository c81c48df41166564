"""How fast is a course_lib optimizer step compared with torch.optim's?

Times one ``optimizer.step()`` on ~8M float32 parameters (a few large matrices plus many small
biases, like a small network) for each course_lib optimizer and for torch.optim's for-loop
(``foreach=False``) and multi-tensor (``foreach=True``) paths, all in one process.

For each variant, rounds are interleaved (every implementation is sampled once per round, in
a rotating order) so that a slow patch of the machine hits all of them alike. A sample is the
fastest of a few back-to-back steps, since other processes can only make a step slower. The
table reports median step times and the median over rounds of the per-round ratio
course_lib / torch (torch's for-loop optimizer is built twice, before and after course_lib's;
the ratio of its two copies is the noise floor of the measurement). About 40 s on an idle
2-core CPU, longer on a busy one.

    .venv/bin/python benchmarks/optim_speed.py               # the table in docs/benchmarks.md
    .venv/bin/python benchmarks/optim_speed.py --threads 1   # single-threaded
    .venv/bin/python benchmarks/optim_speed.py --steady-allocator  # no heap trimming: arithmetic only
    .venv/bin/python benchmarks/optim_speed.py --rounds 5    # a quick look
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
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

# Created in this order. torch's for-loop optimizer is built twice, once before and once after
# course_lib's, because where an optimizer's tensors land in memory shifts its speed by a few
# percent: course_lib is compared with the geometric mean of the two copies, and the ratio of
# the copies to each other (identical code) is the noise floor of the measurement.
LOOP_BEFORE, LOOP_AFTER = "torch foreach=False (1st copy)", "torch foreach=False (2nd copy)"
IMPLEMENTATIONS = (LOOP_BEFORE, "course_lib", LOOP_AFTER, "torch foreach=True")


def use_steady_allocator() -> bool:
    """Stop glibc from handing freed memory back to the OS between steps.

    By default glibc returns a large freed block at the top of the heap to the OS (trim) and
    serves big requests with fresh mmap()s; the next step's temporaries then page-fault on
    fresh memory. Whether that happens depends on the exact order in which a step frees its
    8 MB temporaries, so two implementations with the same arithmetic can differ by +-40% from
    run to run. With trimming off and mmap() kept for >32 MB blocks, every step reuses the same
    memory and the comparison measures the arithmetic. Returns False where this is not glibc.
    """
    libc_path = ctypes.util.find_library("c")
    if libc_path is None or platform.system() != "Linux":
        return False
    libc = ctypes.CDLL(libc_path)
    m_trim_threshold, m_mmap_threshold = -1, -3  # constants from <malloc.h>
    return bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(
        libc.mallopt(m_mmap_threshold, 32 << 20)
    )


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
    parser.add_argument("--rounds", type=int, default=31, help="timed rounds (default 31)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="steps per sample, fastest kept (default 3)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch intra-op threads (default: torch's own choice, one per core)",
    )
    parser.add_argument(
        "--steady-allocator", action="store_true",
        help="turn off glibc's heap trimming, so page faults do not blur the comparison",
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    allocator = "glibc default"
    if args.steady_allocator:
        allocator = "steady (no trim)" if use_steady_allocator() else "default (mallopt unavailable)"

    template = make_template()
    numel = sum(value.numel() for value, _ in template)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, {numel / 1e6:.2f}M float32 parameters, "
        f"{args.rounds} interleaved rounds, fastest of {args.repeats} steps per sample, "
        f"allocator: {allocator}"
    )

    # Variant by variant, so the process holds only the three optimizers being compared (as
    # a training process holds one), each with its own parameter copy and state.
    seconds = {}
    for label, class_name, kwargs in VARIANTS:
        optimizers = {}
        for implementation in IMPLEMENTATIONS:
            optimizer = make_optimizer(implementation, class_name, kwargs, make_params(template))
            for _ in range(args.warmup):
                optimizer.step()  # also creates the lazy state, which is not what we time
            optimizers[implementation] = optimizer
            seconds[label, implementation] = []
        for round_index in range(args.rounds):
            # Rotate who goes first, so no implementation always follows the same one.
            shift = round_index % len(IMPLEMENTATIONS)
            for implementation in IMPLEMENTATIONS[shift:] + IMPLEMENTATIONS[:shift]:
                seconds[label, implementation].append(
                    time_step(optimizers[implementation], args.repeats)
                )
        del optimizers

    def median_ratio(label: str, measured: str, baseline: str) -> float:
        pairs = zip(seconds[label, measured], seconds[label, baseline])
        return statistics.median(a / b for a, b in pairs)

    for label, _, _ in VARIANTS:
        # Per round, torch's for-loop time is the geometric mean of its two copies.
        seconds[label, "torch foreach=False"] = [
            (before * after) ** 0.5
            for before, after in zip(seconds[label, LOOP_BEFORE], seconds[label, LOOP_AFTER])
        ]

    print()
    print("| optimizer | course_lib ms | torch foreach=False ms | torch foreach=True ms "
          "| course_lib / foreach=False | course_lib / foreach=True "
          "| noise: 2nd / 1st torch copy |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, _, _ in VARIANTS:
        medians_ms = [
            1e3 * statistics.median(seconds[label, impl])
            for impl in ("course_lib", "torch foreach=False", "torch foreach=True")
        ]
        print(
            f"| {label} | {medians_ms[0]:.1f} | {medians_ms[1]:.1f} | {medians_ms[2]:.1f} "
            f"| {median_ratio(label, 'course_lib', 'torch foreach=False'):.3f} "
            f"| {median_ratio(label, 'course_lib', 'torch foreach=True'):.3f} "
            f"| {median_ratio(label, LOOP_AFTER, LOOP_BEFORE):.3f} |"
        )


if __name__ == "__main__":
    main()
