"""The evaluation report: one self-contained HTML page (inline CSS, no script, no other file) for a person
to read where a model goes wrong.

It shows the scores (per entity type, conlleval-compatible and strict IOB2; per tag for label tasks), a
confusion matrix as a table shaded by count, the entity error types with examples (``<details>``, so that
they open without JavaScript), and the sentences with most errors, gold above predicted. The analysis
comes from ``error_analysis``; this module only renders it, escaping every word and label.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tagger.atomic import write_atomic
from tagger.corpus import Sentence
from tagger.errors import ConfigError, setting
from tagger.evaluation.error_analysis import (
    ERROR_DEFINITIONS,
    ERROR_TYPES,
    NO_ENTITY,
    Confusion,
    EntityError,
    ErrorAnalysis,
    Span,
    analyse_errors,
    count_error_types,
    tag_accuracies,
)
from tagger.evaluation.scoring import EntityReport, Evaluation, TypeScore, percent
from tagger.schemes import tags_to_spans

# An index.html holding this line was written by us and may be replaced; any other is refused.
GENERATOR = '<meta name="generator" content="tagger evaluate --report">'
EXAMPLES = 100  # shown per error type: enough to see a pattern, few enough to keep the page light
CONTEXT = 8  # words shown on each side of an error in its example
# displaCy's colours for its labels, and html.py's for CoNLL-2003's PER and MISC; other types take the rest in turn.
TYPE_COLORS = {
    "PER": "#aa9cfc",
    "PERSON": "#aa9cfc",
    "LOC": "#ff9561",
    "ORG": "#7aecec",
    "MISC": "#e4e7d2",
    "GPE": "#feca74",
    "NORP": "#c887fb",
    "DATE": "#bfe1d9",
}
SPARE_COLORS = ("#bfeeb7", "#ffeb80", "#9cc9cc", "#ff8197", "#f0d0ff", "#e4e7d2")
STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; max-width: 72em;
       margin: 1.5em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.45em; margin-bottom: 0.2em; word-break: break-all; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; margin-top: 1.8em; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.3em; }
nav a { margin-right: 1.2em; }
.headline { display: flex; flex-wrap: wrap; gap: 0.6em; margin: 0.8em 0; }
.figure { border: 1px solid #ddd; border-radius: 0.4em; padding: 0.4em 0.8em; background: #fafafa; }
.figure b { display: block; font-size: 1.4em; }
.note { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.6em; border: 1px solid #ddd; text-align: right; }
th { background: #f4f4f4; }
th.name, td.name { text-align: left; }
tr.total td { font-weight: bold; background: #fafafa; }
.scroll { overflow-x: auto; }
table.heatmap td { min-width: 2.8em; text-align: center; }
table.heatmap td.zero { color: #bbb; }
summary { cursor: pointer; color: #2a6ebb; }
ol.examples > li { margin: 0 0 0.9em; }
.where { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; color: #555; }
.what { font-size: 0.9em; }
.pair { margin: 0.2em 0 0 0.2em; }
.line { display: flex; align-items: baseline; line-height: 2.2; }
.side { flex: 0 0 7.5em; font-size: 0.75em; font-weight: bold; color: #888; text-transform: uppercase; }
mark.ent { padding: 0.1em 0.35em; border-radius: 0.35em; color: #222; white-space: nowrap; }
mark.wrong { outline: 2px solid #d33; }
.label { font-size: 0.65em; font-weight: bold; margin-left: 0.4em; text-transform: uppercase; }
.word { display: inline-block; text-align: center; line-height: 1.25; margin: 0 0.2em 0.4em; }
.tag { display: block; font-size: 0.7em; font-weight: bold; color: #2a6ebb; }
.word.wrong .tag + .tag { color: #d33; }
""".strip()


@dataclass(frozen=True)
class ReportInput:
    title: str  # what was evaluated on what, for the heading
    sentences: Sequence[Sentence]  # gold, as read
    predictions: Sequence[Sequence[str]]
    evaluation: Evaluation
    analysis: ErrorAnalysis


