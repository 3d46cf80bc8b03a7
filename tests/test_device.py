"""The device setting: resolution, clear errors, one device per worker, the CLI's --device."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rfkit import cli
from rfkit.cli import main
from rfkit.machine import describe_devices, module_device, resolve_device, worker_devices

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.device  # the GPU check runs these too (`pytest -m device`)


@pytest.fixture
def no_cuda(monkeypatch):
    """A machine without CUDA, whatever this one has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine that reports two GPUs (nothing is allocated on them in these tests)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Card {i}")


def test_resolve_device_names_and_auto(no_cuda):
    assert resolve_device("cpu") == resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == resolve_device() == torch.device("cpu")


def test_auto_picks_cuda_when_present(two_gpus):
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert describe_devices().endswith("available: cpu, cuda:0 (Card 0), cuda:1 (Card 1)")
    with pytest.raises(ValueError, match=r"^device 'cuda:2' requested but only 2 GPU\(s\) are "
                                         r"visible \(torch .*available: cpu, cuda:0"):
        resolve_device("cuda:2")


def test_cuda_without_cuda_is_a_one_line_error(no_cuda):
    for name in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(ValueError) as info:
            resolve_device(name)
        message = str(info.value)
        assert message == (f"device {str(name)!r} requested but CUDA is not available "
                           f"(torch {torch.__version__}, available: cpu)")


@pytest.mark.parametrize("bad", ["gpu", "mps", "cuda:x", ""])
def test_invalid_device_strings(bad):
    expected = f"device must be one of auto, cpu, cuda, cuda:N, got {bad!r}"
    with pytest.raises(ValueError, match=expected):
        resolve_device(bad)


def test_device_must_be_a_string_or_device():
    with pytest.raises(TypeError, match="device must be a string or torch.device, got int"):
        resolve_device(0)


def test_module_device_follows_the_parameters():
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.Module()) == torch.device("cpu")


def test_workers_round_robin_over_gpus_and_warn_when_sharing(two_gpus):
    assert worker_devices(2, "cuda") == [torch.device("cuda", 0), torch.device("cuda", 1)]
    with pytest.warns(UserWarning, match=r"3 workers share 2 GPU\(s\) \(cuda:0, cuda:1\): up to 2"):
        assert worker_devices(3, "auto") == [torch.device("cuda", i) for i in (0, 1, 0)]
    with pytest.warns(UserWarning, match=r"2 workers share 1 GPU\(s\) \(cuda:1\)"):
        assert worker_devices(2, "cuda:1") == [torch.device("cuda", 1)] * 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a real GPU")
def test_more_workers_than_real_gpus_warn():
    n = torch.cuda.device_count()
    with pytest.warns(UserWarning, match=rf"{n + 1} workers share {n} GPU\(s\)"):
        devices = worker_devices(n + 1, "cuda")
    assert devices[n] == devices[0] == torch.device("cuda", 0)


def test_cpu_workers_do_not_warn(no_cuda, recwarn):
    assert worker_devices(3, "auto") == [torch.device("cpu")] * 3
    assert not recwarn.list
    with pytest.raises(ValueError, match="n_workers must be a positive int, got 0"):
        worker_devices(0)
    with pytest.raises(ValueError, match="CUDA is not available"):
        worker_devices(2, "cuda")


def test_train_cli_device_errors_exit_2(no_cuda, capsys):
    for device, message in (("cuda", "device 'cuda' requested but CUDA is not available"),
                            ("gpu", "device must be one of")):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--dataset", "synthetic", "--device", device])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"python -m rfkit train: error: {message}") and err.count("\n") == 1


def test_train_cli_records_the_device(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    out = tmp_path / "metrics.json"
    assert main(["train", "--dataset", "synthetic", "--epochs", "1", "--no-rf", "--device", "cpu",
                 "--json", str(out), "--no-progress"]) == 0
    assert json.loads(out.read_text())["config"]["device"] == "cpu"


def _python(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_real_cli_exits_2_with_one_line_for_a_missing_gpu():
    """The real process: no traceback, one line on stderr, exit status 2."""
    missing = "cuda:99" if torch.cuda.is_available() else "cuda"
    run = _python(["-m", "rfkit", "train", "--dataset", "synthetic", "--device", missing])
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith(f"python -m rfkit train: error: device '{missing}' requested but")


def test_train_cli_does_not_import_the_jupyter_stack():
    jupyter = "{'rfkit.publish.report', 'papermill', 'nbconvert'}"
    run = _python(["-c", f"import sys, rfkit.cli; print(sorted({jupyter} & set(sys.modules)))"])
    assert run.returncode == 0 and run.stdout.strip() == "[]"
