"""steper/layout.py: every path of a run from one template, read back by the same template."""

import json

import pytest

from steper import layout
from steper.io import InputError
from steper.paper.results import load_eval_dir


def test_a_path_within_a_parent_reads_back_its_names():
    assert layout.below("eval", "results") == "eval/{framework}/{dataset}/{system}.json"
    assert layout.pattern("eval", parent="results") == "eval/*/*/*.json"
    assert layout.parse("eval", "eval/ircot/hotpotqa/s--m.json", parent="results") == {"framework": "ircot", "dataset": "hotpotqa", "system": "s--m"}
    assert layout.parse("eval", "eval/ircot/s--m.json", parent="results") is None
    with pytest.raises(KeyError, match="not under"):
        layout.below("log", "results")


def test_sidecars_are_the_artifact_and_a_suffix():
    assert layout.settings_sidecar("a/b.json") == "a/b.json.settings.json"
    assert layout.summary_sidecar("a/b.jsonl") == "a/b.jsonl.summary.json"
    assert layout.resume_sidecar("a/b.jsonl") == "a/b.jsonl.resume.json"
    assert layout.TEMPLATES["traces_summary"] == layout.summary_sidecar(layout.TEMPLATES["traces"])


def test_a_runs_evaluations_are_read_by_their_template(tmp_path):
    directory = tmp_path / "eval" / "ircot" / "hotpotqa"
    directory.mkdir(parents=True)
    for name in ("s--m.json", "s--m--seed1.json"):
        (directory / name).write_text(json.dumps({"system": "s--m", "metrics": {"acc": 50.0}, "n": 2}))
    (directory / layout.settings_sidecar("s--m.json")).write_text("{}")
    (directory / layout.summary_sidecar("s--m.predictions.jsonl")).write_text("{}")
    (directory / layout.resume_sidecar("s--m.predictions.jsonl")).write_text("{}")  # what a finished run leaves
    assert sorted(load_eval_dir(tmp_path)) == [("ircot", "hotpotqa", "s--m"), ("ircot", "hotpotqa", "s--m--seed1")]
    with pytest.raises(InputError, match="holds no evaluation"):
        load_eval_dir(tmp_path / "empty")
