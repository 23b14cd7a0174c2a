"""The evaluation JSON (steper.evaluate.result) and the trace reading and averaging under it
(steper.evaluate.aggregate), on two hand-written questions; every refusal checked word for word."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from steper.evaluate.aggregate import Metrics, aggregate, read_traces
from steper.evaluate.result import build_result, count_parameters, load_records, per_question
from steper.frameworks.resume import identity_record, records_digest, resume_path
from steper.io import InputError
from steper.retrieval import Passage
from steper.retrieval.evaluation import passage_id
from steper.settings import config_hash, git_revision

QUARRY = {"title": "Quarry Hill", "text": "Quarry Hill is a novel by Ada Finch."}
FINCH = {"title": "Ada Finch", "text": "Ada Finch was born in Dunmore."}
RECORDS = [
    {
        "id": 7, "question": "Where was the author of Quarry Hill born?", "answers": ["Dunmore", "Dunmore, Kent"],
        "decomposition": [{"question": "Who wrote Quarry Hill?", "answer": "Ada Finch"}, {"question": "Where?", "answer": "Dunmore"}],
        "supporting": [QUARRY, FINCH],
    },
    {"id": "a", "question": "Is it?", "answers": ["yes"]},
]
TRACES = [
    {  # id "a" first: rows come out sorted by id
        "id": "a", "prediction": "no", "n_steps": 1, "seconds": 1.0,
        "steps": [{"step": 1, "retrieved": [], "output": "So the answer is: no.", "prompt_tokens": 30, "completion_tokens": 5}],
    },
    {
        "id": 7, "prediction": "Dunmore town", "seconds": 3.0,
        "steps": [
            {"step": 1, "retrieved": [passage_id(**QUARRY)], "output": "Quarry Hill is by Ada Finch.", "prompt_tokens": 40, "completion_tokens": 7},
            {"step": 2, "retrieved": ["other"], "output": "She was born in Dunmore. So the answer is: Dunmore town.",
             "prompt_tokens": 60, "completion_tokens": 9, "answer_prompt_tokens": 70, "answer_completion_tokens": 3},
        ],
    },
]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    return write_jsonl(tmp_path / "predictions.jsonl", TRACES), write_jsonl(tmp_path / "records.jsonl", RECORDS)


def error_of(call) -> str:
    with pytest.raises(InputError) as error:
        call()
    return str(error.value)


def test_build_result_is_the_whole_evaluation(files, tmp_path):
    predictions, records = files
    settings = {"framework": {"top_k": 4}}
    result = build_result(system="stu--steper", framework="ircot", dataset="hotpotqa", predictions_path=predictions,
                          records_path=records, settings=settings)
    # EM: 0, 0 (the prediction is "Dunmore town"); F1 against "Dunmore, Kent" = 2 * 1/2 * 1/2 / 1 = 1/2 and
    # against "Dunmore" 2 * 1/2 * 1 / (3/2) = 2/3; Acc: "dunmore" in "dunmore town"
    assert result == {
        "system": "stu--steper", "framework": "ircot", "dataset": "hotpotqa", "model_dir": None, "n_parameters": None,
        "metrics": {"em": 0.0, "f1": pytest.approx(100 / 3), "acc": 50.0, "n": 2, "mean_steps": 1.5, "seconds_per_question": 2.0,
                    "prompt_tokens": pytest.approx((30 + 40 + 60 + 70) / 2), "completion_tokens": pytest.approx((5 + 7 + 9 + 3) / 2)},
        "abilities": {"initialization": 100.0, "n_initialization": 1, "expansion": None, "n_expansion": 0,
                      "aggregation": 100.0, "n_aggregation": 1, "supporting_recall": 50.0, "n_supporting_recall": 1},
        "per_question": [
            {"id": "7", "em": 0.0, "f1": pytest.approx(2 / 3), "acc": 1.0, "initialization": 1.0, "expansion": None, "aggregation": 1.0,
             "supporting_recall": 0.5},
            {"id": "a", "em": 0.0, "f1": 0.0, "acc": 0.0, "initialization": None, "expansion": None, "aggregation": None,
             "supporting_recall": None},
        ],
        "n_records": 2,
        "predictions": str(predictions),
        "records": str(records),
        "settings": settings,
        "config_hash": config_hash({"system": "stu--steper", "framework": "ircot", "dataset": "hotpotqa", "settings": settings}),
        "git_revision": git_revision(),
    }


def test_model_size_and_directory_are_recorded(files, tmp_path):
    predictions, records = files
    write_safetensors(tmp_path / "model.safetensors", {"w": [2, 3]})
    result = build_result(system="s", framework="ircot", dataset="d", predictions_path=predictions, records_path=records, model_dir=tmp_path)
    assert (result["model_dir"], result["n_parameters"]) == (str(tmp_path), 6)


class Index:
    """An index that holds Ada Finch's article under another id and text."""

    docs = {
        "abstract": Passage("abstract", "Ada Finch", "Ada Finch (1901-1980) was a novelist."),
        "other": Passage("other", "Port Ellery", "Port Ellery is a town."),
    }

    def doc(self, doc_id):
        return self.docs[doc_id]


