"""Flair's character language models found in a legacy checkpoint read as data (``legacy_pickle``).

A Flair tagger saved by Flair 0.4–0.13 holds its embeddings as pickled modules: a ``FlairEmbeddings`` (its
settings, and the ``LanguageModel`` as its submodule ``lm``), the model an LSTM over character embeddings with a
linear decoder to the next character, its ``Dictionary`` of UTF-8 characters. Each is an ``Object`` record here,
whose state is the module's ``__dict__``: weights in ``_parameters``, submodules in ``_modules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from tagger.charlm.legacy_pickle import LegacyFile, Object, TensorRef, refuse
from tagger.charlm.store import tensor_shapes

LANGUAGE_MODEL = "flair.models.language_model.LanguageModel"
FLAIR_EMBEDDINGS = "flair.embeddings.token.FlairEmbeddings"
# every class a Flair sequence tagger's pickle names (beside torch's tensors and storages); any other is refused
FLAIR_GLOBALS = frozenset(
    {
        LANGUAGE_MODEL,
        FLAIR_EMBEDDINGS,
        "flair.embeddings.token.StackedEmbeddings",
        "flair.data.Dictionary",
        "torch.nn.modules.dropout.Dropout",
        "torch.nn.modules.sparse.Embedding",
        "torch.nn.modules.rnn.LSTM",
        "torch.nn.modules.linear.Linear",
        "collections.defaultdict",  # the dictionary's item2idx_not_encoded
        "builtins.int",  # that defaultdict's factory
    }
)
# what FlairEmbeddings records about how it reads the LM's states (Flair's defaults where a file lacks one:
# with_whitespace=True, tokenized_lm=True, chars_per_chunk=512)
FLAIR_SETTINGS = ("with_whitespace", "tokenized_lm", "chars_per_chunk", "fine_tune")
UNK = "<unk>"


@dataclass
class FlairLM:
    """One character language model: its weights under the converted format's names, and what reading it needs."""

    original_name: str  # Flair's file name of the LM, e.g. lm-news-english-forward-1024-v0.2rc ('' if unnamed)
    is_forward: bool
    hidden_size: int
    embedding_size: int
    layers: int
    characters: list[str]  # index = character id
    unk_id: int
    document_delimiter: str
    arrays: dict[str, np.ndarray] = field(repr=False)
    flair_settings: dict[str, Any]


def find_language_models(file: LegacyFile) -> list[FlairLM]:
    """Every LanguageModel in the file, in the order the file holds them, with its FlairEmbeddings' settings."""
    found: list[FlairLM] = []
    seen: set[int] = set()
    for value in walk(file.root):
        if is_object(value, FLAIR_EMBEDDINGS):
            state = object_state(file, value)
            lm = state.get("_modules", {}).get("lm")
            if not is_object(lm, LANGUAGE_MODEL):
                refuse(file.name, "a FlairEmbeddings without a LanguageModel as its lm")
            settings = {key: state[key] for key in FLAIR_SETTINGS if isinstance(state.get(key), bool | int)}
            if id(lm) not in seen:
                seen.add(id(lm))
                found.append(read_language_model(file, lm, str(state.get("name", "")), settings))
        elif is_object(value, LANGUAGE_MODEL) and id(value) not in seen:
            seen.add(id(value))
            found.append(read_language_model(file, value, "", {}))
    return found


def walk(root: Any):
    """Every value of the tree once, depth first in the file's order (the memo shares values; it may loop)."""
    stack, seen = [root], set()
    while stack:
        value = stack.pop()
        if isinstance(value, dict | list | tuple | Object):
            if id(value) in seen:
                continue
            seen.add(id(value))
        yield value
        if isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list | tuple):
            stack.extend(reversed(value))
        elif isinstance(value, Object):
            stack.append(value.state)


def is_object(value: Any, class_name: str) -> bool:
    return isinstance(value, Object) and str(value.cls) == class_name


def object_state(file: LegacyFile, value: Object) -> dict:
    if not isinstance(value.state, dict):
        refuse(file.name, f"a {value.cls.name} without the attributes it is saved with")
    return value.state


