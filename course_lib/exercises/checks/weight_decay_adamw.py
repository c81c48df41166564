r"""Checkers for notebook 08, weight decay and AdamW: exercises 8.1 to 8.4.

8.1 predict, then measure: ``predicted_adamw_end(hessian, minimiser, weight_decay)``, where
    ``torch.optim.AdamW`` ends (its second coordinate) on a 2-D quadratic
    :math:`f = \tfrac12(\theta-c)^\top H(\theta-c)`, full batch, betas (0.9, 0.99), long enough
    to settle: the minimiser of f inside the box :math:`\lVert\theta\rVert_\infty \le 1/\lambda`
    (Xie & Li 2024), which for a coupled H is not f's minimiser clipped into the box; measured by
    running AdamW.
8.2 predict, then measure: ``predicted_rms_weight(lr, weight_decay, grad_scale, decoupled)``, the
    RMS size that weights driven by zero-mean noise ±σ settle at under ``Adam(weight_decay=λ)``
    (L2) or ``AdamW``: the decay removes about 2r·θ² per step (r = ηλ/σ or ηλ) and the noise
    adds η² per step. Not because one step is η long (its RMS is η·√((1−β₁)/(1+β₁)) ≈ 0.23η, m̂
    averaging the signs) but because momentum spreads each ±σ push over later steps and keeps its
    total, ±η: over many steps θ is a random walk with steps ±η. So
    :math:`\sqrt{\eta\sigma/(2\lambda)}` or :math:`\sqrt{\eta/(2\lambda)}`; measured by running
    the optimizer on 2000 weights.
Both are predictions: the scan of ``make check`` and the grader refuses ``torch.optim`` and
``course_lib.optim`` in their answers (the default for exercises without a model), since a short
simulation with the exercise's settings would pass them.
8.3 ``decay_groups(model, weight_decay)``: AdamW param groups that decay every weight matrix
    (and embedding, convolution kernel: anything with two or more dimensions) and exempt biases,
    norm gains and other vectors and scalars; frozen parameters are left out. Checked on modules
    the learner has not seen (convolutions with batch norm, attention, RNNs, tied weights, a
    custom module with its own gain vector and a scalar temperature).
8.4 written answer: what halving torch's lr does to where each method is drawn to (AdamW's box
    1/λ has no lr in it) and to how much decay a fixed-length run applies.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ._framework import Case, KnownMistake, Observation, register, register_prediction, \
    register_written

# --------------------------------------------------------------------------------------------
# 8.1 predict, then measure: where AdamW ends on a quadratic
# --------------------------------------------------------------------------------------------

ADAMW_END_LR = 0.02
ADAMW_END_BETAS = (0.9, 0.99)  # v̂ forgets the early gradients within a few hundred steps
ADAMW_END_STEPS = 2500
ADAMW_END_WINDOW = 500          # the answer is the mean of the last 500 iterates


def measured_adamw_end(hessian, minimiser, weight_decay):
    r"""Run ``torch.optim.AdamW(lr=0.02, betas=(0.9, 0.99), weight_decay=λ)`` on the 2-D quadratic
    :math:`f(\theta) = \tfrac12 (\theta - c)^\top H (\theta - c)` (``hessian`` H, 2x2 nested
    lists; ``minimiser`` c), full batch, from θ = 0, for 2500 steps, and return the mean of
    :math:`\theta_2` over the last 500 iterates: where AdamW's second coordinate ends."""
    from course_lib.problems.toy_regression import single_threaded

    H = torch.tensor(hessian, dtype=torch.float64)
    c = torch.tensor(minimiser, dtype=torch.float64)
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.AdamW([theta], lr=ADAMW_END_LR, betas=ADAMW_END_BETAS,
                                  weight_decay=weight_decay, foreach=False)
    total = 0.0
    with single_threaded():
        for step in range(ADAMW_END_STEPS):
            theta.grad = H @ (theta.detach() - c)
            optimizer.step()
            if step >= ADAMW_END_STEPS - ADAMW_END_WINDOW:
                total += theta[1].item()
    return total / ADAMW_END_WINDOW


