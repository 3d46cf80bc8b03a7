"""Every notebook in notebooks/ runs in quick mode and leaves a sound results.json.

The common checks apply to all notebooks: parameters recorded (all but the output locations),
numbers finite, figures real PNGs under FIGURES_DIR, quick run under QUICK_LIMIT_S. Each notebook
must also have a module `notebook_checks/nb_<two-digit prefix>.py` whose `check(payload)` takes the
parsed results.json and asserts what that notebook should have found. A notebook without one fails.
"""
import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from PIL import Image

from notebook_checks.common import runs_carry_health
from rfkit.lab.setup import findings_markdown
from rfkit.publish.report import execute

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_CHECKS = Path(__file__).resolve().parent / "notebook_checks"
sys.path.insert(0, str(NOTEBOOK_CHECKS.parent))
QUICK_LIMIT_S = 60.0
# The run records of each notebook that trains models (results paths, "a.b" for nested keys): each
# names its generator and, with one, its health (`notebook_checks.common.runs_carry_health`).
RUN_RECORDS = {"01": ["runs", "knob_runs"], "03": ["sweep_rows", "control_rows"],
               "05": ["guidance_grid", "sampling_runs"], "07": ["cold_start"],
               "08": ["parameter_effects", "real.effects"]}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOCATIONS = {"OUTPUT_DIR", "FIGURES_DIR"}  # where outputs go, checked by where they are found




def non_finite(value: Any, where: str = "results") -> list[str]:
    """Paths of the NaN/Inf numbers anywhere inside ``value``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{where}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [where]
    return []


def assert_png(path: Path) -> None:
    assert path.is_file(), f"figure {path} does not exist"
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"figure {path} is not a PNG"
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_quick_run(path: Path, tmp_path: Path) -> None:
    module = NOTEBOOK_CHECKS / f"nb_{path.stem[:2]}.py"
    if not module.is_file():
        pytest.fail(f"notebook {path.name} has no test: add tests/notebook_checks/{module.name} "
                    "with a check(payload) function")
    check = importlib.import_module(f"notebook_checks.{module.stem}").check
    output_dir, figures_dir = tmp_path / "output", tmp_path / "figures"
    run = execute(path, tmp_path, {"QUICK": True, "OUTPUT_DIR": str(output_dir),
                                   "FIGURES_DIR": str(figures_dir)})
    assert run.status == "ok", f"{path.name} failed at {run.error}"

    executed = nbformat.read(run.notebook, as_version=4)
    duration = executed.metadata.papermill.duration
    assert duration < QUICK_LIMIT_S, f"quick run took {duration:.1f} s"

    results_file = output_dir / "results.json"
    assert results_file.is_file(), "the notebook wrote no OUTPUT_DIR/results.json"
    payload = json.loads(results_file.read_text())
    assert payload["notebook"] in (path.stem, path.name)

    recorded = payload["parameters"]
    missing = sorted(set(papermill.inspect_notebook(str(path))) - set(recorded) - LOCATIONS)
    assert not missing, f"parameters {missing} are not recorded in results.json"
    assert recorded["QUICK"] is True
    assert {"git_commit", "torch", "cpu", "cpu_native_bf16"} <= set(payload["provenance"])

    assert payload["results"], "results.json records no results"
    assert not non_finite(payload["results"]), f"non-finite: {non_finite(payload['results'])}"
    for name, figure in payload["figures"].items():
        figure_path = (NOTEBOOKS_DIR / figure).resolve()  # relative paths: cwd is notebooks/
        assert figure_path.is_relative_to(figures_dir.resolve()), \
            f"figure {name!r} ({figure}) is not in FIGURES_DIR"
        assert_png(figure_path)

    # The lesson ends with its answer: the last output is the conclusions rendered as Markdown, and
    # the key findings the README quotes are among them (one or two per notebook, with numbers).
    conclusions, key_findings = payload["results"]["conclusions"], payload["results"]["key_findings"]
    last_output = executed.cells[-1].outputs[-1]
    assert last_output.output_type == "display_data"
    assert last_output.data["text/markdown"] == findings_markdown(conclusions)
    assert 1 <= len(key_findings) <= 2 and set(key_findings) <= set(conclusions)
    assert all(any(ch.isdigit() for ch in finding) for finding in key_findings)

    for path_in_results in RUN_RECORDS.get(path.stem[:2], []):
        rows = payload["results"]
        for key in path_in_results.split("."):
            rows = rows[key]
        runs_carry_health(rows)
    check(payload)
