"""The spaCy pipeline component ``bilstm_tagger``: a trained model sets ``doc.ents``, ``token.tag_`` or ``token.pos_``.

Registered through the ``spacy_factories`` entry point, so after ``pip install`` this needs no import of ours::

    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_tagger", config={"model": "path/to/model"})

The component tags the words spaCy's tokenizer made, sentence by sentence (the doc's own sentences, or
spaCy's rule-based sentencizer's when the pipeline sets none), each doc being one document for models
with document context. ``nlp.to_disk`` copies the model directory verbatim into the pipeline and
``to_bytes`` packs the same files' bytes as msgpack: safetensors and JSON, never pickle.

``model`` may also be a directory written by ``tagger export``, which runs on onnxruntime. spaCy imports this
module whenever it makes a pipeline (``spacy.blank`` included: it loads every registered factory), so nothing here
imports torch until a PyTorch model is loaded (``tagger.tagging.loading``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy
import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline import Pipe, Sentencizer
from spacy.scorer import Scorer, get_ner_prf
from spacy.tokens import Doc, Span, SpanGroup, Token
from spacy.training import Example

from tagger.corpus import Sentence
from tagger.corpus.tagsets import not_universal_pos, spacy_attribute
from tagger.errors import ConfigError, ModelDirError
from tagger.outputs import TaggedSentence
from tagger.tagging.base import TaggerBase
from tagger.tagging.loading import read_tagger_files, tagger_from_files, write_tagger_files
from tagger.tagging.onnx_tagger import QUANTIZE_MODES

FACTORY = "bilstm_tagger"
ATTRIBUTES = ("auto", "ents", "tag", "pos")
SCORE_MODES = ("none", "attribute", "spans")
DEFAULT_CONFIG = {
    "model": "",
    "attr": "auto",
    "batch_size": None,  # sentences per batch; None: the runtime's fastest (TaggerBase.default_batch_size)
    "device": "auto",
    "overwrite": False,
    "scores": "none",
    "spans_key": FACTORY,
    "quantize": "auto",
}


@Language.factory(
    FACTORY,
    default_config=DEFAULT_CONFIG,
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "token.tag", "token.pos"],
    default_score_weights={
        "ents_f": 1.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "ents_per_type": None,
        "tag_acc": 1.0,
        "pos_acc": 1.0,
    },
)
def make_bilstm_tagger(
    nlp: Language,
    name: str,
    model: str,
    attr: str,
    batch_size: int | None,
    device: str,
    overwrite: bool,
    scores: str,
    spans_key: str,
    quantize: str,
) -> BiLSTMTaggerComponent:
    return BiLSTMTaggerComponent(
        nlp,
        name,
        model,
        attr=attr,
        batch_size=batch_size,
        device=device,
        overwrite=overwrite,
        scores=scores,
        spans_key=spans_key,
        quantize=quantize,
    )


class BiLSTMTaggerComponent(Pipe):
    """Settings as in DEFAULT_CONFIG; ``model`` is a directory written by ``tagger train`` or ``tagger export``.

    The model loads on first use, not here: ``spacy.load`` builds the component from the saved config, whose
    ``model`` path may not exist on this machine, and only then reads the copy inside the pipeline.
    """

    def __init__(
        self,
        nlp: Language,
        name: str = FACTORY,
        model: str = "",
        *,
        attr: str = "auto",
        batch_size: int | None = None,
        device: str = "auto",
        overwrite: bool = False,
        scores: str = "none",
        spans_key: str = FACTORY,
        quantize: str = "auto",
    ):
        check_choice("attr", attr, ATTRIBUTES)
        check_choice("scores", scores, SCORE_MODES)
        check_choice("quantize", quantize, QUANTIZE_MODES)
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"{FACTORY}: batch_size must be a positive number of sentences, got {batch_size}")
        self.vocab, self.name, self.model_path = nlp.vocab, name, model
        self.attr, self.batch_size, self.device = attr, batch_size, device
        self.overwrite, self.scores, self.spans_key, self.quantize = overwrite, scores, spans_key, quantize
        self._files: dict[str, bytes] | None = None
        self._tagger: TaggerBase | None = None
        self._target = ""
        self._sentencizer = Sentencizer()

    @property
    def tagger(self) -> TaggerBase:
        self._ensure_loaded()
        assert self._tagger is not None  # loaded, or _ensure_loaded raised
        return self._tagger

    @property
    def target(self) -> str:
        """What the component sets: ``ents``, ``tag`` or ``pos``."""
        self._ensure_loaded()
        return self._target

    def _ensure_loaded(self) -> None:
        if self._tagger is not None:
            return
        if not self.model_path:
            raise ConfigError(
                f"{FACTORY}: no model given; add the component with "
                f'config={{"model": "path/to/model"}} (a directory written by tagger train)'
            )
        self._use_model(read_tagger_files(self.model_path), self.model_path)

    def _use_model(self, files: dict[str, bytes], source: str | Path) -> None:
        tagger = tagger_from_files(files, source, self.device, self.quantize)
        self._target = resolve_attribute(self.attr, tagger, str(source))
        if self.scores == "spans" and self._target != "ents":
            raise ConfigError(
                f"{FACTORY}: scores='spans' stores entity scores, but {source} tags {self._target}; "
                "use scores='attribute' for token._.score"
            )
        register_score_extensions()
        self._files, self._tagger = files, tagger

    def __call__(self, doc: Doc) -> Doc:
        self.annotate([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Tag ``batch_size`` docs at a time: their sentences are batched together, by length or by document."""
        error_handler = self.get_error_handler()
        for docs in util.minibatch(stream, size=batch_size):
            try:
                self.annotate(docs)
            except Exception as error:  # spaCy's error handler decides: re-raise (default) or skip the batch
                error_handler(self.name, self, docs, error)
            yield from docs

    def annotate(self, docs: Sequence[Doc]) -> None:
        sentences = [
            (number, ids) for number, doc in enumerate(docs) for ids in sentence_token_ids(doc, self._sentencizer)
        ]
        words = [Sentence([docs[number][i].text for i in ids], []) for number, ids in sentences]
        tagged = self.tagger.tag_sentences(
            words,
            scores=self.scores != "none",  # a CRF's cost a third of its time
            batch_size=self.batch_size,
            documents=[number for number, _ in sentences],
        )
        by_doc: list[list[tuple[list[int], TaggedSentence]]] = [[] for _ in docs]
        for (number, ids), predicted in zip(sentences, tagged):
            by_doc[number].append((ids, predicted))
        for doc, mine in zip(docs, by_doc):
            if self.target == "ents":
                self.set_entities(doc, mine)
            else:
                self.set_token_tags(doc, mine)

    def set_entities(self, doc: Doc, sentences: list[tuple[list[int], TaggedSentence]]) -> None:
        found = [
            (Span(doc, ids[start], ids[end - 1] + 1, label=label), tagged.span_score(start, end))
            for ids, tagged in sentences
            for label, start, end in tagged.spans()
        ]
        existing = [] if self.overwrite else list(doc.ents)
        taken = {i for span in existing for i in range(span.start, span.end)}
        kept = [(span, score) for span, score in found if taken.isdisjoint(range(span.start, span.end))]
        doc.ents = existing + [span for span, _ in kept]
        if self.scores == "attribute":
            for span, score in kept:
                span._.score = score
        elif self.scores == "spans":
            doc.spans[self.spans_key] = SpanGroup(
                doc,
                name=self.spans_key,
                spans=[span for span, _ in found],
                attrs={"scores": numpy.array([s for _, s in found], dtype="float32")},
            )

    def set_token_tags(self, doc: Doc, sentences: list[tuple[list[int], TaggedSentence]]) -> None:
        attribute = "pos_" if self.target == "pos" else "tag_"
        for ids, tagged in sentences:
            for i, (_, tag, probability) in zip(ids, tagged.rows()):
                token = doc[i]
                if self.overwrite or not getattr(token, attribute):
                    setattr(token, attribute, tag)
                    if self.scores == "attribute":
                        token._.score = probability

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """``ents_p/r/f`` and ``ents_per_type``, or ``tag_acc`` / ``pos_acc``, as spaCy's own components report them."""
        if self.target == "ents":
            return get_ner_prf(examples, **kwargs)
        return Scorer.score_token_attr(examples, self.target, **kwargs)

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        self._ensure_loaded()
        assert self._files is not None  # loaded, or _ensure_loaded raised
        write_tagger_files(Path(path), self._files)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> BiLSTMTaggerComponent:
        self._use_model(read_tagger_files(path), path)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        self._ensure_loaded()
        return srsly.msgpack_dumps({"files": self._files})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> BiLSTMTaggerComponent:
        source = f"<{self.name} bytes>"
        try:  # object_pairs_hook bypasses srsly's extension decoders: plain maps, strings and bytes only
            files = srsly.msgpack.loads(data, raw=False, object_pairs_hook=dict).get("files")
        except (ValueError, TypeError, AttributeError) as error:
            raise ModelDirError(
                source, f"not a {FACTORY} component's bytes ({error})", "pass what to_bytes returned"
            ) from None
        if not isinstance(files, dict):
            raise ModelDirError(source, "holds no model files", "pass what to_bytes returned")
        self._use_model(files, source)
        return self