def write_report(directory: Path, page: str) -> Path:
    """Write ``directory/index.html`` atomically; refuse to replace one that we did not write."""
    index = Path(directory) / "index.html"
    if Path(directory).exists() and not Path(directory).is_dir():
        raise ConfigError(f"{setting('report_dir', directory)}: not a folder; expected a folder for index.html")
    if index.exists() and not written_by_us(index):
        raise ConfigError(
            f"{index} exists and was not written by tagger evaluate --report; "
            f"remove it or choose another {setting('report_dir')} folder"
        )
    write_atomic(index, page.encode("utf-8"))
    return index


def write_evaluation_report(
    report_dir: Path,
    title: str,
    sentences: Sequence[Sentence],
    predictions: Sequence[Sequence[str]],
    evaluation: Evaluation,
) -> Path:
    """Analyse the errors of ``predictions`` against the gold ``sentences`` and write the page into ``report_dir``;
    returns the page's path."""
    analysis = analyse_errors([s.tags for s in sentences], predictions, evaluation.task)
    return write_report(report_dir, render_report(ReportInput(title, sentences, predictions, evaluation, analysis)))


def written_by_us(path: Path) -> bool:
    with open(path, "rb") as stream:
        return GENERATOR.encode() in stream.read(4096)


def render_report(report: ReportInput) -> str:
    reports = report.evaluation.entity_reports
    sections = [scores_section(report), confusion_section(report.analysis.confusion, reports is not None)]
    if reports is not None:
        sections.append(error_types_section(report, scorer=reports[0]))
    sections.append(worst_section(report))
    return page_head(report.title) + headline(report) + "".join(sections) + "</body>\n</html>\n"


def page_head(title: str) -> str:
    title = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'{GENERATOR}\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    )


def headline(report: ReportInput) -> str:
    evaluation = report.evaluation
    figures = []  # (value, what it is)
    if (reports := evaluation.entity_reports) is not None:
        conlleval, strict = reports
        figures += [
            (conlleval.micro.percents()[2], "entity F1, conlleval-compatible"),
            (strict.micro.percents()[2], "entity F1, strict IOB2"),
            (f"{conlleval.false_positives:,}", "false positives"),
            (f"{conlleval.false_negatives:,}", "false negatives"),
        ]
    figures += [
        (percent(evaluation.token_accuracy), "token accuracy"),
        (f"{evaluation.sentences:,}", "sentences"),
        (f"{evaluation.words:,}", "words"),
    ]
    boxes = "".join(f'<div class="figure"><b>{value}</b>{what}</div>' for value, what in figures)
    links = [("scores", "Scores"), ("confusion", "Confusion matrix")]
    links += [("error-types", "Error types")] * (evaluation.task == "spans")
    links += [("worst", "Sentences with most errors")]
    nav = " ".join(f'<a href="#{anchor}">{name}</a>' for anchor, name in links)
    return f'<div class="headline">{boxes}</div>\n<nav>{nav}</nav>\n'


def scores_section(report: ReportInput) -> str:
    evaluation = report.evaluation
    if (reports := evaluation.entity_reports) is not None:
        body = entity_scores_table(*reports)
        note = (
            "Precision, recall and F1 per entity type, conlleval-compatible (seqeval's default, the headline) "
            "and strict IOB2 (an entity counts only when well formed); support counts gold entities."
        )
    else:
        body = tag_scores_table(report.analysis.confusion)
        note = "Per gold tag: how many words have it, and the share of them tagged right."
    return f'<h2 id="scores">Scores</h2>\n<p class="note">{note}</p>\n{body}'


def entity_scores_table(conlleval: EntityReport, strict: EntityReport) -> str:
    head = (
        '<tr><th class="name" rowspan="2">type</th><th colspan="3">conlleval-compatible</th>'
        '<th colspan="3">strict IOB2</th><th rowspan="2">support</th><th rowspan="2">predicted</th></tr>\n'
        "<tr>" + "<th>precision</th><th>recall</th><th>F1</th>" * 2 + "</tr>\n"
    )
    rows = [
        entity_score_row(name, score, strict.per_type.get(name)) for name, score in sorted(conlleval.per_type.items())
    ]
    rows += [
        entity_score_row(name, score, strict_score, "total")
        for name, score, strict_score in (
            ("micro", conlleval.micro, strict.micro),
            ("macro", conlleval.macro, strict.macro),
        )
    ]
    return f"<table>\n{head}{''.join(rows)}</table>\n"


