"""The grader's parts on their own: wire format, rebuild, scan, sharding, reports, CLI errors.

None of these needs bubblewrap; the last tests grade a tiny class with ``--no-bwrap`` to show
the fallback (rlimits, process group, scratch folder) grades correctly too.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib.grade import cli, report, wire
from course_lib.exercises import answer_scan as scan
from course_lib.grade.judge import cells_to_run
from course_lib.grade.rebuild import InvalidSubmission, load_course, parse_submission, rebuild
from course_lib.grade.sandbox import needed_modules
from grade_fixtures import forge

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# wire: values as data, aliasing and in-place changes mirrored
# --------------------------------------------------------------------------------------------


def roundtrip(value):
    encoder = wire.Encoder()
    node = encoder.encode(value)
    message = json.loads(json.dumps({"value": node, **encoder.tables()}))
    return wire.Decoder(message).decode(message["value"])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64,
                                   torch.int64, torch.bool, torch.complex64])
def test_tensors_travel_bit_for_bit(dtype):
    tensor = (torch.randn(3, 4) * 100).to(dtype)
    back = roundtrip(tensor)
    assert back.dtype == dtype and back.shape == tensor.shape
    assert torch.equal(back.view(torch.uint8) if dtype != torch.bool else back,
                       tensor.view(torch.uint8) if dtype != torch.bool else tensor)


def test_plain_values_nan_and_containers_travel():
    value = {"a": [1, 2.5, float("nan"), float("inf"), None, True, "x"], 3: (1, 2j)}
    back = roundtrip(value)
    assert back["a"][:2] == [1, 2.5] and back["a"][2] != back["a"][2]
    assert back["a"][3:] == [float("inf"), None, True, "x"] and back[3] == (1, 2j)


def test_two_views_of_one_storage_stay_views_of_one_storage():
    base = torch.arange(6.0)
    back = roundtrip({"whole": base, "tail": base[3:]})
    back["whole"][4] = 100.0
    assert back["tail"][1] == 100.0


def test_a_float_subclass_arrives_as_a_plain_float():
    class Yes(float):
        def __eq__(self, other):
            return True
        __hash__ = float.__hash__

    back = roundtrip(Yes(0.5))
    assert type(back) is float and back == 0.5 and back != 0.7


def test_learner_objects_arrive_as_opaque_values_that_equal_nothing():
    class Mine:
        pass

    back = roundtrip(Mine())
    assert isinstance(back, wire.Opaque) and back != back


def call_through_harness(fn, **inputs):
    """Call ``fn`` the way the sandboxed harness does, with a JSON round trip each way."""
    from course_lib.grade.harness import Harness

    harness = Harness(-1, -1, wire)
    handle = harness._handle(fn)["callable"]
    request = wire.Encoder()
    node = request.encode([[], inputs])
    message = json.loads(json.dumps({"op": "call", "handle": handle, "args": node,
                                     **request.tables()}))
    reply = json.loads(json.dumps(harness.call(message)))
    decoder = wire.Decoder(reply, request=request)
    decoder.decode(reply["inputs"])
    return decoder.decode(reply["returned"])


class _CustomBlock(torch.nn.Module):
    """A module the wire cannot rebuild: a tied embedding, attention, a gain vector."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(7, 4)
        self.attention = torch.nn.MultiheadAttention(4, 2, batch_first=True)
        self.gain = torch.nn.Parameter(torch.ones(4))
        self.head = torch.nn.Linear(4, 7, bias=False)
        self.head.weight = self.embed.weight


@pytest.mark.parametrize("make_model", [
    lambda: torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.LayerNorm(5), torch.nn.ReLU(),
                                torch.nn.Linear(5, 1)),
    _CustomBlock,
])
def test_parameters_a_function_returns_are_the_callers_own(make_model):
    """8.3's decay_groups returns the model's parameters: they must come back as the very
    Parameters of the grader's model (standard layers and shells of other modules alike)."""
    model = make_model()

    def groups(model):
        params = [p for _, p in model.named_parameters()]
        return [{"params": [p for p in params if p.dim() >= 2]},
                {"params": [p for p in params if p.dim() < 2]}]

    returned = call_through_harness(groups, model=model)
    got = [id(p) for group in returned for p in group["params"]]
    assert sorted(got) == sorted(id(p) for p in model.parameters())


