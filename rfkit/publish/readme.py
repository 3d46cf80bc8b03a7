"""What the kit measured, generated from result files instead of typed by hand.

- README.md's marked ``findings`` block: the key findings of every notebook's full run (at most
  `MAX_FINDINGS`, each a sentence with its number and interval, linked to the executed lesson);
- FINDINGS.md, written whole: per notebook, every conclusion its full run computed
  (``figures/<notebook>/results.json``, left there by ``make report``) with its run time and what
  produced it, then the tables the benchmarks wrote (``benchmarks/results/*.json``, by ``make bench``).

``python -m rfkit readme`` (and a full ``python -m rfkit report --figures figures``) refreshes both;
a test fails when either differs from what the committed files give.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rfkit.publish.results import conclusions

BLOCKS = ("findings",)
MAX_FINDINGS = 10
FINDINGS_PAGE = "FINDINGS.md"


def _marker(name: str, end: bool = False) -> str:
    return f"<!-- {'END' if end else 'BEGIN'} GENERATED: {name} (python -m rfkit readme; do not edit) -->"


def _results(figures_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(path.parent.name, json.loads(path.read_text())) for path in sorted(figures_dir.glob("*/results.json"))]


def _provenance_line(payload: Mapping[str, Any]) -> str:
    source = payload.get("provenance") or {}
    commit = source.get("git_commit")
    dirty = " with uncommitted changes" if source.get("git_dirty") else ""
    parts = [f"commit {str(commit)[:7]}{dirty}" if commit else None,
             source.get("cpu"), f"torch {source['torch']}" if source.get("torch") else None,
             f"device {source['device']}" if source.get("device") else None]
    return ", ".join(p for p in parts if p)


def _lesson_link(name: str) -> str:
    return f"[{name}](notebooks/executed/{name}.ipynb)"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def findings_block(figures_dir: str | Path) -> str:
    """The README's key findings: each notebook's ``key_findings``, in notebook order, at most
    `MAX_FINDINGS`, each linked to its executed lesson; then where the full lists are."""
    found = _results(Path(figures_dir))
    findings = [(name, _sentence_case(" ".join(str(f).split()).removeprefix("=> ")))
                for name, payload in found for f in payload.get("results", {}).get("key_findings", [])]
    if not findings:
        return "No key findings yet: run `make report`."
    if len(findings) > MAX_FINDINGS:
        raise ValueError(f"the notebooks name {len(findings)} key findings; the README shows at most {MAX_FINDINGS}")
    lines = [f"{i}. {finding} ({_lesson_link(name)})" for i, (name, finding) in enumerate(findings, 1)]
    minutes = sum(payload.get("results", {}).get("runtime_s") or 0 for _, payload in found) / 60
    machine = (found[0][1].get("provenance") or {}).get("cpu", "an unrecorded CPU")
    return "\n".join([*lines, "", f"The full run of the {len(found)} notebooks took {minutes:.0f} min on {machine} "
                                   f"(the sum of the notebooks' run times). Every conclusion of every notebook, "
                                   f"with run times, figures and the benchmarks: [{FINDINGS_PAGE}]({FINDINGS_PAGE})."])


def measured_block(figures_dir: str | Path, root: str | Path = ".") -> str:
    """Markdown of every notebook's computed conclusions, from ``figures/*/results.json``."""
    figures_dir, root = Path(figures_dir), Path(root)
    found = _results(figures_dir)
    if not found:
        return "No full-run results yet: run `make report`."
    lines = []
    for name, payload in found:
        results = payload.get("results", {})
        runtime = results.get("runtime_s")
        made = _provenance_line(payload)
        lines.append(f"### {_lesson_link(name)}")
        lines.append("")
        run = "Full run" + (f" of {runtime / 60:.1f} min" if runtime else "")
        lines.append(run + (f"; {made}." if made else "."))
        lines.append("")
        # a conclusion indented with spaces details the one above it: a nested item
        lines += [("    - " if s.startswith(" ") else "- ") + s.strip() for s in conclusions(results)] \
            or ["- (no conclusions recorded)"]
        figures = payload.get("figures", {})
        if figures:
            first = Path(next(iter(figures.values()))).name
            lines += ["", f"![{name}]({(figures_dir.resolve() / name / first).relative_to(root.resolve()).as_posix()})"]
        lines.append("")
    return "\n".join(lines).rstrip()


