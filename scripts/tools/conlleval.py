#!/usr/bin/env python3
"""A faithful Python port of conlleval.pl (CoNLL-2000 shared task, version 2004-01-26).

Independent of the tagger package and of seqeval on purpose: it is the
reference the library's scores are checked against.

Input: one word per line, columns separated by whitespace (or ``-d``), the
last two columns being the gold tag and the guessed tag; blank lines separate
sentences. As in the perl script, a line whose first column is the boundary
marker (``-X-`` by default, ``-o``) also ends a sentence, and a
``-DOCSTART- -X- O O`` line is an ordinary word tagged ``O``: conlleval.pl
counts it as a token, and so does this port.

Chunks are found with conlleval's startOfChunk/endOfChunk rules. The perl
script knows only B, I, E, O (and the old ``[``/``]`` brackets), so a BIOES
``S-X`` or ``E-X B-X`` would be merged into its neighbour; like the widely
used Python port (and seqeval's default mode) we add the two rules that
make BIOES work: ``B-``/``S-`` always start a chunk and ``E-``/``S-`` always
end one. On B/I/O tags (IOB1, IOB2) these additions change nothing.

Usage: ``python scripts/tools/conlleval.py [-d DELIM] [-o BOUNDARY] [-r] [--json] < file``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable

_TAG = re.compile(r"^([^-]*)-(.*)$")  # perl: /^([^-]*)-(.*)$/, hyphens allowed in types


def split_tag(tag: str) -> tuple[str, str]:
    match = _TAG.match(tag)
    return (match.group(1), match.group(2)) if match else (tag, "")


def end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Did a chunk end just before the current word? (perl endOfChunk + BIOES rules)."""
    if prev_tag in ("E", "S"):  # E-after-E/I/O in perl; every E/S ends a chunk here
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    if prev_tag not in ("O", ".") and prev_type != type_:
        return True
    return prev_tag in ("]", "[")  # bracket chunks have length 1


def start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Does a chunk start at the current word? (perl startOfChunk + BIOES rules)."""
    if tag in ("B", "S"):  # perl: B after B/I/O; here also after E/S
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    if tag not in ("O", ".") and prev_type != type_:
        return True
    return tag in ("[", "]")


class _Counts:
    """The perl script's global counters."""

    def __init__(self) -> None:
        self.correct_chunk = 0
        self.found_correct = 0
        self.found_guessed = 0
        self.correct_tags = 0
        self.tokens = 0
        self.correct_by_type: Counter[str] = Counter()
        self.found_correct_by_type: Counter[str] = Counter()
        self.found_guessed_by_type: Counter[str] = Counter()


def count_lines(
    lines: Iterable[str], delimiter: str | None = None, boundary: str = "-X-", raw: bool = False
) -> _Counts:
    """Run conlleval's main loop over ``lines``."""
    counts = _Counts()
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    n_features = -1
    for line_no, line in enumerate(lines, 1):
        features = line.rstrip("\r\n").split(delimiter) if delimiter else line.split()
        if delimiter and features == [""]:
            features = []
        if n_features < 0 and features:  # perl's $#features is -1 for a blank line: still unset
            n_features = len(features)
        elif n_features != len(features) and features:
            raise ValueError(f"line {line_no}: unexpected number of features: {len(features)} ({n_features})")
        if not features or features[0] == boundary:
            features = [boundary, "O", "O"]
        if len(features) < 2:
            raise ValueError(f"line {line_no}: unexpected number of features in line {line!r}")
        if raw:
            features[-2:] = [tag if tag == "O" else f"B-{tag}" for tag in features[-2:]]
        guessed, guessed_type = split_tag(features[-1])
        correct, correct_type = split_tag(features[-2])
        first_item = features[0]
        if first_item == boundary:  # sentence breaks always count as out of chunk
            guessed = "O"

        correct_ended = end_of_chunk(last_correct, correct, last_correct_type, correct_type)
        guessed_ended = end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if in_correct:
            if correct_ended and guessed_ended and last_guessed_type == last_correct_type:
                in_correct = False
                counts.correct_chunk += 1
                counts.correct_by_type[last_correct_type] += 1
            elif correct_ended != guessed_ended or guessed_type != correct_type:
                in_correct = False

        correct_started = start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        guessed_started = start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if correct_started and guessed_started and guessed_type == correct_type:
            in_correct = True
        if correct_started:
            counts.found_correct += 1
            counts.found_correct_by_type[correct_type] += 1
        if guessed_started:
            counts.found_guessed += 1
            counts.found_guessed_by_type[guessed_type] += 1
        if first_item != boundary:
            if correct == guessed and guessed_type == correct_type:
                counts.correct_tags += 1
            counts.tokens += 1

        last_guessed, last_correct = guessed, correct
        last_guessed_type, last_correct_type = guessed_type, correct_type

    if in_correct:
        counts.correct_chunk += 1
        counts.correct_by_type[last_correct_type] += 1
    return counts


