r"""The toy regression task of notebook 02: full-batch GD, mini-batch SGD and single-sample SGD.

The task: :math:`y = x^2 + 0.1\,\varepsilon` with :math:`x \sim U[-1, 1]` and
:math:`\varepsilon \sim \mathcal N(0, 1)`, ``n = 1000`` points generated from a seed (nothing is
downloaded), fitted by a 1-20-1 tanh MLP under the mean squared error

.. math::

    f(\theta) = \frac{1}{N}\sum_{i=1}^{N} \ell_i(\theta), \qquad
    \ell_i(\theta) = \bigl(\hat y_\theta(x_i) - y_i\bigr)^2 .

One **update** is one optimizer step on the mean loss of one mini-batch :math:`\mathcal B`
of :math:`B` = ``batch_size`` indices:

.. math::

    g_{\mathcal B} = \frac{1}{B}\sum_{i\in\mathcal B} \nabla \ell_i(\theta), \qquad
    \theta \leftarrow \theta - \eta\, g_{\mathcal B}.

``batch_size = n`` is full-batch gradient descent, ``batch_size = 1`` single-sample SGD, anything
in between mini-batch SGD. Each epoch visits every sample exactly once, in a fresh seeded order
(sampling *without* replacement, as ``DataLoader(shuffle=True)`` does).

Gradient noise. With per-sample gradients :math:`g_i = \nabla\ell_i(\theta)`, their mean
:math:`\bar g = \nabla f(\theta)` and their population variance
:math:`\sigma^2 = \frac1N\sum_i \lVert g_i - \bar g\rVert^2`, a batch of :math:`B` distinct
indices drawn uniformly without replacement gives

.. math::

    \mathbb E\,\lVert g_{\mathcal B} - \bar g\rVert^2 = \frac{\sigma^2}{B}\cdot\frac{N-B}{N-1},

and drawn *with* replacement it gives :math:`\sigma^2 / B`. The factor :math:`(N-B)/(N-1)` is the
finite-population correction: it makes the noise exactly zero at :math:`B = N`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "make_data",
    "make_mlp",
    "minibatch_indices",
    "updates_per_epoch",
    "full_data_loss",
    "TrainingRun",
    "train",
    "train_learning_rates",
    "train_lr_grid",
    "updates_to_reach",
    "per_sample_gradients",
    "minibatch_gradient_variance",
    "sampled_gradient_variance",
    "full_data_hessian",
    "sharpness",
    "BATCH_SIZE_CHOICES",
    "single_threaded",
]

# Log-spaced batch sizes from single-sample SGD (1) to full batch (1000), the panel's choices.
BATCH_SIZE_CHOICES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

# Added to the seed of sampled_gradient_variance's generator, so it never replays make_data's.
_SAMPLING_SEED_OFFSET = 1_000_003

# A loss this many times the initial one counts as diverged: the run has left the data behind
# and would reach inf a few updates later.
DIVERGENCE_FACTOR = 1e6


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_data_and_batch(x, y, batch_size) -> int:
    """The number of samples ``n``, after checking ``x``, ``y`` and ``1 <= batch_size <= n``."""
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
    _check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size must be at most the number of samples n={n}, got {batch_size}")
    return n


@contextlib.contextmanager
def single_threaded():
    """Run torch on one thread inside the block, then restore the thread count.

    A 1-20-1 MLP's tensors are far too small to split across threads: on a busy 2-core machine
    the hand-offs between threads made each update about 10 times slower than one thread.
    """
    # torch.set_num_threads sets the calling thread's OpenMP thread count: save and restore it
    # per call, so a thread that enters this block never changes another thread's count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def make_data(n: int = 1000, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    r"""The noisy parabola :math:`y = x^2 + \text{noise}\cdot\varepsilon`, ``x`` uniform on [-1, 1].

    Args:
        n: number of points :math:`N`.
        noise: standard deviation of the additive Gaussian noise (0.1 in the course).
        seed: seed of the private generator, so the global torch RNG is left alone.

    Returns:
        ``(x, y)``, two float32 tensors of shape ``(n, 1)`` (the layout ``nn.Linear`` expects).
    """
    _check_positive_int("n", n)
    if not noise >= 0.0:
        raise ValueError(f"noise must be a non-negative standard deviation, got {noise!r}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=generator) * 2.0 - 1.0
    y = x**2 + noise * torch.randn(n, 1, generator=generator)
    return x, y


def make_mlp(hidden: int = 20, seed: int = 0) -> nn.Sequential:
    """A 1-``hidden``-1 MLP with a tanh hidden layer and torch's default ``nn.Linear`` init.

    tanh rather than ReLU: the loss is smooth, so the differences between runs come from the
    batch size and not from kinks, and with only 20 units a ReLU net can lose units for good
    ("dead" ReLUs after one large single-sample step), which would blur the comparison.
    The seed is used inside ``torch.random.fork_rng`` so the global RNG is not disturbed.
    """
    _check_positive_int("hidden", hidden)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def minibatch_indices(
    n: int, batch_size: int, *, epochs: int = 1, seed: int = 0, drop_last: bool = False
) -> Iterator[Tensor]:
    """Yield mini-batches of sample indices: every index exactly once per epoch, reshuffled each epoch.

    One generator is seeded once; each epoch draws a fresh permutation of ``range(n)`` from it
    and cuts it into consecutive batches of ``batch_size``. The last batch of an epoch holds the
    remaining ``n % batch_size`` indices; it is skipped when ``drop_last`` is true.

    This is exactly the index order of ``BatchSampler(SubsetRandomSampler(range(n),
    generator=torch.Generator().manual_seed(seed)), batch_size, drop_last)``. Its first epoch
    is also that of ``RandomSampler`` (what ``DataLoader(shuffle=True)`` uses); later epochs
    differ only because ``RandomSampler`` draws and discards one extra permutation per pass.

    Yields:
        1-D int64 tensors of indices.
    """
    _check_positive_int("n", n)
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("epochs", epochs)
    generator = torch.Generator().manual_seed(seed)  # seeded once: each epoch gets a new order
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            if drop_last and len(batch) < batch_size:
                break
            yield batch


def updates_per_epoch(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """Optimizer updates in one epoch: ``ceil(n / batch_size)``, or ``n // batch_size`` with drop_last."""
    _check_positive_int("n", n)
    _check_positive_int("batch_size", batch_size)
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def full_data_loss(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """The full-data mean squared error :math:`L(\\theta)`, one vectorised forward pass."""
    with torch.no_grad():
        return float(nn.functional.mse_loss(model(x), y))


@dataclass
class TrainingRun:
    """What ``train`` records, one entry per evaluation of the full-data loss.

    ``updates[k]`` optimizer steps and ``samples_seen[k]`` training examples (summed batch
    lengths) had been used when the full-data loss was ``losses[k]``; ``epochs[k]`` is
    ``samples_seen[k] / n``. Entry 0 is the initial model (0 updates). ``diverged_at`` is the
    update at which the full-data loss first was inf, NaN or above ``DIVERGENCE_FACTOR`` times
    the initial loss (training stops there), else None.
    """

    label: str
    batch_size: int
    lr: float
    updates: np.ndarray
    samples_seen: np.ndarray
    epochs: np.ndarray
    losses: np.ndarray
    diverged_at: int | None = None

    @property
    def message(self) -> str:
        """"diverged at update 37" for a run that blew up, else ""."""
        return "" if self.diverged_at is None else f"diverged at update {self.diverged_at}"


def train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int,
    lr: float,
    epochs: int | None = None,
    updates: int | None = None,
    eval_every: int | str = 1,
    seed: int = 0,
    drop_last: bool = False,
    optimizer_cls: type[torch.optim.Optimizer] | None = None,
    label: str | None = None,
    target_loss: float | None = None,
) -> TrainingRun:
    """Train ``model`` in place with (mini-batch) SGD and record the full-data loss.

    The budget is either ``epochs`` (passes over the data) or ``updates`` (optimizer steps),
    exactly one of them. Batches come from ``minibatch_indices(n, batch_size, seed=seed,
    drop_last=drop_last)``. The full-data loss is evaluated before training, every
    ``eval_every`` updates (``"log"``: at about 60 log-spaced update counts, for log-scale
    plots) and after the last update; evaluating it after every update would cost more than
    training with small batches. A run whose loss becomes inf, NaN or huge stops at that
    evaluation and records ``diverged_at``; it never raises.

    Args:
        model: the network, trained in place (e.g. ``make_mlp()``).
        x, y: the data, shapes ``(n, 1)``.
        batch_size: :math:`B`; ``n`` is full-batch GD, 1 is single-sample SGD.
        lr: learning rate :math:`\\eta`.
        optimizer_cls: a ``torch.optim.Optimizer`` class built as ``optimizer_cls(params, lr=lr)``;
            default ``course_lib.optim.SGD`` (``torch.optim.SGD`` gives the same numbers).
        label: the run's name on plots; default ``"B = {batch_size}"``.
        target_loss: when given, stop at the first evaluation whose full-data loss is
            ``<= target_loss`` (the budget is then an upper limit).
    """
    n = _check_data_and_batch(x, y, batch_size)
    if not lr > 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    total_updates = _total_updates(n, batch_size, epochs, updates, drop_last)
    evaluate_at = _evaluation_points(total_updates, eval_every)
    if optimizer_cls is None:
        from course_lib.optim import SGD as optimizer_cls
    optimizer = optimizer_cls(model.parameters(), lr=lr)
    epochs_needed = math.ceil(total_updates / updates_per_epoch(n, batch_size, drop_last=drop_last))
    batches = minibatch_indices(n, batch_size, epochs=epochs_needed, seed=seed, drop_last=drop_last)

    with single_threaded():
        return _train_loop(model, x, y, optimizer, batches, total_updates=total_updates,
                           evaluate_at=evaluate_at, target_loss=target_loss,
                           batch_size=batch_size, lr=lr, label=label)