def box_constrained_minimiser(hessian, minimiser, weight_decay):
    r"""The minimiser of the 2-D quadratic f inside the box :math:`|\theta_i| \le 1/\lambda`, by
    trying every active set (each coordinate free, at −1/λ or at +1/λ). Used to choose cases away
    from the edges, never to grade."""
    import itertools

    (a, b), (_, d) = hessian
    c = minimiser
    bound = 1 / weight_decay
    best = None
    for sides in itertools.product((None, -1.0, 1.0), repeat=2):
        theta = [0.0 if s is None else s * bound for s in sides]
        if sides == (None, None):
            theta = list(c)
        elif sides[0] is None:
            theta[0] = c[0] - b * (theta[1] - c[1]) / a
        elif sides[1] is None:
            theta[1] = c[1] - b * (theta[0] - c[0]) / d
        if max(abs(theta[0]), abs(theta[1])) > bound * (1 + 1e-12):
            continue
        u, v = theta[0] - c[0], theta[1] - c[1]
        value = 0.5 * (a * u * u + 2 * b * u * v + d * v * v)
        if best is None or value < best[0]:
            best = (value, theta)
    return best[1]


def _explain_adamw_end(inputs, measured, predicted):
    return ("Write the condition for a point where AdamW stops moving, coordinate by coordinate: "
            "the decay η·λ·θᵢ and the Adam step cancel. How large can the normalised step be "
            "once a gradient keeps its sign, and what does that allow θᵢ to be? A coordinate "
            "that is held at its limit has a gradient that is not zero; a free coordinate's "
            "gradient is zero, and with H coupled it depends on where the other one sits.")


def _clip(value, bound):
    return max(-bound, min(bound, value))


def _l2_end(hessian, minimiser, weight_decay):
    (a, b), (_, d) = hessian
    c1, c2 = minimiser
    # (H + λI) θ = H c, second coordinate
    r1, r2 = a * c1 + b * c2, b * c1 + d * c2
    a, d = a + weight_decay, d + weight_decay
    return (a * r2 - b * r1) / (a * d - b * b)


