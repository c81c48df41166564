"""The background trainer (course_lib.ui.background) and how slider panels use it."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from course_lib.ui.background import BackgroundTrainer
from course_lib.ui.slider_panel import SliderPanel


@pytest.fixture
def trainer():
    trainer = BackgroundTrainer()
    yield trainer
    trainer.close()


def test_jobs_run_in_another_process_at_low_priority_and_in_order(trainer):
    trainer.want([("pid", os.getpid, (), {}), ("nice", os.nice, (0,), {}),
                  ("sum", math.fsum, ([0.1] * 10,), {})])
    assert trainer.wait_all(timeout=120)
    assert trainer.errors == {}
    assert trainer.results["pid"] != os.getpid()
    # Relative to the parent: os.nice clamps at 19, the lowest priority, so under `nice -n 19`
    # the worker can only match its parent; below that it is 10 steps (or up to 19) nicer.
    parent, worker = os.nice(0), trainer.results["nice"]
    assert worker >= parent
    assert worker >= min(parent + 10, 19)
    assert trainer.results["sum"] == math.fsum([0.1] * 10)
    assert trainer.status("sum") == "done" and trainer.status("other") == "unknown"


def test_a_failing_job_is_reported_and_the_next_one_still_runs(trainer):
    trainer.want([("bad", math.sqrt, (-1.0,), {}), ("good", math.sqrt, (4.0,), {})])
    assert trainer.wait_all(timeout=120)
    assert trainer.status("bad") == "failed" and "math domain error" in trainer.errors["bad"]
    assert trainer.results["good"] == 2.0
    assert "bad" not in trainer.results


def _only_here() -> int:  # this test module is not importable in the worker
    return 1


def test_a_job_that_cannot_be_sent_or_loaded_is_reported_not_raised(trainer):
    trainer.want([("lambda", lambda: 1, (), {}), ("here", _only_here, (), {}),
                  ("fine", abs, (-3,), {})])  # lambdas do not pickle
    assert trainer.wait_all(timeout=120)
    assert "could not start" in trainer.errors["lambda"]
    assert "ModuleNotFoundError" in trainer.errors["here"]
    assert trainer.results["fine"] == 3


def test_want_reorders_what_waits_and_skips_what_is_done(trainer):
    trainer.want([("a", abs, (-1,), {})])
    assert trainer.wait_all(timeout=120) and trainer.results["a"] == 1
    trainer.want([("a", abs, (-1,), {}), ("b", abs, (-2,), {})])   # "a" is not computed again
    assert trainer.status("a") == "done"
    assert trainer.wait_all(timeout=120) and trainer.results["b"] == 2


def test_a_killed_worker_is_replaced_for_the_next_jobs(trainer):
    trainer.want([("first", abs, (-1,), {})])
    assert trainer.wait_all(timeout=120)
    trainer._process.kill()
    trainer._process.wait()
    trainer.want([("second", abs, (-2,), {})])
    assert trainer.wait_all(timeout=120) and trainer.results["second"] == 2


def _tiny_panel(prefetch):
    """A one-slider panel whose compute returns the slider's value."""
    import ipywidgets as widgets

    class Figure:
        def __init__(self):
            import matplotlib.pyplot as plt

            self.fig, self.ax = plt.subplots()
            (self.line,) = self.ax.plot([0, 1], [0, 1])

        def show(self, runs):
            self.line.set_ydata([0, runs[0]])
            return self

    return SliderPanel(lambda a: [a], {"a": widgets.FloatSlider(value=1.0, min=0, max=2)},
                       figure=Figure(), prefetch=prefetch)


def test_prefetch_is_called_when_the_view_goes_live_and_after_learner_moves_only():
    calls = []
    panel = _tiny_panel(lambda values: calls.append(dict(values)))
    panel.update(a=0.5)
    panel.sliders["a"].value = 1.5          # code moving a slider (a cell, nbval)
    assert calls == []
    panel.view._on_frontend_msg(panel.view, {"type": "ping"}, [])
    assert calls == [{"a": 1.5}]
    panel.view._on_frontend_msg(panel.view, {"type": "ping"}, [])   # a second page: once is enough
    assert len(calls) == 1
    panel._pending_update = True            # what a value from the browser leaves behind
    panel.sliders["a"].value = 0.25
    panel.flush()
    assert calls[-1] == {"a": 0.25}


def test_a_failing_prefetch_never_breaks_the_panel():
    def broken(values):
        raise RuntimeError("no worker")

    panel = _tiny_panel(broken)
    with pytest.warns(RuntimeWarning, match="prefetch failed"):
        panel.view._on_frontend_msg(panel.view, {"type": "ping"}, [])
    assert panel.update(a=0.75) == [0.75]
    with pytest.raises(ValueError, match="prefetch must be callable"):
        _tiny_panel("yes")


def test_race_grids_trained_in_the_background_equal_the_kernels_own():
    from course_lib.ui.panels.choosing_an_optimizer import LR_GRID, RaceCache, race_panel

    panel = race_panel()
    trainer = BackgroundTrainer()
    cache = panel.race_cache
    cache.background = trainer                 # this test's own trainer, not the kernel's
    trainer.subscribe(cache._arrived)
    try:
        cache.prefetch(["AdamW", "SGD"])
        assert trainer.wait_all(timeout=300) and trainer.errors == {}
        assert cache.complete("AdamW") and cache.complete("SGD") and not cache.complete("RMSprop")
        trained_here = len(cache.trainings)
        run = panel.update(first="AdamW", first_lr=LR_GRID[3])[0]
        assert len(cache.trainings) == trained_here   # a lookup, nothing trained in the kernel
        own = RaceCache(cache.data, whole_grid=True).run("AdamW", LR_GRID[3])
        np.testing.assert_array_equal(run.train_loss, own.train_loss)
        np.testing.assert_array_equal(run.val_accuracy, own.val_accuracy)
    finally:
        trainer.close()


