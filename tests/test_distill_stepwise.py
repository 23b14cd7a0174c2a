"""Step-wise example builder on hand-written IRCoT and Self-Ask traces + corpus."""

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from steper.cli import main
from steper.distill.kinds import kind_of
from steper.distill.stepwise import StepwiseSettings, build_examples, compute_stats, load_corpus, stats_markdown, variant_examples
from steper.io import InputError
from steper.models.tiny import corpus_texts, train_tokenizer

FIXTURES = Path(__file__).parent / "fixtures" / "distill"
CORPUS = FIXTURES / "corpus.jsonl"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer(list(corpus_texts([CORPUS])), 300).save_pretrained(directory)
    return directory


def test_kinds_by_position():
    assert [kind_of(p, 1) for p in (1,)] == ["final"]
    assert [kind_of(p, 2) for p in (1, 2)] == ["first", "final"]
    assert [kind_of(p, 5) for p in range(1, 6)] == ["first", "mid", "mid", "mid", "final"]
    with pytest.raises(ValueError):
        kind_of(0, 3)


def test_ircot_filters_and_kinds(corpus):
    acc = build_examples(FIXTURES / "ircot_traces.jsonl", corpus, "ircot", "acc")
    assert (acc.n_traces, acc.n_kept) == (4, 3)
    assert [(e["id"], e["kind"], e["step"]) for e in acc.examples] == [
        ("q1", "first", 1), ("q1", "mid", 2), ("q1", "final", 3),
        ("q2", "final", 1),
        ("q3", "first", 1), ("q3", "final", 2),
    ]
    em = build_examples(FIXTURES / "ircot_traces.jsonl", corpus, "ircot", "em")
    assert {e["id"] for e in em.examples} == {"q1", "q2"}
    none = build_examples(FIXTURES / "ircot_traces.jsonl", corpus, "ircot", "none")
    assert none.n_kept == 4 and len(none.examples) == 9


def test_ircot_prompts_are_the_zero_shot_chain(corpus):
    examples = build_examples(FIXTURES / "ircot_traces.jsonl", corpus, "ircot", "acc").examples
    q1 = [e for e in examples if e["id"] == "q1"]
    for example in examples:
        assert example["prompt"] == example["context"] + example["continuation"]
    first, mid, final = q1
    assert first["prompt"].startswith("Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a 1998 novel")
    assert first["prompt"].endswith("In which river's town was the author of The Hollow Orchard born?\nA:")
    assert first["continuation"] == "" and first["completion"] == " The Hollow Orchard is a novel by Tamsin Everhart."
    # passages accumulate over steps; the earlier steps become the continuation
    assert "Wikipedia Title: Tamsin Everhart" in mid["context"] and "Wikipedia Title: Brackenford" not in mid["context"]
    assert "Wikipedia Title: Brackenford" in final["context"]
    assert final["continuation"] == " The Hollow Orchard is a novel by Tamsin Everhart. Tamsin Everhart was born in Brackenford."
    assert final["completion"].endswith("So the answer is: Wend.")
    assert final["prompt"] + final["completion"] == final["context"] + final["continuation"] + final["completion"]


def test_selfask_examples(corpus):
    data = build_examples(FIXTURES / "selfask_traces.jsonl", corpus, "selfask", "acc")
    assert (data.n_traces, data.n_kept) == (2, 1)
    first, mid, final = data.examples
    assert [e["kind"] for e in data.examples] == ["first", "mid", "final"]
    assert first["context"].endswith("Question: Where was the author of The Hollow Orchard born?\nAre follow up questions needed here: Yes.")
    assert first["completion"] == "\nFollow up: Who wrote The Hollow Orchard?"
    assert final["continuation"].startswith("\nFollow up: Who wrote The Hollow Orchard?\nIntermediate answer: Tamsin Everhart.")
    assert final["completion"].endswith("So the final answer is: Brackenford")


