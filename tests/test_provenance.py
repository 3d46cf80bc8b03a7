"""Provenance: what produced a results file (commit, versions, CPU and bf16, device, config)."""
import json
import platform
import re
import subprocess
from pathlib import Path

import pytest
import torch

from rfkit.lab.record import RunRecord
from rfkit.publish import provenance as prov
from rfkit.publish.provenance import cpu_info, provenance

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9654 96-Core Processor
flags\t\t: fpu sse2 avx2 avx512f {extra}

processor\t: 1
model name\t: Some Other CPU
flags\t\t: fpu amx_bf16
"""
ARM = """processor\t: 0
BogoMIPS\t: 2000.00
Features\t: fp asimd sve {extra}
CPU implementer\t: 0x41
"""


@pytest.mark.parametrize("text, model, bf16", [
    (X86.format(extra="avx512_bf16"), "AMD EPYC 9654 96-Core Processor", True),
    (X86.format(extra="amx_bf16 amx_tile"), "AMD EPYC 9654 96-Core Processor", True),
    (X86.format(extra="avx512_vnni"), "AMD EPYC 9654 96-Core Processor", False),  # 1st CPU only
    (ARM.format(extra="bf16 i8mm"), None, True),
    (ARM.format(extra="i8mm"), None, False),
    ("", None, False),
])
def test_cpu_info_reads_model_and_bf16_flags(text, model, bf16):
    info = cpu_info(text)
    assert info["native_bf16"] is bf16
    if model is not None:
        assert info["model"] == model
    else:  # no "model name": platform's answer, never empty
        assert isinstance(info["model"], str) and info["model"]


def test_provenance_of_this_checkout():
    config = {"embedding_dim": 16, "rf_lr": 0.01}
    facts = provenance("cpu", config)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=prov.REPO, capture_output=True,
                          text=True).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", facts["git_commit"]) and facts["git_commit"] == head
    assert isinstance(facts["git_dirty"], bool)
    assert facts["python"] == platform.python_version() and facts["torch"] == torch.__version__
    assert facts["device"] == "cpu" and facts["config"] == config
    config["embedding_dim"] = 32
    assert facts["config"]["embedding_dim"] == 16  # a copy, not the caller's dict
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        first = cpuinfo.read_text().split("\n\n")[0]
        assert facts["cpu_native_bf16"] is bool(re.search(r"\b(avx512_bf16|amx_bf16|bf16)\b",
                                                          first))
        name = re.search(r"^model name\s*:\s*(.+)$", first, re.M)
        if name:
            assert facts["cpu"] == name.group(1).strip()
    json.dumps(facts)  # JSON-ready


def test_dirty_means_code_changed_not_the_kits_own_outputs(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "figures").mkdir()
    for name in ("code.py", "README.md", "figures/results.json"):
        (tmp_path / name).write_text("v1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    monkeypatch.setattr(prov, "REPO", tmp_path)
    assert prov.git_dirty() is False
    (tmp_path / "README.md").write_text("v2\n")  # what a report rewrites while it runs
    (tmp_path / "figures" / "results.json").write_text("v2\n")
    assert prov.git_dirty() is False
    (tmp_path / "code.py").write_text("v2\n")
    assert prov.git_dirty() is True


def test_outside_a_checkout_the_commit_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(prov, "REPO", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    facts = provenance()
    assert facts["git_commit"] == "unknown" and facts["git_dirty"] is None
    assert facts["config"] == {} and facts["device"] == "cpu"


def test_bad_arguments():
    with pytest.raises(TypeError, match="device must be a non-empty string"):
        provenance("")
    with pytest.raises(TypeError, match="config must be a mapping or None, got list"):
        provenance("cpu", [1, 2])


def test_results_json_records_provenance(tmp_path):
    parameters = {"QUICK": True, "SEED": 3}
    record = RunRecord("nb", parameters, tmp_path / "out", tmp_path / "figures")
    record.record(score=0.5)
    payload = json.loads(record.write().read_text())
    facts = payload["provenance"]
    assert facts["config"] == parameters and facts["device"] == "cpu"  # parameters by default
    assert facts["git_commit"] == provenance()["git_commit"]
    assert set(facts) >= {"python", "torch", "cpu", "cpu_native_bf16"}

    record.device, record.config = "cuda:0", {"embedding_dim": 8}
    facts = json.loads(record.write().read_text())["provenance"]
    assert facts["device"] == "cuda:0" and facts["config"] == {"embedding_dim": 8}