def read_language_model(file: LegacyFile, lm: Object, embeddings_name: str, settings: dict) -> FlairLM:
    state = object_state(file, lm)
    modules = state.get("_modules", {})
    characters, unk_id = read_dictionary(file, state.get("dictionary"))
    layers = size(file, state, "nlayers")
    arrays = {"embedding.weight": parameter(file, modules, "encoder", "weight")}
    arrays |= read_lstm(file, modules.get("rnn"), layers)
    arrays |= {f"decoder.{name}": parameter(file, modules, "decoder", name) for name in ("weight", "bias")}
    if modules.get("proj") is not None:
        arrays |= {f"proj.{name}": parameter(file, modules, "proj", name) for name in ("weight", "bias")}
    delimiter = state.get("document_delimiter", "\n")  # Flair's own default where the LM lacks one
    hidden_size, embedding_size = size(file, state, "hidden_size"), size(file, state, "embedding_size")
    lm_found = FlairLM(
        original_name=PurePosixPath(embeddings_name).name.removesuffix(".pt") if "/" in embeddings_name else "",
        is_forward=state.get("is_forward_lm") is True,
        hidden_size=hidden_size,
        embedding_size=embedding_size,
        layers=layers,
        characters=characters,
        unk_id=unk_id,
        document_delimiter=delimiter if isinstance(delimiter, str) else "\n",
        arrays=arrays,
        flair_settings=settings,
    )
    check_shapes(file, lm_found)
    return lm_found


def size(file: LegacyFile, state: dict, number: str) -> int:
    """A size the LM is built with (``nlayers``, ``hidden_size``, ``embedding_size``): a positive whole number."""
    value = state.get(number)
    if type(value) is not int or value < 1:
        refuse(file.name, f"a LanguageModel with {number}={value!r}")
    return value


def read_dictionary(file: LegacyFile, dictionary: Any) -> tuple[list[str], int]:
    """The characters by id, and the id of ``<unk>`` (what Flair reads for a character it does not know)."""
    if not is_object(dictionary, "flair.data.Dictionary"):
        refuse(file.name, "a LanguageModel without a flair.data.Dictionary")
    state = object_state(file, dictionary)
    items, index = state.get("idx2item"), state.get("item2idx")
    if not isinstance(items, list) or not isinstance(index, dict) or not all(isinstance(i, bytes) for i in items):
        refuse(file.name, "a character dictionary that is not lists of bytes")
    try:
        characters = [item.decode("utf-8") for item in items]
    except UnicodeDecodeError:
        refuse(file.name, "a character dictionary entry that is not UTF-8")
    if any(index.get(item) != i for i, item in enumerate(items)) or len(index) != len(items):
        refuse(file.name, "a character dictionary whose item2idx and idx2item disagree")
    if UNK not in characters:
        refuse(file.name, f"a character dictionary without {UNK}")
    return characters, characters.index(UNK)


def read_lstm(file: LegacyFile, rnn: Any, layers: int) -> dict[str, np.ndarray]:
    if not is_object(rnn, "torch.nn.modules.rnn.LSTM"):
        refuse(file.name, "a LanguageModel whose rnn is not an LSTM")
    state = object_state(file, rnn)
    layout = {key: state.get(key) for key in ("num_layers", "bidirectional", "bias", "batch_first")}
    if layout != {"num_layers": layers, "bidirectional": False, "bias": True, "batch_first": False} or state.get(
        "proj_size", 0
    ):
        refuse(file.name, f"an LSTM laid out as {layout}, not as Flair's LanguageModel builds it")
    names = [f"{kind}_l{k}" for k in range(layers) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return {f"rnn.{name}": parameter(file, {"rnn": rnn}, "rnn", name) for name in names}


def parameter(file: LegacyFile, modules: dict, module: str, name: str) -> np.ndarray:
    """A module's parameter as float32 (the LMs are stored so; a half or double one is converted)."""
    holder = modules.get(module)
    tensor = object_state(file, holder).get("_parameters", {}).get(name) if isinstance(holder, Object) else None
    if not isinstance(tensor, TensorRef):
        refuse(file.name, f"a LanguageModel without {module}.{name}")
    array = file.array(tensor)
    if array.dtype.kind != "f":
        refuse(file.name, f"{module}.{name} of type {array.dtype}")
    return array.astype(np.float32, copy=False)


def check_shapes(file: LegacyFile, lm: FlairLM) -> None:
    projection = lm.arrays["proj.weight"].shape[0] if "proj.weight" in lm.arrays else None
    expected = tensor_shapes(len(lm.characters), lm.embedding_size, lm.hidden_size, lm.layers, projection)
    found = {name: array.shape for name, array in lm.arrays.items()}
    if found != expected:
        wrong = next(name for name in expected if found.get(name) != expected[name])
        refuse(file.name, f"{wrong} of shape {found.get(wrong)} in an LM that needs {expected[wrong]}")
