"""Run the notebooks headlessly with papermill and build an HTML report of what they found.

For every selected notebook: execute it with its own ``OUTPUT_DIR`` (so results.json files never
collide), keep the executed .ipynb and an HTML rendering, read its results.json, and finally
write ``index.html``: one row per notebook with its status, run time and key numbers. A failing
notebook is reported with its failing cell; the others still run. Parameter names are checked
against every notebook's ``parameters`` cell before anything executes.
"""
from __future__ import annotations

import fnmatch
import html
import json
import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

KERNEL = "python3"
RESERVED = ("QUICK", "OUTPUT_DIR", "FIGURES_DIR")


@dataclass
class ReportResult:
    """One notebook's run: status "ok" or "failed", where its outputs are, what it recorded."""

    name: str
    status: str
    seconds: float
    notebook: Path
    html: Path | None
    output_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def find_notebooks(notebooks_dir: str | Path, only: str | None = None) -> list[Path]:
    """The sorted ``*.ipynb`` in ``notebooks_dir`` whose name matches ``only``: a glob pattern
    like ``"0[12]_*"`` or a plain substring like ``"warmup"``; all of them when ``only`` is None."""
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise ValueError(f"notebooks_dir {str(folder)!r} is not a directory")
    paths = sorted(folder.glob("*.ipynb"))
    if only is None:
        return paths
    if not isinstance(only, str) or not only:
        raise ValueError(f"only must be a non-empty pattern string, got {only!r}")
    return [p for p in paths
            if fnmatch.fnmatch(p.name, only) or fnmatch.fnmatch(p.stem, only) or only in p.name]


def check_parameters(path: Path, names: list[str]) -> None:
    """Refuse parameter names that the notebook's ``parameters`` cell does not define
    (papermill would silently inject them as new variables)."""
    valid = sorted(papermill.inspect_notebook(str(path)))
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"notebook {path.name!r} has no parameter(s) {unknown} in its "
                         f"'parameters' cell; valid parameters: {valid}")


def _seconds(nb: nbformat.NotebookNode) -> float:
    """The notebook's papermill duration, else the sum of its cells' durations."""
    meta = nb.metadata.get("papermill", {})
    if meta.get("duration") is not None:
        return float(meta["duration"])
    return float(sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells))


def _describe_failure(error: PapermillExecutionError, source_nb: nbformat.NotebookNode) -> str:
    """'code cell N: Ename: message' (N counted in the source notebook), then the cell's
    first line."""
    code = [c.source for c in source_nb.cells if c.cell_type == "code"]
    where = f"code cell {code.index(error.source) + 1}" if error.source in code \
        else f"cell {error.cell_index}"
    first_line = next((line for line in error.source.splitlines() if line.strip()), "")
    return f"{where}: {error.ename}: {error.evalue}\n>>> {first_line}"


def _read_results(output_dir: Path) -> dict[str, Any]:
    path = output_dir / "results.json"
    return json.loads(path.read_text()).get("results", {}) if path.exists() else {}


def execute(path: Path, report_dir: Path, parameters: Mapping[str, Any],
            progress: bool = False) -> ReportResult:
    """Run one notebook (cwd = its folder) into ``report_dir/<stem>.ipynb``; a failure is caught
    and described, never raised. ``parameters`` are passed as given (check them first)."""
    executed = report_dir / f"{path.stem}.ipynb"
    run_dir = Path(parameters["OUTPUT_DIR"])
    report_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").unlink(missing_ok=True)  # a failed rerun must not show old numbers
    start, error = time.perf_counter(), None
    try:
        papermill.execute_notebook(str(path), str(executed), parameters=dict(parameters),
                                   kernel_name=KERNEL, cwd=str(path.parent),
                                   progress_bar=progress)
    except PapermillExecutionError as exc:
        error = _describe_failure(exc, nbformat.read(path, as_version=4))
    except Exception as exc:  # a dead kernel or timeout must not stop the other notebooks
        error = f"{type(exc).__name__}: {exc}"
    seconds = (_seconds(nbformat.read(executed, as_version=4)) if executed.exists()
               else time.perf_counter() - start)
    return ReportResult(name=path.stem, status="failed" if error else "ok", seconds=seconds,
                        notebook=executed, html=None, output_dir=run_dir,
                        results=_read_results(run_dir), error=error)


