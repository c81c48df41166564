"""Run every panel setting that docs/teaching.md tells an instructor to project, and print what
the panel shows: each run's final loss (or accuracy), whether it diverged, the caption, and how
long the panel took to redraw (what the room waits for after a slider move).

Not a speed target: the figures it prints are the outcomes docs/teaching.md states.
    .venv/bin/python benchmarks/teaching_panels.py            # every lecture
    .venv/bin/python benchmarks/teaching_panels.py 03 04      # some lectures
"""

from __future__ import annotations

import sys
import time

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

# lecture -> (panel factory, [(what the instructor does, slider values), ...])
SETTINGS = {
    "01": ("course_lib.ui.panels.gradient_descent:parabola_panel", [
        ("η = 0.5, L = 1", dict(lr=0.5, curvature=1.0, steps=20)),
        ("η = 1.5, L = 1", dict(lr=1.5, curvature=1.0, steps=20)),
        ("η = 2.2, L = 1", dict(lr=2.2, curvature=1.0, steps=20)),
        ("η = 0.6, L = 1", dict(lr=0.6, curvature=1.0, steps=60)),
        ("η = 0.6, L = 4", dict(lr=0.6, curvature=4.0, steps=60)),
    ]),
    "01b": ("course_lib.ui.panels.gradient_descent:lr_condition_panel", [
        ("quadratic κ = 10, η = 0.5", dict(landscape="quadratic", condition_number=10.0, lr=0.5)),
        ("quadratic κ = 100, η = 0.5", dict(landscape="quadratic", condition_number=100.0, lr=0.5)),
        ("quadratic κ = 10, η = 2.2", dict(landscape="quadratic", condition_number=10.0, lr=2.2)),
    ]),
    "02": ("course_lib.ui.panels.batch_minibatch_sgd:batch_size_panel", [
        ("B = 100, η = 0.1", dict(batch_size=100, lr=0.1)),
        ("B = 1, η = 0.1", dict(batch_size=1, lr=0.1)),
        ("B = 1, η = 0.178", dict(batch_size=1, lr=0.178)),
    ]),
    "03": ("course_lib.ui.panels.momentum:momentum_panel", [
        ("quadratic, lr 1, β 0", dict(landscape="quadratic", lr=1.0, momentum=0.0)),
        ("quadratic, lr 1, β 0.9", dict(landscape="quadratic", lr=1.0, momentum=0.9)),
        ("quadratic, lr 2.9, β 0.5", dict(landscape="quadratic", lr=2.9, momentum=0.5)),
        ("quadratic, lr 3.1, β 0.5", dict(landscape="quadratic", lr=3.1, momentum=0.5)),
    ]),
    "04": ("course_lib.ui.panels.nesterov:momentum_vs_nesterov_panel", [
        ("quadratic, lr 0.5, β 0.5", dict(landscape="quadratic", lr=0.5, momentum=0.5)),
        ("quadratic, lr 0.5, β 0.95", dict(landscape="quadratic", lr=0.5, momentum=0.95)),
        ("quadratic, lr 1.5, β 0.9", dict(landscape="quadratic", lr=1.5, momentum=0.9)),
        ("quadratic, lr 3.9, β 0.9", dict(landscape="quadratic", lr=3.9, momentum=0.9)),
    ]),
    "05": ("course_lib.ui.panels.adagrad:adagrad_panel", [
        ("κ 1000 along the axes", dict(kappa=1000.0, orientation="along the axes", lr=0.3, eps=1e-10)),
        ("κ 1000 turned 45°", dict(kappa=1000.0, orientation="turned 45°", lr=0.3, eps=1e-10)),
        ("κ 1000 along the axes, eps 1", dict(kappa=1000.0, orientation="along the axes", lr=0.3, eps=1.0)),
    ]),
    "06": ("course_lib.ui.panels.rmsprop_adadelta:effective_lr_panel", [
        ("α 0.9, steep-flat-steep", dict(alpha=0.9, stream="steep, flat, steep")),
        ("α 0.999, steep-flat-steep", dict(alpha=0.999, stream="steep, flat, steep")),
        ("α 0.99, constant", dict(alpha=0.99, stream="constant")),
    ]),
    "07": ("course_lib.ui.panels.adam:adam_panel", [
        ("Rosenbrock, defaults", dict(landscape="rosenbrock")),
        ("Rosenbrock, no bias correction", dict(landscape="rosenbrock", bias_correction=False)),
        ("Rosenbrock, β₂ 0.9, bias correction on", dict(landscape="rosenbrock", beta2=0.9, bias_correction=True)),
    ]),
    "08": ("course_lib.ui.panels.weight_decay_adamw:weight_decay_panel", [
        ("λ = 0", dict(weight_decay=0.0)),
        ("λ = 1", dict(weight_decay=1.0)),
        ("λ = 1e-3", dict(weight_decay=1e-3)),
        ("λ = 0.3", dict(weight_decay=0.3)),
    ]),
    "09": ("course_lib.ui.panels.lr_schedules:schedule_panel", [
        ("constant, lr 0.4, seed 0", dict(schedule="constant", lr=0.4, seed=0)),
        ("warmup_cosine, lr 0.4, warmup share 0.1, seed 0", dict(schedule="warmup_cosine", lr=0.4, warmup_fraction=0.1, seed=0)),
        ("warmup_cosine, lr 0.4, warmup share 0.3, seed 0", dict(schedule="warmup_cosine", lr=0.4, warmup_fraction=0.3, seed=0)),
        *[(f"warmup_cosine, lr 0.4, warmup share {share}, seed {seed}",
           dict(schedule="warmup_cosine", lr=0.4, warmup_fraction=share, seed=seed))
          for share in (0.1, 0.3) for seed in range(1, 10)],
    ]),
    "10": ("course_lib.ui.panels.choosing_an_optimizer:race_panel", [
        ("Adam 0.001 vs SGD+momentum 0.1", dict(first="Adam", first_lr=0.001, second="SGD+momentum", second_lr=0.1)),
        ("Adam 0.01 vs SGD+momentum 0.1", dict(first="Adam", first_lr=0.01, second="SGD+momentum", second_lr=0.1)),
    ]),
    "11": ("course_lib.ui.panels.initialization_and_practice:depth_panel", [
        ("depth 30, relu, xavier, gain 1", dict(depth=30, activation="relu", scheme="xavier", gain=1.0, seed=0)),
        *[(f"depth 30, relu, he, gain 1.41, seed {seed}", dict(depth=30, activation="relu", scheme="he", gain=1.41, seed=seed))
          for seed in range(10)],
        ("depth 30, tanh, xavier, gain 1", dict(depth=30, activation="tanh", scheme="xavier", gain=1.0, seed=0)),
        ("depth 30, tanh, xavier, gain 1.67", dict(depth=30, activation="tanh", scheme="xavier", gain=1.67, seed=0)),
        ("depth 30, relu, torch_default", dict(depth=30, activation="relu", scheme="torch_default", gain=1.0, seed=0)),
    ]),
}


