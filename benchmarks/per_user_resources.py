"""Memory and CPU of one learner: what a JupyterHub must give each user (docs/jupyterhub.md).

    .venv/bin/python benchmarks/per_user_resources.py                      # every notebooks/*.ipynb
    .venv/bin/python benchmarks/per_user_resources.py notebooks/10_choosing_an_optimizer.ipynb
    .venv/bin/python benchmarks/per_user_resources.py --keep-kernels       # a learner who never closes a tab
    .venv/bin/python benchmarks/per_user_resources.py --json build/per_user.json

What runs is what a learner's single-user server runs. A JupyterLab server (this environment's
``jupyter lab``, the server a hub's ``jupyterhub-singleuser`` is, on 127.0.0.1, no browser)
opens each lecture as JupyterLab does (``POST /api/sessions``, so the kernel is the server's
child, started in notebooks/). Then, through that kernel:

1. every code cell runs top to bottom ("Run All");
2. every slider panel the notebook built is made live, as a browser showing it makes it (panels
   02 and 10 then train their slider grids in ``course_lib.ui.background``'s worker process),
   and after ``--live`` seconds (a learner reading) each control of each panel is moved through
   up to ``--values`` values across its range (benchmarks/slider_latency.py's driver), and the
   background trainer is left to finish every grid it was given (what it does while a learner
   reads on), so its CPU seconds are a whole lecture's;
3. the session is deleted (the learner closes the tab: the kernel and its trainer stop), unless
   ``--keep-kernels``, where every lecture's kernel stays alive until the end.

Meanwhile a sampler reads every process of the server's tree (server, kernels, the background
trainer, ``make check``'s kernels in 00) every ``--interval`` seconds with psutil:

- peak RSS of each kind of process and of their sum (RSS counts shared pages, such as torch's
  libraries, once per process: an upper bound), and the peak sum of PSS (shared pages split
  between the processes sharing them: the memory the user's processes really hold, the figure
  closest to what a container's memory limit counts, page cache aside);
- CPU seconds (user + system) per kind of process, from the last reading of each process;
- the highest CPU use over any ``--window``-second window, in cores.

Printed: one row per lecture and a whole-session row. Wall times depend on the machine's load;
CPU seconds and memory much less. Run it at a quiet moment for the wall column.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
sys.path.insert(0, str(REPO_ROOT))

from jupyter_client import BlockingKernelClient  # noqa: E402

from course_lib.exercises.notebook_runner import KERNEL_WARNINGS, MAKE_VARIABLES  # noqa: E402
from slider_latency import MEASURE, PANEL_TITLE, run_code  # noqa: E402

import nbformat  # noqa: E402

MB = 1024 * 1024
KINDS = ("server", "kernel", "trainer", "other")


def kind_of(process: psutil.Process, server_pid: int) -> str:
    """Which part of a learner's server a process is."""
    if process.pid == server_pid:
        return "server"
    try:
        cmdline = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "other"
    if "course_lib.ui.background" in cmdline:
        return "trainer"
    if "ipykernel_launcher" in cmdline or "ipykernel" in cmdline:
        return "kernel"
    return "other"  # make, make check's python, a shell


@dataclass
class Sample:
    t: float
    rss: dict[str, float]       # kind -> MB, summed over processes of that kind
    pss: float                  # MB, every process
    cpu: float                  # CPU seconds so far, every process ever seen


