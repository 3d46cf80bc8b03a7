"""The machine: where models train ("cpu", "cuda", "cuda:N" or "auto") and what it computes natively.

Device setting: "auto" means CUDA when available, else the CPU. Asking for CUDA where there is
none is an error naming the device and what is available, never a silent fall-back to the CPU.

bf16: autocast only pays where the hardware multiplies bf16 natively: CPUs with the AVX512-BF16 or
AMX-BF16 instructions, and GPUs that support it. Elsewhere PyTorch emulates it, several times
slower than fp32, so `native_bf16` is the test behind the generator's ``bf16="auto"``.
"""
from __future__ import annotations

import functools
import platform
import warnings
from pathlib import Path

import torch
from torch import nn

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")


def available_devices() -> list[str]:
    """"cpu" plus "cuda:i" for every visible GPU."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ["cpu"] + [f"cuda:{i}" for i in range(gpus)]


def describe_devices() -> str:
    """One line: the torch build and the devices it can use, with the GPUs' names."""
    names = ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})"
                       for i in range(len(available_devices()) - 1)]
    return f"torch {torch.__version__}, available: {', '.join(names)}"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch.device that ``device`` names; "auto" is cuda when available, else cpu.

    Raises ValueError for a string that is not a device, another device type, or a CUDA device
    this machine does not have.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string or torch.device, got {type(device).__name__}")
    try:
        resolved = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except RuntimeError:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, "
                         f"got {device!r}") from None
    if resolved.type == "cpu":
        return torch.device("cpu")
    if resolved.type != "cuda":
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available "
                         f"({describe_devices()})")
    if resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} requested but only "
                         f"{torch.cuda.device_count()} GPU(s) are visible ({describe_devices()})")
    return resolved


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); the CPU for an empty module."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def worker_devices(n_workers: int, device: str | torch.device = "auto") -> list[torch.device]:
    """One device per worker: round-robin over the visible GPUs for "cuda"/"auto", else ``device``.

    Warns (UserWarning) when several workers land on one GPU, since they then share its memory
    and compute.
    """
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
    resolved = resolve_device(device)
    if resolved.type == "cpu":
        return [resolved] * n_workers
    if resolved.index is None:
        cards = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    else:
        cards = [resolved]
    devices = [cards[i % len(cards)] for i in range(n_workers)]
    if n_workers > len(cards):
        per_card = -(-n_workers // len(cards))
        warnings.warn(f"{n_workers} workers share {len(cards)} GPU(s) "
                      f"({', '.join(map(str, cards))}): up to {per_card} per card compete for its "
                      f"memory and compute", stacklevel=2)
    return devices


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