def test_a_call_mirrors_in_place_changes_and_aliasing_onto_the_callers_objects():
    """The learner stores grad itself as the buffer: the caller's state must alias its grad."""
    param, grad, state = torch.ones(3), torch.full((3,), 2.0), {}

    def momentum_step(param, grad, state):
        param.sub_(0.5)
        state["momentum_buffer"] = grad

    returned = call_through_harness(momentum_step, param=param, grad=grad, state=state)
    assert returned is None
    assert torch.equal(param, torch.full((3,), 0.5))
    assert state["momentum_buffer"] is grad


def test_a_call_mirrors_a_changed_input_and_a_returned_input():
    grad = torch.full((2,), 3.0)
    returned = call_through_harness(lambda grad, lr: grad.mul_(-lr), grad=grad, lr=0.5)
    assert returned is grad and torch.equal(grad, torch.full((2,), -1.5))


def test_a_view_of_an_input_comes_back_as_a_view_of_the_callers_tensor():
    grad = torch.arange(4.0)
    returned = call_through_harness(lambda grad: grad[1:], grad=grad)
    grad[2] = 50.0
    assert returned[1] == 50.0


def test_parameters_travel_with_their_gradients():
    param = torch.nn.Parameter(torch.ones(3))
    param.grad = torch.full((3,), 2.0)
    grad = param.grad

    def sgd_step(params, lr):
        for p in params:
            with torch.no_grad():
                p.sub_(lr * p.grad)
            p.grad.zero_()

    call_through_harness(sgd_step, params=[param], lr=0.25)
    assert torch.equal(param.detach(), torch.full((3,), 0.5))
    assert param.grad is grad and torch.equal(grad, torch.zeros(3))
    call_through_harness(lambda params: setattr(params[0], "grad", None), params=[param])
    assert param.grad is None
    back = roundtrip([param])
    assert isinstance(back[0], torch.nn.Parameter) and back[0].requires_grad


def test_generators_come_back_as_lists_and_exceptions_as_data():
    assert call_through_harness(lambda n: (i * i for i in range(n)), n=4) == [0, 1, 4, 9]
    from course_lib.grade.harness import Harness

    harness = Harness(-1, -1, wire)
    handle = harness._handle(lambda: exit(3))["callable"]
    reply = harness.call({"op": "call", "handle": handle, "args": {"list": [{"list": [], "c": 0},
                          {"dict": [], "c": 1}], "c": 2}, "tensors": [], "storages": []})
    assert reply["kind"] == "raised" and reply["type"] == "SystemExit"


def test_oversized_or_malformed_tensor_entries_are_refused():
    message = {"tensors": [{"storage": 0, "dtype": "float32", "size": [10], "stride": [1],
                            "offset": 0}],
               "storages": [{"nbytes": 8, "bytes": "AAAAAAAAAAA="}]}
    with pytest.raises(wire.WireError):
        wire.Decoder(message).decode({"t": 0})
    with pytest.raises(wire.WireError):
        wire.Decoder({"tensors": [], "storages": []}).decode({"t": 3})
    with pytest.raises(wire.WireError):
        wire.Decoder({"tensors": [{"storage": 0, "dtype": "object", "size": [], "stride": [],
                                   "offset": 0}], "storages": [{"nbytes": 0, "bytes": ""}]}
                     ).decode({"t": 0})


# --------------------------------------------------------------------------------------------
# rebuild
# --------------------------------------------------------------------------------------------


def test_only_answer_sources_are_taken_from_a_submission():
    course = load_course(ROOT / "exercises" / forge.MOMENTUM)
    notebook = forge.load("solutions", forge.MOMENTUM)
    for cell in notebook["cells"]:
        if "check" in cell["metadata"].get("tags", []):
            cell["source"] = ["print('✅ passed')"]
    rebuilt = rebuild(course, forge.dump(notebook))
    check_cells = [c for c in course.cells if c.is_check]
    assert all(rebuilt.source_of(c) == c.source for c in check_cells)
    assert "BEGIN SOLUTION" in rebuilt.answers["mom-ex1-answer"]


