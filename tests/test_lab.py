"""A real JupyterLab server on loopback serves the notebooks, the python3 kernel and widgets."""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base_url, session with the token) of a JupyterLab started in the repo root."""
    token, port = secrets.token_hex(16), free_port()
    home = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    log = (home / "server.log").open("w")
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={REPO}", "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:  # containers and CI often run as root; the server refuses by default
        command.append("--allow-root")
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n"
                            f"{Path(log.name).read_text()[-3000:]}")
            try:
                if session.get(f"{url}/api/status", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab not ready after {START_TIMEOUT_S:.0f} s")
            time.sleep(0.3)
        yield url, session
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def test_token_is_required(lab):
    url, _ = lab
    assert requests.get(f"{url}/api/contents/notebooks", timeout=10).status_code == 403


def test_notebooks_open_through_the_api_with_python3(lab):
    url, session = lab
    listing = session.get(f"{url}/api/contents/notebooks", timeout=10)
    assert listing.status_code == 200
    served = sorted(e["name"] for e in listing.json()["content"] if e["type"] == "notebook")
    assert served == sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    for name in served:
        model = session.get(f"{url}/api/contents/notebooks/{name}", timeout=10).json()
        assert model["format"] == "json"
        nb = nbformat.from_dict(model["content"])
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3", name


def test_python3_kernelspec(lab):
    url, session = lab
    specs = session.get(f"{url}/api/kernelspecs", timeout=10).json()
    assert "python3" in specs["kernelspecs"]
    assert specs["kernelspecs"]["python3"]["spec"]["language"] == "python"


def test_lab_page_loads_the_widgets_extension(lab):
    url, session = lab
    page = session.get(f"{url}/lab", timeout=30)
    assert page.status_code == 200
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.S)
    assert match, "no page config in /lab"
    extensions = {e["name"] for e in json.loads(match.group(1))["federated_extensions"]}
    assert WIDGETS_EXTENSION in extensions


LAB_SCRIPT = REPO / "scripts" / "lab.sh"
TOKEN_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+)")


def start_lab_script(port: int, home: Path, user: list[str]) -> tuple[str, str, str]:
    """Run scripts/lab.sh (``make lab``'s command) as ``user`` (a command prefix, [] for us)
    without a display; wait for the URL with its token, ask /api/status with that token, stop
    it. Returns (the URL line's URL, its token, everything it printed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(JUPYTER=str(Path(sys.executable).parent / "jupyter"), HOME=str(home),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_DATA_DIR=str(home / "data"))
    log_path = home / "lab.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([*user, "bash", str(LAB_SCRIPT), "--ip=127.0.0.1",
                                   f"--port={port}", "--ServerApp.port_retries=0"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not (match := TOKEN_URL.search(log_path.read_text())):
                if server.poll() is not None:
                    pytest.fail(f"make lab exited with {server.returncode}:\n"
                                f"{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"no URL with a token after {START_TIMEOUT_S:.0f} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            url, token = match.group(0), match.group(2)
            status = requests.get(f"http://127.0.0.1:{port}/api/status",
                                  headers={"Authorization": f"token {token}"}, timeout=10)
            assert status.status_code == 200, status.text
            assert requests.get(f"http://127.0.0.1:{port}/api/status",
                                timeout=10).status_code == 403  # the token is what lets us in
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=15)
    return url, token, log_path.read_text()


def test_make_lab_runs_the_script():
    recipe = subprocess.run(["make", "-n", "lab", "VENV=/nonexistent-venv"], cwd=REPO,
                            capture_output=True, text=True, timeout=30).stdout
    assert "JUPYTER=/nonexistent-venv/bin/jupyter scripts/lab.sh" in recipe


def test_make_lab_starts_and_prints_its_url_with_token(tmp_path):
    port = free_port()
    url, token, output = start_lab_script(port, tmp_path, user=[])
    started = output.splitlines()[0]
    assert started.startswith("starting: ") and "--no-browser" in started
    assert ("--allow-root" in started) == (os.geteuid() == 0)
    assert url == f"http://127.0.0.1:{port}/lab?token={token}" and len(token) >= 32


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="running the script as another user needs root and setpriv")
def test_make_lab_as_a_normal_user_does_not_ask_for_root():
    """Run as nobody (the venv's interpreter may sit in root's home, out of nobody's reach), with
    a stand-in jupyter that prints the arguments it gets."""
    folder = Path(tempfile.mkdtemp(prefix="lab-nobody-"))
    try:
        (folder / "scripts").mkdir()
        shutil.copy(LAB_SCRIPT, folder / "scripts" / "lab.sh")
        fake = folder / "jupyter"
        fake.write_text('#!/bin/sh\necho "jupyter $*"\n')
        fake.chmod(0o755)
        for path in (folder, folder / "scripts"):
            path.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        ran = subprocess.run([*nobody, "bash", str(folder / "scripts" / "lab.sh"), "--port=1"],
                             env={**env, "JUPYTER": str(fake)}, capture_output=True, text=True,
                             timeout=30)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "jupyter lab notebooks/ --no-browser --port=1"
        with_display = subprocess.run([*nobody, "bash", str(folder / "scripts" / "lab.sh")],
                                      env={**env, "JUPYTER": str(fake), "DISPLAY": ":0"},
                                      capture_output=True, text=True, timeout=30)
        assert with_display.stdout.strip() == "jupyter lab notebooks/"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
