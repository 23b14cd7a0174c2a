"""Aggregation and ability scores on four hand-written trace lines whose numbers were worked out by hand.

Fixture (tests/fixtures/results/predictions/): q1 right (2 hops, stored `correct` deliberately wrong),
q2 'Norway, Europe' for gold Norway / Kingdom of Norway (3 hops, second hop missed), q3 wrong
(2 hops, first hop missed, nothing relevant retrieved), q4 wrong although both intermediate hops
were found (3 hops).
"""

import hashlib
import json
import struct
from pathlib import Path

import pytest

from steper.evaluate.abilities import ability_scores, appears, passage_id, question_abilities, supporting_recall
from steper.evaluate.aggregate import aggregate, read_traces
from steper.evaluate.result import count_parameters, load_records
from steper.io import InputError
from steper.metrics import Scores, accuracy, f1_score, score, token_accuracy
from steper.retrieval import Passage

FIXTURES = Path(__file__).parent / "fixtures" / "results" / "predictions"
PREDICTIONS = FIXTURES / "stu--steper.predictions.jsonl"
RECORDS = FIXTURES / "test.jsonl"


@pytest.fixture
def traces():
    return read_traces(PREDICTIONS)


@pytest.fixture
def records():
    return load_records(RECORDS)


def test_aggregate_matches_hand_computed_numbers(traces, records):
    metrics = aggregate(traces, records)
    assert metrics.n == 4
    assert metrics.em == pytest.approx(25.0)  # only q1 matches exactly
    assert metrics.f1 == pytest.approx(100 * (1 + 2 / 3) / 4)  # q2: P=1/2, R=1 against 'Norway'
    assert metrics.acc == pytest.approx(50.0)  # q1, q2
    assert metrics.mean_steps == pytest.approx(11 / 4)
    assert metrics.seconds_per_question == pytest.approx(3.5)
    assert metrics.prompt_tokens == pytest.approx((450 + 490 + 240 + 390) / 4)
    assert metrics.completion_tokens == pytest.approx((30 + 30 + 18 + 23) / 4)


def test_stored_correct_field_is_ignored(traces):
    # q1 is stored as wrong and q3 as right; re-scoring must give the opposite.
    metrics = aggregate([traces[0]])
    assert (metrics.em, metrics.acc) == (100.0, 100.0)
    assert aggregate([traces[2]]).acc == 0.0


def test_record_answers_take_precedence_over_trace_answers(traces, records):
    trace = dict(traces[0], answers=["somewhere else"])
    assert aggregate([trace], records).acc == 100.0
    assert aggregate([trace]).acc == 0.0


def test_missing_token_counts_are_none_not_zero(traces):
    stripped = [dict(t, steps=[{k: v for k, v in s.items() if k != "completion_tokens"} for s in t["steps"]]) for t in traces]
    stripped = [{k: v for k, v in t.items() if k != "seconds"} for t in stripped]
    metrics = aggregate(stripped)
    assert metrics.completion_tokens is None and metrics.seconds_per_question is None
    assert metrics.prompt_tokens == pytest.approx(392.5)


def test_empty_predictions():
    metrics = aggregate([])
    assert metrics.n == 0 and metrics.acc == 0.0


def test_ability_scores_match_hand_computed_numbers(traces, records):
    scores = ability_scores(traces, records)
    assert scores["initialization"] == pytest.approx(75.0)  # q1, q2, q4 name their first hop
    assert scores["n_initialization"] == 4
    assert scores["expansion"] == pytest.approx(50.0)  # 3-hop only: q2 misses Halden, q4 finds Portugal
    assert scores["n_expansion"] == 2
    assert scores["aggregation"] == pytest.approx(50.0)  # q1 right, q4 wrong given all intermediate hops
    assert scores["n_aggregation"] == 2
    assert scores["supporting_recall"] == pytest.approx(100 * (1 + 2 / 3 + 0 + 1) / 4)


def test_question_abilities_per_question(traces, records):
    q2 = question_abilities(traces[1], records["q2"])
    assert q2 == {"initialization": 1.0, "expansion": 0.0, "aggregation": None, "supporting_recall": pytest.approx(2 / 3)}
    q3 = question_abilities(traces[2], records["q3"])
    assert q3["expansion"] is None and q3["aggregation"] is None and q3["initialization"] == 0.0


def test_abilities_undefined_without_decomposition(traces, records):
    bare = {key: dict(record, decomposition=[], supporting=[]) for key, record in records.items()}
    scores = ability_scores(traces, bare)
    assert scores["initialization"] is None and scores["n_initialization"] == 0
    assert scores["supporting_recall"] is None


def test_appears_is_whole_token_and_normalised():
    assert appears("The Dunmore", "born in dunmore.")
    assert not appears("19", "in 1999")
    assert not appears("", "anything")


def test_passage_id_is_the_corpus_hash():
    assert passage_id("Halden", "Halden is a town in Norway.") == hashlib.sha256(b"Halden Halden is a town in Norway.").hexdigest()[:16]


def test_duplicate_trace_id_is_an_error(tmp_path):
    lines = PREDICTIONS.read_text().splitlines()
    path = tmp_path / "dup.jsonl"
    path.write_text("\n".join([lines[0], lines[1], lines[0]]) + "\n")
    with pytest.raises(InputError) as error:
        read_traces(path)
    assert error.value.line == 3 and error.value.field == "id"