def test_answer_cells_fall_back_to_order_and_report_missing_ones():
    course = load_course(ROOT / "exercises" / forge.NESTEROV)
    rebuilt = rebuild(course, forge.submissions()["cells_without_ids"][forge.NESTEROV])
    assert not rebuilt.missing and any("matched by position" in n
                                       for notes in rebuilt.notes.values() for n in notes)
    rebuilt = rebuild(course, forge.submissions()["cell_deleted"][forge.NESTEROV])
    assert rebuilt.missing and "not found" in rebuilt.notes["4.1"][0]


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"), (b"{", "malformed JSON"), (b"\xff\xfe", "UTF-8"),
    (b"[1, 2]", "no list of cells"), (b'{"cells": [{"source": "x"}]}', "cell_type"),
    (b'{"cells": [{"cell_type": "code", "source": [1]}]}', "not text"),
])
def test_garbage_is_invalid_with_a_reason(data, reason):
    with pytest.raises(InvalidSubmission, match=reason):
        parse_submission(data)


def test_demo_cells_that_nothing_needs_are_not_run_but_setup_and_answers_are():
    course = load_course(ROOT / "exercises" / forge.MOMENTUM)
    rebuilt = rebuild(course, (ROOT / "solutions" / forge.MOMENTUM).read_bytes())
    run = cells_to_run(rebuilt)
    for cell in course.cells:
        if cell.is_check:
            assert cell.index not in run
        if cell.is_answer and cell.cell_type == "code":
            assert cell.index in run
    setup = next(c for c in course.cells if c.cell_type == "code")
    assert setup.index in run


def test_the_sandbox_gets_no_checkers_and_no_grader():
    sources = [c.source for name in ("01_gradient_descent.ipynb", "03_momentum.ipynb")
               for c in load_course(ROOT / "exercises" / name).cells if c.cell_type == "code"]
    sources.append("from course_lib.exercises.checks.momentum import reference_momentum_step\n"
                   "import course_lib.grade.judge")
    modules = needed_modules(sources)
    assert not any(m.startswith(("course_lib.exercises.checks", "course_lib.grade")) for m in modules)


# --------------------------------------------------------------------------------------------
# scan
# --------------------------------------------------------------------------------------------


def findings(source: str, exercise_id: str = "3.1") -> list[str]:
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    return [f.what for f in scan.scan([("cell", source)], REGISTRY[exercise_id], [source])]


@pytest.mark.parametrize("source, expected", [
    ("import torch.optim\n", "torch.optim"),
    ("x = torch.optim.SGD\n", "torch.optim"),
    ("from course_lib.optim.sgd import sgd_update\n", "course_lib.optim"),
    ("from course_lib import theory\n", "course_lib.theory"),
    ("import sys\nf = sys._getframe(1)\n", "_getframe"),
    ("import inspect\n", "inspect"),
    ("def f(x):\n    x.__class__ = int\n", "__class__"),
    ("class T:\n    def __torch_function__(self):\n        pass\n", "__torch_function__"),
    ("import builtins\n", "builtins"),
    ("__builtins__['print'] = None\n", "__builtins__"),
    ("import signal\n", "signal"),
    ("import os\nos._exit(0)\n", "os._exit"),
    ("import subprocess\n", "subprocess"),
    ("open('/proc/self/status').read()\n", "/proc"),
    ("open('/tmp/x', 'w')\n", "outside its folder"),
    ("import shutil\nshutil.rmtree('../solutions')\n", "outside its folder"),
    ("from pathlib import Path\nPath('/work/x').unlink()\n", "outside its folder"),
    ("exec('print(1)')\n", "exec"),
    ("import course_lib.experiments.optimizer_race as race\nrace.train_digits_net = print\n", "replaces"),
    ("from course_lib import digits\ndel digits.load_digits_split\n", "replaces"),
])
def test_scan_flags_reaching_into_the_harness(source, expected):
    assert any(expected in what for what in findings(source)), findings(source)


def test_scan_reads_code_not_comments_or_docstrings():
    source = ('def momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):\n'
              '    """Unlike torch.optim.SGD we never import inspect or signal here."""\n'
              '    # import torch.optim would be cheating; os._exit too\n'
              '    param.sub_(lr * grad)\n')
    assert findings(source) == []


