r"""Checkers for notebook 08, weight decay and AdamW: exercises 8.1 to 8.4.

8.1 ``adamw_step(param, grad, state, *, lr, beta1, beta2, eps, weight_decay)``: one step of
    ``torch.optim.AdamW`` on one tensor, in place (``course_lib.optim.adamw_update``):
    :math:`\theta \leftarrow \theta(1-\eta\lambda)`, then a plain Adam step (which the learner may
    take with ``course_lib.optim.adam_update``); ``state`` comes from ``adam_init``.
8.2 predict, then measure: ``predicted_l2_decay(lr, weight_decay, grad_scale)``, the average
    fraction of a weight that ``Adam(weight_decay=λ)`` (coupled L2) removes per step when the
    loss gradient is zero-mean noise of size ``grad_scale``; measured by running Adam on a
    thousand such weights.
8.3 ``decay_groups(model, weight_decay)``: AdamW param groups that decay every weight matrix
    (and embedding, convolution kernel: anything with two or more dimensions) and exempt biases,
    norm gains and other vectors and scalars; frozen parameters are left out. Checked on modules
    the learner has not seen (convolutions with batch norm, attention, RNNs, tied weights, a
    custom module with its own gain vector and a scalar temperature).
8.4 written answer: what doubling lr in torch's AdamW does to the step, to the decay per step and
    to the size the weights settle at.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ._framework import Case, KnownMistake, Observation, in_place, register, register_prediction, \
    register_written

# --------------------------------------------------------------------------------------------
# 8.1 adamw_step
# --------------------------------------------------------------------------------------------


def reference_adamw_step(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    """One torch AdamW step: ``course_lib.optim.adamw_update``."""
    from course_lib.optim.adamw import adamw_update

    adamw_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                 weight_decay=weight_decay)


def _adam(param, grad, state, lr, beta1, beta2, eps, weight_decay=0.0):
    from course_lib.optim.adam import adam_update

    adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                weight_decay=weight_decay)


def _decay_not_times_lr(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    param.mul_(1 - weight_decay)  # the paper's form with schedule multiplier 1, torch's λ
    _adam(param, grad, state, lr, beta1, beta2, eps)


def _decay_after_adam(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    _adam(param, grad, state, lr, beta1, beta2, eps)
    param.mul_(1 - lr * weight_decay)


def _coupled_l2(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    _adam(param, grad, state, lr, beta1, beta2, eps, weight_decay=weight_decay)


def _decay_twice(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    # decoupled decay by hand *and* L2 through Adam's weight_decay
    param.mul_(1 - lr * weight_decay)
    _adam(param, grad, state, lr, beta1, beta2, eps, weight_decay=weight_decay)


def _decay_grows(param, grad, state, *, lr, beta1, beta2, eps, weight_decay):
    param.mul_(1 + lr * weight_decay)
    _adam(param, grad, state, lr, beta1, beta2, eps)


ADAMW_STEP_MISTAKES = [
    KnownMistake(
        "coupled_l2", _coupled_l2,
        "This is Adam with L2 (Adam's own weight_decay): λθ added to the gradient, then divided "
        "by √v̂ with everything else. AdamW decouples it: shrink the weights directly, "
        "θ ← θ·(1 − η·λ), and give Adam the plain gradient."),
    KnownMistake(
        "decay_twice", _decay_twice,
        "You decay twice: once by hand and once more through Adam's weight_decay (which is L2). "
        "Call the Adam step with weight_decay=0."),
    KnownMistake(
        "decay_not_times_lr", _decay_not_times_lr,
        "Your decay is θ·(1 − λ). torch multiplies the decay by the learning rate: "
        "θ ← θ·(1 − η·λ) (the paper's separate multiplier is not torch's weight_decay)."),
    KnownMistake(
        "decay_after_adam", _decay_after_adam,
        "You shrank θ after the Adam step. torch decays first, using θ from before this step: "
        "θ ← θ·(1 − η·λ), then the Adam update."),
    KnownMistake(
        "decay_grows", _decay_grows,
        "Your weights grow: the factor is (1 − η·λ), below 1."),
]


@register(
    "8.1",
    reference=reference_adamw_step,
    call=in_place("state", "param", steps_over="grad"),
    mistakes=ADAMW_STEP_MISTAKES,
)
def adamw_step_cases(rng: torch.Generator):
    from course_lib.optim.adam import adam_init

    def randn(*shape, dtype=torch.float64, scale=1.0):
        return scale * torch.randn(shape, generator=rng, dtype=dtype)

    def uniform(low, high):
        return float(torch.empty((), dtype=torch.float64).uniform_(low, high, generator=rng))

    def fresh(param):
        return param, adam_init(param)

    param, state = fresh(randn(4, scale=3.0))
    yield Case("first step, lr 0.1, weight_decay 0.5 (decay large enough to see)",
               param=param, grad=[randn(4)], state=state, lr=0.1, beta1=0.9, beta2=0.999,
               eps=1e-8, weight_decay=0.5)
    param, state = fresh(randn(3, scale=3.0))
    yield Case("four steps, lr 0.05, weight_decay 1.0", param=param,
               grad=[randn(3) for _ in range(4)], state=state, lr=0.05, beta1=0.9, beta2=0.99,
               eps=1e-8, weight_decay=1.0)
    param, state = fresh(randn(3))
    yield Case("weight_decay 0: plain Adam", param=param, grad=[randn(3) for _ in range(3)],
               state=state, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    param, state = fresh(randn(5, scale=2.0))
    yield Case("zero gradient: only the decay moves the weights (after one real step)",
               param=param, grad=[randn(5), torch.zeros(5, dtype=torch.float64)], state=state,
               lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.2)
    param, state = fresh(torch.tensor(2.0, dtype=torch.float64))
    yield Case("0-dim (scalar) parameter", param=param,
               grad=[torch.tensor(0.3, dtype=torch.float64), torch.tensor(-1.0, dtype=torch.float64)],
               state=state, lr=0.2, beta1=0.8, beta2=0.99, eps=1e-8, weight_decay=0.3)
    for dtype in (torch.float32, torch.float64):
        for shape in [(6,), (3, 4)]:
            lr = round(10 ** uniform(-2.5, -0.7), 4)
            weight_decay = round(10 ** uniform(-1.5, 0.3), 3)
            beta1 = round(uniform(0.7, 0.95), 3)
            beta2 = round(uniform(0.95, 0.9999), 4)
            param, state = fresh(randn(*shape, dtype=dtype, scale=2.0))
            yield Case(f"five steps, {'x'.join(map(str, shape))} {str(dtype)[6:]} tensor, lr={lr}, "
                       f"weight_decay={weight_decay}, betas=({beta1}, {beta2})",
                       param=param, grad=[randn(*shape, dtype=dtype) for _ in range(5)],
                       state=state, lr=lr, beta1=beta1, beta2=beta2, eps=1e-8,
                       weight_decay=weight_decay)


# --------------------------------------------------------------------------------------------
# 8.2 predict, then measure: the decay L2 really gives under Adam
# --------------------------------------------------------------------------------------------

L2_MEASURE_WEIGHTS = 1000  # independent weights averaged over, so the noise averages out
L2_MEASURE_MAX_STEPS = 20_000


def measured_l2_decay(lr, weight_decay, grad_scale):
    r"""Run ``course_lib``'s ``adam_update`` with ``weight_decay`` (L2, as ``torch.optim.Adam``) on
    1000 weights that start at 1, each with loss gradient ±``grad_scale`` (a fair coin per
    weight and step, seeded), until their mean has shrunk to 1/e (or 20 000 steps). Returns the
    average fraction removed per step, :math:`1 - \bar\theta_T^{1/T}`."""
    from course_lib.optim.adam import adam_init, adam_update
    from course_lib.problems.toy_regression import single_threaded

    generator = torch.Generator().manual_seed(8_2)
    weights = torch.ones(L2_MEASURE_WEIGHTS, dtype=torch.float64)
    state = adam_init(weights)
    steps = 0
    # 1000 numbers per op: one thread is faster than several competing for busy cores
    with single_threaded():
        while steps < L2_MEASURE_MAX_STEPS:
            signs = torch.randint(0, 2, weights.shape, generator=generator, dtype=torch.float64) * 2 - 1
            adam_update(weights, grad_scale * signs, state, lr=lr, weight_decay=weight_decay)
            steps += 1
            if steps % 100 == 0 and weights.mean().item() <= math.exp(-1.0):
                break
    return 1.0 - weights.mean().item() ** (1.0 / steps)


def _explain_l2(inputs, measured, predicted):
    return ("The L2 term λθ is added to the gradient before Adam sees it, so it goes through "
            "m and v like the rest. Ask what m̂ averages to, what √v̂ is close to when the "
            "noise is much larger than λθ, and what the average step m̂/√v̂ does to θ.")


@register_prediction(
    "8.2",
    measure=measured_l2_decay,
    rtol=0.06,
    explain=_explain_l2,
    mistakes=[
        KnownMistake("adamw_rate", lambda lr, weight_decay, grad_scale: lr * weight_decay,
                     "η·λ is AdamW's decay, which bypasses Adam's moments. With L2 the term λθ is "
                     "divided by √v̂ like the gradient: how large is √v̂ here?"),
        KnownMistake("forgot_lr", lambda lr, weight_decay, grad_scale: weight_decay / grad_scale,
                     "Every part of Adam's step is multiplied by the learning rate, the L2 part "
                     "included."),
        KnownMistake("divided_by_v", lambda lr, weight_decay, grad_scale:
                     lr * weight_decay / grad_scale**2,
                     "Adam divides by √v̂, the root of the second moment: a gradient scale, not "
                     "its square."),
        KnownMistake("times_scale", lambda lr, weight_decay, grad_scale:
                     lr * weight_decay * grad_scale,
                     "Large gradients make √v̂ large, and Adam *divides* by it: weights with "
                     "large gradients are decayed less, not more."),
    ],
)
def l2_decay_cases(rng: torch.Generator):
    def case(lr, grad_scale, decay_per_lr):
        # The inputs are chosen so that λθ stays well below the noise (decay_per_lr ≤ 0.05 of a
        # step) and the measurement finishes in a few thousand steps (decay ≥ 3e-4 per step).
        weight_decay = float(f"{decay_per_lr * grad_scale:.3g}")
        return Case(f"lr={lr}, weight_decay={weight_decay}, grad_scale={grad_scale}",
                    lr=lr, weight_decay=weight_decay, grad_scale=grad_scale)

    yield case(0.01, 0.1, 0.03)      # small gradients: decayed more than η·λ
    yield case(0.01, 10.0, 0.03)     # large gradients: decayed less than η·λ
    for _ in range(3):
        lr = float(f"{10 ** float(torch.empty(()).uniform_(-2.0, -1.7, generator=rng)):.2g}")
        exponent = float(torch.empty(()).uniform_(1.0, 2.5, generator=rng))
        sign = 1 if bool(torch.randint(0, 2, (), generator=rng)) else -1
        grad_scale = float(f"{10 ** (sign * exponent):.2g}")
        decay_per_lr = float(torch.empty(()).uniform_(0.03, 0.05, generator=rng))
        yield case(lr, grad_scale, decay_per_lr)


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
    prompt="In torch's AdamW you double lr and keep weight_decay. What happens to the length of "
           "the Adam part of each step, to the fraction the decay removes per step, and to the "
           "size the weights settle at, where the decay's pull balances the noisy updates?",
    rubric="The Adam part of the step doubles (its length is about lr per coordinate). The "
           "decay per step, lr·λ, doubles too, because torch multiplies λ by lr (the paper's "
           "decay would not change). Equilibrium: the shrink lr·λ·|θ|² per step balances the "
           "growth from random steps of size lr, lr²·d, so |θ|² ≈ lr·d/(2λ): the settled norm "
           "grows by √2, and the time to get there, about 1/(lr·λ) steps, halves. To keep the "
           "per-step decay, halve weight_decay.",
)


# 8.1 may take its Adam part with the adam_update the set-up imports, but not the decoupled decay,
# which is the exercise: adam_update(..., decoupled_weight_decay=True) is flagged by the grader's
# scan and recorded by its run-time guard (answer_scan.refused_for).
from ._framework import REGISTRY as _REGISTRY  # noqa: E402

_REGISTRY["8.1"].refused_calls = {"course_lib.optim.adam.adam_update": ("decoupled_weight_decay",)}
