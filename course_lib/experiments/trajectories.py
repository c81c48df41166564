"""Run an optimizer on a 2-D landscape and keep its path: what every slider panel draws.

:func:`run` takes any ``torch.optim.Optimizer`` class (course_lib's or torch's), puts one
parameter θ = (x, y) at the start point and takes ``steps`` optimizer steps, each on the
gradient ∇f(θ) that the landscape computes in closed form:

    for k = 1 … steps:   θ.grad ← ∇f(θ_{k-1});   optimizer.step()   → θ_k

It returns a :class:`Trajectory`: the points θ_0 … θ_n, the losses f(θ_0) … f(θ_n), and whether
(and when) the run diverged. Divergence — a NaN or inf, or |x| or |y| beyond
:data:`DIVERGENCE_BOUND` — ends the path at the last good point; it is reported, never raised,
and the arrays never hold NaN, so a plot of a diverged run still draws.

Everything runs in float64, so rounding is never what a learner sees. Speed matters because this
runs inside slider callbacks: the step loop avoids autograd (closed-form gradient on two Python
floats) and per-step tensor bookkeeping, leaving the optimizer's own ``step()`` as the main cost;
``benchmarks/trajectory_speed.py`` measures it (see docs/benchmarks.md).

:func:`run_many` runs several optimizers at once and batches runs that share an optimizer class
and hyperparameters into one ``(k, 2)`` parameter, which is exact for elementwise optimizers
(all of course_lib's, and torch's SGD/Adam/AdamW/Adagrad/Adadelta/RMSprop/Adamax/NAdam/RAdam/Rprop/ASGD).
"""

from __future__ import annotations

import inspect
import operator
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Trajectory", "run", "run_many", "DIVERGENCE_BOUND", "ELEMENTWISE_TORCH_OPTIMIZERS"]

#: A run "diverges" when |x| or |y| exceeds this (or becomes NaN/inf). Every landscape's window is
#: within ±10, so 1e6 means "ran off" long before float64 overflows.
DIVERGENCE_BOUND = 1e6

#: torch optimizers whose update of each element depends only on that element's own gradient
#: history, so that k runs stacked as one (k, 2) parameter equal k separate runs.
ELEMENTWISE_TORCH_OPTIMIZERS = frozenset(
    {
        torch.optim.SGD,
        torch.optim.Adam,
        torch.optim.AdamW,
        torch.optim.Adagrad,
        torch.optim.Adadelta,
        torch.optim.RMSprop,
        torch.optim.Adamax,
        torch.optim.NAdam,
        torch.optim.RAdam,
        torch.optim.Rprop,
        torch.optim.ASGD,
    }
)

# How often (in steps) a batched run checks whether every row has diverged and it can stop early.
_BATCH_CHECK_EVERY = 25


@dataclass(eq=False)  # arrays inside: compare fields explicitly, not with ==
class Trajectory:
    """One optimizer run on a landscape.

    - ``label``: what a legend shows, e.g. ``"Adam lr=0.1"``.
    - ``path``: ``(n + 1, 2)`` float64 array of the points θ_0 (the start) … θ_n.
    - ``losses``: ``(n + 1,)`` array of f(θ_k) (the noise-free f for a noisy landscape).
    - ``diverged``: whether the run stopped early because θ became NaN/inf or left
      ±:data:`DIVERGENCE_BOUND`; ``diverged_at``: the step k whose θ_k was bad (then n = k - 1),
      or None; ``message``: ``"diverged at step 37"``, or ``""``.
    - ``hyperparams``: the keyword arguments the optimizer was built with.
    """

    label: str
    path: np.ndarray
    losses: np.ndarray
    diverged: bool = False
    diverged_at: int | None = None
    message: str = ""
    hyperparams: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """How many steps the path holds (n)."""
        return len(self.path) - 1

    @property
    def final_point(self) -> np.ndarray:
        """The last good point θ_n."""
        return self.path[-1]

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def outcome(self) -> str:
        """One line for a caption: ``"Adam: loss 1.23e-04"`` or ``"Adam: diverged at step 37"``."""
        if self.diverged:
            return f"{self.label}: {self.message}"
        return f"{self.label}: loss {self.final_loss:.2e}"


# -- argument checks ----------------------------------------------------------------------------


def _check_steps(steps) -> int:
    try:
        if isinstance(steps, bool):
            raise TypeError
        steps = operator.index(steps)
    except TypeError:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}") from None
    if steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    return steps


