"""BiLSTMTagger: input features (words, characters, casing, ...) -> emissions (pre-softmax scores per word and tag).

No strings and no files here: the model sees only ids and sizes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from tagger.batching import Batch
from tagger.config import ModelConfig
from tagger.crf import CRF
from tagger.decoding import TransitionMask
from tagger.errors import ConfigError, setting
from tagger.features import InputFeature, build_features
from tagger.features.base import gather_rows
from tagger.features.casing import CasingEmbedding
from tagger.features.chars import CharCNN, CharLSTM
from tagger.features.words import WordEmbedding
from tagger.threads import orthogonal_on_one_thread
from tagger.vocab import PAD_ID, Vocab

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class BiLSTMTagger(nn.Module):
    """Input features (tagger.features) -> BiLSTM -> emissions. ``transitions`` constrain the CRF head (built by
    the owner from the labels and their scheme)."""

    # Modules added under their features' names in __init__, declared for the type checker: the word embedding is
    # always there, the others only where the configuration asks for their feature.
    word_embedding: WordEmbedding
    char_encoder: CharCNN | CharLSTM
    casing_embedding: CasingEmbedding

    def __init__(
        self,
        config: ModelConfig,
        features: Sequence[InputFeature],
        num_tags: int,
        transitions: TransitionMask | None = None,
    ):
        super().__init__()
        self.config = config
        self.features = list(features)  # plain objects, not modules: an encoder they hold is not a weight of ours
        for feature in self.features:
            self.add_module(feature.module_name, feature.build_module())
        input_dim = sum(getattr(self, f.module_name).output_dim for f in self.features)
        self.embedding_dropout = dropout(config.embedding_dropout, config.locked_dropout)
        self.rnn = Recurrent(config, input_dim)
        self.output_dropout = dropout(config.output_dropout, config.locked_dropout)
        hidden_dim = config.hidden * (2 if config.bidirectional else 1)
        self.output = nn.Linear(hidden_dim * (2 if config.document_context else 1), num_tags)
        self.crf = CRF(num_tags, transitions) if config.head == "crf" else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(
            self.word_embedding.weight, -((3 / self.config.word_dim) ** 0.5), (3 / self.config.word_dim) ** 0.5
        )
        for full_name, param in self.rnn.named_parameters():
            name = full_name.rsplit(".", 1)[-1]  # "weight_hh_l0" alone or in "1.weight_hh_l0"
            if name.startswith("weight_hh"):
                for gate in param.data.chunk(self._gates(), dim=0):
                    orthogonal_on_one_thread(gate)
            elif name.startswith("weight_ih"):
                nn.init.xavier_uniform_(param)
            elif name.startswith("bias"):
                nn.init.zeros_(param)
                if self.config.cell == "lstm" and name.startswith("bias_ih"):
                    param.data.chunk(4)[1].fill_(1.0)  # forget gate (order i, f, g, o): remember by default
        with torch.no_grad():
            self.word_embedding.weight[PAD_ID].zero_()

    def _gates(self) -> int:
        return {"lstm": 4, "gru": 3, "rnn": 1}[self.config.cell]

    def embed(self, batch: Batch) -> torch.Tensor:
        parts = [getattr(self, f.module_name)(batch.inputs[f.name]) for f in self.features]
        return torch.cat(parts, dim=-1)  # (batch_size, seq_len, input_dim)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Emissions (batch_size, seq_len, num_tags) for a batch."""
        embedded = self.embedding_dropout(self.embed(batch))
        index = batch.context_index  # built for a model with document context (build_batch's context)
        pool = (
            (lambda hidden: pool_by_index(hidden, index))
            if index is not None and self.config.document_context
            else None
        )
        hidden = self.rnn(embedded, batch.mask, pool if self.config.context_between_layers else None)
        if pool is not None:
            hidden = torch.cat([hidden, pool(hidden)], dim=-1)  # (batch_size, seq_len, 2 * hidden * dirs)
        return self.output(self.output_dropout(hidden))  # (batch_size, seq_len, num_tags)

    def loss(self, batch: Batch) -> torch.Tensor:
        """CRF: mean negative log-likelihood per sentence; softmax: mean cross-entropy per word."""
        if batch.tag_ids is None:
            raise ValueError("a loss needs the batch's gold tags: build it from sentences with tag ids")
        emissions = self(batch)  # (batch_size, seq_len, num_tags)
        if self.crf is not None:
            return self.crf.neg_log_likelihood(emissions, batch.tag_ids, batch.mask)
        return nn.functional.cross_entropy(emissions[batch.mask], batch.tag_ids[batch.mask])


def dropout(probability: float, locked: bool) -> nn.Module:
    return LockedDropout(probability) if locked else nn.Dropout(probability)


class LockedDropout(nn.Module):
    """Dropout with one mask per sentence, shared by all its words: (batch_size, seq_len, dim) inputs lose the
    same inputs at every position. The mask is drawn for (batch_size, 1, dim) values only: on 2,156 inputs per word
    (character LMs), element-wise dropout's Bernoulli draws took 12% of a training step on one CPU thread."""

    def __init__(self, probability: float):
        super().__init__()
        self.probability = probability  # 0 <= p < 1: the configuration's limits

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.probability == 0.0:
            return inputs
        keep = 1.0 - self.probability
        mask = inputs.new_empty(inputs.shape[0], 1, inputs.shape[2]).bernoulli_(keep).div_(keep)
        return inputs * mask

    def extra_repr(self) -> str:
        return f"p={self.probability}"


