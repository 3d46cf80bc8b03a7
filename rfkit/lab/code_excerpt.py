"""Show real code in a notebook: an excerpt of a function's source, read at run time.

A tutorial that pastes code into markdown drifts from the code it describes; an excerpt read with
`inspect` cannot. Excerpts are delimited by marker strings, and a marker that is not found is an
error, so a notebook fails loudly instead of showing the wrong lines.
"""
from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from IPython.display import Markdown, display


def _find(lines: list[str], marker: str, after: int) -> int:
    for index in range(after, len(lines)):
        if marker in lines[index]:
            return index
    raise ValueError(f"marker {marker!r} not found in the source (searched from line {after + 1} of its source on)")


def source_excerpt(obj: object, start: str | None = None, stop: str | None = None,
                   header: bool = True) -> str:
    """The source of `obj` from the first line containing `start` through the first line at or
    after it containing `stop` (whole source when both are None), dedented.

    With `header`, a first comment line names the file and line numbers, e.g.
    ``# rfkit/models/multimodal.py, lines 90-95``.
    """
    lines, first_line = inspect.getsourcelines(obj)
    lines = [line.rstrip("\n") for line in lines]
    begin = 0 if start is None else _find(lines, start, 0)
    end = len(lines) - 1 if stop is None else _find(lines, stop, begin)
    while end > begin and not lines[end].strip():
        end -= 1
    code = textwrap.dedent("\n".join(lines[begin:end + 1]))
    if not header:
        return code
    path = Path(inspect.getsourcefile(obj)).resolve()
    package_root = Path(__file__).resolve().parents[2]
    shown = path.relative_to(package_root).as_posix() if path.is_relative_to(package_root) else path.name
    return f"# {shown}, lines {first_line + begin}-{first_line + end}\n{code}"


def show_source(obj: object, start: str | None = None, stop: str | None = None) -> None:
    """Display `source_excerpt` (with its header) as a Python code block in a notebook."""
    display(Markdown(f"```python\n{source_excerpt(obj, start, stop)}\n```"))
