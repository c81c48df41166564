"""`make lab` serves JupyterLab at the course's first notebook, with widgets enabled.

The server is started with exactly the command `make lab` runs (read from `make -n lab`), plus
flags that keep it headless and on a free port, and is stopped as soon as it answers.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _lab_command() -> list[str]:
    dry_run = subprocess.run(["make", "-s", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    jupyter_lines = [line for line in dry_run if " lab" in line and "jupyter" in line]
    assert len(jupyter_lines) == 1, f"expected one jupyter lab command in `make -n lab`: {dry_run}"
    return shlex.split(jupyter_lines[0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    port, token = _free_port(), "course-test-token"
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    command = _lab_command() + ["--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                                f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0 and "--allow-root" not in command:
        pytest.fail("make lab must pass --allow-root when run as root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode(errors="replace")[-2000:]
                    pytest.fail(f"JupyterLab did not start:\n{output}")
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        server.stdout.close()


def test_make_lab_opens_the_welcome_notebook(lab_server):
    base, token = lab_server
    # The address `make lab` opens in the browser is the server root, which redirects.
    response = urllib.request.urlopen(f"{base}/?token={token}", timeout=10)
    assert response.url.split("?")[0].endswith("/lab/tree/notebooks/00_welcome.ipynb")
    page = response.read().decode()
    assert '"treePath": "notebooks/00_welcome.ipynb"' in page


def test_make_lab_serves_the_whole_course_folder(lab_server):
    import json

    base, token = lab_server
    listing = json.load(urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=10))
    names = {entry["name"] for entry in listing["content"]}
    assert {"notebooks", "exercises", "solutions", "course_lib"} <= names


def test_widgets_extension_is_installed_for_jupyterlab():
    listing = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True,
                             text=True, check=True)
    output = listing.stdout + listing.stderr
    assert "@jupyter-widgets/jupyterlab-manager" in output
    assert "enabled" in output.split("@jupyter-widgets/jupyterlab-manager", 1)[1].splitlines()[0]