def _total_updates(n: int, batch_size: int, epochs, updates, drop_last: bool) -> int:
    """The budget in optimizer steps, from exactly one of ``epochs`` and ``updates``."""
    if (epochs is None) == (updates is None):
        raise ValueError("give exactly one budget: epochs=... or updates=...")
    if epochs is not None:
        _check_positive_int("epochs", epochs)
        return epochs * updates_per_epoch(n, batch_size, drop_last=drop_last)
    _check_positive_int("updates", updates)
    return updates


def _evaluation_points(total_updates: int, eval_every: int | str) -> set[int]:
    """The update counts after which ``train`` evaluates the full-data loss (the last always)."""
    if eval_every == "log":
        evaluate_at = set(np.unique(np.geomspace(1, total_updates, 60).round().astype(int)).tolist())
    else:
        if isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) or eval_every < 1:
            raise ValueError(f'eval_every must be a positive integer or "log", got {eval_every!r}')
        evaluate_at = set(range(eval_every, total_updates + 1, eval_every))
    evaluate_at.add(total_updates)
    return evaluate_at


def _train_loop(model, x, y, optimizer, batches, *, total_updates, evaluate_at, target_loss,
                batch_size, lr, label) -> TrainingRun:
    n = len(x)
    recorded_updates, recorded_samples, recorded_losses = [0], [0], [full_data_loss(model, x, y)]
    if target_loss is not None and recorded_losses[0] <= target_loss:
        batches = iter(())  # already there: no update to make
    samples_seen = 0
    diverged_at = None
    for update, batch in enumerate(batches, start=1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        samples_seen += len(batch)
        if update in evaluate_at:
            recorded_updates.append(update)
            recorded_samples.append(samples_seen)
            recorded_losses.append(full_data_loss(model, x, y))
            if not recorded_losses[-1] <= DIVERGENCE_FACTOR * recorded_losses[0]:  # inf, NaN or huge
                diverged_at = update
                break
            if target_loss is not None and recorded_losses[-1] <= target_loss:
                break
        if update == total_updates:
            break
    samples = np.array(recorded_samples, dtype=np.int64)
    return TrainingRun(
        label=f"B = {batch_size}" if label is None else label,
        batch_size=batch_size,
        lr=float(lr),
        updates=np.array(recorded_updates, dtype=np.int64),
        samples_seen=samples,
        epochs=samples / n,
        losses=np.array(recorded_losses, dtype=np.float64),
        diverged_at=diverged_at,
    )


def train_learning_rates(
    model: nn.Sequential,
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int,
    lrs,
    epochs: int | None = None,
    updates: int | None = None,
    eval_every: int | str = 1,
    seed: int = 0,
    drop_last: bool = False,
    label: str | None = None,
) -> list[TrainingRun]:
    r"""``[train(copy.deepcopy(model), x, y, lr=lr, ...) for lr in lrs]``, trained all at once.

    The batches depend on ``seed`` and ``batch_size`` only, never on the learning rate, so the
    :math:`M` = ``len(lrs)`` runs see the same batches in the same order. They are trained as
    one stacked model: every ``nn.Linear`` weight :math:`W` (``out × in``) becomes a tensor of
    shape ``(M, out, in)`` (copy ``m`` of the starting weights for learning rate
    :math:`\eta_m`), one batched matrix product computes all :math:`M` outputs, and the gradient
    of :math:`\sum_m L_{\mathcal B}(\theta_m)` is, for copy ``m``, the gradient of its own
    batch loss, so each copy takes exactly its own SGD step
    :math:`\theta_m \leftarrow \theta_m - \eta_m\, g_{\mathcal B}(\theta_m)`. The full-data loss
    is evaluated at the same updates as ``train`` (``eval_every``), and a copy whose loss is inf,
    NaN or above ``DIVERGENCE_FACTOR`` times its initial loss stops there (``diverged_at``) while
    the others go on. One stacked run costs about the Python overhead of one ``train`` call.

    The numbers equal ``train``'s up to float32 rounding (the batched products add in another
    order): ``tests/test_toy_regression.py`` checks the losses and divergence updates against
    separate ``train`` calls. ``model`` is not modified; it must be an ``nn.Sequential`` of
    ``nn.Linear`` layers and parameter-free elementwise activations (like ``make_mlp()``).

    Returns:
        one ``TrainingRun`` per learning rate, in the order of ``lrs``.
    """
    n = _check_data_and_batch(x, y, batch_size)
    lrs = [float(lr) for lr in lrs]
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    for lr in lrs:
        if not lr > 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
    params = _stacked_mlp(model, len(lrs))
    total_updates = _total_updates(n, batch_size, epochs, updates, drop_last)
    evaluate_at = _evaluation_points(total_updates, eval_every)
    epochs_needed = math.ceil(total_updates / updates_per_epoch(n, batch_size, drop_last=drop_last))
    batches = minibatch_indices(n, batch_size, epochs=epochs_needed, seed=seed, drop_last=drop_last)
    with single_threaded():
        records = _train_stacked(params, x, y, lrs, batches, total_updates, evaluate_at)
    runs = []
    for lr, (recorded_updates, recorded_samples, recorded_losses, diverged_at) in zip(lrs, records):
        samples = np.array(recorded_samples, dtype=np.int64)
        runs.append(TrainingRun(
            label=f"B = {batch_size}" if label is None else label,
            batch_size=batch_size,
            lr=lr,
            updates=np.array(recorded_updates, dtype=np.int64),
            samples_seen=samples,
            epochs=samples / n,
            losses=np.array(recorded_losses, dtype=np.float64),
            diverged_at=diverged_at,
        ))
    return runs


def train_lr_grid(x: Tensor, y: Tensor, *, batch_size: int, lrs, updates: int,
                  seed: int) -> list[TrainingRun]:
    """Every lr of ``lrs`` at ``batch_size`` from ``make_mlp(seed=seed)``, as one stacked run.

    The batch-size panel's unit of work (notebook 02), also what its background worker runs:
    a module-level function of plain data, so it can be sent to another process.
    """
    return train_learning_rates(make_mlp(seed=seed), x, y, batch_size=batch_size, lrs=lrs,
                                updates=updates, eval_every="log", seed=seed)


def _stacked_mlp(model: nn.Module, copies: int) -> list[Tensor]:
    """``[w1, b1, w2, b2]`` of a 1-h-1 tanh MLP, each with ``copies`` copies along dimension 0.

    Shapes ``(copies, h, 1)`` for ``w1`` (the first layer's weight), ``b1`` and ``w2`` (the
    second layer's weight, transposed), ``(copies, 1, 1)`` for ``b2``: hidden activations are
    laid out ``(copies, h, B)``, samples last, so every large operation runs along memory.
    """
    shape_ok = (isinstance(model, nn.Sequential) and len(model) == 3
                and isinstance(model[0], nn.Linear) and isinstance(model[1], nn.Tanh)
                and isinstance(model[2], nn.Linear) and model[0].in_features == 1
                and model[2].out_features == 1 and model[0].bias is not None
                and model[2].bias is not None)
    if not shape_ok:
        raise ValueError("train_learning_rates trains a 1-h-1 tanh MLP "
                         "(nn.Sequential(nn.Linear(1, h), nn.Tanh(), nn.Linear(h, 1)), as make_mlp() "
                         f"builds), got {model}")
    first, second = model[0], model[2]
    return [tensor.detach().reshape(1, -1, 1).repeat(copies, 1, 1)
            for tensor in (first.weight, first.bias, second.weight, second.bias)]


class _Workspace:
    """Reused ``(copies, h, B)`` buffers: a fresh megabyte-sized tensor per operation costs more
    in page faults than the arithmetic (measured: 5 ms instead of 1.5 ms per full-batch step)."""

    def __init__(self):
        self._buffers: dict = {}

    def get(self, name: str, shape: tuple, dtype) -> Tensor:
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape != shape:
            buffer = self._buffers[name] = torch.empty(shape, dtype=dtype)
        return buffer


def _stacked_tanh_layer(params, inputs: Tensor, out: Tensor) -> Tensor:
    """The hidden activations :math:`\tanh(w_1 x + b_1)` of every copy into ``out`` ``(copies, h, B)``."""
    w1, b1, _, _ = params
    copies, hidden_size, _ = w1.shape
    torch.addmm(b1.view(copies * hidden_size, 1), w1.view(copies * hidden_size, 1),
                inputs.view(1, -1), out=out.view(copies * hidden_size, -1))
    # tanh(z) = 2σ(2z) − 1: torch's float32 tanh kernel is about 15x slower than its sigmoid on
    # this machine and the hidden layer is most of the work; the two agree to float32 rounding.
    return out.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def _stacked_outputs(params, hidden: Tensor) -> Tensor:
    """The network outputs :math:`w_2^\top a + b_2` of every copy, shape ``(copies, 1, B)``."""
    _, _, w2, b2 = params
    return torch.baddbmm(b2, w2.transpose(1, 2), hidden)


def _stacked_losses(params, x: Tensor, y: Tensor, workspace: _Workspace) -> Tensor:
    """The full-data mean squared error of each copy, shape ``(copies,)``."""
    w1 = params[0]
    hidden = workspace.get("eval", (w1.shape[0], w1.shape[1], len(x)), x.dtype)
    outputs = _stacked_outputs(params, _stacked_tanh_layer(params, x, hidden))
    return ((outputs - y.view(1, 1, -1)) ** 2).mean(dim=(1, 2))


def _stacked_sgd_step(params, x: Tensor, y: Tensor, step_sizes: Tensor,
                      workspace: _Workspace) -> None:
    r"""One SGD step of every copy on the batch ``(x, y)``, gradients by hand (backpropagation).

    With :math:`a = 	anh(w_1 x + b_1)`, :math:`o = w_2^	op a + b_2` and
    :math:`L = rac1B\sum_i (o_i - y_i)^2`: :math:`g = \partial L/\partial o = rac2B(o - y)`,
    :math:`
abla_{w_2} = \sum_i g_i a_i`, :math:`
abla_{b_2} = \sum_i g_i`,
    :math:`\delta = w_2 g \odot (1 - a^2)`, :math:`
abla_{w_1} = \sum_i \delta_i x_i`,
    :math:`
abla_{b_1} = \sum_i \delta_i`: autograd's formulas, without its bookkeeping.
    """
    w1, b1, w2, b2 = params
    copies, hidden_size, _ = w1.shape
    batch = len(x)
    shape = (copies, hidden_size, batch)
    hidden = _stacked_tanh_layer(params, x, workspace.get("hidden", shape, x.dtype))
    grad_out = (_stacked_outputs(params, hidden) - y.view(1, 1, -1)).mul_(2.0 / batch)
    grad_w2 = torch.bmm(hidden, grad_out.transpose(1, 2))
    grad_b2 = grad_out.sum(dim=2, keepdim=True)
    delta = torch.bmm(w2, grad_out, out=workspace.get("delta", shape, x.dtype))
    slope = torch.mul(hidden, hidden, out=workspace.get("slope", shape, x.dtype))
    delta.addcmul_(delta, slope, value=-1.0)                          # ⊙ (1 − a²)
    grad_w1 = torch.bmm(delta, x.view(1, batch, 1).expand(copies, batch, 1))
    grad_b1 = delta.sum(dim=2, keepdim=True)
    for param, grad in ((w1, grad_w1), (b1, grad_b1), (w2, grad_w2), (b2, grad_b2)):
        param.sub_(grad.mul_(step_sizes))  # θ_m ← θ_m − η_m g_m, one learning rate per copy


def _train_stacked(params, x, y, lrs, batches, total_updates, evaluate_at) -> list:
    # The copies still training (a diverged one is dropped from the stack), and their records.
    active = list(range(len(lrs)))
    step_sizes = torch.tensor(lrs, dtype=x.dtype).view(-1, 1, 1)
    workspace = _Workspace()
    initial = _stacked_losses(params, x, y, workspace).tolist()
    records = [([0], [0], [loss], None) for loss in initial]
    samples_seen = 0
    for update, batch in enumerate(batches, start=1):
        _stacked_sgd_step(params, x[batch], y[batch], step_sizes, workspace)
        samples_seen += len(batch)
        if update in evaluate_at:
            keep = []
            for position, loss in enumerate(_stacked_losses(params, x, y, workspace).tolist()):
                copy = active[position]
                recorded_updates, recorded_samples, recorded_losses, _ = records[copy]
                recorded_updates.append(update)
                recorded_samples.append(samples_seen)
                recorded_losses.append(loss)
                if not loss <= DIVERGENCE_FACTOR * recorded_losses[0]:  # inf, NaN or huge
                    records[copy] = (recorded_updates, recorded_samples, recorded_losses, update)
                else:
                    keep.append(position)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep)
                active = [active[k] for k in keep]
                params = [param[index] for param in params]
                step_sizes = step_sizes[index]
        if update == total_updates:
            break
    return records