@register_prediction(
    "8.1",
    measure=measured_adamw_end,
    rtol=0.03,
    explain=_explain_adamw_end,
    mistakes=[
        KnownMistake("l2_minimiser", _l2_end,
                     "That is where Adam + L2 (and SGD + L2) end: the minimiser of "
                     "f + λ/2·‖θ‖². AdamW's decay does not enter the gradient, so its stationary "
                     "points obey another equation: lecture 08, section 3, 'Where each method "
                     "ends up'."),
        KnownMistake("clip_each_coordinate", lambda hessian, minimiser, weight_decay:
                     _clip(minimiser[1], 1 / weight_decay),
                     "Clipping f's minimiser into the box is right only when H is diagonal. Here "
                     "the coordinates are coupled: when θ₁ is held at its limit, θ₂'s own "
                     "gradient is zero somewhere else. Where?"),
        KnownMistake("unregularised", lambda hessian, minimiser, weight_decay: minimiser[1],
                     "f's own minimiser is right only when it satisfies AdamW's stationary "
                     "condition. How large can the normalised step be, and how large is the "
                     "decay's pull at this minimiser?"),
        KnownMistake("always_on_the_boundary", lambda hessian, minimiser, weight_decay:
                     math.copysign(1 / weight_decay, minimiser[1]),
                     "The decay's pull λθ can also be balanced by a gradient close to zero: a "
                     "coordinate need not sit at its limit."),
        KnownMistake("box_of_size_one", lambda hessian, minimiser, weight_decay:
                     _clip(minimiser[1], 1.0),
                     "The limit depends on λ: the normalised step has size at most about 1, "
                     "and it must balance λ·θ, not θ."),
    ],
)
def adamw_end_cases(rng: torch.Generator):
    """Diagonal H first (curvatures from 0.01 to 100: AdamW's endpoint does not depend on them,
    L2's does), then coupled H where θ₁'s minimiser lies outside the box, so θ₂ ends away from
    both its own minimiser and its clipped value. Random cases have θ₁ held at its limit and θ₂
    free, at least 0.3/λ from 0 and 10 % from the box's edge (where both sit on the edge, AdamW
    hovers a few per cent inside it)."""
    def uniform(low, high):
        return float(torch.empty(()).uniform_(low, high, generator=rng))

    def case(hessian, minimiser, weight_decay):
        (a, b), (_, d) = hessian
        name = "H diagonal" if b == 0 else "H coupled"
        return Case(f"{name}: H = [[{a:g}, {b:g}], [{b:g}, {d:g}]], c = ({minimiser[0]:g}, "
                    f"{minimiser[1]:g}), λ = {weight_decay:g}",
                    hessian=hessian, minimiser=minimiser, weight_decay=weight_decay)

    yield case([[1.0, 0.0], [0.0, 0.01]], [0.5, 3.0], 0.5)
    yield case([[0.01, 0.0], [0.0, 50.0]], [3.0, 0.3], 2.0)
    yield case([[1.0, 0.8], [0.8, 1.0]], [3.0, 0.5], 0.5)
    yield case([[4.0, 1.9], [1.9, 1.0]], [2.0, -0.5], 1.0)
    yield case([[1.0, 0.5], [0.5, 2.0]], [-3.0, -1.0], 0.5)
    made = 0
    while made < 3:
        weight_decay = float(f"{10 ** uniform(-0.5, 0.3):.2g}")
        bound = 1 / weight_decay
        a, d = (float(f"{10 ** uniform(-1, 1):.2g}") for _ in range(2))
        rho = uniform(0.3, 0.8) * (1 if uniform(0, 1) < 0.5 else -1)
        b = float(f"{rho * math.sqrt(a * d):.2g}")
        c1 = float(f"{bound * uniform(1.5, 3.0) * (1 if uniform(0, 1) < 0.5 else -1):.2g}")
        c2 = float(f"{bound * uniform(-0.8, 0.8):.2g}")
        end = box_constrained_minimiser([[a, b], [b, d]], [c1, c2], weight_decay)[1]
        on_edge = abs(abs(end) - bound) < 1e-9
        if on_edge or abs(end) < 0.3 * bound or abs(end) > 0.9 * bound \
                or abs(end - _clip(c2, bound)) < 0.2 * bound:
            continue
        made += 1
        yield case([[a, b], [b, d]], [c1, c2], weight_decay)


# --------------------------------------------------------------------------------------------
# 8.2 predict, then measure: the size a noise-driven weight settles at
# --------------------------------------------------------------------------------------------

RMS_MEASURE_WEIGHTS = 2000  # independent weights averaged over, so the noise averages out


