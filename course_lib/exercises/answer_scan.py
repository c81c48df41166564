"""Read the learner's answer cells as code (AST) and list what needs a human's eyes.

An answer that reaches for the reference or the harness is flagged for review even when the
sandbox made the attempt harmless and the answer is otherwise right: the grade of an answer
that imported ``course_lib.optim`` to write "its own" SGD step is for an instructor to decide.
Only code counts: comments, docstrings and other string literals are not read (apart from
paths under ``/proc`` and names of interpreter internals, which are only ever *used* as
strings).

What is flagged, each with its line:

- importing (or reaching through an attribute, ``torch.optim.SGD``) a module the exercise
  forbids, matched by the module that defines what the name resolves to
  (``torch.nn.utils.clip_grad_norm_`` lives in ``torch.nn.utils.clip_grad``), not by spelling: by default the course's own implementations (``course_lib.optim``, ``.theory``,
  ``.checks``, the grader) and, for exercises that write an update or derive a formula,
  ``torch.optim``; a checker may declare its own list as ``forbidden_imports``;
- calling the function the checker's reference calls (``toy_regression.updates_to_reach``
  for 2.3, ``panels.nesterov.nesterov_rate`` for 4.4: read from the reference's source), by
  import, attribute or a name the notebook happens to have imported;
- reaching an attribute by a name built at run time (``getattr(torch, "op" + "tim")``) or
  through a namespace (``torch.__dict__[...]``); the grader's run-time guard refuses what the
  exercise forbids on every such route, this scan names the route for ``make check`` too;
- using a helper the notebook gives that answers this exercise itself, or passing it the
  argument that does (a checker's ``refused_calls``: e.g. 7.2's ``spike_step_ratio``, or a
  helper allowed but for one argument, ``{"module.helper": ("argument",)}``);
- replacing or deleting an attribute of a course module (``race.train_digits_net = ...``);
- interpreter internals: ``sys._getframe``, ``inspect``, frame attributes (``f_back``,
  ``f_locals``...), ``gc``, ``ctypes``, ``sys.modules``, ``sys.settrace``; assigning
  ``__class__``; defining ``__torch_function__`` / ``__torch_dispatch__``; ``builtins`` /
  ``__builtins__``; ``signal``; ``os._exit`` / ``os.kill``; ``subprocess``, ``os.system`` and
  friends; ``/proc``; code built at run time (``exec``, ``eval``, ``compile``, ``__import__``,
  ``importlib``);
- writing or deleting files (``open(..., "w")``, ``os.remove``, ``shutil.rmtree``,
  ``Path.write_text``, ``Path.unlink``, ``torch.save``...) at an absolute path, a path with
  ``..``, or a path the scanner cannot read as a constant.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any, Iterable

DEFAULT_FORBIDDEN = ("course_lib.optim", "course_lib.theory", "course_lib.exercises.checks",
                     "course_lib.grade", "course_lib.exercises.generate", "course_lib.exercises.notebook_runner")
TORCH_OPTIM = "torch.optim"

FRAME_ATTRIBUTES = {"_getframe", "f_back", "f_locals", "f_globals", "f_code", "tb_frame",
                    "gi_frame", "cr_frame", "ag_frame", "tb_next", "__globals__", "__closure__",
                    "__subclasses__", "__code__"}
INTERNAL_MODULES = {"inspect": "reads the interpreter's frames (inspect)",
                    "gc": "walks the interpreter's objects (gc)",
                    "ctypes": "reaches into memory (ctypes)",
                    "builtins": "touches builtins",
                    "signal": "touches signals (signal)",
                    "subprocess": "starts processes (subprocess)",
                    "importlib": "imports modules by name at run time (importlib)",
                    "pty": "starts processes (pty)",
                    "multiprocessing": "starts processes (multiprocessing)",
                    "faulthandler": "touches signals (faulthandler)",
                    "sys.monitoring": "hooks the interpreter (sys.monitoring)"}
OS_PROCESS_CALLS = {"system", "popen", "fork", "forkpty", "execv", "execve", "execl", "execlp",
                    "execvp", "execvpe", "spawnl", "spawnv", "spawnve", "posix_spawn",
                    "posix_spawnp", "kill", "killpg", "_exit", "abort", "setsid"}
SYS_INTERNALS = {"modules", "settrace", "setprofile", "meta_path", "path_hooks",
                 "_getframe", "exit_funcs", "addaudithook", "setrecursionlimit"}
DYNAMIC_CODE = {"exec", "eval", "compile", "__import__", "globals", "vars", "breakpoint"}
# Calls that write or delete files: os/shutil functions, Path methods, array/figure savers.
MODULE_WRITE_CALLS = {"remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace",
                      "truncate", "chmod", "chown", "lchown", "link", "symlink", "mkdir",
                      "makedirs", "rmtree", "move", "copy", "copy2", "copyfile", "copytree",
                      "mkfifo", "mknod", "utime"}
FILE_MODULES = {"os", "posix", "shutil"}
PATH_METHODS = {"write_text", "write_bytes", "unlink", "rmdir", "touch", "symlink_to",
                "hardlink_to"}
SAVERS = {"torch.save": 1, "numpy.save": 0, "numpy.savez": 0, "numpy.savetxt": 0,
          "np.save": 0, "np.savez": 0, "np.savetxt": 0}
WRITE_MODES = set("wax+")


@dataclass(frozen=True)
class Finding:
    cell_id: str
    line: int
    what: str

    def text(self) -> str:
        return f"{self.what} (cell {self.cell_id}, line {self.line})"


def forbidden_for(checker: Any) -> tuple[str, ...]:
    """Module prefixes the answer to ``checker``'s exercise may not import."""
    declared = getattr(checker, "forbidden_imports", None)
    if declared is not None:
        return tuple(declared)
    forbidden = list(DEFAULT_FORBIDDEN)
    if _writes_update_or_derives(checker):
        forbidden.append(TORCH_OPTIM)
    return tuple(forbidden)


