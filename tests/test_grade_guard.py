"""What an exercise forbids stays out of reach: the grader's run-time guard and the answer scan.

Issue 21's forgeries for notebooks 05–11, tried as a dishonest learner would:

- reaching a forbidden module by a computed name: ``getattr(torch, "op" + "tim")``,
  ``importlib.import_module``, ``__import__``, ``sys.modules[...]``, ``vars(torch)[...]``,
  ``torch.__dict__[...]``, ``object.__getattribute__``: the guard inside the sandbox
  (course_lib/grade/guard.py) refuses or records each one (tests below run it in a fresh
  process), and the scan names the route, so ``make check`` flags it too;
- forbidden names matched by what they resolve to: 11.2's prediction measured instead, with
  ``torch.optim.SGD`` and ``torch.nn.utils.clip_grad_norm_`` or ``get_total_norm`` +
  ``clip_grads_with_norm_``;
- a helper the notebook gives that does the exercise: the course's closed forms in 5.2, 6.2,
  6.3, 7.2, the check's own measurement in 5.4 and 10.2; and 8.1's prediction replaced by a run of
  ``torch.optim.AdamW`` reached through ``importlib``;

and, end to end through ``course-grade`` (bubblewrap), each forgery scores 0 or ``flagged`` while
the honest solutions keep full marks. ``make check`` reads the same scan
(``course_lib.exercises.make_check.grader_findings`` calls ``answer_scan.scan``), so the two
agree on every answer below.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.exercises import answer_scan as scan
from course_lib.exercises.checks import REGISTRY, discover
from course_lib.grade.sandbox import bwrap_path
from grade_fixtures import forge

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "grade_fixtures" / "guard_probe.py"

# exercises of 05–11 whose answers must not use torch.optim (issue 21 found these credited)
NO_TORCH_OPTIM = ("5.1", "5.2", "5.4", "6.1", "6.2", "6.3", "7.1", "7.2", "7.4", "8.1", "8.2",
                  "9.1", "9.2", "11.2")


@pytest.fixture(scope="module")
def probe():
    run = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("route", ["getattr", "importlib", "dunder_import", "from_import",
                                   "sys_modules", "vars", "dunder_dict", "course_optim"])
def test_every_route_to_a_forbidden_module_raises_and_is_recorded(probe, route):
    result = probe[route]
    assert result["raised"] and "ForbiddenAccess" in result["raised"], result
    assert result["hits"] and all("at run time" in hit for hit in result["hits"]), result
    assert f"cell {route}" in result["hits"][0]


def test_a_forbidden_class_reached_around_the_module_is_recorded_when_used(probe):
    hits = probe["object_getattribute"]["hits"]
    assert any("Adagrad.__init__" in hit and "torch.optim" in hit for hit in hits), hits


@pytest.mark.parametrize("route", ["clip_grad_norm_", "total_norm"])
def test_torchs_clipping_is_recorded_in_11_2(probe, route):
    hits = probe[route]["hits"]
    assert hits and all("torch.nn.utils.clip_grad" in hit for hit in hits), hits
    if route == "total_norm":
        assert any("get_total_norm" in hit for hit in hits)
        assert any("clip_grads_with_norm_" in hit for hit in hits)


def test_an_answer_that_is_a_forbidden_function_is_recorded_when_the_harness_calls_it(probe):
    hits = probe["handed_in"]["hits"]
    assert any("Adagrad.__init__" in hit for hit in hits), hits


def test_switching_the_guard_off_is_noticed(probe):
    assert any("switched off" in hit for hit in probe["switch_off"]["hits"])


def test_refused_helpers_and_arguments_are_recorded_however_they_are_passed(probe):
    assert any("decoupled_weight_decay" in hit for hit in probe["refused_argument"]["hits"])
    assert any("spike_step_ratio" in hit for hit in probe["refused_helper"]["hits"])


@pytest.mark.parametrize("route", ["replace_course", "delete_course"])
def test_the_learners_code_cannot_replace_the_courses_code(probe, route):
    result = probe[route]
    assert result["raised"] and "ForbiddenAccess" in result["raised"], result
    assert result["hits"] and "course_lib.experiments.optimizer_race" in result["hits"][0]


def test_a_course_modules_namespace_is_read_only_for_the_learners_code(probe):
    assert "does not support item assignment" in probe["namespace_course"]["raised"]


@pytest.mark.parametrize("name", ["setup", "honest", "given_helper", "allowed_optim", "reads_course",
                                  "course_cell_unguarded"])
def test_honest_code_allowed_uses_and_course_cells_are_left_alone(probe, name):
    assert probe[name] == {"raised": None, "hits": []}


# --------------------------------------------------------------------------------------------
# The scan (make check and course-grade)
# --------------------------------------------------------------------------------------------


def flags(exercise_id: str, source: str) -> list[str]:
    discover()
    return [f.what for f in scan.scan([("c", source)], REGISTRY[exercise_id], [source])]


@pytest.mark.parametrize("exercise_id", NO_TORCH_OPTIM)
def test_exercises_that_write_an_update_or_predict_forbid_torch_optim(exercise_id):
    discover()
    assert "torch.optim" in scan.forbidden_for(REGISTRY[exercise_id])


# The call a learner would actually write, for every entry of every forbidden list of 05–11.
LEARNER_CALLS = {
    "course_lib.optim": ["from course_lib.optim import adagrad_update\n",
                         "import course_lib.optim as o\no.adagrad_update(p, g, s)\n"],
    "course_lib.theory": ["from course_lib.theory.adam import spike_step_ratio\n",
                          "import course_lib.theory.adam\ncourse_lib.theory.adam.spike_step_ratio(0.9, 0.99, 3)\n"],
    "course_lib.exercises.checks": ["from course_lib.exercises.checks import REGISTRY\n"],
    "course_lib.grade": ["import course_lib.grade.judge\n"],
    "course_lib.exercises.generate": ["from course_lib.exercises import generate\n"],
    "course_lib.exercises.notebook_runner": ["import course_lib.exercises.notebook_runner\n"],
    "torch.optim": ["torch.optim.Adagrad([p], lr=0.1).step()\n",
                    "from torch.optim import Adam\nAdam([p])\n",
                    "from torch import optim\noptim.SGD([p], lr=0.1)\n",
                    "optim.SGD([p], lr=0.1)\n",
                    "torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)\n"],
    "torch.nn.utils.clip_grad": ["torch.nn.utils.clip_grad_norm_(params, max_norm)\n",
                                 "nn.utils.clip_grad_norm_(params, max_norm)\n",
                                 "from torch.nn.utils import clip_grad_norm_\nclip_grad_norm_(ps, 1)\n",
                                 "from torch.nn import utils\nutils.clip_grad_norm_(ps, 1)\n",
                                 "total = torch.nn.utils.get_total_norm(grads)\n",
                                 "torch.nn.utils.clip_grads_with_norm_(ps, 1.0, total)\n",
                                 "torch.nn.utils.clip_grad.clip_grad_norm_(ps, 1.0)\n"],
}


def test_every_forbidden_entry_has_the_calls_a_learner_would_write():
    discover()
    entries = {entry for eid, checker in REGISTRY.items()
               if eid.split(".")[0] in {"5", "6", "7", "8", "9", "10", "11"}
               and checker.kind != "written" for entry in scan.forbidden_for(checker)}
    assert entries <= set(LEARNER_CALLS), entries - set(LEARNER_CALLS)


@pytest.mark.parametrize("entry,source", [(e, s) for e, calls in LEARNER_CALLS.items()
                                          for s in calls])
def test_the_scan_flags_each_forbidden_entry_as_a_learner_writes_it(entry, source):
    discover()
    for eid, checker in REGISTRY.items():
        if checker.kind != "written" and entry in scan.forbidden_for(checker):
            found = flags(eid, source)
            assert any("forbids" in what for what in found), (eid, source, found)


@pytest.mark.parametrize("source", [
    'opt = getattr(torch, "op" + "tim")\nopt.Adagrad([p])\n',
    'm = vars(torch)["optim"]\n',
    'm = torch.__dict__["optim"]\n',
    'import importlib\nimportlib.import_module("torch." + "optim")\n',
    '__import__("torch.optim")\n',
    'import sys\nsys.modules["torch.optim"]\n',
])
def test_the_scan_names_each_computed_route_for_make_check(source):
    assert flags("5.1", source)


REFUSED = [
    ("5.2", "def predicted_effective_lr(lr, lr_decay, initial_accumulator_value, eps, g, every, t):\n"
            "    return adagrad_effective_lr_curve([g] * t, lr=lr)[-1]\n"),
    ("5.4", "def predicted_steps_per_decade(kappa, lr, s_x, s_y):\n"
            "    return measure_steps_per_decade(kappa, lr, s_x, s_y)\n"),
    ("6.2", "def predicted_effective_lr(lr, alpha, eps, g1, n, g2, t):\n"
            "    return rmsprop_effective_lr_curve([g1] * n + [g2] * t, lr=lr, alpha=alpha)[-1]\n"),
    ("6.3", "def predicted_first_step_above(lr, alpha, eps, g, factor):\n"
            "    return centered_first_step_above(alpha, eps, g, factor)\n"),
    ("7.2", "def predicted_first_long_silence(beta1, beta2):\n"
            "    return next(s for s in range(1, 5000) if spike_step_ratio(beta1, beta2, s) > 1)\n"),
    ("10.2", "def lr_for_summed_loss(name, lr, batch_size):\n"
             "    return measured_lr_for_summed_loss(name, lr, batch_size)\n"),
]


@pytest.mark.parametrize("exercise_id,source", REFUSED)
def test_a_given_helper_that_answers_the_exercise_is_flagged(exercise_id, source):
    assert any("answers this exercise itself" in what for what in flags(exercise_id, source))


# --------------------------------------------------------------------------------------------
# End to end: course-grade on forged 05–11 submissions (bubblewrap)
# --------------------------------------------------------------------------------------------

ADAGRAD, ADAMW, PRACTICE = ("05_adagrad.ipynb", "08_weight_decay_adamw.ipynb",
                            "11_initialization_and_practice.ipynb")

ADAGRAD_51 = '''def adagrad_step(param, grad, state, *, lr, lr_decay, eps):
    Adagrad = {route}
    optimizer = Adagrad([param], lr=lr, lr_decay=lr_decay, eps=eps)
    optimizer.state[param] = state
    param.grad = grad
    optimizer.step()
    param.grad = None
'''
ROUTES_51 = {
    "route_getattr": 'getattr(torch, "op" + "tim").Adagrad',
    "route_importlib": '__import__("importlib").import_module("torch." + "optim").Adagrad',
    "route_sys_modules": '__import__("sys").modules["torch." + "optim"].Adagrad',
    "route_vars": 'vars(vars(torch)["op" + "tim"])["Adagrad"]',
    "route_dict": 'torch.__dict__["op" + "tim"].__dict__["Adagrad"]',
    "route_object_getattribute": 'object.__getattribute__(__import__("sys").modules["torch.optim"], "Adagrad")',
}
# 11.2 predicts the cosine between the clipped and unclipped momentum step; each forgery measures
# it instead, by running torch.optim.SGD with torch's clipping reached one way or another
_MEASURE_112 = '''def predicted_clip_cosine(gradients, max_norm, momentum):
    steps = []
    for clip in (False, True):
        theta = torch.nn.Parameter(torch.zeros_like(gradients[0]))
        optimizer = {optimizer}([theta], lr=0.1, momentum=momentum)
        for g in gradients:
            before = theta.detach().clone()
            theta.grad = g.clone()
            if clip:
                {clip}
            optimizer.step()
        steps.append(theta.detach() - before)
    return (torch.dot(*steps) / (steps[0].norm() * steps[1].norm())).item()
'''
CLIP_112 = {
    "clip_torch": _MEASURE_112.format(
        optimizer="torch.optim.SGD",
        clip="torch.nn.utils.clip_grad_norm_([theta], max_norm)"),
    "clip_total_norm": _MEASURE_112.format(
        optimizer="torch.optim.SGD",
        clip="torch.nn.utils.clip_grads_with_norm_([theta], max_norm, "
             "torch.nn.utils.get_total_norm([theta.grad]))"),
    "clip_computed": _MEASURE_112.format(
        optimizer='getattr(torch, "op" + "tim").SGD',
        clip='getattr(getattr(torch.nn, "ut" + "ils"), "clip_grad_" + "norm_")([theta], max_norm)'),
}
ADAMW_81 = '''def predicted_adamw_end(hessian, minimiser, weight_decay):
    optim = __import__("importlib").import_module("torch." + "optim")  # runs the measurement
    H, c = torch.tensor(hessian), torch.tensor(minimiser)
    theta = torch.zeros(2, dtype=H.dtype, requires_grad=True)
    optimizer = optim.AdamW([theta], lr=0.02, betas=(0.9, 0.99), weight_decay=weight_decay)
    for _ in range(2500):
        theta.grad = H @ (theta.detach() - c)
        optimizer.step()
    return theta[1].item()
'''


CHOOSING = "10_choosing_an_optimizer.ipynb"
# Issue 21's outcome forgeries for 10.1: each moves the weights outside the 5-epoch budget.
_TRAIN = '''
def _fit(params, x, y, epochs):
    import torch.nn.functional as functional
    params = list(params)
    w1, b1, w2, b2 = params
    opt = torch.optim.Adam(params, lr=0.01)
    for _ in range(epochs):
        for first in range(0, len(x), 64):
            xb, yb = x[first:first + 64], y[first:first + 64]
            logits = torch.relu(xb @ w1.T + b1) @ w2.T + b2
            opt.zero_grad()
            functional.cross_entropy(logits, yb).backward()
            opt.step()
'''
OUTCOME_101 = {
    "outcome_train_on_validation": "from course_lib.problems.digits import load_digits_split\n"
    + _TRAIN + '''
def make_optimizer(params, *, steps_per_epoch, epochs):
    params = list(params)
    data = load_digits_split()
    _fit(params, data.x_val, data.y_val, 30)
    return torch.optim.SGD(params, lr=0.0), None
''',
    "outcome_extra_epochs": "from course_lib.problems.digits import load_digits_split\n"
    + _TRAIN + '''
def make_optimizer(params, *, steps_per_epoch, epochs):
    params = list(params)
    data = load_digits_split()
    _fit(params, data.x_train, data.y_train, 25)
    return torch.optim.SGD(params, lr=0.0), None
''',
    "outcome_copying_subclass": "import copy\nfrom course_lib.problems.digits import load_digits_split\n"
    + _TRAIN + '''
class Copier(torch.optim.SGD):
    def step(self, closure=None):
        with torch.no_grad():
            for p, stored in zip(self.param_groups[0]["params"], self.stored):
                p.copy_(stored)

def make_optimizer(params, *, steps_per_epoch, epochs):
    params = list(params)
    trained = [p.detach().clone().requires_grad_(True) for p in params]
    data = load_digits_split()
    _fit(trained, data.x_val, data.y_val, 30)
    optimizer = Copier(params, lr=0.0)
    optimizer.stored = [t.detach() for t in trained]
    return optimizer, None
''',
    "outcome_scheduler_copies": "from course_lib.problems.digits import load_digits_split\n"
    + _TRAIN + '''
def make_optimizer(params, *, steps_per_epoch, epochs):
    params = list(params)
    trained = [p.detach().clone().requires_grad_(True) for p in params]
    data = load_digits_split()
    _fit(trained, data.x_val, data.y_val, 30)
    optimizer = torch.optim.SGD(params, lr=0.0)

    def copy_in(step):
        with torch.no_grad():
            for p, t in zip(params, trained):
                p.copy_(t)
        return 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, copy_in)
''',
    "outcome_replaced_training": "import course_lib.experiments.optimizer_race as race\n"
    "from course_lib.problems.digits import load_digits_split\n" + _TRAIN + '''
def _fake(make_optimizer, *, seed, budget, batch_size=64):
    net = race.make_net(seed=seed)
    data = load_digits_split()
    _fit(list(net.parameters()), data.x_val, data.y_val, 30)
    return {name: value.detach().clone() for name, value in net.state_dict().items()}

setattr(race, "train_" + "digits_net", _fake)

def make_optimizer(params, *, steps_per_epoch, epochs):
    return torch.optim.SGD(params, lr=0.0), None
''',
}


def guard_submissions() -> dict[str, dict[str, bytes]]:
    subs = {"honest": {name: (ROOT / "solutions" / name).read_bytes()
                       for name in (ADAGRAD, ADAMW, PRACTICE)}}
    for student, route in ROUTES_51.items():
        subs[student] = {ADAGRAD: forge.with_answer(ADAGRAD, "5.1",
                                                    ADAGRAD_51.format(route=route))}
    for student, source in CLIP_112.items():
        subs[student] = {PRACTICE: forge.with_answer(PRACTICE, "11.2", source)}
    subs["adamw_runs_torch"] = {ADAMW: forge.with_answer(ADAMW, "8.1", ADAMW_81)}
    for student, source in OUTCOME_101.items():
        subs[student] = {CHOOSING: forge.with_answer(CHOOSING, "10.1", source)}
    subs["honest"][CHOOSING] = (ROOT / "solutions" / CHOOSING).read_bytes()
    return subs


FORGED = {**{(s, ADAGRAD, "5.1"): True for s in ROUTES_51},
          **{(s, PRACTICE, "11.2"): True for s in CLIP_112},
          ("adamw_runs_torch", ADAMW, "8.1"): True,
          **{(s, CHOOSING, "10.1"): True for s in OUTCOME_101}}
# forgeries whose flag must (also) come from the run-time guard
RUN_TIME_ONLY = {("route_object_getattribute", ADAGRAD, "5.1"), ("route_importlib", ADAGRAD, "5.1"),
                 ("clip_computed", PRACTICE, "11.2"), ("adamw_runs_torch", ADAMW, "8.1")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if bwrap_path() is None:
        pytest.skip("bubblewrap (bwrap) is not available: the sandbox's guard is tested in-process")
    root = tmp_path_factory.mktemp("guard")
    for student, files in guard_submissions().items():
        for name, data in files.items():
            path = root / "submissions" / student / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    out = root / "results"
    run = subprocess.run([sys.executable, "-m", "course_lib.grade", str(root / "submissions"),
                          "--out", str(out), "--timeout", "30", "--seed", "guard-secret",
                          "--workers", "2", "--quiet"],
                         capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = {(r["student"], r["notebook"], r["exercise"]): r for r in csv.DictReader(handle)}
    return {"rows": rows, "out": out}


def test_forged_05_11_submissions_score_nothing(graded):
    problems = []
    for key in FORGED:
        row = graded["rows"].get(key)
        if row is None or row["score"] != "0" or row["status"] not in forge.ZERO:
            problems.append(f"{key}: {row}")
    assert not problems, "\n".join(problems)


def test_forgeries_the_scan_cannot_read_are_flagged_by_the_run_time_guard(graded):
    for student, notebook, exercise in RUN_TIME_ONLY:
        row = graded["rows"][(student, notebook, exercise)]
        assert row["status"] == "flagged", row
        feedback = (graded["out"] / "feedback" / f"{student}.md").read_text(encoding="utf-8")
        assert "at run time" in feedback, (student, feedback[-2000:])


def test_the_rest_of_a_forged_notebook_and_the_honest_solutions_keep_full_marks(graded):
    for key, row in graded["rows"].items():
        if key in FORGED or key[2] in forge.written_ids(key[1]):
            continue                          # written answers wait for a marker (marks.csv)
        assert row["status"] == "passed", row


@pytest.mark.parametrize("student,notebook,exercise",
                         [key for key in FORGED if key[1] != CHOOSING])
def test_make_check_flags_the_same_forged_answers(student, notebook, exercise):
    """make check shows ⚠ ("course-grade will flag it") where course-grade flags these answers:
    both read the scan (10.1's forgeries fail the check itself, in a notebook as in the grader:
    tests/test_checks_choosing_an_optimizer.py)."""
    import nbformat

    from course_lib.exercises import make_check

    template = nbformat.read(ROOT / "exercises" / notebook, as_version=4)
    learner = nbformat.reads(guard_submissions()[student][notebook].decode("utf-8"), as_version=4)
    found = make_check.grader_findings(make_check.build_plan(template, learner))
    assert found.get(exercise), (student, found)
    assert set(found) == {exercise}, found  # the rest of the notebook is the honest solution
