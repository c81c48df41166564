"""The exercise kinds and the framework's guards, on throwaway checkers (ids 91.x).

Seedable cases; predict-then-measure, written and outcome-graded exercises; aliasing and
mutated inputs for every call strategy; learner code that raises BaseExceptions; strict mode
and the result channel that `make check` reads. No topic module is used: each test registers
its own toy checker (``scratch_registry`` removes it again).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from course_lib.exercises import checks
from course_lib.exercises.checks import (
    Budget,
    Case,
    KnownMistake,
    Observation,
    in_place,
    register,
    register_outcome,
    register_prediction,
    register_written,
    returns,
    run_check,
)

# ---------------------------------------------------------------- seeds


def _random_cases(rng):
    yield Case("fixed edge case: zeros", x=torch.zeros(3, dtype=torch.float64))
    for index in range(3):
        yield Case(f"random {index}", x=torch.randn(3, generator=rng, dtype=torch.float64))


def test_default_cases_are_reproducible_and_a_seed_draws_others(scratch_registry):
    register("91.1", reference=lambda x: 2 * x)(_random_cases)
    checker = checks.REGISTRY["91.1"]
    default = checker.make_cases()
    assert all(torch.equal(a.inputs["x"], b.inputs["x"])
               for a, b in zip(default, checker.make_cases(None)))
    seeded = checker.make_cases(seed=7)
    again = checker.make_cases(seed=7)
    other = checker.make_cases(seed="student-42")
    # the fixed edge case is always there; the random ones follow the seed
    for cases in (seeded, other):
        assert cases[0].description == "fixed edge case: zeros"
        assert torch.equal(cases[0].inputs["x"], default[0].inputs["x"])
    assert all(torch.equal(a.inputs["x"], b.inputs["x"]) for a, b in zip(seeded, again))
    assert not torch.equal(seeded[1].inputs["x"], default[1].inputs["x"])
    assert not torch.equal(seeded[1].inputs["x"], other[1].inputs["x"])
    assert not torch.equal(checker.make_cases(seed=1)[1].inputs["x"],
                           checker.make_cases(seed="1")[1].inputs["x"])


def test_run_check_takes_a_seed_and_a_hard_coded_answer_fails_on_other_seeds(scratch_registry):
    register("91.1", reference=lambda x: 2 * x)(_random_cases)
    answers = {tuple(c.inputs["x"].tolist()): 2 * c.inputs["x"]
               for c in checks.REGISTRY["91.1"].make_cases()}

    def memorised(x):  # learned the default cases by heart
        return answers.get(tuple(x.tolist()), x)

    assert run_check("91.1", memorised).passed
    result = run_check("91.1", memorised, seed=2024)
    assert not result.passed and result.failing_case.startswith("random")
    assert run_check("91.1", lambda x: 2 * x, seed=2024).passed


def test_a_seed_must_be_an_int_or_a_str(scratch_registry):
    register("91.1", reference=lambda x: 2 * x)(_random_cases)
    with pytest.raises(TypeError, match="seed must be an int or a str"):
        checks.REGISTRY["91.1"].make_cases(seed=1.5)


# ---------------------------------------------------------------- aliasing and changed inputs


def _buffer_reference(param, grad, state, *, beta):
    """A toy heavy-ball step: b ← β·b + g (b = g on the first step); θ ← θ − 0.1·b."""
    if "buffer" not in state:
        state["buffer"] = grad.clone()
    else:
        state["buffer"].mul_(beta).add_(grad)
    param.sub_(0.1 * state["buffer"])


def _register_buffer(exercise_id="91.2", mistakes=()):
    def cases(rng):
        yield Case("three steps", param=torch.randn(4, generator=rng, dtype=torch.float64),
                   grad=[torch.randn(4, generator=rng, dtype=torch.float64) for _ in range(3)],
                   state={}, beta=0.9)

    register(exercise_id, reference=_buffer_reference,
             call=in_place("state", "param", steps_over="grad"), mistakes=mistakes)(cases)


def test_the_reference_passes_the_alias_checks(scratch_registry):
    _register_buffer()
    assert run_check("91.2", _buffer_reference).passed


@pytest.mark.parametrize("store", [
    lambda grad: grad,                    # the tensor itself
    lambda grad: grad.view(-1),           # a view of it
    lambda grad: grad[:],                 # a slice is a view too
    lambda grad: grad.detach(),           # detach() shares memory
])
def test_state_that_aliases_the_gradient_fails_with_its_hint(scratch_registry, store):
    _register_buffer()

    def aliasing(param, grad, state, *, beta):
        if "buffer" not in state:
            state["buffer"] = store(grad)  # no clone: the learner's bug
        else:
            state["buffer"].mul_(beta).add_(grad)
        param.sub_(0.1 * state["buffer"])

    result = run_check("91.2", aliasing)
    assert not result.passed and result.hint_id == "aliased_input"
    assert result.reason == "state['buffer'] after step 1 shares memory with `grad`"
    assert "grad.clone()" in result.hint
    assert result.report().splitlines()[0] == (
        "❌ Exercise 91.2 not passed yet: state['buffer'] after step 1 shares memory with `grad`")


def test_state_that_aliases_the_parameter_fails_too(scratch_registry):
    _register_buffer()

    def stores_param(param, grad, state, *, beta):
        _buffer_reference(param, grad, state, beta=beta)
        state["buffer"] = param

    assert run_check("91.2", stores_param).hint_id == "aliased_input"


def test_an_alias_found_only_by_behaviour_is_caught(scratch_registry):
    """A state entry that follows the gradient without sharing its storage (here a tensor
    subclass whose storage check is defeated) is caught when the gradient changes after the
    call."""
    import course_lib.exercises.checks._framework as framework

    _register_buffer()

    def aliasing(param, grad, state, *, beta):
        state["buffer"] = grad
        param.sub_(0.1 * grad)

    original = framework._shares_memory
    try:
        framework._shares_memory = lambda a, b: False
        result = run_check("91.2", aliasing)
    finally:
        framework._shares_memory = original
    assert result.hint_id == "aliased_input"


@pytest.mark.parametrize("strategy", ["returns", "in_place", "custom"])
def test_every_call_strategy_reports_a_changed_input(scratch_registry, strategy):
    def reference(hessian, v):
        return hessian @ v

    class through_a_custom_strategy:  # a checker's own strategy that checks nothing itself
        def __call__(self, fn, inputs):
            value = fn(**inputs)
            return Observation({"value": value}, returned=value)

    def cases(rng):
        yield Case("a 2x2 Hessian", hessian=torch.tensor([[2.0, 0.0], [0.0, 4.0]]),
                   v=torch.tensor([1.0, 1.0]))

    if strategy == "in_place":
        def reference(hessian, v):  # noqa: F811  (the in-place variant of the same exercise)
            v.copy_(hessian @ v)
        call = in_place("v")
    else:
        call = returns() if strategy == "returns" else through_a_custom_strategy()
    register("91.3", reference=reference, call=call)(cases)
    assert run_check("91.3", reference).passed

    def halves_the_hessian(hessian, v):
        hessian.mul_(0.5)  # the learner's bug: the caller's Hessian is changed
        return reference(2 * hessian, v)

    result = run_check("91.3", halves_the_hessian)
    assert not result.passed and result.hint_id == "changed_input"
    assert result.reason == "your function changed `hessian`, which it should only read"
    assert "hessian.mul_(2)" in result.hint


def test_a_changed_item_of_a_list_input_is_reported(scratch_registry):
    def cases(rng):
        yield Case("two gradients", grads=[torch.ones(2), torch.ones(2)])

    register("91.3", reference=lambda grads: sum(grads))(cases)

    def zeroes_the_second(grads):
        grads[1].zero_()
        return 2 * grads[0]

    assert run_check("91.3", zeroes_the_second).hint_id == "changed_input"


def test_an_entry_the_reference_does_not_create_fails(scratch_registry):
    def reference(param, grad, state, *, beta):
        if beta != 0:  # like torch: no buffer at all when momentum is 0
            _buffer_reference(param, grad, state, beta=beta)
        else:
            param.sub_(0.1 * grad)

    def keeps_a_buffer(param, grad, state, *, beta):
        _buffer_reference(param, grad, state, beta=beta)

    def cases(rng):
        yield Case("beta = 0, two steps", param=torch.ones(2, dtype=torch.float64),
                   grad=[torch.ones(2, dtype=torch.float64)] * 2, state={}, beta=0.0)

    register("91.4", reference=reference, call=in_place("state", "param", steps_over="grad"),
             mistakes=[KnownMistake("buffer_at_zero", keeps_a_buffer, "No buffer at β = 0.")]
             )(cases)
    assert run_check("91.4", reference).passed
    result = run_check("91.4", keeps_a_buffer)
    assert result.reason == "state['buffer'] after step 1 should not exist in this case"
    assert (result.hint_id, result.hint) == ("buffer_at_zero", "No buffer at β = 0.")


# ---------------------------------------------------------------- learner code that misbehaves


def _register_double():
    def cases(rng):
        yield Case("a vector", x=torch.ones(3))

    register("91.5", reference=lambda x: 2 * x)(cases)


@pytest.mark.parametrize("exception, name", [
    (SystemExit(3), "SystemExit"), (KeyboardInterrupt(), "KeyboardInterrupt"),
    (GeneratorExit(), "GeneratorExit"), (StopIteration(), "StopIteration"),
])
def test_base_exceptions_from_learner_code_are_reported_not_raised(scratch_registry, exception,
                                                                   name, capsys):
    _register_double()

    def hostile(x):
        raise exception  # the learner's line

    checks.check("91.5", hostile)  # must not raise
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"❌ Exercise 91.5 not passed yet: your function raised {name}")
    assert f"   In your code, line {hostile.__code__.co_firstlineno + 1}: raise exception" \
           "  # the learner's line" in lines


def test_sys_exit_gets_advice(scratch_registry):
    _register_double()

    def exits(x):
        sys.exit("done")

    result = run_check("91.5", exits)
    assert result.reason == "your function raised SystemExit: done"
    assert any("`return`" in line for line in result.details)


def test_a_returned_object_that_breaks_comparison_is_reported(scratch_registry):
    _register_double()

    class Evil:
        def __eq__(self, other):
            raise SystemExit("ha")

        __hash__ = object.__hash__

    def returns_evil(x):
        return [Evil()]

    register("91.6", reference=lambda x: ["a"])(lambda rng: iter([Case("c", x=1)]))
    result = run_check("91.6", returns_evil)
    assert not result.passed
    assert result.reason.startswith("comparing what your function returned raised SystemExit")


def test_a_loop_that_switches_the_timer_off_is_not_caught_in_process(scratch_registry):
    """Documented limit: the in-process alarm is a convenience; code can switch it off, and
    then only the per-cell time limit of `make check` stops it (tests/test_check_notebook.py).
    Here the loop ends by itself, to show the alarm was indeed off."""
    import signal
    import time

    import course_lib.exercises.checks._framework as framework

    _register_double()

    def disarms(x):
        signal.setitimer(signal.ITIMER_REAL, 0)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            pass
        return 2 * x

    old = framework.LEARNER_TIME_LIMIT_S
    framework.LEARNER_TIME_LIMIT_S = 0.1
    try:
        assert run_check("91.5", disarms).passed
    finally:
        framework.LEARNER_TIME_LIMIT_S = old


# ---------------------------------------------------------------- predict, then measure


def _measured_stable_lr(L):
    """The largest stable lr of gradient descent on f(x) = L·x²/2, found by running it:
    bisection on 'the iterates stay bounded for 200 steps' (the truth is 2/L)."""
    def stable(lr):
        x = 1.0
        for _ in range(200):
            x -= lr * L * x
        return abs(x) <= 1.0 + 1e-9

    low, high = 0.0, 10.0 / L
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if stable(mid) else (low, mid)
    return low


def _register_prediction(exercise_id="91.7", single=False, explain="The iterates flip sign..."):
    def cases(rng):
        yield Case("L = 4", L=4.0)
        if not single:
            yield Case(f"a random L", L=float(1 + 9 * torch.rand((), generator=rng)))

    register_prediction(exercise_id, measure=_measured_stable_lr, rtol=0.02, explain=explain,
                        mistakes=[KnownMistake("one_over_L", lambda L: 1 / L,
                                               "1/L is the best lr, not the largest stable one.")]
                        )(cases)


def test_a_right_prediction_passes(scratch_registry):
    _register_prediction()
    result = run_check("91.7", lambda L: 2 / L)
    assert result.passed and result.n_cases == 2
    assert run_check("91.7", lambda L: 2 / L * 1.01).passed  # inside rtol = 2 %


def test_a_wrong_prediction_says_how_far_off_and_explains(scratch_registry):
    _register_prediction()
    result = run_check("91.7", lambda L: 2.5 / L)
    assert result.reason == "your prediction is 1.25× the measured value (same sign)"
    assert result.expected.startswith("0.5 (measured by running the optimizer; within 2% passes)")
    assert result.received == "0.625 (your prediction)"
    assert (result.hint_id, result.hint) == ("prediction_off", "The iterates flip sign...")


def test_a_prediction_matching_a_wrong_formula_gets_its_hint(scratch_registry):
    _register_prediction()
    result = run_check("91.7", lambda L: 1 / L)
    assert result.hint_id == "one_over_L"
    assert result.reason == "your prediction is 0.5× the measured value (same sign)"


def test_explain_may_be_a_function_of_the_gap(scratch_registry):
    _register_prediction(explain=lambda inputs, measured, predicted:
                         f"at L={inputs['L']:g} the run says {measured:.3f}, you {predicted:.3f}")
    assert run_check("91.7", lambda L: 3 / L).hint == "at L=4 the run says 0.500, you 0.750"


def test_a_plain_number_is_accepted_only_for_a_single_case(scratch_registry):
    _register_prediction("91.7", single=True)
    assert run_check("91.7", 0.5).passed
    assert run_check("91.7", torch.tensor(0.5)).passed
    assert run_check("91.7", 0.7).hint_id == "prediction_off"
    _register_prediction("91.8")
    result = run_check("91.8", 0.5)
    assert result.status == "error" and "needs a function of the inputs" in result.reason
    assert "needs your function" in run_check("91.7", "0.5").reason


def test_a_prediction_that_returns_none_or_nan(scratch_registry):
    _register_prediction()

    def forgot_return(L):
        2 / L

    assert run_check("91.7", forgot_return).hint_id == "returned_none"
    assert "NaN" in run_check("91.7", lambda L: math.nan).reason


# ---------------------------------------------------------------- written answers


def test_a_written_answer_is_registered_and_never_run(scratch_registry, capsys):
    checker = register_written("91.9", prompt="Why does momentum help on a ravine?",
                               rubric="Mentions averaging of the oscillating component.")
    assert checker.kind == "written" and checks.REGISTRY["91.9"] is checker
    assert checker.module == __name__
    result = run_check("91.9", lambda: None)
    assert result.status == "written" and not result.passed
    checks.check("91.9", None)
    assert capsys.readouterr().out == ("✍ Exercise 91.9 is a written answer: read by your "
                                       "instructor\n")
    with pytest.raises(ValueError, match="needs its prompt"):
        register_written("91.10", prompt=" ")
    with pytest.raises(ValueError, match="has no cases"):
        checker.make_cases()


# ---------------------------------------------------------------- outcome-graded


def _fit_harness(train, *, seed, budget):
    """Toy harness: fresh data from ``seed``; the learner's ``train(w, x, y, epochs)`` updates
    ``w`` in place; the metric is the fraction of signs predicted right on held-out data."""
    g = torch.Generator().manual_seed(seed)
    w_true = torch.randn(3, generator=g)
    x = torch.randn(64, 3, generator=g)
    x_val = torch.randn(64, 3, generator=g)
    w = torch.zeros(3)
    train(w, x, torch.sign(x @ w_true), epochs=budget.epochs)
    return float((torch.sign(x_val @ w) == torch.sign(x_val @ w_true)).float().mean())


def _good_train(w, x, y, *, epochs):
    for _ in range(epochs):
        w.add_(0.1 * (x * y[:, None]).mean(0))


def test_an_outcome_exercise_passes_a_good_run_and_fails_a_short_one(scratch_registry):
    checker = register_outcome("91.11", run=_fit_harness, target=0.8,
                               budget=Budget(epochs=5, seconds=5), reference=_good_train,
                               metric="sign accuracy", n_seeds=2,
                               explain="Move w towards the examples it gets wrong.")
    assert checker.module == __name__
    assert run_check("91.11", _good_train).passed
    assert run_check("91.11", _good_train).n_cases == 2
    assert run_check("91.11", _good_train, seed=5).passed

    def does_nothing(w, x, y, *, epochs):
        pass

    result = run_check("91.11", does_nothing)
    assert result.hint_id == "target_missed"
    assert result.reason.startswith("sign accuracy ") and "target ≥ 0.8" in result.reason
    assert result.expected == "sign accuracy ≥ 0.8 within 5 epochs, 5 s"
    assert result.failing_case.startswith("training with seed ")
    assert result.hint == "Move w towards the examples it gets wrong."


def test_an_outcome_run_over_the_time_budget_fails(scratch_registry):
    import time

    register_outcome("91.12", run=_fit_harness, target=0.5, budget={"epochs": 5, "seconds": 0.05})

    def slow(w, x, y, *, epochs):
        time.sleep(0.1)
        _good_train(w, x, y, epochs=epochs)

    result = run_check("91.12", slow)
    assert result.hint_id == "over_budget" and "the budget is 0.05 s" in result.reason


def test_an_outcome_stub_is_not_attempted(scratch_registry):
    register_outcome("91.12", run=_fit_harness, target=0.5, budget=Budget(epochs=1))

    def stub(w, x, y, *, epochs):
        raise NotImplementedError

    assert run_check("91.12", stub).status == "not_attempted"


# ---------------------------------------------------------------- diagnose, the public hook


def test_diagnose_judges_observations_made_elsewhere(scratch_registry):
    """What the grader does: observe the learner's call in another process, judge here."""
    _register_buffer()
    checker = checks.REGISTRY["91.2"]
    case = checker.make_cases()[0]
    expected = checker.call(checker.reference, case.fresh_inputs())
    assert checks.diagnose(checker, case, expected, expected) is None
    wrong = checker.call(lambda param, grad, state, beta: param.add_(grad), case.fresh_inputs())
    result = checks.diagnose(checker, case, expected, wrong)
    assert result is not None and not result.passed