def _exercises_whose_reference_calls_course_code() -> list[tuple[str, str, str]]:
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    return sorted((eid, module, name) for eid, checker in REGISTRY.items()
                  for module, name in scan.reference_names(checker))


def test_scan_finds_the_course_functions_the_references_call():
    # read off the registry, not hard-coded: 2.3's reference trains with toy_regression's own
    # updates_to_reach; 3.3's (the best β at a given lr) is a closed form and calls nothing
    from course_lib.exercises.checks import REGISTRY

    found = _exercises_whose_reference_calls_course_code()
    assert ("2.3", "course_lib.problems.toy_regression", "updates_to_reach") in found
    assert scan.reference_names(REGISTRY["3.3"]) == set()
    assert not any(module.startswith("course_lib.exercises.checks") for _, module, _ in found)


@pytest.mark.parametrize("exercise_id, module, name", _exercises_whose_reference_calls_course_code())
def test_scan_flags_calling_the_reference_the_checker_uses(exercise_id, module, name):
    alias = module.rsplit(".", 1)[-1]
    by_import = findings(f"from {module} import {name}\n"
                         f"def answer(*args, **kwargs):\n    return {name}(*args, **kwargs)\n",
                         exercise_id)
    assert any(name in f for f in by_import), by_import
    # through a module alias the notebook imported (02's `tr.updates_to_reach`)
    by_alias = findings(f"def answer(*args, **kwargs):\n"
                        f"    return {alias}.{name}(*args, **kwargs)\n", exercise_id)
    assert any(f"own {alias}.{name}" in f for f in by_alias), by_alias


def test_scan_lets_a_learner_use_a_name_of_their_own():
    # a learner's own function that happens to share the reference helper's name is theirs
    assert not any("updates_to_reach" in f for f in findings(
        "def updates_to_reach(model, x, y, **kw):\n    return 3\n", "2.3"))


def test_exercises_that_train_a_model_may_use_torch_optim():
    assert findings("def updates_to_reach(model, x, y, **kw):\n"
                    "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n", "2.3") == []


def test_writing_relative_files_in_the_scratch_folder_is_fine():
    assert findings("open('notes.txt', 'w').write('hi')\n") == []


# --------------------------------------------------------------------------------------------
# sharding, overrides, CLI errors
# --------------------------------------------------------------------------------------------


def test_shards_partition_the_students():
    students = [f"student{i:03d}" for i in range(200)]
    shards = [{s for s in students if cli.in_shard(s, (i, 4))} for i in range(4)]
    assert set().union(*shards) == set(students)
    assert sum(len(s) for s in shards) == len(students)
    assert all(30 < len(s) < 70 for s in shards)


