"""The run-time guard inside the sandbox: what an exercise forbids is out of the learner's reach.

The answer scan (:mod:`course_lib.exercises.answer_scan`) reads the learner's code; a name built
at run time (``getattr(torch, "op" + "tim")``, ``importlib.import_module(name)``,
``sys.modules[name]``, ``vars(torch)[name]``, ``torch.__dict__[name]``) slips past any reading.
This guard works on what the code *does*, whatever route it took:

- **reads**: every module the step forbids (``torch.optim`` and its submodules,
  ``course_lib.optim``...) becomes a :class:`GuardedModule`; an attribute read on it (``.Adam``,
  ``.__dict__``, what ``vars()`` and ``from ... import`` do) made by the learner's code raises
  :class:`ForbiddenAccess` and is recorded;
- **calls**: a profile hook (``sys.setprofile``, and ``threading.setprofile`` for new threads)
  records every call made *by the learner's code* into a function that a forbidden module
  defines, or that a forbidden entry names (``torch.nn.utils.clip_grad_norm_``), however the
  learner got hold of it (``object.__getattribute__``, a reference kept from an earlier cell).

"The learner's code" is a frame whose code was compiled from a cell (filename ``<cell ...>``,
or any other ``<...>`` source except the interpreter's frozen modules), and the harness's frame
that calls the learner's function (the function handed in may itself be forbidden code). torch's own modules
import and call ``torch.optim`` all the time; those frames are library frames and are left
alone, so are the course's modules (a helper the notebook hands the learner may use what it
likes: whether *it* does the exercise is the checker's business). Functions and classes that
the course's own cells bind in the notebook (``from course_lib.optim import adam_update`` in
notebook 08's set-up) are given to the learner and may be called.

The policy (the forbidden entries) is set per step by the grader: while an answer cell of
exercise E runs, and while E's hidden tests call the learner's function, E's list holds; course
cells run unguarded. Hits go back to the grader with each reply, and the exercise is
``flagged``. Switching the hook off (``sys.setprofile(None)``) or giving a guarded module its
class back is noticed at the end of the step and flagged too.

This file imports only the standard library (it runs next to ``harness.py``).
"""

from __future__ import annotations

import sys
import threading
import types

MAX_HITS = 50


class ForbiddenAccess(PermissionError):
    """Raised where the learner's code reads what its exercise forbids."""


# Files whose frames count as the learner's: the harness, whose `call` runs the learner's
# function, so an answer that *is* a forbidden function (bound by a route that reads nothing
# the guard watches) is caught when the hidden tests call it.
LEARNER_FILES: set[str] = set()


def is_learner(filename: str) -> bool:
    return (filename.startswith("<") and not filename.startswith("<frozen")) \
        or filename in LEARNER_FILES


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


class GuardedModule(types.ModuleType):
    """A module the current step may forbid (reads by the learner's code are refused), or a
    course module (the learner's code may not replace what is in it, nor reach its namespace
    to do so: ``setattr(race, "train_" + "digits_net", fake)``, ``vars(race)[...] = ...``)."""

    def __getattribute__(self, name):
        guard = _GUARD
        if guard.active:
            caller = sys._getframe(1).f_code.co_filename
            if is_learner(caller):
                module = types.ModuleType.__getattribute__(self, "__name__")
                entry = guard.module_entry(module)
                if entry is not None:
                    what = module if name.startswith("__") else f"{module}.{name}"
                    guard.hit(f"reaches {what} at run time, which this exercise forbids "
                              f"({entry})", caller, sys._getframe(1).f_lineno)
                    raise ForbiddenAccess(f"{module} is not available in this exercise")
                if name == "__dict__" and _is_course(module):
                    # read-only for the learner's code: vars(race)["make_net"] = fake fails
                    return types.MappingProxyType(types.ModuleType.__getattribute__(self, name))
        return types.ModuleType.__getattribute__(self, name)

    def __setattr__(self, name, value):
        _GUARD.refuse_change(self, name, sys._getframe(1))
        types.ModuleType.__setattr__(self, name, value)

    def __delattr__(self, name):
        _GUARD.refuse_change(self, name, sys._getframe(1))
        types.ModuleType.__delattr__(self, name)


