"""The shared machinery behind every course_lib optimizer.

Each optimizer in this package is two pieces:

* a pure per-tensor update function (``sgd_update``, ``adam_update``, ...) holding the math, and
* a thin :class:`CourseOptimizer` subclass that says how to build a fresh ``state`` for one
  parameter (:meth:`CourseOptimizer.init_state`) and how to call the update function with a
  param group's hyperparameters (:meth:`CourseOptimizer.update_param`).

Everything else, the loop over ``param_groups``, skipping parameters without a gradient, lazy
state creation, running the closure with gradients enabled, lives here once.

The validation helpers raise ``ValueError`` with exactly torch 2.13's wording, so a message a
learner sees from course_lib is the one they would search for in torch's documentation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = [
    "CourseOptimizer",
    "new_step_counter",
    "check_float_hyperparameter",
    "check_non_negative",
    "check_in_closed_unit_interval",
    "check_beta",
    "check_betas_are_floats",
]


def new_step_counter(device: torch.device | str | None = None) -> Tensor:
    """A fresh step count ``t = 0``, stored exactly as torch stores ``state["step"]``.

    torch keeps the step as a 0-dim float tensor (float64 when the default dtype is float64,
    else float32) on the CPU, so that ``optimizer.state_dict()`` from course_lib and from
    torch.optim hold the same types and can be loaded into each other.
    """
    scalar_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(0.0, dtype=scalar_dtype, device=device)


def check_float_hyperparameter(value: Any, name: str) -> None:
    """Reject a Tensor hyperparameter: course_lib keeps only torch's plain-float path."""
    if isinstance(value, Tensor):
        raise ValueError(
            f"course_lib optimizers take {name} as a Python float, got a Tensor; "
            f"use {name}={float(value) if value.numel() == 1 else '<a float>'} instead"
        )


def check_non_negative(value: float, message_name: str) -> None:
    """Raise ``ValueError("Invalid {message_name}: {value}")`` unless ``0 <= value``.

    ``message_name`` is torch's wording, e.g. ``"learning rate"``, ``"epsilon value"``,
    ``"weight_decay value"``. Written as ``not 0.0 <= value`` (like torch) so NaN is rejected too.
    """
    if not 0.0 <= value:
        raise ValueError(f"Invalid {message_name}: {value}")


def check_in_closed_unit_interval(value: float, message_name: str) -> None:
    """Raise ``ValueError("Invalid {message_name}: {value}")`` unless ``0 <= value <= 1``."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid {message_name}: {value}")


def check_beta(betas: tuple[float, float]) -> None:
    """Validate Adam's ``betas = (beta1, beta2)``: each must lie in ``[0, 1)``."""
    for index, beta in enumerate(betas):
        check_float_hyperparameter(beta, f"betas[{index}]")
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def check_betas_are_floats(betas: tuple[float, float]) -> None:
    """torch's last Adam check: ``betas=(0, 0.999)`` (an int) is refused with this message."""
    if not all(isinstance(beta, float) for beta in betas):
        raise ValueError("betas must be either both floats or both Tensors")


class CourseOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose math lives in a pure per-tensor update function.

    Subclasses validate their arguments, call ``super().__init__(params, defaults)`` and
    implement two small methods:

    * ``init_state(param, group) -> dict``: the fresh ``state`` of one parameter
      (e.g. ``adam_init(param, amsgrad=group["amsgrad"])``);
    * ``update_param(param, grad, state, group) -> None``: one in-place update of ``param``
      and ``state`` (e.g. ``adam_update(param, grad, state, lr=group["lr"], ...)``).

    :meth:`step` does the rest, in torch's order: run the closure (with gradients enabled),
    then for every group and every parameter that has a ``.grad``, create its state on first
    use and apply the update. Parameters whose ``.grad`` is None are left untouched and get no
    state, as in torch.
    """

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """Return the fresh per-parameter state (``{}`` when the algorithm starts stateless)."""
        raise NotImplementedError

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update ``param`` and ``state`` in place from ``grad`` with ``group``'s hyperparameters."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step and return the closure's loss (None without closure).

        Args:
            closure: optional callable that re-evaluates the model (zeroing and recomputing the
                gradients) and returns the loss. It runs with gradients enabled even though the
                update itself runs under ``torch.no_grad()``.
        """
        loss = None
        if closure is not None:
            # step() is decorated with no_grad; the closure must still build a graph.
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise ValueError(
                        f"{type(self).__name__} in course_lib does not support sparse gradients"
                    )
                # Lazy init on first use (len == 0 is torch's test: a state loaded from a
                # state_dict, or created eagerly as Adagrad does, is kept).
                state = self.state.get(param)
                if not state:
                    state = self.init_state(param, group)
                self.update_param(param, grad, state, group)
                # SGD without momentum keeps no state; torch then stores no entry either.
                if state:
                    self.state[param] = state
        return loss