def refused_for(checker: Any) -> dict[str, tuple[str, ...]]:
    """Helpers the notebook gives the learner that would answer this exercise themselves.

    A checker declares ``refused_calls = {"course_lib.theory.adam.spike_step_ratio": ()}`` (the
    helper may not be used at all in this exercise) or ``{"course_lib.optim.adam.adam_update":
    ("decoupled_weight_decay",)}`` (the helper is allowed, that argument is not: it is the
    exercise). The scan flags both, and the grader's run-time guard records them however the
    helper or the argument was reached.
    """
    return {str(name): tuple(args) for name, args in
            dict(getattr(checker, "refused_calls", None) or {}).items()}


def _writes_update_or_derives(checker: Any) -> bool:
    """An update written in place, or a formula: no exercise needs torch.optim for those.

    Exercises whose cases hand the learner a model (2.3 trains one) may use torch.optim.
    """
    if checker is None:
        return True
    try:
        cases = checker.make_cases()
    except Exception:  # noqa: BLE001 - a checker that cannot make cases is not our concern here
        return True
    import torch.nn as nn
    return not any(isinstance(value, nn.Module) for case in cases[:3]
                   for value in case.inputs.values())


def reference_names(checker: Any) -> set[tuple[str, str]]:
    """(module, name) of course functions the checker's reference calls: using them is copying.

    Read from the reference's source: ``from course_lib.x import f`` inside it, and
    ``module.f`` / ``f`` where the module or function comes from course_lib (not the checks).
    """
    reference = getattr(checker, "reference", None)
    if reference is None:
        return set()
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(reference)))
    except (OSError, TypeError, SyntaxError):
        return set()
    names: set[tuple[str, str]] = set()
    scope = getattr(reference, "__globals__", {})

    def course_module(value: Any) -> str | None:
        name = getattr(value, "__name__", "") if inspect.ismodule(value) else \
            getattr(value, "__module__", "") or ""
        return name if name.startswith("course_lib.") and not name.startswith(
            "course_lib.exercises.checks") else None

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib.") \
                and not (node.module or "").startswith("course_lib.exercises.checks"):
            names.update((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = scope.get(node.value.id)
            if inspect.ismodule(base) and course_module(base):
                names.add((base.__name__, node.attr))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            value = scope.get(node.id)
            module = course_module(value) if callable(value) and not inspect.ismodule(value) \
                else None
            if module:
                names.add((module, node.id))
    return names


class _Scanner(ast.NodeVisitor):
    def __init__(self, cell_id: str, forbidden: tuple[str, ...],
                 reference: set[tuple[str, str]], defined: set[str],
                 refused: dict[str, tuple[str, ...]] | None = None):
        self.cell_id = cell_id
        self.refused = {name.rpartition(".")[2]: (name, args)
                        for name, args in (refused or {}).items()}
        self.forbidden = forbidden
        self.reference = reference
        self.reference_names = {name for _, name in reference}
        self.defined = defined
        self.aliases: dict[str, str] = {}
        self.findings: list[Finding] = []

    def flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.cell_id, getattr(node, "lineno", 0), what))

    def _module_rules(self, node: ast.AST, module: str, *, internal: bool = True) -> bool:
        home = _home_module(module, self.defined)
        for prefix in self.forbidden:
            if _within(module, prefix):
                self.flag(node, f"uses {prefix}, which this exercise forbids")
                return True
            if home is not None and _within(home, prefix):
                self.flag(node, f"uses {module} (defined in {home}), which this exercise forbids")
                return True
        for name, why in INTERNAL_MODULES.items():
            if internal and (module == name or module.startswith(name + ".")):
                self.flag(node, why)
                return True
        return False

    # imports ---------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module_rules(node, alias.name)
            self.aliases[alias.asname or alias.name.split(".")[0]] = \
                alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        flagged = self._module_rules(node, module)
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if not flagged:
                self._module_rules(node, full)
            if (module, alias.name) in self.reference:
                self.flag(node, f"imports {alias.name} from {module}, the course's own answer")
            if module == "os" and alias.name in OS_PROCESS_CALLS:
                self.flag(node, f"imports os.{alias.name}")
            if module == "sys" and alias.name in SYS_INTERNALS:
                self.flag(node, f"imports sys.{alias.name}")
            self.aliases[alias.asname or alias.name] = full

    # names and attributes --------------------------------------------------------------------
    def _dotted(self, node: ast.AST) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(self.aliases.get(node.id, node.id))
        return ".".join(reversed(parts))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted is not None:
            self._module_rules(node, dotted, internal=False)
            head, _, attr = dotted.rpartition(".")
            if head in ("os", "posix") and attr in OS_PROCESS_CALLS:
                self.flag(node, f"calls {head}.{attr}")
            if head == "sys" and attr in SYS_INTERNALS:
                self.flag(node, f"touches sys.{attr}")
        if node.attr in FRAME_ATTRIBUTES:
            self.flag(node, f"reads interpreter internals (.{node.attr})")
        if node.attr in self.reference_names and isinstance(node.ctx, ast.Load):
            # any `something.updates_to_reach`: the module may go by a notebook's alias (tr)
            base = self._dotted(node.value) or "..."
            self.flag(node, f"calls the course's own {base}.{node.attr}")
        if dotted is not None and dotted.startswith("course_lib.") \
                and isinstance(node.ctx, (ast.Store, ast.Del)):
            # e.g. replacing the training half an outcome check runs in the sandbox
            self.flag(node, f"replaces {dotted}, part of the course's code")
        self._refused_name(node, node.attr)
        if node.attr == "__dict__" and isinstance(node.ctx, ast.Load) and dotted is not None:
            self.flag(node, f"reads a namespace by name at run time ({dotted})")
        if node.attr == "__class__" and isinstance(node.ctx, ast.Store):
            self.flag(node, "assigns __class__")
        if node.attr in ("__torch_function__", "__torch_dispatch__") \
                and isinstance(node.ctx, ast.Store):
            self.flag(node, f"sets {node.attr}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "__builtin__"):
            self.flag(node, "touches __builtins__")
        if node.id in DYNAMIC_CODE and isinstance(node.ctx, ast.Load):
            self.flag(node, f"runs code built at run time ({node.id})")
        if node.id in self.reference_names and isinstance(node.ctx, ast.Load) \
                and node.id not in self.defined:
            self.flag(node, f"calls the course's own {node.id}")
        self._refused_name(node, node.id)
        self.generic_visit(node)

    def _refused_name(self, node: ast.AST, name: str) -> None:
        """A helper this exercise refuses altogether, named anywhere (called or passed on)."""
        refused = self.refused.get(name)
        if refused is not None and not refused[1] and isinstance(node.ctx, ast.Load) \
                and not (isinstance(node, ast.Name) and name in self.defined):
            self.flag(node, f"uses {refused[0]}, which answers this exercise itself")

    def _refused_arguments(self, node: ast.Call, name: str | None) -> None:
        refused = self.refused.get(name or "")
        if refused is None or not refused[1] or \
                (isinstance(node.func, ast.Name) and name in self.defined):
            return
        passed = [kw.arg for kw in node.keywords if kw.arg in refused[1] and not (
            isinstance(kw.value, ast.Constant) and not kw.value.value)]
        if any(kw.arg is None for kw in node.keywords):
            passed.append("**keywords")
        if passed:
            self.flag(node, f"calls {name} with {', '.join(passed)}, which answers this "
                            "exercise itself")

    # definitions -----------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name in ("__torch_function__", "__torch_dispatch__"):
            self.flag(node, f"defines {node.name}")
        self._body_without_docstring(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._body_without_docstring(node)

    def _body_without_docstring(self, node: ast.AST) -> None:
        for field_name, value in ast.iter_fields(node):
            if field_name == "body":
                body = list(value)
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]
                for child in body:
                    self.visit(child)
            elif isinstance(value, list):
                for child in value:
                    if isinstance(child, ast.AST):
                        self.visit(child)
            elif isinstance(value, ast.AST):
                self.visit(value)

    # calls -----------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else None
        self._refused_arguments(node, name)
        if name == "setattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in ("__class__", "__torch_function__"):
            self.flag(node, f"sets {node.args[1].value} with setattr")
        if name in ("getattr", "setattr", "delattr") and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str) \
                and (node.args[1].value in FRAME_ATTRIBUTES | OS_PROCESS_CALLS | SYS_INTERNALS
                     or node.args[1].value.startswith("__")):
            self.flag(node, f"{name}(..., {node.args[1].value!r})")
        if name == "getattr" and isinstance(func, ast.Name) and len(node.args) >= 2 \
                and not isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[0], (ast.Name, ast.Attribute)):
            # getattr(torch, "op" + "tim"): a name the scan cannot read
            target = self._dotted(node.args[0]) or "..."
            self.flag(node, f"reaches an attribute of {target} by a name built at run time "
                            "(getattr)")
        dotted = self._dotted(func) if isinstance(func, ast.Attribute) else \
            self.aliases.get(func.id, func.id) if isinstance(func, ast.Name) else None
        head, _, attr = (dotted or "").rpartition(".")
        if dotted in ("open", "io.open", "os.open", "codecs.open", "builtins.open"):
            mode = _open_mode(node)
            if mode is None or set(mode) & WRITE_MODES:
                self._path_rule(node, _constant_str(node.args[0]) if node.args else None,
                                "opens a file for writing")
        elif head in FILE_MODULES and attr in MODULE_WRITE_CALLS:
            self._path_rule(node, _constant_str(node.args[0]) if node.args else None,
                            f"writes or deletes files ({dotted})")
        elif isinstance(func, ast.Attribute) and func.attr in PATH_METHODS:
            receiver = func.value
            path = _constant_str(receiver.args[0]) if isinstance(receiver, ast.Call) \
                and receiver.args else None
            self._path_rule(node, path, f"writes or deletes files (.{func.attr})")
        elif dotted in SAVERS:
            position = SAVERS[dotted]
            path = _constant_str(node.args[position]) if len(node.args) > position else None
            self._path_rule(node, path, f"writes files ({dotted})")
        self.generic_visit(node)

    def _path_rule(self, node: ast.Call, target: str | None, what: str) -> None:
        if target is None:
            self.flag(node, f"{what} at a path the grader cannot check")
        elif target.startswith(("/", "~")) or ".." in target.replace("\\", "/").split("/"):
            self.flag(node, f"{what} outside its folder ({target})")

    # strings that are only ever used as paths or names -----------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            if "/proc" in node.value:
                self.flag(node, "reads /proc")
            if node.value in FRAME_ATTRIBUTES or node.value in ("__builtins__", "__class__",
                                                                 "__torch_function__"):
                self.flag(node, f"names interpreter internals ({node.value!r})")


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


