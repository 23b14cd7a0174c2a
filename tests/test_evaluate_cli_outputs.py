"""What `steper evaluate subquestions|score` write and refuse, and the options each command documents."""

import argparse
import json
import struct
from pathlib import Path

import pytest

from steper.cli import build_parser, main
from steper.frameworks.registry import FRAMEWORKS

FIXTURES = Path(__file__).parent / "fixtures"
PREDICTIONS = FIXTURES / "results" / "predictions"
SUBQA = FIXTURES / "subqa" / "hotpotqa_subqa.jsonl"


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _record(qid, decomposition=(), **extra) -> dict:
    return {"id": qid, "dataset": "hotpotqa", "question": f"question {qid}?", "answers": ["x"], "decomposition": list(decomposition), **extra}


def _subquestions(tmp_path, records: Path, *extra):
    output = tmp_path / "subquestions.jsonl"
    return main(["evaluate", "subquestions", "--records", str(records), "--output", str(output), *extra]), output


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_subquestions_of_the_gold_decompositions(tmp_path):
    hops = [{"question": "Who wrote Harbor Lights?", "answer": "Ada Finch"}, {"question": "Where was #1 born?", "answer": "Dunmore"}]
    records = _write_jsonl(tmp_path / "test.jsonl", [_record(7, hops), _record(8)])
    code, output = _subquestions(tmp_path, records)
    assert code == 0
    # the integer id is read as the string every other stage uses for it
    assert _rows(output) == [
        {"id": "7#1", "dataset": "hotpotqa", "question": "Who wrote Harbor Lights?", "answers": ["Ada Finch"], "type": "subquestion",
         "parent": "7", "hop": 1, "supporting": [], "decomposition": [], "contexts": []},
        {"id": "7#2", "dataset": "hotpotqa", "question": "Where was Ada Finch born?", "answers": ["Dunmore"], "type": "subquestion",
         "parent": "7", "hop": 2, "supporting": [], "decomposition": [], "contexts": []},
    ]


def test_subquestions_of_a_subqa_file(tmp_path):
    # q2 of the SubQA fixture, with a gold decomposition of its own that --subqa replaces
    own = [{"question": "own hop?", "answer": "a"}, {"question": "own second hop?", "answer": "b"}]
    records = _write_jsonl(tmp_path / "test.jsonl", [_record("q2", own), _record("q404", own)])
    code, output = _subquestions(tmp_path, records, "--subqa", str(SUBQA))
    assert code == 0
    rows = _rows(output)
    assert [(row["id"], row["question"], row["answers"]) for row in rows] == [
        ("q2#1", "Who directed Silver Tides?", ["Ada Brennan"]),
        ("q2#2", "In which country is Ada Brennan's birthplace?", ["Norway", "Kingdom of Norway"]),
    ]


def test_no_subquestions_is_refused_naming_the_records_and_the_source(tmp_path, capsys):
    records = _write_jsonl(tmp_path / "test.jsonl", [_record("q1")])
    code, output = _subquestions(tmp_path, records)
    assert code == 2 and not output.exists()
    assert capsys.readouterr().err == (
        f"error: {records}: no question has sub-questions in the records' gold decompositions"
        " (real HotpotQA records carry none: set paper.subquestions.subqa to a SubQA file)\n"
    )
    code, output = _subquestions(tmp_path, records, "--subqa", str(SUBQA))
    assert code == 2 and not output.exists()
    assert capsys.readouterr().err == f"error: {records}: no question has sub-questions in {SUBQA} (SubQA)\n"


@pytest.mark.parametrize("field", ["id", "question", "answers"])
def test_subquestions_refuse_a_record_without_a_required_field(tmp_path, capsys, field):
    hops = [{"question": "a?", "answer": "b"}, {"question": "c?", "answer": "d"}]
    record = _record("q1", hops)
    del record[field]
    records = _write_jsonl(tmp_path / "test.jsonl", [record])
    code, output = _subquestions(tmp_path, records)
    assert code == 2 and not output.exists()
    assert capsys.readouterr().err == f"error: {records}, line 1: field '{field}' is missing\n"


def _score(tmp_path, *extra):
    output = tmp_path / "stu--steper.json"
    argv = [
        "evaluate", "score", "--framework", "ircot", "--dataset", "hotpotqa", "--system", "stu--steper",
        "--records", str(PREDICTIONS / "test.jsonl"), "--predictions", str(PREDICTIONS / "stu--steper.predictions.jsonl"),
        "--output", str(output), *extra,
    ]
    assert main(argv) == 0
    return json.loads(output.read_text())