def test_check_result_round_trips_through_json():
    result = checks.CheckResult("3.1", False, 4, "failed", reason="r", details=["d"],
                                hint_id="h", hint="x")
    again = checks.CheckResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    with pytest.raises(ValueError, match="not CheckResult fields"):
        checks.CheckResult.from_dict({**result.to_dict(), "verdict": "pass"})


# ---------------------------------------------------------------- strict mode and the channel


def test_strict_mode_raises_on_anything_but_a_pass(scratch_registry, monkeypatch, capsys):
    _register_double()
    monkeypatch.setenv(checks.STRICT_ENV, "1")
    checks.check("91.5", lambda x: 2 * x)  # a pass never raises
    with pytest.raises(AssertionError, match="❌ Exercise 91.5 not passed yet"):
        checks.check("91.5", lambda x: 3 * x)
    monkeypatch.setenv(checks.STRICT_ENV, "0")
    checks.check("91.5", lambda x: 3 * x)
    assert "❌" in capsys.readouterr().out


def test_report_for_runner_displays_the_result_with_the_nonce(scratch_registry, monkeypatch,
                                                             capsys):
    import IPython.display

    published = []
    monkeypatch.setattr(IPython.display, "publish_display_data",
                        lambda data, **kw: published.append(data))
    _register_double()
    checks.check("91.5", lambda x: 2 * x)
    assert published == []  # check() itself never displays it
    checks.report_for_runner("91.5", lambda x: 2 * x, "n0nce")
    assert capsys.readouterr().out.splitlines()[-1] == "✅ Exercise 91.5 passed (1 case)"
    (data,) = published
    payload = data[checks.RESULT_MIMETYPE]
    assert payload["nonce"] == "n0nce"
    result = checks.CheckResult.from_dict(payload["result"])
    assert result.passed and result.exercise_id == "91.5"