# Names a notebook's set-up cells conventionally bind to modules (``from torch import nn``): a
# dotted name that starts with one the learner did not bind is read as the module's.
CONVENTIONAL = {"nn": "torch.nn", "F": "torch.nn.functional", "optim": "torch.optim",
                "np": "numpy"}


def _home_module(dotted: str, defined: set[str] = frozenset()) -> str | None:
    """The module that defines what ``dotted`` names, found without importing anything.

    ``torch.nn.utils.clip_grad_norm_`` is defined in ``torch.nn.utils.clip_grad``: a forbidden
    prefix matches the object's own module, not just the spelling. Only modules already
    imported are walked, through their namespaces (no module ``__getattr__`` runs).
    """
    import sys

    parts = dotted.split(".")
    if parts[0] in CONVENTIONAL and parts[0] not in defined:
        parts = CONVENTIONAL[parts[0]].split(".") + parts[1:]
    for cut in range(len(parts), 0, -1):
        target = sys.modules.get(".".join(parts[:cut]))
        if target is None:
            continue
        for part in parts[cut:]:
            try:
                namespace = vars(target)
            except TypeError:
                return None
            if part not in namespace:
                return None
            target = namespace[part]
        if inspect.ismodule(target):
            return getattr(target, "__name__", None)
        home = vars(target).get("__module__") if isinstance(target, type) else \
            getattr(target, "__module__", None)
        return home if isinstance(home, str) else None
    return None