def describe(run) -> str:
    parts = [getattr(run, "label", type(run).__name__)]
    if getattr(run, "diverged", False):
        parts.append(f"DIVERGED ({run.message})")
    losses = getattr(run, "losses", None)
    if losses is not None and len(np.atleast_1d(losses)):
        parts.append(f"final loss {float(np.ravel(losses)[-1]):.3g}")
    path = getattr(run, "path", None)
    if isinstance(path, np.ndarray) and path.ndim == 2 and path.shape[1] == 2:
        parts.append(f"last point ({path[-1, 0]:.3g}, {path[-1, 1]:.3g})")
    accuracy = getattr(run, "val_accuracy", None)
    if accuracy is not None:
        parts.append("val accuracy per seed " + " ".join(f"{a:.2f}" for a in np.asarray(accuracy)[:, -1]))
    return ", ".join(parts)


def main(wanted: list[str]) -> None:
    import importlib

    for lecture, (factory, settings) in SETTINGS.items():
        if wanted and lecture.rstrip("b") not in wanted:
            continue
        module, name = factory.split(":")
        started = time.perf_counter()
        panel = getattr(importlib.import_module(module), name)()
        print(f"== {lecture} {name} (built in {time.perf_counter() - started:.1f} s); sliders: "
              f"{', '.join(panel.sliders)}")
        for what, values in settings:
            started = time.perf_counter()
            runs = panel.update(**values)
            took = time.perf_counter() - started
            print(f"  {what}  [{took:.1f} s]" + (f"  ERROR {panel.error}" if panel.error else ""))
            for run in runs:
                print("      " + describe(run))
            figure = panel.figure
            if getattr(figure, "regime_text", None) is not None:
                print("      regime: " + figure.regime_text.get_text())
            if getattr(figure, "lr_lines", None):
                rms, ada = (line.get_ydata() for line in figure.lr_lines)
                print("      effective lr at steps 1, 100, 200, 300: RMSprop "
                      + ", ".join(f"{rms[k]:.3g}" for k in (0, 99, 199, 299)) + "; Adagrad "
                      + ", ".join(f"{ada[k]:.3g}" for k in (0, 99, 199, 299)))
            caption = getattr(panel, "caption_artist", None)
            if caption is not None and caption.get_text():
                print("      caption: " + caption.get_text().replace("\n", " | "))
        matplotlib.pyplot.close("all")


if __name__ == "__main__":
    main(sys.argv[1:])
