"""Landscapes: values against independently written formulas, closed-form gradients against
autograd, minimisers, Hessians, the seeded noise, and argument validation."""

import math

import pytest
import torch
from torch.testing import assert_close

from course_lib.problems import landscapes
from course_lib.problems.landscapes import (
    LANDSCAPES,
    Landscape,
    beale,
    get_landscape,
    himmelblau,
    noisy,
    quadratic,
    reddi_problem,
    rosenbrock,
    saddle,
)

DETERMINISTIC = {
    "quadratic": lambda: quadratic(condition_number=25.0, L=3.0),
    "rosenbrock": rosenbrock,
    "rosenbrock_a2": lambda: rosenbrock(a=2.0, b=10.0),
    "beale": beale,
    "himmelblau": himmelblau,
    "saddle": saddle,
}


# The functions as a textbook writes them, with torch's ** (not the module's own code).
def reference_value(name, x, y):
    if name == "quadratic":
        return 0.5 * (3.0 * x**2 + (3.0 / 25.0) * y**2)
    if name == "rosenbrock":
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2
    if name == "rosenbrock_a2":
        return (2 - x) ** 2 + 10 * (y - x**2) ** 2
    if name == "beale":
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2
    if name == "himmelblau":
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2
    if name == "saddle":
        return 0.5 * (x**2 - y**2)
    raise KeyError(name)


def random_points(landscape, count=64, seed=0, dtype=torch.float64):
    """Points spread over the landscape's plotting window."""
    generator = torch.Generator().manual_seed(seed)
    unit = torch.rand(count, 2, generator=generator, dtype=torch.float64)
    low = torch.tensor([landscape.xlim[0], landscape.ylim[0]], dtype=torch.float64)
    high = torch.tensor([landscape.xlim[1], landscape.ylim[1]], dtype=torch.float64)
    return (low + unit * (high - low)).to(dtype)


