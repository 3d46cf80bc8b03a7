"""What produced a result: the code's git commit, the software, the CPU, the device and the config.

Numbers are only comparable when we know where they came from: a bf16-capable CPU, another torch or
an uncommitted change can each move them. `provenance()` collects these facts as a JSON-ready dict
that every results file stores next to its numbers.
"""
from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
CPUINFO = Path("/proc/cpuinfo")
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 flags, then aarch64's "Features" entry
UNKNOWN = "unknown"


def _git(*args: str) -> str | None:
    """stdout of ``git args`` in the repository holding rfkit, None outside a checkout."""
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit() -> str:
    """The checked-out commit of the code that runs, "unknown" outside a git checkout."""
    return _git("rev-parse", "HEAD") or UNKNOWN


# What the kit writes itself while a report runs (full-run results, the README's generated blocks,
# benchmark results): a change there is not a change of the code that produced a result.
OUTPUTS = ("figures", "README.md", "benchmarks/results")


def git_dirty() -> bool | None:
    """Whether tracked files other than the kit's own `OUTPUTS` differ from that commit (None
    outside a checkout)."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                  *(f":(exclude){path}" for path in OUTPUTS))
    return None if status is None else bool(status)


def cpu_info(text: str | None = None) -> dict[str, Any]:
    """{"model": ..., "native_bf16": ...} from /proc/cpuinfo's text (read when not given).

    native_bf16 is True when the first processor lists avx512_bf16 or amx_bf16 (x86) or bf16
    (aarch64); the model falls back to `platform` where /proc/cpuinfo is absent.
    """
    if text is None:
        try:
            text = CPUINFO.read_text(errors="replace")
        except OSError:
            text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:  # the first processor's block is enough: all cores are alike
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    model = (fields.get("model name") or fields.get("hardware") or platform.processor()
             or platform.machine() or UNKNOWN)
    return {"model": model, "native_bf16": any(flag in flags for flag in BF16_FLAGS)}


def provenance(device: str = "cpu", config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The facts that produced a result: git commit (and whether the tree was dirty), Python and
    torch versions, CPU model and native bf16, the device it ran on and the config (a copy)."""
    if not isinstance(device, str) or not device:
        raise TypeError(f"device must be a non-empty string such as 'cpu', got {device!r}")
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping or None, got {type(config).__name__}")
    cpu = cpu_info()
    return {"git_commit": git_commit(), "git_dirty": git_dirty(),
            "python": sys.version.split()[0], "torch": torch.__version__,
            "platform": platform.platform(), "cpu": cpu["model"],
            "cpu_native_bf16": cpu["native_bf16"], "device": device,
            "config": dict(config) if config is not None else {}}
