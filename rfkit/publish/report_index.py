"""``index.html`` of a report: the page a teacher hands out.

Per notebook: its question (results.json's ``question``, else the first paragraph of the notebook's
first markdown cell), its computed conclusions as sentences (results.json's ``conclusions`` list,
else its ``verdicts`` list), its headline figure inline (the figure its results.json names under
``headline_figure``, else the first it recorded; copied beside the page when it lives elsewhere,
so the folder can be handed out whole), a link to the executed
notebook, run time and status; the raw key numbers and the provenance folded away below. The page
is rendered from a Jinja2 template (``templates/report_index.html.j2``), which escapes every value.
"""
from __future__ import annotations

import html
import math
import numbers
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import nbformat
from nbconvert.filters import markdown2html

from rfkit.publish.results import ReportResult, conclusions

PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # the banner papermill puts in failed notebooks

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


def notebook_intro(notebook: Path | None) -> tuple[str | None, str | None]:
    """(title, first paragraph) of the first markdown cell of ``notebook``: its heading without
    the ``#`` marks and the paragraph after it, as markdown; None for what is missing."""
    if notebook is None or not notebook.exists():
        return None, None
    cells = nbformat.read(notebook, as_version=4).cells
    cell = next((c for c in cells if c.cell_type == "markdown"
                 and PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])), None)
    if cell is None:
        return None, None
    blocks = [b.strip() for b in re.split(r"\n\s*\n", cell.source) if b.strip()]
    title = None
    if blocks and blocks[0].startswith("#"):
        heading, _, rest = blocks[0].partition("\n")
        title = heading.lstrip("#").strip()
        blocks = [rest.strip(), *blocks[1:]] if rest.strip() else blocks[1:]
    return title, blocks[0] if blocks else None


def headline_name(report: ReportResult) -> str | None:
    """The figure named by results' ``headline_figure``, else the first recorded (None: none)."""
    chosen = report.results.get("headline_figure")
    if isinstance(chosen, str) and chosen in report.figures:
        return chosen
    return next(iter(report.figures), None)


def headline_figure(report: ReportResult, output_dir: Path) -> str | None:
    """URL, relative to ``output_dir``, of the notebook's headline figure; a figure outside
    ``output_dir`` is copied to ``output_dir/<notebook>/figures/``. None when the notebook
    recorded no figure or its file is gone."""
    name = headline_name(report)
    if name is None:
        return None
    source = Path(report.figures[name])
    if not source.is_file():
        return None
    source, out = source.resolve(), output_dir.resolve()
    if not source.is_relative_to(out):
        target = out / report.name / "figures" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        source = target
    return quote(source.relative_to(out).as_posix())


def _provenance_line(facts: Mapping[str, Any]) -> str:
    if not facts:
        return "not recorded"
    commit = str(facts.get("git_commit", "unknown"))[:12] + (" (uncommitted changes)"
                                                            if facts.get("git_dirty") else "")
    bf16 = "native bf16" if facts.get("cpu_native_bf16") else "no native bf16"
    return (f"commit {commit}; Python {facts.get('python')}, torch {facts.get('torch')}; "
            f"{facts.get('cpu')} ({bf16}); device {facts.get('device')}")


def _section(report: ReportResult, output_dir: Path) -> dict[str, Any]:
    """What the template shows of one notebook."""
    title, paragraph = notebook_intro(report.notebook)
    question = report.results.get("question")
    question_html = (f"<p>{html.escape(question)}</p>" if isinstance(question, str)
                     else markdown2html(paragraph) if paragraph else "<p>(no question recorded)</p>")
    numbers_found = key_numbers(report.results)
    return {"name": report.name, "title": title or report.name, "status": report.status,
            "seconds": report.seconds, "question_html": question_html,
            "page": quote(report.html.relative_to(output_dir).as_posix()) if report.html is not None else None,
            # an indented sentence details the one above it
            "sentences": [(s[:1].isspace(), s.strip()) for s in conclusions(report.results)],
            "error": report.error, "figure": headline_figure(report, output_dir),
            "figure_name": headline_name(report),
            "numbers": [(k, _format(v)) for k, v in numbers_found.items()],
            "provenance": _provenance_line(report.provenance)}


TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("rfkit.publish", "templates"),
                               autoescape=True, keep_trailing_newline=True)


def write_index(reports: list[ReportResult], output_dir: Path) -> Path:
    """Write ``output_dir/index.html`` for ``reports`` (see the module docstring) from the
    template ``templates/report_index.html.j2``."""
    page = TEMPLATES.get_template("report_index.html.j2").render(
        sections=[_section(r, output_dir) for r in reports], failed=sum(r.status == "failed" for r in reports))
    path = output_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
