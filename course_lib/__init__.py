"""course_lib: the machinery behind the optimizer course.

Modules, one concern each:

- ``course_lib.optim``        reference optimizers, numerically equal to ``torch.optim``
- ``course_lib.landscapes``   2-D test functions with their minimisers and plotting windows
- ``course_lib.trajectories`` run an optimizer on a landscape and keep the path
- ``course_lib.plots``        contour + path figures and loss curves that redraw cheaply
"""

__version__ = "0.1.0"
