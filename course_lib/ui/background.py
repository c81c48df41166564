"""Background training for slider panels: one low-priority worker process, jobs in a wanted order.

Two panels (02's batch-size panel and 10's optimizer race) train networks for every new slider
setting, 0.1-1 s of CPU each: too slow to answer a slider within the course's target (median
≤ 50 ms, p95 ≤ 150 ms in the kernel). Their slider values form small grids, so the answer is to
train the grid *before* the learner asks: once a panel is live in a browser, it hands its
remaining grid points to :class:`BackgroundTrainer`, and a slider move that finds its run
trained is a cache lookup plus the redraw.

Why a separate process and not a thread: torch releases Python's interpreter lock around every
operation and both threads would fight for it at each of the thousands of small operations a
training run makes; a kernel thread training in the background made a 150 ms slider move take
seconds. A process shares nothing: it runs at a low CPU priority (``os.nice(10)``) with one
torch thread, so the operating system gives the kernel the CPU whenever it needs it, and the
kernel's own code is unchanged. (Niceness 19 starved the worker whenever anything else ran,
the browser included; at 10 it still gets a fair share of an otherwise busy machine.)

Why it never runs during ``make run-notebook`` or nbval: panels start it only when their
browser view reports that it is on screen (the view's first "ping"), which needs JupyterLab.

A job is a module-level function and its arguments (sent with ``pickle``); the result comes back
the same way. Jobs go to the worker one at a time, so :meth:`want` can reorder what is still
waiting (the learner's latest setting first).

Example::

    trainer = BackgroundTrainer()
    trainer.want([(("Adam",), race.lr_sweep, ("Adam", grid), {...})])
    trainer.wait_all(timeout=60.0)             # tests and benchmarks; panels never wait
    trainer.results[("Adam",)]                 # the result (errors in trainer.errors)
"""

from __future__ import annotations

import atexit
import inspect
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any

__all__ = ["BackgroundTrainer", "Job", "data_fingerprint", "shared_trainer"]

# (key, function, positional arguments, keyword arguments); the key names the result.
Job = tuple[Hashable, Callable[..., Any], tuple, dict]

_HEADER = struct.Struct("!Q")  # every message: its length, then the pickle


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream):
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(data)