def render_html(executed: Path) -> Path:
    """Write the executed notebook as a standalone HTML page beside it."""
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def key_numbers(results: Mapping[str, Any]) -> dict[str, float]:
    """Scalar numbers at the top level of ``results`` and one level down ("outer.inner")."""
    def is_number(v: Any) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    flat: dict[str, float] = {}
    for key, value in results.items():
        if is_number(value):
            flat[key] = value
        elif isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in value.items() if is_number(v)})
    return flat


def _format(value: float) -> str:
    if isinstance(value, numbers.Integral):
        return str(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def summary_table(reports: list[ReportResult]) -> pd.DataFrame:
    """One row per notebook: status, seconds, number of key numbers, error (first line)."""
    return pd.DataFrame({
        "notebook": [r.name for r in reports],
        "status": [r.status for r in reports],
        "seconds": [round(r.seconds, 1) for r in reports],
        "numbers": [len(key_numbers(r.results)) for r in reports],
        "error": [r.error.splitlines()[0] if r.error else "" for r in reports],
    })


def write_index(reports: list[ReportResult], output_dir: Path) -> Path:
    """``output_dir/index.html``: a table linking each notebook's HTML page with its status,
    seconds, key numbers ("name = value", one per line) and failing cell."""
    def link(r: ReportResult) -> str:
        if r.html is None:  # the kernel never started: there is no page to link
            return html.escape(r.name)
        return f'<a href="{html.escape(r.html.relative_to(output_dir).as_posix())}">' \
               f"{html.escape(r.name)}</a>"

    def lines(text: str) -> str:
        return "<br>".join(html.escape(line) for line in text.splitlines())

    table = pd.DataFrame({
        "notebook": [link(r) for r in reports],
        "status": [f'<span class="{r.status}">{r.status}</span>' for r in reports],
        "seconds": [f"{r.seconds:.1f}" for r in reports],
        "key numbers": [lines("\n".join(f"{k} = {_format(v)}" for k, v in
                                        key_numbers(r.results).items())) for r in reports],
        "error": [lines(r.error or "") for r in reports],
    })
    failed = sum(r.status == "failed" for r in reports)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rfkit report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }}
td:nth-child(4) {{ font-family: monospace; font-size: 90%; }}
.ok {{ color: #2a7d2a; font-weight: bold; }}
.failed {{ color: #b00020; font-weight: bold; }}
</style></head><body>
<h1>rfkit report</h1>
<p>{len(reports)} notebook(s), {failed} failed.</p>
{table.to_html(index=False, escape=False, border=0)}
</body></html>
"""
    path = output_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_reports(notebooks_dir: str | Path = "notebooks", output_dir: str | Path = "reports",
                quick: bool = False, only: str | None = None,
                figures_dir: str | Path | None = None,
                parameters: Mapping[str, Any] | None = None,
                progress: bool = True) -> list[ReportResult]:
    """Execute the selected notebooks, render each to HTML and write ``output_dir/index.html``.

    Each notebook gets ``QUICK=quick``, ``OUTPUT_DIR=<output_dir>/<stem>/``, ``FIGURES_DIR=
    <figures_dir>/<stem>`` (default ``<output_dir>/<stem>/figures``) and the extra ``parameters`` (e.g.
    ``{"SEED": 1}``). Raises ValueError, before executing anything, if no notebook matches or a
    parameter name is unknown to a notebook's ``parameters`` cell.
    """
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {type(quick).__name__}")
    extra = dict(parameters or {})
    clash = [name for name in RESERVED if name in extra]
    if clash:
        raise ValueError(f"parameters must not set {clash}: use the quick, output_dir and "
                         f"figures_dir arguments")
    paths = find_notebooks(notebooks_dir, only)
    if not paths:
        raise ValueError(f"no notebook in {str(notebooks_dir)!r} matches only={only!r}")
    for path in paths:
        check_parameters(path, [*RESERVED, *extra])

    out = Path(output_dir).resolve()
    reports = []
    bar = tqdm(paths, desc="notebooks", unit="nb", disable=not progress)
    for path in bar:
        bar.set_postfix_str(path.stem)
        run_dir = out / path.stem
        figures = Path(figures_dir).resolve() / path.stem if figures_dir is not None else run_dir / "figures"
        report = execute(path.resolve(), out, {"QUICK": quick, "OUTPUT_DIR": str(run_dir),
                                               "FIGURES_DIR": str(figures), **extra}, progress)
        if report.notebook.exists():
            report.html = render_html(report.notebook)
        reports.append(report)
    write_index(reports, out)
    return reports
