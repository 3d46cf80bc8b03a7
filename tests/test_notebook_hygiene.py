"""Committed notebooks are clean: no outputs, kernel python3, one papermill parameters cell."""
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
REQUIRED_PARAMETERS = {"QUICK", "SEED", "OUTPUT_DIR", "FIGURES_DIR"}
MAX_SETUP_LINES = 15  # the set-up after the parameters: imports, start(), data; the rest goes where it is used


def setup_lines(nb: nbformat.NotebookNode) -> int:
    """Lines of code between the parameters cell and the first Markdown cell after the next code
    cell: the set-up cell, plus any code cell that directly follows it (splitting is no escape)."""
    cells = nb.cells[[i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])][0] + 1:]
    first = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    lines = 0
    for cell in cells[first:]:
        if cell.cell_type != "code":
            break
        lines += len(cell.source.splitlines())
    return lines


def hygiene_problems(path: Path) -> list[str]:
    """Everything wrong with the committed notebook at ``path`` (empty when clean)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    problems = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    problems += [f"code cell {i} has outputs" for i, c in enumerate(code, 1) if c.outputs]
    problems += [f"code cell {i} has execution_count {c.execution_count}"
                 for i, c in enumerate(code, 1) if c.execution_count is not None]
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}, not 'python3'")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"{len(tagged)} cells are tagged 'parameters', need exactly 1")
    elif tagged[0].cell_type != "code":
        problems.append("the 'parameters' cell is not a code cell")
    else:
        missing = REQUIRED_PARAMETERS - set(papermill.inspect_notebook(str(path)))
        if missing:
            problems.append(f"parameters cell lacks {sorted(missing)}")
        elif setup_lines(nb) > MAX_SETUP_LINES:
            problems.append(f"the set-up after the parameters cell has {setup_lines(nb)} lines, more than "
                            f"{MAX_SETUP_LINES}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path: Path) -> None:
    assert hygiene_problems(path) == []


def test_hygiene_check_catches_dirty_notebooks(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "notebooks" / "record_numbers.ipynb"
    assert hygiene_problems(fixture) == []
    nb = nbformat.read(fixture, as_version=4)
    nb.metadata.kernelspec.name = "conda-env"
    nb.cells[2].execution_count = 3
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hi")]
    nb.cells[1].source = "QUICK = False\nSEED = 0"
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(nb, dirty)
    assert hygiene_problems(dirty) == [
        "code cell 2 has outputs", "code cell 2 has execution_count 3",
        "kernelspec name is 'conda-env', not 'python3'",
        "parameters cell lacks ['FIGURES_DIR', 'OUTPUT_DIR']"]
    nb.cells[1].source = "QUICK = False\nSEED = 0\nOUTPUT_DIR = '.'\nFIGURES_DIR = '.'"
    nb.cells[2].source = "\n".join(f"x{i} = {i}" for i in range(MAX_SETUP_LINES + 1))
    nb.cells[2].outputs, nb.cells[2].execution_count = [], None
    nbformat.write(nb, dirty)
    assert hygiene_problems(dirty)[-1] == "the set-up after the parameters cell has 16 lines, more than 15"
    nb.cells[2].metadata["tags"] = ["parameters"]
    nbformat.write(nb, dirty)
    assert "2 cells are tagged 'parameters', need exactly 1" in hygiene_problems(dirty)
