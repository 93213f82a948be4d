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
        ("train.threads=-1", "threads: -1 is below 0; 0 means this process's CPUs"),
        ("train.max_minutes=-5", "max_minutes: -5 is below 0; 0 means no limit"),
    ],
)
def test_bad_config_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


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