def _check_points(start, count: int | None) -> torch.Tensor:
    """``start`` as float64 of shape (2,) (``count`` None) or (count, 2) with finite entries."""
    try:
        points = torch.as_tensor(np.asarray(start, dtype=np.float64) if not isinstance(start, torch.Tensor) else start)
        points = points.detach().to(device="cpu", dtype=torch.float64)
    except (TypeError, ValueError):
        raise ValueError(f"start must be a point (x, y) of 2 finite numbers, got {start!r}") from None
    ok_shapes = [(2,)] if count is None else [(2,), (count, 2)]
    if tuple(points.shape) not in ok_shapes:
        wanted = "a point (x, y)" if count is None else f"a point (x, y) or {count} points of shape ({count}, 2)"
        raise ValueError(f"start must be {wanted}, got shape {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        raise ValueError(f"start must hold finite numbers, got {points.tolist()}")
    return points


def _check_optimizer(optimizer_cls, hyperparams: dict) -> None:
    if isinstance(optimizer_cls, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer_cls must be an optimizer class such as torch.optim.Adam, not an instance "
            f"({type(optimizer_cls).__name__}(...)); pass hyperparameters as keyword arguments"
        )
    if not (isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)):
        raise ValueError(f"optimizer_cls must be a torch.optim.Optimizer subclass, got {optimizer_cls!r}")
    parameters = list(inspect.signature(optimizer_cls.__init__).parameters.values())[2:]  # self, params
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    valid = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for name in hyperparams:
        if name not in valid:
            raise TypeError(
                f"{optimizer_cls.__name__} has no hyperparameter {name!r}; "
                f"its hyperparameters are: {', '.join(valid)}"
            )


def _format_value(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, tuple, list)):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    return f"{value:g}"


def default_label(optimizer_cls, hyperparams: dict) -> str:
    """``"Adam lr=0.1, betas=(0.9, 0.99)"``: the class name and the hyperparameters given."""
    settings = ", ".join(f"{name}={_format_value(value)}" for name, value in hyperparams.items())
    return f"{optimizer_cls.__name__} {settings}".strip()


