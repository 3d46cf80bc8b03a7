"""Every notebook in notebooks/ runs in quick mode and leaves a sound results.json.

The common checks apply to all notebooks: parameters recorded (all but the output locations),
numbers finite, figures real PNGs under FIGURES_DIR, quick run under QUICK_LIMIT_S. Each notebook
must also have an entry in EXPECTATIONS: a function taking the parsed results.json and asserting
what that notebook should have found. A notebook without an entry fails.
"""
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from PIL import Image

from rfkit.report import execute

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
QUICK_LIMIT_S = 60.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOCATIONS = {"OUTPUT_DIR", "FIGURES_DIR"}  # where outputs go, checked by where they are found



def check_primer(payload: dict[str, Any]) -> None:
    """Reflow straightens the flow: 2-RF is straighter and better at one step than 1-RF."""
    r = payload["results"]
    assert r["straightness_2rf"] < 0.5 * r["straightness_1rf"]
    assert r["two_rf_is_straighter"] and r["one_step_improved"]
    assert r["distances_2rf"]["1"] < r["distances_1rf"]["1"]
    assert r["distances_1rf"]["1"] > r["distances_1rf"][str(payload["parameters"]["ODE_STEPS"])]
    cost = r["transport_cost"]
    assert cost["2-RF"] <= cost["1-RF"] * 1.05 < cost["independent"]
    assert len(payload["figures"]) >= 3


# notebook stem -> check(payload), payload = the parsed results.json
EXPECTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "00_rectified_flow_primer": check_primer,
}


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
    check = EXPECTATIONS.get(path.stem)
    if check is None:
        pytest.fail(f"notebook {path.name} has no test: add its check to EXPECTATIONS "
                    f"in {Path(__file__).name}")
    output_dir, figures_dir = tmp_path / "output", tmp_path / "figures"
    run = execute(path, tmp_path, {"QUICK": True, "OUTPUT_DIR": str(output_dir),
                                   "FIGURES_DIR": str(figures_dir)})
    assert run.status == "ok", f"{path.name} failed at {run.error}"

    duration = nbformat.read(run.notebook, as_version=4).metadata.papermill.duration
    assert duration < QUICK_LIMIT_S, f"quick run took {duration:.1f} s"

    results_file = output_dir / "results.json"
    assert results_file.is_file(), "the notebook wrote no OUTPUT_DIR/results.json"
    payload = json.loads(results_file.read_text())
    assert payload["notebook"] in (path.stem, path.name)

    recorded = payload["parameters"]
    missing = sorted(set(papermill.inspect_notebook(str(path))) - set(recorded) - LOCATIONS)
    assert not missing, f"parameters {missing} are not recorded in results.json"
    assert recorded["QUICK"] is True

    assert payload["results"], "results.json records no results"
    assert not non_finite(payload["results"]), f"non-finite: {non_finite(payload['results'])}"
    for name, figure in payload["figures"].items():
        figure_path = (NOTEBOOKS_DIR / figure).resolve()  # relative paths: cwd is notebooks/
        assert figure_path.is_relative_to(figures_dir.resolve()), \
            f"figure {name!r} ({figure}) is not in FIGURES_DIR"
        assert_png(figure_path)

    check(payload)
