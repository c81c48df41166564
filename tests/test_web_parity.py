"""The JavaScript port (course_lib/web/js/*.js) against the Python it ports, run in node.

The web pages compute the landscape panels' runs in the browser with a second implementation of
the course's optimizers, landscapes and trajectory runner. These tests keep it honest: for every
landscape panel (01 ×2, 03, 04, 05, 06, 07), over every landscape, dropdown option and switch it
offers and over its sliders' notches (the extremes of each, diverging runs included), the JS
panel's ``compute(values)`` returns the same trajectories as the Python panel's own ``compute``:
the same labels, lengths, divergence steps and messages, points equal to float64 round-off (each
point's difference at most 1e-12 of the largest size the run has had so far; most cases are bit
for bit, and the tests print what they achieve, per point too), and losses that are the ported
f at those points bit for bit.

Why not bit for bit everywhere: torch's CPU float64 sqrt is MKL's vdSqrt, which differs from the
correctly rounded root (JS's Math.sqrt) by one ulp for about 0.8% of inputs, so runs through a
square root (Adagrad, RMSprop, Adadelta, Adam) part by round-off once such an input occurs. SGD
runs (01, 03, 04) and 06's curves are equal bit for bit (torch's fused multiply-adds included).

Every option of every update rule (SGD's dampening and weight decay, RMSprop's centered and
momentum, Adadelta, AMSGrad, AdamW, ...) is run on every landscape against course_lib.optim and
torch.optim (foreach=False). A last test swaps a wrong rule into the JS (Adam without its bias
correction; SGD's buffer dampened on step 1) and shows that the parity check catches it.

All JS answers of this module come from one node process (``course_lib.web.jsport.run_in_node``).
By default the sliders are sampled (extremes plus a spread of notches, seeded); with
``COURSE_PARITY_FULL=1`` every notch of every slider is swept one slider at a time (minutes).
"""

from __future__ import annotations

import itertools
import math
import os
import random
import time
from fractions import Fraction

import numpy as np
import pytest
import torch

from course_lib.web.jsport import COMPUTE_PANELS, node_executable, run_in_node

pytestmark = pytest.mark.skipif(node_executable() is None, reason="node is not installed: the JS port's parity tests need it")

#: the largest relative difference the port may show against the Python runs
TOLERANCE = 1e-12
FULL = os.environ.get("COURSE_PARITY_FULL") == "1"

#: results printed at the end (panel or optimizer -> (cases, bit-exact cases, max relative difference))
SUMMARY: dict[str, list] = {}


# -- the panels, built once ------------------------------------------------------------------


def _build_panels() -> dict:
    from course_lib.ui.panels import adagrad, adam, gradient_descent, momentum, nesterov, rmsprop_adadelta

    return {
        "01_gradient_descent-0": gradient_descent.parabola_panel(),
        "01_gradient_descent-1": gradient_descent.lr_condition_panel(),
        "03_momentum-0": momentum.momentum_panel(),
        "04_nesterov-0": nesterov.momentum_vs_nesterov_panel(),
        "05_adagrad-0": adagrad.adagrad_panel(),
        "06_rmsprop_adadelta-0": rmsprop_adadelta.effective_lr_panel(),
        "07_adam-0": adam.adam_panel(),
    }


def notches(widget) -> list:
    """Every value the widget offers, in order (what the page's controls offer too)."""
    kind = type(widget).__name__
    if kind == "FloatLogSlider":
        count = int(round((widget.max - widget.min) / widget.step))
        return [widget.base ** (widget.min + k * widget.step) for k in range(count + 1)]
    if kind == "FloatSlider":
        count = int(round((widget.max - widget.min) / widget.step))
        return [round(widget.min + k * widget.step, 12) for k in range(count + 1)]
    if kind == "IntSlider":
        return list(range(widget.min, widget.max + 1, widget.step))
    if kind in ("Dropdown", "SelectionSlider"):
        return list(widget._options_values)
    if kind == "Checkbox":
        return [False, True]
    raise AssertionError(f"no notches for {kind}")


def is_discrete(widget) -> bool:
    """Dropdowns and switches: every combination of them is tried."""
    return type(widget).__name__ in ("Dropdown", "Checkbox")


def spread(values: list, count: int, rng: random.Random) -> list:
    """Both ends and ``count`` seeded picks in between (all of them when FULL)."""
    if FULL or len(values) <= count + 2:
        return list(values)
    return [values[0], values[-1], *rng.sample(values[1:-1], count)]