def _needs_closure(optimizer_cls) -> bool:
    """True for optimizers whose ``step`` requires a closure (torch's LBFGS)."""
    closure = inspect.signature(optimizer_cls.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


# -- landscape adapters (course Landscapes, or any differentiable callable on (..., 2)) ------------


def _value_fn(landscape):
    return getattr(landscape, "value", landscape)


def _point_grad_fn(landscape):
    if hasattr(landscape, "point_grad"):
        return landscape.point_grad

    def autograd_point_grad(x, y, dtype=torch.float64):
        xy = torch.tensor([x, y], dtype=dtype, requires_grad=True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(landscape(xy), xy)
        return grad

    return autograd_point_grad


def _batch_grad_fn(landscape):
    if hasattr(landscape, "grad"):
        return landscape.grad

    def autograd_grad(xy):
        xy = xy.detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(landscape(xy).sum(), xy)
        return grad

    return autograd_grad


def _reset(landscape) -> None:
    reset = getattr(landscape, "reset", None)
    if reset is not None:
        reset()


# -- building the result ------------------------------------------------------------------------


def _finish(landscape, points: torch.Tensor, label: str, hyperparams: dict) -> Trajectory:
    """Cut ``points`` (n + 1, 2) at the first bad point or loss and wrap it as a Trajectory."""
    good_point = (points.abs() <= DIVERGENCE_BOUND).all(dim=-1)  # False for NaN and ±inf too
    first_bad = int((~good_point).int().argmax()) if not bool(good_point.all()) else None
    if first_bad is not None:
        points = points[:first_bad]
    with torch.no_grad():
        losses = _value_fn(landscape)(points)
    good_loss = torch.isfinite(losses)
    if not bool(good_loss.all()):
        first_bad_loss = int((~good_loss).int().argmax())
        if first_bad_loss == 0:
            raise ValueError(f"the loss at the start point {points[0].tolist()} is not finite")
        points, losses = points[:first_bad_loss], losses[:first_bad_loss]
        first_bad = first_bad_loss
    return Trajectory(
        label=label,
        path=points.numpy().copy(),
        losses=losses.detach().numpy().copy(),
        diverged=first_bad is not None,
        diverged_at=first_bad,
        message="" if first_bad is None else f"diverged at step {first_bad}",
        hyperparams=dict(hyperparams),
    )


# -- the runners --------------------------------------------------------------------------------


def run(landscape, optimizer_cls, *, start=None, steps: int = 200, label: str | None = None, **hyperparams) -> Trajectory:
    """Run ``optimizer_cls(**hyperparams)`` for ``steps`` steps on ``landscape`` from ``start``.

    ``start`` defaults to ``landscape.start``; ``label`` to ``"<Class> name=value, …"``. Noisy
    landscapes are reset to their seed first, so the same call gives the same trajectory.
    Unknown hyperparameter names raise a TypeError listing the optimizer's hyperparameters; bad
    ``start``/``steps`` raise ValueError. Divergence never raises: see :class:`Trajectory`.

    >>> import torch
    >>> from course_lib.problems.landscapes import quadratic
    >>> run(quadratic(), torch.optim.SGD, lr=0.5, steps=3).path.shape
    (4, 2)
    """
    steps = _check_steps(steps)
    _check_optimizer(optimizer_cls, hyperparams)
    start_point = _check_points(landscape.start if start is None else start, None)
    label = default_label(optimizer_cls, hyperparams) if label is None else str(label)
    point_grad = _point_grad_fn(landscape)
    _reset(landscape)

    theta = start_point.clone().requires_grad_(True)
    optimizer = optimizer_cls([theta], **hyperparams)
    x, y = start_point.tolist()
    points = [(x, y)]
    if _needs_closure(optimizer_cls):
        value = _value_fn(landscape)

        def closure():
            # Called by the optimizer (possibly several times a step) at its current θ.
            x_now, y_now = theta.tolist()
            theta.grad = point_grad(x_now, y_now)
            return value(theta.detach())

        def take_step():
            optimizer.step(closure)

    else:

        def take_step():
            theta.grad = point_grad(x, y)
            optimizer.step()

    with torch.no_grad():
        for _ in range(steps):
            take_step()
            # Python floats: the next gradient and the path both use them. (Read θ itself, not a
            # numpy view of it: an optimizer may rebind ``p.data`` instead of updating in place.)
            x, y = theta.tolist()
            points.append((x, y))
            if not (abs(x) <= DIVERGENCE_BOUND and abs(y) <= DIVERGENCE_BOUND):  # also NaN
                break
    return _finish(landscape, torch.tensor(points, dtype=torch.float64), label, hyperparams)


def _is_elementwise(optimizer_cls) -> bool:
    return optimizer_cls in ELEMENTWISE_TORCH_OPTIMIZERS or optimizer_cls.__module__.startswith("course_lib.optim")


def _run_batch(landscape, optimizer_cls, hyperparams: dict, starts: torch.Tensor, steps: int) -> torch.Tensor:
    """Run one optimizer on a (k, 2) parameter; return the points, shape (steps_done + 1, k, 2)."""
    batch_grad = _batch_grad_fn(landscape)
    theta = starts.clone().requires_grad_(True)
    optimizer = optimizer_cls([theta], **hyperparams)
    points = torch.empty(steps + 1, *starts.shape, dtype=torch.float64)
    points[0] = starts
    done = 0
    with torch.no_grad():
        for step in range(1, steps + 1):
            theta.grad = batch_grad(theta.detach())
            optimizer.step()
            points[step] = theta
            done = step
            # Rows that diverged keep stepping harmlessly (NaN in, NaN out); stop once all have.
            if step % _BATCH_CHECK_EVERY == 0 and not bool((theta.abs() <= DIVERGENCE_BOUND).any()):
                break
    return points[: done + 1]


def run_many(landscape, runs, *, start=None, steps: int = 200) -> list[Trajectory]:
    """Run several optimizers on one landscape; return their Trajectories in the order given.

    ``runs`` is a list of ``(label, optimizer_cls, hyperparams)`` (``label`` may be None,
    ``hyperparams`` a dict, or omitted). ``start`` is one point for all runs (default
    ``landscape.start``) or one point per run, shape ``(len(runs), 2)``.

    Runs that share an elementwise optimizer class and equal hyperparameters are stacked into
    one ``(k, 2)`` parameter and stepped together, which equals running them one by one (each
    element's update depends only on its own gradients) and costs about one run. On a noisy
    landscape the noise is reset before each such group, and the stacked runs draw independent
    noise, so several runs with the same settings show the spread that noise causes.
    """
    steps = _check_steps(steps)
    specs = []
    for index, spec in enumerate(runs):
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(f"runs[{index}] must be (label, optimizer_cls, hyperparams), got {spec!r}")
        label, optimizer_cls, hyperparams = (*spec, {}) if len(spec) == 2 else spec
        hyperparams = dict(hyperparams or {})
        _check_optimizer(optimizer_cls, hyperparams)
        label = default_label(optimizer_cls, hyperparams) if label is None else str(label)
        specs.append((label, optimizer_cls, hyperparams))
    if not specs:
        return []
    starts = _check_points(landscape.start if start is None else start, len(specs))
    if starts.ndim == 1:
        starts = starts.expand(len(specs), 2)

    groups: dict = {}  # (class, hyperparameters) -> indices into specs
    for index, (_, optimizer_cls, hyperparams) in enumerate(specs):
        key = (optimizer_cls, repr(sorted(hyperparams.items()))) if _is_elementwise(optimizer_cls) else index
        groups.setdefault(key, []).append(index)

    results: list[Trajectory | None] = [None] * len(specs)
    for indices in groups.values():
        label, optimizer_cls, hyperparams = specs[indices[0]]
        if len(indices) == 1:
            results[indices[0]] = run(
                landscape, optimizer_cls, start=starts[indices[0]], steps=steps, label=label, **hyperparams
            )
            continue
        _reset(landscape)
        points = _run_batch(landscape, optimizer_cls, hyperparams, starts[indices].contiguous(), steps)
        for row, index in enumerate(indices):
            results[index] = _finish(landscape, points[:, row], specs[index][0], specs[index][2])
    return results
