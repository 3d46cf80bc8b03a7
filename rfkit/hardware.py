"""What the machine can do: the CPU's model name and whether it (or a GPU) computes bf16 natively.

bf16 autocast only pays where the hardware multiplies bf16 natively: CPUs with the AVX512-BF16 or
AMX-BF16 instructions, and GPUs that support it. Elsewhere PyTorch emulates it, several times
slower than fp32, so `native_bf16` is the test behind the generator's ``bf16="auto"``.
"""
from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

CPUINFO = Path("/proc/cpuinfo")
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=None)
def _cpuinfo_field(field: str) -> str:
    """The value of the first ``field : value`` line of /proc/cpuinfo ("" where there is none)."""
    try:
        lines = CPUINFO.read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    return ""


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows, else "unknown"."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set flags from /proc/cpuinfo (empty where it cannot be read)."""
    return frozenset(_cpuinfo_field("flags").split())


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether `device` computes bf16 natively: a CUDA GPU with bf16 support, or a CPU with
    AVX512-BF16 or AMX-BF16. Other devices answer False (autocast would emulate bf16 there)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(cpu_flags() & BF16_CPU_FLAGS)
    return False