def entity_score_row(name: str, score: TypeScore, strict_score: TypeScore | None, row_class: str = "") -> str:
    cells = list(score.percents())
    if strict_score is None:  # a type strict IOB2 never sees: all its entities were ill-formed
        cells += ["—"] * 3
    else:
        cells += list(strict_score.percents())
    cells += [f"{score.support:,}", f"{score.predicted:,}"]
    attribute = f' class="{row_class}"' if row_class else ""
    return (
        f'<tr{attribute}><td class="name">{html.escape(name)}</td>'
        + "".join(f"<td>{cell}</td>" for cell in cells)
        + "</tr>\n"
    )


def tag_scores_table(confusion: Confusion) -> str:
    accuracies = sorted(tag_accuracies(confusion), key=lambda a: (-a.support, a.tag))
    rows = [
        f'<tr><td class="name">{html.escape(a.tag)}</td><td>{a.support:,}</td><td>{a.correct:,}</td>'
        f"<td>{percent(a.accuracy)}</td></tr>\n"
        for a in accuracies
    ]
    head = '<tr><th class="name">gold tag</th><th>words</th><th>tagged right</th><th>accuracy</th></tr>\n'
    return f"<table>\n{head}{''.join(rows)}</table>\n"


def confusion_section(confusion: Confusion, spans: bool) -> str:
    if spans:
        note = (
            "Gold entity type (rows) against the type predicted for exactly the same span (columns); "
            f"{NO_ENTITY} stands for no entity with that span: column {NO_ENTITY} holds gold entities whose "
            f"span was not predicted, row {NO_ENTITY} predicted entities whose span is not in gold."
        )
    else:
        note = "Gold tag (rows) against predicted tag (columns), word by word."
    note += (
        " Shading is proportional to the count: blue on the diagonal (right), red off it (wrong), "
        "each scaled to its own largest cell."
    )
    return (
        f'<h2 id="confusion">Confusion matrix</h2>\n<p class="note">{note}</p>\n'
        f"{heatmap(confusion, skip=(NO_ENTITY, NO_ENTITY) if spans else None)}"
    )


def heatmap(confusion: Confusion, skip: tuple[str, str] | None = None) -> str:
    """The matrix as a table, each cell shaded by its count; ``skip`` is a cell that means nothing."""
    labels = confusion.labels
    right = max([confusion.count(label, label) for label in labels if (label, label) != skip], default=0)
    wrong = max([n for (gold, pred), n in confusion.counts.items() if gold != pred], default=0)
    head = (
        '<tr><th class="name">gold ↓ predicted →</th>'
        + "".join(f"<th>{html.escape(label)}</th>" for label in labels)
        + "<th>total</th></tr>\n"
    )
    rows = []
    for gold in labels:
        cells = [
            heat_cell(confusion.count(gold, pred), right if gold == pred else wrong, gold == pred)
            if (gold, pred) != skip
            else '<td class="zero">—</td>'
            for pred in labels
        ]
        rows.append(
            f'<tr><th class="name">{html.escape(gold)}</th>{"".join(cells)}'
            f"<td>{confusion.gold_total(gold):,}</td></tr>\n"
        )
    totals = [sum(confusion.count(gold, pred) for gold in labels) for pred in labels]
    rows.append(
        '<tr class="total"><td class="name">total</td>'
        + "".join(f"<td>{n:,}</td>" for n in totals)
        + f"<td>{sum(totals):,}</td></tr>\n"
    )
    return f'<div class="scroll"><table class="heatmap">\n{head}{"".join(rows)}</table></div>\n'


def heat_cell(count: int, scale: int, right: bool) -> str:
    if not count:
        return '<td class="zero">0</td>'
    strength = 0.1 + 0.9 * count / scale  # the faintest count still shows
    red, green, blue = (42, 110, 187) if right else (211, 51, 51)
    ink = "#fff" if strength > 0.55 else "#222"
    return f'<td style="background: rgba({red}, {green}, {blue}, {strength:.2f}); color: {ink}">{count:,}</td>'


