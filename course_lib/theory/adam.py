r"""Adam's closed-form facts: bias correction, the size of one update, the worst case.

The update, exactly as ``torch.optim.Adam`` and :func:`course_lib.optim.adam_update` compute it
(η = ``lr``, β₁, β₂ = ``betas``, ε = ``eps``, t = ``state["step"]`` after the increment):

.. math::

    m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
    v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad m_0 = v_0 = 0,

    \hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
    \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.

Every function here works per coordinate (Adam is elementwise) and ignores ε where it says so:
ε matters only when :math:`\sqrt{\hat v}` is comparable to it (gradients around 1e-8 with the
default ε).
"""

from __future__ import annotations

import math

__all__ = [
    "bias_correction",
    "steady_step_ratio",
    "first_step",
    "spike_step_ratio",
    "update_bound",
]


def _check_beta(beta: float, name: str) -> None:
    if not (isinstance(beta, (int, float)) and 0.0 <= beta < 1.0):
        raise ValueError(f"Invalid {name} parameter: {beta} (must be in [0, 1))")


def _check_step(step: int) -> None:
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be an integer >= 1 (the first step is t = 1), got {step!r}")


def bias_correction(beta: float, step: int) -> float:
    r"""The factor :math:`1/(1-\beta^t)` that turns a zero-started moving average into an
    unbiased one: :math:`\hat m_t = m_t/(1-\beta_1^t)`, :math:`\hat v_t = v_t/(1-\beta_2^t)`.

    Why: with :math:`m_0 = 0` and a constant input :math:`g`,
    :math:`m_t = (1-\beta)(1 + \beta + \dots + \beta^{t-1})\, g = (1-\beta^t)\, g`, so the
    average starts too small by exactly :math:`1-\beta^t`. The factor is :math:`1/(1-\beta)` at
    t = 1 (10 for β₁ = 0.9, 1000 for β₂ = 0.999) and tends to 1 after a few multiples of
    :math:`1/(1-\beta)` steps.
    """
    _check_beta(beta, "beta")
    _check_step(step)
    return 1.0 / (1.0 - beta**step)


def steady_step_ratio(beta1: float, beta2: float, step: int, *, bias_correction: bool = True) -> float:
    r""":math:`|\Delta\theta_t| / \eta` under a constant gradient (ε ignored).

    With bias correction :math:`\hat m_t = g` and :math:`\sqrt{\hat v_t} = |g|` at every step,
    so every step has length exactly η: Adam's lr is a step length, whatever the size of g.
    Without it, :math:`m_t = (1-\beta_1^t) g` and :math:`\sqrt{v_t} = \sqrt{1-\beta_2^t}\,|g|`:

    .. math:: \frac{|\Delta\theta_t|}{\eta} = \frac{1-\beta_1^t}{\sqrt{1-\beta_2^t}}

    (for the default betas: 3.16 at t = 1, a peak of 6.57 at t = 12, still 1.26 at t = 1000,
    then slowly down to 1: β₂'s correction fades over thousands of steps).
    """
    _check_beta(beta1, "beta1")
    _check_beta(beta2, "beta2")
    _check_step(step)
    if bias_correction:
        return 1.0
    return (1.0 - beta1**step) / math.sqrt(1.0 - beta2**step)


def first_step(lr: float, grad: float, *, eps: float = 1e-8, beta1: float = 0.9,
               beta2: float = 0.999, bias_correction: bool = True) -> float:
    r"""Adam's first update :math:`\Delta\theta_1 = \theta_1 - \theta_0` for gradient ``grad``
    (ε included).

    With bias correction :math:`\hat m_1 = g`, :math:`\sqrt{\hat v_1} = |g|`:
    :math:`\Delta\theta_1 = -\eta\, g/(|g| + \epsilon)`, a step of length ≈ η in the direction
    of :math:`-\operatorname{sign}(g)` (Adam's first step is sign descent). Without it:
    :math:`\Delta\theta_1 = -\eta\,(1-\beta_1) g / (\sqrt{1-\beta_2}\,|g| + \epsilon)`.
    """
    _check_beta(beta1, "beta1")
    _check_beta(beta2, "beta2")
    if bias_correction:
        return -lr * grad / (abs(grad) + eps)
    return -lr * (1.0 - beta1) * grad / (math.sqrt(1.0 - beta2) * abs(grad) + eps)


