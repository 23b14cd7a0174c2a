"""steper.stepwise.build: every refusal word for word, and the statistics of a hand-counted data set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from steper.io import InputError
from steper.retrieval import Passage
from steper.stepwise.build import StepwiseData, StepwiseSettings, build_examples, compute_stats, passes, stats_markdown, token_lengths

CORPUS = {"a": Passage("a", "Quiet Harbor", "Quiet Harbor is a novel by Mara Quill."), "b": Passage("b", "Mara Quill", "Mara Quill was born in St. Albans.")}
TRACE = {
    "id": "q1", "question": "Where was the author of Quiet Harbor born?", "answers": ["St. Albans"], "prediction": "St. Albans",
    "framework": "ircot", "passage_words": None,
    "steps": [{"step": 1, "retrieved": ["a"], "output": "Quiet Harbor is by Mara Quill."},
              {"step": 2, "retrieved": ["b"], "output": "So the answer is: St. Albans."}],
}


def write(path: Path, traces: list[dict]) -> Path:
    path.write_text("".join(json.dumps(trace) + "\n" for trace in traces), encoding="utf-8")
    return path


def error_of(call) -> str:
    with pytest.raises(InputError) as error:
        call()
    return str(error.value)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"target": "steps", "variants": ["final"]}, "--settings: field 'target' unknown target 'steps' (known: chain, step)"),
        ({"filter": "f1", "variants": ["final"]}, "--settings: field 'filter' unknown filter 'f1' (known: acc_tokens, acc, em, none)"),
        ({"variants": ["final", "mid"]},
         "--settings: field 'variants' unknown or no variants ['mid'] (known: final, first-final, first-mid-final)"),
        ({"variants": []}, "--settings: field 'variants' unknown or no variants [] (known: final, first-final, first-mid-final)"),
    ],
)
def test_settings_refusals(settings, message):
    assert error_of(lambda: StepwiseSettings(**settings)) == message


@pytest.mark.parametrize(
    "change, message",
    [
        ({"answers": "St. Albans"}, "field 'answers' must be a non-empty list of strings"),
        ({"answers": []}, "field 'answers' must be a non-empty list of strings"),
        ({"answers": ["St. Albans", 5]}, "field 'answers' must be a non-empty list of strings"),
        ({"prediction": 5}, "field 'prediction' must be a string or null, got 5"),
        ({"framework": "selfask"}, "field 'framework' is 'selfask', expected 'ircot'"),
        ({"steps": []}, "field 'steps' must be a non-empty list"),
        ({"steps": "one"}, "field 'steps' must be a non-empty list"),
        ({"steps": [{"step": 1, "retrieved": []}]}, "field 'steps' a step is missing 'output'"),
        ({"steps": [{"output": "x"}]}, "field 'steps' a step is missing 'step'"),
        ({"steps": [TRACE["steps"][0], {"step": 2, "retrieved": ["a", "zz"], "output": "x"}]},
         "field 'retrieved' doc id 'zz' (step 2) is not in the corpus"),
    ],
)
def test_trace_refusals_name_file_line_and_field(tmp_path, change, message):
    path = write(tmp_path / "traces.jsonl", [TRACE, {**TRACE, "id": "q2", **change}])
    assert error_of(lambda: build_examples(path, CORPUS, "ircot", "acc", "chain")) == f"{path}, line 2: {message}"


def test_empty_and_unknown_inputs(tmp_path):
    path = write(tmp_path / "traces.jsonl", [TRACE])
    assert error_of(lambda: build_examples(path, CORPUS, "react", "acc", "chain")) == (
        f"{path}: unknown framework 'react' (known: ircot, selfask)"
    )
    empty = write(tmp_path / "empty.jsonl", [])
    assert error_of(lambda: build_examples(empty, CORPUS, "ircot", "acc", "chain")) == (
        f"{empty}: holds no trace (pass --allow-empty to write empty step-wise files)"
    )
    assert build_examples(empty, CORPUS, "ircot", "acc", "chain", allow_empty=True).n_traces == 0
    wrong = write(tmp_path / "wrong.jsonl", [{**TRACE, "prediction": "Dunmore"}, {**TRACE, "id": "q2", "prediction": None}])
    assert error_of(lambda: build_examples(wrong, CORPUS, "ircot", "em", "chain")) == (
        f"{wrong}: no trace of 2 passes the filter 'em' (pass --allow-empty to write empty step-wise files)"
    )
    none_kept = build_examples(wrong, CORPUS, "ircot", "em", "chain", allow_empty=True)
    assert (none_kept.n_traces, none_kept.n_kept, none_kept.examples) == (2, 0, [])


def test_filter_none_keeps_traces_whatever_their_answers():
    assert passes({"answers": "not even a list", "prediction": 5}, "none", "t.jsonl", 1)
    assert passes(TRACE, "em", "t.jsonl", 1) and not passes({**TRACE, "prediction": None}, "acc", "t.jsonl", 1)


class WordTokenizer:
    """A tokenizer whose tokens are the space-separated words (what token_lengths needs of one)."""

    def __call__(self, texts, add_special_tokens=True):
        assert add_special_tokens is False  # the text's own cost, no BOS/EOS
        return {"input_ids": [text.split() for text in texts]}


def test_token_lengths_in_batches():
    texts = ["a b", "c", "d e f", ""]
    assert token_lengths(WordTokenizer(), texts, batch=3) == [2, 1, 3, 0]


def test_stats_count_kinds_and_tokens_per_variant():
    examples = [
        {"kind": "first", "prompt": "p p", "completion": "c"},
        {"kind": "mid", "prompt": "p p p p", "completion": "c c"},
        {"kind": "final", "prompt": "p", "completion": "c c c c c c"},
        {"kind": "final", "prompt": "p p p", "completion": "c c"},
    ]
    data = StepwiseData(examples, n_traces=3, n_kept=2, steps_per_trace=Counter({3: 1, 1: 1}))
    stats = compute_stats(data, WordTokenizer(), ["final", "first-mid-final"], "acc", "chain")
    assert {k: stats[k] for k in ("target", "filter", "traces", "kept", "pass_rate", "steps_per_kept_trace")} == {
        "target": "chain", "filter": "acc", "traces": 3, "kept": 2, "pass_rate": 0.6667, "steps_per_kept_trace": {"1": 1, "3": 1}}
    final = stats["variants"]["final"]
    assert final == {
        "examples": 2,
        "kinds": {"final": {"examples": 2, "prompt_tokens": {"mean": 2.0, "median": 2.0, "max": 3},
                            "completion_tokens": {"mean": 4.0, "median": 4.0, "max": 6}}},
        "prompt_tokens": {"mean": 2.0, "median": 2.0, "max": 3},
        "completion_tokens": {"mean": 4.0, "median": 4.0, "max": 6},
    }
    full = stats["variants"]["first-mid-final"]
    assert list(full["kinds"]) == ["first", "mid", "final"] and full["examples"] == 4
    assert full["prompt_tokens"] == {"mean": 2.5, "median": 2.5, "max": 4}
    assert full["kinds"]["mid"]["completion_tokens"] == {"mean": 2.0, "median": 2.0, "max": 2}
    assert stats_markdown(stats) == (
        "Traces: 3, kept 2 (66.7%, filter `acc`, target `chain`); steps per kept trace: {'1': 1, '3': 1}\n"
        "\n"
        "| variant | kind | examples | prompt tokens (mean / median / max) | completion tokens (mean / median / max) |\n"
        "|---|---|---:|---:|---:|\n"
        "| final | final | 2 | 2.0 / 2 / 3 | 4.0 / 4 / 6 |\n"
        "| final | all | 2 | 2.0 / 2 / 3 | 4.0 / 4 / 6 |\n"
        "| first-mid-final | first | 1 | 2.0 / 2 / 2 | 1.0 / 1 / 1 |\n"
        "| first-mid-final | mid | 1 | 4.0 / 4 / 4 | 2.0 / 2 / 2 |\n"
        "| first-mid-final | final | 2 | 2.0 / 2 / 3 | 4.0 / 4 / 6 |\n"
        "| first-mid-final | all | 4 | 2.5 / 2 / 4 | 2.8 / 2 / 6 |\n"
    )


def test_stats_of_nothing():
    stats = compute_stats(StepwiseData([], 0, 0, Counter()), WordTokenizer(), ["first-final"], "none", "step")
    assert stats["pass_rate"] is None and stats["variants"]["first-final"]["kinds"]["first"]["prompt_tokens"] is None
    assert stats_markdown(stats).splitlines()[0] == "Traces: 0, kept 0 (–, filter `none`, target `step`); steps per kept trace: {}"
    assert "| first-final | first | 0 | – | – |" in stats_markdown(stats)
