"""Forged, broken and hostile submissions, made from the course's own notebooks.

Each submission starts from ``solutions/<name>.ipynb`` (everything right) or
``exercises/<name>.ipynb`` (nothing done) and changes what a learner could change: the source
of one answer cell, the outputs, the check cells, the file itself. Because they are generated
from the current notebooks, they follow the course as it changes. ``SUBMISSIONS`` maps a
student id to ``{notebook name: file bytes}``; ``EXPECTED`` maps (student, notebook, exercise)
to the statuses the gradebook may show for it (``"*"`` as exercise: every exercise of that
notebook not listed separately).

The static files in this folder (``garbage.*``) are kept as files: they are not notebooks.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MOMENTUM = "03_momentum.ipynb"
GD = "01_gradient_descent.ipynb"
NESTEROV = "04_nesterov.ipynb"

PASSED, FAILED, ERROR, TIMEOUT, FLAGGED, INVALID = (
    "passed", "failed", "error", "timeout", "flagged", "invalid")
ZERO = {FAILED, ERROR, TIMEOUT, FLAGGED}   # any status that scores 0


def load(kind: str, name: str) -> dict:
    return json.loads((ROOT / kind / name).read_text(encoding="utf-8"))


def dump(notebook: dict | list) -> bytes:
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def answer_cell(notebook: dict, exercise_id: str) -> dict:
    """The code answer cell of an exercise: the one right before its check cell."""
    cells = notebook["cells"]
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if "check" in cell["metadata"].get("tags", []) and f'"{exercise_id}"' in source:
            for earlier in reversed(cells[:index]):
                if "answer" in earlier["metadata"].get("tags", []):
                    return earlier
    raise KeyError(exercise_id)


def with_answer(name: str, exercise_id: str, source: str, *, base: str = "solutions") -> bytes:
    """The ``base`` notebook with the answer cell of ``exercise_id`` replaced by ``source``."""
    notebook = load(base, name)
    answer_cell(notebook, exercise_id)["source"] = source.splitlines(keepends=True)
    return dump(notebook)


def with_written(name: str, exercise_id: str, text: str, *, base: str = "solutions") -> bytes:
    """The ``base`` notebook with the written answer (markdown) of ``exercise_id`` set to ``text``."""
    notebook = load(base, name)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and \
                str(cell["metadata"].get("exercise_id")) == exercise_id:
            cell["source"] = text.splitlines(keepends=True)
            return dump(notebook)
    raise KeyError(exercise_id)


# A written answer that quotes code the scan would flag in a code cell: it is markdown, read by
# the instructor, never run and never scanned.
WRITTEN_WITH_CODE_36 = """Momentum keeps a running sum; as code it would be

```python
import os, sys
frame = sys._getframe(1)
os._exit(0)
```
"""


def fake_pass_outputs(notebook: dict) -> dict:
    """Every check cell shows a stored "passed" line, as if it had been run and passed."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook["cells"]:
        if "check" in cell["metadata"].get("tags", []):
            exercise = "".join(cell["source"]).split('"')[1]
            cell["outputs"] = [{"name": "stdout", "output_type": "stream",
                                "text": [f"✅ Exercise {exercise} passed (15 cases)\n"]}]
            cell["execution_count"] = 7
    return notebook


# --------------------------------------------------------------------------------------------
# Answers for exercise 3.1 (momentum_step), 3.2 (bias_corrected_ema_lrs), 3.4 (dampened_gap)
# --------------------------------------------------------------------------------------------

STUB_31 = '''def momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    raise NotImplementedError("Exercise 3.1: replace this line with your code")
'''

ALIASING_31 = '''def momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    if momentum == 0:
        param.sub_(lr * grad)
        return
    buf = state.get("momentum_buffer")
    if buf is None:
        buf = state["momentum_buffer"] = grad  # no clone: the buffer IS the caller's gradient
    else:
        buf.mul_(momentum).add_(grad, alpha=1 - dampening)
    param.sub_(lr * buf)
'''

GRAD_MUL_34 = '''def dampened_gap(grads, *, lr, beta):
    # right value, but it overwrites the caller's first gradient
    return grads[0].mul_(-lr * beta * (1 - beta ** len(grads)) / (1 - beta))
'''

MUTATED_HESSIAN_12 = '''def largest_stable_lr(x, y):
    # the Hessian (2/n)·XᵀX built by scaling the caller's x in place: right value, changed input
    x.mul_((2 / len(x)) ** 0.5)
    return 2 / torch.linalg.eigvalsh(x.T @ x).max().item()
'''

