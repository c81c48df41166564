"""The exercise generator (course_lib.exercises.generate.generate) and the authoring format of solutions/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.exercises import generate
from course_lib.exercises.checks import known_exercises


def _notebook(*cells):
    nb = new_notebook(cells=list(cells))
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    return json.loads(nbformat.writes(nb))


def _answer(source, **kw):
    cell = new_code_cell(source, metadata={"tags": ["answer"]}, **kw)
    return cell


def _check(exercise_id):
    return new_code_cell(f'check("{exercise_id}", f)', metadata={"tags": ["check"]},
                         outputs=[nbformat.v4.new_output(
                             "stream", name="stdout",
                             text=f"✅ Exercise {exercise_id} passed (3 cases)\n")],
                         execution_count=3)


def _source(cell):
    return "".join(cell["source"])


# ---------------------------------------------------------------- the transformation


def test_solution_region_becomes_a_stub_at_the_marker_indentation():
    solution = _notebook(
        _answer("def f(x):\n    '''Double x.'''\n    ### BEGIN SOLUTION\n    y = 2 * x\n"
                "    return y\n    ### END SOLUTION", execution_count=2,
                outputs=[nbformat.v4.new_output("stream", name="stdout", text="hi\n")]),
        _check("3.1"))
    exercise = generate.generate(solution)
    answer = exercise["cells"][0]
    assert _source(answer) == ("def f(x):\n    '''Double x.'''\n    raise NotImplementedError("
                               '"Exercise 3.1: replace this line with your code")')
    assert answer["outputs"] == [] and answer["execution_count"] is None
    assert answer["id"] == "cell-0" and answer["metadata"] == {"tags": ["answer"]}
    check = exercise["cells"][1]
    assert check["outputs"] == [] and check["execution_count"] is None  # no verdict before work
    assert check["source"] == solution["cells"][1]["source"]
    assert check["metadata"] == solution["cells"][1]["metadata"] and check["id"] == "cell-1"


def test_nested_indentation_and_several_regions_in_one_cell():
    solution = _notebook(
        _answer("class Step:\n    def a(self):\n        ### BEGIN SOLUTION\n        return 1\n"
                "        ### END SOLUTION\n\n    def b(self):\n        if True:\n"
                "            ### BEGIN SOLUTION 7.2\n            return 2\n"
                "            ### END SOLUTION\n"),
        _check("7.1"))
    source = _source(generate.generate(solution)["cells"][0])
    assert '        raise NotImplementedError("Exercise 7.1:' in source
    assert '            raise NotImplementedError("Exercise 7.2:' in source
    assert "return 1" not in source and "return 2" not in source
    assert source.endswith("\n")  # the cell's own trailing newline is kept


def test_markdown_answer_cells_get_a_prompt():
    solution = _notebook(
        new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION",
                          metadata={"tags": ["answer"]}),
        _check("10.3"))
    assert _source(generate.generate(solution)["cells"][0]) == (
        "Why?\n\n" + generate.MARKDOWN_PROMPT)


def test_other_cells_and_metadata_are_unchanged():
    solution = _notebook(new_markdown_cell("# Title"),
                         new_code_cell("import torch", execution_count=1),
                         _answer("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"),
                         _check("1.1"))
    solution["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                          "language": "python"}
    exercise = generate.generate(solution)
    assert exercise["metadata"] == solution["metadata"]
    assert exercise["cells"][:2] == solution["cells"][:2]  # other cells keep their outputs
    assert exercise["cells"][3]["outputs"] == []            # a check cell does not


def test_markdown_answer_with_html_markers_and_an_exercise_id_in_metadata():
    written = new_markdown_cell("**3.6** Why?\n\n<!-- BEGIN SOLUTION -->\nBecause the model "
                                "answer says so.\n<!-- END SOLUTION -->\n",
                                metadata={"tags": ["answer"], "exercise_id": "3.6"})
    exercise = generate.generate(_notebook(written))  # no check cell needed
    assert _source(exercise["cells"][0]) == "**3.6** Why?\n\n" + generate.MARKDOWN_PROMPT + "\n"
    assert exercise["cells"][0]["metadata"]["exercise_id"] == "3.6"


def test_solution_only_cells_and_text_are_left_out():
    solution = _notebook(
        new_markdown_cell("Before.\n<!-- BEGIN SOLUTION ONLY -->\nThe gap is −ηβg₁.\n"
                          "<!-- END SOLUTION ONLY -->\nAfter."),
        new_code_cell("print(optimal_lr)", metadata={"tags": ["solution-only"]},
                      outputs=[nbformat.v4.new_output("stream", name="stdout", text="0.42\n")]),
        new_markdown_cell("<!-- BEGIN SOLUTION ONLY -->\nAll of it.\n<!-- END SOLUTION ONLY -->"),
        new_markdown_cell("Kept."))
    exercise = generate.generate(solution)
    assert [_source(c) for c in exercise["cells"]] == ["Before.\nAfter.", "Kept."]
    assert [c["id"] for c in exercise["cells"]] == ["cell-0", "cell-3"]


@pytest.mark.parametrize("text, message", [
    ("<!-- BEGIN SOLUTION ONLY -->\nx", "never closed"),
    ("x\n<!-- END SOLUTION ONLY -->", "without <!-- BEGIN SOLUTION ONLY -->"),
    ("<!-- BEGIN SOLUTION ONLY -->\n<!-- BEGIN SOLUTION ONLY -->\n<!-- END SOLUTION ONLY -->",
     "inside another"),
])
def test_solution_only_marker_mistakes_are_clear_errors(text, message):
    with pytest.raises(generate.AuthoringError, match=message):
        generate.generate(_notebook(new_markdown_cell(text)), name="nb.ipynb")


def test_dumps_is_byte_identical_to_nbformat():
    solution = _notebook(new_markdown_cell("Unicode: θ ← θ − γ·g"), new_code_cell("x = 1\ny = 2"))
    assert generate.dumps(solution) == nbformat.writes(nbformat.from_dict(solution)) + "\n"


@pytest.mark.parametrize("source, message", [
    ("def f():\n    pass", "without a ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "top level of the cell"),
    ("def f():\n    ### BEGIN SOLUTION\n    pass", "never closed"),
    ("def f():\n    pass\n    ### END SOLUTION", "without ### BEGIN SOLUTION"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION",
     "inside another"),
])
def test_authoring_mistakes_are_clear_errors(source, message):
    with pytest.raises(generate.AuthoringError, match=message):
        generate.generate(_notebook(_answer(source), _check("1.1")), name="nb.ipynb")


def test_region_without_an_exercise_id_is_an_error():
    solution = _notebook(_answer("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"))
    with pytest.raises(generate.AuthoringError, match="no exercise id"):
        generate.generate(solution)


def test_answer_cell_without_an_id_is_an_error():
    solution = _notebook(_answer("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"),
                         _check("1.1"))
    del solution["cells"][0]["id"]
    with pytest.raises(generate.AuthoringError, match="need a cell id"):
        generate.generate(solution)


def test_check_mode_reports_stale_and_missing_files(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    nb = _notebook(_answer("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"),
                   _check("1.1"))
    (tmp_path / "solutions" / "01_x.ipynb").write_text(generate.dumps(nb), encoding="utf-8")
    (tmp_path / "exercises" / "05_orphan.ipynb").write_text("{}", encoding="utf-8")
    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    assert not (tmp_path / "exercises" / "01_x.ipynb").exists()
    (tmp_path / "exercises" / "05_orphan.ipynb").unlink()
    assert generate.main(["--root", str(tmp_path)]) == 0
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0
    # regenerating is byte-stable
    written = (tmp_path / "exercises" / "01_x.ipynb").read_bytes()
    assert generate.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "exercises" / "01_x.ipynb").read_bytes() == written


# ---------------------------------------------------------------- the course's own notebooks


def test_exercises_folder_is_what_the_generator_makes(repo_root):
    completed = subprocess.run([sys.executable, "-m", "course_lib.exercises.generate", "--check"],
                               cwd=repo_root, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _solution_notebooks(repo_root):
    return sorted((repo_root / "solutions").glob("*.ipynb"))


def test_solutions_follow_the_authoring_format(repo_root):
    registered = set(known_exercises())
    for path in _solution_notebooks(repo_root):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        ids = [cell.id for cell in nb.cells]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate cell ids"
        check_cells = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
        answer_cells = [c for c in nb.cells if "answer" in c.metadata.get("tags", [])]
        # a written answer (a markdown answer cell with its exercise_id) has no check cell
        written = [c for c in answer_cells
                   if c.cell_type == "markdown" and c.metadata.get("exercise_id")]
        assert len(check_cells) + len(written) >= 3 and answer_cells, f"{path.name}: needs exercises"
        for cell in check_cells:
            match = re.fullmatch(r'check\("(\d+\.\d+)", \w+\)', cell.source.strip())
            assert match, f"{path.name} cell {cell.id}: a check cell holds one check() call"
            exercise_id = match.group(1)
            assert exercise_id in registered, f"{path.name}: no checker for {exercise_id}"
            assert path.name.startswith(f"{int(exercise_id.split('.')[0]):02d}_")
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert re.fullmatch(rf"✅ Exercise {re.escape(exercise_id)} passed \(\d+ cases?\)\n",
                                text), f"{path.name} cell {cell.id}: stored output is {text!r}"


def _exercise_pairs(repo_root):
    return [(path, repo_root / "exercises" / path.name) for path in _solution_notebooks(repo_root)]


def test_no_exercise_notebook_shows_a_verdict_before_work(repo_root):
    for _, path in _exercise_pairs(repo_root):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell_tags = cell.metadata.get("tags", [])
            if "check" in cell_tags or "answer" in cell_tags:
                assert cell.outputs == [] and cell.execution_count is None, \
                    f"{path.name} cell {cell.id}: stored output in a check/answer cell"
            text = json.dumps(cell.outputs, ensure_ascii=False)
            assert not re.search(r"(✅|❌) Exercise \d", text), \
                f"{path.name} cell {cell.id}: a stored verdict line"


def _solution_regions(text, begin, end):
    """The bodies between begin/end marker lines (markers excluded)."""
    bodies, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(begin):
            current = []
        elif stripped.startswith(end) and current is not None:
            bodies.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return bodies


def test_no_exercise_notebook_gives_an_answer_away(repo_root):
    """No answer cell's solution body and no solution-only text or cell is in exercises/:
    neither as a whole, nor any of its lines that appear nowhere else in the solution."""
    for solution_path, exercise_path in _exercise_pairs(repo_root):
        solution = nbformat.read(solution_path, as_version=4)
        exercise_text = "\n".join(c.source for c in nbformat.read(exercise_path, as_version=4).cells)
        hidden: list[str] = []
        for cell in solution.cells:
            cell_tags = cell.metadata.get("tags", [])
            if "solution-only" in cell_tags:
                hidden.append(cell.source)
            if "answer" in cell_tags:
                hidden += _solution_regions(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
                hidden += _solution_regions(cell.source, "<!-- BEGIN SOLUTION -->",
                                            "<!-- END SOLUTION -->")
            if cell.cell_type == "markdown":
                hidden += _solution_regions(cell.source, "<!-- BEGIN SOLUTION ONLY -->",
                                            "<!-- END SOLUTION ONLY -->")
        hidden = [body for body in hidden if body.strip()]
        visible = "\n".join(c.source for c in solution.cells)
        for body in hidden:
            visible = visible.replace(body, "")
        for body in hidden:
            assert body.strip() not in exercise_text, f"{exercise_path.name} gives away:\n{body}"
            for line in body.splitlines():
                line = line.strip()
                if len(line) >= 20 and line not in visible:
                    assert line not in exercise_text, f"{exercise_path.name} gives away: {line}"


def test_nbval_and_the_notebook_runner_use_the_same_warning_filters(repo_root):
    """Stored outputs (notebook_runner) and fresh runs (nbval via the Makefile) must see the
    same warnings, or a warning's stderr would make a notebook fail spuriously."""
    from course_lib.exercises.notebook_runner import KERNEL_WARNINGS

    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    assert f"NB_WARNINGS := {KERNEL_WARNINGS}\n" in makefile


