"""Step-wise example builder on hand-written IRCoT and Self-Ask traces + corpus.

Fixture traces (tests/fixtures/distill/ircot_traces.jsonl): q1 right (3 steps), q2 right (1 step),
q3 'the town of Tiverly' for gold Tiverly (2 steps; Acc and whole-token Acc, not EM), q4 wrong
(3 steps), q5 'Norway' for gold 'no' (1 step; Acc by substring only).
"""

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from steper.cli import main
from steper.io import InputError
from steper.models.tiny import corpus_texts, train_tokenizer
from steper.settings import parse_settings
from steper.stepwise.build import StepwiseSettings, build_examples, compute_stats, load_corpus, stats_markdown, variant_examples
from steper.stepwise.kinds import VARIANTS, kind_of
from steper.train.trainer import load_examples

FIXTURES = Path(__file__).parent / "fixtures" / "distill"
CORPUS = FIXTURES / "corpus.jsonl"
IRCOT = FIXTURES / "ircot_traces.jsonl"

ORCHARD = "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a 1998 novel by Tamsin Everhart.\n\n"
MEADOW = "Wikipedia Title: Silver Meadow\nSilver Meadow is a 2004 film directed by Oren Calloway.\n\n"
TAMSIN = "Wikipedia Title: Tamsin Everhart\nTamsin Everhart is a writer born in Brackenford.\n\n"
BRACKENFORD = "Wikipedia Title: Brackenford\nBrackenford is a market town on the river Wend.\n\n"
Q1_HEADER = "Q: Answer the following question by reasoning step-by-step.\nIn which river's town was the author of The Hollow Orchard born?\nA:"
Q1_STEPS = [" The Hollow Orchard is a novel by Tamsin Everhart.", " Tamsin Everhart was born in Brackenford.",
            " Brackenford is on the river Wend. So the answer is: Wend."]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer(list(corpus_texts([CORPUS])), 300).save_pretrained(directory)
    return directory


def _lines(path=IRCOT):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, traces, blank_before=0):
    path.write_text("\n" * blank_before + "".join(json.dumps(t) + "\n" for t in traces), encoding="utf-8")
    return path


def test_kinds_by_position():
    assert [kind_of(p, 1) for p in (1,)] == ["final"]
    assert [kind_of(p, 2) for p in (1, 2)] == ["first", "final"]
    assert [kind_of(p, 5) for p in range(1, 6)] == ["first", "mid", "mid", "mid", "final"]
    with pytest.raises(ValueError):
        kind_of(0, 3)


def test_filters_keep_by_score_equal_to_one(corpus):
    kept = {name: build_examples(IRCOT, corpus, "ircot", name, "chain") for name in ("acc_tokens", "acc", "em", "none")}
    assert {name: data.n_traces for name, data in kept.items()} == dict.fromkeys(kept, 5)
    # q3 scores EM 0 / F1 0.5: kept only by the containment scores; q5 'Norway' for 'no' only by substring Acc
    assert {name: sorted({e["id"] for e in data.examples}) for name, data in kept.items()} == {
        "acc_tokens": ["q1", "q2", "q3"],
        "acc": ["q1", "q2", "q3", "q5"],
        "em": ["q1", "q2"],
        "none": ["q1", "q2", "q3", "q4", "q5"],
    }
    assert [(e["id"], e["kind"], e["step"]) for e in kept["acc_tokens"].examples] == [
        ("q1", "first", 1), ("q1", "mid", 2), ("q1", "final", 3),
        ("q2", "final", 1),
        ("q3", "first", 1), ("q3", "final", 2),
    ]


def test_filter_recomputes_scores_and_ignores_the_stored_ones(corpus, tmp_path):
    q1, _, _, q4, _ = _lines()
    # q1 says it is wrong and q4 says it is right; the filter re-scores prediction against answers
    path = _write(tmp_path / "t.jsonl", [dict(q1, correct={"acc_tokens": 0.0}), dict(q4, correct={"acc_tokens": 1.0})])
    assert {e["id"] for e in build_examples(path, corpus, "ircot", "acc_tokens", "chain").examples} == {"q1"}
    year = dict(q4, id="y", answers=["1"], prediction="1990")
    alias = dict(q4, id="a", answers=["Brackenford", "Tiverly"], prediction="Tiverly")
    path = _write(tmp_path / "t2.jsonl", [year, alias])
    assert {e["id"] for e in build_examples(path, corpus, "ircot", "acc", "chain").examples} == {"y", "a"}
    assert {e["id"] for e in build_examples(path, corpus, "ircot", "acc_tokens", "chain").examples} == {"a"}


