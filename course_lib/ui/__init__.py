"""How the course is shown: the slider panel, the figure the browser draws, the background trainer
that fills a live panel's grids, the matplotlib figures, and each lecture's panels (``ui.panels``).
Imports the subject, the problems and the experiments; never ``exercises`` or ``grade``.
"""
