"""Issue 7: no exercise is answered by a line of its lecture. The lectures 01-04 must not state
the results that exercises 2.2, 3.4 and 4.5 ask the learner to derive, and each lecture's
exercise list must name every exercise of its notebook (the ids the checkers register).

The patterns are the ways these formulas are written in markdown/LaTeX and in code; a lecture
that needs one of them again should move it into the exercise's solution-only text instead."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _texts(notebook: str) -> list[tuple[str, str]]:
    """(cell id, source and text outputs) for every cell of a lecture notebook."""
    cells = json.loads((REPO / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    texts = []
    for cell in cells:
        parts = ["".join(cell["source"])]
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
        texts.append((cell.get("id", "?"), "\n".join(parts)))
    return texts


def _squeeze(text: str) -> str:
    """Drop spaces and LaTeX spacing so that '2(1 + \\beta)/(1+2\\beta)' and '2(1+β)/(1+2β)'
    look alike."""
    text = text.replace("\\beta", "β").replace("\\alpha", "α").replace("\\,", "")
    text = text.replace("\\dfrac", "\\frac").replace("−", "-")
    return re.sub(r"\s+", "", text)


GIVEN_AWAY = {
    # exercise 4.5: Nesterov's divergence limit and its value at β = 0.9
    "04_nesterov.ipynb": [r"1\+2β", r"\b1\.36\b", r"\b1\.357"],
    # exercise 2.2: the finite-population correction factor
    "02_batch_minibatch_sgd.ipynb": [r"\(N-B\)/\(N-1\)", r"\\frac\{N-B\}\{N-1\}",
                                     r"\(n-b\)/\(n-1\)"],
    # exercise 3.4: the gap after t steps, or its t → ∞ limit
    "03_momentum.ipynb": [r"αβ/\(1-β\)g_1", r"\\frac\{αβ\}\{1-β\}", r"αβ\(1-β\^t\)",
                          r"\(1-β\^t\)/\(1-β\)",
                          # exercise 3.2: the per-step torch lr of the bias-corrected EMA
                          r"/\(1-β\^t\)"],
}


@pytest.mark.parametrize("notebook", sorted(GIVEN_AWAY))
def test_lecture_does_not_state_what_an_exercise_asks_for(notebook):
    for cell_id, text in _texts(notebook):
        squeezed = _squeeze(text)
        for pattern in GIVEN_AWAY[notebook]:
            assert not re.search(pattern, squeezed), \
                f"{notebook} cell {cell_id} states {pattern!r}, an exercise's answer"


EXERCISE_LISTS = {
    "01_gradient_descent.ipynb": ("exercises-pointer", ["1.1", "1.2", "1.3", "1.4"]),
    "02_batch_minibatch_sgd.ipynb": ("bms-exercises", ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6"]),
    "03_momentum.ipynb": ("m03-summary", ["3.1", "3.2", "3.3", "3.4", "3.5", "3.6"]),
    "04_nesterov.ipynb": ("nag-next", ["4.1", "4.2", "4.3", "4.4", "4.5", "4.6"]),
}


@pytest.mark.parametrize("notebook", sorted(EXERCISE_LISTS))
def test_lecture_lists_every_exercise_of_its_notebook(notebook):
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    cell_id, listed = EXERCISE_LISTS[notebook]
    chapter = listed[0].split(".")[0]
    registered = sorted(key for key in REGISTRY if key.split(".")[0] == chapter)
    assert registered == listed, "the lecture's list below must follow the checkers"
    text = dict(_texts(notebook))[cell_id]
    for exercise_id in listed:
        assert re.search(rf"(?<![\d.]){re.escape(exercise_id)}(?![\d])", text), \
            f"{notebook} cell {cell_id} does not name exercise {exercise_id}"
    assert "any further exercises" not in text
