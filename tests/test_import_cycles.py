"""No import circle anywhere: not among the files of tagger/, not among the scripts of scripts/.

A file's imports are all its import statements, inside functions too: a lazy import still ties two files
together, and a circle of them is one change away from a partly initialised module. An import names the file it
loads (``from tagger.corpus import reading`` is ``corpus/reading.py``, ``from tagger.corpus import Sentence`` is
``corpus/__init__.py``), not the packages above it, which Python initialises first whatever the file imports.
Scripts import each other by their bare names: their own folder is on ``sys.path`` when they run, and a
script that imports one from another folder of scripts/ puts that folder there."""

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tagger"
SCRIPTS = ROOT / "scripts"


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def import_statements(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module, names taken from it, relative level) for every import in the file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", [alias.name for alias in node.names], node.level


def dotted_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_graph() -> dict[str, set[str]]:
    """File of tagger/ (relative to the repository) -> the files of tagger/ it imports."""
    files = {dotted_name(path): path for path in python_files(PACKAGE)}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for module, names, level in import_statements(path):
            if level:  # relative: from the file's own package, one level up per extra dot
                base = package.split(".")[: len(package.split(".")) - (level - 1)]
                module = ".".join(base + ([module] if module else []))
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in files]
            imported |= set(submodules)
            if module in files and len(submodules) < max(1, len(names)):
                imported.add(module)  # a name defined in the module (or in the package's __init__.py) itself
        graph[files[name].relative_to(ROOT).as_posix()] = {
            files[m].relative_to(ROOT).as_posix() for m in imported if m != name
        }
    return graph


def scripts_graph() -> dict[str, set[str]]:
    """Script (relative to the repository) -> the scripts it imports by their bare names."""
    by_stem: dict[str, Path] = {}
    for path in python_files(SCRIPTS):
        assert path.stem not in by_stem, f"two scripts named {path.stem}: {by_stem[path.stem]} and {path}"
        by_stem[path.stem] = path
    graph: dict[str, set[str]] = {}
    for stem, path in by_stem.items():
        top_level = {module.split(".")[0] for module, _, level in import_statements(path) if not level}
        graph[path.relative_to(ROOT).as_posix()] = {
            by_stem[m].relative_to(ROOT).as_posix() for m in top_level & set(by_stem) if m != stem
        }
    return graph


def shortest_chain(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The fewest imports leading from ``start`` to ``goal`` (back to itself when they are one file)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        for imported in sorted(graph.get(name, ())):
            if imported in came_from:
                continue
            came_from[imported] = name
            if imported == goal:
                chain = [goal]
                while chain[-1] != start or len(chain) == 1:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            queue.append(imported)
    return None


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each file's shortest way back to itself, as a readable chain (``a.py -> b.py -> a.py``); a circle found
    from several of its files is named once, starting from its first file."""
    cycles: list[str] = []
    for name in sorted(graph):
        chain = shortest_chain(graph, name, name)
        if chain is None:
            continue
        first = chain.index(min(chain[:-1]))
        line = " -> ".join(chain[first:-1] + chain[: first + 1])
        if line not in cycles:
            cycles.append(line)
    return cycles


def test_the_cycle_finder_names_each_circle_as_a_chain():
    graph = {"a.py": {"b.py"}, "b.py": {"c.py", "d.py"}, "c.py": {"a.py"}, "d.py": {"b.py"}, "e.py": {"a.py"}}
    assert import_cycles(graph) == ["a.py -> b.py -> c.py -> a.py", "b.py -> d.py -> b.py"]
    assert import_cycles({"a.py": {"a.py"}, "b.py": set()}) == ["a.py -> a.py"]
    assert import_cycles({"a.py": {"b.py"}, "b.py": set()}) == []


def test_the_package_graph_sees_lazy_imports_and_submodules():
    graph = package_graph()
    # tagger/__init__.py imports Tagger and load_tagger inside __getattr__
    assert {"tagger/tagging/torch_tagger.py", "tagger/tagging/loading.py"} <= graph["tagger/__init__.py"]
    assert "tagger/cli/tables.py" in graph["tagger/cli/data.py"]  # from tagger.cli.tables import ...


def test_no_import_cycle_among_the_files_of_the_package():
    cycles = import_cycles(package_graph())
    assert not cycles, "import cycles in tagger/:\n  " + "\n  ".join(cycles)


def test_no_import_cycle_among_the_scripts():
    cycles = import_cycles(scripts_graph())
    assert not cycles, "import cycles in scripts/:\n  " + "\n  ".join(cycles)
