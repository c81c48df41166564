"""The program that runs inside the sandbox: executes cells and calls the learner's functions.

It is started as ``python -I harness.py COURSE_DIR CMD_FD REPLY_FD [--drop-uid UID]`` by
:mod:`course_lib.grade.sandbox`, with ``wire.py`` next to it and nothing else of the grader:
no checker, no reference, no expected value ever reaches this process. It obeys commands:

- ``exec``: run a cell's source in the notebook's namespace (as "Run cell" would);
- ``eval``: evaluate an expression from the course's check cell (``momentum_step``) and send
  the value back as data, a function as a *handle*;
- ``call``: call a handle with inputs sent as data, and send back what happened: the return
  value and the inputs after the call (mutations and aliasing included, see ``wire.py``).

Everything the learner's code raises, including ``SystemExit`` and ``KeyboardInterrupt``, is
caught and reported as data; what it prints goes to a capped log file the verdict never reads.
The grader, not this process, decides: it compares what comes back with its own reference
run. This file imports only the standard library, torch, ``wire`` and ``guard`` (the run-time
guard: what the exercise forbids cannot be reached from the learner's code, see ``guard.py``).
"""

from __future__ import annotations

import importlib
import itertools
import linecache
import os
import signal
import sys
import traceback
import types

# Cap on the items a returned generator is drained to (a generator that never ends).
MAX_ITEMS = 1_000_000