def measured_rms_weight(lr, weight_decay, grad_scale, decoupled):
    r"""Run ``torch.optim.AdamW`` (``decoupled``) or ``torch.optim.Adam`` (L2) with
    ``weight_decay`` λ on 2000 weights that start at 0, each with loss gradient ±``grad_scale``
    (a fair coin per weight and step, seeded), for 4/r steps where r is the decay per step
    (η·λ for AdamW, η·λ/σ for Adam + L2), and return the root mean square of the weights over
    the second half of the run."""
    from course_lib.problems.toy_regression import single_threaded

    rate = lr * weight_decay if decoupled else lr * weight_decay / grad_scale
    steps = int(round(4 / rate))
    generator = torch.Generator().manual_seed(8_2)
    weights = torch.zeros(RMS_MEASURE_WEIGHTS, dtype=torch.float64, requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    optimizer = cls([weights], lr=lr, weight_decay=weight_decay, foreach=False)
    total, counted = 0.0, 0
    with single_threaded():
        for step in range(steps):
            signs = torch.randint(0, 2, weights.shape, generator=generator, dtype=torch.float64) * 2 - 1
            weights.grad = grad_scale * signs
            optimizer.step()
            if step >= steps // 2:
                total += (weights.detach() ** 2).mean().item()
                counted += 1
    return math.sqrt(total / counted)


def _explain_rms(inputs, measured, predicted):
    return ("The weights settle where what the decay removes from θ² per step balances what the "
            "noise adds to θ² per step, on average over many steps. Without decay, how far does "
            "one gradient of ±σ move θ in total, counting every later step its momentum takes "
            "part in, whatever σ is? By how much does one step's decay shrink θ² (not θ) for "
            "this method? The decay per step differs between Adam + L2 and AdamW.")


@register_prediction(
    "8.2",
    measure=measured_rms_weight,
    rtol=0.06,
    explain=_explain_rms,
    mistakes=[
        KnownMistake("shrink_of_theta_not_theta_squared", lambda lr, weight_decay, grad_scale,
                     decoupled: math.sqrt(lr * (1 if decoupled else grad_scale) / weight_decay),
                     "A shrink of θ by a fraction r per step shrinks θ² by about twice that "
                     "fraction: (1 − r)² ≈ 1 − 2r."),
        KnownMistake("no_square_root", lambda lr, weight_decay, grad_scale, decoupled:
                     lr * (1 if decoupled else grad_scale) / (2 * weight_decay),
                     "Your balance gives the mean of θ²; the question asks for its square "
                     "root, the RMS size of a weight."),
        KnownMistake("same_for_both", lambda lr, weight_decay, grad_scale, decoupled:
                     math.sqrt(lr / (2 * weight_decay)),
                     "Right for AdamW. Under Adam + L2 the decay per step is not η·λ: the L2 "
                     "term is divided by √v̂ like the gradient (lecture 08, section 3)."),
        KnownMistake("noise_divided_wrong_way", lambda lr, weight_decay, grad_scale, decoupled:
                     math.sqrt(lr / (2 * weight_decay * (1 if decoupled else grad_scale))),
                     "Under Adam + L2 the decay per step is divided by σ, so with large "
                     "gradients weights are decayed less and settle larger, not smaller."),
        KnownMistake("one_step_rms_as_the_noise", lambda lr, weight_decay, grad_scale,
                     decoupled: math.sqrt(lr * (1 if decoupled else grad_scale)
                                          / (2 * weight_decay) * 0.1 / 1.9),
                     "One step's random part is indeed short, since m̂ averages many signs, but "
                     "that is not what θ² accumulates: a gradient keeps moving θ in the steps "
                     "after it through the momentum. Add up one gradient's whole push, then "
                     "treat θ as a random walk."),
        KnownMistake("raw_gradient_steps", lambda lr, weight_decay, grad_scale, decoupled:
                     grad_scale * math.sqrt(lr * (1 if decoupled else grad_scale)
                                            / (2 * weight_decay)),
                     "Adam's step is normalised: its random part has length about η whatever "
                     "σ is, not η·σ."),
    ],
)
def rms_weight_cases(rng: torch.Generator):
    """Both methods, gradient scales from 0.03 to 30, and λ chosen so that the decay per step
    r lies in [0.001, 0.002] (slow enough that the balance is the whole story, fast enough to
    measure in at most 4000 steps)."""
    def uniform(low, high):
        return float(torch.empty(()).uniform_(low, high, generator=rng))

    def case(lr, grad_scale, rate, decoupled):
        weight_decay = float(f"{rate * (1 if decoupled else grad_scale) / lr:.2g}")
        name = "AdamW" if decoupled else "Adam + L2"
        return Case(f"{name}: lr={lr}, weight_decay={weight_decay}, grad_scale={grad_scale}",
                    lr=lr, weight_decay=weight_decay, grad_scale=grad_scale, decoupled=decoupled)

    yield case(0.01, 0.1, 0.002, False)
    yield case(0.003, 10.0, 0.001, False)
    yield case(0.01, 10.0, 0.002, True)
    for decoupled in (False, True, False):
        lr = float(f"{10 ** uniform(-2.5, -1.5):.2g}")
        sign = 1 if uniform(0, 1) < 0.5 else -1
        grad_scale = float(f"{10 ** (sign * uniform(0.5, 1.5)):.2g}")
        yield case(lr, grad_scale, uniform(0.001, 0.002), decoupled)


# --------------------------------------------------------------------------------------------
# 8.3 param groups: decay the matrices, not the biases and norms
# --------------------------------------------------------------------------------------------

ADAMW_DEFAULT_WEIGHT_DECAY = 1e-2  # what torch.optim.AdamW gives a group without the key


def reference_decay_groups(model, weight_decay):
    """nanoGPT's rule: every trainable tensor with 2 or more dimensions decays (weight matrices,
    embeddings, convolution kernels); every 0- or 1-dim one (biases, norm gains) does not."""
    trainable = [p for _, p in model.named_parameters() if p.requires_grad]
    return [
        {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
    ]


class _decay_of_each_parameter:
    """Call strategy for 8.3: call ``fn(model=<a copy>, weight_decay=...)`` and observe, for each
    trainable parameter by name, the weight decay ``torch.optim.AdamW(groups)`` would give it,
    plus the parameters in no group, in two groups, frozen ones included, and foreign ones."""

    def __call__(self, fn, inputs):
        model = copy.deepcopy(inputs["model"])  # the learner may do anything to their copy
        weight_decay = inputs["weight_decay"]
        # Which tensors are parameters, and which are frozen, is read *before* the call: a
        # function that freezes or replaces parameters must not change what it is judged on.
        names = {}
        for name, parameter in model.named_parameters(remove_duplicate=True):
            names[id(parameter)] = name
        frozen = {id(p) for p in model.parameters() if not p.requires_grad}
        groups = fn(model=model, weight_decay=weight_decay)
        if isinstance(groups, dict) or not isinstance(groups, (list, tuple)):
            raise TypeError("return a list of param-group dicts, e.g. "
                            "[{'params': [...], 'weight_decay': 0.1}, ...], got "
                            f"{type(groups).__name__}")
        seen: dict[int, list[float]] = {}
        for index, group in enumerate(groups):
            if not isinstance(group, dict) or "params" not in group:
                raise TypeError(f"group {index} must be a dict with a 'params' list, got "
                                f"{group!r:.60}")
            params = group["params"]
            if isinstance(params, torch.Tensor):
                params = [params]
            decay = float(group.get("weight_decay", ADAMW_DEFAULT_WEIGHT_DECAY))
            for parameter in params:
                seen.setdefault(id(parameter), []).append(decay)
        values = {
            "trainable parameters in no group": sorted(
                names[i] for i in names if i not in seen and i not in frozen),
            "parameters in more than one group": sorted(
                names.get(i, "?") for i, decays in seen.items() if len(decays) > 1),
            "frozen parameters in a group": sorted(names[i] for i in seen if i in frozen),
            "tensors that are not this model's parameters": sum(1 for i in seen if i not in names),
        }
        for i, name in names.items():
            if i in seen and i not in frozen:
                values[f"weight_decay of '{name}'"] = seen[i][0]
        return Observation(values, returned=groups)


def _all_trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


def _decay_everything(model, weight_decay):
    return [{"params": _all_trainable(model), "weight_decay": weight_decay}]


def _decay_nothing(model, weight_decay):
    return [{"params": _all_trainable(model), "weight_decay": 0.0}]


def _exempt_by_name_bias(model, weight_decay):
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith("bias")]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("bias")]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _exempt_listed_norm_types(model, weight_decay):
    # biases by name, plus the weights of the norm classes the learner happened to list
    listed = set()
    for module in model.modules():
        if isinstance(module, (nn.LayerNorm,)):
            listed |= {id(p) for p in module.parameters(recurse=False)}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith("bias") or id(p) in listed else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _no_decay_group_without_key(model, weight_decay):
    groups = reference_decay_groups(model, weight_decay)
    del groups[1]["weight_decay"]
    return groups