def updates_to_reach(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int,
    lr: float,
    target_loss: float,
    max_epochs: int,
    seed: int = 0,
) -> int | None:
    """Updates of SGD(``lr``) on batches of ``batch_size`` until the full-data loss is <= ``target_loss``.

    The precise definition (exercise 2.3): batches come from ``minibatch_indices(n, batch_size,
    epochs=max_epochs, seed=seed)``; after every optimizer step the full-data MSE is evaluated;
    the answer is the number of steps taken at the first evaluation where it is
    ``<= target_loss`` (0 when the initial model already is), or ``None`` when it never is
    within ``max_epochs`` epochs. ``model`` is trained in place.
    """
    run = train(model, x, y, batch_size=batch_size, lr=lr, epochs=max_epochs, seed=seed,
                target_loss=target_loss)
    reached = np.flatnonzero(run.losses <= target_loss)
    return int(run.updates[reached[0]]) if len(reached) else None


@single_threaded()  # small tensors: thread hand-offs cost more than they save
def per_sample_gradients(model: nn.Sequential, x: Tensor, y: Tensor) -> Tensor:
    r"""All :math:`N` per-sample gradients :math:`g_i = \nabla_\theta \ell_i(\theta)`, flattened.

    Row ``i`` is the gradient of :math:`\ell_i = (\hat y_\theta(x_i) - y_i)^2` (averaged over output
    features) with the parameters in ``model.parameters()`` order, so
    ``per_sample_gradients(...).mean(0)`` is the full-batch gradient of the MSE.

    One backward pass for all samples: for a linear layer :math:`z_i = W a_i + b`, sample
    ``i``'s gradients are :math:`\partial\ell_i/\partial W = \delta_i a_i^\top` and
    :math:`\partial\ell_i/\partial b = \delta_i` with :math:`\delta_i = \partial\ell_i/\partial
    z_i`. Because :math:`\ell_i` depends on sample ``i`` alone, :math:`\delta_i` is also the
    gradient of :math:`\sum_j \ell_j` with respect to :math:`z_i`, which autograd gives for all
    ``i`` at once. ``model`` must be an ``nn.Sequential`` of ``nn.Linear`` layers and
    parameter-free elementwise activations (like ``make_mlp()``).

    Returns:
        a tensor of shape ``(N, P)``, ``P`` the number of parameters.
    """
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"per_sample_gradients needs an nn.Sequential, got {type(model).__name__}")
    layer_inputs, layer_outputs = [], []
    activations = x
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer_inputs.append(activations.detach())
            activations = layer(activations)
            layer_outputs.append(activations)
        elif any(True for _ in layer.parameters()):
            raise ValueError(f"per_sample_gradients handles nn.Linear layers and parameter-free "
                             f"activations, got a {type(layer).__name__} with parameters")
        else:
            activations = layer(activations)
    summed_losses = ((activations - y) ** 2).mean(dim=1).sum()
    deltas = torch.autograd.grad(summed_losses, layer_outputs)
    columns = []
    for layer, inputs, delta in zip((m for m in model if isinstance(m, nn.Linear)), layer_inputs, deltas):
        columns.append(torch.einsum("no,ni->noi", delta, inputs).reshape(len(x), -1))
        if layer.bias is not None:
            columns.append(delta)
    return torch.cat(columns, dim=1).detach()


