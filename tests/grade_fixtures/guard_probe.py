"""Drive the sandbox's run-time guard (course_lib/grade/guard.py) in a fresh process.

Run as ``python guard_probe.py``: it loads ``guard.py`` the way the harness does (a plain module
next to it), runs each snippet as a learner's cell would run (compiled as ``<cell NAME>``)
under a policy, and prints one JSON object: {snippet name: {"raised": ..., "hits": [...]}}.
A fresh process, because the guard changes torch.optim's module class and the profile hook.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "course_lib" / "grade"))

import torch  # noqa: E402,F401 - imported before the guard, as in the harness

import guard  # noqa: E402

NOTEBOOK_05 = ("course_lib.optim", "course_lib.theory", "course_lib.exercises.checks",
               "course_lib.grade", "torch.optim")
NOTEBOOK_11 = NOTEBOOK_05 + ("torch.nn.utils.clip_grad",)
ONLY_COURSE = ("course_lib.optim", "course_lib.theory")
ADAM_81 = {"course_lib.optim.adam.adam_update": ["decoupled_weight_decay"]}
SPIKE_72 = {"course_lib.theory.adam.spike_step_ratio": []}

USE_ADAGRAD = "\np = torch.zeros(2, requires_grad=True)\nA([p], lr=0.1)\n"
CLIP_SETUP = "p = torch.ones(3, requires_grad=True)\np.grad = torch.ones(3)\n"

# (name, source, forbidden, refused, course cell?)
SNIPPETS = [
    ("setup", "import math\nimport torch\nfrom course_lib.optim import adam_init, adam_update\n"
              "from course_lib.theory.adam import spike_step_ratio\n"
              # the harness imports 10.1's training half before any cell (the bind command)
              "import course_lib.experiments.optimizer_race\n", (), {}, True),
    ("getattr", 'A = getattr(torch, "op" + "tim").Adagrad' + USE_ADAGRAD, NOTEBOOK_05, {}, False),
    ("importlib", 'import importlib\nA = importlib.import_module("torch." + "optim").Adagrad'
                  + USE_ADAGRAD, NOTEBOOK_05, {}, False),
    ("dunder_import", 'A = __import__("torch.optim", fromlist=["Adagrad"]).Adagrad' + USE_ADAGRAD,
     NOTEBOOK_05, {}, False),
    ("from_import", "from torch.optim import Adagrad as A" + USE_ADAGRAD, NOTEBOOK_05, {}, False),
    ("sys_modules", 'import sys\nA = sys.modules["torch.optim"].Adagrad' + USE_ADAGRAD,
     NOTEBOOK_05, {}, False),
    ("vars", 'A = vars(vars(torch)["optim"])["Adagrad"]' + USE_ADAGRAD, NOTEBOOK_05, {}, False),
    ("dunder_dict", 'A = torch.__dict__["optim"].__dict__["Adagrad"]' + USE_ADAGRAD,
     NOTEBOOK_05, {}, False),
    ("object_getattribute", 'import sys\nA = object.__getattribute__(sys.modules["torch.optim"], '
                            '"Adagrad")' + USE_ADAGRAD, NOTEBOOK_05, {}, False),
    ("course_optim", 'import importlib\nm = importlib.import_module("course_lib." + "optim")\n'
                     "m.SGD", NOTEBOOK_05, {}, False),
    ("clip_grad_norm_", CLIP_SETUP + "torch.nn.utils.clip_grad_norm_([p], 1.0)\n",
     NOTEBOOK_11, {}, False),
    ("total_norm", CLIP_SETUP + "n = torch.nn.utils.get_total_norm([p.grad])\n"
                   "torch.nn.utils.clip_grads_with_norm_([p], 1.0, n)\n", NOTEBOOK_11, {}, False),
    ("switch_off", 'import sys\ngetattr(sys, "setpro" + "file")(None)\n', NOTEBOOK_05, {}, False),
    ("refused_argument", "w = torch.ones(3)\ns = adam_init(w)\n"
                         "adam_update(w, torch.ones(3), s, lr=0.1, weight_decay=0.1, "
                         '**{"decoupled_" + "weight_decay": True})\n', NOTEBOOK_05, ADAM_81, False),
    ("refused_helper", "f = spike_step_ratio\nf(0.9, 0.999, 3)\n", NOTEBOOK_05, SPIKE_72, False),
    ("replace_course", "import course_lib.experiments.optimizer_race as race\n"
                       'setattr(race, "train_" + "digits_net", print)\n', ONLY_COURSE, {}, False),
    ("namespace_course", "import course_lib.experiments.optimizer_race as race\n"
                         'vars(race)["make_" + "net"] = print\n', ONLY_COURSE, {}, False),
    ("delete_course", "import course_lib.experiments.optimizer_race as race\n"
                      'delattr(race, "make_" + "net")\n', ONLY_COURSE, {}, False),
    # honest answers and allowed uses
    ("honest", "def step(p, g, lr):\n    p.sub_(lr * g)\nstep(torch.ones(2), torch.ones(2), 0.1)\n"
               "total = torch.linalg.vector_norm(torch.ones(3))\n", NOTEBOOK_11, {}, False),
    ("given_helper", "w = torch.ones(3)\ns = adam_init(w)\n"
                     "adam_update(w, torch.ones(3), s, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)\n",
     NOTEBOOK_05, ADAM_81, False),
    ("reads_course", "import course_lib.experiments.optimizer_race as race\n"
                     "net = race.make_net(seed=0)\n", ONLY_COURSE, {}, False),
    ("allowed_optim", "o = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.1)\n"
                      "o.zero_grad()\ns = torch.optim.lr_scheduler.StepLR(o, 1)\n",
     ONLY_COURSE, {}, False),
    ("course_cell_unguarded", "o = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)\n",
     (), {}, True),
]


def main() -> None:
    namespace: dict = {"__name__": "__main__"}
    results = {}
    for name, source, forbidden, refused, course in SNIPPETS:
        guard.set_policy(forbidden, refused)
        before = {key: id(value) for key, value in namespace.items()}
        raised = None
        try:
            exec(compile(source, f"<cell {name}>", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001
            raised = f"{type(error).__name__}: {error}"
        if course:
            guard.note_given(value for key, value in namespace.items()
                             if before.get(key) != id(value))
        results[name] = {"raised": raised, "hits": guard.take()}
    # The answer *is* a forbidden function, bound without a read the guard watches; the harness
    # (this file stands in for it) calls it for the hidden tests.
    guard.LEARNER_FILES.add(str(Path(__file__).resolve()))
    exec(compile('import sys\nhanded_in = object.__getattribute__(sys.modules["torch.optim"], '
                 '"Adagrad")\n', "<cell handed_in>", "exec"), namespace)  # noqa: S102
    guard.set_policy(NOTEBOOK_05)
    namespace["handed_in"]([torch.zeros(2, requires_grad=True)], lr=0.1)
    results["handed_in"] = {"raised": None, "hits": guard.take()}
    guard.set_policy(())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
