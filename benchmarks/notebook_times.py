"""Wall time of every course notebook, run top to bottom with the course's kernel.

    .venv/bin/python benchmarks/notebook_times.py            # notebooks/, solutions/, exercises/
    .venv/bin/python benchmarks/notebook_times.py solutions  # one folder (or single files)

Each notebook runs in a fresh kernel, in memory (files are not rewritten), so the time includes
kernel start-up and imports: what a learner waits for after "Restart and run all". Target: at
most 10 s per notebook on a 2-core laptop CPU. Exercise notebooks run against their stubs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from course_lib.exercises.notebook_runner import execute  # noqa: E402

TARGET_S = 10.0
FOLDERS = ("notebooks", "solutions", "exercises")


def notebook_paths(arguments: list[str]) -> list[Path]:
    paths: list[Path] = []
    for argument in arguments or FOLDERS:
        path = Path(argument)
        path = path if path.is_absolute() else REPO_ROOT / path
        paths.extend(sorted(path.glob("*.ipynb")) if path.is_dir() else [path])
    return paths


def time_notebook(path: Path) -> tuple[float, str]:
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        execute(notebook, path.parent)
    except Exception as error:  # report and go on: one broken notebook should not hide the rest
        return time.perf_counter() - start, f"error: {type(error).__name__}"
    return time.perf_counter() - start, "ok"


def main(argv: list[str]) -> int:
    paths = notebook_paths(argv)
    if not paths:
        print("no notebooks found")
        return 0
    width = max(len(str(p.relative_to(REPO_ROOT))) for p in paths)
    print(f"| {'notebook':<{width}} | wall time (s) | status |")
    print(f"|{'-' * (width + 2)}|--------------:|--------|")
    slow_or_broken = 0
    for path in paths:
        seconds, status = time_notebook(path)
        if status == "ok" and seconds > TARGET_S:
            status = f"over {TARGET_S:g} s"
        slow_or_broken += status != "ok"
        print(f"| {str(path.relative_to(REPO_ROOT)):<{width}} | {seconds:13.1f} | {status} |",
              flush=True)
    return 1 if slow_or_broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
