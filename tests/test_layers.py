"""The architecture in docs/architecture.md, enforced: no module imports from a layer above it, heavy
third-party libraries stay in the one module (or layer) that owns them, and the module map lists every file
with its layer. No import circle anywhere is tests/test_import_cycles.py's."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tagger"

LAYERS = {
    "version": 0,
    "dependencies": 0,
    "errors": 0,
    "config": 0,
    "atomic": 0,
    "runtime": 0,
    "cpu": 0,
    "shipped": 0,
    "schemes": 1,
    "corpus": 1,
    "tokenize": 1,
    "vocab": 1,
    "feature_specs": 1,  # the input features without torch: the portable tagger encodes with them
    "outputs": 1,
    "vectors": 1,
    "pinned_packages": 1,
    "ordering": 1,
    "evaluation": 1,
    "evaluation/model": 3,  # a model scored on gold data (tagger evaluate): loads the model it scores
    "data_report": 1,
    "portable": 1,  # an export's files, encoding and decoding in numpy: below torch's layers, never importing it
    # tagging/: one layer per file. The shared base, onnxruntime's tagger and the runtime choice sit below torch's
    # layers, so tagging an export can never import torch; PyTorch's tagger and load_tagger sit on a model directory.
    "tagging": 1,  # the package's __init__, which imports nothing
    "tagging/base": 1,
    "tagging/onnx_tagger": 1,
    "tagging/runtime_choice": 1,
    "tagging/torch_tagger": 3,
    "tagging/loading": 3,  # load_tagger: imports torch only for a PyTorch model directory
    "charlm": 1,  # character LMs converted from a pickled checkpoint read as data: numpy, never torch
    "batching": 2,
    "model": 2,
    "precision": 2,
    # the thread policy: sets and probes torch's threads (importing torch only there, so that serving or batch-tagging
    # an export takes its shares from here without it)
    "threads": 2,
    "decoding": 2,
    "crf": 2,
    "features": 2,
    "serialization": 3,
    "model_card": 3,
    "benchmark": 3,
    "model_info": 3,
    "plots": 3,
    "export": 3,
    "training": 4,
    "batch": 4,
    "serve": 4,
    "selection": 4,  # tagger select: reads a pool as the batch engine does, ranks it with a model, writes a file
    "cli": 5,
    "spacy_component": 5,
}
OWNERS = {  # third-party package -> the modules allowed to import it
    "seqeval": {"evaluation"},
    "datasets": {"corpus"},
    # vectors: an installed pipeline's word vectors; corpus: DocBin (.spacy) files; outputs: DocBin outputs and
    # displaCy's HTML; both import it lazily
    "spacy": {"tokenize", "spacy_component", "vectors", "corpus", "outputs"},
    "typer": {"cli"},
    "rich": {"cli"},
    # features: a contextual encoder's weights; charlm: converted character LMs (safetensors.numpy)
    "safetensors": {"serialization", "features", "charlm"},
    "matplotlib": {"plots"},
    "ray": {"batch"},  # the --engine ray module imports it lazily
    # tagger serve: the HTTP stack (an ASGI app on uvicorn), request validation and metrics
    "fastapi": {"serve"},
    "starlette": {"serve"},
    "uvicorn": {"serve"},
    "pydantic": {"serve"},
    "prometheus_client": {"serve"},
    "onnx": {"export"},  # building and checking the ONNX graph (lazily)
    "onnxruntime": {"export", "tagging/onnx_tagger"},  # running an export; export quantises and checks it (lazily)
    "pickletools": {"charlm"},  # a pickled checkpoint from elsewhere walked as data, never unpickled
}
TORCH_FROM_LAYER = 2


def module_name(path: Path) -> str:
    """The name of ``path``'s entry in ``LAYERS``: the file's own (``evaluation/model``, ``tagging`` for
    ``tagging/__init__.py``) where it has one, else its top-level module or package's (``corpus``)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    own = "/".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return own if own in LAYERS else parts[0]


def imported_module(name: str) -> str | None:
    """The ``LAYERS`` entry of a module of the package, by its dotted name (``tagger.tagging.base``), or None for
    one outside it: the longest entry that names it or a package above it."""
    parts = name.split(".")
    if parts[0] != "tagger":
        return None
    for end in range(len(parts), 1, -1):
        if "/".join(parts[1:end]) in LAYERS:
            return "/".join(parts[1:end])
    return None


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def package_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if module_name(p) not in {"__init__", "__main__"}]


def test_every_module_has_a_layer():
    assert {module_name(p) for p in package_files()} <= set(LAYERS)