def autograd_grad(function, points):
    points = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(function(points).sum(), points)
    return grad


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_value_matches_the_textbook_formula(name):
    landscape = DETERMINISTIC[name]()
    points = random_points(landscape)
    expected = reference_value(name, points[:, 0], points[:, 1])
    assert_close(landscape(points), expected, rtol=1e-12, atol=1e-12)
    assert_close(landscape.value(points), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_closed_form_gradient_matches_autograd(name):
    landscape = DETERMINISTIC[name]()
    points = random_points(landscape, seed=1)
    expected = autograd_grad(lambda p: reference_value(name, p[..., 0], p[..., 1]), points)
    assert_close(landscape.grad(points), expected, rtol=1e-12, atol=1e-10)
    assert_close(autograd_grad(landscape, points), expected, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_point_grad_equals_grad(name):
    landscape = DETERMINISTIC[name]()
    for x, y in random_points(landscape, count=8, seed=2).tolist():
        point = torch.tensor([x, y], dtype=torch.float64)
        assert_close(landscape.point_grad(x, y), landscape.grad(point), rtol=0, atol=0)


@pytest.mark.parametrize("name", DETERMINISTIC)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_any_batch_shape_and_dtype(name, dtype):
    landscape = DETERMINISTIC[name]()
    grid = random_points(landscape, count=12, dtype=dtype).reshape(3, 4, 2)
    values, grads = landscape(grid), landscape.grad(grid)
    assert values.shape == (3, 4) and values.dtype == dtype
    assert grads.shape == (3, 4, 2) and grads.dtype == dtype
    assert_close(values[1, 2], landscape(grid[1, 2]))


@pytest.mark.parametrize("name", [n for n in DETERMINISTIC if n != "saddle"])
def test_minimisers_have_zero_gradient_known_value_and_are_minima(name):
    landscape = DETERMINISTIC[name]()
    assert landscape.minima.ndim == 2 and landscape.minima.shape[1] == 2
    assert_close(landscape.grad(landscape.minima), torch.zeros_like(landscape.minima), rtol=0, atol=1e-12)
    assert_close(landscape.value(landscape.minima), torch.zeros(len(landscape.minima), dtype=torch.float64),
                 rtol=0, atol=1e-24)
    assert landscape.min_value == pytest.approx(0.0, abs=1e-24)
    for minimum in landscape.minima:
        hessian = torch.autograd.functional.hessian(lambda p: reference_value(name, p[0], p[1]), minimum)
        assert bool((torch.linalg.eigvalsh(hessian) > 0).all()), f"{minimum} is not a strict minimum"
        # Every minimiser lies inside the plotting window, so the figure shows it.
        assert landscape.xlim[0] < minimum[0] < landscape.xlim[1]
        assert landscape.ylim[0] < minimum[1] < landscape.ylim[1]


def test_rosenbrock_minimum_is_a_a_squared():
    assert rosenbrock(a=2.0, b=10.0).minima.tolist() == [[2.0, 4.0]]
    assert beale().minima.tolist() == [[3.0, 0.5]]


def test_himmelblau_has_four_distinct_minima():
    minima = himmelblau().minima
    assert minima.shape == (4, 2)
    assert torch.cdist(minima, minima).add(torch.eye(4) * 10).min() > 1.0
    assert [3.0, 2.0] in minima.tolist()
    # One minimum per quadrant.
    assert sorted((bool(x > 0), bool(y > 0)) for x, y in minima) == [(False, False), (False, True),
                                                                     (True, False), (True, True)]


def test_quadratic_curvatures_and_hessian():
    landscape = quadratic(condition_number=40.0, L=2.0)
    assert landscape.L == 2.0 and landscape.mu == pytest.approx(0.05) and landscape.condition_number == 40.0
    point = torch.tensor([0.3, -0.7], dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(landscape, point)
    assert_close(landscape.hessian, hessian, rtol=1e-14, atol=0)
    eigenvalues = torch.linalg.eigvalsh(landscape.hessian)
    assert_close(eigenvalues.max() / eigenvalues.min(), torch.tensor(40.0, dtype=torch.float64))


def test_saddle_has_no_minimum_and_a_critical_point_at_the_origin():
    landscape = saddle()
    assert landscape.minima.shape == (0, 2)
    assert math.isnan(landscape.min_value)
    origin = torch.zeros(2, dtype=torch.float64)
    assert_close(landscape.grad(origin), origin)
    assert_close(landscape.hessian, torch.autograd.functional.hessian(landscape, origin))
    # Unbounded below: going along y lowers the loss without limit.
    assert landscape(torch.tensor([0.0, 1e3])) < -1e5


def test_windows_and_starts_are_sensible():
    for factory in DETERMINISTIC.values():
        landscape = factory()
        assert landscape.xlim[0] < landscape.start[0] < landscape.xlim[1]
        assert landscape.ylim[0] < landscape.start[1] < landscape.ylim[1]
        start = torch.tensor(landscape.start, dtype=torch.float64)
        assert torch.linalg.vector_norm(landscape.grad(start)) > 1e-2, "the start must not be a critical point"


def test_equal_parameters_make_equal_landscapes():
    assert quadratic(10.0) == quadratic(10.0) and hash(quadratic(10.0)) == hash(quadratic(10.0))
    assert quadratic(10.0) != quadratic(20.0)
    assert rosenbrock() != beale()
    assert noisy("quadratic", 0.5, seed=1) == noisy("quadratic", 0.5, seed=1)
    assert noisy("quadratic", 0.5, seed=1) != noisy("quadratic", 0.5, seed=2)


# -- the noisy landscape -------------------------------------------------------------------------


def test_noisy_gradients_are_reproducible_from_the_seed():
    landscape = noisy(rosenbrock(), sigma=0.5, seed=7)
    point = torch.tensor([0.2, 0.3], dtype=torch.float64)
    first = [landscape.grad(point) for _ in range(3)]
    assert not torch.equal(first[0], first[1]), "each call must draw fresh noise"
    landscape.reset()
    assert all(torch.equal(a, landscape.grad(point)) for a in first)
    same_seed = noisy(rosenbrock(), sigma=0.5, seed=7)
    assert torch.equal(first[0], same_seed.grad(point))
    other_seed = noisy(rosenbrock(), sigma=0.5, seed=8)
    assert not torch.equal(first[0], other_seed.grad(point))


def test_noisy_autograd_and_closed_form_draw_the_same_noise():
    landscape = noisy(himmelblau(), sigma=2.0, seed=3)
    points = random_points(landscape, count=5)
    closed_form = landscape.grad(points)
    landscape.reset()
    assert_close(autograd_grad(landscape, points), closed_form, rtol=1e-12, atol=1e-12)
    landscape.reset()
    x, y = points[0].tolist()
    assert_close(landscape.point_grad(x, y), closed_form[0], rtol=1e-12, atol=1e-12)


def test_noisy_gradient_is_unbiased_with_standard_deviation_sigma():
    sigma, count = 1.5, 40_000
    landscape = noisy(quadratic(condition_number=10.0), sigma=sigma, seed=0)
    point = torch.tensor([0.5, -1.0], dtype=torch.float64)
    grads = landscape.grad(point.expand(count, 2))
    noise = grads - landscape.base.grad(point)
    standard_error = sigma / math.sqrt(count)
    assert noise.mean(dim=0).abs().max() < 5 * standard_error
    assert_close(noise.std(dim=0), torch.full((2,), sigma, dtype=torch.float64), rtol=0.03, atol=0)
    # The two coordinates' noise is independent.
    assert abs(float(torch.corrcoef(noise.T)[0, 1])) < 0.03


def test_noisy_value_is_the_noise_free_base_and_sigma_zero_is_the_base():
    base = beale()
    landscape = noisy(base, sigma=1.0, seed=0)
    points = random_points(base)
    assert_close(landscape.value(points), base.value(points))
    assert not torch.allclose(landscape(points), base(points))
    silent = noisy(base, sigma=0.0)
    assert_close(silent.grad(points), base.grad(points))
    assert torch.equal(landscape.minima, base.minima) and landscape.xlim == base.xlim


# -- validation and the registry ---------------------------------------------------------------


@pytest.mark.parametrize("kwargs, argument", [
    (dict(condition_number=0.5), "condition_number"),
    (dict(condition_number=float("nan")), "condition_number"),
    (dict(L=-1.0), "L"),
])
def test_quadratic_rejects_bad_parameters(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        quadratic(**kwargs)


def test_noisy_rejects_bad_parameters():
    with pytest.raises(ValueError, match="sigma"):
        noisy("quadratic", sigma=-0.1)
    with pytest.raises(ValueError, match="base"):
        noisy(42)


def test_points_must_have_two_coordinates():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        rosenbrock()(torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        rosenbrock().grad(torch.tensor(1.0))


def test_registry_builds_every_landscape_and_rejects_unknown_names():
    for name in LANDSCAPES:
        assert isinstance(get_landscape(name), Landscape)
    assert get_landscape("quadratic", condition_number=50.0).mu == pytest.approx(0.02)
    assert get_landscape("noisy", base="beale", sigma=0.1).base == beale()
    with pytest.raises(ValueError) as error:
        get_landscape("rosenbrok")
    assert "rosenbrok" in str(error.value)
    for name in LANDSCAPES:
        assert name in str(error.value)


def test_module_exports_what_the_architecture_names():
    for name in ["quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "noisy", "get_landscape", "LANDSCAPES"]:
        assert name in landscapes.__all__


# -- the Reddi et al. (2018) counterexample ------------------------------------------------------


def test_reddi_problem_gradients_and_average():
    problem = reddi_problem(C=3.0)
    assert [problem.gradient(t) for t in range(1, 7)] == [3.0, -1.0, -1.0, 3.0, -1.0, -1.0]
    assert problem.average_loss(-1.0) == pytest.approx(
        sum(problem.loss(-1.0, t) for t in (1, 2, 3)) / 3
    )
    with pytest.raises(ValueError, match="C"):
        reddi_problem(C=2.0)


def test_adam_fails_on_the_reddi_problem_and_amsgrad_does_not():
    problem = reddi_problem(C=3.0)
    betas = (0.0, 1.0 / (1.0 + problem.C**2))  # the paper's setting
    adam = problem.run(torch.optim.Adam, steps=600, lr=0.05, betas=betas)
    amsgrad = problem.run(torch.optim.Adam, steps=600, lr=0.05, betas=betas, amsgrad=True)
    assert adam.shape == (601,) and adam[0] == 1.0
    assert adam[-30:].min() > 0.5, "Adam should end near +1, the worst point"
    assert amsgrad[-30:].max() < -0.5, "AMSGrad should end near the minimiser -1"
    assert (abs(adam) <= 1.0).all() and (abs(amsgrad) <= 1.0).all()
