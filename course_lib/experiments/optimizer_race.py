r"""Notebook 10's optimizer race: the same small network trained by each optimizer, many seeds at once.

Every optimizer in this course updates each parameter entry from that entry's own gradient and
state (they are *elementwise*). So stacking the weights of :math:`S` networks into one tensor of
shape ``(S, ...)`` and summing their :math:`S` losses,

.. math::  L_{\text{total}} = \sum_{s=1}^{S} L_s(\theta_s), \qquad
           \frac{\partial L_{\text{total}}}{\partial \theta_s} = \nabla L_s(\theta_s),

gives each network exactly the gradient it would get alone, and one ``optimizer.step()`` on the
stacked tensors performs :math:`S` independent runs (a test checks it against separate runs).
Seeds change the initial weights and the order of the mini-batches; the data stay the same.

:class:`BatchedMLP` holds the stacked weights (copied from ordinary ``nn.Sequential`` models, so
the initialisation is torch's default); :func:`train_race` trains it with one optimizer at one
learning rate and records, after every epoch, the full-data training loss, the validation loss
and the validation accuracy of every seed. :func:`lr_sweep` repeats that over a log grid of
learning rates.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "OPTIMIZERS",
    "CLASSIC_FOUR",
    "default_lr",
    "make_optimizer",
    "make_net",
    "BatchedMLP",
    "RaceRun",
    "train_race",
    "lr_sweep",
    "tuned_lr",
    "seconds_per_step",
    "train_digits_net",
    "train_digits_nets",
]

# name -> (torch class, the keyword arguments that make it this variant). Everything not named
# here is torch's default, the learning rate included unless a run says otherwise.
OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict]] = {
    "SGD": (torch.optim.SGD, {}),
    "SGD+momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "Nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "Adagrad": (torch.optim.Adagrad, {}),
    "RMSprop": (torch.optim.RMSprop, {}),
    "Adam": (torch.optim.Adam, {}),
    "AdamW": (torch.optim.AdamW, {}),
}


# The popular four-optimizer comparison on y = x² + 0.1·noise (a 1-20-1 ReLU MLP, lr 0.01 for
# all, batch 32, 12 epochs, one seed) uses these settings; notebook 10 redoes it properly.
CLASSIC_FOUR: dict[str, tuple[type[torch.optim.Optimizer], dict]] = {
    "SGD": (torch.optim.SGD, {}),
    "Momentum": (torch.optim.SGD, {"momentum": 0.8}),
    "RMSprop": (torch.optim.RMSprop, {"alpha": 0.9}),
    "Adam": (torch.optim.Adam, {"betas": (0.9, 0.99)}),
}


def _lookup(name: str, registry=None):
    registry = OPTIMIZERS if registry is None else registry
    if name not in registry:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {list(registry)}")
    return registry[name]


def default_lr(name: str, registry=None) -> float:
    """torch's default ``lr`` for this optimizer (read from its signature, not copied)."""
    cls, _ = _lookup(name, registry)
    return float(inspect.signature(cls).parameters["lr"].default)


def make_optimizer(name: str, params, lr: float | None = None, registry=None) -> torch.optim.Optimizer:
    """``registry[name]`` (default :data:`OPTIMIZERS`) built on ``params`` at ``lr`` (torch's
    default lr when None)."""
    cls, kwargs = _lookup(name, registry)
    return cls(params, lr=default_lr(name, registry) if lr is None else lr, **kwargs)


def make_net(sizes=(64, 32, 10), *, activation: str = "relu", seed: int = 0) -> nn.Sequential:
    """An MLP with torch's default ``nn.Linear`` initialisation, built from ``seed``."""
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(act())
    return nn.Sequential(*layers)


