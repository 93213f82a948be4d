import pytest
import torch

from tagger.batching import build_batch, encode_sentence
from tagger.config import ModelConfig
from tagger.model import BiLSTMTagger
from tagger.vocab import build_vocab

SENTENCES = [["John", "lives", "in", "Paris"], ["Hi"], ["Acme", "Corp", "hired", "Anna", "Lee", "yesterday"]]
TAGS = [["B-PER", "O", "O", "B-LOC"], ["O"], ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O"]]


def make(char_encoder: str = "cnn", cell: str = "lstm"):
    vocab = build_vocab(SENTENCES, {t for s in TAGS for t in s}, "IOB2")
    config = ModelConfig(word_dim=8, char_dim=4, char_filters=6, casing_dim=3, hidden=5, layers=2,
                         embedding_dropout=0.0, recurrent_dropout=0.0, output_dropout=0.0,
                         char_encoder=char_encoder, cell=cell)
    model = BiLSTMTagger(config, len(vocab.words), len(vocab.chars), len(vocab.labels))
    return vocab, model


@pytest.mark.parametrize("char_encoder,cell", [("cnn", "lstm"), ("lstm", "gru"), ("none", "rnn")])
def test_gradients_reach_every_parameter(char_encoder, cell):
    vocab, model = make(char_encoder, cell)
    batch = build_batch([encode_sentence(w, vocab, t) for w, t in zip(SENTENCES, TAGS)], vocab)
    model.loss(batch).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_padding_does_not_change_emissions():
    vocab, model = make()
    model.eval()
    together = model(build_batch([encode_sentence(w, vocab) for w in SENTENCES], vocab))
    for row, words in enumerate(SENTENCES):
        alone = model(build_batch([encode_sentence(words, vocab)], vocab))
        assert torch.allclose(together[row, : len(words)], alone[0], atol=1e-5)


def test_forget_gate_bias_starts_at_one_and_recurrent_weights_are_orthogonal():
    _, model = make()
    hidden = model.config.hidden
    assert torch.all(model.rnn.bias_ih_l0[hidden: 2 * hidden] == 1.0)
    gate = model.rnn.weight_hh_l0[:hidden]
    assert torch.allclose(gate @ gate.T, torch.eye(hidden), atol=1e-5)