def test_trace_without_prediction_names_line_and_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "x", "steps": []}) + "\n")
    with pytest.raises(InputError) as error:
        read_traces(path)
    assert error.value.field == "prediction" and error.value.line == 1


def _write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)


def test_count_parameters_reads_headers_of_every_shard(tmp_path):
    _write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {"a": [3, 4], "b": [5]})
    _write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"c": [2, 2, 2]})
    assert count_parameters(tmp_path) == 12 + 5 + 8
    assert count_parameters(tmp_path / "nothing") is None


def test_selfask_hops_are_read_from_the_intermediate_answers(records):
    # Self-Ask's first step only asks; each later step starts with the previous follow-up's answer.
    trace = {
        "id": "q4", "framework": "selfask", "prediction": "Lisbon",
        "steps": [
            {"step": 1, "retrieved": [], "output": "Follow up: Who wrote Quiet Harbor?"},
            {"step": 2, "retrieved": [], "output": "Intermediate answer: Lena Ford.\nFollow up: Where was Lena Ford born?"},
            {"step": 3, "retrieved": [], "output": "Intermediate answer: Portugal.\nFollow up: What is the capital of Portugal?"},
            {"step": 4, "retrieved": [], "output": "Intermediate answer: Lisbon.\nSo the final answer is: Lisbon"},
        ],
    }
    scores = question_abilities(trace, records["q4"])
    assert (scores["initialization"], scores["expansion"], scores["aggregation"]) == (1.0, 1.0, 1.0)
    # the same text read as IRCoT steps would miss the first hop in step 1
    assert question_abilities(dict(trace, framework="ircot"), records["q4"])["initialization"] == 0.0


class _Index:
    """A hand-written index holding q2's first two supporting passages; its Halden passage differs in text."""

    def __init__(self, passages):
        self.passages = {passage_id(title, text): Passage(passage_id(title, text), title, text) for title, text in passages}

    def doc(self, doc_id):
        return self.passages[doc_id]


def test_supporting_recall_falls_back_to_titles_for_passages_the_index_lacks(traces, records):
    supporting = [(p["title"], p["text"]) for p in records["q2"]["supporting"]]
    other_halden = ("Halden", "Halden is a Norwegian town on the Iddefjord.")
    index = _Index([*supporting[:2], other_halden])
    trace = dict(traces[1], steps=[*traces[1]["steps"], {"step": 4, "retrieved": [passage_id(*other_halden)], "output": ""}])
    assert supporting_recall(trace, records["q2"]) == pytest.approx(2 / 3)  # by id only
    assert supporting_recall(trace, records["q2"], index) == pytest.approx(1.0)  # Halden matched by title


def test_hotpotqa_yes_no_noanswer_only_count_when_exact():
    # without the rule, F1('yes it is', 'yes') would be 2 * (1/3 * 1) / (1/3 + 1) = 0.5
    assert f1_score("yes it is", "yes") == 0.0
    assert f1_score("Yes.", "yes") == 1.0
    assert f1_score("no", "noanswer") == 0.0
    assert f1_score("noanswer", "no answer") == 0.0  # 'noanswer' is special on the prediction side too
    assert f1_score("the river Wend", "Wend") == pytest.approx(2 * (1 / 2) * 1 / (1 / 2 + 1))  # articles dropped: 'river wend'


def test_scores_are_the_maximum_over_answer_aliases():
    # EM only against the second alias, F1 best against the second (2/3 against the first), Acc against either
    assert score("River Wend", ["Wend", "River Wend"]) == Scores(em=1.0, f1=1.0, acc=1.0, acc_tokens=1.0)
    assert score("River Wend", ["Wend"]) == Scores(em=0.0, f1=pytest.approx(2 / 3), acc=1.0, acc_tokens=1.0)
    # Acc only against the second alias: 'river wend' is not in 'wend'
    assert score("Wend", ["River Wend", "Wend"]).acc == 1.0 and score("Wend", ["River Wend"]).acc == 0.0
    assert score(None, ["Wend"]) == Scores(0.0, 0.0, 0.0, 0.0) and score("Wend", []).em == 0.0


def test_acc_is_a_substring_and_acc_tokens_whole_tokens():
    assert (accuracy("Norway", "no"), token_accuracy("Norway", "no")) == (1.0, 0.0)
    assert (accuracy("1990", "1"), token_accuracy("1990", "1")) == (1.0, 0.0)
    assert token_accuracy("the town of Tiverly.", "Tiverly") == 1.0
    assert token_accuracy("born in New York City", "new york") == 1.0
    assert token_accuracy("York, New", "New York") == 0.0  # tokens in order, contiguous
    assert token_accuracy("No, they were not.", "no") == 1.0
    assert token_accuracy("anything", "the") == 0.0  # a gold that normalises to nothing never matches
    assert accuracy("anything", "the") == 0.0 and accuracy("the", "a") == 0.0
    assert score("Norway", ["no"]).to_dict() == {"em": 0.0, "f1": 0.0, "acc": 1.0, "acc_tokens": 0.0}
