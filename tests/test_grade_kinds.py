"""Every kind of exercise graded through the sandbox: predict-then-measure, written answers,
outcome-graded training runs, and a function that calls back a function the check hands it.

A throwaway exercise notebook is written for throwaway checkers (``scratch_registry``), so the
grader is shown to work from the registry and the notebook's tags and ids alone, with no code
for any particular notebook. The learner's functions run in the sandboxed child; ``measure``,
the outcome harness and the metric run in this process.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch

from course_lib.exercises.checks import Budget, Case, KnownMistake, register, register_outcome, \
    register_prediction, register_written, returns
from course_lib.grade import judge
from course_lib.grade.rebuild import load_course, rebuild
from course_lib.grade.sandbox import Sandbox


def _measured_stable_lr(L):
    """Largest stable lr of gradient descent on L·x²/2, found by bisection on runs (2/L)."""
    def stable(lr):
        x = 1.0
        for _ in range(200):
            x -= lr * L * x
        return abs(x) <= 1.0 + 1e-9

    low, high = 0.0, 10.0 / L
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if stable(mid) else (low, mid)
    return low


def _fit_harness(train, *, seed, budget):
    """Fresh data from ``seed``; ``train(w, x, y, epochs=...)`` updates ``w`` in place."""
    g = torch.Generator().manual_seed(seed)
    w_true = torch.randn(3, generator=g)
    x, x_val = torch.randn(64, 3, generator=g), torch.randn(64, 3, generator=g)
    w = torch.zeros(3)
    train(w, x, torch.sign(x @ w_true), epochs=budget.epochs)
    return float((torch.sign(x_val @ w) == torch.sign(x_val @ w_true)).float().mean())


def _good_train(w, x, y, *, epochs):
    for _ in range(epochs):
        w.add_(0.1 * (x * y[:, None]).mean(0))


class Field:
    """A gradient field handed to the learner's function (it stays in the grader)."""

    def __call__(self, x):
        return 2.0 * x + torch.sin(x)


def _reference_step(theta, grad_fn, *, lr):
    return theta - lr * grad_fn(theta)


@pytest.fixture
def kinds(scratch_registry):
    def prediction_cases(rng):
        yield Case("L = 4", L=4.0)
        yield Case("a random L", L=float(1 + 9 * torch.rand((), generator=rng)))

    register_prediction("95.1", measure=_measured_stable_lr, rtol=0.02,
                        explain="The iterates flip sign and grow once lr·L > 2.",
                        mistakes=[KnownMistake("one_over_L", lambda L: 1 / L,
                                               "1/L is the best lr, not the largest stable.")]
                        )(prediction_cases)
    register_written("95.2", prompt="Why does the largest stable lr scale like 1/L?")
    register_outcome("95.3", run=_fit_harness, target=0.8, budget=Budget(epochs=5, seconds=20),
                     reference=_good_train, metric="sign accuracy", n_seeds=2,
                     explain="Move w towards the examples it gets wrong.")

    def callback_cases(rng):
        yield Case("a vector", theta=torch.randn(4, generator=rng, dtype=torch.float64),
                   grad_fn=Field(), lr=0.1)

    register("95.4", reference=_reference_step, call=returns())(callback_cases)
    return scratch_registry