@single_threaded()  # small tensors: thread hand-offs cost more than they save
def minibatch_gradient_variance(
    per_sample_grads: Tensor, batch_size: int, *, replacement: bool = False
) -> Tensor:
    r"""Closed-form total variance :math:`\mathbb E\lVert g_{\mathcal B} - \bar g\rVert^2` of a batch mean.

    .. math::

        \sigma^2 = \frac1N \sum_{i=1}^N \lVert g_i - \bar g\rVert^2, \qquad
        \mathbb E\lVert g_{\mathcal B} - \bar g\rVert^2 =
        \begin{cases} \dfrac{\sigma^2}{B}\,\dfrac{N-B}{N-1} & \text{without replacement} \\[1ex]
                      \dfrac{\sigma^2}{B} & \text{with replacement} \end{cases}

    Args:
        per_sample_grads: :math:`g_i` as rows, shape ``(N, P)``.
        batch_size: :math:`B`; at most ``N`` without replacement.
        replacement: whether the batch's indices are drawn with replacement (torch's
            ``RandomSampler(replacement=True)``) or are distinct (``shuffle=True``, the default).

    Returns:
        a 0-dim tensor: the variance (a squared norm, not a standard deviation), summed over
        the ``P`` coordinates.
    """
    if per_sample_grads.ndim != 2:
        raise ValueError(f"per_sample_grads must have shape (N, P), got {tuple(per_sample_grads.shape)}")
    num_samples = per_sample_grads.shape[0]
    _check_positive_int("batch_size", batch_size)
    if not replacement and batch_size > num_samples:
        raise ValueError(f"batch_size must be at most N={num_samples} without replacement, got {batch_size}")
    mean_grad = per_sample_grads.mean(dim=0)
    population_variance = ((per_sample_grads - mean_grad) ** 2).sum(dim=1).mean()
    if replacement:
        return population_variance / batch_size
    if num_samples == 1:
        return population_variance * 0.0
    return population_variance / batch_size * (num_samples - batch_size) / (num_samples - 1)