def _frozen_included(model, weight_decay):
    everything = list(model.parameters())
    return [{"params": [p for p in everything if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in everything if p.dim() < 2], "weight_decay": 0.0}]


def _walk_modules(model, weight_decay):
    # per module, its own parameters: a tied weight (two modules share it) is found twice
    decay, no_decay = [], []
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if p.requires_grad:
                (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


_DECAYED_MODULE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _by_module_type(model, weight_decay):
    # minGPT's way: the .weight of a whitelisted module class decays, everything else does not
    decayed = set()
    for module in model.modules():
        if isinstance(module, _DECAYED_MODULE_TYPES):
            for name, p in module.named_parameters(recurse=False):
                if name == "weight":
                    decayed.add(id(p))
    trainable = _all_trainable(model)
    return [{"params": [p for p in trainable if id(p) in decayed], "weight_decay": weight_decay},
            {"params": [p for p in trainable if id(p) not in decayed], "weight_decay": 0.0}]


def _swapped(model, weight_decay):
    groups = reference_decay_groups(model, weight_decay)
    groups[0]["weight_decay"], groups[1]["weight_decay"] = 0.0, weight_decay
    return groups


DECAY_GROUP_MISTAKES = [
    KnownMistake("decay_everything", _decay_everything,
                 "Everything decays, biases and norm gains included. Decay pulls a parameter "
                 "towards 0; for a LayerNorm gain that means switching the layer's output off, "
                 "and a bias has no reason to be small. Put 0- and 1-dim tensors in a group "
                 "with weight_decay 0."),
    KnownMistake("decay_nothing", _decay_nothing,
                 "Nothing decays: the weight matrices (2 or more dims) need weight_decay."),
    KnownMistake("no_decay_group_without_key", _no_decay_group_without_key,
                 "Your no-decay group has no 'weight_decay' key, so AdamW gives it the "
                 "optimizer's default, 0.01. Write 'weight_decay': 0.0 in that group."),
    KnownMistake("frozen_included", _frozen_included,
                 "Frozen parameters (requires_grad=False) are in your groups. Leave them out, as "
                 "nanoGPT does: they are not trained, so they have nothing to decay."),
    KnownMistake("walks_modules", _walk_modules,
                 "A parameter shared by two modules (tied embedding and output weights) is in "
                 "your groups twice, which AdamW refuses. model.named_parameters() lists each "
                 "tensor once; walking model.modules() finds it once per module."),
    KnownMistake("exempt_listed_norms_only", _exempt_listed_norm_types,
                 "You exempt LayerNorm but this model has other 1-dim gains (BatchNorm, RMSNorm, "
                 "a custom scale). A list of classes always misses one: decide by shape, as "
                 "nanoGPT does (p.dim() >= 2 decays)."),
    KnownMistake("exempt_bias_by_name_only", _exempt_by_name_bias,
                 "You exempt the biases but decay the norm gains (LayerNorm/BatchNorm/RMSNorm "
                 "weights, other 1-dim scales). Decide by shape, not by name: 2 or more dims "
                 "decay, 0 or 1 dims do not."),
    KnownMistake("by_module_type", _by_module_type,
                 "You chose the groups by module type (the weights of Linear and Conv layers "
                 "decay). A list of classes misses matrices that live elsewhere: an attention "
                 "layer's own projection, an embedding, a GRU's weights, a custom block's "
                 "parameter. Look at what the tensor is, not which module holds it (lecture 08, "
                 "section 6)."),
    KnownMistake("swapped", _swapped,
                 "Your groups are swapped: the matrices got 0 and the biases and gains got the "
                 "decay."),
]


class _TiedLanguageModel(nn.Module):
    """Embedding → LayerNorm → self-attention → LayerNorm → output layer tied to the embedding."""

    def __init__(self, vocab, width, heads):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.norm1 = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width, bias=False)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight  # weight tying, as in GPT-2