def _cell(cell_id, cell_type, source, tags=(), **metadata):
    cell = {"cell_type": cell_type, "id": cell_id, "metadata": dict(metadata),
            "source": source.splitlines(keepends=True)}
    if tags:
        cell["metadata"]["tags"] = list(tags)
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _notebook(answers: dict[str, str]) -> dict:
    stub = 'raise NotImplementedError("Exercise {}: replace this line with your code")'
    cells = [
        _cell("setup", "code", "import torch\n\nfrom course_lib.exercises.checks import check"),
        _cell("p-answer", "code", answers.get("p", "def predicted_lr(L):\n    "
                                          + stub.format("95.1")), ["answer"]),
        _cell("p-check", "code", 'check("95.1", predicted_lr)', ["check"]),
        _cell("w-answer", "markdown", answers.get("w", "*Write your answer here.*"), ["answer"],
              exercise_id="95.2"),
        _cell("o-answer", "code", answers.get("o", "def train(w, x, y, *, epochs):\n    "
                                          + stub.format("95.3")), ["answer"]),
        _cell("o-check", "code", 'check("95.3", train)', ["check"]),
        _cell("c-answer", "code", answers.get("c", "def gd_step(theta, grad_fn, *, lr):\n    "
                                          + stub.format("95.4")), ["answer"]),
        _cell("c-check", "code", 'check("95.4", gd_step)', ["check"]),
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


GOOD = {
    "p": "def predicted_lr(L):\n    return 2 / L\n",
    "w": "Because the curvature L multiplies every step: lr·L > 2 overshoots.",
    "o": "def train(w, x, y, *, epochs):\n    for _ in range(epochs):\n"
         "        w.add_(0.1 * (x * y[:, None]).mean(0))\n",
    "c": "def gd_step(theta, grad_fn, *, lr):\n    return theta - lr * grad_fn(theta)\n",
}
WRONG = {
    "p": "def predicted_lr(L):\n    return 1 / L\n",
    "o": "def train(w, x, y, *, epochs):\n    pass\n",
    "c": "def gd_step(theta, grad_fn, *, lr):\n    return theta - lr * grad_fn(theta + 1)\n",
}


def _grade(tmp_path: Path, answers: dict[str, str]) -> dict[str, judge.ExerciseResult]:
    course_path = tmp_path / "exercises" / "95_kinds.ipynb"
    course_path.parent.mkdir(exist_ok=True)
    course_path.write_text(json.dumps(_notebook({})), encoding="utf-8")
    course = load_course(course_path)
    rebuilt = rebuild(course, json.dumps(_notebook(answers)).encode())
    sandbox = Sandbox(Path(tempfile.mkdtemp(dir=tmp_path)))
    results = judge.grade_notebook(rebuilt, sandbox, seed="kinds/ann", timeout=60)
    return {result.exercise_id: result for result in results}


def test_right_answers_of_every_kind(kinds, tmp_path):
    results = _grade(tmp_path, GOOD)
    assert list(results) == ["95.1", "95.2", "95.3", "95.4"]
    assert results["95.1"].status == "passed", results["95.1"].message
    assert results["95.3"].status == "passed", results["95.3"].message
    assert results["95.4"].status == "passed", results["95.4"].message
    written = results["95.2"]
    assert written.status == "flagged" and written.max_score == 0
    assert written.written == GOOD["w"]


def test_wrong_answers_of_every_kind_get_their_hints(kinds, tmp_path):
    results = _grade(tmp_path, WRONG)
    assert results["95.1"].status == "failed" and results["95.1"].hint_id == "one_over_L"
    assert results["95.2"].status == "failed" and results["95.2"].message == "no written answer"
    assert results["95.3"].status == "failed" and results["95.3"].hint_id == "target_missed"
    assert results["95.4"].status == "failed"


# --------------------------------------------------------------------------------------------
# The course's own outcome-graded exercise, 10.1: the learner's make_optimizer returns a
# torch.optim optimizer, which cannot travel as data. Its checker is registered as train +
# score: the training half runs in the child, the validation loss is computed here from
# the trained parameters the child sends back.
# --------------------------------------------------------------------------------------------

ONE_CYCLE_10_1 = '''def make_optimizer(params, *, steps_per_epoch, epochs):
    optimizer = torch.optim.Adam(params, lr=0.03)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.03,
                                                    total_steps=steps_per_epoch * epochs)
    return optimizer, scheduler
'''
TORCH_DEFAULT_10_1 = '''def make_optimizer(params, *, steps_per_epoch, epochs):
    return torch.optim.SGD(params, lr=1e-3), None
'''


def _grade_10_1(tmp_path: Path, answer: str | None) -> judge.ExerciseResult:
    stub = ('def make_optimizer(params, *, steps_per_epoch, epochs):\n'
            '    raise NotImplementedError("Exercise 10.1: replace this line with your code")\n')

    def notebook(source):
        return {"cells": [_cell("setup", "code", "import torch\n\nfrom course_lib.exercises.checks import check"),
                          _cell("answer", "code", source, ["answer"]),
                          _cell("check", "code", 'check("10.1", make_optimizer)', ["check"])],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

    course_path = tmp_path / "exercises" / "10_outcome.ipynb"
    course_path.parent.mkdir(exist_ok=True)
    course_path.write_text(json.dumps(notebook(stub)), encoding="utf-8")
    course = load_course(course_path)
    rebuilt = rebuild(course, json.dumps(notebook(answer or stub)).encode())
    sandbox = Sandbox(Path(tempfile.mkdtemp(dir=tmp_path)))
    [result] = judge.grade_notebook(rebuilt, sandbox, seed="kinds/ann", timeout=60)
    return result


def test_outcome_exercise_10_1_trains_in_the_child_and_is_scored_here(tmp_path):
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    assert REGISTRY["10.1"].train is not None and REGISTRY["10.1"].score is not None
    good = _grade_10_1(tmp_path, ONE_CYCLE_10_1)
    assert good.status == "passed", good.message
    slow = _grade_10_1(tmp_path, TORCH_DEFAULT_10_1)
    assert slow.status == "failed" and slow.hint_id == "target_missed", slow.message
    assert "median validation loss" in slow.message
    blank = _grade_10_1(tmp_path, None)
    assert blank.status == "failed" and "not attempted" in blank.message