@single_threaded()  # small tensors: thread hand-offs cost more than they save
def sampled_gradient_variance(
    per_sample_grads: Tensor,
    batch_size: int,
    *,
    draws: int = 500,
    seed: int = 0,
    replacement: bool = False,
) -> Tensor:
    r"""Monte-Carlo estimate of :math:`\mathbb E\lVert g_{\mathcal B} - \bar g\rVert^2` from ``draws`` batches.

    Vectorised: each draw is a row of a ``(draws, N)`` weight matrix holding ``1/B`` on the
    batch's indices (counted with multiplicity when sampling with replacement), so all batch
    means are one matrix product with the per-sample gradients.
    """
    if per_sample_grads.ndim != 2:
        raise ValueError(f"per_sample_grads must have shape (N, P), got {tuple(per_sample_grads.shape)}")
    num_samples = per_sample_grads.shape[0]
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("draws", draws)
    if not replacement and batch_size > num_samples:
        raise ValueError(f"batch_size must be at most N={num_samples} without replacement, got {batch_size}")
    # A stream of its own: make_data(seed=s) starts with torch.rand from manual_seed(s), and
    # ranking those same numbers would pick the batch of the smallest x, far from random.
    generator = torch.Generator().manual_seed(_SAMPLING_SEED_OFFSET + seed)
    dtype = per_sample_grads.dtype
    if replacement:
        picks = torch.randint(num_samples, (draws, batch_size), generator=generator)
        weights = torch.zeros(draws, num_samples, dtype=dtype)
        weights.scatter_add_(1, picks, torch.ones(draws, batch_size, dtype=dtype))
    else:
        # The positions of the B smallest of N uniform numbers form a uniform batch of B
        # distinct indices (the first B of a random permutation), for all draws at once.
        noise = torch.rand(draws, num_samples, generator=generator)
        picks = noise.topk(batch_size, dim=1, largest=False).indices
        weights = torch.zeros(draws, num_samples, dtype=dtype)
        weights.scatter_(1, picks, 1.0)
    batch_means = weights @ per_sample_grads / batch_size
    return ((batch_means - per_sample_grads.mean(dim=0)) ** 2).sum(dim=1).mean()