class BatchedMLP:
    """The weights of :math:`S` MLPs of one shape, stacked: ``weights[i]`` is ``(S, n_in, n_out)``,
    ``biases[i]`` is ``(S, 1, n_out)``; ``forward(x)`` maps ``(S, B, n_in)`` to ``(S, B, n_out)``."""

    def __init__(self, nets: list[nn.Sequential], activation: str = "relu"):
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        self.activation = {"relu": torch.relu, "tanh": torch.tanh}[activation]
        self.weights = [torch.stack([layers[i].weight.detach().T for layers in linears]).contiguous().requires_grad_()
                        for i in range(len(linears[0]))]
        self.biases = [torch.stack([layers[i].bias.detach()[None, :] for layers in linears]).contiguous().requires_grad_()
                       for i in range(len(linears[0]))]

    @classmethod
    def from_seeds(cls, seeds, sizes=(64, 32, 10), activation: str = "relu", init=None) -> "BatchedMLP":
        """``init``: None (torch's default) or ``(scheme, gain)`` for
        :func:`course_lib.experiments.signal_propagation.initialise`, applied to each seed's network."""
        nets = [make_net(sizes, activation=activation, seed=int(s)) for s in seeds]
        if init is not None:
            from course_lib.experiments.signal_propagation import initialise

            scheme, gain = init
            nets = [initialise(net, scheme, gain, seed=int(s)) for net, s in zip(nets, seeds)]
        return cls(nets, activation)

    @classmethod
    def stack(cls, batches: list["BatchedMLP"]) -> "BatchedMLP":
        """One BatchedMLP holding the networks of several, in order."""
        joined = cls.__new__(cls)
        joined.activation = batches[0].activation
        joined.weights = [torch.cat([b.weights[i].detach() for b in batches]).requires_grad_()
                          for i in range(len(batches[0].weights))]
        joined.biases = [torch.cat([b.biases[i].detach() for b in batches]).requires_grad_()
                         for i in range(len(batches[0].biases))]
        return joined

    def parameters(self) -> list[Tensor]:
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def forward(self, x: Tensor) -> Tensor:
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < len(self.weights) - 1:
                x = self.activation(x)
        return x


def _losses(outputs: Tensor, targets: Tensor, task: str) -> Tensor:
    """Mean loss per network: ``(S,)`` from outputs ``(S, B, k)`` and targets ``(S, B[, k])``."""
    if task == "classification":
        # Classes on dim 1, as cross_entropy takes them for (N, C, d) inputs: the same numbers as
        # flattening to (S·B, C), but torch's log-softmax over a non-last dim is vectorised
        # across the samples and runs about 8 times faster on CPU for 10 classes (this is most
        # of the time of evaluating 57 networks on the full training set).
        return nn.functional.cross_entropy(outputs.transpose(1, 2), targets, reduction="none").mean(dim=1)
    return ((outputs - targets) ** 2).mean(dim=(1, 2))


@dataclass
class RaceRun:
    """One optimizer at one lr over ``S`` seeds; arrays are ``(S, records)`` (entry 0: the start).

    ``train_loss`` is the full training set's mean loss, not the last mini-batch's.
    """

    name: str
    lr: float
    seeds: tuple
    train_loss: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray | None
    seconds: float
    steps: int = 0
    steps_at: np.ndarray | None = None
    steps_per_epoch: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def epochs_at(self) -> np.ndarray:
        """When each entry was recorded, in epochs."""
        return self.steps_at / self.steps_per_epoch

    @property
    def final_train_loss(self) -> np.ndarray:
        """The last epoch's training loss per seed, inf where the run diverged (NaN/inf)."""
        last = self.train_loss[:, -1]
        return np.where(np.isfinite(last), last, np.inf)


def train_race(name: str, lr: float | None, *, seeds=(0, 1, 2), registry=None, **kwargs) -> RaceRun:
    """Train ``len(seeds)`` networks with optimizer ``name`` at ``lr`` (None: torch's default).

    Each seed has its own initial weights (``make_net(seed=s)``) and its own batch order (a
    generator seeded with ``s``, a fresh permutation every epoch); every sample is used once per
    epoch. Keywords: ``x_train, y_train, x_val=None, y_val=None, epochs=10, batch_size=64,
    eval_every=None, sizes=(64, 32, 10), activation="relu", task="classification",
    init=None`` (or ``(scheme, gain)``, see :func:`course_lib.experiments.signal_propagation.initialise`).
    """
    if lr is not None and not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    lr = default_lr(name, registry) if lr is None else float(lr)
    return lr_sweep(name, [lr], seeds=seeds, registry=registry, **kwargs)[0]


