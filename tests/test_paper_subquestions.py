"""Sub-questions for Table 4: from gold decompositions and from a SubQA file (steper.data.subqa, `steper evaluate subquestions`)."""

import json
from pathlib import Path

import pytest

from steper.cli import main
from steper.data.subqa import from_decompositions, read_subqa
from steper.io import InputError
from steper.paper.tables import subquestion_outcomes

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = FIXTURES / "results" / "predictions" / "test.jsonl"


def test_toy_decompositions_become_records():
    records = [json.loads(line) for line in RECORDS.read_text().splitlines()]
    subs = from_decompositions(records)
    q1 = [sub for sub in subs if sub["parent"] == "q1"]
    assert [(s["id"], s["question"], s["answers"]) for s in q1] == [
        ("q1#1", "Who wrote The Hollow Orchard?", ["Tamsin Everhart"]),
        ("q1#2", "Where was Tamsin Everhart born?", ["Dunmore"]),
    ]


def test_musique_references_are_filled_with_earlier_answers():
    record = {"id": "2hop_1", "decomposition": [{"question": "Green >> performer", "answer": "Steve Hillage"},
                                                 {"question": "#1 >> spouse", "answer": "Miquette Giraudy"}]}
    subs = from_decompositions([record])
    assert subs[1]["question"] == "Steve Hillage >> spouse" and subs[1]["answers"] == ["Miquette Giraudy"]
    # a hop without a question (2Wiki evidence triples) cannot be asked: the question is left out
    assert from_decompositions([{"id": "x", "decomposition": [{"question": "", "answer": "a"}, {"question": "b?", "answer": "c"}]}]) == []


def test_subqa_file_and_cli(tmp_path):
    subqa = FIXTURES / "subqa" / "hotpotqa_subqa.jsonl"
    assert read_subqa(subqa)["q2"][0] == ("Who directed Silver Tides?", ["Ada Brennan"])
    output = tmp_path / "subquestions.jsonl"
    assert main(["evaluate", "subquestions", "--records", str(RECORDS), "--subqa", str(subqa), "--output", str(output)]) == 0
    ids = [json.loads(line)["id"] for line in output.read_text().splitlines()]
    assert ids == ["q2#1", "q2#2"]  # q9 of the SubQA file is not a test record


def test_no_subquestion_is_an_error(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": "a", "question": "q?", "answers": ["x"], "decomposition": []}) + "\n")
    output = tmp_path / "out.jsonl"
    assert main(["evaluate", "subquestions", "--records", str(records), "--output", str(output)]) == 2
    assert "paper.subquestions.subqa" in capsys.readouterr().err and not output.exists()


def test_malformed_subqa_names_line_and_field(tmp_path):
    bad = tmp_path / "subqa.jsonl"
    bad.write_text(json.dumps({"id": "a", "sub_questions": [{"question": "x"}]}) + "\n")
    with pytest.raises(InputError, match="line 1: field 'sub_questions'"):
        read_subqa(bad)


def test_outcomes_pair_questions_with_their_hops():
    question = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0}
    subs = {"a#1": 1.0, "a#2": 1.0, "b#1": 1.0, "b#2": 0.0, "c#1": 1.0, "c#2": 1.0, "d#1": 0.0, "d#2": 1.0}
    outcomes = subquestion_outcomes(question, subs)
    assert [max(o, key=o.get) for o in outcomes.values()] == ["both", "question_only", "subquestions_only", "neither"]
