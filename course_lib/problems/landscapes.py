"""2-D test functions ("landscapes") that the course runs optimizers on.

A :class:`Landscape` is a torch-differentiable callable: give it points of shape ``(..., 2)``
(any float dtype) and it returns losses of shape ``(...)``, so one call evaluates a whole plotting
grid or a batch of trajectories. Each landscape also carries

- ``grad(xy)``: the gradient in closed form (tests check it against autograd; the trajectory
  runner uses it because it is several times faster than a backward pass on two numbers),
- ``minima``: a ``(k, 2)`` float64 tensor of the global minimisers (empty for the saddle),
- ``xlim``, ``ylim``: a plotting window, ``start``: a start point that shows the interesting
  behaviour, ``name`` and ``key`` (two landscapes with equal keys draw the same contour).

Every formula is written once, in ``_value_parts(x, y)`` and ``_grad_parts(x, y)``, using only
``+ - *`` so that the same code runs on Python floats (one point, fast) and on tensors (a grid).

Factories: :func:`quadratic`, :func:`rosenbrock`, :func:`beale`, :func:`himmelblau`,
:func:`saddle`, :func:`noisy`; :func:`get_landscape` looks one up by name in :data:`LANDSCAPES`.
:func:`reddi_problem` is the 1-D online problem on which Adam fails (Reddi et al., 2018).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Landscape",
    "Quadratic",
    "RotatedQuadratic",
    "Rosenbrock",
    "Beale",
    "Himmelblau",
    "Saddle",
    "Noisy",
    "ReddiProblem",
    "quadratic",
    "rotated_quadratic",
    "rosenbrock",
    "beale",
    "himmelblau",
    "saddle",
    "noisy",
    "reddi_problem",
    "LANDSCAPES",
    "get_landscape",
]


def _as_points(xy) -> Tensor:
    """Return ``xy`` as a floating tensor whose last dimension is 2, or raise ValueError."""
    if not isinstance(xy, Tensor):
        xy = torch.as_tensor(xy, dtype=torch.float64)
    elif not xy.is_floating_point():
        # Integer points (``torch.tensor([1, 2])``) would make integer losses; promote them.
        xy = xy.to(torch.float64)
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(f"expected points of shape (..., 2), got shape {tuple(xy.shape)}")
    return xy


class Landscape:
    """A 2-D loss surface f(x, y).

    Subclasses define ``_value_parts(x, y)`` and ``_grad_parts(x, y) -> (df/dx, df/dy)`` with
    plain arithmetic, and set ``name``, ``key``, ``minima``, ``xlim``, ``ylim`` and ``start``.
    """

    name: str = "landscape"
    key: tuple = ()
    minima: Tensor
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]

    # -- what subclasses write -------------------------------------------------------------
    def _value_parts(self, x, y):
        raise NotImplementedError

    def _grad_parts(self, x, y):
        raise NotImplementedError

    # -- the public surface ------------------------------------------------------------------
    def __call__(self, xy) -> Tensor:
        """f(xy) for points of shape ``(..., 2)``; differentiable with autograd."""
        xy = _as_points(xy)
        return self._value_parts(xy[..., 0], xy[..., 1])

    def value(self, xy) -> Tensor:
        """The noise-free value f(xy). Equal to ``self(xy)`` except for :class:`Noisy`."""
        return Landscape.__call__(self, xy)

    def grad(self, xy) -> Tensor:
        """∇f(xy) in closed form, shape ``(..., 2)``, same dtype as ``xy``."""
        xy = _as_points(xy)
        grad_x, grad_y = self._grad_parts(xy[..., 0], xy[..., 1])
        return torch.stack([grad_x, grad_y], dim=-1)

    def point_grad(self, x: float, y: float, dtype=torch.float64) -> Tensor:
        """∇f at one point given as two Python floats, as a ``(2,)`` tensor.

        The trajectory runner's fast path: arithmetic on Python floats (IEEE double, the same
        operations as on a float64 tensor) costs about a microsecond, where the same formula as
        a handful of tensor operations on two numbers costs tens.
        """
        # np.array + from_numpy: a quarter of torch.tensor's cost on a tuple of two floats.
        grad = torch.from_numpy(np.array(self._grad_parts(x, y), dtype=np.float64))
        return grad if dtype == torch.float64 else grad.to(dtype)

    @property
    def min_value(self) -> float:
        """f at the minimisers (``nan`` when there are none)."""
        if len(self.minima) == 0:
            return math.nan
        return float(self.value(self.minima)[0])

    def reset(self) -> None:
        """Restart any randomness from its seed (deterministic landscapes: nothing to do)."""

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.key == other.key

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.key))

    def __repr__(self) -> str:
        return f"<Landscape {self.name}>"


def _minima(*points) -> Tensor:
    return torch.tensor(points, dtype=torch.float64).reshape(-1, 2)


class Quadratic(Landscape):
    r"""Ill-conditioned quadratic :math:`f(x, y) = \tfrac12 (L x^2 + \mu y^2)`.

    - :math:`L` (``L``): the largest curvature (along x); gradient descent is stable only for
      ``lr < 2 / L``.
    - :math:`\mu = L / \kappa` (``mu``), with :math:`\kappa` = ``condition_number``: the smallest
      curvature (along y).
    - Hessian ``diag(L, mu)``; minimiser (0, 0) with f = 0.

    Gradient descent multiplies each coordinate by a constant every step,
    :math:`x_k = (1 - \text{lr}\,L)^k x_0` and :math:`y_k = (1 - \text{lr}\,\mu)^k y_0`, so the
    error shrinks like :math:`\max(|1 - \text{lr}\,L|, |1 - \text{lr}\,\mu|)^k`; the best
    ``lr = 2 / (L + mu)`` gives the rate :math:`(\kappa - 1)/(\kappa + 1)`.
    """

    def __init__(self, condition_number: float = 10.0, L: float = 1.0):
        condition_number, L = float(condition_number), float(L)
        if not condition_number >= 1.0 or math.isinf(condition_number):
            raise ValueError(f"condition_number must be a finite number >= 1, got {condition_number}")
        if not L > 0.0 or math.isinf(L):
            raise ValueError(f"L must be a finite positive number, got {L}")
        self.condition_number = condition_number
        self.L = L
        self.mu = L / condition_number
        self.hessian = torch.tensor([[self.L, 0.0], [0.0, self.mu]], dtype=torch.float64)
        self.name = f"quadratic (κ={condition_number:g})"
        self.key = (condition_number, L)
        self.minima = _minima(0.0, 0.0)
        self.xlim, self.ylim = (-2.0, 2.0), (-2.0, 2.0)
        self.start = (-1.5, 1.5)

    def _value_parts(self, x, y):
        return 0.5 * (self.L * x * x + self.mu * y * y)

    def _grad_parts(self, x, y):
        return self.L * x, self.mu * y


class RotatedQuadratic(Landscape):
    r"""The ill-conditioned quadratic of :class:`Quadratic` turned by ``angle`` degrees.

    :math:`f(\theta) = \tfrac12 \theta^\top H \theta` with :math:`H = R\,\operatorname{diag}(L, \mu)\,R^\top`
    and :math:`R` the rotation by ``angle``: the same curvatures :math:`\mu, L` and condition number
    :math:`\kappa`, but the steep and flat directions no longer lie along the x and y axes. Gradient
    descent does not care (it is rotation-invariant); a per-coordinate method such as Adagrad does,
    because a diagonal preconditioner can rescale x and y but cannot undo the rotation
    (notebook 05). ``angle=0`` is :class:`Quadratic` exactly. At 45° the inherited ``start``
    (-1.5, 1.5) lies exactly on the flat eigenvector (1, -1); notebook 05 starts at (-1.5, 1.0).
    """

    def __init__(self, condition_number: float = 10.0, L: float = 1.0, angle: float = 45.0):
        base = Quadratic(condition_number=condition_number, L=L)
        angle = float(angle)
        if not math.isfinite(angle):
            raise ValueError(f"angle must be a finite number of degrees, got {angle}")
        self.condition_number, self.L, self.mu, self.angle = base.condition_number, base.L, base.mu, angle
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        # H = R diag(L, mu) R^T, written out so the formula runs on floats and tensors alike
        self.h_xx = self.L * c * c + self.mu * s * s
        self.h_xy = (self.L - self.mu) * c * s
        self.h_yy = self.L * s * s + self.mu * c * c
        self.hessian = torch.tensor([[self.h_xx, self.h_xy], [self.h_xy, self.h_yy]], dtype=torch.float64)
        self.name = f"quadratic (κ={condition_number:g}, turned {angle:g}°)"
        self.key = (condition_number, L, angle)
        self.minima = _minima(0.0, 0.0)
        self.xlim, self.ylim = base.xlim, base.ylim
        self.start = base.start

    def _value_parts(self, x, y):
        return 0.5 * (self.h_xx * x * x + 2.0 * self.h_xy * x * y + self.h_yy * y * y)

    def _grad_parts(self, x, y):
        return self.h_xx * x + self.h_xy * y, self.h_xy * x + self.h_yy * y


class Rosenbrock(Landscape):
    r"""Rosenbrock's banana valley :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    Minimiser :math:`(a, a^2)` with f = 0, at the end of a long, flat, curved valley: easy to
    reach the valley, slow to follow it. Defaults ``a=1, b=100``; start (-1.2, 1), Rosenbrock's own.
    """

    def __init__(self, a: float = 1.0, b: float = 100.0):
        a, b = float(a), float(b)
        if not b > 0.0:
            raise ValueError(f"b must be positive, got {b}")
        self.a, self.b = a, b
        self.name = "rosenbrock" if (a, b) == (1.0, 100.0) else f"rosenbrock (a={a:g}, b={b:g})"
        self.key = (a, b)
        self.minima = _minima(a, a * a)
        self.xlim = (a - 3.0, a + 1.0)
        self.ylim = (a * a - 2.0, a * a + 2.0)
        self.start = (a - 2.2, a * a)

    def _value_parts(self, x, y):
        return (self.a - x) * (self.a - x) + self.b * (y - x * x) * (y - x * x)

    def _grad_parts(self, x, y):
        valley = y - x * x  # the residual the b-term squares
        return -2.0 * (self.a - x) - 4.0 * self.b * x * valley, 2.0 * self.b * valley


class Beale(Landscape):
    r"""Beale's function :math:`f = \sum_{i=1}^{3} (c_i - x + x y^i)^2`, c = (1.5, 2.25, 2.625).

    Minimiser (3, 0.5) with f = 0; steep walls at large |x y^3|, flat plateaus elsewhere.
    """

    C1, C2, C3 = 1.5, 2.25, 2.625

    def __init__(self):
        self.name = "beale"
        self.key = ()
        self.minima = _minima(3.0, 0.5)
        self.xlim, self.ylim = (-4.5, 4.5), (-4.5, 4.5)
        self.start = (1.0, 1.5)

    def _residuals(self, x, y):
        y2 = y * y
        return self.C1 - x + x * y, self.C2 - x + x * y2, self.C3 - x + x * y2 * y

    def _value_parts(self, x, y):
        r1, r2, r3 = self._residuals(x, y)
        return r1 * r1 + r2 * r2 + r3 * r3

    def _grad_parts(self, x, y):
        r1, r2, r3 = self._residuals(x, y)
        y2 = y * y
        # d r_i/dx = y^i - 1,  d r_i/dy = i x y^(i-1)
        grad_x = 2.0 * (r1 * (y - 1.0) + r2 * (y2 - 1.0) + r3 * (y2 * y - 1.0))
        grad_y = 2.0 * (r1 * x + r2 * 2.0 * x * y + r3 * 3.0 * x * y2)
        return grad_x, grad_y


class Himmelblau(Landscape):
    r"""Himmelblau's function :math:`f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Four global minimisers, all with f = 0: (3, 2) exactly and three irrational ones; a local
    maximum near (-0.27, -0.92). Which minimum an optimizer lands in depends on its path.
    """

    def __init__(self):
        self.name = "himmelblau"
        self.key = ()
        # The three irrational minimisers, refined with Newton's method in float64.
        self.minima = _minima(
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.283185991286170),
            (3.584428340330492, -1.848126526964404),
        )
        self.xlim, self.ylim = (-5.0, 5.0), (-5.0, 5.0)
        self.start = (-0.5, 0.0)

    def _value_parts(self, x, y):
        r1 = x * x + y - 11.0
        r2 = x + y * y - 7.0
        return r1 * r1 + r2 * r2

    def _grad_parts(self, x, y):
        r1 = x * x + y - 11.0
        r2 = x + y * y - 7.0
        return 4.0 * x * r1 + 2.0 * r2, 2.0 * r1 + 4.0 * y * r2


class Saddle(Landscape):
    r"""A saddle :math:`f(x, y) = \tfrac12 (x^2 - y^2)`.

    Hessian ``diag(1, -1)``: a minimum along x, a maximum along y, a critical point at (0, 0)
    where the gradient vanishes. It has **no minimum** (f → -∞ as |y| grows), so ``minima`` is an
    empty ``(0, 2)`` tensor and every run that escapes the saddle eventually leaves any bound.
    The default start sits just off the ridge (y = 0.05) so escaping takes visible time.
    """

    def __init__(self):
        self.name = "saddle"
        self.key = ()
        self.minima = torch.empty(0, 2, dtype=torch.float64)
        self.hessian = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
        self.xlim, self.ylim = (-2.0, 2.0), (-2.0, 2.0)
        self.start = (-1.8, 0.05)

    def _value_parts(self, x, y):
        return 0.5 * (x * x - y * y)

    def _grad_parts(self, x, y):
        return 1.0 * x, -1.0 * y


class Noisy(Landscape):
    r"""A landscape whose gradients carry seeded Gaussian noise, as in stochastic gradient descent.

    The stochastic loss is :math:`\tilde f(\theta) = f(\theta) + \xi^\top \theta` with a fresh
    :math:`\xi \sim \mathcal N(0, \sigma^2 I)` (``sigma``) on every call, so autograd (and
    :meth:`grad`) give :math:`\nabla f(\theta) + \xi`: an unbiased gradient estimate with
    per-coordinate standard deviation σ. Each point in a batch gets its own ξ.

    The noise comes from a ``torch.Generator`` seeded with ``seed``; :meth:`reset` restarts it, and
    the trajectory runner resets before every run, so a run is reproducible and every optimizer
    in a comparison sees the same noise sequence. :meth:`value` (used for contours and recorded
    losses) is the noise-free f; ``minima``, windows and start are the base landscape's.
    """

    def __init__(self, base: Landscape, sigma: float = 1.0, seed: int = 0):
        if isinstance(base, str):
            base = get_landscape(base)
        if not isinstance(base, Landscape):
            raise ValueError(f"base must be a Landscape or a landscape name, got {base!r}")
        sigma = float(sigma)
        if not sigma >= 0.0 or math.isinf(sigma):
            raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
        self.base, self.sigma, self.seed = base, sigma, int(seed)
        self.name = f"{base.name} + noise (σ={sigma:g})"
        self.key = (type(base).__name__, base.key, sigma, self.seed)
        self.minima, self.xlim, self.ylim, self.start = base.minima, base.xlim, base.ylim, base.start
        self._generator = torch.Generator()
        self.reset()

    def reset(self) -> None:
        """Restart the noise from ``seed``: the next draws repeat the first run's."""
        self._generator.manual_seed(self.seed)

    def noise(self, shape, dtype=torch.float64, device=None) -> Tensor:
        """Draw ξ ~ N(0, σ²) of the given shape (on CPU, so the sequence is device-independent)."""
        xi = torch.randn(shape, generator=self._generator, dtype=dtype) * self.sigma
        return xi if device is None else xi.to(device)

    def __call__(self, xy) -> Tensor:
        xy = _as_points(xy)
        xi = self.noise(xy.shape, xy.dtype, xy.device)
        return self.base(xy) + (xi * xy).sum(dim=-1)

    def value(self, xy) -> Tensor:
        return self.base.value(xy)

    def grad(self, xy) -> Tensor:
        xy = _as_points(xy)
        return self.base.grad(xy) + self.noise(xy.shape, xy.dtype, xy.device)

    def point_grad(self, x: float, y: float, dtype=torch.float64) -> Tensor:
        return self.base.point_grad(x, y, dtype) + self.noise((2,), dtype)

    def _value_parts(self, x, y):
        return self.base._value_parts(x, y)

    def _grad_parts(self, x, y):
        return self.base._grad_parts(x, y)


