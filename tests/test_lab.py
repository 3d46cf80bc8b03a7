"""A real JupyterLab server on loopback serves the notebooks, the python3 kernel and widgets."""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
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