def error_types_section(report: ReportInput, scorer: EntityReport) -> str:
    """The entity errors by type; ``scorer`` is the conlleval-compatible report whose errors they are."""
    counts = count_error_types(report.analysis.errors)
    rows = [
        f'<tr><td class="name"><a href="#{anchor(kind)}">{kind}</a></td><td class="name">{ERROR_DEFINITIONS[kind]}</td>'
        f"<td>{c.errors:,}</td><td>{c.false_positives:,}</td><td>{c.false_negatives:,}</td></tr>\n"
        for kind, c in counts.items()
    ]
    totals = [
        sum(getattr(c, field) for c in counts.values()) for field in ("errors", "false_positives", "false_negatives")
    ]
    rows.append(
        '<tr class="total"><td class="name">all</td><td></td>' + "".join(f"<td>{n:,}</td>" for n in totals) + "</tr>\n"
    )
    head = (
        '<tr><th class="name">error type</th><th class="name">definition</th><th>errors</th>'
        "<th>false positives</th><th>false negatives</th></tr>\n"
    )
    note = (
        "Every entity the conlleval-compatible scorer counts as wrong has exactly one error type: a gold "
        "entity is a false negative, a predicted one a false positive. Wrong entities of one error type that "
        "overlap make one error (a boundary error usually costs one of each). The scorer counts "
        f"{scorer.false_positives:,} false positives and {scorer.false_negatives:,} false negatives."
    )
    examples = "".join(
        error_examples(kind, [e for e in report.analysis.errors if e.error_type == kind], report)
        for kind in ERROR_TYPES
    )
    return (
        f'<h2 id="error-types">Error types</h2>\n<p class="note">{note}</p>\n'
        f"<table>\n{head}{''.join(rows)}</table>\n{examples}"
    )


def error_examples(kind: str, errors: list[EntityError], report: ReportInput) -> str:
    shown = errors[:EXAMPLES]
    summary = f"{len(shown):,} examples" + (f" (the first of {len(errors):,})" if len(errors) > len(shown) else "")
    items = "".join(example_item(f"{anchor(kind)}-{number}", error, report) for number, error in enumerate(shown, 1))
    body = (
        f'<details>\n<summary>{summary}</summary>\n<ol class="examples">\n{items}</ol>\n</details>\n' if shown else ""
    )
    return (
        f'<h3 id="{anchor(kind)}">{kind.capitalize()}: {len(errors):,}</h3>\n'
        f'<p class="note">{ERROR_DEFINITIONS[kind]}</p>\n{body}'
    )


def example_item(item_id: str, error: EntityError, report: ReportInput) -> str:
    sentence = report.sentences[error.sentence]
    gold, predicted = tags_to_spans(sentence.tags), tags_to_spans(report.predictions[error.sentence])
    first, last = error_window(error, gold + predicted, len(sentence.words))
    lines = gold_and_predicted(sentence.words, gold, predicted, set(error.gold) | set(error.predicted), first, last)
    return (
        f'<li id="{item_id}"><div class="where">{html.escape(location(sentence, error.sentence))}</div>'
        f'<div class="what">{describe(error, sentence.words)}</div>{lines}</li>\n'
    )


def error_window(error: EntityError, spans: list[Span], length: int) -> tuple[int, int]:
    """Words around the error to show: CONTEXT on each side, widened until no entity is cut."""
    first, last = max(0, error.start - CONTEXT), min(length, error.end + CONTEXT)
    widened = True
    while widened:
        widened = False
        for _, start, end in spans:
            if start < first < end or start < last < end:
                first, last, widened = min(first, start), max(last, end), True
    return first, last


def describe(error: EntityError, words: Sequence[str]) -> str:
    def entities(spans: tuple[Span, ...]) -> str:
        return (
            ", ".join(f"{html.escape(kind)} “{html.escape(' '.join(words[start:end]))}”" for kind, start, end in spans)
            or "nothing"
        )

    return f"gold {entities(error.gold)} → predicted {entities(error.predicted)}"


