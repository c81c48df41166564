"""postBuild, in a fresh environment, gives what `make install` gives, and every lecture runs there.

What repo2docker does for Binder, tljh-repo2docker and a Zero to JupyterHub image (docs/jupyterhub.md),
done here with a venv instead of conda (there is no conda on the course's machines):

1. the repository is copied (the files git tracks or would track: repo2docker's build context);
2. a fresh environment is made and environment.yml's ``pip:`` list is installed into it, in the
   copy's folder, as conda's pip step does (``-e .`` included);
3. postBuild runs there with that environment's Python first on PATH;
4. every lecture in notebooks/ runs top to bottom in that environment's own kernel
   (``course_lib.exercises.notebook_runner``, which ``make run-notebook`` uses), in the copy.

Two deliberate differences from a real image build, both to keep the test offline and
deterministic: step 2 applies constraints.txt (a real build lets pip pick the packages
environment.yml does not pin, and postBuild then moves them to the pins; the test removes one
of them before postBuild to check that postBuild puts it back at its pin), and environment.yml's
``--extra-index-url`` line (torch's CPU wheels on download.pytorch.org) is left to this machine's
pip configuration, which already serves the same torch 2.13.0+cpu wheel. nbgitpuller, the one
package outside `make install`, comes from pip's usual index (the test skips, saying so, where
that cannot be reached).

It takes a few minutes (one full install of the pinned packages, torch included, then twelve
lectures): COURSE_SKIP_POSTBUILD_TEST=1 skips it for a quick local run; `make test` runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "notebooks").glob("*.ipynb"))
DROPPED = "webencodings"  # a package environment.yml does not name; postBuild must bring it back

SKIP_SLOW = pytest.mark.skipif(os.environ.get("COURSE_SKIP_POSTBUILD_TEST") == "1",
                               reason="COURSE_SKIP_POSTBUILD_TEST=1")

LIST_DISTRIBUTIONS = ("import importlib.metadata as m, json; "
                      "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version "
                      "for d in m.distributions()}))")


# The variables an outer `make` (make test) hands down: with them a `make` run here prints
# "make[1]: Entering directory" around its output, as the Makefile's NBVAL line also avoids.
MAKE_VARIABLES = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


def _run(command, *, cwd, env=None, timeout=1200):
    env = {k: v for k, v in (os.environ if env is None else env).items() if k not in MAKE_VARIABLES}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def _copy_repository(target: Path) -> None:
    """The files git tracks or would track (not .venv, build/, caches): repo2docker's context."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout: everything but what .gitignore names
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(
            ".venv", "build", "dist", "__pycache__", "*.egg-info", ".pytest_cache", ".git"))
        return
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _pip_lines() -> list[str]:
    dependencies = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d)
    return [line for line in pip if not line.startswith("--extra-index-url")]


def _distributions(python: Path) -> dict[str, str]:
    return json.loads(_run([str(python), "-c", LIST_DISTRIBUTIONS], cwd=python.parent))


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _extras(text: str, where: str) -> set[str]:
    """The extras of the first `pip install -c constraints.txt -e ".[...]"` in ``text``: in the
    Makefile, `make install`'s (the `site` target's install of the book's tools comes later)."""
    found = re.findall(r'-c constraints\.txt -e "\.\[([a-z,]+)\]"', text)
    assert found, f"expected a `pip install -c constraints.txt -e \".[...]\"` in {where}"
    return set(found[0].split(","))