def lr_sweep(name: str, lrs, *, seeds=(0, 1, 2), x_train: Tensor, y_train: Tensor,
             x_val: Tensor | None = None, y_val: Tensor | None = None, epochs: int = 10,
             batch_size: int = 64, eval_every: int | None = None, sizes=(64, 32, 10),
             activation: str = "relu", task: str = "classification", registry=None,
             init=None) -> list[RaceRun]:
    r"""One :class:`RaceRun` per lr of ``lrs``, all trained together as ``len(lrs)·len(seeds)`` networks.

    Every optimizer of :data:`OPTIMIZERS` moves a parameter by the lr times a direction that
    does not depend on the lr (the state is built from gradients only), and AdamW's decay is
    ``lr·λ·θ``: one step at lr 1 from :math:`\theta` to :math:`\theta'` gives the move
    :math:`\theta - \theta'` for lr 1, and :math:`\theta - \eta_k(\theta - \theta')` is then
    exactly the step at :math:`\eta_k` (up to rounding; a test compares with separate runs).
    The losses are recorded at the start, every ``eval_every`` optimizer steps (default: at the
    end of every epoch) and after the last step; ``RaceRun.steps_at`` says when. Run
    single-threaded: these tensors are too small to gain from threads.

    ``init``: None (torch's default), ``(scheme, gain)`` for every network, or a list with one
    of those per entry of ``lrs`` (to compare initialisations at one lr: ``lrs = [lr] * k``).
    """
    _lookup(name, registry)
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    lrs = [float(lr) for lr in lrs]
    if not lrs or not all(lr > 0 for lr in lrs):
        raise ValueError(f"Invalid learning rates: {lrs}")
    seeds = tuple(int(s) for s in seeds)
    net_seeds = [s for _ in lrs for s in seeds]                      # lr-major: lr 0's seeds first
    inits = list(init) if isinstance(init, list) else [init] * len(lrs)
    if len(inits) != len(lrs):
        raise ValueError(f"init lists one scheme per lr: got {len(inits)} for {len(lrs)} lrs")
    groups = [BatchedMLP.from_seeds(seeds, sizes, activation, scheme) for scheme in inits]
    net = BatchedMLP.stack(groups)
    params = net.parameters()
    optimizer = make_optimizer(name, params, 1.0, registry)
    lr_of_net = torch.tensor([lr for lr in lrs for _ in seeds])
    n, S = len(x_train), len(net_seeds)
    generators = [torch.Generator().manual_seed(s) for s in net_seeds]

    def evaluate(x, y):
        with torch.no_grad():
            out = net.forward(x.expand(S, *x.shape))
            targets = y.expand(S, *y.shape)
            loss = _losses(out, targets, task).numpy()
            acc = (out.argmax(-1) == targets).float().mean(1).numpy() if task == "classification" else None
        return loss, acc

    def record():
        train = evaluate(x_train, y_train)[0]
        val = evaluate(x_val, y_val) if x_val is not None else (None, None)
        return train, val[0], val[1]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        history, steps_at = [record()], [0]
        steps = 0
        for epoch in range(epochs):
            order = torch.stack([torch.randperm(n, generator=g) for g in generators])  # (S, n)
            for first in range(0, n, batch_size):
                idx = order[:, first:first + batch_size]
                optimizer.zero_grad()
                _losses(net.forward(x_train[idx]), y_train[idx], task).sum().backward()
                before = [p.detach().clone() for p in params]
                optimizer.step()                                     # the move at lr 1
                with torch.no_grad():
                    for p, p0 in zip(params, before):
                        scale = lr_of_net.view(-1, *([1] * (p.dim() - 1)))
                        p.copy_(p0 - scale * (p0 - p))               # the move at each net's lr
                steps += 1
                last = epoch == epochs - 1 and first + batch_size >= n
                if (eval_every and steps % eval_every == 0) or last or (
                        not eval_every and first + batch_size >= n):
                    history.append(record())
                    steps_at.append(steps)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)

    def stacked(k):
        if history[0][k] is None:
            return None
        return np.stack([h[k] for h in history], axis=1)

    train_loss, val_loss, val_acc = stacked(0), stacked(1), stacked(2)
    n_per_epoch = math.ceil(n / batch_size)
    k = len(seeds)
    return [RaceRun(name, lr, seeds, train_loss[i * k:(i + 1) * k],
                    None if val_loss is None else val_loss[i * k:(i + 1) * k],
                    None if val_acc is None else val_acc[i * k:(i + 1) * k],
                    seconds / len(lrs), steps, np.array(steps_at), n_per_epoch)
            for i, lr in enumerate(lrs)]


