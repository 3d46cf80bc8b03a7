"""The report's index page, as a reader sees it: loaded in a real headless Chromium.

Debian's ``chromium`` driven by Playwright (never ``playwright install``: no browser download).
Without chromium the browser tests are skipped on a developer's machine and fail in CI (CI=true),
where .ci/run installs it.
"""
import os
import re
import shutil
from pathlib import Path

import markupsafe
import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from PIL import Image

from rfkit.publish.report import ReportResult, run_reports
from rfkit.publish.report_index import write_index

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).parent / "fixtures" / "notebooks" / "record_numbers.ipynb"

ALPHA_CONCLUSIONS = ["RF raises test NDCG@20 by +0.0123 over 3 seeds, beyond the seed noise.",
                     "Per bucket:", "  tail: +0.0200 -> helps"]
BETA_VERDICTS = ["'More steps are slower': holds: 1.0 -> 9.0 ms."]


def save_png(path: Path, colour: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["a", "b"], [1, 2], color=colour)
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def executed_notebook(path: Path, markdown: str) -> Path:
    """An 'executed' notebook and its HTML page, as run_reports leaves them."""
    nbformat.write(new_notebook(cells=[new_markdown_cell(markdown), new_code_cell("x = 1")]),
                   path)
    path.with_suffix(".html").write_text("<!DOCTYPE html><html><head><title>executed</title>"
                                         "<link rel='icon' href='data:,'></head><body>ok</body>"
                                         "</html>")
    return path


@pytest.fixture
def handout(tmp_path) -> Path:
    """A report of three notebooks built from files, without running any: alpha records
    conclusions and two figures outside the report folder, beta a question, verdicts and two
    figures inside it, one named as headline; gamma failed before writing anything."""
    out = tmp_path / "report"
    out.mkdir()
    provenance = {"git_commit": "0123456789abcdef" * 2 + "01234567", "git_dirty": False,
                  "python": "3.11.7", "torch": "2.13.0", "cpu": "Test CPU",
                  "cpu_native_bf16": True, "device": "cpu", "config": {}}
    alpha = ReportResult(
        "alpha", "ok", 12.5, executed_notebook(out / "alpha.ipynb", "# Alpha: does RF help?\n\n"
                                               "Does mixing RF in help the **tail** items?\n\n"
                                               "More text that is not the question."),
        out / "alpha.html", out / "alpha",
        results={"conclusions": ALPHA_CONCLUSIONS, "delta": 0.0123, "m": {"recall@20": 0.25}},
        figures={"curve": str(save_png(tmp_path / "elsewhere" / "alpha" / "curve.png", "C0")),
                 "second": str(save_png(tmp_path / "elsewhere" / "alpha" / "second.png", "C1"))},
        provenance=provenance)
    beta = ReportResult(
        "beta", "ok", 3.0, executed_notebook(out / "beta.ipynb", "# Beta\n\nNot this one."),
        out / "beta.html", out / "beta",
        results={"question": "What do more sampling steps cost?", "verdicts": BETA_VERDICTS,
                 "headline_figure": "bars"},
        figures={"intro": str(save_png(out / "beta" / "figures" / "intro.png", "C3")),
                 "bars": str(save_png(out / "beta" / "figures" / "bars.png", "C2"))})
    gamma = ReportResult("gamma", "failed", 1.0, out / "gamma.ipynb", None, out / "gamma",
                         error="code cell 2: RuntimeError: planted\n>>> x = 1")
    write_index([alpha, beta, gamma], out)
    return out


def test_index_page_content(handout):
    page = (handout / "index.html").read_text()
    assert "<h2>Alpha: does RF help?</h2>" in page
    assert "Does mixing RF in help the <strong>tail</strong> items?" in page
    assert "More text" not in page and "Not this one" not in page  # beta's question is recorded
    assert "<p>What do more sampling steps cost?</p>" in page
    for sentence in (*ALPHA_CONCLUSIONS[:2], *BETA_VERDICTS):
        assert f"<li>{markupsafe.escape(sentence)}</li>" in page
    assert '<li class="detail">tail: +0.0200 -&gt; helps</li>' in page
    # the first recorded figure only; the one outside the report is copied beside the page
    assert '<img src="alpha/figures/curve.png"' in page and "second.png" not in page
    assert (handout / "alpha" / "figures" / "curve.png").read_bytes().startswith(b"\x89PNG")
    assert '<img src="beta/figures/bars.png"' in page and "intro.png" not in page
    assert 'href="alpha.html">executed notebook</a>' in page and "no executed notebook" in page
    assert "12.5 s" in page and '<span class="failed">failed</span>' in page
    assert "code cell 2: RuntimeError: planted\n&gt;&gt;&gt; x = 1" in page
    numbers = re.search(r"<details><summary>Key numbers \(2\)</summary>\s*<pre>(.*?)</pre>",
                        page, re.S)
    assert numbers and numbers.group(1) == "delta = 0.0123\nm.recall@20 = 0.25"
    assert "commit 0123456789ab; Python 3.11.7, torch 2.13.0; Test CPU (native bf16)" in page


