"""The package's shape: few flat modules, no import cycle, the core below the lab and publishing,
and a README layout section that names what is in the tree."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rfkit"
CORE = ("generator", "data", "models", "train", "metrics", "stats", "config", "machine", "experiments",
        "integrations")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the rfkit modules it imports (relative imports resolved; a package import counts
    as its __init__)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names]
                candidates = [n for n in names if n in modules] or [base]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            found |= {c for c in candidates if c in modules and c != name}
        graph[name] = found
    return graph


def test_at_most_eight_flat_modules():
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(flat) <= 8, flat


def test_no_import_cycle_between_modules():
    graph, done, cycles = imports(), set(), []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_core_imports_neither_the_lab_nor_publishing():
    for name, imported in imports().items():
        if name != "rfkit" and name.split(".")[1] in CORE:
            assert not {m for m in imported if m.startswith(("rfkit.lab", "rfkit.publish"))}, name


def test_readme_layout_names_the_tree():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Layout\n.*?```\n(.*?)```", readme, re.S).group(1)
    listed = set(re.findall(r"^(rfkit/[\w/.]+)", block, re.M))
    for path in listed:
        assert (ROOT / path).exists(), f"README's layout names {path}, which is not in the tree"
    entries = {f"rfkit/{p.name}" + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
               if p.name not in ("__init__.py", "__main__.py", "__pycache__", "configs")}
    assert entries <= listed, f"README's layout omits {sorted(entries - listed)}"