def _is_course(module: str) -> bool:
    return module == "course_lib" or module.startswith("course_lib.")


class Guard:
    def __init__(self) -> None:
        self.prefixes: tuple[str, ...] = ()       # forbidden modules of the current step
        self.codes: dict[object, str] = {}        # code objects named by a forbidden entry
        self.given: set[object] = set()           # code of what the course's cells bound
        self.hits: list[str] = []
        self._seen: set[str] = set()
        self._file_module: dict[str, str | None] = {}
        self._verdicts: dict[object, str | None] = {}
        self._guarded: list[types.ModuleType] = []
        self._policy: tuple = ((), ())
        self._modules_seen = 0
        self.refused: dict[object, tuple[str, tuple[str, ...]]] = {}
        self._profile = self._make_profile()

    # policy ----------------------------------------------------------------------------------
    def set_policy(self, forbidden, refused=None) -> None:
        """Forbid ``forbidden`` (module prefixes or dotted names of functions/classes), and the
        ``refused`` helpers ({dotted name: argument names}; none: the helper itself)."""
        forbidden = tuple(str(entry) for entry in (forbidden or ()))
        refused = tuple(sorted((str(name), tuple(str(a) for a in args))
                               for name, args in dict(refused or {}).items()))
        policy = (forbidden, refused)
        if policy == self._policy and (not self.active or sys.getprofile() is self._profile):
            if self.active and len(sys.modules) != self._modules_seen:
                self._guard_modules()  # modules imported since
            return
        self._policy = policy
        self.refused = {}
        for name, args in refused:
            target = _resolve(name)
            if target is not None and not isinstance(target, types.ModuleType):
                for code in _codes_of(target)[:1]:  # the function the learner calls
                    self.refused[code] = (name, args)
        prefixes, codes = [], {}
        for entry in forbidden:
            target = _resolve(entry)
            if target is None or isinstance(target, types.ModuleType):
                prefixes.append(entry)
            else:
                for code in _codes_of(target):
                    codes[code] = entry
        self.prefixes, self.codes = tuple(prefixes), codes
        self._verdicts = {}
        if not self.active:
            sys.setprofile(None)
            threading.setprofile(None)
            return
        self._guard_modules()
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)

    @property
    def active(self) -> bool:
        return bool(self.prefixes or self.codes or self.refused)

    def refuse_change(self, module, name: str, frame) -> None:
        if not self.active or not is_learner(frame.f_code.co_filename):
            return
        module_name = types.ModuleType.__getattribute__(module, "__name__")
        if _is_course(module_name) or self.module_entry(module_name) is not None:
            self.hit(f"replaces {module_name}.{name} at run time, part of the course's code",
                     frame.f_code.co_filename, frame.f_lineno)
            raise ForbiddenAccess(f"{module_name}.{name} cannot be replaced")

    def _guard_modules(self) -> None:
        self._modules_seen = len(sys.modules)
        for name, module in list(sys.modules.items()):
            if isinstance(module, types.ModuleType) and type(module) is types.ModuleType \
                    and (_is_course(name) or any(_matches(name, p) for p in self.prefixes)):
                try:
                    module.__class__ = GuardedModule
                    self._guarded.append(module)
                except TypeError:
                    pass

    def note_given(self, values) -> None:
        """A course cell just bound these values: the learner may call them."""
        for value in list(values):
            if isinstance(value, types.ModuleType):
                continue
            if isinstance(value, type):
                for klass in value.__mro__:
                    for member in list(vars(klass).values()):
                        for inner in (member, getattr(member, "__func__", None),
                                      getattr(member, "fget", None),
                                      getattr(member, "fset", None)):
                            self.given.update(_codes_of(inner))
            else:
                self.given.update(_codes_of(value))

    # what the learner's code did ------------------------------------------------------------
    def module_entry(self, module: str) -> str | None:
        for prefix in self.prefixes:
            if _matches(module, prefix):
                return prefix
        return None

    def hit(self, what: str, filename: str, line: int) -> None:
        text = f"{what} (your function itself, called by the hidden tests)" \
            if filename in LEARNER_FILES else f"{what} ({filename.strip('<>')}, line {line})"
        if text not in self._seen and len(self.hits) < MAX_HITS:
            self._seen.add(text)
            self.hits.append(text)

    def _verdict(self, code) -> str | None:
        if code in self.codes:
            return self.codes[code]
        filename = code.co_filename
        module = self._file_module.get(filename, False)
        if module is False:
            self._file_module = _modules_by_file()
            module = self._file_module.get(filename)
            self._file_module.setdefault(filename, None)
        return self.module_entry(module) if module else None

    def _make_profile(self):
        verdicts_of = self

        def profile(frame, event, arg):
            if event != "call":
                return
            code = frame.f_code
            refused = verdicts_of.refused.get(code)
            if refused is not None:
                verdicts_of.refused_call(frame, *refused)
            verdicts = verdicts_of._verdicts
            try:
                entry = verdicts[code]
            except KeyError:
                entry = verdicts[code] = verdicts_of._verdict(code)
            if entry is None or code in verdicts_of.given:
                return
            caller = frame.f_back
            if caller is not None and is_learner(caller.f_code.co_filename):
                name = getattr(code, "co_qualname", code.co_name)
                if "<locals>" in name:  # a decorator's wrapper: name what it wraps
                    inner = next((value for key, value in frame.f_locals.items()
                                  if key in ("func", "fn", "f", "function") and callable(value)),
                                 None)
                    name = getattr(inner, "__qualname__", name)
                verdicts_of.hit(f"calls {name} of {entry} at run time, which this exercise "
                                "forbids", caller.f_code.co_filename, caller.f_lineno)

        return profile

    def refused_call(self, frame, name: str, args: tuple[str, ...]) -> None:
        caller = frame.f_back
        if caller is None or not is_learner(caller.f_code.co_filename):
            return
        if not args:
            self.hit(f"calls {name} at run time, which answers this exercise itself",
                     caller.f_code.co_filename, caller.f_lineno)
            return
        values = frame.f_locals
        passed = [arg for arg in args if values.get(arg)]
        if passed:
            self.hit(f"calls {name} with {', '.join(passed)} at run time, which answers this "
                     "exercise itself", caller.f_code.co_filename, caller.f_lineno)

    def take(self) -> list[str]:
        """The hits since the last call, plus any sign that the guard was switched off."""
        if self.active:
            if sys.getprofile() is not self._profile or \
                    getattr(threading, "getprofile", lambda: self._profile)() is not self._profile:
                self.hit("switched off the grader's run-time guard (sys.setprofile)", "<run>", 0)
                sys.setprofile(self._profile)
                threading.setprofile(self._profile)
            for module in self._guarded:
                if type(module) is not GuardedModule:
                    self.hit(f"gave {module.__name__} its class back (the grader's run-time "
                             "guard)", "<run>", 0)
                    try:
                        module.__class__ = GuardedModule
                    except TypeError:
                        pass
        hits, self.hits = self.hits, []
        return hits