def _open_mode(node: ast.Call) -> str | None:
    mode = node.args[1] if len(node.args) >= 2 else next(
        (kw.value for kw in node.keywords if kw.arg == "mode"), None)
    if mode is None:
        return "r"
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return mode.value
    if isinstance(mode, ast.Constant) and isinstance(mode.value, int):
        return "w"  # os.open flags: assume the worst
    return None


def _constant_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def defined_names(sources: Iterable[str]) -> set[str]:
    """Names the learner's cells bind themselves (their own functions shadow course names)."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def scan(cells: list[tuple[str, str]], checker: Any, all_answer_sources: list[str]) -> list[Finding]:
    """Findings in the answer cells ``cells`` ([(cell id, source)]) of one exercise."""
    forbidden = forbidden_for(checker)
    refused = refused_for(checker)
    reference = reference_names(checker)
    defined = defined_names(all_answer_sources)
    findings: list[Finding] = []
    for cell_id, source in cells:
        try:
            tree = ast.parse(_without_magics(source))
        except SyntaxError:
            continue  # the run reports the syntax error itself
        scanner = _Scanner(cell_id, forbidden, reference, defined, refused)
        scanner._body_without_docstring(tree)
        findings.extend(scanner.findings)
    unique = sorted(set(findings), key=lambda f: (f.cell_id, f.line, f.what))
    return unique


def _without_magics(source: str) -> str:
    return "".join(f"{line[: len(line) - len(line.lstrip())]}pass\n"
                   if line.lstrip().startswith(("%", "!")) else line
                   for line in source.splitlines(True))
