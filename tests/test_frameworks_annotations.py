"""Conversion of IRCoT's annotation files, the demonstration file, and the `steper teacher` CLI."""

import json
from pathlib import Path

import pytest
import yaml

from steper.cli import main
from steper.frameworks.demonstrations import (
    convert_annotations,
    load_demonstrations,
    load_followups,
    parse_annotation_jsonnet,
    select_demonstrations,
)
from steper.io import InputError

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "frameworks"


def test_parse_jsonnet_subset():
    data = parse_annotation_jsonnet(
        "[ # c\n {'a': 'it\\'s \"x\"', \"b\": [1, 2,], 'c': \"# not a comment, ]\",}, ]"
    )
    assert data == [{"a": "it's \"x\"", "b": [1, 2], "c": "# not a comment, ]"}]
    with pytest.raises(InputError):
        parse_annotation_jsonnet("[{'a': }]")


def test_convert_fixture_without_records_uses_snippets():
    demos = convert_annotations(str(FIXTURES / "annotations.jsonnet"))
    first, second = demos
    assert first.id == "q-hotpot-1" and first.answer == "Brennan Vale"
    assert first.cot == [
        "The film that stars Tamsin Everhart is The Hollow Orchard.",
        "The Hollow Orchard was directed by Brennan Vale.",
        "So the answer is: Brennan Vale.",
    ]
    assert first.contexts == [
        {"title": "The Hollow Orchard", "text": "The Hollow Orchard is a 1998 drama film starring Tamsin Everhart.", "supporting": True},
        {"title": "Brennan Vale", "text": 'Brennan Vale directed "The Hollow Orchard".', "supporting": True},
    ]
    assert second.question == 'Where was the author of "Quiet Harbor" born?'
    assert second.answer == "St. Albans"
    assert second.contexts[0] == {"title": "Quiet Harbor", "text": "Quiet Harbor is a novel", "supporting": True}  # no snippet: the substring
    assert second.followups == []


def test_convert_with_records_takes_full_passages_and_distractors():
    demos = convert_annotations(str(FIXTURES / "annotations.jsonnet"), records_path=FIXTURES / "annotation_records.jsonl")
    assert [c["title"] for c in demos[1].contexts] == ["Harbor Lights", "Quiet Harbor", "Mara Quill"]
    assert demos[1].contexts[1]["text"] == "Quiet Harbor is a novel by Mara Quill, published in 1971."
    assert [c["supporting"] for c in demos[1].contexts] == [False, True, True]


def test_selfask_followups_come_from_the_records_decomposition(tmp_path):
    lines = [json.loads(line) for line in (FIXTURES / "annotation_records.jsonl").read_text().splitlines()]
    lines[0]["decomposition"] = [
        {"question": 'Who wrote "Quiet Harbor"?', "answer": "Mara Quill"},
        {"question": "Where was #1 born?", "answer": "St. Albans"},
    ]
    records = tmp_path / "musique_records.jsonl"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    other = tmp_path / "other_split.jsonl"
    other.write_text(json.dumps({"id": "unrelated", "contexts": [], "decomposition": []}) + "\n")
    out = tmp_path / "demos.jsonl"
    args = ["teacher", "annotations", "--dataset", "musique", "--input", str(FIXTURES / "annotations.jsonnet")]
    assert main([*args, "--records", str(other), str(records), "--output", str(out)]) == 0
    hotpot, musique = load_demonstrations(out)
    assert hotpot.followups == []  # no record, no decomposition
    assert musique.followups == [
        {"question": 'Who wrote "Quiet Harbor"?', "answer": "Mara Quill"},
        {"question": "Where was Mara Quill born?", "answer": "St. Albans"},
    ]
    assert select_demonstrations([hotpot, musique], 1, 0, needs_followups=True) == [musique]