def _resolve(entry: str):
    """The module or object a dotted name stands for, without importing anything new."""
    parts = entry.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        target = module
        for part in parts[cut:]:
            try:
                target = types.ModuleType.__getattribute__(target, part) \
                    if isinstance(target, types.ModuleType) else getattr(target, part)
            except AttributeError:
                return None
        return target
    return None


def _codes_of(value) -> list:
    """Code objects of a function (and what it wraps), or of a class's own methods."""
    codes = []
    seen = 0
    while value is not None and seen < 10:
        seen += 1
        if isinstance(value, type):
            for member in list(vars(value).values()):
                codes.extend(_codes_of(getattr(member, "__func__", member))
                             if callable(member) or hasattr(member, "__func__") else [])
            return codes
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType):
            codes.append(code)
        value = getattr(value, "__wrapped__", None)
    return codes


def _modules_by_file() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name, module in list(sys.modules.items()):
        try:
            filename = types.ModuleType.__getattribute__(module, "__file__")
        except (AttributeError, TypeError):
            continue
        if isinstance(filename, str):
            found.setdefault(filename, name)
    return found


_GUARD = Guard()


def set_policy(forbidden, refused=None) -> None:
    _GUARD.set_policy(forbidden, refused)


def note_given(namespace: dict) -> None:
    _GUARD.note_given(namespace)


def take() -> list[str]:
    return _GUARD.take()
