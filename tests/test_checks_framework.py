"""The check framework: registration, discovery, the built-in detectors and the printed report.

Throwaway checkers are registered under ids 90.x (``scratch_registry`` removes them again);
their references are plain torch so these tests do not depend on any topic module.
"""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises import checks
from course_lib.exercises.checks import Case, KnownMistake, in_place, register, returns, run_check


def add_one_inplace(param, grad):
    param.add_(grad)


def _step_cases(rng):
    for dtype in (torch.float32, torch.float64):
        yield Case(f"random {dtype}", param=torch.randn(4, generator=rng, dtype=dtype),
                   grad=torch.randn(4, generator=rng, dtype=dtype))
    yield Case("0-dim", param=torch.tensor(1.0), grad=torch.tensor(2.0))


def _register_step(registry, exercise_id="90.1", mistakes=()):
    register(exercise_id, reference=add_one_inplace, call=in_place("param"),
             mistakes=mistakes)(_step_cases)


def _register_pure(registry, exercise_id="90.2", mistakes=()):
    def cases(rng):
        yield Case("a vector", x=torch.randn(3, generator=rng, dtype=torch.float64))
        yield Case("a matrix", x=torch.randn(2, 3, generator=rng, dtype=torch.float64))

    register(exercise_id, reference=lambda x: 2 * x, mistakes=mistakes)(cases)


# ---------------------------------------------------------------- passing and the printed line


def test_reference_passes_and_counts_cases(scratch_registry):
    _register_step(scratch_registry)
    result = run_check("90.1", add_one_inplace)
    assert result.passed and result.status == "passed"
    assert result.n_cases == 3
    assert result.report() == "✅ Exercise 90.1 passed (3 cases)"


def test_check_prints_one_line_on_success_and_returns_none(scratch_registry, capsys):
    _register_step(scratch_registry)
    assert checks.check("90.1", add_one_inplace) is None
    assert capsys.readouterr().out == "✅ Exercise 90.1 passed (3 cases)\n"


def test_failure_report_starts_with_the_stable_line(scratch_registry, capsys):
    _register_step(scratch_registry)
    checks.check("90.1", lambda param, grad: param.sub_(grad))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("❌ Exercise 90.1 not passed yet: param")
    assert lines[1] == "   Case: random torch.float32"
    assert lines[2].startswith("   Expected: tensor([")
    assert lines[3].startswith("   Received: tensor([")


# ---------------------------------------------------------------- built-in detectors


def test_not_implemented_is_not_attempted(scratch_registry):
    _register_step(scratch_registry)

    def stub(param, grad):
        raise NotImplementedError("Exercise 90.1: replace this line with your code")

    result = run_check("90.1", stub)
    assert not result.passed and result.status == "not_attempted"
    assert result.first_line() == ("❌ Exercise 90.1 not passed yet: not attempted yet (your "
                                   "function still raises NotImplementedError)")


def test_learner_exception_is_reported_with_the_learner_line_only(scratch_registry):
    _register_step(scratch_registry)

    def broken(param, grad):
        scale = {"a": 1}["b"]  # the learner's own bug
        param.add_(scale * grad)

    result = run_check("90.1", broken)
    assert result.status == "error"
    assert result.reason == "your function raised KeyError: 'b'"
    assert result.details == ["In your code, line "
                              f"{broken.__code__.co_firstlineno + 1}: "
                              "scale = {\"a\": 1}[\"b\"]  # the learner's own bug"]
    assert "Traceback" not in result.report() and "_framework" not in result.report()


def test_returned_new_tensor_is_updated_a_copy(scratch_registry):
    _register_step(scratch_registry)
    result = run_check("90.1", lambda param, grad: param + grad)
    assert result.hint_id == "updated_a_copy"
    assert "returned a new tensor" in result.reason


def test_rebinding_the_name_is_updated_a_copy(scratch_registry):
    _register_step(scratch_registry)

    def rebinds(param, grad):
        param = param + grad  # noqa: F841  (the mistake under test)

    result = run_check("90.1", rebinds)
    assert result.hint_id == "updated_a_copy"
    assert result.reason == "param was not changed by your function"


def test_writing_into_a_read_only_input_is_reported(scratch_registry):
    _register_step(scratch_registry)

    def clobbers_grad(param, grad):
        param.add_(grad.mul_(1.0).add_(0.0))
        grad.zero_()

    result = run_check("90.1", clobbers_grad)
    assert result.hint_id == "changed_input"
    assert "`grad`" in result.reason