def test_followups_file_fills_questions_without_a_decomposition(tmp_path, caplog):
    lines = [json.loads(line) for line in (FIXTURES / "annotation_records.jsonl").read_text().splitlines()]
    lines[0]["decomposition"] = [{"question": "Who wrote Quiet Harbor?", "answer": "Mara Quill"}]
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    hotpot, musique = convert_annotations(str(FIXTURES / "annotations.jsonnet"), records_path=records, followups_path=FIXTURES / "followups.jsonl")
    assert hotpot.followups == [
        {"question": "Which film stars Tamsin Everhart?", "answer": "The Hollow Orchard"},
        {"question": "Who directed The Hollow Orchard?", "answer": "Brennan Vale"},
    ]
    assert musique.followups == [{"question": "Who wrote Quiet Harbor?", "answer": "Mara Quill"}]  # the record's gold one wins
    assert "q-not-annotated" in caplog.text


@pytest.mark.parametrize(
    "line, field",
    [
        ({"id": "q-hotpot-1", "question": "Who directed another film?", "followups": [{"question": "q", "answer": "a"}]}, "question"),
        ({"id": "q-hotpot-1", "question": "q", "followups": []}, "followups"),
        ({"id": "q-hotpot-1", "question": "q", "followups": [{"question": "q", "answer": " "}]}, "followups"),
        ({"id": "q-hotpot-1", "question": "q"}, "followups"),
    ],
)
def test_bad_followups_file(tmp_path, line, field):
    path = tmp_path / "followups.jsonl"
    path.write_text(json.dumps({"id": "other", "question": "q", "followups": [{"question": "q", "answer": "a"}]}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(InputError) as error:
        convert_annotations(str(FIXTURES / "annotations.jsonnet"), followups_path=path)
    assert (error.value.path, error.value.line, error.value.field) == (str(path), 2, field)


def test_shipped_followups_cover_ircot_hotpotqa_questions():
    """The schema's default follow-ups file: IRCoT's 29 HotpotQA questions, each at least two hops."""
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    default = schema["properties"]["data"]["properties"]["annotations"]["properties"]["followups"]["default"]
    entries = load_followups(ROOT / default["hotpotqa"])
    assert len(entries) == 29
    assert all(len(entry.followups) >= 2 for entry in entries.values())


def test_cli_annotations_and_demonstration_selection(tmp_path):
    out = tmp_path / "demos.jsonl"
    assert main(["teacher", "annotations", "--dataset", "musique", "--input", str(FIXTURES / "annotations.jsonnet"), "--output", str(out)]) == 0
    demos = load_demonstrations(out)
    assert len(demos) == 2 and demos[0].cot[-1] == "So the answer is: Brennan Vale."
    assert select_demonstrations(demos, 0, 0, False) == []
    assert select_demonstrations(demos, 2, 1, False) == select_demonstrations(demos, 2, 1, False)
    with pytest.raises(InputError, match="follow-up"):
        select_demonstrations(demos, 1, 0, True)  # IRCoT's annotations carry no decomposition


def test_bad_demonstration_file(tmp_path):
    path = tmp_path / "demos.jsonl"
    path.write_text(json.dumps({"id": "1", "question": "q", "answer": "a", "contexts": [{"title": "t"}], "cot": []}) + "\n")
    with pytest.raises(InputError) as error:
        load_demonstrations(path)
    assert error.value.line == 1 and error.value.field == "contexts"


def test_cli_rejects_unknown_settings(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": "1", "question": "q", "answers": ["a"]}) + "\n")
    code = main([
        "teacher", "run", "--framework", "direct", "--records", str(records), "--model", "m", "--model-name", "m",
        "--output", str(tmp_path / "out.jsonl"), "--settings", json.dumps({"framework": {"top_kk": 3}}),
    ])
    assert code == 2 and "top_kk" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_selection_covers_question_shapes_first():
    base = load_demonstrations(FIXTURES / "demonstrations.jsonl")[0]
    questions = ["Where was A born?", "Where was B born?", "Where was C born?", "Who was born first, A or B?", "In which country was A born?"]
    demos = [type(base)(str(i), q, "x", [], ["So the answer is: x."]) for i, q in enumerate(questions)]
    for seed in range(5):
        chosen = select_demonstrations(demos, 3, seed, False)
        assert len({d.question.split()[0] for d in chosen}) == 3  # one "Where", one "Who", one "In"
    assert len(select_demonstrations(demos, 5, 0, False)) == 5
