"""How a check cell hands its verdict to ``make check``, and how CI makes a check cell fail.

Kept apart from ``course_lib.exercises.checks`` (which imports torch) so that ``make check``'s own process
(course_lib/exercises/make_check.py) starts quickly; only the kernels it runs import torch.
"""

# `COURSE_CHECK_STRICT=1`: check() raises AssertionError on anything but a pass, so nbval (CI,
# `make test` over solutions/) fails the check cell whatever output is stored.
STRICT_ENV = "COURSE_CHECK_STRICT"

# course_lib.exercises.checks.report_for_runner() displays {"nonce": ..., "result": CheckResult.to_dict()}
# under this mimetype in the check cell's own outputs; make check reads it there, never from
# printed text (which any cell could print).
RESULT_MIMETYPE = "application/vnd.course-check-result+json"