def test_the_index_reaches_supporting_recall_everywhere(tmp_path):
    trace = dict(TRACES[1], steps=[dict(TRACES[1]["steps"][0], retrieved=["abstract"]), TRACES[1]["steps"][1]])
    predictions = write_jsonl(tmp_path / "p.jsonl", [trace])
    records = write_jsonl(tmp_path / "r.jsonl", RECORDS[:1])
    result = build_result(system="s", framework="ircot", dataset="d", predictions_path=predictions, records_path=records, retriever=Index())
    assert result["per_question"][0]["supporting_recall"] == 0.5 and result["abilities"]["supporting_recall"] == 50.0
    without = build_result(system="s", framework="ircot", dataset="d", predictions_path=predictions, records_path=records)
    assert without["per_question"][0]["supporting_recall"] == 0.0


def test_records_answers_are_the_gold_in_every_row(files):
    traces = [dict(TRACES[1], id="7", answers=["somewhere else"])]
    records = {"7": RECORDS[0]}
    assert per_question(traces, records)[0]["acc"] == 1.0


def test_missing_and_unknown_predictions(files, tmp_path):
    predictions, records = files
    partial = write_jsonl(tmp_path / "partial.jsonl", TRACES[:1])
    assert error_of(lambda: build_result(system="s", framework="f", dataset="d", predictions_path=partial, records_path=records)) == (
        f"{partial}: 1 of 2 records in {records} have no prediction"
    )
    scored = build_result(system="s", framework="f", dataset="d", predictions_path=partial, records_path=records, allow_partial=True)
    assert scored["metrics"]["n"] == 1 and scored["n_records"] == 2
    stray = write_jsonl(tmp_path / "stray.jsonl", [*TRACES, dict(TRACES[0], id="zz")])
    assert error_of(lambda: build_result(system="s", framework="f", dataset="d", predictions_path=stray, records_path=records)) == (
        f"{stray}: field 'id' id 'zz' is not in {records}"
    )


def test_predictions_of_other_records_are_refused(files):
    predictions, records = files
    other = [dict(RECORDS[0], answers=["Kent"]), RECORDS[1]]
    identity = {"records": records_digest([dict(record, id=str(record["id"])) for record in other]), "shard": None}
    resume_path(predictions).write_text(json.dumps({"run": identity_record(identity), "output": identity_record(identity)}))
    assert error_of(lambda: build_result(system="s", framework="f", dataset="d", predictions_path=predictions, records_path=records)) == (
        f"{predictions}: field 'records' were made on other records than {records} (or on an earlier version of them)"
    )
    same = {"records": records_digest([dict(record, id=str(record["id"])) for record in RECORDS]), "shard": None}
    resume_path(predictions).write_text(json.dumps({"run": identity_record(same), "output": identity_record(same)}))
    assert build_result(system="s", framework="f", dataset="d", predictions_path=predictions, records_path=records)["metrics"]["n"] == 2
    # a shard's records are a part of the file: its digest cannot be compared with the whole file's
    shard = dict(identity, shard=[0, 2])
    resume_path(predictions).write_text(json.dumps({"run": identity_record(shard), "output": identity_record(shard)}))
    assert build_result(system="s", framework="f", dataset="d", predictions_path=predictions, records_path=records)["metrics"]["n"] == 2


