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


# ------------------------------------------------------------------ bad native records, message by message

OFFICIAL = {"_id": "a", "question": "Q?", "answer": "A", "type": "bridge", "supporting_facts": [["T1", 0]],
            "context": [["T1", [" One.", " Two."]], ["T2", ["Three."]]]}
HUB = {"id": "h", "question": "Q?", "answer": "A", "supporting_facts": {"title": ["T1"], "sent_id": [0]},
       "context": {"title": ["T1", "T2"], "sentences": [[" One."], ["Three."]]}}
WIKI = {**OFFICIAL, "_id": "w", "evidences": [["T1", "educated at", "ETH Zurich"]]}
MUSIQUE_RECORD = {"id": "2hop__1_2", "question": "Q?", "answer": "A", "answer_aliases": ["Ay"], "question_decomposition": [
    {"question": "q1", "answer": "a1"}], "paragraphs": [{"title": "T1", "paragraph_text": "One.", "is_supporting": True}, {"title": "T2", "paragraph_text": "Two."}]}


def lines_file(tmp_path: Path, rows: list, name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def first_error(fmt: str, path: Path, **kwargs) -> str:
    with pytest.raises(InputError) as error:
        list(read_records(fmt, path, "ds", **kwargs))
    return str(error.value)


@pytest.mark.parametrize(
    "fmt, record, message",
    [
        ("hotpotqa", {**OFFICIAL, "answer": " "}, "field 'answer' is empty"),
        ("hotpotqa", {**OFFICIAL, "answer": 5}, "field 'answer' must be str, got int"),
        ("hotpotqa", {**OFFICIAL, "question": ["Q?"]}, "field 'question' must be str, got list"),
        ("hotpotqa", {k: v for k, v in OFFICIAL.items() if k != "_id"}, "field '_id' is missing (neither '_id' nor 'id' present)"),
        ("hotpotqa", {**OFFICIAL, "context": HUB["context"]},
         "field 'context' does not match the record's schema (official: '_id' + list; Hugging Face: 'id' + dict)"),
        ("hotpotqa", {**OFFICIAL, "context": [["T1"]]}, "field 'context[0]' must be [title, [sentences]]"),
        ("hotpotqa", {**OFFICIAL, "context": ["ab"]}, "field 'context[0]' must be [title, [sentences]]"),
        ("hotpotqa", {**OFFICIAL, "context": [["T1", ["One."]], [5, ["x"]]]},
         "field 'context[1]' must hold a title string and a list of sentence strings"),
        ("hotpotqa", {**OFFICIAL, "context": [["T1", "One."]]}, "field 'context[0]' must hold a title string and a list of sentence strings"),
        ("hotpotqa", {**OFFICIAL, "context": [["T1", [1]]]}, "field 'context[0]' must hold a title string and a list of sentence strings"),
        ("hotpotqa", {**OFFICIAL, "supporting_facts": "T1"}, "field 'supporting_facts' must be list or dict, got str"),
        ("hotpotqa", {**OFFICIAL, "supporting_facts": [["T1", 0], ["T2"]]}, "field 'supporting_facts[1]' must be [title, sentence_id]"),
        ("hotpotqa", {**OFFICIAL, "supporting_facts": [[5, 0]]}, "field 'supporting_facts[0]' must be [title, sentence_id]"),
        ("hotpotqa", {**HUB, "supporting_facts": {"title": "T1"}}, "field 'title' must be list, got str"),
        ("hotpotqa", {**HUB, "context": {"title": "T1", "sentences": [[" One."]]}}, "field 'title' must be list, got str"),
        ("hotpotqa", {**HUB, "context": {"title": ["T1"], "sentences": "One."}}, "field 'sentences' must be list, got str"),
        ("hotpotqa", {**HUB, "context": {"title": ["T1", "T2"], "sentences": [[" One."]]}},
         "field 'context' 'title' and 'sentences' differ in length"),
        ("2wikimultihopqa", {**WIKI, "answer": 5}, "field 'answer' must be str, got int"),
        ("2wikimultihopqa", {**WIKI, "evidences": [["T1", "educated at"]]}, "field 'evidences[0]' must be [subject, relation, object]"),
        ("2wikimultihopqa", {**WIKI, "evidences": [WIKI["evidences"][0], [1, "b", "c"]]}, "field 'evidences[1]' must be [subject, relation, object]"),
        ("musique", {**MUSIQUE_RECORD, "id": ["x"]}, "field 'id' must be str or int, got list"),
        ("musique", {**MUSIQUE_RECORD, "answer": 5}, "field 'answer' must be str, got int"),
        ("musique", {**MUSIQUE_RECORD, "answer": "", "answer_aliases": [" "]}, "field 'answer' is empty"),
        ("musique", {**MUSIQUE_RECORD, "answer_aliases": "Ay"}, "field 'answer_aliases' must be a list"),
        ("musique", {**MUSIQUE_RECORD, "question": 5}, "field 'question' must be str, got int"),
        ("musique", {**MUSIQUE_RECORD, "paragraphs": "T1"}, "field 'paragraphs' must be list, got str"),
        ("musique", {**MUSIQUE_RECORD, "paragraphs": ["T1"]}, "field 'paragraphs[0]' must be an object"),
        ("musique", {**MUSIQUE_RECORD, "paragraphs": [{"title": "T1"}]}, "field 'paragraphs[0].paragraph_text' is missing or not a string"),
        ("musique", {**MUSIQUE_RECORD, "question_decomposition": "q1"}, "field 'question_decomposition' must be list, got str"),
        ("musique", {**MUSIQUE_RECORD, "question_decomposition": ["q1"]}, "field 'question_decomposition[0]' must have string 'question' and 'answer'"),
        ("musique", {**MUSIQUE_RECORD, "question_decomposition": [{"question": 5, "answer": "a"}]},
         "field 'question_decomposition[0]' must have string 'question' and 'answer'"),
        ("musique", {**MUSIQUE_RECORD, "question_decomposition": [{"question": "q", "answer": 5}]},
         "field 'question_decomposition[0]' must have string 'question' and 'answer'"),
    ],
)
def test_a_bad_native_record_is_named_by_file_line_and_field(tmp_path, fmt, record, message):
    good = {"hotpotqa": OFFICIAL, "2wikimultihopqa": WIKI, "musique": MUSIQUE_RECORD}[fmt]
    path = lines_file(tmp_path, [good, record])
    assert first_error(fmt, path) == f"{path}, line 2: {message}"


def test_records_carry_dataset_question_type_and_joined_text(tmp_path):
    official = next(read_records("hotpotqa", lines_file(tmp_path, [{k: v for k, v in OFFICIAL.items() if k != "type"}]), "mine"))
    assert (official.dataset, official.question, official.type) == ("mine", "Q?", "")
    assert official.contexts[0] == {"title": "T1", "text": "One. Two.", "is_supporting": True}
    wiki = next(read_records("2wikimultihopqa", lines_file(tmp_path, [WIKI], "w.jsonl"), "wiki"))
    assert (wiki.dataset, wiki.contexts[0]["text"]) == ("wiki", "One.  Two.")  # 2Wiki joins its sentences with a space
    assert wiki.decomposition == [{"question": "What is the educated at of T1?", "answer": "ETH Zurich"}]
    musique = list(read_records("musique", lines_file(tmp_path, [{**MUSIQUE_RECORD, "id": "single"}], "m.jsonl"), "mq"))[0]
    assert (musique.dataset, musique.type, musique.question) == ("mq", "", "Q?")
    assert [c["is_supporting"] for c in musique.contexts] == [True, False]


def test_musique_skips_every_unanswerable_record_wherever_it_is(tmp_path, caplog):
    rows = [{**MUSIQUE_RECORD, "id": "u1", "answerable": False}, MUSIQUE_RECORD, {**MUSIQUE_RECORD, "id": "u2", "answerable": False}]
    assert [r.id for r in read_records("musique", lines_file(tmp_path, rows), "m")] == ["2hop__1_2"]
    assert "skipped 2 unanswerable records" in caplog.text


def test_context_paragraphs_of_every_format(tmp_path):
    from steper.data import hotpotqa, musique, twowiki

    assert list(hotpotqa.context_paragraphs(lines_file(tmp_path, [OFFICIAL, HUB]))) == [
        ("T1", "One. Two."), ("T2", "Three."), ("T1", "One."), ("T2", "Three.")]
    assert list(twowiki.context_paragraphs(lines_file(tmp_path, [WIKI]))) == [("T1", "One.  Two."), ("T2", "Three.")]
    assert list(musique.context_paragraphs(lines_file(tmp_path, [MUSIQUE_RECORD]))) == [("T1", "One."), ("T2", "Two.")]
    bad = lines_file(tmp_path, [OFFICIAL, {**OFFICIAL, "context": "T1"}], "bad.jsonl")
    with pytest.raises(InputError) as error:
        list(hotpotqa.context_paragraphs(bad))
    assert str(error.value) == f"{bad}, line 2: field 'context' must be list or dict, got str"


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([{"Q_id": "Q1", "aliases": ["A"], "demonyms": ["Ab"]}], {"Q1": ["A", "Ab"]}),  # one line is JSON lines, not a mapping
        ([{"Q_id": "Q1", "aliases": ["A"]}, {"Q_id": "Q2", "aliases": [], "demonyms": None}], {"Q1": ["A"], "Q2": []}),
    ],
)
def test_2wiki_alias_lines(tmp_path, lines, expected):
    from steper.data.twowiki import load_aliases

    assert load_aliases(lines_file(tmp_path, lines)) == expected


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"Q3": ["Gosia", 5]}', "field 'Q3' must map an id to a list of strings"),
        ('{"Q3": "Gosia"}', "field 'Q3' must map an id to a list of strings"),
        ('{"Q_id": 5, "aliases": []}\n{"Q_id": "Q2", "aliases": []}\n', "line 1: field 'Q_id' must be str, got int"),
        ('{"Q_id": "Q1", "aliases": []}\n{"Q_id": "Q2", "aliases": "A"}\n', "line 2: field 'aliases' must be list, got str"),
    ],
)
def test_2wiki_alias_errors(tmp_path, content, message):
    from steper.data.twowiki import load_aliases

    path = tmp_path / "aliases.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_aliases(path)
    assert str(error.value) == f"{path}{', ' if message.startswith('line') else ': '}{message}"
