"""Sphinx configuration of the course's web book (`make site`, built by docs/book/build.py).

Sphinx + myst-nb + sphinx-book-theme: myst-nb renders the notebooks with their stored outputs
and never runs them; the theme gives the book layout (sidebar in course order, previous/next,
search), and everything a page loads is written into build/site/ (no CDN, works from file://).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # no docs/book/__pycache__: `make site` watches docs/book/ for changes

project = "How deep-learning optimizers work"
author = "the course's authors"
html_title = "How deep-learning optimizers work"
copyright = "the course's authors (MIT licence)"

extensions = ["myst_nb", "course_site"]

# Pages show what the notebooks stored: nothing is executed while the book is built.
nb_execution_mode = "off"
nb_merge_streams = True
# An output's best representation for a web page (a panel's cell carries our HTML, see build.py).
nb_mime_priority_overrides = []
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "myst.xref_missing", "misc.highlighting_failure"]

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
master_doc = "index"
language = "en"

# MathJax 2.7 from the jupyter-server-mathjax wheel, copied into _static/mathjax by build.py:
# formulas render with no network.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processRefs": False, "processEnvironments": False},
    "messageStyle": "none",
    # the wheel ships the STIX-Web fonts only (not MathJax's TeX fonts): use them, never ask for others
    # and its "blank" test font, url('about:blank') in MathJax, is a local() font that is never
    # there: the same failed load, without a request the browser refuses with a console error
    "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web", "webFont": "STIX-Web",
                 "imageFont": None,
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax Blank, never installed')"}}},
    # no hidden MathML copy: Chromium would draw it with TeX fonts the wheel does not ship
    "menuSettings": {"zoom": "None", "assistiveMML": False},
    "showMathMenu": False,
}
# myst-parser would write a MathJax 3/4 config block; MathJax 2 is told the same here instead:
# process only the math myst marks (class "math"), nothing else on the page.
myst_update_mathjax = False
mathjax2_config["tex2jax"].update({"processClass": "tex2jax_process|mathjax_process|math|output_area",
                                    "ignoreClass": "tex2jax_ignore|mathjax_ignore"})

html_theme = "sphinx_book_theme"
# docs/book/_static (the book's CSS and panel loader) and what build.py stages: MathJax and the panels.
html_static_path = ["_static"] + ([os.environ["COURSE_BOOK_STATIC"]] if os.environ.get("COURSE_BOOK_STATIC") else [])
html_css_files = ["course_site.css"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": True,
}
# light pages (the theme would otherwise log an error for an unset mode on the console)
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
# No build date in the pages: the same sources give the same site.
html_show_sphinx = False