class ReddiProblem:
    r"""The 1-D online problem on which Adam fails to converge (Reddi, Kale & Kumar, 2018, §3).

    On the feasible set :math:`x \in [-1, 1]` the loss at step t (counting from 1) is

    .. math:: f_t(x) = \begin{cases} C x & t \bmod 3 = 1 \\ -x & \text{otherwise} \end{cases}

    with C > 2 (``C``). The average loss :math:`(C - 2)x/3` is minimised at x = -1, yet Adam with
    β1 = 0 and β2 = 1/(1 + C²) (and many other settings) drifts to x = +1: the rare large gradient
    C is divided by a second-moment estimate that has already forgotten it. AMSGrad, which keeps
    the maximum of v, goes to -1. Optimizers are run by :meth:`run`, which projects onto [-1, 1]
    after each step.
    """

    def __init__(self, C: float = 3.0):
        C = float(C)
        if not C > 2.0:
            raise ValueError(f"C must be > 2 for Adam to fail, got {C}")
        self.C = C
        self.bounds = (-1.0, 1.0)
        self.minimiser = -1.0

    def gradient(self, t: int) -> float:
        """f_t'(x): C on steps t = 1, 4, 7, … and -1 otherwise (the loss is linear in x)."""
        return self.C if t % 3 == 1 else -1.0

    def loss(self, x, t: int):
        """f_t(x)."""
        return self.gradient(t) * x

    def average_loss(self, x):
        """(f_1 + f_2 + f_3)(x) / 3 = (C - 2) x / 3, the objective the online sequence averages."""
        return (self.C - 2.0) * x / 3.0

    def run(self, optimizer_cls, *, start: float = 1.0, steps: int = 3000, **hyperparams):
        """Run ``optimizer_cls`` for ``steps`` online steps; return the iterates x_0..x_steps (numpy)."""
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        x = torch.tensor([float(start)], dtype=torch.float64, requires_grad=True)
        optimizer = optimizer_cls([x], **hyperparams)
        xs = np.empty(steps + 1)
        xs[0] = float(start)
        low, high = self.bounds
        with torch.no_grad():
            for t in range(1, steps + 1):
                x.grad = torch.tensor([self.gradient(t)], dtype=torch.float64)
                optimizer.step()
                x.clamp_(low, high)  # projection onto the feasible set, as in the paper
                xs[t] = x.item()
        return xs


