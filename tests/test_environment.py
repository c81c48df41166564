"""The three places that name versions agree: constraints.txt (what pip installs),
pyproject.toml (what the package asks for) and environment.yml (conda/Binder)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = PIN.match(line)
        if match:
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _constraints() -> dict[str, str]:
    return _pins((ROOT / "constraints.txt").read_text().splitlines())


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    return project["dependencies"] + extras


def test_torch_is_pinned_to_the_cpu_wheel_version_everywhere():
    assert _constraints()["torch"] == "2.13.0"
    assert "torch==2.13.0" in _pyproject_requirements()
    env_pins = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert env_pins["torch"] == "2.13.0"


def test_every_pyproject_requirement_is_an_exact_pin_matching_constraints():
    constraints = _constraints()
    for requirement in _pyproject_requirements():
        match = PIN.match(requirement)
        assert match, f"pyproject.toml requirement is not an exact pin: {requirement!r}"
        name, version = _canonical(match.group(1)), match.group(2)
        assert constraints.get(name) == version, f"{name}: pyproject {version}, constraints {constraints.get(name)}"


def test_environment_yml_carries_the_same_pins_as_constraints():
    constraints = _constraints()
    env_pins = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert env_pins, "environment.yml names no pinned packages"
    for name, version in env_pins.items():
        assert constraints.get(name) == version, f"{name}: environment.yml {version}, constraints {constraints.get(name)}"
    asked_for = {_canonical(PIN.match(r).group(1)) for r in _pyproject_requirements()}
    assert asked_for <= set(env_pins), f"missing from environment.yml: {sorted(asked_for - set(env_pins))}"


def test_every_constraint_is_exact():
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert PIN.match(line), f"constraints.txt line is not an exact pin: {line!r}"