def spike_step_ratio(beta1: float, beta2: float, quiet_steps: int) -> float:
    r""":math:`|\Delta\theta_t| / \eta` for a coordinate whose gradient was 0 for ``quiet_steps``
    steps and is :math:`g \ne 0` at step :math:`t = \text{quiet\_steps} + 1` (a rare feature;
    ε ignored).

    Only the last gradient is in the averages (the zeros before it left nothing in m and v), so
    the step does not depend on the gradient's size, only on the two bias corrections at
    t = quiet_steps + 1. The ratio is 1 at t = 1, then **dips** below 1 while β₂'s correction is
    still large (for the default betas 0.48 after 10 silent steps, the minimum 0.481 after 11, 0.98 after 100), passes
    1 only after 105 silent steps and approaches :math:`(1-\beta_1)/\sqrt{1-\beta_2}` (3.16 for
    the default betas) once both corrections have faded, after about 10⁴ steps. So a rare
    feature's step is longer than lr only after a *long* silence (notebook 07, section 5).
    """
    _check_beta(beta1, "beta1")
    _check_beta(beta2, "beta2")
    if isinstance(quiet_steps, bool) or not isinstance(quiet_steps, int) or quiet_steps < 0:
        raise ValueError(f"quiet_steps must be an integer >= 0, got {quiet_steps!r}")
    t = quiet_steps + 1
    return (1.0 - beta1) / (1.0 - beta1**t) * math.sqrt(1.0 - beta2**t) / math.sqrt(1.0 - beta2)


def update_bound(beta1: float, beta2: float, step: int) -> float:
    r"""The largest :math:`|\Delta\theta_t|/\eta` any gradient sequence can produce at step t
    (ε ignored; needs :math:`\beta_1^2 < \beta_2`, true for every usual setting).

    Write the averages as sums over the age k of each gradient,
    :math:`m_t = (1-\beta_1)\sum_{k<t} \beta_1^k g_{t-k}` and
    :math:`v_t = (1-\beta_2)\sum_{k<t} \beta_2^k g_{t-k}^2`. Cauchy–Schwarz on
    :math:`\beta_1^k g = (\beta_1^k \beta_2^{-k/2})(\beta_2^{k/2} g)` gives

    .. math::

        \frac{|\hat m_t|}{\sqrt{\hat v_t}} \le
        \frac{1-\beta_1}{1-\beta_1^t}\sqrt{\frac{1-\beta_2^t}{1-\beta_2}}
        \sqrt{\frac{1-r^t}{1-r}}, \qquad r = \beta_1^2/\beta_2,

    with equality for gradients that grow geometrically, :math:`g_{t-k} \propto (\beta_1/\beta_2)^k`.
    At t = 1 the bound is 1; for large t and the default betas it is about 7.3 (5.78 at t = 1000,
    which torch's Adam reaches on the geometric sequence). Kingma & Ba's section 2.1 states
    :math:`(1-\beta_1)/\sqrt{1-\beta_2}` (3.16) as an upper bound; it is not one: it is the
    single-spike case after a long silence, :func:`spike_step_ratio`. Steady gradients give 1
    (:func:`steady_step_ratio`).
    """
    _check_beta(beta1, "beta1")
    _check_beta(beta2, "beta2")
    _check_step(step)
    r = beta1 * beta1 / beta2 if beta2 > 0 else math.inf
    if not r < 1.0:
        raise ValueError(f"update_bound needs beta1**2 < beta2, got beta1={beta1}, beta2={beta2}")
    geometric = (1.0 - r**step) / (1.0 - r)
    return (1.0 - beta1) / (1.0 - beta1**step) * math.sqrt((1.0 - beta2**step) / (1.0 - beta2)) \
        * math.sqrt(geometric)