def _prf(correct: int, guessed: int, gold: int) -> tuple[float, float, float]:
    """Percentages, 0.0 where undefined, as conlleval prints them."""
    precision = 100 * correct / guessed if guessed > 0 else 0.0
    recall = 100 * correct / gold if gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def counts_to_dict(counts: _Counts) -> dict:
    """Scores in percent, like conlleval's report; ``found`` is the number of guessed chunks."""
    precision, recall, f1 = _prf(counts.correct_chunk, counts.found_guessed, counts.found_correct)
    accuracy = 100 * counts.correct_tags / counts.tokens if counts.tokens else 0.0
    per_type = {}
    for name in sorted(set(counts.found_correct_by_type) | set(counts.found_guessed_by_type)):
        p, r, f = _prf(
            counts.correct_by_type[name], counts.found_guessed_by_type[name], counts.found_correct_by_type[name]
        )
        per_type[name] = {
            "precision": p,
            "recall": r,
            "f1": f,
            "found": counts.found_guessed_by_type[name],
            "gold": counts.found_correct_by_type[name],
            "correct": counts.correct_by_type[name],
        }
    return {
        "tokens": counts.tokens,
        "gold_phrases": counts.found_correct,
        "found_phrases": counts.found_guessed,
        "correct_phrases": counts.correct_chunk,
        "accuracy": accuracy,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "per_type": per_type,
    }


def evaluate_lines(
    lines: Iterable[str], delimiter: str | None = None, boundary: str = "-X-", raw: bool = False
) -> dict:
    """conlleval's scores for ``lines`` (percentages, as the perl script reports)."""
    return counts_to_dict(count_lines(lines, delimiter, boundary, raw))


def format_report(result: dict) -> str:
    """The text report, line for line as conlleval.pl prints it."""
    lines = [
        f"processed {result['tokens']} tokens with {result['gold_phrases']} phrases; "
        f"found: {result['found_phrases']} phrases; correct: {result['correct_phrases']}."
    ]
    if result["tokens"] > 0:
        lines.append(
            f"accuracy: {result['accuracy']:6.2f}%; precision: {result['precision']:6.2f}%; "
            f"recall: {result['recall']:6.2f}%; FB1: {result['f1']:6.2f}"
        )
    for name, scores in result["per_type"].items():
        lines.append(
            f"{name:>17}: precision: {scores['precision']:6.2f}%; recall: {scores['recall']:6.2f}%; "
            f"FB1: {scores['f1']:6.2f}  {scores['found']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="conlleval.pl in Python: chunk-level P/R/FB1 from 'word ... gold guess' lines on stdin."
    )
    parser.add_argument("-d", dest="delimiter", default=None, help="column delimiter (default: any whitespace)")
    parser.add_argument(
        "-o", dest="boundary", default="-X-", help="sentence boundary marker in the first column (default: -X-)"
    )
    parser.add_argument("-r", dest="raw", action="store_true", help="raw tags: every non-O tag is a one-word chunk")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON instead of the report")
    args = parser.parse_args(argv)
    try:
        result = evaluate_lines(sys.stdin, args.delimiter, args.boundary, args.raw)
    except ValueError as error:
        print(f"conlleval: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