def test_vanilla_kd_example_is_the_whole_chain_given_all_passages(corpus, tmp_path, tokenizer_dir):
    out = tmp_path / "stepwise"
    code = main(["stepwise", "build", "--traces", str(IRCOT), "--corpus", str(CORPUS), "--framework", "ircot",
                 "--tokenizer", str(tokenizer_dir), "--output-dir", str(out), "--settings", '{"variants": ["final"]}'])
    assert code == 0
    q1 = load_examples(out / "final.jsonl", ("final",))[0]
    assert q1["prompt"] == q1["context"] == ORCHARD + MEADOW + TAMSIN + BRACKENFORD + Q1_HEADER
    assert q1["continuation"] == ""
    assert q1["completion"] == "".join(Q1_STEPS)


def test_chain_targets_first_mid_final(corpus):
    first, mid, final = [e for e in build_examples(IRCOT, corpus, "ircot", "acc_tokens", "chain").examples if e["id"] == "q1"]
    assert (first["context"], first["continuation"], first["completion"]) == (ORCHARD + MEADOW + Q1_HEADER, "", Q1_STEPS[0])
    # mid step: the passages so far, the chain so far R<=2 as the target
    assert (mid["context"], mid["continuation"], mid["completion"]) == (ORCHARD + MEADOW + TAMSIN + Q1_HEADER, "", "".join(Q1_STEPS[:2]))
    assert final["completion"] == "".join(Q1_STEPS)
    for example in (first, mid, final):
        assert example["prompt"] == example["context"]


def test_step_targets_keep_the_earlier_steps_in_the_prompt(corpus):
    first, mid, final = [e for e in build_examples(IRCOT, corpus, "ircot", "acc_tokens", "step").examples if e["id"] == "q1"]
    assert first["completion"] == Q1_STEPS[0] and first["continuation"] == ""
    assert (mid["context"], mid["continuation"], mid["completion"]) == (ORCHARD + MEADOW + TAMSIN + Q1_HEADER, Q1_STEPS[0], Q1_STEPS[1])
    assert final["context"] == ORCHARD + MEADOW + TAMSIN + BRACKENFORD + Q1_HEADER
    assert final["continuation"] == "".join(Q1_STEPS[:2]) and final["completion"] == Q1_STEPS[2]
    assert final["prompt"] == final["context"] + final["continuation"]


def test_selfask_chain_targets_are_the_selfask_lines_so_far(corpus):
    data = build_examples(FIXTURES / "selfask_traces.jsonl", corpus, "selfask", "acc_tokens", "chain")
    assert (data.n_traces, data.n_kept) == (2, 1)
    first, mid, final = data.examples
    assert [e["kind"] for e in data.examples] == ["first", "mid", "final"]
    header = "Question: Where was the author of The Hollow Orchard born?\nAre follow up questions needed here: Yes."
    assert first["context"] == ORCHARD + header and first["completion"] == "\nFollow up: Who wrote The Hollow Orchard?"
    assert mid["context"] == ORCHARD + TAMSIN + header
    assert mid["completion"] == ("\nFollow up: Who wrote The Hollow Orchard?\nIntermediate answer: Tamsin Everhart."
                                 "\nFollow up: Where was Tamsin Everhart born?")
    assert final["context"] == ORCHARD + TAMSIN + BRACKENFORD + header and final["continuation"] == ""
    assert final["completion"] == mid["completion"] + "\nIntermediate answer: Brackenford.\nSo the final answer is: Brackenford"


def _selfask_with_retrieved(tmp_path, *retrieved):
    trace = _lines(FIXTURES / "selfask_traces.jsonl")[0]
    for step, ids in zip(trace["steps"], retrieved):
        step["retrieved"] = ids
    return _write(tmp_path / "traces.jsonl", [trace])


def test_a_step_whose_next_step_finds_nothing_new_joins_it_under_the_chain_target(corpus, tmp_path):
    """Two examples with one prompt, one ending (EOS) where the other goes on, would teach the
    student to stop after step 1 where the loop, having found nothing new, asks it to go on."""
    orchard, tamsin, brackenford = "b6d64c462626b808", "0bc0421862e14452", "71080f6590a18872"
    chain = build_examples(FIXTURES / "selfask_traces.jsonl", corpus, "selfask", "acc_tokens", "chain").examples
    traces = _selfask_with_retrieved(tmp_path, [orchard, tamsin], [], [brackenford])
    first, final = build_examples(traces, corpus, "selfask", "acc_tokens", "chain").examples
    assert (first["kind"], first["step"], first["completion"]) == ("first", 2, chain[1]["completion"])
    assert first["context"] == first["prompt"] == chain[1]["context"]
    assert (final["kind"], final["completion"]) == ("final", chain[2]["completion"])
    # the step target has no such conflict: each step's prompt holds the steps before it
    assert [e["kind"] for e in build_examples(traces, corpus, "selfask", "acc_tokens", "step").examples] == ["first", "mid", "final"]
    # a step joins the final one, which stays "final"; a step that finds something new stays its own
    last = build_examples(_selfask_with_retrieved(tmp_path, [orchard], [tamsin, brackenford], []), corpus, "selfask", "acc_tokens", "chain")
    assert [(e["kind"], e["step"]) for e in last.examples] == [("first", 1), ("final", 3)]
    assert last.examples[1]["completion"] == chain[2]["completion"]
    both = build_examples(_selfask_with_retrieved(tmp_path, [orchard, tamsin, brackenford], [], []), corpus, "selfask", "acc_tokens", "chain")
    assert [(e["kind"], e["step"]) for e in both.examples] == [("final", 3)]


