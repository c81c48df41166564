# The course's commands. `make help` lists them.
# Everything runs inside .venv, built from the pinned set in constraints.txt.

PYTHON ?= python3
# COURSE_VENV names a prebuilt environment to use instead of .venv: a JupyterHub or Binder image
# built by repo2docker, whose postBuild installed the course (docs/jupyterhub.md). Then
# `make install` only checks that it is there.
VENV   := $(or $(COURSE_VENV),.venv)
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
START  := notebooks/00_welcome.ipynb

.DEFAULT_GOAL := help
.PHONY: help install lab test bench clean run-notebook exercises check site site-deps panels

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

install: $(STAMP)  ## Create .venv with the pinned packages and course_lib (does nothing when current)

# Rebuilt only when the pins or the package metadata change.
# The lab settings (save widget state, so reopened notebooks show their panels) are copied in
# by hand: an editable install skips pyproject's data-files.
LAB_SETTINGS := jupyter-config/lab/settings/overrides.json
ifeq ($(COURSE_VENV),)
$(STAMP): constraints.txt pyproject.toml $(LAB_SETTINGS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[lab,test]"
	@mkdir -p $(VENV)/share/jupyter/lab/settings && cp $(LAB_SETTINGS) $(VENV)/share/jupyter/lab/settings/
	@touch $(STAMP)
else
$(STAMP):
	@test -x $(BIN)/python || { echo "COURSE_VENV=$(COURSE_VENV) has no bin/python: unset it, or point it at the image's environment"; exit 1; }
endif

# The web book's tools (pyproject's `site` extra), on top of the course's own install.
SITE_STAMP := $(VENV)/.site-stamp
site-deps: $(SITE_STAMP)
$(SITE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[lab,test,site]"
	@touch $(SITE_STAMP)

# The web book (docs/book/build.py): lectures, read-only exercises and live panels as static HTML
# in build/site/, built from the stored outputs (nothing runs), working offline and from file://.
# Rebuilt when what it is made from changes; it stops if a page or the site is over budget.
SITE_SOURCES := README.md $(wildcard notebooks/*.ipynb exercises/*.ipynb docs/book/* docs/book/*/* \
                course_lib/*/*.py course_lib/*/*/*.py course_lib/*/*.js course_lib/*/*/*.js)
build/site/.built: $(SITE_STAMP) $(SITE_SOURCES)
	$(BIN)/python docs/book/build.py

site: build/site/.built  ## Build the web book into build/site/ (static HTML; README "Read it online")

# The panels' specs (course_lib/web/export.py): the web book's, and in JupyterLab the tables the
# training panels (02, 08-11) answer a slider move from without waiting for the kernel
# (course_lib/web/live.py). Made once, in about 1-2 minutes on 2 cores, and again when course_lib
# changes; the book (docs/book/build.py) reuses an export made by the same code.
# (--if-stale: files touched with no change, or a re-run notebook, train nothing: the manifest's
# fingerprint of the code decides.)
PANEL_SOURCES := $(wildcard notebooks/*.ipynb course_lib/*.py course_lib/*/*.py course_lib/*/*/*.py \
                 course_lib/*/*.js course_lib/*/*/*.js)
build/book-panels/manifest.json: $(STAMP) $(PANEL_SOURCES)
	@echo "The panels' figures, trained ahead once (1-2 minutes), so that their sliders answer in the browser"
	@mkdir -p build && $(BIN)/python -m course_lib.web.export build/book-panels --if-stale > build/book-panels.log 2>&1 \
	  || { tail -20 build/book-panels.log; exit 1; }

panels: build/book-panels/manifest.json  ## Make the panels' tables (make lab does; sliders then answer in the browser)

# Jupyter refuses to start as root unless told; containers and some lab machines run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# Serve the whole course (the file browser shows notebooks/, exercises/, solutions/) and open
# the first notebook; a file argument alone would make its folder the root.
# The tables are a speed-up: if they cannot be made, JupyterLab starts anyway (the kernel then
# draws every move of the training panels, as it always could).
lab: install  ## Start JupyterLab at the course's first notebook
	@$(if $(COURSE_VENV),echo "make lab: the image's panel tables are used (postBuild made them)",\
	  $(MAKE) --no-print-directory panels || echo "make lab: the panels' tables could not be made (build/book-panels.log); the training panels' sliders will wait for the kernel")
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/$(START)

# Notebooks run under nbval in the venv's own kernel, with the warning filters that
# course_lib/exercises/notebook_runner.py (KERNEL_WARNINGS) uses when it stores outputs.
NB_WARNINGS := ignore::DeprecationWarning,ignore::PendingDeprecationWarning
# The make variables are unset so that a `make` run inside a notebook prints as in a terminal
# (MAKE_VARIABLES in course_lib/exercises/notebook_runner.py).
NBVAL := env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES PYTHONWARNINGS=$(NB_WARNINGS) \
         $(BIN)/python -m pytest --nbval --nbval-current-env \
         --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300 -p no:cacheprovider
# Lecture and solution notebooks must reproduce their stored outputs (none yet is fine).
NBVAL_NOTEBOOKS := $(wildcard notebooks/*.ipynb solutions/*.ipynb)
# Solutions also run with COURSE_CHECK_STRICT=1: check() raises on anything but a pass, so nbval
# fails a check cell that does not pass whatever output is stored (CONTRIBUTING.md, "How
# exercises are checked"). Lectures run without it: 00_welcome shows a failing check on purpose.
LECTURE_NOTEBOOKS := $(filter notebooks/%,$(NBVAL_NOTEBOOKS))
SOLUTION_NOTEBOOKS := $(filter solutions/%,$(NBVAL_NOTEBOOKS))

# The browser tests (marker e2e, tests/e2e) drive JupyterLab in /usr/bin/chromium and skip,
# saying how to enable them, where Chromium is missing; screenshots go to build/e2e/.
# `make site` first: the browser tests read the built book (tests/e2e/test_site.py), and building
# it is itself the check that the book builds on a fresh clone. The panel export tests
# (tests/test_web_export.py) check the export the book just made instead of making another.
test: install site  ## Run the whole test suite (unit tests, browser tests, notebook checks)
	COURSE_WEB_EXPORT_DIR=build/book-panels $(BIN)/python -m pytest -m "not e2e"
	$(BIN)/python -m pytest -m e2e tests/e2e
	$(if $(LECTURE_NOTEBOOKS),$(NBVAL) -q $(LECTURE_NOTEBOOKS),@echo "no lecture notebooks to validate yet")
	$(if $(SOLUTION_NOTEBOOKS),COURSE_CHECK_STRICT=1 $(NBVAL) -q $(SOLUTION_NOTEBOOKS),@echo "no solutions to validate yet")

run-notebook: install  ## Execute NB=path.ipynb in place with the course's kernel (stores its outputs)
	@test -n "$(NB)" || { echo "usage: make run-notebook NB=solutions/01_gradient_descent.ipynb"; exit 2; }
	$(BIN)/python -m course_lib.exercises.notebook_runner $(NB)

exercises: install  ## Regenerate exercises/ from solutions/ (never edit exercises/ by hand)
	$(BIN)/python -m course_lib.exercises.generate

# A fresh run of a copy of your notebook (course_lib/exercises/make_check.py); your file is only read.
# TIMEOUT=60 gives each cell 60 s instead of 30.
# With COURSE_VENV the course_lib that runs is the image's copy, so "all of exercises/" is named
# here: the learner's own exercises/ folder, not the image's.
CHECK_NB = $(or $(NB),$(if $(COURSE_VENV),$(sort $(wildcard exercises/*.ipynb))))
check: install  ## Check your exercises: NB=exercises/03_momentum.ipynb, or all of exercises/
	@$(BIN)/python -m course_lib.exercises.make_check $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(CHECK_NB)

bench: install  ## Run the speed benchmarks (results go in docs/benchmarks.md)
	$(BIN)/python benchmarks/optim_speed.py --steady-allocator
	$(BIN)/python benchmarks/trajectory_speed.py

clean:  ## Remove .venv, the built book and caches (your notebooks are untouched)
	rm -rf $(VENV) .pytest_cache build/site build/book-src build/book-panels build/book-doctrees
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
