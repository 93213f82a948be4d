"""Contract tests: overfit -> save -> load in a fresh process -> same tags; batched == one by one."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tagger import Tagger
from tests.conftest import NER_SENTENCES
from tests.cpu_features import requires_bf16_lstm, requires_x86

WORDS = [s.split() for s, _ in NER_SENTENCES]
GOLD = [t.split() for _, t in NER_SENTENCES]


def test_overfitted_model_reproduces_its_training_tags(trained_model):
    assert Tagger.load(trained_model).tag(WORDS) == GOLD


def test_model_loads_in_a_fresh_process_with_the_same_tags(trained_model):
    code = (
        "import json, sys; from tagger import Tagger; "
        "print(json.dumps(Tagger.load(sys.argv[1]).tag(json.loads(sys.argv[2]))))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(trained_model), json.dumps(WORDS)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(output) == Tagger.load(trained_model).tag(WORDS)


def test_batched_tags_equal_one_by_one_tags_including_empty_and_one_word(trained_model):
    tagger = Tagger.load(trained_model)
    sentences = WORDS + [[], ["Paris"]]
    batched = tagger.tag(sentences, batch_size=3)
    assert batched == [tagger.tag([s])[0] for s in sentences]
    assert batched[-2] == []


def test_scores_are_probabilities_of_the_predicted_tags(trained_model):
    tagged = Tagger.load(trained_model).tag(WORDS[:2], scores=True)
    assert [[t for t, _ in s] for s in tagged] == GOLD[:2]
    probabilities = [p for s in tagged for _, p in s]
    assert all(0.0 < p <= 1.0 for p in probabilities)
    assert sum(probabilities) / len(probabilities) > 0.5  # the tags it gets right, it mostly believes


def test_long_sentences_are_split_and_rejoined(trained_model):
    tagger = Tagger.load(trained_model)
    long_sentence = WORDS[0] * 700  # 4,200 words: tagged in pieces
    tags = tagger.tag([long_sentence])[0]
    assert len(tags) == len(long_sentence)
    assert tags[:6] == GOLD[0]


def test_model_directory_has_card_metrics_and_no_pickle(trained_model):
    names = {p.name for p in trained_model.iterdir()}
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json", "README.md", "checkpoint"} <= names
    assert "last" not in names  # by default only what --resume needs stays beside the model
    for path in trained_model.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith((b"\x80", b"PK\x03\x04")), path
    metrics = json.loads((trained_model / "metrics.json").read_text())
    assert metrics["dev"]["conlleval"]["micro"]["f1"] == 1.0
    card = (trained_model / "README.md").read_text()
    assert "F1 100.00" in card


def test_model_card_embeds_the_training_curves_and_scores_per_type(trained_model):
    plot = (trained_model / "training.png").read_bytes()
    assert plot.startswith(b"\x89PNG\r\n\x1a\n") and len(plot) > 10_000  # three drawn panels, not an empty canvas
    card = (trained_model / "README.md").read_text()
    assert "![training loss, dev score and learning rate by epoch](training.png)" in card
    epochs = len((trained_model / "train_log.jsonl").read_text().splitlines())
    assert f"of {epochs} (early stopping" in card
    for entity_type in ("LOC", "MISC", "ORG", "PER"):
        assert f"| {entity_type} | 100.00 | 100.00 | 100.00 |" in card


def test_tag_text_gives_entities_with_character_offsets(trained_model):
    text = "John Smith lives in Paris."
    sentences = Tagger.load(trained_model).tag_text(text)
    entities = [e for s in sentences for e in s.entities()]
    assert [(text[e["start"] : e["end"]], e["label"]) for e in entities] == [("John Smith", "PER"), ("Paris", "LOC")]


def test_crf_head_and_plateau_schedule_overfit_too(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.training import DataSource, train

    config = replace(
        tiny_config,
        model=replace(tiny_config.model, head="crf"),
        train=replace(tiny_config.train, schedule="plateau", optimizer="sgd", lr=0.1, singleton_unk=0.3),
    )
    result = train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "crf")
    assert result.dev.conlleval.micro.f1 == 1.0
    tagged = Tagger.load(tmp_path / "crf").tag(WORDS, scores=True)
    assert [[t for t, _ in s] for s in tagged] == GOLD
    assert all(0.0 < p <= 1.0 for s in tagged for _, p in s)  # CRF posterior marginals


def test_linear_schedule_falls_step_by_step_to_zero_at_the_last_epoch(ner_files, tiny_config, tmp_path, monkeypatch):
    from dataclasses import replace

    from tagger.training import DataSource, train

    rates = []
    adam_step = torch.optim.Adam.step

    def recording_step(optimizer, *args, **kwargs):
        rates.append(optimizer.param_groups[0]["lr"])
        return adam_step(optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    train_settings = replace(tiny_config.train, optimizer="adam", schedule="linear", epochs=4, patience=4, lr=0.01)
    train(replace(tiny_config, train=train_settings), DataSource(ner_files[0], ner_files[1]), tmp_path / "linear")
    steps = len(rates) // 4
    assert len(rates) == 4 * steps and steps > 1
    assert rates[0] == 0.01 and all(a > b > 0 for a, b in zip(rates, rates[1:]))
    expected = [0.01 * (1 - (epoch + step / steps) / 4) for epoch in range(4) for step in range(steps)]
    assert rates == pytest.approx(expected)
    assert rates[-1] == pytest.approx(0.01 / (4 * steps))


def test_seeds_report_mean_and_keep_the_best_dev_model(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.training import DataSource, SeedsResult, run_seeds

    config = replace(tiny_config, train=replace(tiny_config.train, epochs=3, patience=3))
    events = list(run_seeds(config, DataSource(ner_files[0], ner_files[1], test=ner_files[1]), tmp_path / "m", 2))
    result = events[-1]
    assert isinstance(result, SeedsResult) and result.summary["seeds"] == [1, 2]
    scores = result.summary["dev"]["scores"]
    assert result.summary["dev"]["mean"] == round(sum(scores) / 2, 2)
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["seed"] == result.best_seed
    assert max(scores) == result.summary["dev"]["scores"][result.best_seed - 1]
    assert Tagger.load(tmp_path / "m").tag(WORDS[:1])


def write_glove(path, vectors: dict[str, list[float]]) -> None:
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()), encoding="utf-8")


@pytest.mark.parametrize("freeze", [True, False])
def test_glove_vectors_end_to_end(ner_files, tiny_config, tmp_path, freeze):
    """Vector words join the vocabulary, coverage is reported, and frozen vectors stay as in the file."""
    from dataclasses import replace

    from tagger.training import DataSource, TrainingStart, run_training

    glove = {"john": [0.5] * 16, "paris": [-0.25] * 16, "madrid": [0.125] * 16}  # madrid: not in the corpus
    write_glove(tmp_path / "glove.16d.txt", glove)
    config = replace(
        tiny_config,
        vocab=replace(tiny_config.vocab, vectors=str(tmp_path / "glove.16d.txt")),
        model=replace(tiny_config.model, freeze_vectors=freeze),
        train=replace(tiny_config.train, epochs=3),
    )
    events = list(run_training(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m"))
    start = next(e for e in events if isinstance(e, TrainingStart))
    assert "vectors cover" in start.vectors
    tagger = Tagger.load(tmp_path / "m")
    assert "madrid" in tagger.vocab.words  # known from the vectors alone
    embedding = tagger.model.word_embedding.weight

    def keeps_its_vector(word: str) -> bool:
        return torch.allclose(embedding[tagger.vocab.word_id(word)].detach(), torch.tensor(glove[word]))

    assert keeps_its_vector("madrid")  # never in a training batch: no gradient, frozen or not
    assert keeps_its_vector("john") == freeze  # trained on: moves only when fine-tuned


def test_vectors_with_the_wrong_dimension_are_refused(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.errors import ConfigError
    from tagger.training import DataSource, train

    write_glove(tmp_path / "glove.3d.txt", {"john": [1.0, 2.0, 3.0]})
    config = replace(tiny_config, vocab=replace(tiny_config.vocab, vectors=str(tmp_path / "glove.3d.txt")))
    with pytest.raises(ConfigError, match="3-dimensional vectors but model.word_dim is 16"):
        train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m")


def test_two_vector_sources_sit_side_by_side(ner_files, tiny_config, tmp_path):
    """``vocab.vectors=a,b``: each word's row is a's vector then b's; a word only one source has keeps it in that
    source's columns, and words of either source join the vocabulary."""
    from dataclasses import replace

    from tagger.training import DataSource, TrainingStart, run_training

    first = {"john": [0.5] * 10, "paris": [-0.25] * 10}
    second = {"paris": [0.75] * 6, "madrid": [0.125] * 6}  # madrid: in no corpus file, in the second source only
    write_glove(tmp_path / "a.10d.txt", first)
    write_glove(tmp_path / "b.6d.txt", second)
    config = replace(
        tiny_config,
        vocab=replace(tiny_config.vocab, vectors=f"{tmp_path / 'a.10d.txt'},{tmp_path / 'b.6d.txt'}"),
        model=replace(tiny_config.model, freeze_vectors=True),
        train=replace(tiny_config.train, epochs=1),
    )
    events = list(run_training(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m"))
    start = next(e for e in events if isinstance(e, TrainingStart))
    assert [line.split(":")[0] for line in start.vectors.splitlines()] == [
        str(tmp_path / "a.10d.txt"),
        str(tmp_path / "b.6d.txt"),
    ]
    tagger = Tagger.load(tmp_path / "m")
    embedding = tagger.model.word_embedding.weight.detach()

    def row(word: str) -> torch.Tensor:
        return embedding[tagger.vocab.word_id(word)]

    assert torch.allclose(row("paris"), torch.tensor(first["paris"] + second["paris"]))
    assert torch.allclose(row("john")[:10], torch.tensor(first["john"]))
    assert torch.allclose(row("madrid")[10:], torch.tensor(second["madrid"]))
    assert not torch.allclose(row("madrid")[:10], torch.zeros(10))  # random where the first source has nothing


def test_two_vector_sources_whose_widths_do_not_add_up_are_refused(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.errors import ConfigError
    from tagger.training import DataSource, train

    write_glove(tmp_path / "a.txt", {"john": [1.0, 2.0, 3.0]})
    write_glove(tmp_path / "b.txt", {"john": [1.0] * 5})
    spec = f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}"
    config = replace(tiny_config, vocab=replace(tiny_config.vocab, vectors=spec))
    with pytest.raises(ConfigError, match=r"8-dimensional vectors \(.*a\.txt 3 \+ .*b\.txt 5\) .* model.word_dim=8"):
        train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m")


def test_same_seed_and_data_give_bitwise_identical_weights(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.training import DataSource, train

    config = replace(tiny_config, train=replace(tiny_config.train, epochs=3, word_dropout=0.1))
    for name in ("a", "b"):
        train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / name)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    predictions = [Tagger.load(tmp_path / name).tag(WORDS, scores=True) for name in ("a", "b")]
    assert predictions[0] == predictions[1]  # tags and probabilities, to the last bit


def test_weight_average_is_what_gets_scored_and_saved(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from safetensors.torch import load_file

    from tagger.training import DataSource, train

    source = DataSource(ner_files[0], ner_files[1])
    averaged = train(replace(tiny_config, train=replace(tiny_config.train, average=0.9)), source, tmp_path / "avg")
    assert averaged.dev.conlleval.micro.f1 == 1.0
    train(tiny_config, source, tmp_path / "raw")
    weights = [load_file(tmp_path / name / "model.safetensors") for name in ("avg", "raw")]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[1])  # same seed: only the average differs
    assert Tagger.load(tmp_path / "avg").tag(WORDS) == GOLD


def test_the_presets_weight_average_follows_a_short_training(ner_files, tiny_config, tmp_path):
    """train.average = 0.999 (the accurate presets'): a plain moving average still held 90% of the first step's
    weights after 100 steps, so a short training saved a nearly untrained model (0.00 F1 after one epoch of
    eng.testa); its decay now starts low and rises to 0.999 as steps add up."""
    from dataclasses import replace

    from tagger.training import DataSource, train

    config = replace(tiny_config, train=replace(tiny_config.train, average=0.999))
    assert train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m").dev.conlleval.micro.f1 == 1.0


def test_clip_norm_0_trains_without_clipping(ner_files, tiny_config, tmp_path):
    """0 means no clipping: clipping to norm 0 zeroed every gradient, and the model never learned."""
    from dataclasses import replace

    from tagger.training import DataSource, train

    config = replace(tiny_config, train=replace(tiny_config.train, clip_norm=0.0))
    assert train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "m").dev.conlleval.micro.f1 == 1.0


def test_max_minutes_stops_before_an_epoch_would_overrun_and_keeps_the_best(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.training import DataSource, train

    config = replace(tiny_config, train=replace(tiny_config.train, max_minutes=1e-6))
    result = train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "limited")
    assert result.metrics["epochs_run"] == 1 and result.best_epoch == 1
    assert Tagger.load(tmp_path / "limited").tag(WORDS[:1])  # the one epoch's model was saved


@requires_bf16_lstm
def test_bf16_forward_pass_trains_on_the_cpu_too(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.training import DataSource, train

    config = replace(tiny_config, train=replace(tiny_config.train, precision="bf16", epochs=40))
    result = train(config, DataSource(ner_files[0], ner_files[1]), tmp_path / "bf16")
    assert result.dev.conlleval.micro.f1 == 1.0


@requires_x86
def test_bf16_where_the_cpu_has_no_bf16_lstm_is_refused_in_one_line_before_any_work(ner_files, tmp_path):
    """oneDNN capped at AVX2 is the CPU of a user without AVX-512 BF16 (an AMD Zen 3, say), on any x86 machine."""
    out = tmp_path / "bf16"
    command = [sys.executable, "-m", "tagger", "train", "--train", str(ner_files[0]), "--dev", str(ner_files[1])]
    command += ["--out", str(out), "--epochs", "1", "--set", "train.precision=bf16", "--set", "train.threads=1"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--set train.precision=bf16" in lines[0] and "train.precision=fp32" in lines[0]
    assert "AVX-512 BF16 or AMX" in lines[0] and not out.exists()  # refused before the output folder was made


def test_bf16_refusal_names_the_fix_and_fp32_is_never_refused(monkeypatch):
    import torch

    from tagger.errors import ConfigError
    from tagger.training import precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "runs_bf16_lstm", lambda device: False)
    with pytest.raises(ConfigError, match=r"`train.precision=bf16`: PyTorch has no bf16 LSTM kernel for this CPU"):
        precision.check_precision(cpu, "bf16")
    for allowed in ("fp32", "auto"):
        precision.check_precision(cpu, allowed)


def test_with_dev_trains_on_dev_too_and_keeps_the_last_epoch(tmp_path, tiny_config):
    from dataclasses import replace

    from tagger.training import DataSource, train
    from tests.conftest import write_conll

    train_file = write_conll(tmp_path / "train.conll", NER_SENTENCES[1:])
    dev_file = write_conll(tmp_path / "dev.conll", [("Zorblax visits Paris .", "B-PER O B-LOC O")])
    # a learning rate too small to change a tag: dev never improves after epoch 1, so patience 1 ends a normal run
    frozen = replace(tiny_config.train, lr=1e-12, patience=1, epochs=4)
    normal = train(replace(tiny_config, train=frozen), DataSource(train_file, dev_file), tmp_path / "normal")
    assert (normal.metrics["epochs_run"], normal.best_epoch, normal.stopped_by) == (2, 1, "patience")
    assert normal.metrics["dev_trained_on"] is False

    config = replace(tiny_config, train=replace(frozen, with_dev=True))
    final = train(config, DataSource(train_file, dev_file), tmp_path / "final")
    assert (final.metrics["epochs_run"], final.best_epoch, final.stopped_by) == (4, 4, "epochs")
    assert final.metrics["dev_trained_on"] is True
    vocab = json.loads((tmp_path / "final" / "vocab.json").read_text(encoding="utf-8"))
    assert "zorblax" in json.dumps(vocab).lower() and "zorblax" not in (tmp_path / "normal" / "vocab.json").read_text()
    card = (tmp_path / "final" / "README.md").read_text(encoding="utf-8")
    assert "| dev (trained on) |" in card and "the last, trained on the training and dev data" in card


def test_with_dev_needs_a_dev_corpus(ner_files, tiny_config, tmp_path):
    from dataclasses import replace

    from tagger.errors import ConfigError
    from tagger.training import DataSource, train

    config = replace(tiny_config, train=replace(tiny_config.train, with_dev=True))
    with pytest.raises(ConfigError, match="train.with_dev=true` trains on the dev corpus as well: name one with"):
        train(config, DataSource(ner_files[0]), tmp_path / "m")
    assert not (tmp_path / "m").exists()
