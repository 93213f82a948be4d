"""One micro-batch through a model, in the model's thread: the requests' texts (or sentences) tagged in as few
``Tagger`` calls as their options allow, and each request's answer encoded as the JSON body it is sent as.

Every sentence record in an answer is the line ``tagger tag --output-format jsonl`` writes for it (the same
``JsonlWriter`` on the same ``TaggedSentence``), so the service and the command line cannot drift apart."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tagger.corpus import RAW_TEXT, Sentence
from tagger.outputs import TaggedSentence, WriterOptions
from tagger.outputs.jsonl import JsonlWriter
from tagger.serve.request import TagRequest
from tagger.tagging.base import TaggerBase


@dataclass(frozen=True)
class Answer:
    body: bytes  # the JSON response
    words: int  # words tagged, for the metrics


@dataclass(frozen=True)
class Tokenizing:
    """How raw text is split: the server's settings, not the client's (a client cannot load languages)."""

    lang: str = "en"
    spacy_model: str | None = None
    batch_size: int | None = None  # sentences per model batch (``Tagger``'s batch_size; None: the runtime's)


def tag_requests(
    tagger: TaggerBase, name: str, requests: Sequence[TagRequest], tokenizing: Tokenizing
) -> list[Answer | Exception]:
    """Each request's answer, or the exception that tagging it raised. Requests that can share a ``Tagger``
    call do (same kind of input, scheme and probabilities: a request without them does not pay for them, and
    a CRF's cost a third of its time); when a shared call fails, each of its requests is tagged alone, so one
    bad request fails only itself."""
    answers: list[Answer | Exception | None] = [None] * len(requests)
    groups: dict[tuple[str, str, bool], list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault(group_key(request), []).append(index)
    for indices in groups.values():
        chosen = [requests[i] for i in indices]
        results: Sequence[list[list[TaggedSentence]] | Exception]
        try:
            results = tag_group(tagger, chosen, tokenizing)
        except Exception:  # noqa: BLE001 - retried one by one below, where the failure is kept per request
            results = [tag_alone(tagger, request, tokenizing) for request in chosen]
        for index, result in zip(indices, results):
            answers[index] = (
                result if isinstance(result, Exception) else encode_answer(tagger, name, requests[index], result)
            )
    return answers  # type: ignore[return-value]


def group_key(request: TagRequest) -> tuple[str, str, bool]:
    return "texts" if request.texts is not None else "sentences", request.scheme, request.probabilities


def tag_alone(
    tagger: TaggerBase, request: TagRequest, tokenizing: Tokenizing
) -> list[list[TaggedSentence]] | Exception:
    try:
        return tag_group(tagger, [request], tokenizing)[0]
    except Exception as error:  # noqa: BLE001 - the caller answers for this request alone
        return error


def tag_group(
    tagger: TaggerBase, requests: Sequence[TagRequest], tokenizing: Tokenizing
) -> list[list[list[TaggedSentence]]]:
    """For each request, for each of its items, the tagged sentences: a text's sentences, or the one sentence."""
    first = requests[0]
    if first.texts is not None:
        texts = [text for request in requests for text in request.texts or []]
        tagged = tagger.tag_texts(
            texts, tokenizing.lang, tokenizing.spacy_model, first.scheme, tokenizing.batch_size, first.probabilities
        )
        return split_by_request(tagged, [len(request.texts or []) for request in requests])
    # One document per request, as Tagger.tag takes a list of sentences: a model with document context reads a
    # request's sentences together and never another request's.
    sentences = [Sentence(list(words), []) for request in requests for words in request.sentences or []]
    documents = [n for n, request in enumerate(requests) for _ in request.sentences or []]
    tagged_sentences = tagger.tag_sentences(
        sentences, first.probabilities, first.scheme, tokenizing.batch_size, documents
    )
    return split_by_request([[t] for t in tagged_sentences], [len(request.sentences or []) for request in requests])


def split_by_request(items: list[list[TaggedSentence]], counts: list[int]) -> list[list[list[TaggedSentence]]]:
    parts, start = [], 0
    for count in counts:
        parts.append(items[start : start + count])
        start += count
    return parts


def encode_answer(tagger: TaggerBase, name: str, request: TagRequest, tagged: list[list[TaggedSentence]]) -> Answer:
    """``{"model": name, "texts": [[record, ...], ...]}`` (a list of sentence records per text) or
    ``{"model": name, "sentences": [record, ...]}``; each record exactly as the JSONL writer writes it."""
    kind = "texts" if request.texts is not None else "sentences"
    options = WriterOptions(
        "jsonl" if kind == "sentences" else RAW_TEXT, tagger.task, request.scheme, request.probabilities
    )
    writer = JsonlWriter(options)
    record: Callable[[TaggedSentence], str] = lambda t: writer.format_sentence(t).rstrip("\n")
    if kind == "texts":
        items = ",".join("[" + ",".join(record(t) for t in text) + "]" for text in tagged)
    else:
        items = ",".join(record(text[0]) for text in tagged)
    body = f'{{"model":{json.dumps(name)},"{kind}":[{items}]}}'
    return Answer(body.encode("utf-8"), sum(len(t.words) for text in tagged for t in text))