def test_a_hostile_answer_in_a_subprocess_cannot_kill_the_check():
    """End to end in a fresh interpreter: os.kill/os._exit aside, nothing escapes check()."""
    code = (
        "import sys, torch\n"
        "from course_lib.exercises.checks import register, Case, check\n"
        "register('91.20', reference=lambda x: 2 * x)(lambda rng: iter([Case('c', x=torch.ones(2))]))\n"
        "def f(x):\n    raise SystemExit(0)\n"
        "check('91.20', f)\n"
        "def g(x):\n    raise KeyboardInterrupt\n"
        "check('91.20', g)\n"
        "print('still here')\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("❌ Exercise 91.20 not passed yet") == 2
    assert completed.stdout.rstrip().endswith("still here")



# ---------------------------------------------------------------- patched helpers


@pytest.mark.parametrize("patch", ["torch_isclose", "compare", "reference"])
def test_an_answer_that_patches_what_the_check_relies_on_does_not_pass(scratch_registry,
                                                                        monkeypatch, patch):
    import course_lib.exercises.checks._framework as framework

    _register_double()

    def cheat(x):
        if patch == "torch_isclose":  # every comparison "close"
            monkeypatch.setattr(torch, "isclose", lambda a, b, **kw: torch.ones_like(a, dtype=torch.bool))
        elif patch == "compare":
            monkeypatch.setattr(framework, "compare", lambda *a, **kw: None)
        else:  # the reference swapped for the learner's own answer
            monkeypatch.setattr(checks.REGISTRY["91.5"], "reference", cheat)
        return 3 * x  # wrong

    first = run_check("91.5", cheat)
    assert not first.passed  # the first case was judged before any patch took effect
    result = run_check("91.5", cheat)  # the patch is in place now
    assert not result.passed and result.hint_id == "patched_helpers", result.report()
    assert result.reason.startswith("the check cannot trust its result: code in your notebook "
                                    "replaced ")


# --------------------------------------------------------------------------------------------
# How far a prediction is off, in the learner's words (issue 16): the four headlines learners
# were misled by, each with the numbers they had.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("measured, predicted, expected", [
    # 6.2: "0% below" for a real gap of 0.26 %
    (0.0125, 0.0125 * (1 - 0.0026), "your prediction is 0.9974× the measured value (same sign)"),
    # 6.3: "100% above" for a prediction 1000 times too small
    (-3.16e-3, -3.2e-6,
     "your prediction is off by a factor of about 1000: too small in size (same sign)"),
    # 7.4: "200% below" for an answer that can only be ±1
    (1.0, -1.0, "your prediction has the wrong sign"),
    # 9.2: "90% below" for a prediction 1.9 times the size, "900% below" for a forgotten warmup
    (-0.001, -0.0019, "your prediction is 1.9× the measured value (same sign)"),
    (-0.001, -0.01, "your prediction is off by a factor of about 10: too large in size (same sign)"),
])
def test_prediction_gaps_say_the_ratio_and_the_sign(measured, predicted, expected):
    from course_lib.exercises.checks._framework import prediction_gap

    assert prediction_gap(measured, predicted) == expected
    assert "%" not in prediction_gap(measured, predicted)


