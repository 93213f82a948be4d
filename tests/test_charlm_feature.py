"""Character-LM features (features/charlm.py) on tiny LM folders built by charlm_fixture.py; the check against
Flair's own LMs runs where they are installed."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from charlm_fixture import build_lm_folder
from conftest import NER_SENTENCES
from cpu_features import requires_bf16_lstm

from tagger.charlm.store import charlm_folder
from tagger.config import load_config
from tagger.errors import ConfigError, TaggerError
from tagger.features import charlm
from tagger.features.charlm import CharLM, boundary_positions, lm_buffers, lm_input, load_charlm_folder
from tagger.schemes import tags_to_spans

SENTENCES = [
    ["John", "Smith", "lives", "in", "Paris", "."],
    ["Mary"],
    ["José", "'s", "café", "costs", "$50", "-", "cheap", "!"],  # é, $ and ! are not in the LM's characters
    ["a"] * 40,
]


@pytest.fixture(scope="module")
def lm_dirs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("charlm")
    return build_lm_folder(root / "tiny-forward"), build_lm_folder(root / "tiny-backward", "backward", seed=1)


def model_config(lm_dirs, *settings: str):
    return load_config(None, [f"model.charlm={lm_dirs[0]},{lm_dirs[1]}", *settings]).model


def feature_for(lm_dirs, *settings: str) -> CharLM:
    feature = CharLM(model_config(lm_dirs, *settings))
    feature.build_module()
    return feature


def walked_positions(words: list[str], backward: bool, whitespace: bool) -> list[int]:
    """Reading the LM's input one character at a time: a word's state is where the LM has just read the last of
    its characters as it reads them (forward: the word's last, backward: its first), or the character after."""
    text = [(i, k) for i, word in enumerate(words) for k in [*range(len(word)), None]][:-1]  # k None: a space
    read = [(None, None), *(text[::-1] if backward else text), (None, None)]  # the delimiter, text, final space
    found = {}
    for index, (word, k) in enumerate(read):
        if k is not None and k == (0 if backward else len(words[word]) - 1):
            found[word] = index + whitespace
    return [found[i] for i in range(len(words))]


def flair_positions(words: list[str], backward: bool, whitespace: bool) -> list[int]:
    """Flair 0.13.1's offset loop (FlairEmbeddings._add_embeddings_internal, tokenized_lm=True), transcribed."""
    text = " ".join(words)
    offset_forward, offset_backward, positions = 1, len(text) + 1, []
    for word in words:
        offset_forward += len(word)
        with_ws, without_ws = (
            (offset_backward, offset_backward - 1) if backward else (offset_forward, offset_forward - 1)
        )
        positions.append(with_ws if whitespace else without_ws)
        offset_forward += 1
        offset_backward -= 1
        offset_backward -= len(word)
    return positions


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("whitespace", [True, False])
def test_offsets_match_a_walk_over_the_characters_and_flairs_loop(backward, whitespace):
    for words in SENTENCES + [["x"], ["ab", "c"]]:
        positions = boundary_positions(words, backward, whitespace)
        assert (
            positions == walked_positions(words, backward, whitespace) == flair_positions(words, backward, whitespace)
        )
        string = lm_input(words, backward, "\n")
        for word, index in zip(words, positions, strict=True):
            expected = " " if whitespace else (word[0] if backward else word[-1])
            assert string[index] == expected


def lstm_oracle(folder: Path, string: str) -> torch.Tensor:
    """The LM run one character at a time through an nn.LSTMCell with the folder's (fp16-rounded) weights."""
    metadata, arrays = load_charlm_folder(str(folder))
    buffers = lm_buffers(metadata, arrays)
    cell = torch.nn.LSTMCell(metadata["embedding_size"], metadata["hidden_size"])
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(buffers[name])
        ids = {c: i for i, c in enumerate(metadata["characters"]) if len(c) == 1}
        h = c = torch.zeros(1, metadata["hidden_size"])
        states = []
        for char in string:
            h, c = cell(buffers["embedding"][ids.get(char, metadata["unk_id"])].unsqueeze(0), (h, c))
            states.append(h[0])
    return torch.stack(states)  # (len(string), hidden)


@pytest.mark.parametrize("whitespace", [True, False])
def test_features_are_each_lms_states_at_the_boundaries(lm_dirs, whitespace):
    feature = feature_for(lm_dirs, f"model.charlm_whitespace={whitespace}")
    for words, features in zip(SENTENCES, feature.features(SENTENCES), strict=True):
        assert features.shape == (len(words), 24) and features.dtype == torch.float16
        for part, folder, backward in ((features[:, :12], lm_dirs[0], False), (features[:, 12:], lm_dirs[1], True)):
            states = lstm_oracle(folder, lm_input(words, backward, "\n"))
            expected = states[boundary_positions(words, backward, whitespace)]
            torch.testing.assert_close(part.float(), expected, atol=2e-3, rtol=0)


def test_unknown_characters_read_as_unk_and_the_order_of_model_charlm_does_not_matter(lm_dirs):
    feature = feature_for(lm_dirs)
    lm = feature.module.forward_lm
    assert lm.char_ids("é$<>") == [0] * 4 and "<unk>" not in lm.ids  # an entry of the dictionary, not a character
    assert lm.char_ids("\n a") == [1, 2, 3]
    same = feature.features([["café"], ["caf!"]])
    torch.testing.assert_close(same[0], same[1])  # both unknown characters read as <unk>
    swapped = CharLM(load_config(None, [f"model.charlm={lm_dirs[1]},{lm_dirs[0]}"]).model)
    swapped.build_module()
    torch.testing.assert_close(swapped.features(SENTENCES[:1])[0], feature.features(SENTENCES[:1])[0])


def test_a_batch_equals_one_sentence_at_a_time(lm_dirs, monkeypatch):
    feature = feature_for(lm_dirs)
    sentences = SENTENCES + [[]] + [["b"] * n for n in (3, 17, 5)]
    monkeypatch.setattr(charlm, "BATCH_CHARS", 64)  # several LM calls, one over a string longer than that
    together = feature.features(sentences)
    for words, features in zip(sentences, together, strict=True):
        assert torch.equal(features, feature.features([words])[0])  # the same bits: no sum depends on the batch


def test_training_keeps_each_sentence_once_within_its_budget(lm_dirs, monkeypatch):
    feature = feature_for(lm_dirs)
    calls = []
    hook = feature.module.forward_lm.register_forward_hook(lambda *args: calls.append(1))
    tagging = feature.encode(SENTENCES[:2])
    assert tagging == [tuple(SENTENCES[0]), tuple(SENTENCES[1])] and not calls  # the LMs run when collated
    feature.keep_encodings()
    monkeypatch.setattr(charlm, "CACHE_BYTES", (len(SENTENCES[0]) + 1) * 24 * 2)  # room for the first two
    first = feature.encode(SENTENCES[:3])
    again = feature.encode(SENTENCES[:3])
    assert len(calls) == 1 and again[0] is first[0] and again[1] is first[1]
    assert again[2] == tuple(SENTENCES[2])  # past the budget: computed whenever a batch holds it
    mask = torch.arange(8)[None, :] < torch.tensor([6, 1, 8])[:, None]
    batch = feature.collate(again, mask)
    expected = feature.features(SENTENCES[:3])
    torch.testing.assert_close(batch[2, :8], expected[2].float())
    torch.testing.assert_close(batch[0, :6], expected[0].float())
    assert batch[1, 1:].abs().sum() == 0  # padding
    hook.remove()


def test_bad_input_lm_settings_and_folders(lm_dirs, tmp_path):
    with pytest.raises(ConfigError, match=r"`model.charlm=a,,b`: expected LM names or folders"):
        load_config(None, ["model.charlm=a,,b"])
    with pytest.raises(ConfigError, match="no lm.json in it"):
        CharLM(load_config(None, [f"model.charlm={tmp_path / 'nowhere'}"]).model)
    with pytest.raises(ConfigError, match="two forward LMs"):
        CharLM(load_config(None, [f"model.charlm={lm_dirs[0]},{build_lm_folder(tmp_path / 'other')}"]).model)
    damaged = shutil.copytree(lm_dirs[0], tmp_path / "damaged")
    (damaged / "lm.safetensors").write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle's first bytes
    with pytest.raises(TaggerError, match="SHA-256 is not the one lm.json records"):
        CharLM(load_config(None, [f"model.charlm={damaged}"]).model)
    preset = load_config(preset="charlm").model
    assert preset.charlm == "news-forward-fast,news-backward-fast"
    assert preset.charlm_document and preset.locked_dropout  # the recipe three seeds chose (BENCHMARKS.md)


DOCUMENT = [["John", "Smith", "lives", "in", "Paris", "."], ["He", "likes", "it", "."], ["Mary", "agrees", "."]]


def test_charlm_document_reads_each_documents_sentences_as_one_text(lm_dirs, monkeypatch):
    feature = feature_for(lm_dirs, "model.document_context=true", "model.charlm_document=true")
    alone = feature.features(DOCUMENT)
    monkeypatch.setattr(charlm, "DOCUMENT_BATCH_CHARS", 64)  # several LM calls, each over one text longer than that
    read = feature.encode_in_documents([*DOCUMENT, ["Mary"]], [0, 0, 0, 1])
    assert torch.equal(torch.cat(read[:3]), feature.features([[w for s in DOCUMENT for w in s]])[0])
    # the forward LM has read nothing past the first sentence yet, the backward LM nothing before the last
    assert torch.equal(read[0][:, :12], alone[0][:, :12]) and torch.equal(read[2][:, 12:], alone[2][:, 12:])
    assert not torch.allclose(read[1][:, :12], alone[1][:, :12]) and not torch.allclose(
        read[1][:, 12:], alone[1][:, 12:]
    )
    assert torch.equal(read[3], feature.features([["Mary"]])[0])  # the next document starts from zero states
    # in sentence mode the neighbours change nothing
    plain = feature_for(lm_dirs, "model.document_context=true")
    assert plain.encode_in_documents(DOCUMENT, [0, 0, 0]) == [tuple(words) for words in DOCUMENT]


def test_charlm_document_reads_a_long_document_in_the_windows_of_document_context(lm_dirs, monkeypatch):
    from tagger import ordering

    feature = feature_for(lm_dirs, "model.document_context=true", "model.charlm_document=true")
    monkeypatch.setattr(ordering, "MAX_CONTEXT_SENTENCES", 2)
    read = feature.encode_in_documents(DOCUMENT, [0, 0, 0])
    assert torch.equal(torch.cat(read[:2]), feature.features([DOCUMENT[0] + DOCUMENT[1]])[0])
    assert torch.equal(read[2], feature.features([DOCUMENT[2]])[0])


def test_charlm_document_keeps_each_window_once_in_training(lm_dirs):
    feature = feature_for(lm_dirs, "model.document_context=true", "model.charlm_document=true")
    calls = []
    hook = feature.module.forward_lm.register_forward_hook(lambda *args: calls.append(1))
    feature.keep_encodings()
    first = feature.encode_in_documents(DOCUMENT, [0, 0, 0])
    again = feature.encode_in_documents(DOCUMENT, [0, 0, 0])
    assert len(calls) == 1 and all(a is b for a, b in zip(first, again, strict=True))
    hook.remove()


def test_charlm_document_needs_document_context(lm_dirs):
    from tagger.model import build_model
    from tagger.vocab import build_vocab

    vocab = build_vocab([["a"]], ["O"], "IOB2")
    with pytest.raises(ConfigError, match="model.charlm_document needs model.charlm and model.document_context"):
        build_model(model_config(lm_dirs, "model.charlm_document=true"), vocab)


@pytest.mark.parametrize(
    ("quantize", "native_bf16", "mode"),
    [
        ("auto", True, "bf16"),
        ("auto", False, "none"),
        ("none", True, "none"),
        ("int8", True, "int8"),
        ("bf16", False, "bf16"),
    ],
)
def test_a_tagger_chooses_its_precision(charlm_model, trained_model, monkeypatch, quantize, native_bf16, mode):
    from tagger import Tagger, precision

    monkeypatch.setattr(precision, "runs_bf16_lstm", lambda device: native_bf16)
    tagger = Tagger.load(charlm_model, device="cpu", quantize=quantize)
    assert tagger.quantize == mode
    assert tagger.model.charlm.forward_lm.embedding.dtype == (torch.bfloat16 if mode == "bf16" else torch.float32)
    # a model without frozen networks gains less from bf16 and may change a tag: auto keeps it in fp32
    assert Tagger.load(trained_model, device="cpu").quantize == "none"
    assert precision.tagging_mode("auto", torch.device("cuda"), True) == "none"  # a GPU: fp32 unless asked


@requires_bf16_lstm
def test_the_lms_in_bf16_give_states_close_to_fp32(lm_dirs):
    feature = feature_for(lm_dirs)
    fp32 = feature.features(SENTENCES)
    feature.module.to(torch.bfloat16)  # as a tagger in bf16 converts the model
    bf16 = feature.features(SENTENCES)
    assert any(not torch.equal(a, b) for a, b in zip(bf16, fp32, strict=True))  # bf16 did run
    for a, b in zip(bf16, fp32, strict=True):
        torch.testing.assert_close(a.float(), b.float(), atol=0.05, rtol=0.05)


def test_training_computes_the_lm_states_in_fp32_on_every_cpu(lm_dirs, ner_files, tiny_config, tmp_path, monkeypatch):
    from tagger import precision
    from tagger.training import DataSource, train

    monkeypatch.setattr(precision, "runs_bf16_lstm", lambda device: True)  # as on a CPU with AMX
    asked = []
    monkeypatch.setattr(CharLM, "set_precision", lambda self, dtype: asked.append(dtype))
    config = replace(
        tiny_config,
        model=replace(tiny_config.model, charlm=f"{lm_dirs[0]},{lm_dirs[1]}"),
        train=replace(tiny_config.train, epochs=2, threads=1),
    )
    train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m")
    assert asked and set(asked) == {torch.float32}  # dev each epoch, then dev and test at the end


TAG_SCRIPT = """
import json, sys
from tagger import Tagger
tagger = Tagger.load(sys.argv[1], device="cpu")
print(json.dumps(tagger.tag(json.loads(sys.argv[2]), scores=True)))
"""


@pytest.mark.parametrize(
    "settings", [{}, {"charlm_projection": 6}, {"charlm_document": True, "document_context": True}]
)
def test_trains_saves_and_tags_in_a_fresh_process_without_the_lm_folders(
    lm_dirs, ner_files, tiny_config, tmp_path, settings
):
    from safetensors import safe_open

    from tagger import Tagger
    from tagger.training import DataSource, train

    folders = [shutil.copytree(folder, tmp_path / folder.name) for folder in lm_dirs]
    config = replace(
        tiny_config,
        model=replace(tiny_config.model, charlm=f"{folders[0]},{folders[1]}", **settings),
        train=replace(tiny_config.train, epochs=3, threads=1),
    )
    out = tmp_path / "model"
    train(config, DataSource(ner_files[0], ner_files[1]), out)
    sentences = [w.split() for w, _ in NER_SENTENCES] + [SENTENCES[2]]
    here = Tagger.load(out, device="cpu").tag(sentences, scores=True)
    projection = settings.get("charlm_projection", 0)
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        names = set(weights.keys())
        assert weights.get_tensor("charlm.backward_lm.weight_hh").dtype == torch.float16
        assert weights.get_tensor("charlm.forward_lm.characters").dtype == torch.int32
        if projection:  # trained, so kept in fp32; it maps both LMs' states side by side
            lm_width = weights.get_tensor("charlm.forward_lm.weight_hh").shape[1]
            assert weights.get_tensor("charlm.projection.weight").dtype == torch.float32
            assert weights.get_tensor("charlm.projection.weight").shape == (projection, 2 * lm_width)
        else:
            assert not any(name.startswith("charlm.projection") for name in names)
    assert {f"charlm.{d}_lm.{n}" for d in ("forward", "backward") for n in ("embedding", "weight_ih")} <= names
    assert not (out / "model.safetensors").read_bytes().startswith((b"\x80", b"PK"))  # safetensors, no pickle
    for folder in folders:
        shutil.rmtree(folder)
    fresh = subprocess.run(
        [sys.executable, "-c", TAG_SCRIPT, str(out), json.dumps(sentences)], capture_output=True, text=True, check=True
    )
    assert [[tuple(pair) for pair in row] for row in json.loads(fresh.stdout)] == here


@pytest.fixture(scope="module")
def charlm_model(lm_dirs, tmp_path_factory) -> Path:
    """A model with random weights (what is checked here is the path, not the accuracy)."""
    from tagger.model import build_model
    from tagger.serialization import save_model
    from tagger.vocab import build_vocab

    config = load_config(None, ["model.word_dim=12", "model.hidden=10", f"model.charlm={lm_dirs[0]},{lm_dirs[1]}"])
    tags = [tag for _, line in NER_SENTENCES for tag in line.split()]
    vocab = build_vocab([w.split() for w, _ in NER_SENTENCES], tags, "IOB2")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("charlm-model") / "m"
    save_model(folder, config, vocab, build_model(config.model, vocab))
    return folder


def test_tagger_tag_and_the_spacy_component(charlm_model):
    import spacy

    from tagger import Tagger

    tagger = Tagger.load(charlm_model, device="cpu")
    words = [w.split() for w, _ in NER_SENTENCES]
    tags = tagger.tag(words)
    assert tags == [tagger.tag([sentence])[0] for sentence in words]  # batched equals one by one
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": str(charlm_model), "device": "cpu"})
    doc = nlp("John Smith lives in Paris .")
    spans = tags_to_spans(tagger.tag([[token.text for token in doc]])[0])
    assert [(e.label_, e.start, e.end) for e in doc.ents] == spans


def test_the_spacy_component_reads_each_doc_as_one_document_with_charlm_document(lm_dirs, tmp_path):
    import spacy

    from tagger import Tagger
    from tagger.model import build_model
    from tagger.serialization import save_model
    from tagger.vocab import build_vocab

    settings = ["model.word_dim=12", "model.hidden=10", "model.document_context=true", "model.charlm_document=true"]
    config = load_config(None, [*settings, f"model.charlm={lm_dirs[0]},{lm_dirs[1]}"])
    first, second = "John Smith lives in Paris .".split(), "Mary visits Berlin .".split()
    vocab = build_vocab([first, second], ["NOUN", "VERB", "ADP", "PUNCT"], "none")
    torch.manual_seed(3)
    save_model(tmp_path / "m", config, vocab, build_model(config.model, vocab))
    tagger = Tagger.load(tmp_path / "m", device="cpu")
    sentences = [first, second, second, first]
    together = tagger.tag(sentences, documents=[0, 0, 1, 1], scores=True)
    apart = tagger.tag(sentences, documents=[0, 1, 2, 3], scores=True)
    assert together[1] != apart[1] and together[2] != apart[2]  # the LMs read the neighbour sentence
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": str(tmp_path / "m"), "device": "cpu", "scores": "attribute"})
    docs = list(nlp.pipe([" ".join(first + second), " ".join(second + first)]))
    attribute = "pos_" if nlp.get_pipe("bilstm_tagger").target == "pos" else "tag_"
    found = [[(getattr(token, attribute), token._.score) for token in doc] for doc in docs]
    expected = [together[0] + together[1], together[2] + together[3]]
    for doc_found, doc_expected in zip(found, expected, strict=True):
        assert [tag for tag, _ in doc_found] == [tag for tag, _ in doc_expected]
        assert [score for _, score in doc_found] == pytest.approx([score for _, score in doc_expected], abs=1e-6)


def test_export_refuses_a_charlm_model_in_one_line(charlm_model, tmp_path):
    from tagger.export import export_model

    with pytest.raises(TaggerError, match="uses character language models") as error:
        export_model(charlm_model, tmp_path / "out")
    assert "\n" not in str(error.value)


HELD_OUT = (
    "Germany 's representative to the European Union 's veterinary committee Werner Zwingmann said on Wednesday "
    "consumers should buy sheepmeat from countries other than Britain until the scientific advice was clearer ."
)


def installed_lm(name: str) -> Path | None:
    try:
        return charlm_folder(name)
    except ConfigError:
        return None


@pytest.mark.skipif(
    installed_lm("news-forward-fast") is None or installed_lm("news-backward-fast") is None,
    reason="Flair's news LMs are not installed (tagger lm install)",
)
def test_flairs_lms_predict_held_out_text_in_their_direction_only():
    """Bits per character on a news sentence, through the feature's own LSTM runner: 1.45 and 1.44 bits in the
    LMs' directions, 5.51 and 5.77 read the wrong way round."""

    def bits_per_character(name: str, backward: bool) -> float:
        metadata, arrays = load_charlm_folder(name)
        lm = charlm.FrozenCharLM(lm_buffers(metadata, arrays))
        string = lm_input(HELD_OUT.split(), backward, lm.start)
        ids = torch.tensor([lm.char_ids(string)])
        with torch.inference_mode():
            states = lm(ids)[0, :-1]  # each predicts the next character
            logits = states @ torch.from_numpy(arrays["decoder.weight"]).T + torch.from_numpy(arrays["decoder.bias"])
            nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:])
        return nll.item() / math.log(2)

    for name, backward in (("news-forward-fast", False), ("news-backward-fast", True)):
        right, wrong = bits_per_character(name, backward), bits_per_character(name, not backward)
        assert right < 1.8 and wrong > 4.0, (name, right, wrong)
