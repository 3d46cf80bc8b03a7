"""Executed lessons kept in the repository, so a reader sees every figure, table and conclusion
without running anything (on GitHub, in JupyterLab, on the docs site).

A full ``make report`` copies each notebook it ran successfully to ``notebooks/executed/``, with
its outputs and, in the notebook's metadata under ``rfkit``, the provenance of the run (commit,
machine, device), its run time and the SHA-256 of the source notebook it ran (`source_hash`).
Quick runs and tests never write there. `lesson_problems` is what the tests check: a lesson that
no longer matches its notebook's source, or that grew too large, is reported.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

EXECUTED_DIR = "executed"  # under the notebooks folder
MAX_BYTES = 2_000_000


def source_hash(notebook: str | Path) -> str:
    """SHA-256 of a notebook's cells (type and source, in order): outputs, execution counts and
    metadata do not change it, an edited cell does."""
    cells = nbformat.read(notebook, as_version=4).cells
    text = json.dumps([[cell.cell_type, cell.source] for cell in cells], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def publish_lesson(executed: Path, source_sha256: str, provenance: Mapping[str, Any], runtime_s: float | None,
                   target_dir: Path) -> Path:
    """Write the executed notebook to ``target_dir/<name>.ipynb`` with its run's record in
    ``metadata.rfkit``; returns the path."""
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata["rfkit"] = {"source_sha256": source_sha256, "runtime_s": runtime_s,
                                  "provenance": dict(provenance)}
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / executed.name
    nbformat.write(notebook, target)
    return target


def lesson_problems(source: Path, lesson: Path) -> list[str]:
    """What is wrong with the executed lesson of the notebook ``source`` (empty when nothing):
    missing, not matching the source it claims to have run, without outputs, or too large."""
    if not lesson.is_file():
        return [f"{lesson} is missing: run `make report`"]
    problems, notebook = [], nbformat.read(lesson, as_version=4)
    record = notebook.metadata.get("rfkit", {})
    if record.get("source_sha256") != source_hash(source):
        problems.append(f"{lesson.name} was run from another version of {source.name}: run `make report`")
    if not all(record.get("provenance", {}).get(key) for key in ("git_commit", "cpu", "device")):
        problems.append(f"{lesson.name} lacks its provenance (commit, CPU, device)")
    if not any(cell.get("outputs") for cell in notebook.cells):
        problems.append(f"{lesson.name} has no outputs")
    if lesson.stat().st_size > MAX_BYTES:
        problems.append(f"{lesson.name} is {lesson.stat().st_size / 1e6:.1f} MB, over {MAX_BYTES / 1e6:.0f} MB")
    return problems
