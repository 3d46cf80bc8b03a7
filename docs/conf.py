"""Sphinx configuration of the rfkit site (``make docs``): the quick start, the guide, the executed
lessons (rendered by MyST-NB as they are, never re-executed) and the API reference from the
docstrings. Everything is served from the build folder: MathJax comes from the
``jupyter-server-mathjax`` package, nothing is fetched online."""
from __future__ import annotations

import shutil
from pathlib import Path

import jupyter_server_mathjax
import nbformat

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
LESSONS = DOCS / "lessons"  # filled from notebooks/executed/ at every build (not in git)
MATHJAX = DOCS / "_mathjax"  # MathJax 2 from jupyter-server-mathjax, copied into _static/mathjax
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

project = "rfkit"
author = "the rfkit team"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"  # the lessons are shown as `make report` executed them
exclude_patterns = ["_build", "_mathjax"]
html_theme = "furo"
html_title = "rfkit"
html_favicon = "favicon.svg"
html_static_path = [str(MATHJAX)]
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
# the package ships MathJax's STIX-Web fonts only, so the output uses those
# MyST-NB marks a lesson "ignore" and its math "math" (MathJax 3's names): MathJax 2 needs both
mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processEscapes": True, "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                               "processClass": "tex2jax_process|mathjax_process|math|output_area"},
                   "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web",
                                "webFont": "STIX-Web", "imageFont": None,
                                # its font-loading probe points at about:blank, which Chromium refuses
                                "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "url('data:,')"}}}}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
suppress_warnings = ["myst.header", "myst.xref_missing", "mystnb.unknown_mime_type"]


def copy_lessons() -> None:
    """The executed lessons, without live-widget views (their state needs a kernel; the text
    fallback of each stays) and without their widget state, so no page asks for widget JS."""
    shutil.rmtree(LESSONS, ignore_errors=True)
    LESSONS.mkdir()
    for source in sorted((ROOT / "notebooks" / "executed").glob("*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        notebook.metadata.pop("widgets", None)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                output.get("data", {}).pop(WIDGET_MIME, None)
        nbformat.write(notebook, LESSONS / source.name)


def copy_mathjax() -> None:
    target = MATHJAX / "mathjax"
    if not target.is_dir():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", target)


copy_lessons()
copy_mathjax()
