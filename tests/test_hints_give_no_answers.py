"""A hint names the mistake and where to look; it never states the answer (COURSE.md, issue 16).

Each derivation exercise's answer, written the ways a hint would write it, must not appear in
any hint or explanation of any exercise (spaces ignored): neither in its own hints, nor in
another exercise's (2.4's hint once quoted 1.2's answer).
"""

from __future__ import annotations

import pytest

from course_lib.exercises.checks import REGISTRY, discover, known_exercises
from course_lib.exercises.checks._framework import PREDICTION

# The answer (or the step of the derivation that is the answer) of each exercise that asks the
# learner to derive a formula, as a hint would spell it.
ANSWERS = {
    "1.1": ["θ←θ−lr·g", "subtractlr*grad", "p.add_(p.grad,alpha=-lr)"],
    "1.2": ["n/λ_max(XᵀX)", "n/λmax(XᵀX)", "Hessianis(2/n)·XᵀX"],
    "1.3": ["c_i²(1−ηλ_i)^(2k)", "c_i·(1−ηλ_i)^k"],
    "2.4": ["hascurvature2r²"],
    "5.2": ["t/every", "s₀+n·g²", "s₀+(t/every)", "/(√sum+eps):divide", "atsteptthefactoris",
            "stepsizeatsteptislr/(1+(t−1)", "onlytheappearancescount"],
    "2.6": ["qᵀΣq/(h(2−ηh))", "q_iᵀΣq_i", "η·qᵀΣq"],
    "4.4": ["(1−√(ημ))/(1+√(ημ))", "(1-√(ημ))/(1+√(ημ))", "(1+β)²s=4β"],
    "4.2": ["((1−β)/(1+β))²", "(1−β)²/(1+β)²", "1−4β/(1+β)²"],
    "4.3": ["b=−v/η", "=−v/η", "−v/η_new", "-velocity/new_lr", "/new_lr"],
    "3.3": ["√β≥√(ηL)−1", "√β≥1−√(ημ)", "max(1−√(ημ),√(ηL)−1)"],
    "4.5": ["2(1+β)/((1+2β)L)"],
    "2.2": ["(N−B)/(N−1)", "(N-B)/(N-1)", "finite-population correction"],
    "3.5": ["(η₁/η₂−1)·β^k", "ln(tol/(η₁/η₂−1))"],
    "6.2": ["(1−αⁿ)·g1²", "(1−α^(t−n))·g2²", "α^(t−n)"],
    "6.3": ["αᵗ(1−αᵗ)", "α^t(1−α^t)", "x(1−x)", "(1−αᵗ)g²", "(1−αᵗ)·g²"],
    "7.2": ["√(1−β₂ᵗ)", "(1−β₁)/(1−β₁ᵗ)"],
    "9.1": ["(1+β₁ᵗ)/(1−β₁ᵗ)", "(1+β₁^t)/(1−β₁^t)", "(1−β₁)/(1+β₁)·(1+β₁ᵗ)"],
    "9.2": ["(1−β₁)(β₁g₁+g₂)/(1−β₁²)", "β₂g₁²+g₂²"],
    "9.3": ["β(1−β^D)/(1−β)²", "β(1−βᴰ)/(1−β)²"],
    "11.2": ["min(1,max_norm/", "β^(T−k)", "β^{T-k}", "momentum**(", "c_k·g_k", "c_kg_k",
             "momentum*clipped+factor*g"],
    "10.2": ["lr/batch_size", "dividethelrbythebatchsize", "thefactorcancels"],
}


def _squeeze(text: str) -> str:
    return "".join(text.split())


def hint_texts(exercise_id: str) -> list[tuple[str, str]]:
    """(where, text) of every hint and explanation the checker of ``exercise_id`` can print."""
    checker = REGISTRY[exercise_id]
    found = [(f"{exercise_id} hint {m.hint_id!r}", m.message) for m in checker.mistakes]
    explain = getattr(checker, "explain", None)
    if callable(explain) and checker.kind == PREDICTION:
        inputs = dict(checker.make_cases()[0].inputs)
        explain = explain(inputs, 1.0, 2.0)
    if isinstance(explain, str):
        found.append((f"{exercise_id} explanation", explain))
    return found


def all_hints() -> list[tuple[str, str]]:
    discover()
    return [item for exercise_id in known_exercises() for item in hint_texts(exercise_id)]


def test_the_answers_listed_are_exercises_of_the_course():
    discover()
    assert set(ANSWERS) <= set(REGISTRY)


@pytest.mark.parametrize("exercise_id", sorted(ANSWERS))
def test_no_hint_states_this_exercises_answer(exercise_id):
    leaks = [f"{where}: {text}" for where, text in all_hints()
             for answer in ANSWERS[exercise_id] if _squeeze(answer) in _squeeze(text)]
    assert not leaks, "\n".join(leaks)


def test_2_2_points_at_sampling_without_replacement():
    discover()
    (message,) = [m.message for m in REGISTRY["2.2"].mistakes
                  if m.hint_id == "no_finite_population_correction"]
    assert "without replacement" in message.lower() and "B = N" in message
