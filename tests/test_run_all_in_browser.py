"""benchmarks/run_all_in_browser.py without a browser: its arguments, its table, its skip message
and the learner's checkout it builds. Nothing here is timed or starts JupyterLab."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("run_all_in_browser",
                                                  REPO_ROOT / "benchmarks" / "run_all_in_browser.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_by_default_every_lecture_is_timed_once(bench, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    args = bench.parse_args([])
    assert [p.as_posix() for p in args.paths] == [f"notebooks/{name}" for name in LECTURES]
    assert args.repeat == 1 and args.json is None and not args.no_kernel_only


def test_paths_repeat_and_json_are_read(bench, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO_ROOT / "notebooks")  # a path relative to where the command runs
    args = bench.parse_args([LECTURES[1], "--repeat", "3", "--json", str(tmp_path / "out.json")])
    assert [p.as_posix() for p in args.paths] == [f"notebooks/{LECTURES[1]}"]
    assert args.repeat == 3 and args.json == tmp_path / "out.json"


@pytest.mark.parametrize("argv, named", [
    (["--repeat", "0"], "--repeat must be at least 1"),
    (["notebooks/no_such_lecture.ipynb"], "no_such_lecture.ipynb: not a notebook file"),
    (["Makefile"], "Makefile: not a notebook file"),
])
def test_bad_arguments_are_refused_naming_what_is_wrong(bench, monkeypatch, capsys, argv, named):
    monkeypatch.chdir(REPO_ROOT)
    with pytest.raises(SystemExit) as stop:
        bench.parse_args(argv)
    assert stop.value.code == 2
    assert named in capsys.readouterr().err


def test_a_notebook_outside_the_served_course_folders_is_refused(bench, capsys, tmp_path):
    outside = tmp_path / "mine.ipynb"
    outside.write_text("{}")
    with pytest.raises(SystemExit):
        bench.parse_args([str(outside)])
    err = capsys.readouterr().err
    assert "mine.ipynb" in err and "notebooks/" in err


def test_table_gives_browser_median_and_max_kernel_median_panels_and_notes(bench):
    results = [
        bench.Result("01_gradient_descent", browser_s=[8.0, 9.0, 12.5], kernel_s=[7.0, 6.0],
                     open_s=[2.0, 3.0, 1.0], panels=2),
        bench.Result("07_adam", browser_s=[11.0, 13.0], kernel_s=[9.5], open_s=[2.5, 2.5], panels=3),
        bench.Result("09_lr_schedules", kernel_s=[5.0], panels=0,
                     problems=["cell 4: ValueError: bad"]),
    ]
    lines = bench.format_table(results).splitlines()
    assert lines[0] == ("| notebook | Run All in browser: median s | max s | kernel only: median s "
                        "| open → kernel ready: median s | panels | note |")
    assert lines[1].count("|") == lines[0].count("|")
    assert lines[2] == "| 01_gradient_descent | 9.0 | 12.5 | 6.5 | 2.0 | 2 | over 10 s (max only) |"
    assert lines[3] == "| 07_adam | 12.0 | 13.0 | 9.5 | 2.5 | 3 | over 10 s |"
    assert lines[4] == "| 09_lr_schedules | – | – | 5.0 | – | 0 | cell 4: ValueError: bad |"
    assert bench.over_target(results) == ["07_adam"]


def test_without_chromium_it_says_why_and_exits_0_without_measuring(bench, monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(bench, "missing_requirements", lambda: "no Chromium at /nowhere; install it")

    def must_not_run(*args, **kwargs):
        raise AssertionError("measured although Chromium is missing")

    monkeypatch.setattr(bench, "measure", must_not_run)
    assert bench.main([f"notebooks/{LECTURES[0]}"]) == 0
    assert capsys.readouterr().out.strip() == "skipped: no Chromium at /nowhere; install it"


def test_the_scratch_checkout_has_the_makefile_and_links_the_venv_without_owning_it(bench, tmp_path):
    source, copy = tmp_path / "course", tmp_path / "scratch"
    (source / ".venv" / "bin").mkdir(parents=True)
    (source / ".venv" / ".installed-stamp").write_text("")
    (source / "jupyter-config" / "lab").mkdir(parents=True)
    (source / "jupyter-config" / "lab" / "overrides.json").write_text("{}")
    for name in ("Makefile", "constraints.txt", "pyproject.toml"):
        (source / name).write_text(name)
        os.utime(source / name, (1_000_000, 1_000_000))
    copy.mkdir()
    bench.add_checkout_files(copy, source)
    # make compares times: the copies must stay older than the .venv's stamp
    assert all((copy / n).stat().st_mtime == 1_000_000 for n in ("Makefile", "constraints.txt", "pyproject.toml"))
    assert (copy / "jupyter-config" / "lab" / "overrides.json").read_text() == "{}"
    assert (copy / ".venv").is_symlink() and (copy / ".venv").resolve() == (source / ".venv").resolve()
    shutil.rmtree(copy)  # what the benchmark's temporary folders do when they go
    assert (source / ".venv" / ".installed-stamp").exists()
