"""Input validation shared by the generator's public methods: fail loudly, name the argument."""
from __future__ import annotations

import math
from numbers import Real

import torch
from torch import Tensor


def check_tensor(name: str, value: object, *, ndim: int = 2) -> Tensor:
    """A floating tensor of the given rank with only finite values."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    bad = count_non_finite(value)
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or Inf value(s)")
    return value


def count_non_finite(value: Tensor, block: int = 1 << 20) -> int:
    """NaN/Inf count, in blocks: isfinite on a whole table would cost several times its size.

    A finite sum proves every entry finite (NaN and Inf propagate through a sum) in one pass with
    no mask and no copy (a sum in another dtype would copy the table); only a non-finite sum (bad
    entries, or finite ones overflowing the dtype) is counted exactly.
    """
    if value.numel() == 0 or bool(torch.isfinite(value.sum())):
        return 0
    flat = value.reshape(-1)
    return sum(int((~torch.isfinite(flat[i:i + block])).sum()) for i in range(0, flat.numel(), block))


def check_conditions(conditions: object) -> list[Tensor]:
    """A non-empty list of 2-D finite tensors with the same number of rows."""
    if isinstance(conditions, Tensor) or not isinstance(conditions, (list, tuple)):
        raise TypeError("conditions must be a list of tensors, e.g. [image_cond, text_cond]")
    if len(conditions) == 0:
        raise ValueError("conditions must not be empty: pass at least one condition tensor")
    tensors = [check_tensor(f"conditions[{i}]", c) for i, c in enumerate(conditions)]
    rows = {c.shape[0] for c in tensors}
    if len(rows) > 1:
        raise ValueError(f"conditions must all have the same number of rows, got {[c.shape[0] for c in tensors]}")
    devices = {c.device for c in tensors}
    if len(devices) > 1:
        raise ValueError(f"conditions must all be on one device, got {sorted(map(str, devices))}")
    return list(tensors)


def check_rows(name: str, value: Tensor, rows: int, width: int | None = None) -> None:
    if value.shape[0] != rows:
        raise ValueError(f"{name} has {value.shape[0]} rows but conditions have {rows}")
    if width is not None and value.shape[1] != width:
        raise ValueError(f"{name} has width {value.shape[1]}, expected embedding_dim={width}")


def check_number(name: str, value: object, *, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, integer: bool = False) -> None:
    """A real (or integer) number inside [low, high] (or (low, high] with low_open)."""
    kind = int if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
        left = "(" if low_open else "["
        raise ValueError(f"{name} must be in {left}{low}, {high}], got {value!r}")