def test_after_a_joined_step_the_next_step_has_its_own_kind(corpus, tmp_path):
    trace = _lines(IRCOT)[0]
    first, *rest = trace["steps"]
    restated = {"step": 2, "retrieved": [], "output": "The Hollow Orchard is a novel."}
    trace["steps"] = [first, restated] + [{**step, "step": step["step"] + 1} for step in rest]
    examples = build_examples(_write(tmp_path / "traces.jsonl", [trace]), corpus, "ircot", "acc_tokens", "chain").examples
    assert [(e["kind"], e["step"]) for e in examples] == [("first", 2), ("mid", 3), ("final", 4)]


def test_variants(corpus):
    examples = build_examples(IRCOT, corpus, "ircot", "acc_tokens", "chain").examples
    assert [e["kind"] for e in variant_examples(examples, "final")] == ["final"] * 3
    assert {e["kind"] for e in variant_examples(examples, "first-final")} == {"first", "final"}
    assert len(variant_examples(examples, "first-mid-final")) == 6


def test_missing_doc_id_names_file_line_and_field(corpus):
    path = FIXTURES / "ircot_traces_missing_doc.jsonl"
    with pytest.raises(InputError) as error:
        build_examples(path, corpus, "ircot", "acc_tokens", "chain")
    assert (error.value.path, error.value.line, error.value.field) == (str(path), 1, "retrieved")
    assert "ffffffffffffffff" in str(error.value)


def test_corpus_check_covers_traces_the_filter_drops(corpus, tmp_path):
    q1, q2, q3, q4, _ = _lines()
    q4["steps"][1]["retrieved"] = ["0000000000000000"]  # q4 is wrong: the filter drops it
    path = _write(tmp_path / "t.jsonl", [q1, q2, q3, q4])
    with pytest.raises(InputError) as error:
        build_examples(path, corpus, "ircot", "acc_tokens", "chain")
    assert (error.value.line, error.value.field) == (4, "retrieved")


def test_line_numbers_count_blank_lines(corpus, tmp_path):
    bad = {k: v for k, v in _lines()[0].items() if k != "prediction"}
    path = _write(tmp_path / "t.jsonl", [bad], blank_before=4)
    with pytest.raises(InputError) as error:
        build_examples(path, corpus, "ircot", "acc_tokens", "chain")
    assert (error.value.line, error.value.field) == (5, "prediction")