def worst_section(report: ReportInput) -> str:
    analysis = report.analysis
    items = "".join(worst_item(index, report) for index in analysis.worst)
    unit = "false positives + false negatives" if analysis.task == "spans" else "wrongly tagged words"
    note = f"The {len(analysis.worst)} sentences with most errors ({unit}), most first."
    if analysis.task == "labels":
        note += " Under each word: its gold tag, then the predicted tag, red where wrong."
    return (
        f'<h2 id="worst">Sentences with most errors</h2>\n<p class="note">{note}</p>\n'
        f'<ol class="examples">\n{items}</ol>\n'
    )


def worst_item(index: int, report: ReportInput) -> str:
    sentence, predicted = report.sentences[index], report.predictions[index]
    if report.analysis.task == "spans":
        mine = [e for e in report.analysis.errors if e.sentence == index]
        wrong = {span for e in mine for span in e.gold + e.predicted}
        kinds = ", ".join(
            f"{sum(e.error_type == k for e in mine)} {k}" for k in ERROR_TYPES if any(e.error_type == k for e in mine)
        )
        what = (
            f"{kinds}: {sum(e.false_positives for e in mine)} false positives, "
            f"{sum(e.false_negatives for e in mine)} false negatives"
        )
        body = gold_and_predicted(
            sentence.words, tags_to_spans(sentence.tags), tags_to_spans(predicted), wrong, 0, len(sentence.words)
        )
    else:
        what = f"{report.analysis.errors_per_sentence[index]} of {len(sentence.words)} words tagged wrong"
        body = tagged_words(sentence.words, sentence.tags, predicted)
    return (
        f'<li id="sentence-{index + 1}"><div class="where">{html.escape(location(sentence, index))}</div>'
        f'<div class="what">{what}</div>{body}</li>\n'
    )


def gold_and_predicted(
    words: Sequence[str], gold: list[Span], predicted: list[Span], wrong: set[Span], first: int, last: int
) -> str:
    """Words ``first`` to ``last`` twice, gold entities above, predicted below, wrong ones outlined in red."""
    return (
        '<div class="pair">'
        f'<div class="line"><span class="side">gold</span><span>{entity_line(words, gold, wrong, first, last)}'
        '</span></div><div class="line"><span class="side">predicted</span>'
        f"<span>{entity_line(words, predicted, wrong, first, last)}</span></div></div>"
    )


def entity_line(words: Sequence[str], spans: list[Span], wrong: set[Span], first: int, last: int) -> str:
    entity_at = {start: (kind, end) for kind, start, end in spans if first <= start and end <= last}
    pieces, index = ["…"] * (first > 0), first
    while index < last:
        if index in entity_at:
            kind, end = entity_at[index]
            pieces.append(entity_mark(words[index:end], kind, (kind, index, end) in wrong))
            index = end
        else:
            pieces.append(html.escape(words[index]))
            index += 1
    return " ".join(pieces + ["…"] * (last < len(words)))


def entity_mark(words: Sequence[str], kind: str, wrong: bool) -> str:
    classes = "ent wrong" if wrong else "ent"
    return (
        f'<mark class="{classes}" style="background: {type_color(kind)}">{html.escape(" ".join(words))}'
        f'<span class="label">{html.escape(kind)}</span></mark>'
    )


def type_color(kind: str) -> str:
    if kind in TYPE_COLORS:
        return TYPE_COLORS[kind]
    return SPARE_COLORS[sum(map(ord, kind)) % len(SPARE_COLORS)]  # stable across runs, unlike hash()


def tagged_words(words: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> str:
    spans = [
        f'<span class="word{" wrong" if g != p else ""}">{html.escape(word)}'
        f'<span class="tag">{html.escape(g)}</span><span class="tag">{html.escape(p)}</span></span>'
        for word, g, p in zip(words, gold, predicted)
    ]
    return f'<div class="pair">{" ".join(spans)}</div>'


def location(sentence: Sentence, index: int) -> str:
    """Where the sentence is: path:line of its first word, or its number when it was not read from a file."""
    return f"{sentence.path}:{sentence.line}" if sentence.line else f"{sentence.path}, sentence {index + 1}"


def anchor(kind: str) -> str:
    return kind.replace(" ", "-")
