"""Execute notebooks with the course's own Python, the way every stored output is produced.

    python -m course_lib.exercises.notebook_runner solutions/01_gradient_descent.ipynb   # in place
    make run-notebook NB=solutions/01_gradient_descent.ipynb                   # the same

The kernel is an ipykernel running this very interpreter (the pinned ``.venv``), whatever
kernels are installed elsewhere on the machine, so stored outputs match what ``make test`` and
``make check`` (``pytest --nbval --nbval-current-env``) will compute. Cells run in the notebook's
own folder. Cell ids, tags and other metadata are kept; no timing metadata or widget state is
written (it holds random ids), so running an unchanged notebook twice gives the same bytes.
Outputs that display a widget cannot render without that state: a slider panel's output is
stored as a static picture of its first figure with a line saying "run this cell to make the
panel live" (the kernel adds the PNG when ``COURSE_PANEL_STATIC_PNG`` is set, as it is here);
any other widget output is dropped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

# What a notebook says it runs on: the standard name every Jupyter front end knows.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
DEFAULT_TIMEOUT_S = 120

# Warning filters for every notebook kernel the course starts. Deprecation notices from
# installed packages come and go with versions and with import order; a notebook's stored
# stderr must not depend on them. `make test` and `make check` run nbval with the same value
# (the Makefile's NB_WARNINGS), so stored outputs and fresh runs see the same warnings.
KERNEL_WARNINGS = "ignore::DeprecationWarning,ignore::PendingDeprecationWarning"
# What `make` tells the programs it starts about itself. Kernels start without them, so a cell
# that runs `make` (00_welcome shows `make check`) prints the same whether the notebook itself
# runs under make or not (the Makefile's NBVAL unsets them too).
MAKE_VARIABLES = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


class CurrentEnvKernelSpecManager(KernelSpecManager):
    """Resolves every kernel name to an ipykernel on ``sys.executable`` (this venv's Python)."""

    def get_kernel_spec(self, kernel_name):
        import ipykernel.kernelspec

        return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                      **ipykernel.kernelspec.get_kernel_dict())


class CurrentEnvKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, looking kernels up with :class:`CurrentEnvKernelSpecManager`."""

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self):
        return CurrentEnvKernelSpecManager(data_dir=self.data_dir)


def execute(notebook: nbformat.NotebookNode, cwd: str | Path, *,
            timeout: int = DEFAULT_TIMEOUT_S) -> nbformat.NotebookNode:
    """Run every cell of ``notebook`` (in place in memory) in a fresh kernel; return it.

    Raises ``nbclient.exceptions.CellExecutionError`` when a cell raises.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=CurrentEnvKernelManager,
        resources={"metadata": {"path": str(cwd)}},
        record_timing=False,  # timestamps would change the file on every run
    )
    kernel_env = {**os.environ, "PYTHONWARNINGS": KERNEL_WARNINGS, STATIC_PANEL_ENV: "1"}
    for name in MAKE_VARIABLES:  # a `make` run inside a notebook must print as in a terminal
        kernel_env.pop(name, None)
    # The kernel process's own stderr carries only start-up chatter (cell output goes through
    # Jupyter messages), so it is silenced to keep the command's output readable.
    client.execute(env=kernel_env, stderr=subprocess.DEVNULL)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    # Widget state holds random model ids, so it would change the file on every run. (It is
    # dropped here rather than with store_widget_state=False, which breaks nbclient on
    # ipywidgets.Output widgets.)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(static_widget_views(cell.outputs))
    return notebook


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# course_lib.ui.slider_panel.STATIC_FALLBACK_ENV (not imported: this module must not import ipywidgets)
STATIC_PANEL_ENV = "COURSE_PANEL_STATIC_PNG"


def static_widget_views(outputs: list) -> list:
    """Replace each widget output that carries a static picture by that picture; drop the rest.

    A slider panel's display carries ``image/png`` (its figure, with a note under it) and a
    ``text/plain`` line besides the widget view; stored without the view, a reopened notebook
    shows the picture instead of "Error displaying widget: model not found", in JupyterLab,
    on GitHub and in nbviewer alike. Running the cell replaces it with the live panel.
    """
    kept = []
    for output in outputs:
        data = output.get("data", {})
        if WIDGET_VIEW not in data:
            kept.append(output)
        elif "image/png" in data:
            output = nbformat.from_dict({**output, "data": {k: v for k, v in data.items() if k != WIDGET_VIEW}})
            kept.append(output)
    return kept



def drop_widget_views(outputs: list) -> list:
    """Remove the outputs that display a widget (a slider panel, say).

    Without the widget state, which is not saved, such an output can only show a line of text
    like ``VBox(children=(HTML(...`` to someone who opens the notebook before running it; with
    it removed, the cell is simply empty until it is run, and then shows the live panel.
    """
    return [output for output in outputs if WIDGET_VIEW not in output.get("data", {})]


def merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) outputs into one.

    How a cell's printing is split into messages depends on timing; merged, the stored output
    is the same on every run.
    """
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")):
            previous["text"] = previous["text"] + output["text"]
        else:
            merged.append(output)
    return merged


def run_in_place(path: str | Path, *, timeout: int = DEFAULT_TIMEOUT_S) -> float:
    """Execute the notebook at ``path`` and write its outputs back; return the wall time (s).

    The file is rewritten only when every cell ran without error.
    """
    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"not a notebook file: {path}")
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute(notebook, path.parent, timeout=timeout)
    elapsed = time.perf_counter() - start
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebook files to execute in place")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds allowed per cell (default {DEFAULT_TIMEOUT_S})")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        try:
            elapsed = run_in_place(path, timeout=args.timeout)
        except CellExecutionError as error:
            print(f"FAILED {path}: a cell raised (file left unchanged)\n{error}", file=sys.stderr)
            status = 1
            continue
        except ValueError as error:
            print(f"FAILED {error}", file=sys.stderr)
            status = 1
            continue
        print(f"ran {path} in {elapsed:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
