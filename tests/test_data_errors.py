"""Bad input stops with one InputError naming file, line and field, and writes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from steper.cli import main
from steper.data.prepare import prepare
from steper.io import InputError

FIXTURES = Path(__file__).parent / "fixtures"


def steper(*args) -> int:
    """Run the CLI as the Snakemake rules do."""
    return main([str(a) for a in args])


def _hotpot_list(tmp_path: Path, mutate) -> Path:
    records = json.loads((FIXTURES / "hotpotqa" / "hotpot_dev_distractor_sample.json").read_text(encoding="utf-8"))
    mutate(records)
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_malformed_json_line_names_file_and_line(tmp_path):
    source = tmp_path / "musique.jsonl"
    lines = (FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:-5]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    with pytest.raises(InputError) as error:
        prepare("musique", "musique", source, output)
    assert error.value.path == str(source) and error.value.line == 2
    assert "malformed JSON" in str(error.value)
    assert not output.exists() and list(tmp_path.iterdir()) == [source]


def test_missing_field_in_json_list_names_record_index(tmp_path):
    source = _hotpot_list(tmp_path, lambda records: records[2].pop("question"))
    output = tmp_path / "out.jsonl"
    with pytest.raises(InputError) as error:
        prepare("hotpotqa", "hotpotqa", source, output)
    assert (error.value.line, error.value.field) == (3, "question")
    assert "record 3 of the JSON list, 1-based" in str(error.value)
    assert not output.exists()


def test_malformed_json_list_names_record(tmp_path):
    source = tmp_path / "broken.json"
    text = (FIXTURES / "2wikimultihopqa" / "dev.json").read_text(encoding="utf-8")
    source.write_text(text.replace('"type": "inference",', '"type": "inference"', 1), encoding="utf-8")
    with pytest.raises(InputError) as error:
        prepare("2wikimultihopqa", "2wikimultihopqa", source, tmp_path / "out.jsonl")
    assert error.value.line == 3 and "malformed JSON" in str(error.value)
    assert not (tmp_path / "out.jsonl").exists()


def test_nested_field_is_named(tmp_path):
    source = tmp_path / "ircot.jsonl"
    row = json.loads((FIXTURES / "ircot" / "2wikimultihopqa_dev.jsonl").read_text(encoding="utf-8").splitlines()[0])
    del row["contexts"][1]["id"]
    source.write_text("\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        prepare("ircot", "2wikimultihopqa", source, tmp_path / "out.jsonl")
    assert (error.value.line, error.value.field) == (2, "contexts[1].idx")


def test_schema_mismatch_in_hotpotqa_is_an_error(tmp_path):
    def mix(records):
        records[1]["id"] = records[1].pop("_id")  # HF id with an official list context

    with pytest.raises(InputError) as error:
        prepare("hotpotqa", "hotpotqa", _hotpot_list(tmp_path, mix), tmp_path / "out.jsonl")
    assert (error.value.line, error.value.field) == (2, "context")


def test_unknown_format_is_an_error(tmp_path):
    with pytest.raises(InputError) as error:
        prepare("natural_questions", "nq", FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl", tmp_path / "out.jsonl")
    assert error.value.field == "format" and "natural_questions" in str(error.value)
    assert not (tmp_path / "out.jsonl").exists()


def test_cli_reports_the_error_and_exits_nonzero(tmp_path, capsys):
    source = _hotpot_list(tmp_path, lambda records: records[0].pop("answer"))
    output = tmp_path / "data" / "dev.jsonl"
    code = steper(
        "data", "prepare", "--format", "hotpotqa", "--dataset", "hotpotqa", "--input", source, "--output", output
    )
    assert code == 2
    message = capsys.readouterr().err
    assert str(source) in message and "line 1" in message and "'answer'" in message
    assert not output.exists()


def test_cli_prepare_writes_unified_records(tmp_path):
    output = tmp_path / "dev.jsonl"
    shutil.copy(FIXTURES / "2wikimultihopqa" / "id_aliases.json", tmp_path / "id_aliases.json")
    fixture = FIXTURES / "2wikimultihopqa" / "dev.json"
    args = ["--format", "2wikimultihopqa", "--dataset", "2wikimultihopqa", "--input", fixture, "--output", output]
    code = steper("data", "prepare", *args, "--aliases", tmp_path / "id_aliases.json")
    assert code == 0
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4 and rows[0]["answers"][1] == "Malgorzata Braunek"
    assert set(rows[0]) == {"id", "dataset", "question", "answers", "type", "supporting", "decomposition", "contexts"}


def test_aliases_for_another_format_is_an_error(tmp_path):
    with pytest.raises(InputError) as error:
        prepare(
            "musique",
            "musique",
            FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl",
            tmp_path / "o.jsonl",
            aliases=FIXTURES / "2wikimultihopqa" / "id_aliases.json",
        )
    assert error.value.field == "aliases"
