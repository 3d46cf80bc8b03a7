"""The README's findings and FINDINGS.md come from the committed result files, never typed by hand."""
import json
from pathlib import Path

import pytest

from rfkit.publish import readme

ROOT = Path(__file__).resolve().parents[1]


def test_readme_and_findings_page_match_the_committed_results():
    current = readme.blocks_in((ROOT / "README.md").read_text())
    expected = readme.render(ROOT / "figures")
    for name in readme.BLOCKS:
        assert current[name] == expected[name], (
            f"README block {name!r} differs from the committed result files: run `python -m rfkit readme`")
    page = readme.findings_page(ROOT / "figures", ROOT / "benchmarks" / "results", ROOT)
    assert (ROOT / readme.FINDINGS_PAGE).read_text() == page, "FINDINGS.md is stale: run `python -m rfkit readme`"
    assert len((ROOT / "README.md").read_text().splitlines()) < 300


def fake_results(figures: Path) -> None:
    folder = figures / "01_demo"
    folder.mkdir(parents=True)
    (folder / "curve.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    payload = {"notebook": "01_demo", "parameters": {}, "figures": {"curve": str(folder / "curve.png")},
               "results": {"conclusions": ["RF changes test NDCG@20 by -0.0150 [-0.0200, -0.0100] (worse).",
                                           "  a detail: 0.5"],
                           "key_findings": ["RF changes test NDCG@20 by -0.0150 [-0.0200, -0.0100] (worse)."],
                           "runtime_s": 90.0},
               "provenance": {"git_commit": "abcdef123456", "git_dirty": False, "cpu": "Some CPU", "torch": "2.13.0",
                              "device": "cpu"}}
    (folder / "results.json").write_text(json.dumps(payload))


def test_refresh_rewrites_only_the_blocks(tmp_path):
    fake_results(tmp_path / "figures")
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "overhead.json").write_text(json.dumps({
        "timing": {"title": "RF overhead", "machine": "2 cores, AVX2", "table": [{"variant": "backbone", "s/epoch": 1.9}],
                   "notes": ["RF adds 15%."]},
        "accuracy": {"title": "RF accuracy", "machine": {"cpu": "Some CPU", "native_bf16": False}, "table": [],
                     "notes": ["met"]}}))
    path = tmp_path / "README.md"
    markers = "\n".join(f"{readme._marker(n)}\nold {n}\n{readme._marker(n, end=True)}" for n in readme.BLOCKS)
    path.write_text(f"# title\nhand-written prose\n{markers}\ntail\n")
    assert readme.refresh(path, tmp_path / "figures", bench)
    text = path.read_text()
    assert text.startswith("# title\nhand-written prose\n") and text.endswith("tail\n") and "old" not in text
    findings = readme.blocks_in(text)["findings"]
    assert findings.startswith("1. RF changes test NDCG@20 by -0.0150 [-0.0200, -0.0100] (worse). "
                               "([01_demo](notebooks/executed/01_demo.ipynb))")
    assert "The full run of the 1 notebooks took 2 min on Some CPU" in findings
    page = (tmp_path / readme.FINDINGS_PAGE).read_text()
    assert "### [01_demo](notebooks/executed/01_demo.ipynb)" in page
    assert "Full run of 1.5 min; commit abcdef1, Some CPU, torch 2.13.0, device cpu." in page
    assert "- RF changes test NDCG@20 by -0.0150" in page and "\n    - a detail: 0.5" in page
    assert "![01_demo](figures/01_demo/curve.png)" in page
    assert "Machine: 2 cores, AVX2" in page and "| backbone | 1.9 |" in page
    assert "Machine: cpu Some CPU, native bf16 False" in page
    assert "**RF overhead**" in page and "**RF accuracy**" in page  # one per section
    assert not readme.refresh(path, tmp_path / "figures", bench)  # idempotent
    payload = json.loads((tmp_path / "figures" / "01_demo" / "results.json").read_text())
    payload["provenance"]["git_dirty"] = True
    (tmp_path / "figures" / "01_demo" / "results.json").write_text(json.dumps(payload))
    assert "commit abcdef1 with uncommitted changes," in readme.measured_block(tmp_path / "figures", tmp_path)


def test_more_than_ten_key_findings_is_refused(tmp_path):
    fake_results(tmp_path / "figures")
    path = tmp_path / "figures" / "01_demo" / "results.json"
    payload = json.loads(path.read_text())
    payload["results"]["key_findings"] = [f"finding {i}: 0.{i}" for i in range(11)]
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="11 key findings; the README shows at most 10"):
        readme.findings_block(tmp_path / "figures")


def test_missing_block_is_a_clear_error(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("# no markers\n")
    with pytest.raises(ValueError, match="README has no block 'findings'"):
        readme.refresh(path, tmp_path, tmp_path)