def test_score_records_the_model_and_settings_it_was_given(tmp_path):
    assert _score(tmp_path)["settings"] is None
    # a model directory holding one hand-written safetensors file of a 3 x 5 tensor
    model = tmp_path / "model"
    model.mkdir()
    header = json.dumps({"w": {"dtype": "F32", "shape": [3, 5], "data_offsets": [0, 60]}}).encode()
    (model / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(60))
    result = _score(tmp_path, "--model", str(model), "--settings", json.dumps({"framework": {"top_k": 3}}))
    assert result["model_dir"] == str(model) and result["n_parameters"] == 15
    assert result["settings"]["framework"]["top_k"] == 3 and result["settings"]["generation"]["seed"] == 0


def _options(command: str) -> dict[str, tuple]:
    """The options of `steper evaluate <command>`: (required, default, help) by flag."""
    parser = build_parser("evaluate")
    stage = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["evaluate"]
    commands = next(a for a in stage._actions if isinstance(a, argparse._SubParsersAction))
    return {
        action.option_strings[0]: (action.required, action.default, action.help)
        for action in commands.choices[command]._actions if action.option_strings and action.dest != "help"
    }


COMMON = {
    "--framework": (True, None, None),
    "--dataset": (True, None, "dataset name (recorded in the output)"),
    "--system": (True, None, "'{student}--{method}' or '{model}--fewshot'"),
    "--records": (True, None, "unified records (test.jsonl) with gold answers"),
    "--predictions": (
        True, None,
        "trace-format predictions (.predictions.jsonl); `run` resumes them only if the same model files, records and settings wrote them",
    ),
    "--output": (True, None, "evaluation JSON"),
}


def test_the_commands_and_their_help():
    parser = build_parser("evaluate")
    stage = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["evaluate"]
    commands = next(a for a in stage._actions if isinstance(a, argparse._SubParsersAction))
    assert {action.dest: action.help for action in commands._choices_actions} == {
        "run": "run a framework with a model on test records, then score it",
        "subquestions": "the sub-questions of test records, as records of their own (Table 4)",
        "score": "score an existing predictions or trace file",
    }
    run = _options("run")
    assert {flag: run[flag] for flag in [*COMMON, "--model"]} == {**COMMON, "--model": (True, None, "model directory (HF format)")}
    assert _options("score") == {
        **COMMON,
        "--model": (False, None, "model directory, to record its parameter count"),
        "--settings": (False, None, "settings the traces were made with (recorded, not used)"),
        "--partial": (False, False, "allow records without a prediction"),
    }
    assert _options("subquestions") == {
        "--records": (True, None, "unified records (test.jsonl)"),
        "--subqa": (False, None, "SubQA file (format: steper/data/subqa.py); default: the records' decompositions"),
        "--output": (True, None, "sub-question records (.jsonl)"),
    }


@pytest.mark.parametrize("command", ["run", "score"])
@pytest.mark.parametrize("flag", ["--framework", "--dataset", "--system", "--records", "--predictions", "--output", "--model"])
def test_a_required_option_left_out_is_refused(tmp_path, capsys, command, flag):
    values = {
        "--framework": "ircot", "--dataset": "hotpotqa", "--system": "stu--steper", "--records": str(PREDICTIONS / "test.jsonl"),
        "--predictions": str(PREDICTIONS / "stu--steper.predictions.jsonl"), "--output": str(tmp_path / "out.json"), "--model": str(tmp_path),
    }
    if command == "score" and flag == "--model":
        return
    argv = ["evaluate", command, *(arg for name, value in values.items() if name != flag for arg in (name, value))]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and flag in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("flag", ["--records", "--output"])
def test_subquestions_refuse_a_required_option_left_out(tmp_path, capsys, flag):
    values = {"--records": str(PREDICTIONS / "test.jsonl"), "--output": str(tmp_path / "out.jsonl")}
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "subquestions", *(arg for name, value in values.items() if name != flag for arg in (name, value))])
    assert exit_.value.code == 2 and flag in capsys.readouterr().err


def test_an_unknown_framework_is_refused(tmp_path, capsys):
    argv = [
        "evaluate", "score", "--framework", "ircotx", "--dataset", "hotpotqa", "--system", "stu--steper",
        "--records", str(PREDICTIONS / "test.jsonl"), "--predictions", str(PREDICTIONS / "stu--steper.predictions.jsonl"),
        "--output", str(tmp_path / "out.json"),
    ]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "ircotx" in capsys.readouterr().err
    assert "ircot" in FRAMEWORKS