def test_postbuild_installs_the_extras_make_install_installs_plus_hub():
    """Static and quick: if `make install` gains an extra, postBuild must too."""
    assert _extras((ROOT / "postBuild").read_text(), "postBuild") == \
        _extras((ROOT / "Makefile").read_text(), "Makefile") | {"hub"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(repository copy, environment prefix, seconds per step) after steps 1-3."""
    base = tmp_path_factory.mktemp("postbuild")
    repo, prefix = base / "repo", base / "env"
    repo.mkdir()
    timings = {}
    start = time.monotonic()
    _copy_repository(repo)
    _run([sys.executable, "-m", "venv", str(prefix)], cwd=base)
    python = prefix / "bin" / "python"
    (base / "requirements.txt").write_text("\n".join(_pip_lines()) + "\n")
    env = {**os.environ, "PATH": f"{prefix / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PIP_NO_COMPILE": "1"}  # bytecode is written on first import instead; same packages
    env.pop("VIRTUAL_ENV", None)
    env.pop("COURSE_VENV", None)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "-c", "constraints.txt", "-r", str(base / "requirements.txt")],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    if install.returncode != 0 and "nbgitpuller" in install.stderr and "No matching distribution" in install.stderr:
        # The one package make install does not need comes from pip's index: offline, say so.
        pytest.skip("nbgitpuller==1.3.0 cannot be downloaded here (offline?):\n" + install.stderr[-500:])
    assert install.returncode == 0, f"pip install (environment.yml's list) failed:\n{install.stderr[-3000:]}"
    _run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", DROPPED], cwd=repo, env=env)
    timings["environment.yml"] = time.monotonic() - start
    start = time.monotonic()
    output = _run(["bash", str(repo / "postBuild")], cwd=repo, env=env)
    timings["postBuild"] = time.monotonic() - start
    return repo, prefix, env, timings, output


@SKIP_SLOW
def test_postbuild_installs_exactly_what_make_install_installs(built):
    repo, prefix, env, timings, output = built
    print(f"environment.yml step {timings['environment.yml']:.0f} s, postBuild {timings['postBuild']:.0f} s")
    fresh = _distributions(prefix / "bin" / "python")
    ours = _distributions(Path(sys.executable))  # this .venv, made by `make install`
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_canonical(name)] = version.strip()
    installer = {"pip", "setuptools", "wheel"}
    fresh_names = {_canonical(n) for n in fresh} - installer
    for name, version in fresh.items():
        if _canonical(name) in installer or _canonical(name) == "course-lib":
            continue
        assert _canonical(name) in pins, f"{name} {version} is installed but not pinned in constraints.txt"
        assert version.split("+")[0] == pins[_canonical(name)].split("+")[0], \
            f"{name}: {version} installed, constraints.txt pins {pins[_canonical(name)]}"
    make_install_names = {_canonical(n) for n in ours} - installer
    if "sphinx" not in make_install_names:
        # environment.yml also pins the web book's tools (pyproject's `site` extra), which
        # `make site` adds to .venv; `make test` builds the site first.
        pytest.skip("this .venv has no `site` extra yet: run `make site` first, as `make test` does")
    assert fresh_names - make_install_names == {"nbgitpuller"}, "the image adds only nbgitpuller to make site's .venv"
    assert make_install_names <= fresh_names, f"missing: {sorted(make_install_names - fresh_names)}"
    assert _canonical(DROPPED) in fresh_names


@SKIP_SLOW
def test_postbuild_puts_the_lab_settings_and_a_ready_venv_in_place(built):
    repo, prefix, env, _, _ = built
    settings = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(settings.read_text()) == json.loads(
        (ROOT / "jupyter-config" / "lab" / "settings" / "overrides.json").read_text())
    assert (repo / ".venv").resolve() == prefix.resolve()
    where = _run([str(prefix / "bin" / "python"), "-c", "import course_lib; print(course_lib.__file__)"],
                 cwd=prefix, env=env)
    assert Path(where.strip()).resolve().is_relative_to(repo.resolve()), "course_lib is not the editable copy"
    # make's targets find the environment ready: nothing to install, make check uses its Python.
    dry = _run(["make", "-n", "install"], cwd=repo, env=env)
    assert "pip install" not in dry and "venv" not in dry, dry
    # ... and the panels' tables made (make lab's `panels`), by this very code
    dry = _run(["make", "-n", "panels"], cwd=repo, env=env)
    assert "course_lib.web.export" not in dry, dry
    fingerprint = _run([str(prefix / "bin" / "python"), "-c",
                        "from course_lib.web.export import code_fingerprint; print(code_fingerprint())"],
                       cwd=repo, env=env).strip()
    manifest = json.loads((repo / "build" / "book-panels" / "manifest.json").read_text())
    assert {e["code"] for e in manifest} == {fingerprint}
    # A learner's copy pulled by nbgitpuller has no .venv: COURSE_VENV names the image's environment.
    learner = repo.parent / "learner-copy"
    learner.mkdir(exist_ok=True)
    for name in ("Makefile", "constraints.txt", "pyproject.toml"):
        shutil.copy2(repo / name, learner / name)
    shutil.copytree(repo / "jupyter-config", learner / "jupyter-config", dirs_exist_ok=True)
    shutil.copytree(repo / "exercises", learner / "exercises", dirs_exist_ok=True)
    learner_env = {**env, "COURSE_VENV": str(prefix)}
    dry = _run(["make", "-n", "check", "NB=exercises/01_gradient_descent.ipynb"], cwd=learner, env=learner_env)
    assert f"{prefix}/bin/python -m course_lib.exercises.make_check" in dry and "pip" not in dry, dry
    # `make check` alone checks the learner's exercises/, not the image's copy that course_lib sits in.
    dry = _run(["make", "-n", "check"], cwd=learner, env=learner_env)
    named = dry.split("course_lib.exercises.make_check", 1)[1].split()
    assert named == sorted(f"exercises/{p.name}" for p in (learner / "exercises").glob("*.ipynb")), dry
    assert not (learner / ".venv").exists()


@SKIP_SLOW
def test_every_lecture_runs_in_the_postbuild_environment(built):
    repo, prefix, env, _, _ = built
    lectures = [str(Path("notebooks") / path.name) for path in LECTURES]
    assert len(lectures) >= 12
    start = time.monotonic()
    # Executes each lecture in place in the copy, with that environment's ipykernel; a cell that
    # raises fails the run (00_welcome's `make check` cell runs make in the copy, through .venv).
    output = _run([str(prefix / "bin" / "python"), "-m", "course_lib.exercises.notebook_runner", *lectures],
                  cwd=repo, env=env, timeout=1800)
    ran = [line for line in output.splitlines() if line.startswith("ran ")]
    print("\n".join(ran), f"\n{len(ran)} lectures in {time.monotonic() - start:.0f} s")
    assert len(ran) == len(lectures), output


def _git(*args, cwd):
    return _run(["git", "-c", "user.name=Instructor", "-c", "user.email=instructor@example.org",
                 "-c", "init.defaultBranch=main", *args], cwd=cwd)


def _answer_cells(nb):
    return [cell for cell in nb.cells if "answer" in cell.metadata.get("tags", [])]


@SKIP_SLOW
def test_nbgitpuller_updates_a_learners_copy_and_keeps_their_answers(built, tmp_path):
    """What docs/jupyterhub.md says nbgitpuller does, with the image's nbgitpuller on course files."""
    import nbformat

    _, prefix, env, _, _ = built
    instructor, learner = tmp_path / "instructor", tmp_path / "learner"
    exercise, lecture = "exercises/01_gradient_descent.ipynb", "notebooks/01_gradient_descent.ipynb"
    for name in (exercise, lecture):
        (instructor / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, instructor / name)
    _git("init", "-q", cwd=instructor)
    _git("add", "-A", cwd=instructor)
    _git("commit", "-qm", "the course", cwd=instructor)
    pull = [str(prefix / "bin" / "gitpuller"), str(instructor), "main", str(learner)]
    _run(pull, cwd=tmp_path, env=env)  # the first click: a clone

    # The learner answers an exercise and runs it, deletes the lecture, and keeps notes of their own.
    nb = nbformat.read(learner / exercise, as_version=4)
    answer = _answer_cells(nb)[0]
    answer.source = "# my answer\n" + answer.source
    answer.execution_count = 3
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran it\n")]
    nbformat.write(nb, learner / exercise)  # as JupyterLab saves (nbformat, sorted keys, indent 1)
    (learner / lecture).unlink()
    (learner / "exercises" / "notes.ipynb").write_text("the learner's notes")

    # The instructor fixes the exercise's first cell, rewrites the same answer stub, adds notes.ipynb.
    nb = nbformat.read(instructor / exercise, as_version=4)
    nb.cells[0].source += "\n\nA correction from the instructor."
    _answer_cells(nb)[0].source = "# a new stub\n" + _answer_cells(nb)[0].source
    nbformat.write(nb, instructor / exercise)
    (instructor / "exercises" / "notes.ipynb").write_text("the instructor's notes")
    _git("add", "-A", cwd=instructor)
    _git("commit", "-qm", "an update", cwd=instructor)

    _run(pull, cwd=tmp_path, env=env)  # the next click
    nb = nbformat.read(learner / exercise, as_version=4)
    nbformat.validate(nb)
    # Where both changed the same lines, the learner's lines win (git merge -Xours) ...
    assert _answer_cells(nb)[0].source.startswith("# my answer\n")
    assert "a new stub" not in _answer_cells(nb)[0].source
    assert _answer_cells(nb)[0].outputs[0]["text"] == "ran it\n"
    # ... the instructor's change elsewhere in the same notebook arrives ...
    assert nb.cells[0].source.endswith("A correction from the instructor.")
    # ... a deleted file comes back fresh, and a learner's file in the way of a new one is renamed.
    assert (learner / lecture).read_bytes() == (instructor / lecture).read_bytes()
    assert (learner / "exercises" / "notes.ipynb").read_text() == "the instructor's notes"
    renamed = [p for p in (learner / "exercises").glob("notes__*.ipynb")]
    assert len(renamed) == 1 and renamed[0].read_text() == "the learner's notes"