def tuned_lr(runs: list[RaceRun]) -> float:
    """The lr whose median (over seeds) final *training* loss is lowest: tuned on the training
    set, so the validation numbers stay an honest test."""
    medians = [float(np.median(run.final_train_loss)) for run in runs]
    return runs[int(np.argmin(medians))].lr


def seconds_per_step(name: str, *, x: Tensor, y: Tensor, steps: int = 60, batch_size: int = 64,
                     sizes=(64, 32, 10), task: str = "classification", repeats: int = 3) -> float:
    """Median wall time of one training step (forward, backward, optimizer step) of a single
    ordinary ``nn.Sequential``, the way a learner trains, on one thread."""
    net = make_net(sizes, seed=0)
    optimizer = make_optimizer(name, net.parameters())
    loss_fn = nn.functional.cross_entropy if task == "classification" else nn.functional.mse_loss
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    times = []
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for k in range(steps):
                first = (k * batch_size) % (len(x) - batch_size)
                optimizer.zero_grad()
                loss_fn(net(x[first:first + batch_size]), y[first:first + batch_size]).backward()
                optimizer.step()
            times.append((time.perf_counter() - start) / steps)
    finally:
        torch.set_num_threads(threads)
    return float(np.median(times))


# torch's own optimizer and scheduler classes, bound when this module is imported (the grader's
# sandbox imports it before any learner code runs): 10.1's answer must be one of these, not a
# subclass whose step copies stored weights, nor a class the learner put in torch.optim's place.
_TORCH_OPTIMIZERS = frozenset(value for value in vars(torch.optim).values()
                              if isinstance(value, type) and issubclass(value, torch.optim.Optimizer))
_TORCH_SCHEDULERS = frozenset(value for value in vars(torch.optim.lr_scheduler).values()
                              if isinstance(value, type) and value.__module__ == "torch.optim.lr_scheduler")


def _wrapper_codes():
    """The code of the wrappers torch puts around ``step``: the class's (profiling hooks) and an
    instance's (a scheduler counts the optimizer's steps)."""
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
    torch.optim.lr_scheduler.StepLR(probe, 1)
    return {type(probe).step.__code__}, _chain_codes(vars(probe).get("step"))


def _inner_functions(function) -> list:
    """What a (decorated) function wraps or closes over, as functions."""
    inner = [cell.cell_contents for cell in (getattr(function, "__closure__", None) or ())
             if callable(getattr(cell, "cell_contents", None))]
    if hasattr(function, "__wrapped__"):
        inner.append(function.__wrapped__)
    return [f for f in inner if getattr(f, "__code__", None) is not None]


def _chain_codes(function, depth: int = 0) -> set:
    codes = {function.__code__} if getattr(function, "__code__", None) is not None else set()
    if depth < 5:
        for inner in _inner_functions(function):
            codes |= _chain_codes(inner, depth + 1)
    return codes


_STEP_WRAPPER, _SCHEDULER_WRAPPER = _wrapper_codes()
_STEP_CODES = {cls: _chain_codes(vars(cls)["step"]) | _STEP_WRAPPER
               for cls in _TORCH_OPTIMIZERS if "step" in vars(cls)}