def test_variants(corpus):
    examples = build_examples(FIXTURES / "ircot_traces.jsonl", corpus, "ircot", "acc").examples
    assert [e["kind"] for e in variant_examples(examples, "final")] == ["final"] * 3
    assert {e["kind"] for e in variant_examples(examples, "first-final")} == {"first", "final"}
    assert len(variant_examples(examples, "first-mid-final")) == 6


def test_missing_doc_id_names_file_line_and_field(corpus):
    path = FIXTURES / "ircot_traces_missing_doc.jsonl"
    with pytest.raises(InputError) as error:
        build_examples(path, corpus, "ircot", "acc")
    assert (error.value.path, error.value.line, error.value.field) == (str(path), 1, "retrieved")
    assert "ffffffffffffffff" in str(error.value)


def test_wrong_framework_and_settings_are_input_errors(corpus):
    with pytest.raises(InputError, match="framework"):
        build_examples(FIXTURES / "selfask_traces.jsonl", corpus, "ircot", "acc")
    with pytest.raises(InputError, match="filter"):
        StepwiseSettings(filter="f1")
    with pytest.raises(InputError, match="variants"):
        StepwiseSettings(variants=["mid"])


def test_stats(corpus, tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    data = build_examples(FIXTURES / "ircot_traces.jsonl", corpus, "ircot", "acc")
    stats = compute_stats(data, tokenizer, ["final", "first-mid-final"], "acc")
    assert (stats["traces"], stats["kept"], stats["pass_rate"]) == (4, 3, 0.75)
    assert stats["steps_per_kept_trace"] == {"1": 1, "2": 1, "3": 1}
    full = stats["variants"]["first-mid-final"]
    assert {k: v["examples"] for k, v in full["kinds"].items()} == {"first": 2, "mid": 1, "final": 3}
    q2 = data.examples[3]
    final_prompts = [len(tokenizer(e["prompt"], add_special_tokens=False)["input_ids"]) for e in data.examples if e["kind"] == "final"]
    assert stats["variants"]["final"]["prompt_tokens"]["max"] == max(final_prompts)
    assert stats["variants"]["final"]["kinds"]["final"]["prompt_tokens"]["median"] == sorted(final_prompts)[1]
    assert q2["kind"] == "final" and set(stats["variants"]["final"]["kinds"]) == {"final"}
    table = stats_markdown(stats)
    assert "| first-mid-final | mid | 1 |" in table and "75.0%" in table


def test_cli_writes_variants_stats_and_settings(tmp_path, tokenizer_dir):
    out = tmp_path / "stepwise"
    code = main(["stepwise", "build", "--traces", str(FIXTURES / "ircot_traces.jsonl"), "--corpus", str(CORPUS),
                 "--framework", "ircot", "--tokenizer", str(tokenizer_dir), "--output-dir", str(out),
                 "--settings", '{"filter": "em", "variants": ["final", "first-mid-final"]}'])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["final.jsonl", "first-mid-final.jsonl", "stats.json", "stats.md", "steper_settings.json"]
    lines = [json.loads(line) for line in (out / "first-mid-final.jsonl").read_text().splitlines()]
    assert [(e["id"], e["kind"]) for e in lines] == [("q1", "first"), ("q1", "mid"), ("q1", "final"), ("q2", "final")]
    assert set(lines[0]) == {"id", "kind", "step", "prompt", "completion", "context", "continuation"}
    assert json.loads((out / "stats.json").read_text())["kept"] == 2


def test_cli_reports_missing_doc_and_writes_nothing(tmp_path, tokenizer_dir, capsys):
    out = tmp_path / "stepwise"
    code = main(["stepwise", "build", "--traces", str(FIXTURES / "ircot_traces_missing_doc.jsonl"), "--corpus", str(CORPUS),
                 "--framework", "ircot", "--tokenizer", str(tokenizer_dir), "--output-dir", str(out)])
    assert code == 2 and "line 1: field 'retrieved'" in capsys.readouterr().err
    assert not out.exists()
