"""``course-grade``: trusted grades from untrusted exercise notebooks (docs/grading.md).

Modules, one concern each:

- ``cli``      the command: find submissions, shard, run workers, resume, write the results
- ``rebuild``  the course's exercise notebook with only the learner's answer cells taken over
- ``sandbox``  a fresh child process per notebook: bubblewrap, rlimits, process-group kill
- ``harness``  the program inside the sandbox (runs cells, calls the learner's functions)
- ``wire``     values as data between the two (JSON, tensors as raw bytes; never pickle)
- ``judge``    drives the child and judges each exercise here, with the course's checkers
- ``scan``     the AST scan that flags answers reaching into references or the harness
- ``report``   gradebook.csv, feedback, written answers, misconceptions report and chart
- ``marks``    written answers by question, the marks template, and merging a marker's marks
- ``export``   per-student totals in the layout Canvas or Moodle imports
"""