class BackgroundTrainer:
    """Runs jobs in one niced worker process, in the order last given to :meth:`want`.

    Results stay in :attr:`results` (key → value). A job that raises is recorded in
    :attr:`errors` (key → message) and never retried: the kernel then trains that setting
    itself when a learner asks for it, exactly as without a background trainer. A job whose
    worker died under it is tried once more by a new worker before it counts as failed.

    Nothing here blocks the kernel on the worker: jobs are written to the worker's pipe by a
    writer thread (a job can be larger than the pipe's buffer, and a worker still importing
    torch reads nothing for a second or more), and results are read by a reader thread.
    """

    def __init__(self, *, nice: int = 10, retries: int = 1):
        self.nice = nice
        self.retries = retries
        self.results: dict[Hashable, Any] = {}
        self.errors: dict[Hashable, str] = {}
        self._wanted: list[Job] = []
        self._running: Job | None = None
        self._attempts: dict[Hashable, int] = {}
        self._process: subprocess.Popen | None = None
        self._outbox: queue.Queue | None = None      # messages the writer thread sends
        self._changed = threading.Condition()
        self._subscribers: list[Callable[[], Callable | None]] = []

    # -- what the panels call -------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Hashable, Any], None]) -> None:
        """Call ``callback(key, value)`` for every result: at once for those already in (a
        panel built after another one trained its grids gets them too), then from the reader
        thread for each new one, before it counts as done. Bound methods are held weakly: a
        panel that is gone (its cell re-run) is not kept alive by its cache's subscription."""
        if inspect.ismethod(callback):
            self._subscribers.append(weakref.WeakMethod(callback))
        else:
            self._subscribers.append(lambda: callback)
        with self._changed:
            done = list(self.results.items())
        for key, value in done:
            callback(key, value)

    def want(self, jobs: Iterable[Job]) -> None:
        """Compute these jobs next, in this order (replaces what was waiting; done ones skipped)."""
        with self._changed:
            running = self._running[0] if self._running is not None else None
            self._wanted = [job for job in jobs if job[0] not in self.results
                            and job[0] not in self.errors and job[0] != running]
            if self._running is None:
                self._send_next()

    def status(self, key: Hashable) -> str:
        """"done", "running", "waiting", "failed" or "unknown" for the job named ``key``."""
        with self._changed:
            if key in self.results:
                return "done"
            if key in self.errors:
                return "failed"
            if self._running is not None and key == self._running[0]:
                return "running"
            if any(job[0] == key for job in self._wanted):
                return "waiting"
            return "unknown"

    def wait_all(self, timeout: float | None = None) -> bool:
        """Block until nothing is running or waiting (tests, benchmarks); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._running is None and not self._wanted, timeout)

    def close(self) -> None:
        """Stop the worker (what is running is dropped); results already in stay."""
        with self._changed:
            self._wanted = []
            process, self._process = self._process, None
            outbox, self._outbox = self._outbox, None
            self._running = None
            self._changed.notify_all()
        if outbox is not None:
            outbox.put(None)  # the writer thread ends
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()

    # -- plumbing -------------------------------------------------------------------------------

    def _ensure_process(self) -> None:
        # called with self._changed held
        if self._process is not None and self._process.poll() is None:
            return
        if self._process is not None:
            self._process.wait()  # reap the dead worker (no zombie left behind)
            self._outbox.put(None)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        process = subprocess.Popen([sys.executable, "-m", "course_lib.ui.background", str(self.nice)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._process, self._outbox = process, queue.Queue()
        threading.Thread(target=self._write_jobs, args=(process, self._outbox), daemon=True,
                         name="course background jobs").start()
        threading.Thread(target=self._read_results, args=(process,), daemon=True,
                         name="course background results").start()

    def _send_next(self) -> None:
        # called with self._changed held
        while self._wanted:
            job = self._wanted.pop(0)
            key, function, args, kwargs = job
            try:
                # The job travels as bytes inside the message, so that a job the worker cannot
                # unpickle (a function it cannot import) fails alone, by its key.
                payload = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
                self._ensure_process()
            except (OSError, pickle.PicklingError, AttributeError, TypeError) as error:
                self.errors[key] = f"could not start the background job: {error!r}"
                continue
            self._running = job
            self._attempts[key] = self._attempts.get(key, 0) + 1
            self._outbox.put((key, payload))
            return
        self._changed.notify_all()

    @staticmethod
    def _write_jobs(process: subprocess.Popen, outbox: queue.Queue) -> None:
        while (message := outbox.get()) is not None:
            try:
                _send(process.stdin, message)
            except OSError:  # the worker is gone: the reader thread sees it and says so
                return

    def _worker_died(self, process: subprocess.Popen) -> None:
        with self._changed:
            if self._process is not process:  # closed or already replaced: nothing to do
                return
            self._process.wait()
            self._process = None
            self._outbox.put(None)
            job, self._running = self._running, None
            if job is not None:
                if self._attempts.get(job[0], 0) <= self.retries:
                    self._wanted.insert(0, job)      # a new worker tries it once more
                else:
                    self.errors[job[0]] = "the background worker stopped while training it"
            self._send_next()
            self._changed.notify_all()

    def _read_results(self, process: subprocess.Popen) -> None:
        while True:
            try:
                key, ok, data = _receive(process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                self._worker_died(process)
                return
            if ok:
                try:  # results travel as bytes too: one that cannot be loaded fails alone
                    value = pickle.loads(data)
                except Exception as error:  # noqa: BLE001 - any unpickling failure, by its key
                    ok, data = False, f"could not load the result: {type(error).__name__}: {error}"
            if ok:  # the panels' caches first, so whoever is told "done" finds the runs there
                for reference in list(self._subscribers):
                    callback = reference()
                    if callback is None:
                        self._subscribers.remove(reference)
                        continue
                    try:
                        callback(key, value)
                    except Exception:  # one panel's bad callback must not stop the results of all
                        import traceback

                        traceback.print_exc()
            with self._changed:
                if self._process is not process:  # a result of a closed worker: not ours now
                    return
                if ok:
                    self.results[key] = value
                else:
                    self.errors[key] = data
                if self._running is not None and self._running[0] == key:
                    self._running = None
                    self._send_next()
                self._changed.notify_all()


def data_fingerprint(*arrays) -> str:
    """A short digest of tensors/arrays (shape, dtype and bytes): part of a job's key, so that a
    result trained on one data set is never taken for another's."""
    import hashlib

    import numpy as np

    digest = hashlib.sha1()
    for array in arrays:
        values = np.ascontiguousarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array)
        digest.update(f"{values.shape}{values.dtype}".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()[:16]


_SHARED: BackgroundTrainer | None = None


def shared_trainer() -> BackgroundTrainer:
    """The kernel's one background trainer (two panels share one worker and its CPU share)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = BackgroundTrainer()
        atexit.register(_SHARED.close)
    return _SHARED


def _worker(nice: int) -> None:
    """The worker process: read a job, run it, send ``(key, ok, result or message)``; until EOF."""
    if nice and hasattr(os, "nice"):  # Windows has no niceness; the worker then runs as is
        os.nice(nice)
    # Interrupting the kernel (Kernel → Interrupt) signals its whole process group: the worker
    # is not what the learner meant to stop. It ends when the kernel closes its pipe.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)
    jobs, results = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a job prints must not corrupt the result stream
    while True:
        try:
            key, payload = _receive(jobs)
        except EOFError:  # the kernel is gone (or closed us): nothing left to do
            return
        try:
            function, args, kwargs = pickle.loads(payload)
            reply = (key, True, pickle.dumps(function(*args, **kwargs), protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as error:  # reported to the kernel, which then trains this itself
            reply = (key, False, f"{type(error).__name__}: {error}")
        try:
            _send(results, reply)
        except (BrokenPipeError, OSError):  # the kernel died while we trained: leave quietly
            return


if __name__ == "__main__":
    _worker(int(sys.argv[1]) if len(sys.argv) > 1 else 19)