def test_returned_none_gets_its_hint(scratch_registry):
    _register_pure(scratch_registry)

    def forgot_return(x):
        2 * x

    result = run_check("90.2", forgot_return)
    assert result.hint_id == "returned_none"
    assert "return" in result.hint


def test_wrong_shape_dtype_and_nan_are_named(scratch_registry):
    _register_pure(scratch_registry)
    assert "wrong shape: expected (3,), got (1, 3)" in run_check(
        "90.2", lambda x: (2 * x).reshape(1, -1)).reason
    assert "wrong dtype: expected torch.float64, got torch.float32" in run_check(
        "90.2", lambda x: (2 * x).float()).reason
    assert "NaN" in run_check("90.2", lambda x: x * float("nan")).reason
    assert "expected a tensor, got float" in run_check("90.2", lambda x: 1.0).reason


def test_not_callable_is_explained():
    result = run_check("1.1", 3.0)
    assert result.status == "error"
    assert "needs your function" in result.reason


def test_unknown_id_lists_known_ids():
    result = run_check("99.9", add_one_inplace)
    assert result.status == "unknown_exercise"
    assert "there is no exercise '99.9'" in result.reason
    assert "1.1, 1.2, 1.3" in result.reason


# ---------------------------------------------------------------- hints from known mistakes


def test_known_mistake_hint_is_printed_when_the_learner_matches_it(scratch_registry):
    _register_pure(scratch_registry, mistakes=[
        KnownMistake("triple", lambda x: 3 * x, "Two, not three."),
        KnownMistake("square", lambda x: x * x, "Multiply, do not square."),
    ])
    result = run_check("90.2", lambda x: x ** 2)
    assert (result.hint_id, result.hint) == ("square", "Multiply, do not square.")
    assert result.report().splitlines()[-1] == "   Hint: Multiply, do not square."


def test_no_hint_when_no_known_mistake_matches(scratch_registry):
    _register_pure(scratch_registry, mistakes=[KnownMistake("triple", lambda x: 3 * x, "...")])
    result = run_check("90.2", lambda x: 4 * x)
    assert not result.passed and result.hint_id is None
    assert "Hint" not in result.report()


def test_a_wrong_function_that_raises_is_skipped(scratch_registry):
    def raises(x):
        raise RuntimeError("boom")

    _register_pure(scratch_registry, mistakes=[KnownMistake("raises", raises, "never"),
                                               KnownMistake("triple", lambda x: 3 * x, "3")])
    assert run_check("90.2", lambda x: 3 * x).hint_id == "triple"


# ---------------------------------------------------------------- multi-step state


def _momentum_reference(param, grad, state, *, momentum):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad)
    param.sub_(0.1 * state["momentum_buffer"])


def test_multi_step_cases_compare_state_after_every_step(scratch_registry):
    def cases(rng):
        yield Case("three steps", param=torch.zeros(2, dtype=torch.float64), state={},
                   grad=[torch.ones(2, dtype=torch.float64)] * 3, momentum=0.9)

    # state listed first: a wrong buffer is reported before the param it moved
    register("90.3", reference=_momentum_reference,
             call=in_place("state", "param", steps_over="grad"))(cases)
    assert run_check("90.3", _momentum_reference).passed

    def ema_form(param, grad, state, *, momentum):
        buffer = state.setdefault("momentum_buffer", torch.zeros_like(grad))
        buffer.mul_(momentum).add_(grad, alpha=1 - momentum)
        param.sub_(0.1 * buffer)

    result = run_check("90.3", ema_form)
    assert result.reason.startswith("state['momentum_buffer'] after step 1")

    def no_state(param, grad, state, *, momentum):
        param.sub_(0.1 * grad)

    assert run_check("90.3", no_state).reason == (
        "state['momentum_buffer'] after step 1: missing (your function did not create it)")


# ---------------------------------------------------------------- registration and discovery


def test_register_rejects_bad_ids_and_duplicate_hints(scratch_registry):
    with pytest.raises(ValueError, match="exercise id must look like"):
        register("three-one", reference=abs)
    with pytest.raises(ValueError, match="hint ids must be unique"):
        register("90.4", reference=abs, mistakes=[KnownMistake("a", abs, ""),
                                                  KnownMistake("a", abs, "")])


def test_an_id_registered_in_two_modules_is_an_error(scratch_registry):
    def cases(rng):
        yield Case("x", x=1.0)

    cases.__module__ = "course_lib.exercises.checks.somewhere_else"
    with pytest.raises(ValueError, match="registered twice"):
        register("1.1", reference=abs)(cases)