#: per panel: how many interior notches of each continuous slider to try (per discrete combination)
SAMPLES = {
    "01_gradient_descent-0": 12,
    "01_gradient_descent-1": 3,
    "03_momentum-0": 5,
    "04_nesterov-0": 4,
    "05_adagrad-0": 3,
    "06_rmsprop_adadelta-0": 20,
    "07_adam-0": 2,
}
#: random combinations of all controls per panel, on top of the one-at-a-time sweeps
RANDOM_COMBINATIONS = 8
#: notches always tried, with every combination of the discrete controls (06: α from no memory
#: to 1000 steps, the sample tests/test_web_synth.py draws the scenes of)
PINNED = {"06_rmsprop_adadelta-0": {"alpha": [0.0, 0.001, 0.5, 0.9, 0.99, 0.999]}}


def panel_cases(panel_id: str, panel) -> list[dict]:
    """Values to try: every combination of the discrete controls, each continuous slider swept
    (ends + a seeded spread, every notch when FULL) with the others at their defaults, plus
    seeded random combinations of everything."""
    rng = random.Random(f"parity {panel_id}")
    defaults = {name: widget.value for name, widget in panel.sliders.items()}
    discrete = [name for name, widget in panel.sliders.items() if is_discrete(widget)]
    continuous = [name for name, widget in panel.sliders.items() if not is_discrete(widget)]
    cases = []
    for combo in itertools.product(*(notches(panel.sliders[name]) for name in discrete)):
        base = {**defaults, **dict(zip(discrete, combo))}
        cases.append(base)
        for name in continuous:
            widget = panel.sliders[name]
            values = notches(widget)
            # a selection slider's few notches are all tried; a slider's are spread
            for value in values if type(widget).__name__ == "SelectionSlider" else spread(values, SAMPLES[panel_id], rng):
                cases.append({**base, name: value})
            for target in PINNED.get(panel_id, {}).get(name, []):
                (value,) = [v for v in values if math.isclose(v, target, rel_tol=1e-9, abs_tol=1e-12)]
                if {**base, name: value} not in cases:
                    cases.append({**base, name: value})
    for _ in range(RANDOM_COMBINATIONS):
        cases.append({name: rng.choice(notches(widget)) for name, widget in panel.sliders.items()})
    return cases


# -- comparing --------------------------------------------------------------------------------


