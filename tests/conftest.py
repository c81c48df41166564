"""Shared test settings and fixtures.

Notebook runs: the unit tests that execute notebooks (tests/test_exercises_stubs.py) use
``course_lib.exercises.notebook_runner``, whose kernels run with ``KERNEL_WARNINGS`` (deprecation warnings
off), the same filters ``make test`` / ``make check`` give nbval through the Makefile's
``NB_WARNINGS``; so a dependency's deprecation notice can never appear as stderr in one run and
not in another. nbval's output sanitizers are in tests/nbval_sanitize.cfg.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    """The course folder (holds solutions/, exercises/, notebooks/)."""
    return REPO_ROOT


@pytest.fixture
def scratch_registry():
    """Lets a test register throwaway checkers; they are removed again afterwards."""
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    before = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(before)