def _table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return []
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        return "" if value is None else str(value)
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows])


def _benchmark_entries(files: Sequence[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Each file's result, or each of its sections (a file like overhead.json keeps one per mode)."""
    entries = []
    for path in files:
        bench = json.loads(path.read_text())
        sections = [bench] if "machine" in bench else [value for value in bench.values() if isinstance(value, dict)]
        entries += [(path, section) for section in sections]
    return entries


def _machine_line(machine: Any) -> str:
    """A result's machine: a string as it is, a mapping (CPU, native bf16, torch, ...) as "key value, ..."."""
    if isinstance(machine, Mapping):
        return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in machine.items())
    return str(machine)


def benchmarks_block(results_dir: str | Path) -> str:
    """Markdown of every benchmark result file: title, machine line, table(s), notes."""
    files = sorted(Path(results_dir).glob("*.json"))
    if not files:
        return "No benchmark results yet: run `make bench`."
    lines = []
    for path, bench in _benchmark_entries(files):
        lines += [f"**{bench.get('title', path.stem)}** (`{path.parent.name}/{path.name}`)", "",
                  f"Machine: {_machine_line(bench.get('machine', 'unknown'))}", ""]
        tables = bench.get("tables") or {"": bench.get("table", [])}
        for caption, rows in tables.items():
            if caption:
                lines += [f"*{caption}*", ""]
            lines += _table(rows) + [""]
        lines += [f"- {note}" for note in bench.get("notes", [])] + [""]
    return "\n".join(lines).rstrip()


def render(figures_dir: str | Path = "figures") -> dict[str, str]:
    """The README's generated blocks, by name."""
    return {"findings": findings_block(figures_dir)}


def findings_page(figures_dir: str | Path = "figures", bench_dir: str | Path = "benchmarks/results",
                  root: str | Path = ".") -> str:
    """FINDINGS.md: every notebook's conclusions, then the benchmarks."""
    return "\n".join([
        "# What rfkit measured", "",
        "Generated by `python -m rfkit readme` from `figures/*/results.json` (a full `make report`) and",
        "`benchmarks/results/*.json` (`make bench`); do not edit. Every \"better\" or \"worse\" is a paired 95%",
        "interval that excludes zero; a \"within noise\" one says what it could have detected.", "",
        "## Notebooks", "", measured_block(figures_dir, root), "",
        "## Benchmarks", "", benchmarks_block(bench_dir), ""])


def blocks_in(text: str) -> dict[str, str]:
    """The current content of each generated block of a README text."""
    found = {}
    for name in BLOCKS:
        match = re.search(re.escape(_marker(name)) + r"\n(.*?)\n?" + re.escape(_marker(name, end=True)), text, re.S)
        if match is None:
            raise ValueError(f"README has no block {name!r}: add the lines {_marker(name)!r} and "
                             f"{_marker(name, end=True)!r}")
        found[name] = match.group(1)
    return found


def refresh(readme: str | Path = "README.md", figures_dir: str | Path = "figures",
            bench_dir: str | Path = "benchmarks/results") -> bool:
    """Rewrite the README's generated blocks and FINDINGS.md beside it from the result files;
    True if anything changed."""
    readme = Path(readme)
    text = original = readme.read_text()
    blocks_in(text)  # every block must exist before anything is written
    for name, content in render(figures_dir).items():
        pattern = re.escape(_marker(name)) + r"\n.*?\n?" + re.escape(_marker(name, end=True))
        text = re.sub(pattern, lambda _: f"{_marker(name)}\n{content}\n{_marker(name, end=True)}", text, flags=re.S)
    page = readme.parent / FINDINGS_PAGE
    content = findings_page(figures_dir, bench_dir, readme.parent)
    changed = text != original or not page.is_file() or page.read_text() != content
    if text != original:
        readme.write_text(text)
    page.write_text(content)
    return changed
