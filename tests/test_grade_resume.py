"""Sharding and resuming: the union of the shards' gradebooks is the unsharded gradebook, and a
run interrupted with Ctrl-C finishes, when started again, only what is missing."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grade_fixtures import forge

ROOT = Path(__file__).resolve().parents[1]
NB = forge.NESTEROV


def command(submissions: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "course_lib.grade", str(submissions), "--out", str(out),
            "--timeout", "30", "--seed", "shard-test", *extra]


def rows(out: Path) -> list[dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-class")
    solution = (ROOT / "solutions" / NB).read_bytes()
    blank = (ROOT / "exercises" / NB).read_bytes()
    files = {"ann": solution, "ben": blank, "cho": solution, "dev": b"{}", "eve": solution,
             "fay": blank, "gus": solution}
    for student, data in files.items():
        (root / "submissions" / student).mkdir(parents=True)
        (root / "submissions" / student / NB).write_bytes(data)
    out = root / "all"
    run = subprocess.run(command(root / "submissions", out, "--workers", "2"),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return root, rows(out)


def test_union_of_shard_gradebooks_is_the_unsharded_gradebook(small_class):
    root, unsharded = small_class
    union = []
    for index in range(2):
        out = root / f"shard{index}"
        run = subprocess.run(command(root / "submissions", out, "--shard", f"{index}/2",
                                     "--workers", "2"),
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        shard_rows = rows(out)
        assert shard_rows, "each shard of this class holds students (stable hashing)"
        union += shard_rows
    key = lambda row: (row["student"], row["notebook"], row["exercise"])  # noqa: E731
    assert sorted(union, key=key) == unsharded
    students = {row["student"] for row in unsharded}
    assert students == {"ann", "ben", "cho", "dev", "eve", "fay", "gus"}


def test_rerun_after_ctrl_c_grades_only_what_is_missing(small_class):
    root, unsharded = small_class
    out = root / "interrupted"
    process = subprocess.Popen(command(root / "submissions", out, "--workers", "1"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work = out / ".work"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if work.is_dir() and len(list(work.glob("*.json"))) >= 1:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    done = len(list(work.glob("*.json")))
    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert not (out / "gradebook.csv").exists()
    assert 1 <= done < 7, "the interrupt came after the first result and before the last"
    rerun = subprocess.run(command(root / "submissions", out, "--workers", "2"),
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"({7 - done} to grade, {done} already done)" in rerun.stderr
    assert rows(out) == unsharded
