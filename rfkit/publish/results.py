"""A notebook run, read back: what it wrote (``OUTPUT_DIR/results.json``), the sentences it
computed, and the report's record of the run. The report runner writes these records, the index
page and the README generator read them; all import this module and none of them imports another.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ReportResult:
    """One notebook's run: status "ok" or "failed", where its outputs are, what it recorded
    (``results``, ``figures`` as absolute paths by name, ``provenance``) and the hash of the source
    it ran (`rfkit.publish.lessons.source_hash`)."""

    name: str
    status: str
    seconds: float
    notebook: Path
    html: Path | None
    output_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    figures: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    source_sha256: str | None = None


def read_payload(output_dir: Path) -> dict[str, Any]:
    """The notebook's results.json in `output_dir` ({} when it wrote none)."""
    path = Path(output_dir) / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


CONCLUSION_KEYS = ("conclusions", "verdicts")


def conclusions(results: Mapping[str, Any]) -> list[str]:
    """The sentences the notebook computed: its ``conclusions`` list, else its ``verdicts``
    list (lists of strings only; [] when it recorded neither)."""
    for key in CONCLUSION_KEYS:
        value = results.get(key)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
    return []