def _point_differences(python, js, *, running: bool) -> float:
    """max over the points k of ‖a_k − b_k‖∞ / scale_k (0 where both are equal, inf on a NaN);
    scale_k is max(‖a_k‖∞, ‖b_k‖∞), or with ``running`` the largest of those up to k. For 1-D
    arrays each entry is a point."""
    a = np.asarray(python, dtype=np.float64)
    b = np.asarray(js, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: Python {a.shape}, JS {b.shape}"
    if a.size == 0:
        return 0.0
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    difference = np.abs(a - b).max(axis=1)
    scale = np.maximum(np.abs(a).max(axis=1), np.abs(b).max(axis=1))
    if running:
        scale = np.maximum.accumulate(scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(difference == 0, 0.0, difference / scale)
    relative = np.where(np.isnan(relative), np.inf, relative)
    return float(relative.max())


def relative_difference(python, js) -> float:
    """Each point's difference relative to its own size (:func:`_point_differences`)."""
    return _point_differences(python, js, running=False)


def running_relative_difference(python, js) -> float:
    """Each point's difference relative to the largest size the run has had so far. This is
    float64 round-off's own scale for a run that contracts: a rounding made while θ had size S
    leaves an error of about ε·S, which stays when θ then shrinks (07's Adam without bias
    correction on the quadratic reaches |θ| ≈ 1e-109 at step 166, where one ulp of difference
    from step 159 is 2.5e-121 absolute, 1.5e-12 of that point, 2.5e-121 of the run's size)."""
    return _point_differences(python, js, running=True)


def compare_trajectory(python, js: dict, where: str, loss=None) -> tuple[float, float]:
    """Same label, length, divergence and message; the JS losses are ``loss`` (the Python
    landscape's f) at the JS points, bit for bit; return the points' max relative difference
    (:func:`relative_difference`, and :func:`running_relative_difference`, which the tests
    hold to 1e-12). Without ``loss`` the losses are compared like the points.

    Why the losses are checked this way: near a minimum f is a difference of nearly equal terms,
    so a round-off difference in θ shows up in f(θ) many times larger, relatively; f itself is
    ported bit for bit (test_the_landscapes_equal_pythons_bit_for_bit)."""
    assert js["label"] == python.label, f"{where}: label {js['label']!r} != {python.label!r}"
    assert len(js["path"]) == len(python.path), (
        f"{where} ({python.label}): JS path has {len(js['path'])} points, Python {len(python.path)} "
        f"(diverged at {js['diverged_at']} vs {python.diverged_at})")
    assert js["diverged"] == python.diverged, f"{where} ({python.label}): diverged {js['diverged']} != {python.diverged}"
    assert js["diverged_at"] == python.diverged_at, f"{where} ({python.label}): diverged_at {js['diverged_at']} != {python.diverged_at}"
    assert js["message"] == python.message, f"{where} ({python.label}): message {js['message']!r} != {python.message!r}"
    difference = (relative_difference(python.path, js["path"]), running_relative_difference(python.path, js["path"]))
    if loss is None:
        losses = relative_difference(python.losses, js["losses"])
        return max(difference[0], losses), max(difference[1], losses)
    expected = loss(np.asarray(js["path"], dtype=np.float64))
    assert np.array_equal(np.asarray(js["losses"], dtype=np.float64), expected), f"{where} ({python.label}): losses are not f(path)"
    return difference


def landscape_loss(surface):
    """f on an (n, 2) array of points, as the Python runner computes the losses."""
    return lambda path: surface.value(torch.from_numpy(path.reshape(-1, 2))).numpy()


def parabola_loss(curvature):
    return lambda path: 0.5 * curvature * path[:, 0] ** 2


def compare_curve(python, js: dict, where: str) -> tuple[float, float]:
    assert js["label"] == python.label, f"{where}: label {js['label']!r} != {python.label!r}"
    difference = max(relative_difference(python.effective_lr, js["effective_lr"]),
                     relative_difference(python.step_size, js["step_size"]))
    return difference, difference


def compare_panel(python_results: list, js_answer: dict, where: str, loss=None) -> tuple[float, float]:
    """The whole answer of one panel compute: (max relative difference per point, relative to
    the run's size so far)."""
    assert "ok" in js_answer, f"{where}: the JS threw {js_answer.get('error')!r} where Python did not"
    js_results = js_answer["ok"]["trajectories"]
    assert len(js_results) == len(python_results), f"{where}: {len(js_results)} runs in JS, {len(python_results)} in Python"
    worst = (0.0, 0.0)
    for python, js in zip(python_results, js_results):
        if hasattr(python, "effective_lr"):
            difference = compare_curve(python, js, where)
        else:
            difference = compare_trajectory(python, js, where, loss)
        worst = (max(worst[0], difference[0]), max(worst[1], difference[1]))
    return worst


def record(name: str, difference: tuple[float, float]) -> None:
    """Count a case: (cases, bit for bit, max per-point relative, max relative to the run's size)."""
    cases, exact, worst, running = SUMMARY.setdefault(name, [0, 0, 0.0, 0.0])
    SUMMARY[name] = [cases + 1, exact + (difference[0] == 0.0), max(worst, difference[0]), max(running, difference[1])]


def assert_round_off(difference: tuple[float, float], where: str) -> None:
    assert difference[1] <= TOLERANCE, (
        f"{where}: max relative difference {difference[1]:.3g} (per point {difference[0]:.3g}) > {TOLERANCE:g}")


def panel_loss(panel_id: str, panel, values: dict):
    """The f the panel's runs record their losses with."""
    if panel_id == "01_gradient_descent-0":
        return parabola_loss(values["curvature"])
    if panel_id == "06_rmsprop_adadelta-0":
        return None
    return landscape_loss(panel._resolve_landscape(values))


# -- one node process for the module ------------------------------------------------------------

#: every optimizer option, run on every landscape against course_lib.optim and torch.optim
OPTION_GRID = {
    "SGD": [
        {"lr": 1e-3}, {"lr": 0.02, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.5, "dampening": 0.3},
        {"lr": 0.01, "momentum": 0.9, "nesterov": True}, {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.005, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.01, "maximize": False},
        {"lr": 3.0}, {"lr": 0.01, "momentum": 0.99, "nesterov": True, "weight_decay": 0.5},
    ],
    "Adagrad": [
        {"lr": 0.5}, {"lr": 0.1, "lr_decay": 0.01}, {"lr": 0.3, "weight_decay": 0.1},
        {"lr": 0.3, "initial_accumulator_value": 0.5, "eps": 1e-3}, {"lr": 1e4, "eps": 0.0},
    ],
    "RMSprop": [
        {"lr": 0.01}, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}, {"lr": 0.01, "centered": True},
        {"lr": 0.003, "momentum": 0.9}, {"lr": 0.003, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
        {"lr": 0.05, "alpha": 0.0},
    ],
    "Adadelta": [
        {}, {"lr": 0.5, "rho": 0.95}, {"lr": 1.0, "rho": 0.5, "eps": 1e-3, "weight_decay": 0.1}, {"lr": 10.0, "rho": 0.0},
    ],
    "Adam": [
        {"lr": 0.1}, {"lr": 0.01, "betas": (0.0, 0.99)}, {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3},
        {"lr": 0.05, "amsgrad": True}, {"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.02, "betas": (0.99, 0.9999)},
        {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}, {"lr": 0.05, "betas": (0.9, 0.5), "amsgrad": True, "weight_decay": 0.01},
        {"lr": 1.0, "betas": (0.3, 0.6), "eps": 0.1},
    ],
    "AdamW": [{"lr": 0.05}, {"lr": 0.05, "weight_decay": 0.5, "amsgrad": True}, {"lr": 0.1, "betas": (0.8, 0.95)}],
}
OPTION_LANDSCAPES = ["quadratic", "rosenbrock", "beale", "himmelblau", "saddle"]
OPTION_STEPS = 80


def option_runs():
    for name, settings in OPTION_GRID.items():
        for hyperparams in settings:
            for landscape in OPTION_LANDSCAPES:
                yield name, hyperparams, landscape


def _json_hyperparams(hyperparams: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hyperparams.items()}


BETAS = sorted({round(0.01 * k, 12) for k in range(100)} | {0.5, 0.9, 0.99, 0.999, 0.9999, 0.3, 0.6, 0.8, 0.95})
POW_STEPS = range(1, 501)
PANEL_BETA2 = (0.5, 0.9, 0.99, 0.999, 0.9999)  # 07's β₂ notches
ADAM_PANEL_STEPS = 200  # 07's runs
FORMAT_VALUES = [0.0, 1.0, 0.5, 0.125, 0.3, 2 / 3, 1e-10, 1e-8, 3.3e-5, 1e-4, 9.995e-4, 0.0995, 0.9995, 1.5, 99.95,
                 999.5, 1e3, 12345.678, 1e6, 2.5e-7, 1 / 1.02, 0.045, 0.0125]
FORMAT_SPECS = [".3g", "g", ".0e", ".2e", ".3f", ".2f", ".2g"]


@pytest.fixture(scope="module")
def panels():
    return _build_panels()


@pytest.fixture(scope="module")
def parity(panels):
    """Python's answers and the JS answers (one node process) for every case of the module."""
    requests, python = [], []
    for panel_id in COMPUTE_PANELS:
        panel = panels[panel_id]
        for values in panel_cases(panel_id, panel):
            try:
                result = list(panel.compute(**values))
            except ValueError as error:
                result = error
            python.append(("panel", panel_id, values, result))
            requests.append({"panel": panel_id, "values": values})
    for name, hyperparams, landscape in option_runs():
        python.append(("option", name, hyperparams, landscape))
        requests.append({"run": {"landscape": landscape, "optimizer": name, "hyperparams": _json_hyperparams(hyperparams),
                                 "steps": OPTION_STEPS}})
    for beta in BETAS:
        for step in POW_STEPS:
            correction = 1 - beta ** float(step)
            python.append(("pow", beta, step, (beta ** float(step), correction, correction ** 0.5)))
            requests.append({"call": "math.biasCorrection", "args": [beta, step]})
    for value in FORMAT_VALUES:
        for spec in FORMAT_SPECS:
            for signed in (value, -value):
                python.append(("format", signed, spec, format(signed, spec)))
                requests.append({"call": "format", "args": [signed, spec]})
    for kind, name, args, expected in theory_cases() + fma_cases():
        python.append((kind, name, args, expected))
        requests.append({"call": name, "args": list(args)})
    started = time.perf_counter()
    answers = run_in_node(requests)
    NODE_SECONDS.append(time.perf_counter() - started)
    assert len(answers) == len(requests)
    return list(zip(python, answers))


NODE_SECONDS: list[float] = []


def theory_cases() -> list:
    """The closed forms the panels' divergence rule and captions use, at the panels' values."""
    from course_lib.theory import gradient_descent as gd, momentum as hb, rmsprop

    cases = []
    lrs = [10 ** (-4 + 0.05 * k) for k in range(96)] + [10 ** (-4 + 0.02 * k) for k in range(251)]
    betas = [round(0.01 * k, 12) for k in range(100)]
    for mu, L in ((0.02, 1.0), (1.0, 1.0), (0.1, 1.0), (1.0 / 10 ** 1.7, 1.0)):
        for lr in lrs[::3]:
            for beta in betas[::7]:
                cases.append(("theory", "theory.quadraticRate", (lr, beta, mu, L), hb.quadratic_rate(lr, beta, mu, L)))
            cases.append(("theory", "theory.gdRate", (lr, [mu, L]), gd.gd_rate(lr, [mu, L])))
        cases.append(("theory", "theory.heavyBallOptimum", (mu, L), list(hb.heavy_ball_optimum(mu, L))))
        cases.append(("theory", "theory.heavyBallOptimalRate", (mu, L), hb.heavy_ball_optimal_rate(mu, L)))
        cases.append(("theory", "theory.gdOptimalLr", (mu, L), gd.gd_optimal_lr(mu, L)))
        cases.append(("theory", "theory.gdOptimalRate", (mu, L), gd.gd_optimal_rate(mu, L)))
    for rate in [0.0, 0.5, 0.9, 0.99, 0.999, 0.1, 0.3, 0.7, 0.95, 0.9999, 1 / 3, 0.98]:
        cases.append(("theory", "theory.stepsToTolerance", (rate, 0.1), gd.steps_to_tolerance(rate, 0.1)))
    for alpha in [round(0.001 * k, 12) for k in range(0, 1000, 37)]:
        cases.append(("theory", "theory.emaMemory", (alpha,), rmsprop.ema_memory(alpha)))
    return cases


def fma_cases() -> list:
    """a·b + c rounded once, against exact rational arithmetic: ordinary numbers, cancellations,
    subnormal and huge results."""
    rng = random.Random("fma")
    cases = []
    for _ in range(1500):
        scale = rng.choice([(-5, 5), (-1080, -900), (-600, -500), (900, 1000), (-60, 60)])
        a, b, c = (rng.choice([-1, 1]) * rng.uniform(0.5, 2) * 2.0 ** rng.randint(*scale) for _ in range(3))
        if rng.random() < 0.3:
            c = -a * b * (1 + rng.uniform(-1e-15, 1e-15))
        if rng.random() < 0.1:
            c = -a * b
        if not (math.isfinite(a * b) and math.isfinite(c)):
            continue
        exact = Fraction(a) * Fraction(b) + Fraction(c)
        try:
            expected = float(exact)
        except OverflowError:
            continue
        cases.append(("fma", "math.fma", (a, b, c), expected))
    return cases


# -- the tests ----------------------------------------------------------------------------------


#: panels whose runs can diverge (05's Adagrad moves at most lr per coordinate and step and GD runs at
#: its best lr; 07's Adam at most about lr per step: neither leaves ±1e6 in the steps they run)
CAN_DIVERGE = ("01_gradient_descent-0", "01_gradient_descent-1", "03_momentum-0", "04_nesterov-0")


@pytest.mark.parametrize("panel_id", COMPUTE_PANELS)
def test_each_panel_computes_what_the_python_panel_computes(parity, panels, panel_id):
    cases = [(p, a) for p, a in parity if p[0] == "panel" and p[1] == panel_id]
    assert len(cases) >= 10
    diverged = 0
    for (_, _, values, python), answer in cases:
        where = f"{panel_id} {values}"
        if isinstance(python, ValueError):
            assert "error" in answer, f"{where}: Python raised {python} but the JS computed"
            continue
        difference = compare_panel(python, answer, where, panel_loss(panel_id, panels[panel_id], values))
        assert_round_off(difference, where)
        record(panel_id, difference)
        setting = values.get("landscape") or values.get("orientation") or values.get("stream") or "parabola"
        record(f"{panel_id} · {setting}", difference)
        diverged += any(getattr(t, "diverged", False) for t in python)
    if panel_id in CAN_DIVERGE:
        assert diverged > 0, f"{panel_id}: no case diverged; the sweep must reach a diverging run"
    cases, exact, per_point, running = SUMMARY[panel_id]
    print(f"\n{panel_id}: {cases} cases ({diverged} with a diverging run), {exact} bit for bit, "
          f"max relative difference {per_point:.3g} per point, {running:.3g} of the run's size")


def test_the_panels_extras_match_the_python_numbers(parity, panels):
    from course_lib.theory.gradient_descent import curvatures_at_minimum, gd_optimal_lr
    from course_lib.ui.panels import adagrad, gradient_descent

    checked = 0
    for (kind, panel_id, values, python), answer in parity:
        if kind != "panel" or isinstance(python, ValueError):
            continue
        extras = answer["ok"]["extras"]
        if panel_id == "01_gradient_descent-1":
            surface = gradient_descent._landscape(values["landscape"], float(values["condition_number"]))
            curvatures = curvatures_at_minimum(surface)
            assert extras["curvatures"] == (None if curvatures is None else list(curvatures)), values
            if values["landscape"] == "quadratic":
                assert extras["best_lr"] == gd_optimal_lr(surface.mu, surface.L)
                assert extras["curvatures"] == [surface.mu, surface.L]
            checked += 1
        if panel_id == "05_adagrad-0":
            valley = adagrad.panel_landscape(float(values["kappa"]), values["orientation"])
            assert extras["best_gd_lr"] == 2.0 / (valley.L + valley.mu)
            distance = float((python[0].final_point ** 2).sum() ** 0.5)
            assert abs(extras["distance"] - distance) <= TOLERANCE * distance, (values, extras["distance"], distance)
            checked += 1
    assert checked > 20


def test_every_optimizer_option_matches_course_lib_and_torch_on_every_landscape(parity):
    import course_lib.optim as course_optim
    from course_lib.experiments.trajectories import run
    from course_lib.problems.landscapes import get_landscape

    for (kind, name, hyperparams, landscape), answer in parity:
        if kind != "option":
            continue
        where = f"{name}{hyperparams} on {landscape}"
        assert "ok" in answer, f"{where}: JS threw {answer.get('error')}"
        surface = get_landscape(landscape)
        torch_hyperparams = dict(hyperparams)
        torch_cls = getattr(torch.optim, name)
        for source, cls, extra in (("course_lib", getattr(course_optim, name), {}), ("torch", torch_cls, {"foreach": False})):
            python = run(surface, cls, steps=OPTION_STEPS, **torch_hyperparams, **extra)
            python.label = answer["ok"]["label"]  # labels name the class's keywords; compared below
            difference = compare_trajectory(python, answer["ok"], f"{where} vs {source}", landscape_loss(surface))
            assert_round_off(difference, f"{where} vs {source}")
            record(f"{name} vs {source}", difference)
            if source == "torch":
                record(f"{name} on {landscape} (vs torch)", difference)
    for name in OPTION_GRID:
        print(f"\n{name}: vs course_lib {SUMMARY[name + ' vs course_lib']}, vs torch {SUMMARY[name + ' vs torch']} "
              "(cases, bit for bit, max relative difference)")


def test_default_labels_read_like_pythons(parity):
    from course_lib.experiments.trajectories import default_label
    import course_lib.optim as course_optim

    for (kind, name, hyperparams, landscape), answer in parity:
        if kind == "option":
            assert answer["ok"]["label"] == default_label(getattr(course_optim, name), hyperparams), (name, hyperparams)


def test_bias_corrections_are_pythons_to_the_bit(parity):
    """Adam's 1 − βᵗ and √(1 − βᵗ) (Python floats and C's pow in course_lib): equal bit for bit
    for every β the panels offer (β₁'s notches, β₂'s choices) and every step the panel runs.
    The JS βᵗ is correctly rounded; C's pow misrounds a few (measured: 0.9999⁴⁹⁴, and powers
    below 1e-200, where 1 − βᵗ = 1 either way), and pow(x, 0.5) differs from √x by an ulp for
    about 0.1% of x; past the panel's steps the test counts those and allows a few."""
    early, late, powers = [], [], []
    for (kind, beta, step, expected), answer in parity:
        if kind != "pow":
            continue
        power, correction, root = expected
        got_power, got_correction, got_root = answer["ok"]
        if got_power != power:
            powers.append((beta, step))
        # β₁ only enters as 1 − β₁ᵗ; √(1 − βᵗ) is β₂'s
        differs = got_correction != correction or (got_root != root and beta in PANEL_BETA2)
        if differs or got_root != root:
            (early if differs and step <= ADAM_PANEL_STEPS else late).append((beta, step))
    assert not early, f"1 − βᵗ or its root differs within the panel's steps: {early[:5]}"
    assert len(late) <= 20, late
    print(f"\nβᵗ: {len(powers)} of {sum(k == 'pow' for (k, *_), _ in parity)} differ from C's pow;"
          f" 1 − βᵗ and √(1 − βᵗ): all equal for the panel's β and steps; {len(late)} others differ by an ulp")


def test_the_closed_forms_match_course_lib_theory(parity):
    """The rates that decide 03's divergence (rate > 1) agree exactly on that decision, and every
    closed form agrees to round-off (hypot, in the complex-root case, may round differently)."""
    exact = total = 0
    for (kind, name, args, expected), answer in parity:
        if kind != "theory":
            continue
        got = answer["ok"]
        total += 1
        exact += bool(np.array_equal(got, expected)) if got is not None else False
        if name == "theory.quadraticRate":
            assert (got > 1.0) == (expected > 1.0), (args, got, expected)
        if name in ("theory.stepsToTolerance",):
            assert (got if got is not None else math.inf) == expected, (args, got, expected)
            continue
        assert np.allclose(got, expected, rtol=1e-15, atol=0), (name, args, got, expected)
    print(f"\nclosed forms: {exact} of {total} bit for bit, the rest within 1e-15")


def test_fma_is_exact(parity):
    """The fused multiply-add the port emulates equals a·b + c rounded once, subnormals included."""
    wrong = [(args, answer["ok"], expected) for (kind, _, args, expected), answer in parity
             if kind == "fma" and float(answer["ok"]) != expected]
    assert not wrong, wrong[:5]


def test_labels_and_captions_format_numbers_as_python_does(parity):
    wrong = [(value, spec, expected, answer["ok"]) for (kind, value, spec, expected), answer in parity
             if kind == "format" and answer["ok"] != expected]
    assert not wrong, wrong[:10]


def test_the_landscapes_equal_pythons_bit_for_bit():
    from course_lib.problems.landscapes import get_landscape, rotated_quadratic
    from course_lib.theory.gradient_descent import curvatures_at_minimum

    rng = np.random.default_rng(0)
    points = rng.uniform(-5, 5, size=(200, 2)).tolist() + [[0.0, 0.0], [1e6, -1e6], [3.0, 0.5], [-1.2, 1.0]]
    surfaces = [(name, {}, None, get_landscape(name)) for name in ("quadratic", "rosenbrock", "beale", "himmelblau", "saddle")]
    for kappa in (1.0, 10 ** 0.3, 50.0, 1000.0):
        surfaces.append(("quadratic", {"condition_number": kappa}, None, get_landscape("quadratic", condition_number=kappa)))
        surfaces.append(("quadratic", {"condition_number": kappa}, 45.0, rotated_quadratic(kappa, angle=45.0)))
    requests = [{"landscape": {"name": name, "kwargs": kwargs, "angle": angle}, "points": points}
                for name, kwargs, angle, _ in surfaces]
    for (name, kwargs, angle, surface), answer in zip(surfaces, run_in_node(requests)):
        got = answer["ok"]
        xy = torch.tensor(points, dtype=torch.float64)
        values = np.asarray(got["values"], dtype=np.float64)  # (JSON may spell a big float as an int)
        grads = np.asarray(got["grads"], dtype=np.float64)
        assert np.array_equal(values, surface.value(xy).numpy()), (name, kwargs, angle)
        assert np.array_equal(grads, np.array([surface._grad_parts(x, y) for x, y in points])), (name, kwargs, angle)
        assert np.array_equal(grads, surface.grad(xy).numpy()), (name, kwargs, angle)
        assert got["start"] == list(surface.start) and got["xlim"] == list(surface.xlim) and got["ylim"] == list(surface.ylim)
        assert got["minima"] == surface.minima.tolist()
        assert got["name"] == surface.name
        curvatures = curvatures_at_minimum(surface)
        if angle is None:
            assert got["curvatures"] == (None if curvatures is None else list(curvatures)), (name, kwargs, angle)
        else:  # the turned valley's μ, L by design; Python's eigvalsh of its Hessian has round-off
            assert np.allclose(got["curvatures"], curvatures, rtol=TOLERANCE, atol=0), (got["curvatures"], curvatures)


def test_a_wrong_rule_fails_the_parity_check(panels):
    """The check can fail: with Adam's update swapped for the one without bias correction (a
    rule that differs from torch's in one factor), panel 07's runs differ far beyond round-off,
    and the same comparison the parity test makes raises."""
    values = {name: widget.value for name, widget in panels["07_adam-0"].sliders.items()}
    python = list(panels["07_adam-0"].compute(**values))
    wrong, = run_in_node([{"panel": "07_adam-0", "values": values}],
                         prelude="C.optimizers.Adam = C.optimizers.AdamWithoutBiasCorrection;")
    right, = run_in_node([{"panel": "07_adam-0", "values": values}])
    assert_round_off(compare_panel(python, right, "07 as ported"), "07 as ported")
    with pytest.raises(AssertionError):
        assert_round_off(compare_panel(python, wrong, "07 with a wrong rule"), "07 with a wrong rule")
    # subtler: momentum's buffer kept as (1 − τ)g₁ after the first step (torch keeps b₁ = g₁)
    python = run_sgd_dampened()
    wrong, = run_in_node([{"run": {"landscape": "rosenbrock", "optimizer": "SGD", "steps": OPTION_STEPS,
                                   "hyperparams": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5}}}],
                         prelude=FIRST_STEP_DAMPENED)
    with pytest.raises(AssertionError):
        python.label = wrong["ok"]["label"]
        assert_round_off(compare_trajectory(python, wrong["ok"], "SGD with the first step dampened"), "SGD dampened")


FIRST_STEP_DAMPENED = """
const sgd = C.optimizers.SGD, right = sgd.step;
sgd.step = function (param, grad, state, hp) {
  const first = state.momentum_buffer === undefined;
  right(param, grad, state, hp);
  if (first) { for (let i = 0; i < param.length; i++) state.momentum_buffer[i] *= (1 - hp.dampening); }
};
"""


def run_sgd_dampened():
    import course_lib.optim as course_optim
    from course_lib.experiments.trajectories import run
    from course_lib.problems.landscapes import get_landscape

    return run(get_landscape("rosenbrock"), course_optim.SGD, steps=OPTION_STEPS, lr=1e-3, momentum=0.9, dampening=0.5)


def test_the_scripts_load_as_a_page_loads_them_in_any_order():
    """In a page there is no require and no module: the three scripts share one global scope
    (window) and may come in any order (the book loads js/ sorted by name); each defines or
    extends window.CourseOptim and touches nothing else."""
    import json
    import subprocess

    from course_lib.web.jsport import JS_DIR, PORT_FILES

    script = r"""
const fs = require("fs"), vm = require("vm"), path = require("path");
const files = JSON.parse(process.argv[1]);
const results = [];
for (const order of [files, files.slice().reverse(), files.slice().sort()]) {
  const window = {};
  window.window = window;
  const context = vm.createContext(window);
  for (const name of order) vm.runInContext(fs.readFileSync(path.join(process.argv[2], name), "utf8"), context, {filename: name});
  const globals = Object.keys(window).filter((k) => k !== "window");
  const run = window.CourseOptim.panels["07_adam-0"].compute({landscape: "rosenbrock", lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, bias_correction: true});
  results.push({globals, last: run.trajectories[0].path[200]});
}
process.stdout.write(JSON.stringify(results));
"""
    node = node_executable()
    out = subprocess.run([node, "-e", script, json.dumps(list(PORT_FILES)), str(JS_DIR)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert all(r["globals"] == ["CourseOptim"] for r in results), results
    assert results[0]["last"] == results[1]["last"] == results[2]["last"]


def test_zz_summary():
    """What the port achieves (pytest -s shows it): cases, cases equal bit for bit, max relative difference."""
    if NODE_SECONDS:
        print(f"\nnode answered the module's requests in {NODE_SECONDS[0]:.2f} s")
    for name, (cases, exact, per_point, running) in sorted(SUMMARY.items()):
        print(f"\n{name:28s} {cases:5d} cases, {exact:5d} bit for bit, max relative difference "
              f"{per_point:.3g} per point, {running:.3g} of the run's size")
