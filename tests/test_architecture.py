"""docs/architecture.md is the map of course_lib: its tree must list every module, and every import
must respect the layering rule stated under it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "course_lib"


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"^```\n(.*?)^```", text, flags=re.M | re.S)


def documented_tree(text: str) -> set[str]:
    """Paths (relative to the repository) named by the first code block, a 2-space indented tree."""
    tree = _code_blocks(text)[0].splitlines()
    assert tree[0].strip() == "course_lib/", "the map's first code block must be the course_lib/ tree"
    stack: list[str] = []
    paths = set()
    for line in tree:
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack[depth:] = [name.rstrip("/")]
        if not name.endswith("/"):
            paths.add("/".join(stack))
    return paths


def layering_rule(text: str) -> dict[str, set[str]]:
    """The second code block: each package of course_lib and the packages it may import."""
    rule = {}
    for line in _code_blocks(text)[1].splitlines():
        if line.strip():
            package, *allowed = line.split()
            rule[package] = {a for a in allowed if a != "-"}
    return rule


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def course_imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for every import of course_lib in ``source``, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            if base == "course_lib":  # from course_lib import problems: the names are packages
                found += [(node.lineno, f"course_lib.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, name) for line, name in found
            if name == "course_lib" or name.startswith("course_lib.")]


def layering_violations(files: dict[str, str], rule: dict[str, set[str]]) -> list[str]:
    """Imports in ``files`` (module name -> source) that run against ``rule``."""
    problems = []
    for module, source in sorted(files.items()):
        parts = module.split(".")
        own = parts[1] if len(parts) > 1 else None
        is_package = module in packages_of(files)
        for line, imported in course_imports(source, module, is_package):
            target = imported.split(".")
            target_package = target[1] if len(target) > 1 else None
            if own is None:
                problems.append(f"{module}:{line} imports {imported}: course_lib/__init__.py imports "
                                "nothing, so importing one package never loads another")
            elif own not in rule:
                problems.append(f"{module}: package {own!r} is not in the layering rule")
            elif target_package is None:
                problems.append(f"{module}:{line} imports course_lib itself; name the package")
            elif target_package != own and target_package not in rule[own]:
                problems.append(f"{module}:{line} imports {imported}: {own} may import only "
                                f"{sorted(rule[own]) or 'nothing else of the course'}")
    return problems


def packages_of(files: dict[str, str]) -> set[str]:
    names = set(files)
    return {n for n in names if any(m.startswith(n + ".") for m in names)}


def course_files() -> dict[str, str]:
    return {module_name(path): path.read_text(encoding="utf-8")
            for path in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in path.parts}


def test_the_map_lists_every_module_and_nothing_else():
    on_disk = {str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*")
               if path.is_file() and path.suffix in (".py", ".js") and "__pycache__" not in path.parts}
    documented = documented_tree(DOC.read_text(encoding="utf-8"))
    assert not on_disk - documented, f"missing from docs/architecture.md's tree: {sorted(on_disk - documented)}"
    assert not documented - on_disk, f"in docs/architecture.md's tree but not on disk: {sorted(documented - on_disk)}"


def test_the_rule_names_every_package_of_course_lib():
    rule = layering_rule(DOC.read_text(encoding="utf-8"))
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert set(rule) == packages


def test_every_import_respects_the_layering():
    rule = layering_rule(DOC.read_text(encoding="utf-8"))
    assert layering_violations(course_files(), rule) == []


@pytest.mark.parametrize("module, source", [
    ("course_lib.problems.landscapes", "from course_lib.ui.plots import PathFigure\n"),
    ("course_lib.optim.sgd", "def f():\n    import course_lib.theory.momentum\n"),
    ("course_lib.exercises.checks.adam", "from ...ui import slider_panel\n"),
    ("course_lib.ui.panels.adam", "from course_lib import grade\n"),
    ("course_lib.experiments.trajectories", "from course_lib.exercises.checks import check\n"),
])
def test_a_misplaced_import_is_caught(module, source):
    """The rule bites: each of these imports runs upward or sideways."""
    rule = layering_rule(DOC.read_text(encoding="utf-8"))
    files = course_files()
    files[module] = files.get(module, "") + source
    found = layering_violations(files, rule)
    assert len(found) == 1 and found[0].startswith(module), found


def test_a_module_missing_from_the_map_is_caught():
    text = DOC.read_text(encoding="utf-8").replace("    digits.py", "    numbers.py", 1)
    assert "course_lib/problems/digits.py" not in documented_tree(text)