def chromium():
    """Playwright's sync API, with Chromium available; skipped (failed in CI) otherwise."""
    in_ci = os.environ.get("CI") == "true"
    if not CHROMIUM.exists():
        if in_ci:
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright  # pinned in requirements.txt
    return sync_playwright


def read_in_browser(index: Path, screenshot: Path) -> dict:
    """Load ``index`` in headless Chromium; what a reader sees: its console errors and failed
    requests, visible text, images (src, naturalWidth), whether the folded key numbers show,
    the title of the executed notebook it links, and a full-page screenshot at ``screenshot``."""
    problems: list[str] = []
    with chromium()() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(index.as_uri(), wait_until="load")
            seen = {
                "text": page.inner_text("body"),
                "images": page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])"),
                "numbers_folded": not page.locator("details pre").first.is_visible(),
            }
            page.locator("details summary").first.click()
            seen["numbers_unfolded"] = page.locator("details pre").first.is_visible()
            page.screenshot(path=str(screenshot), full_page=True)
            seen["problems"] = list(problems)  # the index page's own; the notebook page's
            # (nbconvert's template fetches require.js and MathJax online) are not ours
            link = page.locator("a", has_text="executed notebook").first
            if link.count():
                link.click()
                page.wait_for_load_state("load")
                seen["linked_title"] = page.title()
        finally:
            browser.close()
    return seen


def assert_screenshot(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 600 and image.height >= 400
        darkest, brightest = image.convert("L").getextrema()
        assert brightest - darkest > 100  # not a blank page


def test_index_page_in_chromium(handout, tmp_path):
    seen = read_in_browser(handout / "index.html", tmp_path / "index.png")
    assert seen["problems"] == []
    for sentence in (ALPHA_CONCLUSIONS[0], "tail: +0.0200 -> helps", *BETA_VERDICTS,
                     "What do more sampling steps cost?", "Does mixing RF in help the tail items?",
                     "code cell 2: RuntimeError: planted"):
        assert sentence in seen["text"]
    assert sorted(src for src, _ in seen["images"]) == ["alpha/figures/curve.png",
                                                        "beta/figures/bars.png"]
    assert all(width > 0 for _, width in seen["images"]), seen["images"]
    assert seen["numbers_folded"] and seen["numbers_unfolded"]
    assert seen["linked_title"] == "executed"
    assert_screenshot(tmp_path / "index.png")


def test_index_page_survives_being_moved(handout, tmp_path):
    """The folder is handed out whole: its figures load from a copy elsewhere."""
    moved = tmp_path / "handed_out"
    shutil.copytree(handout, moved)
    shutil.rmtree(tmp_path / "elsewhere")
    shutil.rmtree(handout)
    seen = read_in_browser(moved / "index.html", tmp_path / "moved.png")
    assert seen["problems"] == [] and len(seen["images"]) == 2
    assert all(width > 0 for _, width in seen["images"])


@pytest.mark.slow
def test_index_page_of_a_real_run_in_chromium(tmp_path):
    """A notebook really executed (quick), its results.json and figure, read in the browser."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(FIXTURE, notebooks)
    chromium()  # skip before spending the run when there is no browser
    (report,) = run_reports(notebooks, tmp_path / "out", quick=True, parameters={"SEED": 2},
                            progress=False)
    assert report.status == "ok", report.error
    seen = read_in_browser(tmp_path / "out" / "index.html", tmp_path / "real.png")
    assert seen["problems"] == []
    assert "The fixture scored 0.5 with seed 2." in seen["text"]
    assert "Does the report show what a notebook recorded?" in seen["text"]
    assert [src for src, _ in seen["images"]] == ["record_numbers/figures/line.png"]
    assert seen["images"][0][1] > 0
    assert seen["linked_title"]  # the executed notebook's page opened
    assert_screenshot(tmp_path / "real.png")
