"""How many notebook submissions per minute ``course-grade`` grades.

    .venv/bin/python benchmarks/grade_throughput.py                 # 40 submissions, 2 workers
    .venv/bin/python benchmarks/grade_throughput.py --submissions 80 --workers 2 --repeats 3

The class is made from the course's own notebooks, cycling through every exercise notebook:
a quarter of the students hand in the solution, a quarter the untouched exercise notebook and
half the solution with one answer cell made wrong (its function returns None), so hidden tests
run to their first failing case as they would for a real class. Each repeat grades the class
from scratch (a fresh results folder, so nothing is reused) in a subprocess, exactly as an
instructor would run it, and the script prints wall time and submissions per minute for each
repeat, then the median, with the load average before and after (the target in
docs/benchmarks.md: >= 30 submissions per minute with 2 workers on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_class(folder: Path, count: int) -> None:
    names = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    for number in range(count):
        name = names[number % len(names)]
        kind = ("solution", "blank", "one_wrong", "one_wrong")[(number // len(names)) % 4]
        source = ROOT / ("exercises" if kind == "blank" else "solutions") / name
        notebook = json.loads(source.read_text(encoding="utf-8"))
        if kind == "one_wrong":
            answers = [c for c in notebook["cells"] if c["cell_type"] == "code"
                       and "answer" in c["metadata"].get("tags", [])]
            cell = answers[number % len(answers)]
            header = "".join(cell["source"]).split("\n")[0]  # keep the def line
            cell["source"] = [header + "\n", "    return None\n"]
        target = folder / f"student{number:03d}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(notebook), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-bwrap", action="store_true",
                        help="grade without bubblewrap: bwrap does not pass its child's CPU time "
                             "up to its parent, so only this mode measures CPU seconds")
    args = parser.parse_args()

    rates, cpu_rates = [], []
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        submissions = Path(tmp) / "submissions"
        make_class(submissions, args.submissions)
        print(f"{args.submissions} submissions, {args.workers} workers, "
              f"{'without' if args.no_bwrap else 'with'} bubblewrap, "
              f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}")
        for repeat in range(args.repeats):
            out = Path(tmp) / f"results{repeat}"
            start = time.perf_counter()
            usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = subprocess.run([sys.executable, "-m", "course_lib.grade", str(submissions),
                                  "--out", str(out), "--workers", str(args.workers),
                                  "--seed", "benchmark", "--quiet",
                                  *(["--no-bwrap"] if args.no_bwrap else [])],
                                 capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
                return 1
            rows = (out / "gradebook.csv").read_text(encoding="utf-8").count("\n") - 1
            rate = args.submissions / elapsed * 60
            # CPU time of the grader, its workers and every sandboxed child: what the class
            # costs whatever else the machine is doing. On an idle machine with `cores` cores
            # busy, the rate would be cores * 60 / (CPU seconds per submission).
            cpu_rate = min(args.workers, os.cpu_count() or 1) * 60 * args.submissions / cpu \
                if args.no_bwrap else float("nan")
            rates.append(rate)
            cpu_rates.append(cpu_rate)
            cpu_text = (f"; {cpu:.1f} s CPU, {cpu / args.submissions:.2f} CPU s per submission "
                        f"= {cpu_rate:.1f}/minute on {args.workers} idle cores"
                        if args.no_bwrap else "")
            print(f"repeat {repeat + 1}: {elapsed:.1f} s wall for {args.submissions} submissions "
                  f"({rows} gradebook rows): {rate:.1f} submissions/minute{cpu_text} "
                  f"(load average {os.getloadavg()[0]:.2f})")
    cpu_text = (f", {statistics.median(cpu_rates):.1f}/minute from CPU time"
                if args.no_bwrap else "")
    print(f"median: {statistics.median(rates):.1f} submissions/minute (wall){cpu_text} "
          f"(target >= 30 with 2 workers on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
