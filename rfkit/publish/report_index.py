"""``index.html`` of a report: the page a teacher hands out.

Per notebook: its question (results.json's ``question``, else the first paragraph of the notebook's
first markdown cell), its computed conclusions as sentences (results.json's ``conclusions`` list,
else its ``verdicts`` list), its headline figure inline (the figure its results.json names under
``headline_figure``, else the first it recorded; copied beside the page when it lives elsewhere,
so the folder can be handed out whole), a link to the executed
notebook, run time and status; the raw key numbers and the provenance folded away below.
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

import nbformat
from nbconvert.filters import markdown2html

from rfkit.publish.results import ReportResult

PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # the banner papermill puts in failed notebooks
CONCLUSION_KEYS = ("conclusions", "verdicts")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #222; }
nav table { border-collapse: collapse; }
nav td, nav th { border-bottom: 1px solid #ddd; padding: 2px 10px; text-align: left; }
section { border-top: 2px solid #ccc; margin-top: 2em; }
.meta { color: #555; }
.ok { color: #2a7d2a; font-weight: bold; }
.failed { color: #b00020; font-weight: bold; }
.question { background: #f4f6fa; border-left: 4px solid #6b8cce; padding: 0.2em 1em; }
ul.conclusions li { margin: 0.3em 0; }
ul.conclusions li.detail { list-style: circle; margin-left: 1.5em; }
figure img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 90%; }
pre.error { background: #fdecee; }
details { margin: 0.8em 0; }
"""


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


def conclusions(results: Mapping[str, Any]) -> list[str]:
    """The sentences the notebook computed: its ``conclusions`` list, else its ``verdicts``
    list (lists of strings only; [] when it recorded neither)."""
    for key in CONCLUSION_KEYS:
        value = results.get(key)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
    return []


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


def _section(report: ReportResult, output_dir: Path) -> str:
    """One notebook's part of the page."""
    title, paragraph = notebook_intro(report.notebook)
    question = report.results.get("question")
    question_html = (f"<p>{html.escape(question)}</p>" if isinstance(question, str)
                     else markdown2html(paragraph) if paragraph else "<p>(no question recorded)</p>")
    name = html.escape(report.name)
    page_link = (f'<a href="{quote(report.html.relative_to(output_dir).as_posix())}">executed '
                 f"notebook</a>" if report.html is not None else "no executed notebook")
    sentences = conclusions(report.results)
    detail = ' class="detail"'  # an indented sentence details the one above it
    items = "\n".join(f"<li{detail if s[:1].isspace() else ''}>{html.escape(s.strip())}</li>"
                       for s in sentences)
    found = (f'<ul class="conclusions">\n{items}\n</ul>' if sentences
             else "<p>No conclusions recorded.</p>")
    error = (f'<pre class="error">{html.escape(report.error)}</pre>' if report.error else "")
    src = headline_figure(report, output_dir)
    figure = (f'<figure><img src="{html.escape(src)}" alt="{name}: headline figure">'
              f"<figcaption>{html.escape(str(headline_name(report)))}</figcaption></figure>"
              if src else "")
    numbers_text = "\n".join(f"{k} = {_format(v)}" for k, v in key_numbers(report.results).items())
    return f"""<section id="{name}">
<h2>{html.escape(title or report.name)}</h2>
<p class="meta"><code>{name}</code> · <span class="{report.status}">{report.status}</span> ·
{report.seconds:.1f} s · {page_link}</p>
<div class="question">{question_html}</div>
<h3>What it found</h3>
{found}
{error}
{figure}
<details><summary>Key numbers ({len(key_numbers(report.results))})</summary>
<pre>{html.escape(numbers_text)}</pre></details>
<details><summary>Provenance</summary><p>{html.escape(_provenance_line(report.provenance))}</p>
</details>
</section>"""


def write_index(reports: list[ReportResult], output_dir: Path) -> Path:
    """Write ``output_dir/index.html`` for ``reports`` (see the module docstring)."""
    failed = sum(r.status == "failed" for r in reports)
    rows = "\n".join(f'<tr><td><a href="#{html.escape(r.name)}">{html.escape(r.name)}</a></td>'
                     f'<td class="{r.status}">{r.status}</td><td>{r.seconds:.1f} s</td></tr>'
                     for r in reports)
    sections = "\n".join(_section(r, output_dir) for r in reports)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rfkit report</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style></head><body>
<h1>rfkit report</h1>
<p>{len(reports)} notebook(s), {failed} failed. Each section states the notebook's question and what
it computed; follow the link for the full executed notebook.</p>
<nav><table><tr><th>notebook</th><th>status</th><th>run time</th></tr>
{rows}
</table></nav>
{sections}
</body></html>
"""
    path = output_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
