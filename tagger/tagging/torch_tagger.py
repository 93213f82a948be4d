"""``Tagger``: a trained model directory tagged on PyTorch, the public inference API. Every caller (CLI, training's
dev scoring, spaCy) tags through ``Tagger`` or its onnxruntime twin ``PortableTagger``, and gets its predictions as
``TaggedSentence`` records (``tag`` keeps plain lists of tags for pre-tokenised words). ``Tagger.load`` takes the one
runtime choice (``tagging.runtime_choice``), so an export given to it runs on onnxruntime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagger.batching import build_batch, encode_sentences
from tagger.config import Config
from tagger.decoding import TransitionMask, decode_argmax, decode_constrained
from tagger.model import BiLSTMTagger, resolve_device
from tagger.model import quantize as quantize_model
from tagger.precision import tagging_mode
from tagger.runtime import set_runtime_defaults
from tagger.serialization import load_model_files, read_model_files
from tagger.tagging.base import TaggerBase
from tagger.tagging.runtime_choice import load_on_its_runtime
from tagger.threads import set_tagging_threads
from tagger.vocab import Vocab


class Tagger(TaggerBase):
    """The PyTorch tagger: runs the network (``predict``, ``decode``); everything around it is ``TaggerBase``'s,
    shared with the onnxruntime ``PortableTagger``."""

    def __init__(
        self,
        model: BiLSTMTagger,
        vocab: Vocab,
        config: Config,
        device: str | torch.device = "cpu",
        metrics: dict[str, Any] | None = None,
        quantize: str = "auto",
    ):
        self.device = resolve_device(device)
        self.features = [feature.to(self.device) for feature in model.features]
        self.quantize = tagging_mode(quantize, self.device, any(f.frozen_network for f in self.features))
        for feature in self.features:  # shared with the model: the last tagger built on it sets them
            feature.set_precision(torch.bfloat16 if self.quantize == "bf16" else torch.float32)
        self.model = quantize_model(model.to(self.device).eval(), self.quantize)
        super().__init__(vocab, config, metrics)
        self.transitions = TransitionMask(vocab.labels, vocab.scheme).to(self.device) if vocab.task == "spans" else None
        self.threads: int | None = None  # torch's count for this tagger's batches (from_files); None: leave it

    @classmethod
    def load(
        cls, directory: str | Path, device: str = "auto", quantize: str = "auto", threads: int | None = None
    ) -> TaggerBase:
        """``quantize``: auto (bf16 for a model with character LMs or contextual features on a CPU with native bf16,
        else fp32: ``tagger.precision.tagging_mode``), none (fp32, as trained), int8 (CPU) or bf16; see
        ``tagger.model.quantize``.

        ``threads``: torch's threads on the CPU, one batch at a time. By default (unless OMP_NUM_THREADS sets the
        count) as many batches at once as this process has CPUs, each on one thread, which gives one thread's bits
        whatever the number of cores (``tagger.threads.set_tagging_threads``, the thread policy).

        A directory written by ``tagger export`` is run by onnxruntime instead: a ``PortableTagger``, with the
        same methods, in its export's precision, with the same thread policy. So is a model directory that carries
        its own export (training writes one: ``tagger.export.carried``) where ``quantize`` is auto on a CPU with
        onnxruntime installed; ``quantize="none"`` is always PyTorch in fp32. ``tagging.runtime_choice`` decides,
        as it does for ``load_tagger``.
        """
        set_runtime_defaults()  # before the model's first kernel, as the command line does
        return load_on_its_runtime(directory, device, quantize, threads, cls.from_directory, torch.cuda.is_available)

    @classmethod
    def from_directory(
        cls, directory: str | Path, device: str = "auto", quantize: str = "auto", threads: int | None = None
    ) -> Tagger:
        """A model directory (not an export: ``load`` takes either) on PyTorch; arguments as in ``load``."""
        return cls.from_files(read_model_files(directory), directory, device, quantize, threads)

    @classmethod
    def from_files(
        cls,
        files: dict[str, bytes],
        source: str | Path,
        device: str = "auto",
        quantize: str = "auto",
        threads: int | None = None,
    ) -> Tagger:
        """A tagger from the bytes of a model directory's files; ``source`` names them in errors; ``threads`` as
        in ``load``."""
        set_runtime_defaults()
        loaded = load_model_files(files, source)
        tagger = cls(loaded.model, loaded.vocab, loaded.config, device, loaded.metrics, quantize)
        on_cpu = tagger.device.type == "cpu"
        tagger.batch_workers = set_tagging_threads(threads, on_cpu)
        if on_cpu:
            tagger.threads = torch.get_num_threads()
        return tagger

    def claim_threads(self) -> None:
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    @torch.inference_mode()
    def predict_batch(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int], scores: bool
    ) -> tuple[list[list[int]], list[list[float]] | None]:
        encoded = encode_sentences(sentences, self.features, self.vocab, documents=documents)
        batch = build_batch(encoded, self.features, self.document_context).to(self.device)
        best, best_probs = self.decode(self.model(batch).float(), batch.mask, scores)  # (batch_size, seq_len)
        return best.cpu().tolist(), best_probs.cpu().tolist() if scores and best_probs is not None else None

    @torch.inference_mode()
    def distributions_batch(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        encoded = encode_sentences(sentences, self.features, self.vocab, documents=documents)
        batch = build_batch(encoded, self.features, self.document_context).to(self.device)
        emissions = self.model(batch).float()  # (batch_size, seq_len, num_tags)
        best, _ = self.decode(emissions, batch.mask, scores=False)  # (batch_size, seq_len)
        if self.model.crf is not None:
            probs = self.model.crf.marginals(emissions, batch.mask)  # (batch_size, seq_len, num_tags)
        else:
            probs = torch.softmax(emissions, dim=-1)  # (batch_size, seq_len, num_tags)
        return best.cpu().numpy(), probs.cpu().numpy()

    def decode(
        self, emissions: torch.Tensor, mask: torch.Tensor, scores: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Best label ids and, with ``scores``, the probability of each (CRF: posterior marginal; softmax: its softmax)."""
        if self.model.crf is not None:
            best = self.model.crf.decode(emissions, mask)  # (batch_size, seq_len)
            if not scores:
                return best, None
            probs = self.model.crf.marginals(emissions, mask)  # (batch_size, seq_len, num_tags)
            return best, probs.gather(2, best.unsqueeze(2)).squeeze(2)
        log_probs = torch.log_softmax(emissions, dim=-1)  # (batch_size, seq_len, num_tags)
        if self.transitions is None:
            best = decode_argmax(log_probs)
        else:
            best = decode_constrained(log_probs, mask, self.transitions)
        return best, log_probs.gather(2, best.unsqueeze(2)).squeeze(2).exp()
