"""Native readers on hand-written fixtures in each real format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steper.data import source
from steper.data.readers import read_records
from steper.data.records import Record
from steper.io import InputError

FIXTURES = Path(__file__).parent / "fixtures"
HOTPOT = FIXTURES / "hotpotqa" / "hotpot_dev_distractor_sample.json"
HOTPOT_HF = FIXTURES / "hotpotqa_hf" / "hotpot_qa_distractor_validation.jsonl"
TWOWIKI = FIXTURES / "2wikimultihopqa" / "dev.json"
ALIASES = FIXTURES / "2wikimultihopqa" / "id_aliases.json"
MUSIQUE = FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl"


def test_hotpotqa_official_schema_joins_sentences_without_separator():
    records = list(read_records("hotpotqa", HOTPOT, "hotpotqa"))
    assert [r.id for r in records] == [
        "5a8b57f25542995d1e6f1371",
        "5ab3b0bf5542992ade7c6e39",
        "5a85ea095542994775f606a8",
    ]
    comparison = records[0]
    assert comparison.type == "comparison" and comparison.answers == ["yes"]
    assert [s["title"] for s in comparison.supporting] == ["Scott Derrickson", "Ed Wood"]
    derrickson = next(c for c in comparison.contexts if c["title"] == "Scott Derrickson")
    assert derrickson["text"] == (
        "Scott Derrickson (born July 16, 1966) is an American director, screenwriter and producer. He lives in Los Angeles, California."
    )
    assert derrickson["is_supporting"] is True
    assert [c["is_supporting"] for c in comparison.contexts] == [False, True, True]
    assert records[1].answers == ["Łódź"] and records[1].supporting[1]["title"] == "Łódź Film School"
    # a title listed twice in supporting_facts gives one supporting paragraph
    assert [s["title"] for s in records[2].supporting] == ["Albert Einstein", "ETH Zurich"]
    assert records[0].decomposition == []


def test_hotpotqa_hugging_face_schema_gives_the_same_records():
    official = [r.to_dict() for r in read_records("hotpotqa", HOTPOT, "hotpotqa")]
    hub = [r.to_dict() for r in read_records("hotpotqa", HOTPOT_HF, "hotpotqa")]
    assert hub == official


def test_2wiki_aliases_by_answer_id_and_decomposition_from_evidences():
    records = {r.id: r for r in read_records("2wikimultihopqa", TWOWIKI, "2wikimultihopqa", aliases=ALIASES)}
    compositional = records["8813f87c0bdd11eba7f7acde48001122"]
    assert compositional.answers == ["Małgorzata Braunek", "Malgorzata Braunek", "M. Braunek"]
    assert compositional.decomposition == [
        {"question": "Who is the director of Polish-Russian War?", "answer": "Xawery Żuławski"},
        {"question": "Who is the mother of Xawery Żuławski?", "answer": "Małgorzata Braunek"},
    ]
    # sentences joined with a space
    assert compositional.supporting[1]["text"].startswith(
        "Xawery Żuławski (born 22 December 1971 in Warsaw) is a Polish film director. He is"
    )
    assert records["a3df5b6e0bdd11eba7f7acde48001122"].answers == ["The Mask Of Fu Manchu", "The Mask of Fu Manchu"]
    assert records["c9bfa1c60bdd11eba7f7acde48001122"].type == "inference"
    # no answer_id: the record's _id is looked up instead
    bridge = records["0f7a2c1e0bdd11eba7f7acde48001122"]
    assert bridge.answers == ["Polish-Russian War", "Polish-Russian War (film)"]
    assert len(bridge.supporting) == 4 and bridge.decomposition[2] == {
        "question": "When was Li Yang born?",
        "answer": "1959",
    }


def test_2wiki_without_aliases_keeps_the_gold_answer_only():
    first = next(read_records("2wikimultihopqa", TWOWIKI, "2wikimultihopqa"))
    assert first.answers == ["Małgorzata Braunek"]


def test_2wiki_aliases_as_one_json_object(tmp_path):
    aliases = tmp_path / "aliases.json"
    aliases.write_text(json.dumps({"Q3": ["Gosia Braunek"]}), encoding="utf-8")
    first = next(read_records("2wikimultihopqa", TWOWIKI, "2wikimultihopqa", aliases=aliases))
    assert first.answers == ["Małgorzata Braunek", "Gosia Braunek"]


def test_musique_keeps_hash_references_and_aliases():
    records = list(read_records("musique", MUSIQUE, "musique"))
    assert [r.type for r in records] == ["2hop", "3hop1", "4hop1"]
    four = records[2]
    assert four.answers == ["Bern", "Berne", "Bärn"]
    assert [s["question"] for s in four.decomposition] == [
        "Who developed the theory of relativity?",
        "#1 >> educated at",
        "In which city is #2 located?",
        "What is the federal city of the country containing #3?",
    ]
    assert [s["title"] for s in four.supporting] == ["Zürich", "ETH Zurich", "Albert Einstein", "Switzerland"]
    assert len(four.contexts) == 5 and four.contexts[4] == {
        "title": "Bern",
        "text": "Bern is the de facto capital of Switzerland.",
        "is_supporting": False,
    }
    assert records[1].answers == ["Poland", "Republic of Poland", "POL"]


def test_musique_as_json_list_skips_unanswerable(caplog):
    records = list(read_records("musique", FIXTURES / "musique" / "musique_full_v1.0_dev.json", "musique"))
    assert [r.id for r in records] == ["2hop__153573_109480"]
    assert "skipped 1 unanswerable" in caplog.text


def test_ircot_processed_with_idx_numbers_and_dates():
    records = list(read_records("ircot", FIXTURES / "ircot" / "hotpotqa_dev_subsampled.jsonl", "hotpotqa"))
    assert records[0].answers == ["yes"] and [s["title"] for s in records[0].supporting] == [
        "Scott Derrickson",
        "Ed Wood",
    ]
    assert records[1].answers == ["Łódź", "Lodz"]
    assert records[2].answers == ["40"]


def test_ircot_processed_with_id_and_reasoning_steps():
    records = list(read_records("ircot", FIXTURES / "ircot" / "2wikimultihopqa_dev.jsonl", "2wikimultihopqa"))
    assert records[1].answers == ["1959"]
    assert records[0].decomposition == []  # 2Wiki reasoning steps are not question/answer pairs
    assert records[2].decomposition == [
        {"question": "Green >> performer", "answer": "Steve Hillage"},
        {"question": "Steve Hillage >> spouse", "answer": "Miquette Giraudy"},
    ]
    assert records[2].contexts[1]["is_supporting"] is False  # missing flag means not supporting


def test_chains_fill_missing_decompositions(tmp_path):
    chains = tmp_path / "chains.jsonl"
    chain = [
        {"question": "Which nationality is Scott Derrickson?", "answer": "American"},
        {"question": "Which nationality is Ed Wood?", "answer": "American"},
    ]
    chains.write_text(json.dumps({"id": "5a8b57f25542995d1e6f1371", "decomposition": chain}) + "\n", encoding="utf-8")
    records = list(read_records("hotpotqa", HOTPOT, "hotpotqa", chains=chains))
    assert records[0].decomposition == chain and records[1].decomposition == []


def test_record_round_trip_and_validation():
    record = next(read_records("musique", MUSIQUE, "musique"))
    assert Record.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    bad = record.to_dict() | {"answers": []}
    with pytest.raises(InputError) as error:
        Record.from_dict(bad, "records.jsonl", line=7)
    assert (error.value.path, error.value.line, error.value.field) == ("records.jsonl", 7, "answers")
    with pytest.raises(InputError) as error:
        Record.from_dict({k: v for k, v in record.to_dict().items() if k != "question"}, "r.jsonl", line=2)
    assert error.value.field == "question"
    bad_context = record.to_dict()
    bad_context["contexts"] = [{"title": "x"}]
    with pytest.raises(InputError) as error:
        Record.from_dict(bad_context, "r.jsonl", line=3)
    assert error.value.field == "contexts[0].text"


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_json_list_streaming_across_chunk_boundaries(monkeypatch, chunk):
    expected = [r.to_dict() for r in read_records("2wikimultihopqa", TWOWIKI, "2wikimultihopqa")]
    monkeypatch.setattr(source, "_CHUNK", chunk)
    assert [r.to_dict() for r in read_records("2wikimultihopqa", TWOWIKI, "2wikimultihopqa")] == expected


def test_json_list_needs_separators(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"a": 1} {"b": 2}]', encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(source.iter_json_list(path))
    assert error.value.line == 1 and "expected ','" in str(error.value)
    path.write_text('[{"a": 1}, {"b": 2}', encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(source.iter_json_list(path))
    assert "unterminated" in str(error.value)


def test_supporting_title_missing_from_context_is_logged_not_fatal(tmp_path, caplog):
    records = json.loads(HOTPOT.read_text(encoding="utf-8"))
    records[0]["supporting_facts"].append(["Tim Burton", 0])
    path = tmp_path / "quirk.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    first = next(read_records("hotpotqa", path, "hotpotqa"))
    assert [s["title"] for s in first.supporting] == ["Scott Derrickson", "Ed Wood"]
    assert "Tim Burton" in caplog.text


def test_two_paragraphs_under_one_title_give_one_supporting_paragraph(tmp_path):
    # IRCoT (processing_scripts/process_hotpotqa.py) maps a title to its paragraph with a dict, so the
    # last paragraph under a repeated title is the gold one; `supporting` and `is_supporting` agree on it
    records = json.loads(HOTPOT.read_text(encoding="utf-8"))
    record = records[0]
    first_ed_wood = next(pair for pair in record["context"] if pair[0] == "Ed Wood")
    other = ["Ed Wood", [" Ed Wood is also a 1994 film by Tim Burton."]]
    record["context"] = [*record["context"], other]
    path = tmp_path / "repeated.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    read = next(read_records("hotpotqa", path, "hotpotqa"))
    ed_wood = [context for context in read.contexts if context["title"] == "Ed Wood"]
    assert [c["text"] for c in ed_wood] == ["".join(first_ed_wood[1]).strip(), "Ed Wood is also a 1994 film by Tim Burton."]
    assert [c["is_supporting"] for c in ed_wood] == [False, True]
    assert read.supporting[1] == {"title": "Ed Wood", "text": "Ed Wood is also a 1994 film by Tim Burton."}
    assert [s["title"] for s in read.supporting] == ["Scott Derrickson", "Ed Wood"]
    assert sum(c["is_supporting"] for c in read.contexts) == len(read.supporting) == 2
