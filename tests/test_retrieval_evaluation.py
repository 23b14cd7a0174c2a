"""steper.retrieval.evaluation and steper.retrieval.corpus without a JVM: the bm25s backend only, every
refusal word for word, and the recall figures of tests/test_retrieval_eval.py's docstring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steper.io import InputError
from steper.retrieval import Passage, build_index, read_corpus
from steper.retrieval.corpus import sort_hits
from steper.retrieval.evaluation import RetrievalEvalSettings, evaluate_retrieval, found, match_keys, overlap, passage_id, read_questions
from steper.settings import config_hash, git_revision

FIXTURES = Path(__file__).parent / "fixtures" / "retrieval"
SETTINGS = RetrievalEvalSettings(eval_k=[2, 1, 3, 2], k1=0.9, b=0.4, agreement_k=3)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bm25s")
    build_index(FIXTURES / "corpus.jsonl", root / "bm25s", "bm25s", k1=0.9, b=0.4)
    return root


def write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def error_of(call) -> str:
    with pytest.raises(InputError) as error:
        call()
    return str(error.value)


def test_recall_all_found_and_agreement_by_hand(index_dir):
    result = evaluate_retrieval(FIXTURES / "records.jsonl", index_dir, ["bm25s", "bm25s"], "fixture", SETTINGS)
    data = {"eval_k": [2, 1, 3, 2], "k1": 0.9, "b": 0.4, "agreement_k": 3}
    assert result == {
        "dataset": "fixture", "n_questions": 4, "n_without_supporting": 1,
        "backends": {"bm25s": {"recall": {"1": 62.5, "2": 87.5, "3": 100.0}, "all_found": {"1": 25.0, "2": 75.0, "3": 100.0},
                               "matched_by_title": 1}},
        "agreement": {"backends": ["bm25s", "bm25s"], "k": 3, "overlap": 1.0},
        "settings": data, "config_hash": config_hash(data), "git_revision": git_revision(),
    }


def test_questions_without_support_are_left_out_and_none_left_is_an_error(index_dir, tmp_path, caplog):
    rows = [json.loads(line) for line in (FIXTURES / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    only = write(tmp_path / "one.jsonl", [row for row in rows if row["id"] == "q3"] + [dict(rows[0], id=7, supporting=[])])
    result = evaluate_retrieval(only, index_dir, ["bm25s"], "d", RetrievalEvalSettings(eval_k=[1], k1=0.9, b=0.4, agreement_k=1))
    assert (result["n_questions"], result["n_without_supporting"], result["agreement"]) == (1, 1, None)
    assert "1 of 2 questions have no supporting passages and are left out" in caplog.text
    none = write(tmp_path / "none.jsonl", [dict(rows[0], supporting=[])])
    assert error_of(lambda: evaluate_retrieval(none, index_dir, ["bm25s"], "d", SETTINGS)) == f"{none}: no question has supporting passages"


@pytest.mark.parametrize(
    "backends, settings, message",
    [
        ([], SETTINGS, "--backends: name at least one backend"),
        (["bm25s", "elastic"], SETTINGS, "--backends: unknown backend 'elastic' (known: pyserini, bm25s)"),
        (["bm25s"], RetrievalEvalSettings(eval_k=[], k1=0.9, b=0.4, agreement_k=3),
         "--settings: field 'eval_k' must be a non-empty list of positive integers, got []"),
        (["bm25s"], RetrievalEvalSettings(eval_k=[1, 0], k1=0.9, b=0.4, agreement_k=3),
         "--settings: field 'eval_k' must be a non-empty list of positive integers, got [1, 0]"),
        (["bm25s"], RetrievalEvalSettings(eval_k=[1, "2"], k1=0.9, b=0.4, agreement_k=3),
         "--settings: field 'eval_k' must be a non-empty list of positive integers, got [1, '2']"),
        (["bm25s"], RetrievalEvalSettings(eval_k=[1], k1=0.9, b=0.4, agreement_k=0),
         "--settings: field 'agreement_k' must be a positive integer, got 0"),
        (["bm25s"], RetrievalEvalSettings(eval_k=[1], k1=0.9, b=0.4, agreement_k=2.0),
         "--settings: field 'agreement_k' must be a positive integer, got 2.0"),
    ],
)
def test_settings_and_backends_are_checked_before_any_search(tmp_path, backends, settings, message):
    assert error_of(lambda: evaluate_retrieval(FIXTURES / "records.jsonl", tmp_path, backends, "d", settings)) == message


def test_smallest_settings_are_allowed(index_dir):
    result = evaluate_retrieval(FIXTURES / "records.jsonl", index_dir, ["bm25s"], "d", RetrievalEvalSettings(eval_k=[1], k1=0.9, b=0.4, agreement_k=1))
    assert result["backends"]["bm25s"]["recall"] == {"1": 62.5}


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": "a", "question": " ", "supporting": []}, "field 'question' must be a non-empty string"),
        ({"id": "a", "question": 5, "supporting": []}, "field 'question' must be a non-empty string"),
        ({"id": "a", "question": "q", "supporting": {"title": "T", "text": "x"}}, "field 'supporting' must be a list of {title, text}"),
        ({"id": "a", "question": "q", "supporting": [["T", "x"]]}, "field 'supporting' entries must be {title: str, text: str}"),
        ({"id": "a", "question": "q", "supporting": [{"title": 5, "text": "x"}]}, "field 'supporting' entries must be {title: str, text: str}"),
        ({"id": "a", "question": "q", "supporting": [{"title": "T"}]}, "field 'supporting' entries must be {title: str, text: str}"),
        ({"id": "a", "question": "q"}, "field 'supporting' is missing"),
    ],
)
def test_question_refusals(tmp_path, row, message):
    path = write(tmp_path / "records.jsonl", [{"id": "ok", "question": "q", "supporting": []}, row])
    assert error_of(lambda: read_questions(path)).startswith(f"{path}, line 2: {message}")


def test_questions_are_read_with_string_ids():
    questions = read_questions(FIXTURES / "records.jsonl")
    assert [q.id for q in questions][:3] == ["q1", "q2", "q3"]
    assert questions[2].supporting == [("Cardiff", "Cardiff is the capital city of Wales.")]


class Index:
    """An index holding the Cardiff passage under its corpus id."""

    docs = {passage_id("Cardiff", "Cardiff is the capital city of Wales."): Passage("x1", "Cardiff", "Cardiff is the capital city of Wales.")}

    def doc(self, doc_id):
        return self.docs[doc_id]


def test_match_keys_and_found():
    keys = match_keys(Index(), [("Cardiff", "Cardiff is the capital city of Wales."), ("Aarhus", "Another text.")])
    assert keys == [("id", passage_id("Cardiff", "Cardiff is the capital city of Wales.")), ("title", "Aarhus")]
    hits = [Passage(keys[0][1], "Cardiff", ""), Passage("y", "Aarhus", "")]
    assert found(keys, hits) == 2 and found(keys, hits[:1]) == 1 and found(keys, [Passage("z", keys[0][1], "")]) == 0


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": 5, "title": "T", "contents": "x"}, "field 'id' must be a string"),
        ({"id": "a", "title": ["T"], "contents": "x"}, "field 'title' must be a string"),
        ({"id": "a", "title": "T", "contents": None}, "field 'contents' must be a string"),
        ({"id": "", "title": "T", "contents": "x"}, "field 'id' is empty"),
        ({"id": "a", "title": "T\nU", "contents": "x"}, "field 'title' holds a line break"),
        ({"id": "a", "title": " ", "contents": "\n"}, "field 'contents' and 'title' are both empty"),
        ({"id": "first", "title": "T", "contents": "x"}, "field 'id' repeats id 'first'"),
    ],
)
def test_corpus_refusals(tmp_path, row, message):
    path = write(tmp_path / "corpus.jsonl", [{"id": "first", "title": "A", "contents": "a"}, row])
    assert error_of(lambda: list(read_corpus(path))) == f"{path}, line 2: {message}"


def test_corpus_passages_and_an_empty_corpus(tmp_path):
    path = write(tmp_path / "corpus.jsonl", [{"id": "a", "title": "", "contents": "text only"}, {"id": "b", "title": "T", "contents": ""}])
    assert list(read_corpus(path)) == [Passage("a", "", "text only"), Passage("b", "T", "")]
    empty = write(tmp_path / "empty.jsonl", [])
    assert error_of(lambda: list(read_corpus(empty))) == f"{empty}: corpus holds no passages"


def test_sort_hits_orders_ties_by_id_and_keeps_k():
    hits = [Passage("c", "", "", 1.0), Passage("a", "", "", 2.0), Passage("b", "", "", 1.0), Passage("d", "", "", 0.5)]
    assert [hit.id for hit in sort_hits(hits, 3)] == ["a", "b", "c"]
    assert sort_hits(hits, 0) == []


def test_overlap_is_the_shared_fraction_of_the_longer_list():
    def hits(*ids: str) -> list[Passage]:
        return [Passage(i, "", "") for i in ids]

    assert overlap(hits("a", "b", "c", "d"), hits("d", "a", "x", "y")) == 0.5
    assert overlap(hits("a", "b"), hits("a")) == 0.5
    assert overlap(hits("a"), hits("b")) == 0.0 and overlap(hits("a"), hits("a")) == 1.0
    assert overlap(hits(), hits()) == 1.0 and overlap(hits("a"), hits()) == 0.0
