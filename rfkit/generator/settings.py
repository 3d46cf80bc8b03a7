"""The generator's settings, validated in one place: the spec's 15 constructor parameters (same
names, defaults and meaning) and the kit's extras. A bad value is an error naming the argument."""
from __future__ import annotations

from dataclasses import dataclass, fields

from .checks import check_number


@dataclass(frozen=True)
class GeneratorSettings:
    """Every constructor argument of the generators but ``condition_dim`` (see
    `RFEmbeddingGenerator` for their meaning); construction checks each one."""

    embedding_dim: int
    hidden_dim: int = 256
    n_layers: int = 2
    dropout: float = 0.1
    learning_rate: float = 0.001
    sampling_steps: int = 10
    user_guidance_scale: float = 0.2
    guidance_decay_power: float = 2.0
    cosine_guidance_scale: float = 0.1
    cosine_decay_power: float = 2.0
    warmup_epochs: int = 0
    train_mix_ratio: float = 0.5
    inference_mix_ratio: float = 0.5
    contrast_temp: float = 0.2
    contrast_weight: float = 1.0
    gradient_checkpointing: bool = False
    chunk_size: int | None = None
    max_contrast_rows: int = 1024
    max_train_rows: int | None = None
    normalize_targets: bool = True
    max_skipped_steps: int = 10
    max_grad_norm: float | None = None
    bf16: bool | str = False

    def __post_init__(self) -> None:
        positive_ints = ("embedding_dim", "hidden_dim")
        for name in positive_ints:
            check_number(name, getattr(self, name), low=0, low_open=True, integer=True)
        for name, low in (("n_layers", 1), ("sampling_steps", 1), ("warmup_epochs", 0),
                          ("max_contrast_rows", 2), ("max_skipped_steps", 1)):
            check_number(name, getattr(self, name), low=low, integer=True)
        for name, low in (("chunk_size", 1), ("max_train_rows", 2)):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name), low=low, integer=True)
        check_number("dropout", self.dropout, low=0, high=1)
        if self.dropout == 1:
            raise ValueError("dropout must be in [0, 1), got 1")
        for name in ("learning_rate", "contrast_temp"):
            check_number(name, getattr(self, name), low=0, low_open=True)
        for name in ("user_guidance_scale", "cosine_guidance_scale", "guidance_decay_power",
                     "cosine_decay_power", "contrast_weight"):
            check_number(name, getattr(self, name), low=0)
        for name in ("train_mix_ratio", "inference_mix_ratio"):
            check_number(name, getattr(self, name), low=0, high=1)
        if self.max_grad_norm is not None:
            check_number("max_grad_norm", self.max_grad_norm, low=0, low_open=True)
        for name in ("gradient_checkpointing", "normalize_targets"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not (isinstance(self.bf16, bool) or self.bf16 == "auto"):
            raise ValueError(f"bf16 must be False, True or 'auto', got {self.bf16!r}")

    @classmethod
    def names(cls) -> list[str]:
        """The settings' names, in constructor order."""
        return [f.name for f in fields(cls)]