def drop_privileges(uid: int) -> None:
    """Become an unprivileged user before any learner code runs (the grader may run as root)."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


class Harness:
    def __init__(self, cmd_fd: int, reply_fd: int, wire, guard=None):
        self.cmd_fd, self.reply_fd, self.wire = cmd_fd, reply_fd, wire
        self.guard = guard if guard is not None else _Unguarded()
        self.namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__,
                                "display": _display, "get_ipython": lambda: None}
        self.handles: dict[int, object] = {}
        self.executed_any = False
        self.bound: dict[tuple[str, str], object] = {}  # training halves, bound before any cell

    # ----------------------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                message = self.wire.receive(self.cmd_fd)
            except EOFError:
                return
            op = message.get("op")
            if op == "exit":
                return
            # the run-time guard: what this step's exercise forbids (none for a course cell)
            self.guard.set_policy(message.get("forbidden") or (), message.get("refused") or {})
            if op == "exec" and message.get("course") is True:
                reply = self.exec_course_cell(str(message["label"]), str(message["source"]))
            elif op == "exec":
                reply = self.exec_cell(str(message["label"]), str(message["source"]))
            elif op == "eval":
                reply = self.eval_expression(str(message["expr"]))
            elif op == "call":
                reply = self.call(message)
            elif op == "train":
                reply = self.train(message)
            elif op == "bind":
                reply = self.bind(message)
            else:
                reply = {"kind": "protocol_error", "message": f"unknown op {op!r}"}
            hits = self.guard.take()
            if hits:
                reply["guard"] = hits
            self.wire.send(self.reply_fd, reply)

    def exec_course_cell(self, label: str, source: str) -> dict:
        """A course cell: what it binds (``adam_update`` in notebook 08) is given to the learner."""
        before = {name: id(value) for name, value in self.namespace.items()}
        reply = self.exec_cell(label, source)
        self.guard.note_given(value for name, value in list(self.namespace.items())
                              if before.get(name) != id(value))
        return reply

    def exec_cell(self, label: str, source: str) -> dict:
        self.executed_any = True
        filename = f"<cell {label}>"
        source = _without_magics(source)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec")
            exec(code, self.namespace)  # noqa: S102 - running the learner's cell is the point
        except BaseException as error:  # noqa: BLE001 - SystemExit & co. are learner errors too
            return {"kind": "raised", **_describe(error)}
        return {"kind": "ok"}

    def eval_expression(self, expr: str) -> dict:
        try:
            value = eval(compile(expr, "<check cell>", "eval"), self.namespace)  # noqa: S307
        except BaseException as error:  # noqa: BLE001
            return {"kind": "raised", **_describe(error)}
        encoder = self.wire.Encoder(on_callable=self._handle)
        try:
            node = encoder.encode(value)
        except Exception as error:  # noqa: BLE001
            return {"kind": "unsendable", "message": str(error)[:300]}
        return {"kind": "value", "value": node, **encoder.tables()}

    def call(self, message: dict) -> dict:
        function = self.handles.get(message.get("handle"))
        if function is None:
            return {"kind": "protocol_error", "message": "unknown function handle"}
        decoder = self.wire.Decoder(message, on_callable=self._remote_stub)
        try:
            args, kwargs = decoder.decode(message["args"])
        except Exception as error:  # noqa: BLE001
            return {"kind": "protocol_error", "message": f"bad inputs: {error}"}
        known_tensors = {id(t): i for i, t in decoder._tensors.items()}
        known_containers = {id(c): i for i, c in decoder._containers.items()}
        known_storages = {}
        for index, flat in enumerate(decoder._storages):
            if flat.numel():
                known_storages[flat.untyped_storage().data_ptr()] = (
                    index, flat.numpy().tobytes())
        try:
            returned = function(*args, **kwargs)
            returned = _drain(returned)
        except BaseException as error:  # noqa: BLE001
            return {"kind": "raised", **_describe(error)}
        encoder = self.wire.Encoder(known_tensors=known_tensors, known_containers=known_containers,
                                    known_storages=known_storages, on_callable=self._handle)
        try:
            after = encoder.encode([args, kwargs])
            returned_node = encoder.encode(returned)
        except BaseException as error:  # noqa: BLE001 - a value that cannot be sent
            return {"kind": "unsendable", "message": f"{type(error).__name__}: {error}"[:300]}
        return {"kind": "result", "inputs": after, "returned": returned_node, **encoder.tables()}

    def bind(self, message: dict) -> dict:
        """Look up an outcome exercise's training half now, before any cell runs: a learner's
        ``setattr(race, "train_" + "digits_net", fake)`` later changes nothing."""
        module_name, name = str(message.get("module", "")), str(message.get("function", ""))
        if self.executed_any or not module_name.startswith("course_lib."):
            return {"kind": "protocol_error", "message": "bind comes first, for course modules"}
        try:
            self.bound[(module_name, name)] = getattr(importlib.import_module(module_name), name)
        except BaseException as error:  # noqa: BLE001
            return {"kind": "raised", **_describe(error)}
        return {"kind": "ok"}

    def train(self, message: dict) -> dict:
        """Run an outcome-graded exercise's training half on the learner's function.

        ``train`` is a function of a course module the sandbox holds (never a checker):
        ``train(learner_fn, seed=..., budget=...)`` trains and returns plain data (e.g. the
        model's parameters), which goes back as data; the grader computes the metric itself.
        """
        function = self.handles.get(message.get("handle"))
        module_name, name = str(message.get("module", "")), str(message.get("function", ""))
        if function is None or not module_name.startswith("course_lib."):
            return {"kind": "protocol_error", "message": "unknown function handle or module"}
        train = self.bound.get((module_name, name))
        if train is None:
            return {"kind": "protocol_error", "message": "the training half was not bound"}
        try:
            budget = types.SimpleNamespace(**dict(message.get("budget") or {}))
            returned = train(function, seed=int(message["seed"]), budget=budget)
        except BaseException as error:  # noqa: BLE001 - the learner's errors are data too
            return {"kind": "raised", **_describe(error)}
        encoder = self.wire.Encoder(on_callable=self._handle)
        try:
            returned_node = encoder.encode(returned)
        except BaseException as error:  # noqa: BLE001
            return {"kind": "unsendable", "message": f"{type(error).__name__}: {error}"[:300]}
        return {"kind": "result", "returned": returned_node, **encoder.tables()}

    # ----------------------------------------------------------------------------------------
    def _handle(self, function) -> dict:
        handle = len(self.handles) + 1
        self.handles[handle] = function
        name = getattr(function, "__qualname__", None) or type(function).__name__
        return {"callable": handle, "name": str(name)[:80]}

    def _remote_stub(self, node: dict):
        """A function that calls back into the grader (e.g. the gradient field of 4.2)."""
        wire, harness = self.wire, self

        def call_grader(*args, **kwargs):
            encoder = wire.Encoder()
            message = {"kind": "callback", "callable": node["callable"],
                       "args": encoder.encode([list(args), kwargs]), **encoder.tables()}
            wire.send(harness.reply_fd, message)
            answer = wire.receive(harness.cmd_fd)
            if answer.get("op") != "callback_result":
                raise RuntimeError(answer.get("message", "the grader's function failed"))
            return wire.Decoder(answer).decode(answer["value"])

        call_grader.__name__ = call_grader.__qualname__ = str(node.get("name", "function"))
        return call_grader


class _Unguarded:
    """No run-time guard (a harness driven in-process by the tests)."""

    def set_policy(self, forbidden, refused=None) -> None:
        pass

    def note_given(self, values) -> None:
        pass

    def take(self) -> list:
        return []


def _display(*objects, **kwargs) -> None:
    """Notebook cells may call display(); in the sandbox nothing is shown."""


def _without_magics(source: str) -> str:
    """IPython line magics and shell escapes (``%matplotlib``, ``!pip``) are not Python."""
    lines = []
    for line in source.splitlines(True):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            indent = line[: len(line) - len(stripped)]
            line = f"{indent}pass  # {stripped.rstrip()}\n"
        lines.append(line)
    return "".join(lines)


def _drain(value):
    """Generators and other one-shot iterators become lists (the grader cannot call next())."""
    if isinstance(value, types.GeneratorType) or hasattr(type(value), "__next__"):
        items = list(itertools.islice(value, MAX_ITEMS + 1))
        if len(items) > MAX_ITEMS:
            raise RuntimeError(f"your function's generator yielded more than {MAX_ITEMS} items")
        return items
    return value


def _describe(error: BaseException) -> dict:
    """Type, message and the learner's own line, as plain strings."""
    try:
        message = str(error)
    except BaseException:  # noqa: BLE001 - a __str__ that raises
        message = "(the exception's message could not be read)"
    where = None
    try:
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if f.filename.startswith("<cell ")]
        if frames:
            frame = frames[-1]
            where = f"{frame.filename[1:-1]}, line {frame.lineno}"
            if frame.line:
                where += f": {frame.line.strip()}"
    except BaseException:  # noqa: BLE001
        pass
    return {"type": type(error).__name__[:80], "message": message[:500], "where": where,
            "exception": isinstance(error, Exception)}


def main(argv: list[str]) -> int:
    course_dir, cmd_fd, reply_fd = argv[1], int(argv[2]), int(argv[3])
    if "--drop-uid" in argv:
        drop_privileges(int(argv[argv.index("--drop-uid") + 1]))
    # A learner's flood of output fails their write (EFBIG) instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    os.environ["MPLBACKEND"] = "Agg"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, course_dir)
    import torch  # noqa: F401 - loaded before the learner can tamper with the import system

    import guard  # noqa: I001 - the copies next to this file
    import wire

    guard.LEARNER_FILES.add(os.path.abspath(__file__))  # its `call` runs the learner's function
    # the learner's `import guard` / `import wire` get fresh copies, not the harness's own
    for name in ("guard", "wire"):
        sys.modules.pop(name, None)
    torch.set_num_threads(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    wire.send(reply_fd, {"kind": "ready"})  # start-up done: the grader's clock for steps starts
    Harness(cmd_fd, reply_fd, wire, guard).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
