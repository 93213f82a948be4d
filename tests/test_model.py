import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tagger.batching import build_batch, encode_sentence
from tagger.config import ModelConfig
from tagger.model import LockedDropout, Recurrent, build_model
from tagger.vocab import build_vocab

SENTENCES = [["John", "lives", "in", "Paris"], ["Hi"], ["Acme", "Corp", "hired", "Anna", "Lee", "yesterday"]]
TAGS = [["B-PER", "O", "O", "B-LOC"], ["O"], ["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O"]]


def make(char_encoder: str = "cnn", cell: str = "lstm"):
    vocab = build_vocab(SENTENCES, {t for s in TAGS for t in s}, "IOB2")
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
        char_encoder=char_encoder,
        cell=cell,
    )
    model = build_model(config, vocab)
    return vocab, model


@pytest.mark.parametrize("char_encoder,cell", [("cnn", "lstm"), ("lstm", "gru"), ("none", "rnn")])
def test_gradients_reach_every_parameter(char_encoder, cell):
    vocab, model = make(char_encoder, cell)
    batch = build_batch([encode_sentence(w, model.features, vocab, t) for w, t in zip(SENTENCES, TAGS)], model.features)
    model.loss(batch).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_padding_does_not_change_emissions():
    vocab, model = make()
    model.eval()
    together = model(build_batch([encode_sentence(w, model.features, vocab) for w in SENTENCES], model.features))
    for row, words in enumerate(SENTENCES):
        alone = model(build_batch([encode_sentence(words, model.features, vocab)], model.features))
        assert torch.allclose(together[row, : len(words)], alone[0], atol=1e-5)


def test_forget_gate_bias_starts_at_one_and_recurrent_weights_are_orthogonal():
    _, model = make()
    hidden = model.config.hidden
    assert torch.all(model.rnn.layers[0][0].bias_ih_l0[hidden : 2 * hidden] == 1.0)
    gate = model.rnn.layers[0][1].weight_hh_l0[:hidden]
    assert torch.allclose(gate @ gate.T, torch.eye(hidden), atol=1e-5)


def test_recurrent_layers_over_padding_equal_a_packed_bidirectional_lstm():
    """The padded run (backward direction reversed within each length) must compute what packing computes."""
    torch.manual_seed(0)
    config = ModelConfig(hidden=6, layers=2, recurrent_dropout=0.0)
    recurrent = Recurrent(config, input_dim=5).eval()
    reference = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
    for depth, directions in enumerate(recurrent.layers):
        for suffix, single in zip(("", "_reverse"), directions):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(reference, f"{name}_l{depth}{suffix}").data.copy_(getattr(single, f"{name}_l0"))
    inputs, lengths = torch.randn(3, 7, 5), torch.tensor([7, 2, 5])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    expected = pad_packed_sequence(reference(packed)[0], batch_first=True)[0]
    assert torch.allclose(recurrent(inputs, mask)[mask], expected[mask], atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rows_of_very_different_lengths_run_in_groups_with_the_same_bits(cell):
    """A document batch (sentences of 1 to 60 words) runs each layer in groups of similar length, which must give
    every real word the bits of one run over the padded batch, and train (gradients reach every weight)."""
    from tagger.model import LengthGroups, run_directions

    torch.manual_seed(0)
    config = ModelConfig(hidden=6, layers=2, cell=cell, recurrent_dropout=0.0)
    recurrent = Recurrent(config, input_dim=5).eval()
    lengths = torch.tensor([60, 1, 3, 2] * 10 + [30, 29, 4, 1])  # padded 9x the words
    mask = torch.arange(60)[None, :] < lengths[:, None]
    inputs = torch.randn(len(lengths), 60, 5)
    groups = LengthGroups.of(mask)
    assert groups.groups is not None and len(groups.groups) > 1  # grouped, longest rows first
    assert sorted(torch.cat([rows for rows, _ in groups.groups]).tolist()) == list(range(len(lengths)))
    one_run = inputs
    for directions in recurrent.layers:
        one_run = run_directions(directions, one_run, mask)
    with torch.inference_mode():
        grouped = recurrent(inputs, mask)
    assert torch.equal(grouped[mask], one_run.detach()[mask])
    recurrent.train()
    recurrent(inputs, mask)[mask].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in recurrent.parameters())
    # a batch of similar lengths (length-bucketed, as tagging without document context) stays one group
    assert LengthGroups.of(torch.arange(10)[None, :] < torch.tensor([10, 9, 8, 10])[:, None]).groups is None


def test_locked_dropout_drops_the_same_inputs_at_every_word_of_a_sentence():
    dropout = LockedDropout(0.5).train()
    inputs = torch.ones(4, 7, 300)
    dropped = dropout(inputs)
    assert set(dropped.unique().tolist()) == {0.0, 2.0}  # kept inputs are scaled by 1 / (1 - p)
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # one mask per sentence
    assert not torch.equal(dropped[0], dropped[1])  # and its own for each sentence
    assert 0.4 < (dropped == 0).float().mean().item() < 0.6
    assert torch.equal(dropout.eval()(inputs), inputs)


def test_a_model_with_locked_dropout_uses_it_in_all_three_places_and_trains():
    vocab = build_vocab(SENTENCES, {t for s in TAGS for t in s}, "IOB2")
    config = ModelConfig(word_dim=8, char_dim=4, char_filters=6, hidden=5, layers=2, locked_dropout=True)
    model = build_model(config, vocab)
    assert [type(m) for m in (model.embedding_dropout, model.rnn.dropout, model.output_dropout)] == [LockedDropout] * 3
    assert isinstance(build_model(ModelConfig(), vocab).embedding_dropout, torch.nn.Dropout)  # the default
    batch = build_batch([encode_sentence(w, model.features, vocab, t) for w, t in zip(SENTENCES, TAGS)], model.features)
    model.loss(batch).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_the_char_cnn_with_bias_and_mask_folded_into_its_table_computes_what_it_trained_with():
    """The exported char-CNN takes the bias and the padding mask from its lookup table (``folded_table``): the same
    features for real words of any length, and zeros for the padding word, which has no chars."""
    torch.manual_seed(0)
    vocab, model = make()
    cnn = model.char_encoder
    with torch.no_grad():
        cnn.conv.bias.normal_()  # a bias far from zero, so that leaving it out or adding it twice shows
    lengths = [0, 1, 3, 5, 2, 7, 1, 4, 7, 6, 2, 3, 1]  # row 0: the padding word; the others in no order
    char_ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for row, length in enumerate(lengths):
        char_ids[row, :length] = torch.randint(1, len(vocab.chars), (length,))
    trained = cnn.encode_words(char_ids)
    for rows in (2, 3, len(lengths)):  # fewer rows than runs of rows, too
        folded = cnn.encode_words_folded(char_ids[:rows], cnn.folded_table())
        assert torch.allclose(folded, trained[:rows], atol=1e-6)
        assert torch.all(folded[0] == 0) and torch.all(torch.isfinite(folded))
    cnn.eval()
    with torch.no_grad():  # tagging takes the folded table
        index = torch.tensor([[1, 2, 3], [4, 5, 0]])
        assert torch.allclose(cnn((char_ids, index)), trained[index], atol=1e-6)