class Recurrent(nn.Module):
    """A stacked, optionally bidirectional RNN over padded batches, one single-layer module per direction.

    Packing a batch (pack_padded_sequence) made oneDNN's LSTM run at half the speed of the same LSTM on
    the padded batch, so padding is kept (``run_directions``), and a batch of very different lengths runs in
    groups of similar ones (``LengthGroups``). Each upper layer sees the layer below through dropout, with
    ``pool``'s document states beside it when given.
    """

    def __init__(self, config: ModelConfig, input_dim: int):
        super().__init__()
        directions = 2 if config.bidirectional else 1
        upper_dim = directions * config.hidden * (2 if config.context_between_layers else 1)
        self.layers = nn.ModuleList(
            nn.ModuleList(CELLS[config.cell](size, config.hidden, batch_first=True) for _ in range(directions))
            for size in [input_dim] + [upper_dim] * (config.layers - 1)
        )
        self.dropout = dropout(config.recurrent_dropout, config.locked_dropout)

    def forward(
        self, inputs: torch.Tensor, mask: torch.Tensor, pool: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """(batch_size, seq_len, input_dim) -> (batch_size, seq_len, hidden * directions); padding gives junk."""
        groups = LengthGroups.of(mask)
        hidden = inputs
        for depth, directions in enumerate(self.layers):
            assert isinstance(directions, nn.ModuleList)  # a layer's cells, one per direction
            if depth:
                hidden = self.dropout(torch.cat([hidden, pool(hidden)], dim=-1) if pool else hidden)
            hidden = groups.run(directions, hidden)
        return hidden


def run_directions(directions: nn.ModuleList, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One layer's cells over (batch_size, seq_len, dim) inputs: the forward direction reads each row from its start,
    which padding at the end cannot reach, and the backward direction reads it reversed within its own length.
    -> (batch_size, seq_len, hidden * directions)."""
    outputs = [run_cell(directions[0], inputs)]  # (batch_size, seq_len, hidden)
    if len(directions) > 1:
        reverse = reversal_index(mask)
        outputs.append(reorder(run_cell(directions[1], reorder(inputs, reverse)), reverse))
    return torch.cat(outputs, dim=-1)


class LengthGroups:
    """A batch's rows in groups of similar length, each run through a layer up to its own longest row.

    A batch of whole documents (document context) mixes sentences of 1 and 100 words, and a layer run over the
    padded batch spent most of its time on padding (8x the words on CoNLL-2003 test). Each row's outputs are the
    same bits whichever rows run beside it and wherever the run stops after its end, so grouping changes no result
    of tagging; training's weight gradients add the groups' shares in another order. Padding that no group reaches
    comes back as zeros. A batch already of similar lengths (length-bucketed) stays one group."""

    MAX_PADDING = 0.5  # a group takes rows while its padding adds at most this fraction of their words
    MIN_ROWS = 16  # below this a group runs on too few rows to be efficient: it takes shorter ones

    def __init__(self, mask: torch.Tensor, groups: list[tuple[torch.Tensor, int]] | None):
        self.mask = mask
        self.groups = groups  # (rows, their longest length), longest first; None: the batch as it is

    @classmethod
    def of(cls, mask: torch.Tensor) -> LengthGroups:
        lengths = mask.sum(dim=1)  # (batch_size,)
        if mask.numel() <= (1 + cls.MAX_PADDING) * int(lengths.sum()):
            return cls(mask, None)
        order = torch.sort(lengths, descending=True, stable=True).indices
        groups: list[tuple[list[int], int]] = []
        for row, length in zip(order.tolist(), lengths[order].tolist()):
            if groups and (len(groups[-1][0]) < cls.MIN_ROWS or length * (1 + cls.MAX_PADDING) >= groups[-1][1]):
                groups[-1][0].append(row)
            else:
                groups.append(([row], length))
        return cls(mask, [(torch.tensor(rows, device=mask.device), longest) for rows, longest in groups])

    def run(self, directions: nn.ModuleList, inputs: torch.Tensor) -> torch.Tensor:
        """``run_directions`` on (batch_size, seq_len, dim) inputs, group by group."""
        if self.groups is None:
            return run_directions(directions, inputs, self.mask)
        outputs: torch.Tensor | None = None
        for rows, longest in self.groups:
            group_mask = self.mask[:, :longest].index_select(0, rows)  # (rows, longest)
            group = run_directions(directions, inputs[:, :longest].index_select(0, rows), group_mask)
            if outputs is None:
                outputs = group.new_zeros(inputs.shape[0], inputs.shape[1], group.shape[2])
            outputs.index_put_((rows[:, None], torch.arange(longest, device=rows.device)[None, :]), group)
        assert outputs is not None  # a batch has rows
        return outputs


def run_cell(cell: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """A recurrent cell's outputs. A batch of one sentence is trained beside a row of zeros: the LSTM's backward
    pass over a single row (oneDNN's, a matrix-vector product) splits its sums by the thread count, so a
    one-sentence document batch made the same seed train different models on 1 and 2 threads; its forward pass,
    and every batch of two or more, does not."""
    if inputs.shape[0] == 1 and torch.is_grad_enabled():
        return cell(torch.cat([inputs, torch.zeros_like(inputs)]))[0][:1]
    return cell(inputs)[0]


def reversal_index(mask: torch.Tensor) -> torch.Tensor:
    """Flat positions (batch_size * seq_len,) that reverse each row's real words and leave its padding in place."""
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # (batch_size, seq_len)
    lengths = mask.sum(dim=1, keepdim=True)  # (batch_size, 1)
    reversed_positions = torch.where(positions < lengths, lengths - 1 - positions, positions)
    row_starts = torch.arange(0, mask.numel(), mask.shape[1], device=mask.device).unsqueeze(1)  # (batch_size, 1)
    return (reversed_positions + row_starts).reshape(-1)


def reorder(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The rows of ``values`` (batch_size, seq_len, dim) in the flat order ``index``; whole rows are
    copied, which is much faster than ``gather`` with an index expanded over ``dim``."""
    return values.reshape(-1, values.shape[2])[index].reshape(values.shape)


def pool_by_index(hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """For each position, the mean of ``hidden`` over all positions sharing its ``index`` (batch-wide).

    The same word elsewhere in the document often sits in a clearer context ("Clinton said" vs
    "President Bill Clinton"); pooling lets every mention see them all (Akbik et al. 2019, pooled embeddings).
    """
    # Sums and counts in fp32 whatever the states' precision: in bf16, 256 + 1 rounds back to 256, which made the
    # mean of a word seen 2,000 times in a document 11.6 instead of 1.49.
    flat_hidden = hidden.reshape(-1, hidden.shape[-1]).float()  # (positions, dim)
    flat_index = index.reshape(-1)  # (positions,)
    size = flat_index.shape[0] + 1  # a bound on the ids that needs no device-to-host read of index.max()
    sums = flat_hidden.new_zeros(size, hidden.shape[-1]).index_add_(0, flat_index, flat_hidden)  # (size, dim)
    counts = flat_hidden.new_zeros(size).index_add_(0, flat_index, flat_hidden.new_ones(flat_index.shape[0]))
    means = (sums / counts.clamp(min=1).unsqueeze(1)).to(hidden.dtype)  # (size, dim)
    return gather_rows(means, index)  # (batch_size, seq_len, dim)


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is an error, not a silent fallback."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"{setting('device', 'cuda')}: no CUDA device is available (torch.cuda.is_available() "
            f"is False); use {setting('device', 'cpu')} or auto"
        )
    return torch.device(device)


QUANTIZE_MODES = ("auto", "none", "int8", "bf16")


def quantize(model: BiLSTMTagger, mode: str) -> BiLSTMTagger:
    """The model for tagging in ``mode``: none (fp32, as trained); int8: dynamic quantisation of the recurrent and
    linear layers (CPU); bf16: weights and activations in bfloat16 (fast on CPUs with bf16 instructions, such as
    AVX-512 BF16 or AMX, and on GPUs). auto is none or bf16, as ``tagger.precision.tagging_mode`` decides first."""
    if mode == "bf16":
        return model.to(torch.bfloat16)
    if mode == "int8":
        if next(model.parameters()).device.type != "cpu":
            raise ConfigError(
                f"{setting('quantize', 'int8')} runs on the CPU only; use {setting('device', 'cpu')}, or "
                f"{setting('quantize', 'bf16')} on a GPU"
            )
        with warnings.catch_warnings():  # torch's notice that eager quantisation is moving to torchao
            warnings.simplefilter("ignore")
            return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
    if mode not in ("auto", "none"):  # auto: left as trained when nothing resolved it
        raise ConfigError(f"{setting('quantize', repr(mode))}: expected one of {', '.join(QUANTIZE_MODES)}")
    return model


def build_model(config: ModelConfig, vocab: Vocab, weights: Mapping[str, torch.Tensor] | None = None) -> BiLSTMTagger:
    """The model for a vocabulary; its CRF may only use the transitions the labels' scheme allows. ``weights``:
    the saved weights it is built to load, from which a feature may take what its module holds (character LMs)."""
    if config.context_between_layers and not config.document_context:
        raise ConfigError("model.context_between_layers needs model.document_context = true")
    if config.charlm_document and not (config.charlm and config.document_context):
        # tagging batches whole documents only for a model with document context
        raise ConfigError("model.charlm_document needs model.charlm and model.document_context = true")
    if config.context_between_layers and config.layers < 2:
        raise ConfigError("model.context_between_layers needs model.layers = 2 or more (there is no layer between)")
    transitions = TransitionMask(vocab.labels, vocab.scheme) if config.head == "crf" else None
    return BiLSTMTagger(config, build_features(config, vocab, weights), len(vocab.labels), transitions)
