r"""Notebook 08 (weight decay and AdamW): Adam + L2 against AdamW on a small regression task.

The task: 12 noisy training points of :math:`y = \sin(3x) + 0.3\,\varepsilon` on [-1, 1] (a
seeded draw; 400 validation points from the same distribution), fitted by a 1-32-32-1 tanh MLP
with 300 full-batch steps at lr 0.03. Enough capacity to overfit 12 points, so regularisation
matters.

Both methods decay the three weight matrices and exempt the biases (the param-group rule of
exercise 8.3), with η = ``lr`` and λ = ``weight_decay``:

* **Adam + L2** (``torch.optim.Adam(groups, weight_decay=λ)``): :math:`g \leftarrow g + \lambda W`,
  then the Adam step;
* **AdamW** (``torch.optim.AdamW``): :math:`W \leftarrow W(1-\eta\lambda)`, then the Adam step.

Every (method, λ) of the panel's grid is trained once when the panel is built: all the
models are stacked along a leading batch dimension and trained together (the losses
are summed, so each model's gradient is its own), which is what makes the whole grid take a
fraction of a second. Moving a slider only looks results up. The tests prove that one row of the
stack equals ``torch.optim.Adam`` / ``torch.optim.AdamW`` on an ``nn.Sequential`` trained alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "WEIGHT_DECAYS",
    "LR",
    "METHODS",
    "make_task",
    "init_stack",
    "train_stack",
    "GridResult",
    "train_grid",
    "WeightDecayFigure",
    "weight_decay_panel",
]

METHODS = ("Adam + L2", "AdamW")
WEIGHT_DECAYS = (0.0, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 3.0)
LR = 0.03
HIDDEN = 32
STEPS = 300
N_TRAIN, N_VALID = 12, 400
LAYERS = ("W1 (1×32)", "W2 (32×32)", "W3 (32×1)")


def make_task(seed: int = 0):
    """``(x_train, y_train, x_valid, y_valid)``: y = sin(3x) + 0.3·noise, x ~ U[-1, 1], float64,
    each of shape (n, 1)."""
    generator = torch.Generator().manual_seed(seed)

    def draw(n):
        x = torch.rand(n, 1, generator=generator, dtype=torch.float64) * 2 - 1
        return x, torch.sin(3 * x) + 0.3 * torch.randn(n, 1, generator=generator, dtype=torch.float64)

    return (*draw(N_TRAIN), *draw(N_VALID))


def init_model(seed: int = 0) -> torch.nn.Sequential:
    """The 1-32-32-1 tanh MLP with torch's default initialisation, float64."""
    torch_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(1, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, HIDDEN),
            torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 1)).double()
    finally:
        torch.random.set_rng_state(torch_state)
    return model


def init_stack(count: int, seed: int = 0) -> list[torch.Tensor]:
    """``count`` copies of :func:`init_model`'s parameters, stacked: ``[W1, b1, W2, b2, W3, b3]``
    with shapes (count, in, out) for weights (transposed, for ``x @ W``) and (count, 1, out)
    for biases."""
    model = init_model(seed)
    tensors = []
    for layer in (model[0], model[2], model[4]):
        tensors.append(layer.weight.detach().T.expand(count, -1, -1).clone())
        tensors.append(layer.bias.detach().view(1, 1, -1).expand(count, -1, -1).clone())
    return tensors


def forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Every model of the stack on ``x`` (n, 1): shape (count, n, 1)."""
    w1, b1, w2, b2, w3, b3 = params
    hidden = torch.tanh(x @ w1 + b1)
    hidden = torch.tanh(hidden @ w2 + b2)
    return hidden @ w3 + b3


def train_stack(weight_decays, lr: float, *, decoupled, steps: int = STEPS, seed: int = 0,
                task=None) -> list[torch.Tensor]:
    """Train one model per entry of ``weight_decays`` (λ) and ``decoupled`` (a bool, or one bool
    per model), all at once: torch's Adam + L2 where ``decoupled`` is False, AdamW where it is
    True; weights decay, biases do not. Returns the stacked parameters after ``steps``
    full-batch steps of lr ``lr``."""
    from course_lib.optim.adam import adam_init, adam_update
    from course_lib.problems.toy_regression import single_threaded

    x_train, y_train, *_ = make_task(seed) if task is None else task
    count = len(weight_decays)
    decays = torch.tensor(list(weight_decays), dtype=torch.float64).view(-1, 1, 1)
    flags = [decoupled] * count if isinstance(decoupled, bool) else list(decoupled)
    if len(flags) != count:
        raise ValueError(f"decoupled has {len(flags)} entries for {count} weight decays")
    decoupled_mask = torch.tensor(flags, dtype=torch.float64).view(-1, 1, 1)
    l2 = decays * (1 - decoupled_mask)             # λ where Adam + L2, else 0
    shrink = 1 - lr * decays * decoupled_mask      # 1 − ηλ where AdamW, else 1
    # Tiny tensors: one thread is much faster than several fighting over two busy cores.
    with single_threaded():
        params = [p.requires_grad_(True) for p in init_stack(count, seed)]
        states = [adam_init(p) for p in params]
        for _ in range(steps):
            for p in params:
                p.grad = None
            losses = ((forward(params, x_train) - y_train) ** 2).mean(dim=(1, 2))
            losses.sum().backward()  # model k's gradient is d loss_k / d params_k
            with torch.no_grad():
                for index, (p, state) in enumerate(zip(params, states)):
                    grad = p.grad
                    if index % 2 == 0:  # a weight matrix (biases are exempt)
                        p.mul_(shrink)              # AdamW: W ← W(1 − ηλ)
                        grad = grad.addcmul(l2, p)  # Adam + L2: g ← g + λW
                    adam_update(p, grad, state, lr=lr)
    return [p.detach() for p in params]


@dataclass
class GridResult:
    """What the panel shows for every (method, λ) at one lr: validation and training loss,
    the Frobenius norm of each weight matrix, and predictions on ``x_plot``."""

    lr: float
    weight_decays: tuple
    valid_loss: dict = field(default_factory=dict)    # method -> (len(λ),) array
    train_loss: dict = field(default_factory=dict)    # method -> (len(λ),) array
    weight_norms: dict = field(default_factory=dict)  # method -> (len(λ), 3) array
    predictions: dict = field(default_factory=dict)   # method -> (len(λ), len(x_plot)) array
    x_plot: np.ndarray | None = None


def train_grid(lr: float = LR, weight_decays=WEIGHT_DECAYS, *, steps: int = STEPS, seed: int = 0) -> GridResult:
    """Train every λ with both methods at ``lr`` and collect what the panel plots."""
    task = make_task(seed)
    x_train, y_train, x_valid, y_valid = task
    x_plot = torch.linspace(-1, 1, 121, dtype=torch.float64).view(-1, 1)
    result = GridResult(lr=lr, weight_decays=tuple(weight_decays), x_plot=x_plot.view(-1).numpy())
    count = len(weight_decays)
    # both methods in one stack: the first half Adam + L2, the second half AdamW
    params = train_stack(list(weight_decays) * 2, lr, decoupled=[False] * count + [True] * count,
                         steps=steps, seed=seed, task=task)
    with torch.no_grad():
        valid = ((forward(params, x_valid) - y_valid) ** 2).mean(dim=(1, 2)).numpy()
        train = ((forward(params, x_train) - y_train) ** 2).mean(dim=(1, 2)).numpy()
        norms = torch.stack([params[i].flatten(1).norm(dim=1) for i in (0, 2, 4)], dim=1).numpy()
        predictions = forward(params, x_plot)[..., 0].numpy()
    for half, method in enumerate(METHODS):
        rows = slice(half * count, (half + 1) * count)
        result.valid_loss[method] = valid[rows]
        result.train_loss[method] = train[rows]
        result.weight_norms[method] = norms[rows]
        result.predictions[method] = predictions[rows]
    return result


class WeightDecayFigure:
    """Validation loss vs λ (both methods, a marker at the chosen λ) | the fitted curves at the
    chosen λ | the weight-matrix norms at the chosen λ. ``show(results)`` takes
    ``[grid, weight_decay]`` and moves artists only."""

    def __init__(self, task):
        from matplotlib.figure import Figure

        x_train, y_train, *_ = task
        self.fig = Figure(figsize=(11, 3.6), dpi=80)
        self.ax_valid, self.ax_fit, self.ax_norms = self.fig.subplots(
            1, 3, gridspec_kw=dict(width_ratios=[1.1, 1.0, 0.9]))
        colors = {"Adam + L2": "C0", "AdamW": "C1"}
        self.valid_lines, self.markers, self.fit_lines, self.bars = {}, {}, {}, {}
        for method in METHODS:
            (self.valid_lines[method],) = self.ax_valid.plot([], [], "o-", color=colors[method],
                                                             label=method, markersize=4)
            (self.markers[method],) = self.ax_valid.plot([], [], "o", color=colors[method],
                                                         markersize=11, markerfacecolor="none")
            (self.fit_lines[method],) = self.ax_fit.plot([], [], color=colors[method], label=method)
        self.ax_valid.set_xscale("symlog", linthresh=1e-3)
        self.ax_valid.set_yscale("log")
        self.ax_valid.set_xlabel("weight_decay λ")
        self.ax_valid.set_ylabel("validation loss")
        self.ax_valid.legend(fontsize=8)
        self.ax_valid.grid(alpha=0.3)
        x_true = np.linspace(-1, 1, 121)
        self.ax_fit.plot(x_true, np.sin(3 * x_true), color="0.6", linestyle="--", label="sin(3x)")
        self.ax_fit.plot(x_train.view(-1).numpy(), y_train.view(-1).numpy(), "k.", label="training points")
        self.ax_fit.set_ylim(-2.0, 2.0)
        self.ax_fit.set_xlabel("x")
        self.ax_fit.legend(fontsize=7, loc="lower right")
        width = 0.38
        positions = np.arange(len(LAYERS))
        for offset, method in zip((-width / 2, width / 2), METHODS):
            self.bars[method] = self.ax_norms.bar(positions + offset, np.zeros(len(LAYERS)), width,
                                                  color=colors[method], label=method)
        self.ax_norms.set_xticks(positions, LAYERS, fontsize=8)
        self.ax_norms.set_ylabel("‖W‖ after training")
        self.ax_norms.legend(fontsize=8)
        self.fig.tight_layout()

    def show(self, results) -> None:
        grid, weight_decay = results
        index = grid.weight_decays.index(weight_decay)
        positive = np.asarray(grid.weight_decays, dtype=float)
        tallest = 0.0
        for method in METHODS:
            valid = grid.valid_loss[method]
            self.valid_lines[method].set_data(positive, valid)
            self.markers[method].set_data([positive[index]], [valid[index]])
            self.fit_lines[method].set_data(grid.x_plot, grid.predictions[method][index])
            for bar, height in zip(self.bars[method], grid.weight_norms[method][index]):
                bar.set_height(height)
                tallest = max(tallest, float(height))
        low = min(v.min() for v in grid.valid_loss.values())
        high = max(v.max() for v in grid.valid_loss.values())
        self.ax_valid.set_xlim(-1e-4, positive.max() * 1.5)
        self.ax_valid.set_ylim(low / 1.3, high * 1.3)
        self.ax_valid.set_title(f"lr = {grid.lr:g}, {STEPS} full-batch steps", fontsize=10)
        self.ax_fit.set_title(f"fits at λ = {weight_decay:g}", fontsize=10)
        self.ax_norms.set_ylim(0, tallest * 1.15 + 1e-9)
        self.fig.canvas.draw_idle()


def panel_caption(values: dict, results: list) -> str:
    grid, weight_decay = results
    index = grid.weight_decays.index(weight_decay)
    parts = []
    for method in METHODS:
        norm = float(np.linalg.norm(grid.weight_norms[method][index]))
        parts.append(f"{method}: validation loss {grid.valid_loss[method][index]:.3f}, "
                     f"weight norm {norm:.2f}")
    return "   |   ".join(parts)


def weight_decay_panel(weight_decay: float = 0.1, *, seed: int = 0):
    """A λ slider over :data:`WEIGHT_DECAYS`, both methods trained for every λ when the panel is
    built (``panel.grid``, a :class:`GridResult`); ``panel.update(weight_decay=...)`` is what the
    slider calls, and only looks results up."""
    import ipywidgets as widgets

    from course_lib.ui.slider_panel import SliderPanel

    if weight_decay not in WEIGHT_DECAYS:
        raise ValueError(f"weight_decay {weight_decay} is not one of {WEIGHT_DECAYS}")
    grid = train_grid(LR, seed=seed)
    panel = SliderPanel(
        lambda weight_decay: [grid, weight_decay],
        {"weight_decay": widgets.SelectionSlider(options=WEIGHT_DECAYS, value=weight_decay,
                                                 description="weight_decay λ",
                                                 continuous_update=True,  # a lookup: draw while dragged
                                                 style={"description_width": "initial"})},
        figure=WeightDecayFigure(make_task(seed)),
        caption=panel_caption,
        caption_lines=1,
        title="Adam + L2 vs AdamW: same λ, same lr, same data",
    )
    panel.grid = grid
    return panel
