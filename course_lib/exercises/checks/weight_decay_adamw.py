r"""Checkers for notebook 08, weight decay and AdamW: exercises 8.1 to 8.4.

8.1 predict, then measure: ``predicted_adamw_end(curvature, minimiser, weight_decay)``, where
    ``torch.optim.AdamW`` ends on one coordinate of :math:`f = \tfrac12 h(\theta - c)^2` (full
    batch, betas (0.9, 0.99), long enough to converge): f's minimiser c where
    :math:`|c| \le 1/\lambda`, the edge :math:`\pm 1/\lambda` of that box otherwise, whatever h is
    (Xie & Li 2024); measured by running AdamW.
8.2 predict, then measure: ``predicted_rms_weight(lr, weight_decay, grad_scale, decoupled)``, the
    RMS size that weights driven by zero-mean noise ±σ settle at under ``Adam(weight_decay=λ)``
    (L2) or ``AdamW``: the decay removes about 2r·θ² per step (r = ηλ/σ or ηλ) and the noisy
    steps of length about η add η², so :math:`\sqrt{\eta\sigma/(2\lambda)}` or
    :math:`\sqrt{\eta/(2\lambda)}`; measured by running the optimizer on a thousand weights.
8.3 ``decay_groups(model, weight_decay)``: AdamW param groups that decay every weight matrix
    (and embedding, convolution kernel: anything with two or more dimensions) and exempt biases,
    norm gains and other vectors and scalars; frozen parameters are left out. Checked on modules
    the learner has not seen (convolutions with batch norm, attention, RNNs, tied weights, a
    custom module with its own gain vector and a scalar temperature).
8.4 written answer: what multiplying the loss by 10 does to Adam's step and to the best λ of
    Adam + L2, AdamW and SGD + L2, and what that says about the units of each λ.
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


def measured_adamw_end(curvature, minimiser, weight_decay):
    r"""Run ``torch.optim.AdamW(lr=0.02, betas=(0.9, 0.99), weight_decay=λ)`` on one coordinate of
    :math:`f(\theta) = \tfrac12 h(\theta - c)^2` (``curvature`` h, ``minimiser`` c), full batch,
    from θ = 0, for 2500 steps, and return the mean of the last 500 iterates: where AdamW ends."""
    from course_lib.problems.toy_regression import single_threaded

    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.AdamW([theta], lr=ADAMW_END_LR, betas=ADAMW_END_BETAS,
                                  weight_decay=weight_decay, foreach=False)
    total = 0.0
    with single_threaded():
        for step in range(ADAMW_END_STEPS):
            theta.grad = curvature * (theta.detach() - minimiser)
            optimizer.step()
            if step >= ADAMW_END_STEPS - ADAMW_END_WINDOW:
                total += theta.item()
    return total / ADAMW_END_WINDOW


def _explain_adamw_end(inputs, measured, predicted):
    return ("Write the condition for a point where AdamW stops moving: the decay η·λ·θ and the "
            "Adam step cancel. How large can Adam's normalised step m̂/(√v̂ + ε) be once the "
            "gradient's sign stops changing, and what does that allow θ to be? Then ask, "
            "coordinate by coordinate, whether f's own minimiser satisfies it.")


def _clip(value, bound):
    return max(-bound, min(bound, value))


@register_prediction(
    "8.1",
    measure=measured_adamw_end,
    rtol=0.01,
    explain=_explain_adamw_end,
    mistakes=[
        KnownMistake("l2_minimiser", lambda curvature, minimiser, weight_decay:
                     curvature * minimiser / (curvature + weight_decay),
                     "That is where Adam + L2 (and SGD + L2) end: the minimiser of "
                     "f + λ/2·θ². AdamW's decay does not enter the gradient, so its stationary "
                     "points obey another equation: lecture 08, section 3, 'Where each method "
                     "ends up'."),
        KnownMistake("unregularised", lambda curvature, minimiser, weight_decay: minimiser,
                     "f's own minimiser is right only when it satisfies AdamW's stationary "
                     "condition. How large can the normalised step be, and how large is the "
                     "decay's pull at this minimiser?"),
        KnownMistake("always_on_the_boundary", lambda curvature, minimiser, weight_decay:
                     math.copysign(1 / weight_decay, minimiser),
                     "The decay's pull λθ can also be balanced by a gradient close to zero: "
                     "when f's minimiser lies inside the region the condition allows, AdamW "
                     "stops there."),
        KnownMistake("box_of_size_one", lambda curvature, minimiser, weight_decay:
                     _clip(minimiser, 1.0),
                     "The bound depends on λ: the normalised step has size at most about 1, "
                     "and it must balance λ·θ, not θ."),
        KnownMistake("box_of_size_lambda", lambda curvature, minimiser, weight_decay:
                     _clip(minimiser, weight_decay),
                     "Solve |λ·θ| ≤ 1 for θ again: the bound is not λ."),
        KnownMistake("shrunk_by_one_plus_lambda", lambda curvature, minimiser, weight_decay:
                     minimiser / (1 + weight_decay),
                     "A decay does not shrink the endpoint by a fixed fraction: write the "
                     "condition where decay and Adam's step cancel."),
    ],
)
def adamw_end_cases(rng: torch.Generator):
    """Curvatures from 1e-4 to 1e4 (AdamW's endpoint does not depend on them, L2's does), and
    minimisers both inside and outside the region |θ| ≤ 1/λ, at least 25 % away from its edge,
    of both signs; 1/λ both below and above 1."""
    def uniform(low, high):
        return float(torch.empty(()).uniform_(low, high, generator=rng))

    yield Case("h = 0.01, c = 3, λ = 0.5", curvature=0.01, minimiser=3.0, weight_decay=0.5)
    yield Case("h = 100, c = 3, λ = 0.5", curvature=100.0, minimiser=3.0, weight_decay=0.5)
    yield Case("h = 1, c = 0.3, λ = 2", curvature=1.0, minimiser=0.3, weight_decay=2.0)
    for inside in (True, False, True, False):
        weight_decay = float(f"{10 ** uniform(-0.6, 0.6):.2g}")       # 1/λ from 0.25 to 4
        bound = 1 / weight_decay
        size = bound * (uniform(0.2, 0.75) if inside else uniform(1.3, 2.5))
        minimiser = float(f"{size * (1 if uniform(0, 1) < 0.5 else -1):.2g}")
        curvature = float(f"{10 ** uniform(-4, 4):.1g}")
        yield Case(f"h = {curvature:g}, c = {minimiser:g}, λ = {weight_decay:g}",
                   curvature=curvature, minimiser=minimiser, weight_decay=weight_decay)


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
            "noisy steps add to it. How long is the random part of one Adam step, whatever σ "
            "is? By how much does one step's decay shrink θ² (not θ) for this method? Do not "
            "forget that the decay per step differs between Adam + L2 and AdamW.")


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
    prompt="You multiply the loss by 10 (everything else unchanged). What happens to Adam's step "
           "without decay, and to the best λ of Adam + L2, of AdamW and of SGD + L2 (with its lr "
           "retuned)? What does that say about the units each λ is measured in?",
    rubric="Adam's step m̂/(√v̂+ε) is unchanged (ε aside): m̂ and √v̂ both scale by 10. AdamW: "
           "the decay ηλθ does not involve the gradient and the Adam part is unchanged, so the "
           "same run, the same best λ. Adam + L2: the gradient becomes 10∇f + λθ = 10(∇f + "
           "(λ/10)θ), so the same regularisation needs λ ten times larger. SGD + L2: the "
           "minimiser of 10f + λ/2‖θ‖² is that of f + (λ/10)/2‖θ‖², so λ also ×10 (and lr ÷10 "
           "to keep the same steps). L2's λ is weighed against raw gradients (units of the "
           "loss's curvature), AdamW's against normalised steps of order 1 (units of 1/θ): "
           "why their good values differ by orders of magnitude and why an L2 λ does not "
           "transfer between losses of different scale.",
)