def test_a_wrong_sign_also_says_how_far_the_size_is_off():
    from course_lib.exercises.checks._framework import prediction_gap

    assert prediction_gap(2.0, -30.0) == ("your prediction has the wrong sign, and its size is "
                                          "off by a factor of about 15 (too large)")
    assert prediction_gap(5.0, 0.0) == "your prediction is 0; the measured value is 5"


def test_the_real_checkers_speak_in_ratios_and_signs():
    """The same headlines from the course's checkers, on answers the learners gave."""
    from course_lib.exercises.checks import adam, lr_schedules  # noqa: F401 (registers them)

    wrong_end = run_check("7.4", lambda C, beta2: -adam.measured_reddi_drift(C, beta2))
    assert wrong_end.reason == "your prediction has the wrong sign"

    def warmup_forgotten(g1, g2, lr, start_factor, warmup_steps, beta1, beta2, eps):
        return lr_schedules.measured_second_adam_update(
            g1, g2, lr=lr, start_factor=start_factor, warmup_steps=warmup_steps, beta1=beta1,
            beta2=beta2, eps=eps) * 10
    result = run_check("9.2", warmup_forgotten)
    assert result.reason == ("your prediction is off by a factor of about 10: too large in size "
                             "(same sign)")


def test_an_outcome_run_timed_at_zero_does_not_say_after_0_0_s():
    """Issue 16: 10.1 reported "after 0.0 s" (a time not measured where the run happened)."""
    from course_lib.exercises.checks._framework import Observation, diagnose

    checker = checks.REGISTRY["10.1"] if "10.1" in checks.REGISTRY else None
    if checker is None:
        checks.discover()
        checker = checks.REGISTRY["10.1"]
    case = checker.make_cases()[0]
    result = diagnose(checker, case, None, Observation({checker.metric: 0.5}, elapsed_s=0.0))
    assert result.received == f"{checker.metric} 0.5"
    result = diagnose(checker, case, None, Observation({checker.metric: 0.5}, elapsed_s=3.14))
    assert result.received == f"{checker.metric} 0.5 after 3.1 s"