def test_a_file_of_a_package_may_have_its_own_layer():
    assert module_name(PACKAGE / "evaluation" / "model.py") == "evaluation/model"
    assert module_name(PACKAGE / "evaluation" / "scoring.py") == "evaluation"
    assert imported_module("tagger.evaluation.model") == "evaluation/model"
    assert imported_module("tagger.evaluation.scoring") == "evaluation"
    assert imported_module("tagger") is None and imported_module("torch.nn") is None


def test_no_module_imports_from_a_layer_above_it():
    for path in package_files():
        own = module_name(path)
        for name in imports(path):
            imported = imported_module(name)
            if imported is not None:
                assert LAYERS[imported] <= LAYERS[own], f"{path}: layer {LAYERS[own]} imports {name}"
                adapter = imported.split("/")[0] in {"cli", "spacy_component"}
                assert not adapter or imported.split("/")[0] == own.split("/")[0], f"{path} imports adapter {name}"


def test_heavy_dependencies_stay_at_the_edges():
    for path in package_files():
        own = module_name(path)
        for name in imports(path):
            top = name.split(".")[0]
            if top in OWNERS:
                assert own in OWNERS[top], f"{path} imports {top}; only {OWNERS[top]} may"
            if top == "torch":
                assert LAYERS[own] >= TORCH_FROM_LAYER, f"{path} imports torch below layer {TORCH_FROM_LAYER}"


UNPICKLERS = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib"}


def test_nothing_in_the_package_uses_pickle():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        unpicklers = {name.split(".")[0] for name in imports(path)} & UNPICKLERS
        assert not unpicklers and "torch.load(" not in source, path


ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
ENTRY_POINTS = {"__init__", "__main__"}  # the package's own __init__.py and __main__.py: outside the layers
NO_LAYER = "—"


def module_map() -> dict[str, str]:
    """The module-map table of docs/architecture.md: file (relative to tagger/) -> its layer as written."""
    rows: dict[str, str] = {}
    in_section = False
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            in_section = line.strip().lower() == "## module map"
            continue
        if not in_section or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= set("-: ") or cells[0] == "file":
            continue  # the header and its separator
        path = cells[0].strip("`")
        assert path not in rows, f"docs/architecture.md lists {path} twice in its module map"
        rows[path] = cells[1]
    assert rows, "docs/architecture.md has no '## Module map' table"
    return rows


def test_module_map_lists_every_file_with_its_layer():
    listed = module_map()
    files = {p.relative_to(PACKAGE).as_posix(): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    missing, extra = sorted(set(files) - set(listed)), sorted(set(listed) - set(files))
    assert not missing and not extra, (
        "docs/architecture.md's module map is out of date: "
        f"missing from the map: {missing or 'none'}; in the map but not under tagger/: {extra or 'none'}"
    )
    wrong = []
    for relative, path in sorted(files.items()):
        name = module_name(path)
        assert name in LAYERS or name in ENTRY_POINTS, f"{relative}: module {name!r} has no layer in LAYERS"
        expected = str(LAYERS[name]) if name in LAYERS else NO_LAYER
        if listed[relative] != expected:
            wrong.append(f"{relative}: map says {listed[relative]!r}, LAYERS says {expected!r}")
    assert not wrong, "docs/architecture.md's module map has wrong layers: " + "; ".join(wrong)


# packages whose files are checked one by one, not as one module
SPLIT_PACKAGES = ("cli", "batch", "training", "tagging")
CLI_HELPERS = {"tables", "messages"}  # what the command modules of cli/ share; one command never imports another


def package_imports(package: str) -> dict[str, set[str]]:
    """File -> the files of the same package it imports (by module name, ``__init__`` for the package itself)."""
    graph: dict[str, set[str]] = {}
    for path in (PACKAGE / package).glob("*.py"):
        prefix = f"tagger.{package}"
        graph[path.stem] = {
            name.removeprefix(prefix).lstrip(".").split(".")[0] or "__init__"
            for name in imports(path)
            if name == prefix or name.startswith(prefix + ".")
        }
    return graph


def test_files_inside_split_packages_never_import_their_own_package():
    for package in SPLIT_PACKAGES:
        for name, deps in package_imports(package).items():
            assert name == "__init__" or "__init__" not in deps, (
                f"tagger/{package}/{name}.py imports its own package; import the file that defines the name"
            )


def test_cli_commands_are_leaves_that_share_only_helpers():
    for name, deps in package_imports("cli").items():
        if name != "__init__":
            assert deps <= CLI_HELPERS, f"tagger/cli/{name}.py imports {sorted(deps - CLI_HELPERS)} of cli"
