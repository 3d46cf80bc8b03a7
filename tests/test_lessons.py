"""The executed lessons in notebooks/executed/ match their notebooks, and the checks that say so can fail."""
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from rfkit.publish.lessons import EXECUTED_DIR, MAX_BYTES, lesson_problems, publish_lesson, source_hash

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PROVENANCE = {"git_commit": "abc1234", "cpu": "Some CPU", "device": "cpu"}


@pytest.mark.parametrize("source", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_has_a_current_executed_lesson(source):
    assert lesson_problems(source, NOTEBOOKS / EXECUTED_DIR / source.name) == []


def lesson_pair(folder: Path) -> tuple[Path, Path]:
    """A source notebook and an 'executed' copy of it (outputs added) in ``folder``."""
    notebook = new_notebook(cells=[new_markdown_cell("# A lesson"), new_code_cell("print(1 + 1)")])
    source = folder / "lesson.ipynb"
    nbformat.write(notebook, source)
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    notebook.cells[1].execution_count = 1
    executed = folder / "run" / "lesson.ipynb"
    executed.parent.mkdir()
    nbformat.write(notebook, executed)
    return source, executed


def test_source_hash_ignores_outputs_and_sees_an_edited_cell(tmp_path):
    source, executed = lesson_pair(tmp_path)
    assert source_hash(source) == source_hash(executed)
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[1].source = "print(1 + 2)"
    nbformat.write(notebook, source)
    assert source_hash(source) != source_hash(executed)


def test_a_published_lesson_passes_until_its_source_changes(tmp_path):
    source, executed = lesson_pair(tmp_path)
    lesson = publish_lesson(executed, source_hash(source), PROVENANCE, 12.5, tmp_path / EXECUTED_DIR)
    assert nbformat.read(lesson, as_version=4).metadata["rfkit"] == {
        "source_sha256": source_hash(source), "runtime_s": 12.5, "provenance": PROVENANCE}
    assert lesson_problems(source, lesson) == []
    notebook = nbformat.read(source, as_version=4)
    notebook.cells.append(new_markdown_cell("a new paragraph"))
    nbformat.write(notebook, source)
    assert lesson_problems(source, lesson) == ["lesson.ipynb was run from another version of lesson.ipynb: "
                                               "run `make report`"]


def test_lesson_problems_name_what_is_wrong(tmp_path):
    source, executed = lesson_pair(tmp_path)
    missing = tmp_path / "none.ipynb"
    assert lesson_problems(source, missing) == [f"{missing} is missing: run `make report`"]
    bare = publish_lesson(source, source_hash(source), {"git_commit": "abc1234"}, None, tmp_path / "bare")
    assert lesson_problems(source, bare) == ["lesson.ipynb lacks its provenance (commit, CPU, device)",
                                             "lesson.ipynb has no outputs"]
    notebook = nbformat.read(executed, as_version=4)
    notebook.cells[1].outputs[0].text = "x" * MAX_BYTES
    nbformat.write(notebook, executed)
    big = publish_lesson(executed, source_hash(source), PROVENANCE, None, tmp_path / "big")
    assert lesson_problems(source, big) == ["lesson.ipynb is 2.0 MB, over 2 MB"]