FORGERIES_31 = {
    # redefine check() so the check cell prints a pass line; the function is still the stub
    "forge_redefine_check": 'def check(*args, **kwargs):\n'
                            '    print("✅ Exercise 3.1 passed (15 cases)")\n\n' + STUB_31,
    # run the real checker's reference as the answer
    "forge_reference_import": "from course_lib.exercises.checks.momentum import reference_momentum_step "
                              "as momentum_step\n",
    # patch the framework's comparison so everything matches
    "forge_patch_compare": "import course_lib.exercises.checks._framework as framework\n"
                           "framework.compare = lambda *args, **kwargs: None\n\n" + STUB_31,
    # patch run_checker
    "forge_patch_run_checker": "import course_lib.exercises.checks as checks\n"
                               "checks.run_checker = lambda *a, **k: None\n\n" + STUB_31,
    # patch print so a failing check prints a pass
    "forge_patch_print": "import builtins\n_print = builtins.print\n"
                         "builtins.print = lambda *a, **k: _print('✅ Exercise 3.1 passed')\n\n"
                         + STUB_31,
    # make every comparison succeed
    "forge_patch_isclose": "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)"
                           "\ntorch.equal = lambda *a, **k: True\n\n" + STUB_31,
    # overwrite the registered reference with the learner's (wrong) function
    "forge_patch_registry": "from course_lib.exercises.checks import REGISTRY\n\n"
                            "def momentum_step(param, grad, state, *, lr, momentum, "
                            "dampening=0.0):\n    pass\n\n"
                            "REGISTRY['3.1'].reference = momentum_step\n",
    # a lookup table from the reproducible cases
    "forge_lookup_table": "from course_lib.exercises.checks import REGISTRY\n"
                          "_TABLE = {}\n"
                          "for case in REGISTRY['3.1'].make_cases():\n"
                          "    _TABLE[repr(case.inputs['lr'])] = case\n\n" + STUB_31,
    # read the expected value off the checker's stack frame
    "forge_stack_frame": '''import sys

def momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    frame = sys._getframe(1)
    while frame is not None and "expected" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None:
        param.copy_(frame.f_locals["expected"].values["param"])
''',
    # a tensor subclass whose comparisons lie
    "forge_torch_function": '''class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        result = super().__torch_function__(func, types, args, kwargs or {})
        if getattr(func, "__name__", "") in ("isclose", "eq", "__eq__", "equal", "allclose"):
            return torch.ones((), dtype=torch.bool)
        return result

def momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    state["momentum_buffer"] = torch.zeros_like(param).as_subclass(Liar)
''',
    # rewrite the checks package on disk (the editable install), then do nothing
    "forge_rewrite_checks_file": '''import course_lib, os
path = os.path.join(os.path.dirname(course_lib.__file__), "exercises", "checks", "__init__.py")
try:
    with open(path, "w") as handle:
        handle.write("def check(*a, **k):\\n    print('passed')\\n")
except OSError:
    pass
''' + STUB_31,
}

# A float subclass whose == always says yes, returned by 3.2
LYING_FLOAT_32 = '''class Yes(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__

def bias_corrected_ema_lrs(lr, beta, steps):
    return [Yes(0.0)] * steps
'''

# --------------------------------------------------------------------------------------------
# Hostile answers for exercise 3.2 (the other exercises of the notebook are the solution's)
# --------------------------------------------------------------------------------------------

HOSTILE_32 = {
    "hostile_infinite_loop": "def bias_corrected_ema_lrs(lr, beta, steps):\n    while True:\n        pass\n",
    "hostile_alarm_off": '''import signal

def bias_corrected_ema_lrs(lr, beta, steps):
    while True:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
''',
    "hostile_catch_base": '''def bias_corrected_ema_lrs(lr, beta, steps):
    while True:
        try:
            sum(range(10_000))
        except BaseException:
            pass
''',
    "hostile_os_exit": "import os\n\ndef bias_corrected_ema_lrs(lr, beta, steps):\n    os._exit(3)\n",
    "hostile_sys_exit": "import sys\n\ndef bias_corrected_ema_lrs(lr, beta, steps):\n    sys.exit(0)\n",
    "hostile_keyboard_interrupt": "def bias_corrected_ema_lrs(lr, beta, steps):\n    raise KeyboardInterrupt\n",
    "hostile_memory": "def bias_corrected_ema_lrs(lr, beta, steps):\n    block = torch.ones(2**31)  # 8 GB\n"
                      "    return [float(block.sum())] * steps\n",
    "hostile_huge_output": "def bias_corrected_ema_lrs(lr, beta, steps):\n    for _ in range(200):\n"
                           "        print('x' * 1_000_000)\n    return [lr] * steps\n",
    # many files, each under the file-size limit, in its own folder: the scratch space fills
    "hostile_fill_disk": "def bias_corrected_ema_lrs(lr, beta, steps):\n    for n in range(1000):\n"
                         "        with open(f'block{n}.bin', 'wb') as handle:\n"
                         "            handle.write(bytes(32 * 2**20))\n    return [lr] * steps\n",
    # a loop at the top level of the answer cell: the cell itself never finishes
    "hostile_toplevel_loop": "while True:\n    pass\n",
    # os._exit at the top level of the cell: the process dies while the cell runs
    "hostile_toplevel_exit": "import os\nos._exit(0)\n",
}


