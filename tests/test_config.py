import pytest

from tagger.config import Config, load_config
from tagger.errors import ConfigError


def test_toml_file_and_overrides_combine_and_round_trip(tmp_path):
    path = tmp_path / "ner.toml"
    path.write_text('[model]\nhidden = 128\nchar_encoder = "lstm"\n[train]\nlr = 0.001\n', encoding="utf-8")
    config = load_config(path, ["model.hidden=64", "vocab.lowercase=false"])
    assert (config.model.hidden, config.model.char_encoder, config.train.lr) == (64, "lstm", 0.001)
    assert config.vocab.lowercase is False
    assert Config.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.hiden=3", "did you mean 'hidden'"),
        ("modle.hidden=3", "did you mean 'model'"),
        ("model.hidden=big", "expected int"),
        ("model.cell=transformer", "not one of gru, lstm, rnn"),
        ("hidden=3", "expected section.key=value"),
        ("train.threads=-1", "`train.threads=-1`: expected at least 0; 0 means this process's CPUs"),
        ("train.max_minutes=-5", "`train.max_minutes=-5`: expected at least 0; 0 means no limit"),
        ("model.hidden=0", "`model.hidden=0`: expected at least 1"),
        ("model.layers=0", "`model.layers=0`: expected at least 1"),
        ("model.word_dim=0", "`model.word_dim=0`: expected at least 1"),
        ("train.batch_size=0", "`train.batch_size=0`: expected at least 1"),
        ("train.lr=-1", "`train.lr=-1`: expected above 0"),
        ("model.embedding_dropout=1.5", r"`model.embedding_dropout=1.5`: expected 0 to 1 \(1 excluded\)"),
        ("train.average=1", r"`train.average=1`: expected 0 to 1 \(1 excluded\); 0 means no weight average"),
        ("train.patience=0", "`train.patience=0`: expected at least 1"),
        ("train.clip_norm=-1", "`train.clip_norm=-1`: expected at least 0; 0 means no clipping"),
        ("vocab.min_freq=0", "`vocab.min_freq=0`: expected at least 1"),
    ],
)
def test_bad_config_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_every_number_setting_has_a_range():
    """A new number setting without one would reach torch unchecked (hidden=0 ended in torch's traceback)."""
    from tagger.config import LIMITS, UNLIMITED

    defaults = Config().to_dict()
    numbers = {
        (section, key)
        for section, values in defaults.items()
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    assert numbers - UNLIMITED == set(LIMITS)
    for (section, key), limit in LIMITS.items():
        assert limit.admits(defaults[section][key]), f"the default {section}.{key} is out of its range"


def test_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[model\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_config(path)


def test_documented_configuration_is_exactly_the_defaults(tmp_path):
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "documented.toml").write_text(block, encoding="utf-8")
    assert load_config(tmp_path / "documented.toml") == Config()
