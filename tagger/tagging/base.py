"""What a tagger does around its network, whatever runs the network: pieces of long sentences, documents, label
ids -> tags in a scheme, ``TaggedSentence`` records, raw text, scoring. ``Tagger`` (PyTorch, ``torch_tagger``)
has the same methods with the same behaviour; ``PortableTagger`` (onnxruntime) gets them from here, torch-free.
A subclass provides ``predict_batch`` and ``distributions_batch``: its network over one batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from tagger.config import Config
from tagger.corpus import Sentence, document_ids
from tagger.errors import CorpusFormatError
from tagger.evaluation import Evaluation, evaluate_tags
from tagger.ordering import MAX_PADDING, bucketed_batches, document_batches, split_long
from tagger.outputs import TaggedSentence
from tagger.outputs.tagged import Offsets
from tagger.runtime import collector_paused
from tagger.schemes import NO_SCHEME, Task, convert_tags, per_tag_conversion, repair_tags, split_tag
from tagger.tokenize import load_tokenizer, raw_text_sentences, text_paragraphs
from tagger.vocab import Vocab

Result = TypeVar("Result")


class TaggerBase(ABC):
    # Batches tagged at once, each in its own thread on one of the network's threads (the thread policy sets it):
    # their Python (encoding, decoding) then overlaps the others' kernels, which one batch on every thread cannot.
    batch_workers: int = 1
    vocab: Vocab
    config: Config
    metrics: dict[str, Any]
    device: Any  # where the network runs: a torch.device (Tagger), "cpu" or "cuda" (onnxruntime's)
    quantize: str  # the precision it was loaded in, as Tagger.load names it: none, int8 or bf16

    def __init__(self, vocab: Vocab, config: Config, metrics: dict[str, Any] | None = None):
        self.vocab, self.config, self.metrics = vocab, config, metrics or {}
        self._tokenizers: dict[tuple[str, str | None], Any] = {}
        self._per_tag: dict[str, list[str] | None] = {}  # output scheme -> label id's tag, when per-tag

    @property
    def runtime(self) -> str:
        """What runs the network and in which precision, for speed tables: "PyTorch fp32", "onnxruntime int8", ..."""
        return f"{self.runtime_name} {'fp32' if self.quantize == 'none' else self.quantize}"

    runtime_name = "PyTorch"

    @property
    def document_context(self) -> bool:
        return self.config.model.document_context

    def predict(
        self,
        sentences: Sequence[Sequence[str]],
        batch_size: int | None = None,
        documents: Sequence[int] | None = None,
        scores: bool = True,
    ) -> list[tuple[list[int], list[float]]]:
        """Label ids and their probabilities, sentence by sentence, batched by length (or by document).

        Without ``scores`` the probabilities are left empty: a CRF's marginals cost a third of its tagging time.
        """
        results: list[tuple[list[int], list[float]]] = [([], [])] * len(sentences)
        documents = documents or [0] * len(sentences)
        batches = list(self.batch_order(sentences, batch_size, documents))

        def predict_one(chosen: list[int]) -> tuple[list[list[int]], list[list[float]] | None]:
            return self.predict_batch([sentences[i] for i in chosen], [documents[i] for i in chosen], scores)

        for chosen, (best, probabilities) in zip(batches, self.map_batches(predict_one, batches)):
            for row, i in enumerate(chosen):
                n = len(sentences[i])
                results[i] = (best[row][:n], probabilities[row][:n] if scores and probabilities is not None else [])
        return results

    def predict_distributions(
        self, sentences: Sequence[Sequence[str]], batch_size: int | None = None, documents: Sequence[int] | None = None
    ) -> list[tuple[list[int], np.ndarray]]:
        """Label ids and, beside them, every label's probability at each word, ``(len(sentence), num_labels)``,
        sentence by sentence, batched as ``predict`` batches them."""
        num_labels = len(self.vocab.labels)
        empty: tuple[list[int], np.ndarray] = ([], np.zeros((0, num_labels), dtype=np.float32))
        results = [empty] * len(sentences)
        documents = documents or [0] * len(sentences)
        batches = list(self.batch_order(sentences, batch_size, documents))

        def distributions_one(chosen: list[int]) -> tuple[np.ndarray, np.ndarray]:
            return self.distributions_batch([sentences[i] for i in chosen], [documents[i] for i in chosen])

        for chosen, (best, distributions) in zip(batches, self.map_batches(distributions_one, batches)):
            for row, i in enumerate(chosen):
                n = len(sentences[i])
                results[i] = (best[row, :n].tolist(), distributions[row, :n])
        return results

    def map_batches(self, work: Callable[[list[int]], Result], batches: list[list[int]]) -> list[Result]:
        """``work`` on each batch, the results in the batches' order: in turn, or ``batch_workers`` at once."""
        self.claim_threads()
        workers = min(self.batch_workers, len(batches))
        if workers <= 1:
            return [work(chosen) for chosen in batches]
        with ThreadPoolExecutor(workers, thread_name_prefix="tagger-batch") as pool:
            return list(pool.map(work, batches))

    def claim_threads(self) -> None:  # noqa: B027 (a hook: a runtime whose thread count is per session has none)
        """Before a call's batches: set the process-wide thread count this tagger was loaded with, which another
        tagger loaded in the same process since may have changed (PyTorch's count is one for the whole process)."""

    @property
    def default_batch_size(self) -> int:
        """Sentences per batch when a caller names no size: PyTorch tags fastest in large batches (eng.testb on
        two cores: 91,380 words/s at 256 against 79,494 at 64); ``PortableTagger`` says its own."""
        return 256

    def batch_size_for(self, batch_size: int | None) -> int:
        """The sentences per batch a call asking for ``batch_size`` gets: that, or None for ``default_batch_size``."""
        return self.default_batch_size if batch_size is None else batch_size

    def batch_order(
        self, sentences: Sequence[Sequence[str]], batch_size: int | None, documents: Sequence[int]
    ) -> Iterator[list[int]]:
        """The non-empty sentences' indices, a batch at a time (``batch_size`` sentences, or documents of that
        many; None: the runtime's ``default_batch_size``): by document for a model with document context, else in
        length buckets."""
        batch_size = self.batch_size_for(batch_size)
        nonempty = [i for i, s in enumerate(sentences) if len(s)]
        if self.document_context:
            order = document_batches([documents[i] for i in nonempty], batch_size, shuffle=False)
        else:
            order = bucketed_batches(
                [len(sentences[i]) for i in nonempty], batch_size, shuffle=False, max_padding=MAX_PADDING
            )
        for indices in order:
            yield [nonempty[i] for i in indices]

    @abstractmethod
    def predict_batch(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int], scores: bool
    ) -> tuple[list[list[int]], list[list[float]] | None]:
        """The network over one batch of non-empty sentences: label ids per padded row and, with ``scores``,
        their probabilities (None without)."""

    @abstractmethod
    def distributions_batch(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The network over one batch of non-empty sentences: label ids per padded row (batch_size, seq_len) and
        every label's probability at each word (batch_size, seq_len, num_labels), a CRF's posterior marginals or
        the softmax."""

    @property
    def task(self) -> Task:
        return self.vocab.task

    @property
    def output_labels(self) -> list[str]:
        """The tags this model emits in IOB2 (span tasks) or as trained (label tasks)."""
        if self.task == "labels":
            return list(self.vocab.labels)
        types = sorted({split_tag(t)[1] for t in self.vocab.labels} - {""})
        return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in "BI"]

    def tag(
        self,
        sentences: Sequence[Sequence[str]],
        scores: bool = False,
        scheme: str = "IOB2",
        batch_size: int | None = None,
        documents: Sequence[int] | None = None,
    ) -> list[list[str]] | list[list[tuple[str, float]]]:
        """Tags for each sentence (a list of words); with ``scores``, (tag, probability) pairs. ``documents``
        numbers the document of each sentence for models trained with document context; without it the
        sentences are taken as one document."""
        tagged = self.tag_sentences(
            [Sentence(list(words), []) for words in sentences],
            scores,
            scheme,
            batch_size,
            documents or [0] * len(sentences),
        )
        if scores:
            return [list(zip(t.tags, t.scores or [])) for t in tagged]
        return [t.tags for t in tagged]

    def tag_sentences(
        self,
        sentences: Sequence[Sentence],
        scores: bool = False,
        scheme: str = "IOB2",
        batch_size: int | None = None,
        documents: Sequence[int] | None = None,
        offsets: Sequence[Offsets | None] | None = None,
    ) -> list[TaggedSentence]:
        """Each sentence with the model's predictions: tags in ``scheme`` (span tasks; word labels as trained),
        with ``scores`` each tag's probability, and each word's ``offsets`` in its text when given (raw text).
        ``documents``: by default the documents the sentences mark (``-DOCSTART-``, ``# newdoc``)."""
        with collector_paused():
            pieces, owners = split_long([s.words for s in sentences])
            documents = document_ids(sentences) if documents is None else documents
            piece_documents = [documents[index] for index, owned in enumerate(owners) for _ in owned]
            predicted = self.predict(pieces, batch_size, piece_documents, scores)
            return self.tagged_sentences(sentences, owners, predicted, scheme, offsets)

    def tag_distributions(
        self,
        sentences: Sequence[Sentence],
        scheme: str = "IOB2",
        batch_size: int | None = None,
        documents: Sequence[int] | None = None,
        offsets: Sequence[Offsets | None] | None = None,
    ) -> list[tuple[TaggedSentence, np.ndarray]]:
        """``tag_sentences`` with each tag's probability, and beside each sentence the probability of every label
        of the model (``vocab.labels``, in its training scheme) at each of its words, ``(len(words),
        num_labels)``: what tells how unsure the model is (``tagger.selection``)."""
        with collector_paused():
            pieces, owners = split_long([s.words for s in sentences])
            documents = document_ids(sentences) if documents is None else documents
            piece_documents = [documents[index] for index, owned in enumerate(owners) for _ in owned]
            predicted = self.predict_distributions(pieces, batch_size, piece_documents)
            best = [
                (ids, dist[np.arange(len(ids)), np.asarray(ids, dtype=np.int64)].tolist()) for ids, dist in predicted
            ]
            tagged = self.tagged_sentences(sentences, owners, best, scheme, offsets)
            return [(item, np.concatenate([predicted[p][1] for p in owned])) for item, owned in zip(tagged, owners)]

    def tagged_sentences(
        self,
        sentences: Sequence[Sentence],
        owners: list[list[int]],
        predicted: list[tuple[list[int], list[float]]],
        scheme: str,
        offsets: Sequence[Offsets | None] | None,
    ) -> list[TaggedSentence]:
        """The records of sentences whose pieces (``owners``, from ``split_long``) were predicted."""
        offsets = offsets or [None] * len(sentences)
        tag_scheme = scheme if self.task == "spans" else NO_SCHEME
        results = []
        for sentence, owned, spans in zip(sentences, owners, offsets):
            label_ids = [i for p in owned for i in predicted[p][0]]
            tags = self.ids_to_tags(label_ids, scheme, rejoined=len(owned) > 1)
            probabilities = [x for p in owned for x in predicted[p][1]]
            results.append(TaggedSentence(sentence, tags, probabilities, spans, tag_scheme))
        return results

    def ids_to_tags(self, label_ids: list[int], scheme: str, rejoined: bool) -> list[str]:
        """Decoding obeys the scheme, so a sequence is valid and usually converts tag by tag; one rejoined from
        pieces may cut an entity in two and is repaired first."""
        if self.task == "labels":
            return [self.vocab.labels[i] for i in label_ids]
        if scheme not in self._per_tag:
            self._per_tag[scheme] = per_tag_conversion(self.vocab.labels, self.vocab.scheme, scheme)
        conversion = self._per_tag[scheme]
        if conversion is not None and not rejoined:
            return [conversion[i] for i in label_ids]
        tags = [self.vocab.labels[i] for i in label_ids]
        if rejoined:
            tags, _ = repair_tags(tags, self.vocab.scheme)
        return convert_tags(tags, self.vocab.scheme, scheme)

    def tag_text(
        self, text: str, lang: str = "en", pipeline: str | None = None, scheme: str = "IOB2"
    ) -> list[TaggedSentence]:
        """Split raw text into sentences and words with spaCy, then tag each sentence."""
        return self.tag_texts([text], lang, pipeline, scheme)[0]

    def tag_texts(
        self,
        texts: Iterable[str],
        lang: str = "en",
        pipeline: str | None = None,
        scheme: str = "IOB2",
        batch_size: int | None = None,
        scores: bool = True,
    ) -> list[list[TaggedSentence]]:
        """``tag_text`` for many texts at once, each paragraph a document, offsets into each text kept; without
        ``scores`` the probabilities are left empty (a CRF's marginals cost a third of its time)."""
        if (lang, pipeline) not in self._tokenizers:
            self._tokenizers[(lang, pipeline)] = load_tokenizer(lang, pipeline)
        texts = list(texts)
        owners: list[int] = []  # the text of each paragraph

        def paragraphs() -> Iterator[tuple[int, str]]:
            for index, text in enumerate(texts):
                for block in text_paragraphs(text):
                    owners.append(index)
                    yield block

        with collector_paused():  # spaCy's tokens, like tagging's, are many objects and no cycles
            read = list(raw_text_sentences(paragraphs(), self._tokenizers[(lang, pipeline)]))
        tagged = self.tag_sentences(
            [s for _, s, _ in read], scores, scheme, batch_size, [n for n, _, _ in read], [o for _, _, o in read]
        )
        results: list[list[TaggedSentence]] = [[] for _ in texts]
        for (number, _, _), sentence in zip(read, tagged):
            results[owners[number]].append(sentence)
        return results

    def evaluate(
        self, sentences: Sequence[Sentence], batch_size: int | None = None
    ) -> tuple[Evaluation, list[list[str]]]:
        """Score the model on gold sentences (tags in IOB2 for span tasks); returns the scores and predictions."""
        self.check_known_tags(sentences)
        predictions = [tagged.tags for tagged in self.tag_sentences(sentences, batch_size=batch_size)]
        return evaluate_tags([s.tags for s in sentences], predictions, task=self.task), predictions

    def check_known_tags(self, sentences: Sequence[Sentence]) -> None:
        known = set(self.output_labels)
        for sentence in sentences:
            for offset, tag in enumerate(sentence.tags):
                if tag not in known:
                    raise CorpusFormatError(
                        sentence.path,
                        sentence.line + offset if sentence.line else 0,
                        f"tag {tag!r} was not seen in training",
                        f"one of the model's tags: {', '.join(sorted(known))}",
                        "evaluate with data labelled like the training data",
                    )