def test_load_records_refusals(tmp_path):
    records = load_records(write_jsonl(tmp_path / "ok.jsonl", RECORDS))
    assert list(records) == ["7", "a"] and records["7"]["id"] == "7"
    twice = write_jsonl(tmp_path / "twice.jsonl", [RECORDS[1], {"id": "7", "answers": []}, {"id": 7, "answers": ["x"]}])
    assert error_of(lambda: load_records(twice)) == f"{twice}, line 3: field 'id' duplicate id '7'"
    text = write_jsonl(tmp_path / "text.jsonl", [RECORDS[1], {"id": "b", "answers": "Dunmore"}])
    assert error_of(lambda: load_records(text)) == f"{text}, line 2: field 'answers' must be a list of answers"
    no_answers = write_jsonl(tmp_path / "none.jsonl", [{"id": "b"}])
    assert "answers" in error_of(lambda: load_records(no_answers))


def test_read_traces_refusals(tmp_path):
    traces = read_traces(write_jsonl(tmp_path / "ok.jsonl", TRACES))
    assert [trace["id"] for trace in traces] == ["a", "7"]
    twice = write_jsonl(tmp_path / "twice.jsonl", [TRACES[1], TRACES[0], dict(TRACES[1], id="7")])
    assert error_of(lambda: read_traces(twice)) == f"{twice}, line 3: field 'id' duplicate id '7'"
    flat = write_jsonl(tmp_path / "flat.jsonl", [TRACES[0], dict(TRACES[1], steps="step one")])
    assert error_of(lambda: read_traces(flat)) == f"{flat}, line 2: field 'steps' must be a list of steps"
    no_steps = write_jsonl(tmp_path / "nosteps.jsonl", [{"id": "a", "prediction": "x"}])
    assert "steps" in error_of(lambda: read_traces(no_steps))


def test_aggregate_counts_steps_tokens_and_seconds():
    # n_steps when the trace states it, else the steps listed
    metrics = aggregate([TRACES[0], dict(TRACES[1], n_steps=5)])
    assert metrics.mean_steps == 3.0
    assert aggregate([{k: v for k, v in TRACES[1].items() if k != "n_steps"}]).mean_steps == 2.0
    # the forced answer's tokens are added to the step's, never subtracted
    assert aggregate([TRACES[1]]).prompt_tokens == 40 + 60 + 70
    # steps without token counts: the trace-level count is the fallback, else none at all
    bare = {"id": "b", "prediction": "x", "steps": [{"step": 1, "output": "x"}], "prompt_tokens": 11}
    assert aggregate([bare]).prompt_tokens == 11.0 and aggregate([bare]).completion_tokens is None
    assert aggregate([dict(bare, steps=[])]).prompt_tokens == 11.0
    assert aggregate([{"id": "b", "prediction": "x", "steps": []}]).prompt_tokens is None
    assert aggregate([dict(TRACES[0], seconds=None)]).seconds_per_question is None


def test_no_trace_gives_zeros_and_nones():
    assert aggregate([]) == Metrics(0.0, 0.0, 0.0, 0, 0.0, None, None, None)


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + b"\0" * offset)


def test_count_parameters_refuses_broken_headers(tmp_path):
    short = tmp_path / "short"
    short.mkdir()
    (short / "model.safetensors").write_bytes(b"\x01\x02")
    assert error_of(lambda: count_parameters(short)) == f"{short / 'model.safetensors'}: truncated safetensors header"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(struct.pack("<Q", 5) + b"{oops")
    assert error_of(lambda: count_parameters(broken)) == (
        f"{broken / 'model.safetensors'}: malformed safetensors header (Expecting property name enclosed in double quotes)"
    )
    scalar = tmp_path / "scalar"
    scalar.mkdir()
    write_safetensors(scalar / "model.safetensors", {"s": [], "v": [4]})
    assert count_parameters(scalar) == 1 + 4
