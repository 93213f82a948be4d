"""Document context: words pool their BiLSTM states across the sentences of their document, never beyond it."""

from dataclasses import replace

import pytest
import torch
from conftest import NER_SENTENCES, write_conll

from tagger.batching import build_batch, encode_sentence
from tagger.config import ModelConfig
from tagger.corpus import Sentence, document_ids, read_corpus
from tagger.model import build_model, pool_by_index
from tagger.ordering import MAX_CONTEXT_SENTENCES, document_batches
from tagger.tagging.torch_tagger import Tagger
from tagger.vocab import build_vocab

SENTENCES = [["Clinton", "said", "no"], ["President", "Bill", "Clinton", "left"], ["CLINTON", "WINS"]]


def make_model(between_layers: bool = False):
    vocab = build_vocab(SENTENCES, {"O", "B-PER", "I-PER"}, "IOB2")
    config = ModelConfig(
        word_dim=8,
        char_dim=4,
        char_filters=6,
        casing_dim=3,
        hidden=5,
        layers=2,
        embedding_dropout=0.0,
        recurrent_dropout=0.0,
        output_dropout=0.0,
        document_context=True,
        context_between_layers=between_layers,
    )
    return vocab, build_model(config, vocab).eval()


def emissions(model, vocab, sentences, documents):
    encoded = [encode_sentence(words, model.features, vocab, document=d) for words, d in zip(sentences, documents)]
    return model(build_batch(encoded, model.features, context=True))


def test_document_ids_follow_docstart_newdoc_and_files():
    def sentence(path="a", **metadata):
        return Sentence(["w"], ["O"], path, 1, metadata)

    sentences = [sentence(), sentence(docstart="1"), sentence(), sentence(**{"newdoc id": "x"}), sentence("b")]
    assert document_ids(sentences) == [0, 1, 1, 2, 3]
    assert document_ids([sentence(), sentence()]) == [0, 0]  # no marks: the file is one document


def test_conll_docstart_lines_open_documents(tmp_path):
    path = tmp_path / "docs.conll"
    path.write_text("-DOCSTART- O\n\nA O\n\nB O\n\n-DOCSTART- O\n\nC O\n", encoding="utf-8")
    sentences, _ = read_corpus(path)
    assert document_ids(sentences) == [0, 0, 1]


def test_context_index_is_shared_by_one_word_form_within_a_document_only():
    vocab, model = make_model()
    encoded = [encode_sentence(w, model.features, vocab, document=d) for w, d in zip(SENTENCES, [0, 0, 1])]
    index = build_batch(encoded, model.features, context=True).context_index
    assert index[0, 0] == index[1, 2]  # "Clinton" twice in document 0
    assert index[2, 0] != index[0, 0]  # "CLINTON" in document 1: another document
    assert index[0, 1] != index[0, 0] and index[0, 3] == 0  # other word; padding


def test_pooling_is_the_mean_over_positions_with_the_same_index():
    hidden = torch.arange(12, dtype=torch.float).reshape(1, 4, 3)
    pooled = pool_by_index(hidden, torch.tensor([[1, 2, 1, 3]]))
    assert torch.equal(pooled[0, 0], (hidden[0, 0] + hidden[0, 2]) / 2)
    assert torch.equal(pooled[0, 0], pooled[0, 2]) and torch.equal(pooled[0, 1], hidden[0, 1])


@pytest.mark.parametrize("between_layers", [False, True])
def test_a_sentence_sees_its_document_but_not_other_documents(between_layers):
    vocab, model = make_model(between_layers)
    alone = emissions(model, vocab, SENTENCES[:1], [0])
    with_other_document = emissions(model, vocab, SENTENCES[:2], [0, 1])
    with_same_document = emissions(model, vocab, SENTENCES[:2], [0, 0])
    assert torch.allclose(alone[0, :3], with_other_document[0, :3], atol=1e-6)
    assert not torch.allclose(alone[0, 0], with_same_document[0, 0], atol=1e-4)  # "Clinton" pools both mentions
    # "said" occurs once: it changes only when an upper layer carries Clinton's pooled state along the sentence
    assert torch.allclose(alone[0, 1], with_same_document[0, 1], atol=1e-6) != between_layers


def test_every_parameter_learns_with_context_between_layers():
    vocab, model = make_model(between_layers=True)
    tags = [["B-PER", "O", "O"], ["O", "B-PER", "I-PER", "O"], ["B-PER", "O"]]
    encoded = [encode_sentence(w, model.features, vocab, t, document=0) for w, t in zip(SENTENCES, tags)]
    model.train().loss(build_batch(encoded, model.features, context=True)).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_document_batches_keep_documents_whole_and_cover_every_sentence():
    documents = [0] * 5 + [1] * 2 + [2] * 7 + [3] * (MAX_CONTEXT_SENTENCES + 3)
    batches = list(document_batches(documents, batch_size=4, shuffle=False))
    assert sorted(i for b in batches for i in b) == list(range(len(documents)))
    assert batches[:3] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9, 10, 11, 12, 13],
        [14 + i for i in range(MAX_CONTEXT_SENTENCES)],
    ]
    for batch in batches:  # a document is cut only into windows of MAX_CONTEXT_SENTENCES
        for document in {documents[i] for i in batch}:
            whole = [i for i, d in enumerate(documents) if d == document]
            assert [i for i in batch if documents[i] == document] == whole or document == 3