def full_data_hessian(model: nn.Sequential, x: Tensor, y: Tensor) -> Tensor:
    r"""The Hessian of the full-data MSE :math:`f(\theta)` of a 1-h-1 tanh MLP, in float64.

    A ``(P, P)`` matrix over the parameters in ``model.parameters()`` order (``w1, b1, w2, b2``;
    ``P = 3h + 1 = 61`` for ``make_mlp()``), in closed form: with the residuals
    :math:`r_i = \hat y_\theta(x_i) - y_i` and the output's gradient :math:`J_i =
    \nabla_\theta \hat y_\theta(x_i)`,

    .. math::

        H = \frac2N\sum_i \bigl(J_i J_i^\top + r_i\,\nabla^2_\theta \hat y_\theta(x_i)\bigr),

    the Gauss-Newton part plus the residual part (``tests/test_toy_regression.py`` compares it
    with ``torch.autograd.functional.hessian``). Milliseconds, where autograd takes 0.1 s.
    """
    first, _, second = model[0], model[1], model[2]
    if not (isinstance(first, nn.Linear) and isinstance(second, nn.Linear) and first.in_features == 1
            and second.out_features == 1 and isinstance(model[1], nn.Tanh) and len(model) == 3):
        raise ValueError("full_data_hessian handles the 1-h-1 tanh MLP of make_mlp()")
    with torch.no_grad():
        w1 = first.weight.double().view(-1)
        b1 = first.bias.double()
        w2 = second.weight.double().view(-1)
        b2 = second.bias.double()
        xs, ys = x.double().view(-1, 1), y.double().view(-1)
        n, h = len(xs), len(w1)
        t = torch.tanh(xs * w1 + b1)                         # (n, h)
        dt = 1 - t**2                                        # tanh'
        ddt = -2 * t * dt                                    # tanh''
        residual = t @ w2 + b2 - ys                          # (n,)
        jac = torch.cat([w2 * dt * xs, w2 * dt, t, torch.ones(n, 1, dtype=torch.float64)], dim=1)
        hess = 2 / n * jac.T @ jac
        # the residual part: nonzero only within hidden unit j's (w1_j, b1_j, w2_j) block
        r_ddt = residual[:, None] * ddt * w2                  # (n, h)
        r_dt = residual[:, None] * dt
        xx = xs.view(-1)
        blocks = {(0, 0): (r_ddt * xx[:, None]**2).sum(0), (0, 1): (r_ddt * xx[:, None]).sum(0),
                  (1, 1): r_ddt.sum(0), (0, 2): (r_dt * xx[:, None]).sum(0), (1, 2): r_dt.sum(0)}
        index = torch.arange(h)
        for (a, b), values in blocks.items():
            hess[a * h + index, b * h + index] += 2 / n * values
            if a != b:
                hess[b * h + index, a * h + index] += 2 / n * values
    return hess


def sharpness(model: nn.Sequential, x: Tensor, y: Tensor) -> float:
    """:math:`L`, the largest eigenvalue of the full-data Hessian: GD's limit is ``2 / sharpness``."""
    return float(torch.linalg.eigvalsh(full_data_hessian(model, x, y))[-1])