def deletion_answer(targets: list[Path]) -> str:
    """An answer that deletes course files (by absolute path) and then answers 3.2 right."""
    lines = ["import os, shutil", "", "def bias_corrected_ema_lrs(lr, beta, steps):"]
    for target in targets:
        call = "shutil.rmtree" if target.is_dir() else "os.remove"
        lines += ["    try:", f"        {call}({str(target)!r})", "    except OSError:",
                  "        pass"]
    lines += ["    return [lr * (1 - beta) / (1 - beta ** t) for t in range(1, steps + 1)]", ""]
    return "\n".join(lines)


def submissions() -> dict[str, dict[str, bytes]]:
    subs: dict[str, dict[str, bytes]] = {}
    names = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    subs["good_all"] = {name: (ROOT / "solutions" / name).read_bytes() for name in names}
    subs["blank_all"] = {name: (ROOT / "exercises" / name).read_bytes() for name in names}
    for student, source in FORGERIES_31.items():
        subs[student] = {MOMENTUM: with_answer(MOMENTUM, "3.1", source)}
    subs["forge_lying_float"] = {MOMENTUM: with_answer(MOMENTUM, "3.2", LYING_FLOAT_32)}
    exercise = load("exercises", MOMENTUM)
    subs["forge_stored_outputs"] = {MOMENTUM: dump(fake_pass_outputs(exercise))}
    cleared = fake_pass_outputs(exercise)
    for cell in cleared["cells"]:
        cell["outputs"], cell["execution_count"] = [], None
    subs["forge_cleared_outputs"] = {MOMENTUM: dump(cleared)}
    no_checks = copy.deepcopy(exercise)
    no_checks["cells"] = [c for c in no_checks["cells"]
                          if "check" not in c["metadata"].get("tags", [])]
    subs["forge_deleted_checks"] = {MOMENTUM: dump(no_checks)}
    retagged = fake_pass_outputs(exercise)
    for cell in retagged["cells"]:
        if "check" in cell["metadata"].get("tags", []):
            cell["metadata"]["tags"] = ["nbval-skip"]
    subs["forge_retagged_checks"] = {MOMENTUM: dump(retagged)}
    # almost right
    subs["almost_aliasing"] = {MOMENTUM: with_answer(MOMENTUM, "3.1", ALIASING_31)}
    subs["almost_grad_mul"] = {MOMENTUM: with_answer(MOMENTUM, "3.4", GRAD_MUL_34)}
    subs["almost_mutated_hessian"] = {GD: with_answer(GD, "1.2", MUTATED_HESSIAN_12)}
    subs["written_quotes_code"] = {MOMENTUM: with_written(MOMENTUM, "3.6", WRITTEN_WITH_CODE_36)}
    # hostile
    for student, source in HOSTILE_32.items():
        subs[student] = {MOMENTUM: with_answer(MOMENTUM, "3.2", source)}
    subs["hostile_delete_files"] = {MOMENTUM: with_answer(MOMENTUM, "3.2", deletion_answer(
        [ROOT / "exercises" / MOMENTUM, ROOT / "solutions", ROOT / "course_lib" / "exercises" / "checks"]))}
    # structure changes that must not matter
    solution = load("solutions", NESTEROV)
    reordered = copy.deepcopy(solution)
    reordered["cells"] = list(reversed(reordered["cells"]))
    subs["cells_reordered"] = {NESTEROV: dump(reordered)}
    no_ids = copy.deepcopy(solution)
    for cell in no_ids["cells"]:
        cell.pop("id", None)
    no_ids["nbformat_minor"] = 4
    subs["cells_without_ids"] = {NESTEROV: dump(no_ids)}
    deleted = copy.deepcopy(solution)
    first_answer = answer_cell(deleted, "4.1")
    deleted["cells"] = [c for c in deleted["cells"] if c is not first_answer]
    subs["cell_deleted"] = {NESTEROV: dump(deleted)}
    # garbage
    subs["garbage"] = {
        "01_gradient_descent.ipynb": b"",
        "02_batch_minibatch_sgd.ipynb": b'{"cells": [ {"cell_type": "code", "source": ',
        "03_momentum.ipynb": (HERE / "garbage.png").read_bytes(),
        "04_nesterov.ipynb": dump(["not", "a", "notebook"]),
        "99_unknown.ipynb": (ROOT / "solutions" / NESTEROV).read_bytes(),
        "notes.txt": b"my notes\n",
    }
    subs["garbage_no_cells"] = {NESTEROV: dump({"nbformat": 4, "metadata": {}})}
    return subs


