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

from course_lib.grade import cli, report, scan, wire
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
    sources.append("from course_lib.checks.momentum import reference_momentum_step\n"
                   "import course_lib.grade.judge")
    modules = needed_modules(sources)
    assert not any(m.startswith(("course_lib.checks", "course_lib.grade")) for m in modules)


# --------------------------------------------------------------------------------------------
# scan
# --------------------------------------------------------------------------------------------


def findings(source: str, exercise_id: str = "3.1") -> list[str]:
    from course_lib.checks import REGISTRY, discover

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
])
def test_scan_flags_reaching_into_the_harness(source, expected):
    assert any(expected in what for what in findings(source)), findings(source)


def test_scan_reads_code_not_comments_or_docstrings():
    source = ('def momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):\n'
              '    """Unlike torch.optim.SGD we never import inspect or signal here."""\n'
              '    # import torch.optim would be cheating; os._exit too\n'
              '    param.sub_(lr * grad)\n')
    assert findings(source) == []


def test_scan_flags_calling_the_reference_the_checker_uses():
    assert any("heavy_ball_optimum" in f for f in findings(
        "from course_lib.panels.momentum import heavy_ball_optimum\n"
        "def optimal_heavy_ball(mu, L):\n    return heavy_ball_optimum(mu, L)\n", "3.3"))
    assert any("updates_to_reach" in f for f in findings(
        "def updates_to_reach(model, x, y, **kw):\n"
        "    return tr.updates_to_reach(model, x, y, **kw)\n", "2.3"))


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
    assert {s for (who, _), s in statuses.items() if who == "ann"} == {"passed"}
    assert {s for (who, _), s in statuses.items() if who == "bob"} == {"failed"}
    assert statuses[("cat", "")] == "invalid"
