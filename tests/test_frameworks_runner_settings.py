"""The `--settings` and the index of a framework run, taken one way by `teacher run` and `evaluate run`."""

import json

import pytest

from steper import layout
from steper.cli import main
from steper.frameworks.runner import FrameworkSettings, RunSettings, open_index, parse_run_settings
from steper.io import InputError
from steper.models.generation import GenerationSettings
from steper.settings import schema_default


def test_run_settings_fill_each_slice_from_the_schema():
    settings = parse_run_settings(json.dumps({"framework": {"top_k": 2}, "generation": {"batch_size": 3}}))
    assert isinstance(settings, RunSettings)
    assert settings.framework == FrameworkSettings(top_k=2)
    assert settings.generation == GenerationSettings(batch_size=3)
    assert settings.framework.k1 == schema_default("retrieval.k1")
    assert parse_run_settings(None) == RunSettings(FrameworkSettings(), GenerationSettings())


@pytest.mark.parametrize("value, field", [
    ({"framework": {"topk": 2}}, "topk"),
    ({"generation": {"batch_size": 0}}, "batch_size"),
    ({"sampling": {}}, "sampling"),
])
def test_run_settings_refuse_what_the_schema_does_not_allow(value, field):
    with pytest.raises(InputError) as error:
        parse_run_settings(json.dumps(value))
    assert error.value.field == field


@pytest.mark.parametrize("command", [
    ["teacher", "run", "--model-name", "m"],
    ["evaluate", "run", "--dataset", "d", "--system", "s--fewshot", "--predictions", "p.jsonl"],
])
def test_both_stages_refuse_a_bad_setting_alike(tmp_path, capsys, command):
    argv = [*command, "--framework", "ircot", "--records", str(tmp_path / "r.jsonl"), "--model", str(tmp_path / "m"),
            "--index-dir", str(tmp_path / "index"), "--output", str(tmp_path / "out.json"),
            "--settings", json.dumps({"framework": {"topk": 2}})]
    assert main(argv) == 2
    assert "--settings framework" in capsys.readouterr().err and not (tmp_path / "out.json").exists()


def test_the_backend_index_is_the_layouts():
    index_dir = layout.path("index_dir", run="demo", dataset="hotpotqa")
    assert layout.backend_index(index_dir, "bm25s") == layout.path("index", run="demo", dataset="hotpotqa", backend="bm25s")
    assert layout.backend_index(f"{index_dir}/", "bm25s") == layout.path("index", run="demo", dataset="hotpotqa", backend="bm25s")


def test_a_path_below_its_directory_is_filled_like_a_whole_one():
    gold_dir = layout.path("gold_dir", run="demo", model="teacher")
    relative = layout.below("gold_traces", "gold_dir", gold_framework="ircot")
    assert f"{gold_dir}/{relative}" == layout.path("gold_traces", run="demo", model="teacher", gold_framework="ircot")
    assert layout.below("gold_traces", "gold_dir") == "{gold_framework}.jsonl"
    with pytest.raises(KeyError, match="dataset"):
        layout.below("gold_traces", "gold_dir", dataset="hotpotqa")


def test_a_framework_that_retrieves_needs_the_backends_index(tmp_path):
    settings = FrameworkSettings(retrieval_backend="bm25s")
    assert open_index(None, "direct", settings) is None
    with pytest.raises(InputError, match="needs an index") as error:
        open_index(None, "ircot", settings)
    assert str(error.value).startswith("--index-dir")
    (tmp_path / "pyserini").mkdir()
    with pytest.raises(InputError, match="does not exist") as error:
        open_index(tmp_path, "ircot", settings)
    assert str(tmp_path / "bm25s") in str(error.value)
