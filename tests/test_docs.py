"""The docs site (`make docs`) builds from the repository and reads well in a real headless Chromium:
the home page, one executed lesson and the API reference, each without a console error, with every
image loaded, served over HTTP from the build folder (nothing fetched online)."""
import functools
import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_browser import CHROMIUM, assert_screenshot, chromium

ROOT = Path(__file__).resolve().parents[1]
LESSON = "lessons/01_integration.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(out / "doctrees"),
                            str(ROOT / "docs"), str(out / "html")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    return out / "html"


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.slow
def test_the_site_holds_every_lesson_and_the_api(site):
    lessons = sorted(p.stem for p in (site / "lessons").glob("*.html"))
    assert lessons == sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    api = (site / "api.html").read_text()
    assert 'id="rfkit.generator.RFEmbeddingGenerator.generate"' in api
    assert 'id="rfkit.metrics.topk_metrics"' in api and 'id="rfkit.stats.paired_differences"' in api


def read_page(url: str, screenshot: Path) -> dict:
    """Load ``url`` and let MathJax finish; its console errors, failed requests, images and text."""
    problems: list[str] = []
    with chromium()() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(url, wait_until="networkidle")
            seen = {"text": page.inner_text("body"),
                    "images": page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.naturalWidth])"),
                    "math": page.locator(".MathJax, .MathJax_Display, mjx-container").count()}
            page.screenshot(path=str(screenshot), full_page=False)
            seen["problems"] = problems
        finally:
            browser.close()
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("page, expected", [
    ("index.html", "Where to start"),
    (LESSON, "What this notebook found"),
    ("api.html", "RFEmbeddingGenerator"),
], ids=["home", "lesson", "api"])
def test_pages_in_chromium(served, page, expected, tmp_path):
    seen = read_page(f"{served}/{page}", tmp_path / "page.png")
    assert seen["problems"] == []
    assert expected in seen["text"]
    assert all(width > 0 for _, width in seen["images"]), seen["images"]
    assert_screenshot(tmp_path / "page.png")
    if page == LESSON:
        assert len(seen["images"]) >= 3 and seen["math"] > 0  # the figures, and MathJax typeset the formulas
    if page == "api.html":
        assert "generate(" in seen["text"]
    screenshots = ROOT / "docs" / "_build" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    (screenshots / Path(page).with_suffix(".png").name).write_bytes((tmp_path / "page.png").read_bytes())