@pytest.mark.parametrize("text", ["4/4", "-1/2", "a/b", "1", "0/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(cli.UsageError):
        cli.parse_shard(text)


def test_overrides_replace_score_and_keep_what_it_was(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("student,notebook,exercise,score\nann,03_momentum.ipynb,3.1,1\n")
    rows = [{"student": "ann", "notebook": "03_momentum.ipynb", "exercise": "3.1", "score": "0",
             "max_score": "1", "status": "flagged", "message": "uses torch.optim"}]
    report.apply_overrides(rows, report.read_overrides(path))
    assert rows[0]["score"] == "1" and rows[0]["status"] == "passed"
    assert "was flagged: uses torch.optim" in rows[0]["message"]
    path.write_text("student,exercise\nann,3.1\n")
    with pytest.raises(ValueError, match="columns"):
        report.read_overrides(path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_lib.grade", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_the_grader_refuses_to_run_without_its_inputs(tmp_path):
    missing = run_cli(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and "not a folder" in missing.stderr
    (tmp_path / "subs").mkdir()
    no_course = run_cli(str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                        "--course", str(tmp_path))
    assert no_course.returncode == 2 and "no exercise notebooks" in no_course.stderr
    bad_shard = run_cli(str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--shard", "3/2")
    assert bad_shard.returncode == 2


def test_without_bubblewrap_a_small_class_is_graded_the_same(tmp_path):
    subs = {"ann": {forge.NESTEROV: (ROOT / "solutions" / forge.NESTEROV).read_bytes()},
            "bob": {forge.NESTEROV: (ROOT / "exercises" / forge.NESTEROV).read_bytes()},
            "cat": {forge.NESTEROV: b"not json"}}
    for student, files in subs.items():
        for name, data in files.items():
            (tmp_path / "subs" / student).mkdir(parents=True, exist_ok=True)
            (tmp_path / "subs" / student / name).write_bytes(data)
    run = run_cli(str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--no-bwrap",
                  "--timeout", "30", "--workers", "2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "NO bubblewrap" in run.stderr
    with open(tmp_path / "out" / "gradebook.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    statuses = {(r["student"], r["exercise"]): r["status"] for r in rows}
    written = set(forge.written_ids(forge.NESTEROV))
    assert written, "notebook 04 has a written answer (4.6)"
    # written answers are exported for a marker: `flagged` (0 of the rubric's marks) when answered
    assert {s for (who, e), s in statuses.items() if who == "ann" and e not in written} \
        == {"passed"}
    assert {s for (who, e), s in statuses.items() if who == "ann" and e in written} == {"flagged"}
    assert {s for (who, _), s in statuses.items() if who == "bob"} == {"failed"}
    assert statuses[("cat", "")] == "invalid"


# --------------------------------------------------------------------------------------------
# the sandbox's course copy, for every notebook of the course
# --------------------------------------------------------------------------------------------

_IMPORT_EVERY_COPY = r'''
import importlib, json, sys
report = {}
for copy, modules in json.loads(sys.argv[1]).items():
    sys.path.insert(0, copy)
    failed = []
    for statement in modules:
        try:
            exec(statement, {})
        except Exception as error:
            failed.append(f"{statement}: {type(error).__name__}: {error}")
    import course_lib.exercises.checks
    stand_in = course_lib.exercises.checks.__file__.startswith(copy) and \
        course_lib.exercises.checks.check("1.1", None) is None and "def check" in open(course_lib.exercises.checks.__file__).read() \
        and "REGISTRY" not in vars(course_lib.exercises.checks)
    report[copy] = {"failed": failed, "stand_in": stand_in}
    sys.path.remove(copy)
    for name in [m for m in sys.modules if m == "course_lib" or m.startswith("course_lib.")]:
        del sys.modules[name]
print(json.dumps(report))
'''


def _course_lib_imports(sources: list[str]) -> set[str]:
    """The import statements of ``sources`` that name course_lib, as they are written."""
    import ast

    statements = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "course_lib" or n.startswith("course_lib.") for n in names):
                statements.add(ast.unparse(node))
    return statements


def test_every_notebooks_course_copy_holds_what_it_imports_and_nothing_it_must_not(tmp_path):
    """The read-only course copy a notebook's child gets: every course_lib module its cells
    import (and outcome training halves its checkers run there) imports from the copy alone,
    with `python -I`; the checkers, the grader and the solutions are not in it."""
    from course_lib.exercises.checks import discover
    from course_lib.grade.judge import train_modules
    from course_lib.grade.sandbox import build_course_copy

    discover()
    plan = {}
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        course = load_course(path)
        sources = [c.source for c in course.cells if c.cell_type == "code" and not c.is_answer]
        sources += train_modules(course)
        imported = sorted(_course_lib_imports(sources))
        copy = tmp_path / path.stem / "course"
        build_course_copy(copy, sources)
        files = {p.relative_to(copy).as_posix() for p in copy.rglob("*.py")}
        assert "course_lib/exercises/checks/__init__.py" in files
        assert not [f for f in files if f.startswith(("course_lib/exercises/checks/", "course_lib/grade/"))
                    and f != "course_lib/exercises/checks/__init__.py"], files
        assert not any("solutions" in f or f.endswith(".ipynb") for f in files)
        plan[str(copy)] = imported
    assert any("import course_lib.experiments.optimizer_race" in modules for modules in plan.values()), \
        "10.1's training half (course_lib.experiments.optimizer_race) must be in notebook 10's copy"
    run = subprocess.run([sys.executable, "-I", "-c", _IMPORT_EVERY_COPY, json.dumps(plan)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for copy, outcome in json.loads(run.stdout).items():
        assert outcome["failed"] == [], (copy, outcome["failed"])
        assert outcome["stand_in"], copy
