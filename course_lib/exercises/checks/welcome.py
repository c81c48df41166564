"""Check 0.1, the practice exercise of ``notebooks/00_welcome.ipynb``.

It exists so the welcome notebook can show a real check (not attempted, wrong with a hint,
passed) without solving an exercise of the course: ``average_gradient(grads)`` returns the
element-wise mean of a list of gradient tensors, which is what a mini-batch gradient is when
each tensor is one sample's gradient.
"""

from __future__ import annotations

import torch

from ._framework import Case, KnownMistake, register


def reference_average_gradient(grads):
    r"""The element-wise mean :math:`\bar g = \frac1n \sum_{i=1}^n g_i` of n same-shaped tensors."""
    return torch.stack(list(grads)).mean(dim=0)


def _summed(grads):
    return torch.stack(list(grads)).sum(dim=0)


def _divided_by_n_minus_1(grads):
    n = len(grads)
    return torch.stack(list(grads)).sum(dim=0) / max(n - 1, 1)


@register(
    "0.1",
    reference=reference_average_gradient,
    mistakes=[
        KnownMistake("summed", _summed,
                     "You added the gradients up. The average also divides by how many there "
                     "are: sum, then / len(grads) (or torch.stack(grads).mean(dim=0))."),
        KnownMistake("n_minus_1", _divided_by_n_minus_1,
                     "You divided by n − 1. That is the correction for an unbiased *variance*; a "
                     "mean divides by n."),
    ],
)
def average_gradient_cases(rng: torch.Generator):
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        for n, shape in [(4, (3,)), (3, (2, 2))]:
            yield Case(f"{n} random gradients of shape {shape} ({name})",
                       grads=[torch.randn(shape, generator=rng, dtype=dtype) for _ in range(n)])
    yield Case("one gradient: the average is the gradient itself",
               grads=[torch.tensor([1.0, -2.0, 3.0])])
    yield Case("two opposite gradients: they cancel",
               grads=[torch.tensor([0.5, 1.5]), torch.tensor([-0.5, -1.5])])