@dataclass
class Sampler:
    """Reads the server's process tree every ``interval`` seconds in a thread."""

    server_pid: int
    interval: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    cpu_by_pid: dict[int, tuple[str, float]] = field(default_factory=dict)  # last reading
    peak_rss_by_kind: dict[str, float] = field(default_factory=dict)        # one process, MB

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._processes: dict[int, psutil.Process] = {}
        self._kinds: dict[int, str] = {}

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def cpu_by_kind(self) -> dict[str, float]:
        totals = dict.fromkeys(KINDS, 0.0)
        for kind, seconds in self.cpu_by_pid.values():
            totals[kind] += seconds
        return totals

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.server_pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        # Keep one Process object per pid, so cpu_times() and kind are read from the same one.
        for process in found:
            self._processes.setdefault(process.pid, process)
        return [self._processes[p.pid] for p in found]

    def read(self) -> Sample:
        rss = dict.fromkeys(KINDS, 0.0)
        pss = 0.0
        for process in self._tree():
            try:
                with process.oneshot():
                    # A process keeps the kind it was first seen as (an exiting process has no
                    # command line any more); "other" may still turn out to be a kernel after exec.
                    kind = self._kinds.get(process.pid, "other")
                    if kind == "other":
                        kind = self._kinds[process.pid] = kind_of(process, self.server_pid)
                    info = process.memory_full_info()
                    times = process.cpu_times()
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
            rss[kind] += info.rss / MB
            pss += getattr(info, "pss", info.rss) / MB
            self.peak_rss_by_kind[kind] = max(self.peak_rss_by_kind.get(kind, 0.0), info.rss / MB)
            self.cpu_by_pid[process.pid] = (kind, times.user + times.system)
        sample = Sample(time.monotonic(), rss, pss, sum(s for _, s in self.cpu_by_pid.values()))
        self.samples.append(sample)
        return sample

    def _run(self):
        while not self._stop.is_set():
            self.read()
            self._stop.wait(self.interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """This environment's ``jupyter lab`` on 127.0.0.1, serving the repository, no browser."""

    def __init__(self, root: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.runtime = Path(tempfile.mkdtemp(prefix="course-per-user-"))
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(self.runtime), "PYTHONWARNINGS": KERNEL_WARNINGS}
        for name in MAKE_VARIABLES:
            env.pop(name, None)
        jupyter = Path(sys.executable).with_name("jupyter")
        command = [str(jupyter), "lab", "--no-browser", f"--port={self.port}", "--ServerApp.ip=127.0.0.1",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.request("GET", "/api/status")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("jupyter lab did not start") from None
                time.sleep(0.5)

    def request(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def open_notebook(self, relative: str) -> tuple[str, BlockingKernelClient]:
        """What JupyterLab does when a notebook is opened: a session, whose kernel the server starts."""
        session = self.request("POST", "/api/sessions", {"path": relative, "type": "notebook",
                                                         "name": Path(relative).name,
                                                         "kernel": {"name": "python3"}})
        connection = self.runtime / f"kernel-{session['kernel']['id']}.json"
        deadline = time.monotonic() + 60
        while not connection.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no connection file {connection}")
            time.sleep(0.1)
        client = BlockingKernelClient()
        client.load_connection_file(str(connection))
        # No heartbeat channel: on a loaded machine a missed heartbeat reads as a dead kernel.
        client.start_channels(hb=False)
        client.wait_for_ready(timeout=120)
        return session["id"], client

    def close_session(self, session_id: str) -> None:
        self.request("DELETE", f"/api/sessions/{session_id}")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.runtime, ignore_errors=True)


@dataclass
class Phase:
    notebook: str
    start: int                      # index into sampler.samples
    end: int = 0
    wall_run: float = 0.0
    wall_panels: float = 0.0
    cpu_start: dict[str, float] = field(default_factory=dict)
    cpu_end: dict[str, float] = field(default_factory=dict)
    moves: int = 0


def drive(server: LabServer, path: Path, sampler: Sampler, *, values: int, live: float,
          keep: bool) -> Phase:
    relative = str(path.resolve().relative_to(REPO_ROOT))
    sampler.read()
    phase = Phase(path.stem, len(sampler.samples), cpu_start=sampler.cpu_by_kind())
    session, client = server.open_notebook(relative)
    try:
        start = time.monotonic()
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                run_code(client, cell.source, timeout=600)
        phase.wall_run = time.monotonic() - start
        start = time.monotonic()
        run_code(client, PANEL_TITLE)
        run_code(client, MEASURE)
        out = run_code(client, f"_course_measure_panels(max_values={values}, live_after={live!r})",
                       timeout=900)
        # The background trainer goes on training the panels' grids after the last move, as it
        # would while the learner reads on: wait until it has trained everything it was given.
        run_code(client, "import course_lib.ui.background as _bg\n"
                         "_bg._SHARED is None or _bg._SHARED.wait_all(timeout=600)", timeout=660)
        phase.wall_panels = time.monotonic() - start
        line = next(l for l in out.splitlines() if l.startswith("@@RESULT@@"))
        phase.moves = sum(len(p["times"]) for p in json.loads(line[len("@@RESULT@@"):]))
    finally:
        client.stop_channels()
        if not keep:
            server.close_session(session)
            time.sleep(1.0)  # the kernel and its trainer exit; their last CPU readings stay
    sampler.read()
    phase.end = len(sampler.samples)
    phase.cpu_end = sampler.cpu_by_kind()
    return phase


def peak_cpu_cores(samples: list[Sample], window: float) -> float:
    """The highest CPU use, in cores, over any window of about ``window`` seconds."""
    best, j = 0.0, 0
    for i in range(len(samples)):
        while samples[i].t - samples[j].t > window:
            j += 1
        span = samples[i].t - samples[j].t
        if span >= window * 0.8:
            best = max(best, (samples[i].cpu - samples[j].cpu) / span)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="lectures (default: every notebooks/*.ipynb)")
    parser.add_argument("--values", type=int, default=4, help="values per control (default 4)")
    parser.add_argument("--live", type=float, default=15.0,
                        help="seconds between making the panels live and the first move (default 15)")
    parser.add_argument("--keep-kernels", action="store_true",
                        help="leave every lecture's kernel running (a learner who never closes a tab)")
    parser.add_argument("--interval", type=float, default=0.25, help="sampling period, s")
    parser.add_argument("--window", type=float, default=2.0, help="window for the peak CPU use, s")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    paths = [Path(p) for p in args.notebooks] or sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 1024**3:.0f} GiB; values per control {args.values}, "
          f"live {args.live:g} s, kernels {'kept' if args.keep_kernels else 'closed after each lecture'}",
          flush=True)
    server = LabServer(REPO_ROOT)
    sampler = Sampler(server.process.pid, args.interval).start()
    time.sleep(2 * args.interval)
    idle = sampler.read()
    phases = []
    try:
        for path in paths:
            phases.append(drive(server, path, sampler, values=args.values, live=args.live,
                                keep=args.keep_kernels))
            p = phases[-1]
            print(f"  {p.notebook}: run {p.wall_run:.1f} s, panels {p.wall_panels:.1f} s "
                  f"({p.moves} moves)", flush=True)
    finally:
        sampler.stop()
        server.stop()

    rows = []
    for p in phases:
        window = sampler.samples[p.start:p.end] or sampler.samples[-1:]
        cpu = {k: p.cpu_end[k] - p.cpu_start.get(k, 0.0) for k in KINDS}
        rows.append({
            "notebook": p.notebook, "run_s": round(p.wall_run, 1), "panels_s": round(p.wall_panels, 1),
            "moves": p.moves,
            "cpu_s": {k: round(v, 1) for k, v in cpu.items()}, "cpu_total_s": round(sum(cpu.values()), 1),
            "peak_rss_mb": {k: round(max(s.rss[k] for s in window)) for k in KINDS},
            "peak_rss_sum_mb": round(max(sum(s.rss.values()) for s in window)),
            "peak_pss_sum_mb": round(max(s.pss for s in window)),
            "peak_cores": round(peak_cpu_cores(window, args.window), 2),
        })
    everything = sampler.samples
    total_cpu = sampler.cpu_by_kind()
    session = {
        "idle_server_rss_mb": round(idle.rss["server"]), "idle_server_pss_mb": round(idle.pss),
        "peak_rss_sum_mb": round(max(sum(s.rss.values()) for s in everything)),
        "peak_pss_sum_mb": round(max(s.pss for s in everything)),
        "peak_rss_one_process_mb": {k: round(v) for k, v in sampler.peak_rss_by_kind.items()},
        "cpu_s": {k: round(v, 1) for k, v in total_cpu.items()},
        "cpu_total_s": round(sum(total_cpu.values()), 1),
        "wall_s": round(everything[-1].t - everything[0].t, 1),
        "peak_cores": round(peak_cpu_cores(everything, args.window), 2),
    }

    print()
    print("| lecture | Run All s | panels s (moves) | CPU s: kernel + trainer + server + other = total "
          "| peak RSS MB: kernel / trainer / server | peak RSS sum MB | peak PSS sum MB "
          f"| peak cores ({args.window:g} s) |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        c, m = r["cpu_s"], r["peak_rss_mb"]
        print(f"| {r['notebook']} | {r['run_s']} | {r['panels_s']} ({r['moves']}) | "
              f"{c['kernel']} + {c['trainer']} + {c['server']} + {c['other']} = {r['cpu_total_s']} | "
              f"{m['kernel']} / {m['trainer']} / {m['server']} | {r['peak_rss_sum_mb']} | "
              f"{r['peak_pss_sum_mb']} | {r['peak_cores']} |")
    s = session
    print(f"| **session** ({s['wall_s']} s) | | | {s['cpu_s']['kernel']} + {s['cpu_s']['trainer']} + "
          f"{s['cpu_s']['server']} + {s['cpu_s']['other']} = {s['cpu_total_s']} | "
          f"{s['peak_rss_one_process_mb'].get('kernel', 0)} / {s['peak_rss_one_process_mb'].get('trainer', 0)} / "
          f"{s['peak_rss_one_process_mb'].get('server', 0)} (one process) | {s['peak_rss_sum_mb']} | "
          f"{s['peak_pss_sum_mb']} | {s['peak_cores']} |")
    print(f"idle server before any notebook: RSS {s['idle_server_rss_mb']} MB, PSS {s['idle_server_pss_mb']} MB")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"lectures": rows, "session": session,
                                               "args": vars(args)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
