"""Run the notebooks headlessly with papermill and build an HTML report of what they found.

For every selected notebook: execute it with its own ``OUTPUT_DIR`` (so results.json files never
collide), keep the executed .ipynb and an HTML rendering, read its results.json, and finally
write ``index.html``, a page to hand out (see `rfkit.publish.report_index`). A failing notebook is
reported with its failing cell; the others still run. Parameter names are checked against every
notebook's ``parameters`` cell before anything executes.
"""
from __future__ import annotations

import fnmatch
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from rfkit.publish.lessons import source_hash
from rfkit.publish.report_index import key_numbers, write_index
from rfkit.publish.results import ReportResult, read_payload

KERNEL = "python3"
RESERVED = ("QUICK", "OUTPUT_DIR", "FIGURES_DIR")


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


def select_notebooks(notebooks_dir: str | Path = "notebooks", only: str | None = None,
                     quick: bool = False, parameters: Mapping[str, Any] | None = None) -> list[Path]:
    """The notebooks `run_reports` would execute, after checking every argument: a ValueError or
    TypeError here is bad input, found before anything runs."""
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {type(quick).__name__}")
    extra = dict(parameters or {})
    clash = [name for name in RESERVED if name in extra]
    if clash:
        raise ValueError(f"parameters must not set {clash}: use the quick, output_dir and "
                         f"figures_dir arguments")
    paths = find_notebooks(notebooks_dir, only)
    if not paths:
        available = [p.stem for p in find_notebooks(notebooks_dir)]
        raise ValueError(f"no notebook in {str(notebooks_dir)!r} matches only={only!r}; "
                         f"available: {available}")
    for path in paths:
        check_parameters(path, [*RESERVED, *extra])
    return paths


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


def execute(path: Path, report_dir: Path, parameters: Mapping[str, Any],
            progress: bool = False) -> ReportResult:
    """Run one notebook (cwd = its folder) into ``report_dir/<stem>.ipynb``; a failure is caught
    and described, never raised. ``parameters`` are passed as given (check them first)."""
    executed = report_dir / f"{path.stem}.ipynb"
    run_dir = Path(parameters["OUTPUT_DIR"])
    report_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").unlink(missing_ok=True)  # a failed rerun must not show old numbers
    start, error, source_sha256 = time.perf_counter(), None, source_hash(path)
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
    payload = read_payload(run_dir)
    return ReportResult(name=path.stem, status="failed" if error else "ok", seconds=seconds,
                        notebook=executed, html=None, output_dir=run_dir,
                        results=payload.get("results", {}), error=error,
                        figures={name: str((path.parent / figure).resolve())  # cwd-relative
                                 for name, figure in payload.get("figures", {}).items()},
                        provenance=payload.get("provenance", {}), source_sha256=source_sha256)


def render_html(executed: Path) -> Path:
    """Write the executed notebook as a standalone HTML page beside it."""
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    target = executed.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def summary_table(reports: list[ReportResult]) -> pd.DataFrame:
    """One row per notebook: status, seconds, number of key numbers, error (first line)."""
    return pd.DataFrame({
        "notebook": [r.name for r in reports],
        "status": [r.status for r in reports],
        "seconds": [round(r.seconds, 1) for r in reports],
        "numbers": [len(key_numbers(r.results)) for r in reports],
        "error": [r.error.splitlines()[0] if r.error else "" for r in reports],
    })


def run_reports(notebooks_dir: str | Path = "notebooks", output_dir: str | Path = "reports",
                quick: bool = False, only: str | None = None,
                figures_dir: str | Path | None = None,
                parameters: Mapping[str, Any] | None = None,
                progress: bool = True) -> list[ReportResult]:
    """Execute the selected notebooks, render each to HTML and write ``output_dir/index.html``.

    Each notebook gets ``QUICK=quick``, ``OUTPUT_DIR=<output_dir>/<stem>/``, ``FIGURES_DIR=
    <figures_dir>/<stem>`` (default ``<output_dir>/<stem>/figures``) and the extra ``parameters`` (e.g.
    ``{"SEED": 1}``). Raises ValueError, before executing anything, if no notebook matches or a
    parameter name is unknown to a notebook's ``parameters`` cell (see `select_notebooks`).
    """
    paths = select_notebooks(notebooks_dir, only, quick, parameters)
    return run_notebooks(paths, output_dir, quick, figures_dir, parameters, progress)


def run_notebooks(paths: list[Path], output_dir: str | Path = "reports", quick: bool = False,
                  figures_dir: str | Path | None = None,
                  parameters: Mapping[str, Any] | None = None,
                  progress: bool = True) -> list[ReportResult]:
    """Execute ``paths`` (checked by `select_notebooks`), render each to HTML and write
    ``output_dir/index.html``; each notebook gets the parameters described in `run_reports`."""
    extra = dict(parameters or {})
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
