"""Tagger: the public inference API. Every caller (CLI, training's dev scoring, spaCy) tags through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from tagger.batching import bucketed_batches, build_batch, document_batches, encode_sentences
from tagger.config import Config
from tagger.corpus import Sentence, document_ids
from tagger.decoding import TransitionMask, decode_argmax, decode_constrained
from tagger.errors import CorpusFormatError
from tagger.model import BiLSTMTagger, resolve_device
from tagger.model import quantize as quantize_model
from tagger.schemes import convert_tags, per_tag_conversion, repair_tags, split_tag, tags_to_spans
from tagger.scoring import Evaluation, evaluate_tags
from tagger.serialization import load_model_files, read_model_files
from tagger.tokenize import Token, load_tokenizer, split_texts
from tagger.vocab import Vocab

MAX_PADDING = 0.1  # tagging batches end early rather than be padded beyond 10% of their words (bucketed_batches)
MAX_WORDS = 1000  # longer sentences are tagged in pieces and rejoined, keeping memory bounded


@dataclass(frozen=True)
class TaggedText:
    """A raw-text sentence: words with character offsets, tags, and entity spans over the text."""

    tokens: list[Token]
    tags: list[str]
    scores: list[float]
    scheme: str = "IOB2"  # of ``tags``; "none" for labels such as POS, which have no entities

    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]

    def entities(self) -> list[dict[str, Any]]:
        if self.scheme == "none":
            return []
        return [
            {"label": kind, "start": self.tokens[start].start, "end": self.tokens[end - 1].end,
             "start_word": start, "end_word": end}
            for kind, start, end in tags_to_spans(convert_tags(self.tags, self.scheme, "IOB2"), "IOB2")
        ]


class Tagger:
    def __init__(self, model: BiLSTMTagger, vocab: Vocab, config: Config, device: str | torch.device = "cpu",
                 metrics: dict[str, Any] | None = None, quantize: str = "none"):
        self.device = resolve_device(device)
        self.quantize = quantize
        self.features = [feature.to(self.device) for feature in model.features]
        self.model = quantize_model(model.to(self.device).eval(), quantize)
        self.vocab, self.config, self.metrics = vocab, config, metrics or {}
        self.transitions = TransitionMask(vocab.labels, vocab.scheme).to(self.device) if vocab.task == "spans" else None
        self._tokenizers: dict[tuple[str, str | None], Any] = {}
        self._per_tag: dict[str, list[str] | None] = {}  # output scheme -> label id's tag, when per-tag

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto", quantize: str = "none") -> "Tagger":
        """``quantize``: none (fp32, as trained), int8 (CPU) or bf16; see ``tagger.model.quantize``."""
        return cls.from_files(read_model_files(directory), directory, device, quantize)

    @classmethod
    def from_files(cls, files: dict[str, bytes], source: str | Path, device: str = "auto",
                   quantize: str = "none") -> "Tagger":
        """A tagger from the bytes of a model directory's files; ``source`` names them in errors."""
        loaded = load_model_files(files, source)
        return cls(loaded.model, loaded.vocab, loaded.config, device, loaded.metrics, quantize)

    @property
    def task(self) -> str:
        return self.vocab.task

    @property
    def output_labels(self) -> list[str]:
        """The tags this model emits in IOB2 (span tasks) or as trained (label tasks)."""
        if self.task == "labels":
            return list(self.vocab.labels)
        types = sorted({split_tag(t)[1] for t in self.vocab.labels} - {""})
        return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in "BI"]

    def tag(self, sentences: Sequence[Sequence[str]], scores: bool = False, scheme: str = "IOB2",
            batch_size: int = 256, documents: Sequence[int] | None = None
            ) -> list[list[str]] | list[list[tuple[str, float]]]:
        """Tags for each sentence (a list of words); with ``scores``, (tag, probability) pairs.

        ``documents`` numbers the document of each sentence (in order) for models trained with document
        context; without it the sentences are taken as one document.
        """
        pieces, owners = split_long(sentences)
        documents = documents or [0] * len(sentences)
        piece_documents = [documents[index] for index, owned in enumerate(owners) for _ in owned]
        predicted = self.predict(pieces, batch_size, piece_documents, scores)
        results = []
        for owned in owners:
            label_ids = [i for p in owned for i in predicted[p][0]]
            tags = self.ids_to_tags(label_ids, scheme, rejoined=len(owned) > 1)
            results.append(list(zip(tags, [x for p in owned for x in predicted[p][1]])) if scores else tags)
        return results

    def ids_to_tags(self, label_ids: list[int], scheme: str, rejoined: bool) -> list[str]:
        """Decoding obeys the scheme, so a sequence is valid and usually converts tag by tag; one
        rejoined from pieces may cut an entity in two and is repaired first."""
        if self.task == "labels":
            return [self.vocab.labels[i] for i in label_ids]
        if scheme not in self._per_tag:
            self._per_tag[scheme] = per_tag_conversion(self.vocab.labels, self.vocab.scheme, scheme)
        if self._per_tag[scheme] is not None and not rejoined:
            return [self._per_tag[scheme][i] for i in label_ids]
        tags = [self.vocab.labels[i] for i in label_ids]
        if rejoined:
            tags, _ = repair_tags(tags, self.vocab.scheme)
        return convert_tags(tags, self.vocab.scheme, scheme)

    @torch.inference_mode()
    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = 256, documents: Sequence[int] | None = None,
                scores: bool = True) -> list[tuple[list[int], list[float]]]:
        """Label ids and their probabilities, sentence by sentence, batched by length (or by document).

        Without ``scores`` the probabilities are left empty: a CRF's marginals cost a third of its tagging time.
        """
        results: list[tuple[list[int], list[float]]] = [([], [])] * len(sentences)
        documents = documents or [0] * len(sentences)
        nonempty = [i for i, s in enumerate(sentences) if len(s)]
        context = self.model.config.document_context
        if context:
            order = document_batches([documents[i] for i in nonempty], batch_size, shuffle=False)
        else:
            order = bucketed_batches([len(sentences[i]) for i in nonempty], batch_size, shuffle=False,
                                     max_padding=MAX_PADDING)
        for indices in order:
            chosen = [nonempty[i] for i in indices]
            encoded = encode_sentences([sentences[i] for i in chosen], self.features, self.vocab,
                                       documents=[documents[i] for i in chosen])
            batch = build_batch(encoded, self.features, context).to(self.device)
            best, best_probs = self.decode(self.model(batch).float(), batch.mask, scores)  # (batch_size, seq_len)
            best = best.cpu().tolist()
            best_probs = best_probs.cpu().tolist() if scores else [[]] * len(chosen)
            for row, i in enumerate(chosen):
                n = len(sentences[i])
                results[i] = (best[row][:n], best_probs[row][:n])
        return results

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor, scores: bool = True
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

    def tag_text(self, text: str, lang: str = "en", pipeline: str | None = None, scheme: str = "IOB2") -> list[TaggedText]:
        """Split raw text into sentences and words with spaCy, then tag each sentence."""
        return self.tag_texts([text], lang, pipeline, scheme)[0]

    def tag_texts(self, texts: Iterable[str], lang: str = "en", pipeline: str | None = None, scheme: str = "IOB2",
                  batch_size: int = 256) -> list[list[TaggedText]]:
        """``tag_text`` for many texts at once; spaCy's ``blank(lang)``, or the installed ``pipeline``."""
        if (lang, pipeline) not in self._tokenizers:
            self._tokenizers[(lang, pipeline)] = load_tokenizer(lang, pipeline)
        documents = list(split_texts(texts, self._tokenizers[(lang, pipeline)]))
        words = [[t.text for t in s] for document in documents for s in document]
        numbers = [n for n, document in enumerate(documents) for _ in document]
        tagged = iter(self.tag(words, scores=True, scheme=scheme, batch_size=batch_size, documents=numbers))
        results = []
        for document in documents:
            pairs = [next(tagged) for _ in document]
            results.append([TaggedText(tokens, [t for t, _ in tags], [p for _, p in tags],
                                       scheme if self.task == "spans" else "none")
                            for tokens, tags in zip(document, pairs)])
        return results

    def evaluate(self, sentences: Sequence[Sentence], batch_size: int = 256) -> tuple[Evaluation, list[list[str]]]:
        """Score the model on gold sentences (tags in IOB2 for span tasks); returns the scores and predictions."""
        self.check_known_tags(sentences)
        words = [s.words for s in sentences]
        predictions = self.tag(words, batch_size=batch_size, documents=document_ids(sentences))
        return evaluate_tags([s.tags for s in sentences], predictions, task=self.task), predictions

    def check_known_tags(self, sentences: Sequence[Sentence]) -> None:
        known = set(self.output_labels)
        for sentence in sentences:
            for offset, tag in enumerate(sentence.tags):
                if tag not in known:
                    raise CorpusFormatError(
                        sentence.path, sentence.line + offset if sentence.line else 0, f"tag {tag!r} was not seen in training",
                        f"one of the model's tags: {', '.join(sorted(known))}",
                        "evaluate with data labelled like the training data")


def split_long(sentences: Sequence[Sequence[str]]) -> tuple[list[Sequence[str]], list[list[int]]]:
    """Cut sentences longer than MAX_WORDS; ``owners[i]`` lists the pieces of sentence i in order."""
    pieces: list[Sequence[str]] = []
    owners: list[list[int]] = []
    for sentence in sentences:
        starts = range(0, max(len(sentence), 1), MAX_WORDS)
        owners.append(list(range(len(pieces), len(pieces) + len(starts))))
        pieces.extend(sentence[s: s + MAX_WORDS] for s in starts)
    return pieces, owners