def test_a_failing_result_callback_does_not_stop_later_results(trainer, capsys):
    seen = []

    def fussy(key, value):
        if key == "first":
            raise RuntimeError("a panel's callback broke")
        seen.append(key)

    trainer.subscribe(fussy)
    trainer.want([("first", abs, (-1,), {}), ("second", abs, (-2,), {})])
    assert trainer.wait_all(timeout=120)
    assert trainer.results == {"first": 1, "second": 2} and seen == ["second"]


def test_a_live_race_panel_trains_only_the_setting_asked_for_and_leaves_the_grid_to_the_worker():
    from course_lib.ui.panels.choosing_an_optimizer import LR_GRID, race_panel
    from course_lib.experiments.optimizer_race import OPTIMIZERS

    panel = race_panel()
    trainer = BackgroundTrainer()
    cache = panel.race_cache
    cache.background = trainer
    trainer.subscribe(cache._arrived)
    try:
        cache.prefetch(["SGD"])                   # live: the worker trains SGD's grid
        assert trainer.wait_all(timeout=300)
        built = len(cache.trainings)
        panel.update(first="RMSprop", first_lr=LR_GRID[2])   # not trained by anyone yet
        assert cache.trainings[built:] == [("RMSprop", 3)]   # 3 networks, not 19 × 3
        cache.prefetch(list(OPTIMIZERS))
        assert trainer.wait_all(timeout=300) and trainer.errors == {}
        assert all(cache.complete(name) for name in OPTIMIZERS)
        trained = len(cache.trainings)
        for k in (0, 7, 18):
            panel.update(first="RMSprop", first_lr=LR_GRID[k], second="Nesterov", second_lr=LR_GRID[k])
        assert len(cache.trainings) == trained    # every later move is a lookup
    finally:
        trainer.close()


def test_want_never_waits_for_the_worker_even_for_a_job_larger_than_the_pipe(trainer):
    import time

    big = np.zeros(2_000_000, dtype=np.float32)   # 8 MB: far more than a pipe holds
    start = time.perf_counter()
    trainer.want([("big", np.sum, (big,), {})])   # the worker is still starting (imports torch)
    assert time.perf_counter() - start < 0.5
    assert trainer.wait_all(timeout=120) and trainer.results["big"] == 0.0


def test_a_job_whose_worker_dies_is_tried_once_more_by_a_new_worker(trainer):
    import time

    trainer.want([("slow", time.sleep, (3.0,), {}), ("after", abs, (-5,), {})])
    deadline = time.monotonic() + 60
    while trainer.status("slow") != "running" or trainer._process is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.5)                            # the worker is inside the job now
    first = trainer._process
    first.kill()
    assert trainer.wait_all(timeout=120)
    assert trainer.status("slow") == "done" and trainer.results["after"] == 5
    assert trainer._process is not first and first.returncode is not None   # reaped, replaced


def test_a_result_that_cannot_be_loaded_fails_alone(trainer, monkeypatch):
    import pickle

    from course_lib.ui import background

    class ResultsFail:
        """pickle, except that the value "poison" cannot be loaded (as a result made by code
        that changed on disk while the kernel ran)."""
        PicklingError, UnpicklingError = pickle.PicklingError, pickle.UnpicklingError
        HIGHEST_PROTOCOL, dumps = pickle.HIGHEST_PROTOCOL, staticmethod(pickle.dumps)

        @staticmethod
        def loads(data):
            value = pickle.loads(data)
            if value == "poison":
                raise AttributeError("module 'course_lib.x' has no attribute 'Run'")
            return value

    monkeypatch.setattr(background, "pickle", ResultsFail)
    trainer.want([("unloadable", str, ("poison",), {}), ("next", abs, (-1,), {})])
    assert trainer.wait_all(timeout=120)
    assert "could not load the result: AttributeError" in trainer.errors["unloadable"]
    assert trainer.results["next"] == 1


def test_subscribers_are_held_weakly(trainer):
    import gc

    class Cache:
        def __init__(self):
            self.seen = []

        def arrived(self, key, value):
            self.seen.append(key)

    kept, dropped = Cache(), Cache()
    trainer.subscribe(kept.arrived)
    trainer.subscribe(dropped.arrived)
    del dropped
    gc.collect()
    trainer.want([("k", abs, (-1,), {})])
    assert trainer.wait_all(timeout=120)
    assert kept.seen == ["k"] and len(trainer._subscribers) == 1


def test_race_caches_on_different_data_never_share_a_background_grid():
    from types import SimpleNamespace

    from course_lib.problems.digits import load_digits_split
    from course_lib.ui.panels.choosing_an_optimizer import RaceCache

    data = load_digits_split()
    halved = SimpleNamespace(x_train=data.x_train[::2], y_train=data.y_train[::2],
                             x_val=data.x_val, y_val=data.y_val)
    assert RaceCache(data).job_key("SGD") == RaceCache(load_digits_split()).job_key("SGD")
    assert RaceCache(data).job_key("SGD") != RaceCache(halved).job_key("SGD")


def test_a_late_subscriber_gets_the_results_already_in(trainer):
    trainer.want([("early", abs, (-7,), {})])
    assert trainer.wait_all(timeout=120)
    seen = []
    trainer.subscribe(lambda key, value: seen.append((key, value)))  # a panel built afterwards
    assert seen == [("early", 7)]
    trainer.want([("late", abs, (-8,), {})])
    assert trainer.wait_all(timeout=120) and seen == [("early", 7), ("late", 8)]
