"""What the optimizers are run on: 2-D landscapes, notebook 02's toy regression, notebook 05's
sparse features and notebook 10's digits. Imports only ``course_lib.optim`` and ``course_lib.theory``.

Import the module you need (``from course_lib.problems import landscapes``); this package imports
none of them itself.
"""