def test_nbval_in_strict_mode_fails_a_wrong_solution_whatever_its_stored_output(repo_root,
                                                                                 tmp_path):
    """CI's mechanism: the Makefile runs nbval over solutions/ with COURSE_CHECK_STRICT=1, so
    a check that does not pass fails its cell even though the stored ✅ output is unchanged."""
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    assert "COURSE_CHECK_STRICT=1 $(NBVAL) -q $(SOLUTION_NOTEBOOKS)" in makefile
    solution = nbformat.read(repo_root / "solutions" / "01_gradient_descent.ipynb", as_version=4)
    answer = next(c for c in solution.cells if "answer" in c.metadata.get("tags", []))
    body = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", answer.source, re.S)
    indent = re.match(r"\s*", body.group(1)).group(0)
    answer.source = answer.source.replace(body.group(0), f"### BEGIN SOLUTION\n{indent}return "
                                          "None\n" + indent + "### END SOLUTION")
    path = tmp_path / "01_gradient_descent.ipynb"
    nbformat.write(solution, path)
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-q",
               "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(path)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    env.pop("COURSE_CHECK_STRICT", None)
    lax = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    strict = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                            env={**env, "COURSE_CHECK_STRICT": "1"})
    assert "AssertionError" in strict.stdout and strict.returncode != 0, strict.stdout[-3000:]
    assert "AssertionError" not in lax.stdout  # without it, only the output comparison fails
