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
        (
            "model.hiden=3",
            r"^`model.hiden=3`: unknown setting 'model.hiden'; did you mean 'model.hidden'\? \(valid keys of",
        ),
        ("modle.hidden=3", r"^`modle.hidden=3`: unknown setting 'modle.hidden'; did you mean 'model.hidden'\?"),
        ("modle.hidn=3", "unknown setting 'modle.hidn'; did you mean section 'model'"),
        ("model.hidden=big", "^`model.hidden=big`: expected int"),
        ("model.cell=transformer", "^`model.cell=transformer`: 'transformer' is not one of gru, lstm, rnn"),
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


def test_a_bad_override_is_named_as_written_even_over_a_config_file(tmp_path):
    """Merged into the file's settings, a --set mistake was blamed on the file (or on "defaults [model]")."""
    path = tmp_path / "my.toml"
    path.write_text("[model]\nhidden = 128\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="^`model.hiden=256`: unknown setting 'model.hiden'"):
        load_config(path, ["model.hiden=256"])
    with pytest.raises(ConfigError, match="^`model.hidden=big`: expected int"):
        load_config(path, ["model.hidden=big"])
    path.write_text("[model]\nhiden = 128\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"my.toml \[model\]: unknown key 'hiden'; did you mean 'hidden'"):
        load_config(path, ["model.hidden=256"])


def test_a_misspelt_preset_gets_a_did_you_mean():
    with pytest.raises(
        ConfigError, match=r"^preset 'acurate': expected one of .*accurate.*; did you mean 'accurate'\?$"
    ):
        load_config(preset="acurate")
    with pytest.raises(ConfigError, match=r"^preset 'zzz': expected one of [^;]*$"):
        load_config(preset="zzz")


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
