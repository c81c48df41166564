"""The slider panels each lecture notebook shows, one module per notebook.

Every panel is a function that builds a :class:`course_lib.ui.slider_panel.SliderPanel`, so a notebook
cell is one line, and a test can call ``panel.update(**slider_values)`` and inspect the figure:

- ``course_lib.ui.panels.gradient_descent``: notebook 01 (learning rate and condition number,
  1-D and 2-D)
- ``course_lib.ui.panels.momentum``: notebook 03

Import the module you need (``from course_lib.ui.panels import gradient_descent``); this package
imports none of them itself, so one notebook's panels never slow down or break another's.
"""