class _FiLMBlock(nn.Module):
    """A block the learner has never seen: its own gain and shift vectors, a mixing matrix, a
    scalar temperature, an RMSNorm, and a frozen random projection."""

    def __init__(self, width):
        super().__init__()
        self.mix = nn.Parameter(torch.randn(width, width) / width**0.5)
        self.gain = nn.Parameter(torch.ones(width))
        self.shift = nn.Parameter(torch.zeros(width))
        self.temperature = nn.Parameter(torch.tensor(1.0))
        self.norm = nn.RMSNorm(width)
        self.projection = nn.Linear(width, width)
        self.projection.requires_grad_(False)


def _sizes(rng, low, high, count):
    return [int(torch.randint(low, high + 1, (), generator=rng)) for _ in range(count)]


@register(
    "8.3",
    reference=reference_decay_groups,
    call=_decay_of_each_parameter(),
    mistakes=DECAY_GROUP_MISTAKES,
)
def decay_groups_cases(rng: torch.Generator):
    width, hidden = _sizes(rng, 3, 12, 2)
    yield Case("an MLP with LayerNorm", weight_decay=0.1,
               model=nn.Sequential(nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                                   nn.Linear(hidden, 1)))
    channels, classes = _sizes(rng, 2, 8, 2)
    yield Case("a CNN with BatchNorm2d and a bias-free classifier", weight_decay=0.05,
               model=nn.Sequential(nn.Conv2d(3, channels, 3), nn.BatchNorm2d(channels), nn.ReLU(),
                                   nn.Flatten(), nn.Linear(channels * 4, classes, bias=False)))
    vocab, heads = _sizes(rng, 5, 30, 1)[0], 2
    yield Case("a tiny language model: embedding tied to the output layer, attention, LayerNorms",
               weight_decay=0.1, model=_TiedLanguageModel(vocab, 2 * heads * 2, heads))
    width = _sizes(rng, 2, 9, 1)[0]
    yield Case("a custom block: gain and shift vectors, a scalar temperature, RMSNorm, a frozen "
               "projection", weight_decay=0.2, model=_FiLMBlock(width))
    inputs, hidden = _sizes(rng, 2, 6, 2)
    yield Case("a GRU and a GroupNorm'd Conv1d", weight_decay=0.01,
               model=nn.ModuleDict({"rnn": nn.GRU(inputs, hidden),
                                    "conv": nn.Conv1d(hidden, hidden, 3),
                                    "norm": nn.GroupNorm(1, hidden)}))


# --------------------------------------------------------------------------------------------
# 8.4 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "8.4",
    prompt="You halve torch's lr and change nothing else. (a) For full-batch training run until it "
           "hovers, what happens to the point Adam + L2 is drawn to, and to AdamW's box? (b) In "
           "a run of a fixed number of steps that is far from that point, what happens to how "
           "much each method's λ has shrunk the weights by the end, and what would you do to λ "
           "to undo it?",
    rubric=(
        (1, "(a) Adam + L2 is drawn to the minimiser of f + λ/2‖θ‖², which has no lr in it: it "
            "does not move."),
        (1, "(a) AdamW's stationary condition ηλθ = −η·m̂/(√v̂ + ε) has η on both sides: the "
            "box |θ_i| ≤ 1/λ does not move."),
        (1, "(b) AdamW's decay per step is ηλ (torch couples λ to lr), so over the same steps "
            "the weights shrink about half as much; doubling λ restores it, and halves the box."),
        (1, "(b) Adam + L2's shrink per step, ηλθ/√v̂, also halves; doubling λ restores it but "
            "moves its endpoint (the minimiser of f + λ/2‖θ‖²) towards 0: the fix keeps the "
            "decay per step, not the destination, for both methods."),
    ),
    max_score=4,
)
