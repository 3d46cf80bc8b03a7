"""What a notebook run leaves behind: `OUTPUT_DIR/results.json` and PNG figures.

Every notebook creates one `RunRecord` from its parameters cell, records its key numbers and
figures through it, and calls `write()` last. Tests and `python -m rfkit report` read only
results.json, never cell outputs.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rfkit.publish.provenance import provenance


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy and torch scalars to Python, a DataFrame to `json_records`, NaN/Inf
    refused."""
    if isinstance(value, pd.DataFrame):
        return _plain(json_records(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to record a non-finite number ({value})")
    return value


def json_records(table: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready records: a missing value (NaN, e.g. no interval with one
    seed, or no generator health for the backbone) becomes None, which a results file may hold."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


class RunRecord:
    """Collects one notebook run's parameters, numbers and figures.

    ``device`` and ``config`` (the model config; the parameters when None) go into the
    provenance that `write` stores; both may be set later as attributes.
    """

    def __init__(self, notebook: str, parameters: Mapping[str, Any], output_dir: str | Path,
                 figures_dir: str | Path, device: str = "cpu",
                 config: Mapping[str, Any] | None = None):
        self.notebook = notebook
        self.parameters = dict(parameters)
        self.device = device
        self.config = config
        self.output_dir = Path(output_dir)
        self.figures_dir = Path(figures_dir)
        self.results: dict[str, Any] = {}
        self.figures: dict[str, str] = {}

    def record(self, **numbers: Any) -> None:
        """Add key numbers (anything JSON-able: floats, dicts of floats, lists, strings)."""
        self.results.update(_plain(numbers))

    def figure(self, fig, name: str, dpi: int = 120) -> Path:
        """Save a matplotlib figure as FIGURES_DIR/<name>.png and remember its path."""
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        path = self.figures_dir / f"{name}.png"
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        self.figures[name] = str(path)
        return path

    def write(self) -> Path:
        """Write OUTPUT_DIR/results.json: parameters, numbers, figures and provenance."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / "results.json"
        config = self.parameters if self.config is None else self.config
        payload = {"notebook": self.notebook, "parameters": _plain(self.parameters),
                   "results": self.results, "figures": self.figures,
                   "provenance": _plain(provenance(self.device, config))}
        path.write_text(json.dumps(payload, indent=2, allow_nan=False))
        return path