def test_no_trace_or_none_kept_is_an_error_unless_allowed(corpus, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no trace") as error:
        build_examples(empty, corpus, "ircot", "acc_tokens", "chain")
    assert error.value.path == str(empty)
    wrong = _write(tmp_path / "wrong.jsonl", [_lines()[3]])
    with pytest.raises(InputError, match="no trace of 1 passes the filter 'acc_tokens'"):
        build_examples(wrong, corpus, "ircot", "acc_tokens", "chain")
    allowed = build_examples(wrong, corpus, "ircot", "acc_tokens", "chain", allow_empty=True)
    assert (allowed.n_traces, allowed.n_kept, allowed.examples) == (1, 0, [])


def test_cli_empty_input(tmp_path, tokenizer_dir, capsys):
    wrong = _write(tmp_path / "wrong.jsonl", [_lines()[3]])
    args = ["stepwise", "build", "--traces", str(wrong), "--corpus", str(CORPUS), "--framework", "ircot",
            "--tokenizer", str(tokenizer_dir), "--output-dir", str(tmp_path / "out"), "--settings", json.dumps({"variants": list(VARIANTS)})]
    assert main(args) == 2 and "wrong.jsonl: no trace of 1 passes" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main([*args, "--allow-empty"]) == 0
    assert (tmp_path / "out" / "first-mid-final.jsonl").read_text() == ""


def test_wrong_framework_and_settings_are_input_errors(corpus):
    with pytest.raises(InputError, match="framework"):
        build_examples(FIXTURES / "selfask_traces.jsonl", corpus, "ircot", "acc_tokens", "chain")
    with pytest.raises(InputError, match="filter"):
        StepwiseSettings(filter="f1", variants=["final"])
    with pytest.raises(InputError, match="target"):
        StepwiseSettings(target="steps", variants=["final"])
    with pytest.raises(InputError, match="variants"):
        StepwiseSettings(variants=["mid"])
    with pytest.raises(InputError, match="field 'variants'"):
        parse_settings({"target": "chain"}, StepwiseSettings)
    settings = StepwiseSettings(variants=["final"])
    assert (settings.target, settings.filter) == ("chain", "acc_tokens")


def test_stats(corpus, tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    data = build_examples(IRCOT, corpus, "ircot", "acc_tokens", "chain")
    stats = compute_stats(data, tokenizer, ["final", "first-mid-final"], "acc_tokens", "chain")
    assert (stats["traces"], stats["kept"], stats["pass_rate"], stats["target"]) == (5, 3, 0.6, "chain")
    assert stats["steps_per_kept_trace"] == {"1": 1, "2": 1, "3": 1}
    full = stats["variants"]["first-mid-final"]
    assert {k: v["examples"] for k, v in full["kinds"].items()} == {"first": 2, "mid": 1, "final": 3}
    final_prompts = [len(tokenizer(e["prompt"], add_special_tokens=False)["input_ids"]) for e in data.examples if e["kind"] == "final"]
    assert stats["variants"]["final"]["prompt_tokens"]["max"] == max(final_prompts)
    assert stats["variants"]["final"]["kinds"]["final"]["prompt_tokens"]["median"] == sorted(final_prompts)[1]
    assert set(stats["variants"]["final"]["kinds"]) == {"final"}
    table = stats_markdown(stats)
    assert "| first-mid-final | mid | 1 |" in table and "60.0%" in table and "target `chain`" in table


def test_cli_writes_variants_stats_and_settings(tmp_path, tokenizer_dir):
    out = tmp_path / "stepwise"
    code = main(["stepwise", "build", "--traces", str(IRCOT), "--corpus", str(CORPUS),
                 "--framework", "ircot", "--tokenizer", str(tokenizer_dir), "--output-dir", str(out),
                 "--settings", '{"filter": "em", "target": "step", "variants": ["final", "first-mid-final"]}'])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [".steper-owned.json", "final.jsonl", "first-mid-final.jsonl", "stats.json", "stats.md", "steper_settings.json"]
    lines = [json.loads(line) for line in (out / "first-mid-final.jsonl").read_text().splitlines()]
    assert [(e["id"], e["kind"]) for e in lines] == [("q1", "first"), ("q1", "mid"), ("q1", "final"), ("q2", "final")]
    assert set(lines[0]) == {"id", "kind", "step", "prompt", "completion", "context", "continuation"}
    assert lines[2]["completion"] == Q1_STEPS[2]
    assert json.loads((out / "stats.json").read_text())["kept"] == 2
    assert json.loads((out / "steper_settings.json").read_text())["settings"]["target"] == "step"


def test_cli_reports_missing_doc_and_writes_nothing(tmp_path, tokenizer_dir, capsys):
    out = tmp_path / "stepwise"
    code = main(["stepwise", "build", "--traces", str(FIXTURES / "ircot_traces_missing_doc.jsonl"), "--corpus", str(CORPUS),
                 "--framework", "ircot", "--tokenizer", str(tokenizer_dir), "--output-dir", str(out), "--settings", '{"variants": ["final"]}'])
    assert code == 2 and "line 1: field 'retrieved'" in capsys.readouterr().err
    assert not out.exists()


def test_a_trace_without_framework_or_retrieved_keys_reads_as_the_default(corpus, tmp_path):
    trace = next(t for t in _lines() if t["id"] == "q1")
    trace["steps"][-1]["retrieved"] = []
    bare = json.loads(json.dumps(trace))
    del bare["framework"]
    del bare["steps"][-1]["retrieved"]
    explicit = build_examples(_write(tmp_path / "explicit.jsonl", [trace]), corpus, "ircot", "acc_tokens", "chain").examples
    assert build_examples(_write(tmp_path / "bare.jsonl", [bare]), corpus, "ircot", "acc_tokens", "chain").examples == explicit
    assert [e["kind"] for e in explicit] == ["first", "final"]  # the mid step joins the final one, which found nothing new


def test_kept_traces_are_counted_per_length_and_lengths_summarised_to_two_decimals(corpus, tmp_path):
    from steper.stepwise.build import _summary

    q1 = next(t for t in _lines() if t["id"] == "q1")
    data = build_examples(_write(tmp_path / "twice.jsonl", [q1, dict(q1, id="q1b")]), corpus, "ircot", "acc_tokens", "chain")
    assert data.steps_per_trace == {3: 2}
    assert _summary([1, 2, 2]) == {"mean": 1.67, "median": 2.0, "max": 2} and _summary([]) is None
    with pytest.raises(ValueError) as error:
        kind_of(4, 3)
    assert str(error.value) == "step position 4 outside 1..3"