# -- factories and registry ------------------------------------------------------------------


def quadratic(condition_number: float = 10.0, L: float = 1.0) -> Quadratic:
    """½(L x² + μ y²) with μ = L / condition_number. See :class:`Quadratic`."""
    return Quadratic(condition_number=condition_number, L=L)


def rotated_quadratic(condition_number: float = 10.0, L: float = 1.0, angle: float = 45.0) -> RotatedQuadratic:
    """The quadratic of :func:`quadratic` turned by ``angle`` degrees. See :class:`RotatedQuadratic`."""
    return RotatedQuadratic(condition_number=condition_number, L=L, angle=angle)


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Rosenbrock:
    """(a - x)² + b (y - x²)². See :class:`Rosenbrock`."""
    return Rosenbrock(a=a, b=b)


def beale() -> Beale:
    """Beale's function, minimum at (3, 0.5). See :class:`Beale`."""
    return Beale()


def himmelblau() -> Himmelblau:
    """Himmelblau's function, four minima. See :class:`Himmelblau`."""
    return Himmelblau()


def saddle() -> Saddle:
    """½(x² - y²), no minimum. See :class:`Saddle`."""
    return Saddle()


def noisy(base="quadratic", sigma: float = 1.0, seed: int = 0) -> Noisy:
    """``base`` (a Landscape or a name) with seeded N(0, sigma²) gradient noise. See :class:`Noisy`."""
    return Noisy(base, sigma=sigma, seed=seed)


def reddi_problem(C: float = 3.0) -> ReddiProblem:
    """The 1-D AMSGrad counterexample of Reddi et al. (2018). See :class:`ReddiProblem`."""
    return ReddiProblem(C=C)


LANDSCAPES = {
    "quadratic": quadratic,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "saddle": saddle,
    "noisy": noisy,
}


def get_landscape(name: str, **kwargs) -> Landscape:
    """Build the landscape registered as ``name`` in :data:`LANDSCAPES` with ``kwargs``.

    >>> get_landscape("quadratic", condition_number=50).mu
    0.02
    """
    try:
        factory = LANDSCAPES[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(LANDSCAPES))
        raise ValueError(f"Unknown landscape {name!r}; valid names: {valid}") from None
    return factory(**kwargs)
