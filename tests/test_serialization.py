"""A model directory is data: tampered or foreign directories are refused with one clear ModelDirError."""

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tagger.errors import ModelDirError
from tagger.serialization import load_model


@pytest.fixture
def model_copy(trained_model, tmp_path) -> Path:
    return Path(shutil.copytree(trained_model, tmp_path / "model"))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def edit_weights(directory: Path, change, keep_checksum: bool = False) -> None:
    """Change the tensors in place; by default also drop the checksum, so the loader's deeper checks are reached."""
    weights = directory / "model.safetensors"
    state = load_file(str(weights))
    change(state)
    save_file(state, str(weights))
    if not keep_checksum:
        edit_json(directory / "config.json", drop_checksums)


def drop_checksums(header: dict) -> None:
    """config.json as saved before the manifest named each file's checksum, and without the weights' checksum."""
    header.pop("weights_sha256", None)
    header.pop("files", None)


def refused(directory: Path, *fragments: str) -> str:
    with pytest.raises(ModelDirError) as caught:
        load_model(directory)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_bad_input_model_path_that_does_not_exist(tmp_path):
    refused(tmp_path / "nowhere", "no such model directory", "config.json, vocab.json and model.safetensors")


def test_bad_input_model_path_that_is_not_a_model_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    refused(tmp_path, "missing config.json, vocab.json, model.safetensors")
    refused(tmp_path / "notes.txt", "is a file, not a model directory")


def test_bad_input_missing_weights_file(model_copy):
    (model_copy / "model.safetensors").unlink()
    refused(model_copy, "missing model.safetensors")


def test_bad_input_zero_byte_weights(model_copy):
    (model_copy / "model.safetensors").write_bytes(b"")
    refused(model_copy, "model.safetensors", "corrupt model file")


def test_bad_input_truncated_weights(model_copy):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    refused(model_copy, "corrupt model file")


def test_bad_input_pickle_renamed_to_safetensors_is_never_unpickled(model_copy, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (model_copy / "model.safetensors").write_bytes(pickle.dumps(Payload()))
    refused(model_copy, "is a pickle", "refusing to load")
    assert not marker.exists()


def test_bad_input_tensor_with_wrong_shape(model_copy):
    edit_weights(model_copy, lambda state: state.update({"output.bias": state["output.bias"][:-1].clone()}))
    refused(model_copy, "'output.bias'", "expected")


def test_bad_input_missing_and_extra_tensors(model_copy):
    edit_weights(model_copy, lambda state: state.update({"surprise": state.pop("output.bias")}))
    refused(model_copy, "'output.bias' is missing")


def test_bad_input_nan_weights(model_copy):
    edit_weights(model_copy, lambda state: state["output.bias"].__setitem__(0, float("nan")))
    refused(model_copy, "'output.bias' contains NaN or Inf")


def test_bad_input_weights_changed_after_saving_fail_the_checksum(model_copy):
    edit_weights(model_copy, lambda state: state["output.bias"].add_(1.0), keep_checksum=True)
    refused(model_copy, "checksum does not match")


def test_bad_input_format_version_from_the_future(model_copy):
    edit_json(model_copy / "config.json", lambda d: d.update(format_version=99))
    refused(model_copy, "format_version 99 is not supported", "upgrade tagger")


def test_bad_input_vocabulary_with_duplicate_tags(model_copy):
    edit_json(model_copy / "vocab.json", lambda d: d["labels"].__setitem__(1, d["labels"][0]))
    refused(model_copy, "duplicate entry", "labels")


def test_bad_input_vocabulary_not_matching_the_weights(model_copy):
    edit_json(model_copy / "vocab.json", lambda d: d["words"].append("brand-new-word"))
    edit_json(model_copy / "config.json", drop_checksums)
    refused(model_copy, "'word_embedding.weight'", "same model")


def test_bad_input_unknown_config_key(model_copy):
    edit_json(model_copy / "config.json", lambda d: d["config"]["model"].update(hiden=3))
    refused(model_copy, "unknown key 'hiden'", "did you mean 'hidden'")


def test_bad_input_config_that_is_not_json(model_copy):
    (model_copy / "config.json").write_text("{not json")
    refused(model_copy, "config.json", "not valid JSON")


def test_model_saved_with_the_single_dropout_setting_of_0_1_0_still_loads(model_copy):
    def to_0_1_0(data):
        model = data["config"]["model"]
        for key in ("embedding_dropout", "recurrent_dropout", "output_dropout"):
            del model[key]
        model["dropout"] = 0.3

    edit_json(model_copy / "config.json", to_0_1_0)
    config = load_model(model_copy).config.model
    assert (config.embedding_dropout, config.recurrent_dropout, config.output_dropout) == (0.3, 0.3, 0.3)


def test_model_saved_with_the_stacked_lstm_weight_names_of_0_1_0_still_loads(model_copy):
    """0.1.0 saved one stacked nn.LSTM: rnn.weight_ih_l1_reverse is today's rnn.layers.1.1.weight_ih_l0."""

    def to_0_1_0(state):
        for name in [n for n in state if n.startswith("rnn.layers.")]:
            _, _, layer, direction, rest = name.split(".")
            state[f"rnn.{rest[:-1]}{layer}{'_reverse' if direction == '1' else ''}"] = state.pop(name)

    today = load_model(model_copy).model.state_dict()
    edit_weights(model_copy, to_0_1_0)
    assert "rnn.weight_hh_l0_reverse" in load_file(str(model_copy / "model.safetensors"))
    loaded = load_model(model_copy).model.state_dict()
    assert loaded.keys() == today.keys() and all(torch.equal(loaded[k], today[k]) for k in today)