def test_cases_are_seeded_by_exercise_id():
    checks.discover()
    first = checks.REGISTRY["1.1"].make_cases()
    second = checks.REGISTRY["1.1"].make_cases()
    assert [c.description for c in first] == [c.description for c in second]
    assert all(torch.equal(a.inputs["param"], b.inputs["param"]) for a, b in zip(first, second))


def test_every_topic_module_imports():
    checks.discover()
    assert checks.IMPORT_ERRORS == {}


# ---------------------------------------------------------------- comparison rules


@pytest.mark.parametrize("expected, received, ok", [
    (3, 3, True), (3, 3.0, True), (3, torch.tensor(3), True), (3, 4, False), (3, 2.5, False),
    (math.inf, math.inf, True), (math.inf, 10**9, False),
    (0.5, 0.5 + 1e-9, True), (0.5, 0.5001, False), (0.5, torch.tensor(0.5), True),
    ((1, 2.0), (1, 2.0), True), ((1, 2.0), [1, 2.0], True), ((1, 2.0), (1,), False),
])
def test_compare_numbers_and_sequences(expected, received, ok):
    assert (checks.compare(expected, received) is None) is ok


def test_compare_uses_per_dtype_tolerances():
    x32 = torch.tensor([1.0, 2.0], dtype=torch.float32)
    x64 = x32.double()
    assert checks.compare(x32, x32 * (1 + 1e-6)) is None       # within float32's rtol 1.3e-6
    assert checks.compare(x64, x64 * (1 + 1e-6)) is not None   # outside float64's rtol 1e-7
    assert checks.compare(x64, x64 * (1 + 1e-6), rtol=1e-5) is None


def test_every_registered_checker_passes_its_reference_and_every_hint_can_fire():
    """For all topic modules: the reference passes, and each known mistake's own wrong function
    is caught with its hint (so no hint is dead code: it differs from the reference on a case
    and is not shadowed by an earlier detector or mistake)."""
    for exercise_id in checks.known_exercises():
        checker = checks.REGISTRY[exercise_id]
        if checker.kind == "written":
            assert checker.prompt, exercise_id  # nothing runs; the grader exports the prompt
            continue
        # (a prediction's reference is its measurement; an outcome's, a training function
        # that reaches the target: register_outcome needs one for this test)
        assert checker.reference is not None, f"{exercise_id}: give it a reference"
        assert run_check(exercise_id, checker.reference).passed, exercise_id
        for mistake in checker.mistakes:
            result = run_check(exercise_id, mistake.wrong_function)
            assert not result.passed, (exercise_id, mistake.hint_id)
            assert result.hint_id == mistake.hint_id, (exercise_id, mistake.hint_id, result.report())


def test_an_endless_loop_is_stopped_and_reported(scratch_registry, monkeypatch):
    from course_lib.exercises.checks import _framework

    monkeypatch.setattr(_framework, "LEARNER_TIME_LIMIT_S", 0.2)
    _register_pure(scratch_registry)

    def never_returns(x):
        while True:
            try:
                pass
            except Exception:  # even a learner's catch-all cannot swallow the stop
                pass

    result = run_check("90.2", never_returns)
    assert result.status == "error"
    assert result.reason == "your function ran for more than 0.2 s on one case and was stopped"


def test_renamed_parameters_are_explained(scratch_registry):
    _register_pure(scratch_registry)
    result = run_check("90.2", lambda tensor: 2 * tensor)
    assert result.reason.startswith("your function raised TypeError")
    assert result.details == ["The check calls your function with these arguments, by name: x. "
                              "Keep the parameter names of the exercise."]


def test_compare_dicts_bools_and_none():
    assert checks.compare({"a": 1, "b": (2.0,)}, {"a": 1, "b": (2.0,), "extra": 0}) is None
    assert checks.compare({"a": 1}, {}) == "key 'a' is missing"
    assert checks.compare({"a": 1}, {"a": 2}) == "['a']: wrong value"
    assert checks.compare(True, torch.tensor(True)) is None
    assert checks.compare(True, 1) == "expected True or False, got int"
    assert checks.compare(None, 0.0) == "expected None, got float"


def test_nan_in_an_input_is_not_mistaken_for_a_change(scratch_registry):
    def cases(rng):
        yield Case("a NaN coordinate", param=torch.tensor([1.0, float("nan")]),
                   grad=torch.tensor([0.5, float("nan")]))

    register("90.5", reference=add_one_inplace, call=in_place("param"))(cases)
    assert run_check("90.5", add_one_inplace).passed