def expected() -> dict[tuple[str, str, str], set[str]]:
    """(student, notebook, exercise or "*") -> allowed statuses."""
    names = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    rules: dict[tuple[str, str, str], set[str]] = {}
    for name in names:
        rules[("good_all", name, "*")] = {PASSED}
        rules[("blank_all", name, "*")] = {FAILED}
    for student in FORGERIES_31:
        rules[(student, MOMENTUM, "3.1")] = ZERO
        rules[(student, MOMENTUM, "*")] = {PASSED}
    for student in ("forge_reference_import", "forge_patch_compare", "forge_patch_run_checker",
                    "forge_patch_print", "forge_patch_registry", "forge_lookup_table",
                    "forge_stack_frame", "forge_torch_function", "forge_rewrite_checks_file"):
        rules[(student, MOMENTUM, "3.1")] = {FLAGGED}
    rules[("forge_lying_float", MOMENTUM, "3.2")] = {FAILED}
    rules[("forge_lying_float", MOMENTUM, "*")] = {PASSED}
    for student in ("forge_stored_outputs", "forge_cleared_outputs", "forge_deleted_checks",
                    "forge_retagged_checks"):
        rules[(student, MOMENTUM, "*")] = {FAILED}
    rules[("almost_aliasing", MOMENTUM, "3.1")] = {FAILED}
    rules[("almost_aliasing", MOMENTUM, "*")] = {PASSED}
    rules[("almost_grad_mul", MOMENTUM, "3.4")] = {FAILED}
    rules[("almost_grad_mul", MOMENTUM, "*")] = {PASSED}
    rules[("written_quotes_code", MOMENTUM, "3.6")] = {FLAGGED}
    rules[("written_quotes_code", MOMENTUM, "*")] = {PASSED}
    rules[("almost_mutated_hessian", GD, "1.2")] = {FAILED}
    rules[("almost_mutated_hessian", GD, "*")] = {PASSED}
    hostile = {
        "hostile_infinite_loop": {TIMEOUT},
        "hostile_alarm_off": {FLAGGED},
        "hostile_catch_base": {TIMEOUT},
        "hostile_os_exit": {FLAGGED},
        "hostile_sys_exit": {ERROR},
        "hostile_keyboard_interrupt": {ERROR},
        "hostile_memory": {ERROR},
        "hostile_huge_output": {ERROR, PASSED},
        "hostile_fill_disk": {ERROR, FLAGGED},  # f-string path: the scan cannot check it
        "hostile_toplevel_loop": {TIMEOUT},
        "hostile_toplevel_exit": {FLAGGED},
        "hostile_delete_files": {FLAGGED},
    }
    for student, statuses in hostile.items():
        rules[(student, MOMENTUM, "3.2")] = statuses
        rules[(student, MOMENTUM, "*")] = {PASSED}
    for student in ("cells_reordered", "cells_without_ids"):
        rules[(student, NESTEROV, "*")] = {PASSED}
    rules[("cell_deleted", NESTEROV, "4.1")] = {FAILED}
    rules[("cell_deleted", NESTEROV, "*")] = {PASSED}
    for name in ("01_gradient_descent.ipynb", "02_batch_minibatch_sgd.ipynb",
                 "03_momentum.ipynb", "04_nesterov.ipynb", "99_unknown.ipynb", "notes.txt"):
        rules[("garbage", name, "")] = {INVALID}
    rules[("garbage_no_cells", NESTEROV, "")] = {INVALID}
    # Written answers (markdown answer cells) are exported for the instructor and never scored:
    # docs/grading.md gives them the status `flagged` with max score 0 when there is an answer,
    # `failed` (max score 0) when the course's placeholder is still there.
    for (student, name, exercise), statuses in list(rules.items()):
        if exercise != "*":
            continue
        for written in written_ids(name):
            rules.setdefault((student, name, written),
                             {FLAGGED} if statuses == {PASSED} else {FAILED})
    return rules


def written_ids(name: str) -> list[str]:
    """Exercise ids of the written answers of exercises/<name> (from its cells' metadata)."""
    return [str(cell["metadata"]["exercise_id"]) for cell in load("exercises", name)["cells"]
            if cell["cell_type"] == "markdown" and "answer" in cell["metadata"].get("tags", [])
            and "exercise_id" in cell["metadata"]]