def check_choice(setting: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{FACTORY}: {setting}={value!r} is not one of {', '.join(choices)}")


def resolve_attribute(attr: str, tagger: TaggerBase, source: str) -> str:
    """The attribute the model's tags go to: ``auto`` chooses from the labels; an explicit choice is checked."""
    natural = spacy_attribute(tagger.output_labels, tagger.task)
    if attr == "auto" or attr == natural:
        return natural
    if natural == "ents" or attr == "ents":
        raise ConfigError(
            f"{FACTORY}: {source} is a {'NER' if natural == 'ents' else 'POS'} model; "
            f"it cannot set {attr}; use attr={natural!r} or 'auto'"
        )
    if attr == "pos":
        unknown = not_universal_pos(tagger.output_labels)
        raise ConfigError(
            f"{FACTORY}: {source} has tags that are not Universal POS tags ({', '.join(unknown[:8])}); "
            "token.pos_ takes only UPOS: use attr='tag'"
        )
    return attr  # UPOS labels may go to token.tag_ too


def sentence_token_ids(doc: Doc, sentencizer: Sentencizer) -> list[list[int]]:
    """Token indices of each sentence, whitespace tokens left out (the model never saw them)."""
    if doc.has_annotation("SENT_START"):
        starts = [token.is_sent_start for token in doc]
    else:
        starts = sentencizer.predict([doc])[0]  # boundaries only; the doc itself is left unsentenced
    sentences: list[list[int]] = []
    for token, start in zip(doc, starts):
        if start or not sentences:
            sentences.append([])
        if not token.is_space:
            sentences[-1].append(token.i)
    return [ids for ids in sentences if ids]


def register_score_extensions() -> None:
    """``span._.score`` and ``token._.score``, unless another package registered them first."""
    for kind in (Span, Token):
        if not kind.has_extension("score"):
            kind.set_extension("score", default=None)