@pytest.fixture(scope="module")
def context_model(tmp_path_factory, tiny_config):
    """Trained on two documents; dev has the same two."""
    from tagger.training import DataSource, train

    folder = tmp_path_factory.mktemp("documents")
    train_file = write_conll(folder / "train.conll", NER_SENTENCES)
    text = train_file.read_text(encoding="utf-8").split("\n\n")
    train_file.write_text(
        "-DOCSTART- O\n\n" + "\n\n".join(text[:4]) + "\n\n-DOCSTART- O\n\n" + "\n\n".join(text[4:]), encoding="utf-8"
    )
    config = replace(tiny_config, model=replace(tiny_config.model, document_context=True))
    train(config, DataSource(train_file, train_file), folder / "model")
    return folder / "model", train_file


def test_document_context_model_trains_and_tags_documents_alike_in_any_batching(context_model):
    model_dir, train_file = context_model
    tagger = Tagger.load(model_dir, device="cpu")
    sentences, _ = read_corpus(train_file)
    evaluation, predictions = tagger.evaluate(sentences)
    assert evaluation.conlleval.micro.f1 == 1.0
    documents = document_ids(sentences)
    one_by_one = []
    for document in sorted(set(documents)):
        words = [s.words for s, d in zip(sentences, documents) if d == document]
        one_by_one += tagger.tag(words, batch_size=1)
    assert one_by_one == predictions == tagger.tag([s.words for s in sentences], batch_size=3, documents=documents)


def test_tag_command_keeps_documents_whole_across_its_pools(context_model, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tagger.batch import engine
    from tagger.cli import app

    model_dir, train_file = context_model
    sentences, _ = read_corpus(train_file)
    _, expected = Tagger.load(model_dir, device="cpu").evaluate(sentences)
    monkeypatch.setattr(engine, "POOL_SENTENCES", 3)  # a pool is tagged only where a document ends
    out = tmp_path / "tagged.conll"
    result = CliRunner().invoke(app, ["tag", str(model_dir), str(train_file), "-o", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    blocks = [b for b in out.read_text(encoding="utf-8").strip().split("\n\n") if not b.startswith("-DOCSTART-")]
    assert [[line.split()[-1] for line in block.split("\n")] for block in blocks] == expected


def test_context_between_layers_without_document_context_is_refused():
    from tagger.errors import ConfigError
    from tagger.model import build_model

    vocab, _ = make_model()
    with pytest.raises(ConfigError, match="needs model.document_context"):
        build_model(ModelConfig(context_between_layers=True), vocab)


def test_context_dropout_isolates_whole_documents_only():
    import random

    from tagger.batching import EncodedSentence
    from tagger.training.loop import isolate_documents

    encoded = [EncodedSentence((), (), (), None, document) for document in [0, 0, 0, 1, 1, 2, 2, 2, 2]]
    assert isolate_documents(encoded, 0.0, random.Random(0)) == encoded
    assert len({s.document for s in isolate_documents(encoded, 1.0, random.Random(0))}) == len(encoded)
    for seed in range(20):  # each document is either kept whole or split into one document per sentence
        documents = [s.document for s in isolate_documents(encoded, 0.5, random.Random(seed))]
        for original in (0, 1, 2):
            mine = [d for d, s in zip(documents, encoded) if s.document == original]
            assert mine == [original] * len(mine) or len(set(mine)) == len(mine) > 0 and original not in mine


def test_context_between_layers_needs_a_second_layer():
    from tagger.errors import ConfigError
    from tagger.model import build_model

    vocab, _ = make_model()
    with pytest.raises(ConfigError, match="model.layers = 2 or more"):
        build_model(ModelConfig(document_context=True, context_between_layers=True, layers=1), vocab)


def test_pooling_in_bf16_adds_up_in_fp32():
    """A word seen 2,000 times in a document: bf16 counts stop at 256 (256 + 1 rounds back), so the mean was wrong."""
    hidden = torch.linspace(0.5, 2.5, 2000).reshape(1, 2000, 1).to(torch.bfloat16)  # (1, positions, 1)
    pooled = pool_by_index(hidden, torch.ones(1, 2000, dtype=torch.long))
    assert pooled.dtype == torch.bfloat16
    assert abs(pooled[0, 0, 0].item() - hidden.float().mean().item()) < 0.01
