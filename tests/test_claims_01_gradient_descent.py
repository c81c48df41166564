"""Notebook 01's claims, and what lectures 01 and 02 must leave open for their exercises.

- The lecture no longer computes the least-squares Hessian 2XᵀX/n (exercise 1.2 derives it), and
  lecture 02 does not state exercise 2.5's mean-square limit at batch size B.
- Exercise 1.3's point: from w = 0 gradient descent can need far fewer steps than the lecture's
  worst-start count ⌈ln tol / ln ρ⌉, measured with torch.optim.SGD on several data sets.
- The Newton cell's correction: an adaptive method's √v is an RMS gradient, not a curvature;
  on the bowl the ratio of the gradient's components changes along a GD path while κ does not.
- Section 6's fixed learning rate 0.3 is below the limit of both models (so GD converges to
  the least-squares fit), for the data seeds 0-5.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.exercises.checks.gradient_descent import (measure_steps_from_zero,
                                                          predicted_steps_from_zero)
from course_lib.problems.landscapes import get_landscape

REPO = Path(__file__).resolve().parents[1]


def _lecture_text(notebook: str) -> str:
    cells = json.loads((REPO / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
    return re.sub(r"\s+", "", "\n".join(parts))


@pytest.mark.parametrize("notebook, patterns", [
    ("01_gradient_descent.ipynb", [r"2\*features\.T@features", r"2\*x\.T@x",
                                   r"\\frac\{?2\}?\{?n\}?X\^", r"XᵀX/n", r"X\^\\topX/n"]),
    ("02_batch_minibatch_sgd.ipynb", [r"Var\(c\)/B", r"\\mathrm\{Var\}\(c\)/B"]),
])
def test_lectures_leave_the_new_exercises_open(notebook, patterns):
    text = _lecture_text(notebook)
    for pattern in patterns:
        assert not re.search(pattern, text), (notebook, pattern)


@pytest.mark.parametrize("seed", range(5))
def test_steps_from_zero_can_be_far_below_the_worst_start_count(seed):
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    x = torch.randn(40, 3, generator=generator, dtype=torch.float64) @ q
    eigenvalues, eigenvectors = torch.linalg.eigh(2 * x.T @ x / 40)
    # w* almost all along the steepest direction, a little along the flattest
    w_star = eigenvectors[:, -1] + 0.01 * eigenvectors[:, 0]
    y = x @ w_star
    lr = 1 / eigenvalues[-1].item()
    rho = (1 - lr * eigenvalues).abs().max().item()
    worst_start = math.ceil(math.log(1e-4) / math.log(rho))
    measured = measure_steps_from_zero(x, y, lr, 1e-4)
    assert abs(measured - predicted_steps_from_zero(x, y, lr, 1e-4)) <= 1
    assert measured < 0.7 * worst_start


def test_rms_gradient_is_not_a_curvature():
    bowl = get_landscape("quadratic", condition_number=10.0)
    theta = torch.tensor(bowl.start, dtype=torch.float64)
    ratios = []
    for _ in range(30):
        grad = bowl.grad(theta)
        ratios.append(abs(grad[0].item()) / abs(grad[1].item()))
        theta = theta - 0.5 * grad
    assert max(ratios) / min(ratios) > 100          # gradient components: ratio changes a lot
    assert bowl.L / bowl.mu == pytest.approx(10.0)  # the curvatures' ratio is fixed


@pytest.mark.parametrize("seed", range(6))
def test_linear_fit_lr_is_below_both_limits(seed):
    generator = torch.Generator().manual_seed(seed)
    x_fit = torch.rand(200, 1, generator=generator, dtype=torch.float64)
    for features in (x_fit, torch.cat([x_fit, torch.ones_like(x_fit)], dim=1)):
        curvature = np.linalg.eigvalsh((2 * features.T @ features / 200).numpy()).max()
        assert 0.3 < 0.95 * 2 / curvature