def _torchs_step(function, allowed, depth: int = 0) -> bool:
    """``function`` is torch's step: its code, and every function it wraps or closes over."""
    code = getattr(function, "__code__", None)
    if code not in allowed or depth > 5:
        return False
    return all(_torchs_step(f, allowed, depth + 1) for f in _inner_functions(function))


def _own_classes_only(optimizer, scheduler) -> None:
    """10.1's optimizer and scheduler are torch's own classes, with torch's step and no hooks."""
    if type(optimizer) not in _TORCH_OPTIMIZERS or type(optimizer) is torch.optim.Optimizer:
        raise TypeError("the first item must be one of torch.optim's own optimizers (Adam, SGD, "
                        f"...), not {type(optimizer).__name__}: the check trains with its step")
    if scheduler is not None and type(scheduler) not in _TORCH_SCHEDULERS:
        raise TypeError("the second item must be None or one of torch.optim.lr_scheduler's own "
                        f"schedulers, not {type(scheduler).__name__}")
    from torch.optim import optimizer as torch_optimizer

    hooks = [getattr(optimizer, "_optimizer_step_pre_hooks", {}),
             getattr(optimizer, "_optimizer_step_post_hooks", {}),
             getattr(torch_optimizer, "_global_optimizer_pre_hooks", {}),
             getattr(torch_optimizer, "_global_optimizer_post_hooks", {})]
    if any(len(h) for h in hooks):
        raise TypeError("the optimizer has step hooks: the check trains with torch's step alone")
    cls = type(optimizer)
    owner = next((klass for klass in cls.__mro__ if "step" in vars(klass)), None)
    allowed = _STEP_CODES.get(owner, set())
    if "zero_grad" in vars(optimizer) or owner is None \
            or not _torchs_step(vars(owner)["step"], allowed) \
            or ("step" in vars(optimizer)
                and not _torchs_step(vars(optimizer)["step"], allowed | _SCHEDULER_WRAPPER)):
        raise TypeError("the optimizer's step is not torch's step: the check trains with torch's "
                        "step alone")


def _fresh_state(optimizer) -> bool:
    """The optimizer's state is what a new one of its class holds (Adagrad fills its sums at
    construction; a momentum buffer filled in advance is a step taken outside the budget)."""
    clones, groups = {}, []
    for group in optimizer.param_groups:
        copies = [p.detach().clone().requires_grad_(p.requires_grad) for p in group["params"]]
        clones.update({id(c): p for c, p in zip(copies, group["params"])})
        groups.append({**group, "params": copies})
    try:
        fresh = type(optimizer)(groups)
    except Exception:  # noqa: BLE001 - groups this class cannot rebuild: judge by emptiness
        return not len(optimizer.state)
    by_original = {id(clones[id(c)]): fresh.state.get(c, {}) for g in fresh.param_groups
                   for c in g["params"]}
    if any(id(p) not in by_original for p in optimizer.state):
        return False
    for p, state in optimizer.state.items():
        expected = by_original[id(p)]
        if set(state) != set(expected):
            return False
        for key, value in state.items():
            other = expected[key]
            same = torch.equal(value, other) if isinstance(value, Tensor) and \
                isinstance(other, Tensor) else value == other
            if not same:
                return False
    return True


def _fingerprint(params) -> list[tuple[int, int, int, int]]:
    """Changes to a parameter's values (its version counter), storage, or gradient hooks."""
    return [(p._version, p.data_ptr(), len(p._backward_hooks or ()),
             len(getattr(p, "_post_accumulate_grad_hooks", None) or ())) for p in params]


