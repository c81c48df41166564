"""How long "Run All" takes for each lecture in real JupyterLab in headless Chromium.

    .venv/bin/python benchmarks/run_all_in_browser.py                    # every notebooks/*.ipynb
    .venv/bin/python benchmarks/run_all_in_browser.py notebooks/03_momentum.ipynb --repeat 3
    .venv/bin/python benchmarks/run_all_in_browser.py --repeat 2 --json build/run_all.json

What is measured: what a learner waits for. Each notebook is opened in a fresh page of a scratch
JupyterLab (tests/e2e/lab.py: this .venv's JupyterLab on 127.0.0.1 serving a copy of the
course), its kernel is started and idle, and then JupyterLab's own "Run All" command
(``notebook:run-all-cells``) is executed. The time runs, on the page's clock
(``performance.now()``), from that command to the later of

- the moment the kernel went idle with no cell queued or running (it must then stay idle for
  1.5 s, so a cell starting right after another does not end the run early; those 1.5 s are
  not counted), and
- the first painted frame of the last slider panel to draw (each ``.course-figure-view`` sends
  a "course-frame" event on the animation frame after it draws; every one must have
  ``data-frames >= 1``).

The kernel is shut down before the next notebook (as closing its tab would), so every run
starts a fresh kernel: kernel start-up is *not* in the time (the page waits for an idle kernel
first), the imports of the first cell (torch, about 3 s) are. The wait before it, from loading
the page to an idle kernel (JupyterLab's page plus kernel start-up: what a learner who opens a
notebook and runs it at once waits for in addition), is reported in its own column.

The "kernel only" column runs the same notebook with ``course_lib.exercises.notebook_runner.execute``,
the function behind ``make run-notebook`` and benchmarks/notebook_times.py, in a fresh kernel,
on a temporary copy (the repository's notebooks are never written). That time does include
kernel start-up (about 1 s), and each panel's static PNG picture that ``make run-notebook``
stores; it has no browser, no widget rendering and no message round trips to a page.

Both runs see a learner's checkout: the scratch folder holds copies of notebooks/, exercises/
and solutions/ plus the Makefile and its inputs and a link to this .venv, so 00_welcome's
``!cd .. && make check ...`` cell does the real work it does for a learner.

Issue 8 asked for each lecture's Run All time with a browser open; the course's target is
10 s per lecture on a 2-core CPU. Results: docs/benchmarks.md, "Run All in the browser".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT))

from e2e.lab import COPIED, RECORDER, Lab, NotebookPage, launch_chromium, missing_requirements  # noqa: E402

TARGET_S = 10.0
IDLE_QUIET_MS = 1500  # the kernel must stay idle this long before a run counts as finished
RUN_TIMEOUT_S = 300.0
# What a learner's checkout has besides the notebooks, so that a notebook running `make check`
# finds the Makefile, and make finds the .venv up to date (copy2 keeps the files' times).
CHECKOUT_FILES = ("Makefile", "constraints.txt", "pyproject.toml", "jupyter-config")

# Started in the page right before Run All; polled until the run is over. Times are
# performance.now() milliseconds. Returns false while running, else {end, idle, drawn, views}.
START_RUN = "() => { window.__courseRun = {t0: performance.now(), idleSince: null}; }"
RUN_FINISHED = """([quietMs]) => {
  const run = window.__courseRun, now = performance.now();
  if (window.__courseLab.busy()) { run.idleSince = null; return false; }
  if (run.idleSince === null) run.idleSince = now;
  const views = [...window.__courseLab.notebook().node.querySelectorAll('.course-figure-view')];
  if (views.some((v) => Number(v.dataset.frames || 0) < 1)) return false;
  if (now - run.idleSince < quietMs) return false;
  // each view's first painted frame since Run All; a view whose event was missed counts as now
  const firsts = views.map((v) => {
    const mine = window.__course.frames.filter((f) => f.t > run.t0 && v.contains(f.el));
    return mine.length ? Math.min(...mine.map((f) => f.t)) : now;
  });
  const drawn = firsts.length ? Math.max(...firsts) : run.t0;
  return {t0: run.t0, idle: run.idleSince, drawn, end: Math.max(run.idleSince, drawn),
          views: views.length};
}"""
ERRORS = """() => {
  const found = [];
  for (const cell of window.__courseLab.outputs()) for (const o of cell.outputs) {
    if (o.output_type === 'error') found.push(`cell ${cell.index}: ${o.ename}: ${o.evalue}`);
  }
  return found;
}"""


@dataclass
class Result:
    """The measurements of one notebook; times in seconds, one entry per repeat."""

    notebook: str
    browser_s: list[float] = field(default_factory=list)
    kernel_s: list[float] = field(default_factory=list)
    open_s: list[float] = field(default_factory=list)  # page load to idle kernel, before Run All
    panels: int | None = None  # slider panels (course figure views) drawn after Run All
    problems: list[str] = field(default_factory=list)  # errors, timeouts: a time is then missing


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def format_table(results: list[Result], target_s: float = TARGET_S) -> str:
    """A Markdown table: browser median and max, kernel-only median, page-open-to-kernel-ready
    median, panels, and a note for a run over the target or a problem."""
    lines = ["| notebook | Run All in browser: median s | max s | kernel only: median s "
             "| open → kernel ready: median s | panels | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        browser = median_or_none(r.browser_s)
        notes = []
        if r.browser_s and max(r.browser_s) > target_s:
            notes.append(f"over {target_s:g} s" + ("" if browser > target_s else " (max only)"))
        notes += r.problems
        lines.append(f"| {r.notebook} | {_seconds(browser)} | "
                     f"{_seconds(max(r.browser_s) if r.browser_s else None)} | "
                     f"{_seconds(median_or_none(r.kernel_s))} | {_seconds(median_or_none(r.open_s))} | "
                     f"{'–' if r.panels is None else r.panels} | {'; '.join(notes)} |")
    return "\n".join(lines)


def over_target(results: list[Result], target_s: float = TARGET_S) -> list[str]:
    """Notebooks whose median Run All time in the browser exceeds the target."""
    return [r.notebook for r in results if r.browser_s and statistics.median(r.browser_s) > target_s]


def notebook_paths(arguments: list[str], root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks to time, relative to ``root``: the arguments, or every notebooks/*.ipynb.

    Raises ValueError naming the argument when a path is not a notebook inside one of the
    course folders the scratch JupyterLab serves (notebooks/, exercises/, solutions/).
    """
    if not arguments:
        return sorted(p.relative_to(root) for p in (root / "notebooks").glob("*.ipynb"))
    paths = []
    for argument in arguments:
        path = Path(argument)
        path = (path if path.is_absolute() else Path.cwd() / path).resolve()
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"{argument}: not a notebook file (expected a path like notebooks/03_momentum.ipynb)")
        try:
            relative = path.relative_to(root.resolve())
        except ValueError:
            relative = None
        if relative is None or relative.parts[0] not in COPIED or len(relative.parts) != 2:
            raise ValueError(f"{argument}: the benchmark serves only notebooks directly inside "
                             f"{', '.join(f'{name}/' for name in COPIED)} of {root}")
        paths.append(relative)
    return paths


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to time (default: every notebooks/*.ipynb)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (default 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw numbers to PATH")
    parser.add_argument("--no-kernel-only", action="store_true",
                        help="skip the kernel-only comparison runs")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    try:
        args.paths = notebook_paths(args.notebooks)
    except ValueError as error:
        parser.error(str(error))
    if not args.paths:
        parser.error(f"no notebooks found in {REPO_ROOT / 'notebooks'}")
    return args


def add_checkout_files(root: Path, source: Path = REPO_ROOT) -> None:
    """Give ``root`` (a copy of the course's notebook folders) what a learner's checkout has."""
    for name in CHECKOUT_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, root / name)
        elif (source / name).is_file():
            shutil.copy2(source / name, root / name)
    if (source / ".venv").is_dir():
        # a link, not a copy; shutil.rmtree removes the link and never what it points to
        (root / ".venv").symlink_to(source / ".venv", target_is_directory=True)


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def time_in_browser(browser, lab: Lab, relative: Path) -> tuple[float | None, float | None, int, list[str]]:
    """One Run All in a fresh page: (Run All seconds or None, page load to idle kernel seconds,
    panels drawn, problems)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        opened = time.perf_counter()
        nb = NotebookPage(page, lab, relative.as_posix()).open()
        nb.wait_for_kernel()
        open_s = time.perf_counter() - opened
        page.evaluate("() => window.jupyterapp.shell.activateById(window.__courseLab.notebook().id)")
        page.evaluate(START_RUN)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            handle = page.wait_for_function(RUN_FINISHED, arg=[IDLE_QUIET_MS],
                                            timeout=RUN_TIMEOUT_S * 1000, polling=50)
        except Exception:  # playwright's TimeoutError; report and go on with the next notebook
            return None, open_s, 0, [f"not finished within {RUN_TIMEOUT_S:g} s"]
        run = handle.json_value()
        errors = page.evaluate(ERRORS)
        seconds = (run["end"] - run["t0"]) / 1000
        return (None if errors else seconds), open_s, run["views"], errors
    finally:
        context.close()
        lab.shut_down_kernels()


def time_kernel_only(copy_root: Path, relative: Path) -> tuple[float | None, list[str]]:
    """One fresh-kernel run of the copy at ``copy_root / relative``, as ``make run-notebook``
    runs it (in memory: the copy is not rewritten either)."""
    import nbformat

    from course_lib.exercises.notebook_runner import execute

    path = copy_root / relative
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        execute(notebook, path.parent)
    except Exception as error:  # report and go on: one broken notebook should not hide the rest
        return None, [f"kernel only: {type(error).__name__}"]
    return time.perf_counter() - start, []


def measure(paths: list[Path], repeat: int, kernel_only: bool, log=None) -> list[Result]:
    """Run every notebook ``repeat`` times in the browser and (if asked) with the kernel only.

    Rounds go over all notebooks in turn, and each notebook's kernel-only run follows its
    browser run, so both see about the same load.
    """
    from playwright.sync_api import sync_playwright

    log = log or (lambda line: print(line, flush=True))
    results = {p: Result(p.stem) for p in paths}
    log_path = REPO_ROOT / "build" / "run_all_in_browser_lab.log"
    with Lab(log_path=log_path) as lab, sync_playwright() as playwright, \
            tempfile.TemporaryDirectory(prefix="course-run-all-") as scratch:
        add_checkout_files(lab.root)
        copy_root = Path(scratch)
        for name in COPIED:
            if (REPO_ROOT / name).is_dir():
                shutil.copytree(REPO_ROOT / name, copy_root / name,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        add_checkout_files(copy_root)
        browser = launch_chromium(playwright)
        log(f"JupyterLab serving {lab.root}; Chromium {browser.version}")
        for round_ in range(1, repeat + 1):
            for path in paths:
                result = results[path]
                seconds, open_s, panels, problems = time_in_browser(browser, lab, path)
                if seconds is not None:
                    result.browser_s.append(seconds)
                result.open_s.append(open_s)
                result.panels = panels if result.panels is None else max(result.panels, panels)
                result.problems += [p for p in problems if p not in result.problems]
                line = (f"round {round_}: {path}: open {_seconds(open_s)} s, Run All in browser "
                        f"{_seconds(seconds)} s, {panels} panel(s)")
                if kernel_only:
                    kernel_s, problems = time_kernel_only(copy_root, path)
                    if kernel_s is not None:
                        result.kernel_s.append(kernel_s)
                    result.problems += [p for p in problems if p not in result.problems]
                    line += f", kernel only {_seconds(kernel_s)} s"
                log(f"{line}; load {load_average()}")
        browser.close()
    return list(results.values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    why = missing_requirements()
    if why:
        print(f"skipped: {why}")
        return 0
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    print(f"{started:%Y-%m-%d %H:%M} UTC; load average at start: {load_average()}; {os.cpu_count()} CPUs")
    results = measure(args.paths, args.repeat, not args.no_kernel_only)
    load_end = os.getloadavg()
    print()
    print(format_table(results))
    print()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in load_start)}; "
          f"at end: {' '.join(f'{v:.2f}' for v in load_end)}")
    slow = over_target(results)
    print(f"over {TARGET_S:g} s (median, in the browser): {', '.join(slow) if slow else 'none'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "started": started.isoformat(), "cpus": os.cpu_count(), "repeat": args.repeat,
            "load_average_start": load_start, "load_average_end": load_end,
            "results": [vars(r) for r in results]}, indent=1))
        print(f"raw numbers: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