def train_digits_net(make_optimizer, *, seed: int, budget, batch_size: int = 64) -> dict[str, Tensor]:
    """Train notebook 10's digits network with the optimizer ``make_optimizer`` builds.

    The training half of exercise 10.1's check: a fresh :func:`make_net` from ``seed``,
    ``make_optimizer(net.parameters(), steps_per_epoch=..., epochs=budget.epochs)`` must return
    ``(optimizer, scheduler or None)``; ``budget.epochs`` epochs of mini-batches of
    ``batch_size`` in an order drawn from ``seed``, ``scheduler.step()`` after every
    ``optimizer.step()``. Returns the trained parameters (``state_dict``, detached copies):
    plain tensors, so whoever scores them (the checker, or a grader in another process) loads
    them into its own fresh network and measures the validation accuracy itself.

    What the learner's code may not do is refused with an error (the run then fails): change
    the parameters inside ``make_optimizer`` (training there, on any data, is outside the budget),
    return anything but torch's own optimizer and scheduler classes (a subclass, a class put in
    torch.optim's place, step hooks, an optimizer state filled in advance, a thread), or
    change the parameters anywhere but in the optimizer's step (a scheduler's ``lr_lambda``).
    """
    from course_lib.problems.digits import load_digits_split  # the module stays light to import

    data = load_digits_split()
    net = make_net(seed=seed)
    steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
    params = list(net.parameters())
    before = [p.detach().clone() for p in params]
    threads_before = threading.active_count()
    made = make_optimizer(net.parameters(), steps_per_epoch=steps_per_epoch, epochs=budget.epochs)
    if not (isinstance(made, tuple) and len(made) == 2):
        raise TypeError("make_optimizer must return (optimizer, scheduler or None), "
                        f"got {type(made).__name__}")
    optimizer, scheduler = made
    _own_classes_only(optimizer, scheduler)
    if list(net.parameters()) != params or any(
            not torch.equal(p.detach(), b) for p, b in zip(params, before)):
        raise ValueError("make_optimizer changed the network's parameters: it may only build the "
                         "optimizer and the schedule; the training happens in the budget's loop")
    if any(hooks or post_hooks for _, _, hooks, post_hooks in _fingerprint(params)):
        raise TypeError("make_optimizer put hooks on the network's parameters: the check trains "
                        "with the gradients of its own loss")
    if not _fresh_state(optimizer):
        raise ValueError("make_optimizer returned an optimizer that has already stepped (its state "
                         "is not empty): the training happens in the budget's loop")
    if threading.active_count() > threads_before:
        raise RuntimeError("make_optimizer started a thread: it may only build the optimizer")
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        settled = _fingerprint(params)
        for _ in range(budget.epochs):
            order = torch.randperm(len(data.x_train), generator=generator)
            for first in range(0, len(order), batch_size):
                batch = order[first:first + batch_size]
                optimizer.zero_grad()
                nn.functional.cross_entropy(net(data.x_train[batch]), data.y_train[batch]).backward()
                if _fingerprint(params) != settled:
                    raise ValueError("the network's parameters changed outside the optimizer's "
                                     "step")
                optimizer.step()
                if scheduler is not None:
                    stepped = _fingerprint(params)
                    scheduler.step()
                    if _fingerprint(params) != stepped:
                        raise ValueError("the scheduler changed the network's parameters: a "
                                         "schedule may only set the learning rate")
                settled = _fingerprint(params)
    finally:
        torch.set_num_threads(threads)
    trained = {name: value.detach().clone() for name, value in net.state_dict().items()}
    if _fingerprint(params) != settled:
        raise ValueError("the network's parameters changed outside the optimizer's step")
    return trained


# Exercise 10.1's setting: small batches, so that gradient noise, not the number of steps,
# limits what a constant learning rate reaches; several networks, so that the verdict rests on
# their median rather than on one lucky or unlucky seed.
SMALL_BATCH_SIZE = 8
NETWORKS_PER_RUN = 5


def train_digits_nets(make_optimizer, *, seed: int, budget, batch_size: int = SMALL_BATCH_SIZE,
                      networks: int = NETWORKS_PER_RUN) -> list[dict[str, Tensor]]:
    """Exercise 10.1's training half: :func:`train_digits_net` for ``networks`` networks, built
    and shuffled from the seeds ``seed, seed + 1, …``, each with ``make_optimizer``'s own fresh
    optimizer, in mini-batches of ``batch_size``. Returns their trained parameters, in order.
    """
    return [train_digits_net(make_optimizer, seed=seed + k, budget=budget, batch_size=batch_size)
            for k in range(networks)]
