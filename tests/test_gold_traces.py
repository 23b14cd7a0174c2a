"""Gold teacher traces: a world apart from the questions', chains in the teacher's trace format."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from steper.cli import main
from steper.data import toy
from steper.data import toy_questions as tq
from steper.data.toy_names import pools
from steper.data.toy_world import Country, Person, Town, Work, build_world
from steper.finetune.gold_traces import GoldSettings, check_trace, gold_steps, gold_world, missed, needed_titles
from steper.models.tiny import train_tokenizer
from steper.names import DATASETS

TOY = {"seed": 3, "n_entities": 150}
SMALL = GoldSettings(world_seed=5, n_entities=200, n_chains=12, n_distractors=3, toy=TOY,
                     framework={"top_k": 2, "max_steps": 5, "max_passages": 10, "retrieval_backend": "bm25s", "query_cleaning": "none"})
# the teacher's trace line (the runner may add more)
TRACE_KEYS = {"id", "question", "answers", "framework", "model", "steps", "prediction", "correct", "n_steps", "seconds"}
STEP_KEYS = {"step", "query", "retrieved", "prompt_tokens", "completion_tokens", "output"}


def _bridge() -> tq.Question:
    country = Country("Q1", "Valdoria", "Valdorian")
    town = Town("Q2", "Marrowick", country, 12000)
    author = Person("Q3", "Tamsin Everhart", "Tamsin", "Everhart", "f", 1901, town, country, "novelist")
    return tq.where_born(Work("Q4", "The Hollow Orchard", "novel", 1930, author, ("Hollow", "Orchard")))


def test_gold_steps_are_the_frameworks_chains():
    question = _bridge()
    assert gold_steps(question, "ircot") == [
        "The Hollow Orchard is a novel written by Tamsin Everhart.",
        "Tamsin Everhart was born in Marrowick.",
        "So the answer is: Marrowick.",
    ]
    assert gold_steps(question, "selfask") == [
        "Follow up: Who is the author of The Hollow Orchard?",
        "Intermediate answer: Tamsin Everhart\nFollow up: Where was Tamsin Everhart born?",
        "Intermediate answer: Marrowick\nSo the final answer is: Marrowick",
    ]
    # IRCoT's step s states hop s; Self-Ask answers hop s one step after asking it
    assert needed_titles(question, "ircot") == ["The Hollow Orchard", "Tamsin Everhart"]
    assert needed_titles(question, "selfask") == [None, "The Hollow Orchard", "Tamsin Everhart"]


def test_gold_world_shares_no_name_with_the_question_worlds():
    settings = toy.ToySettings(**TOY)
    taken = set().union(*(toy.world_names(toy.question_world(d, settings)[0]) for d in DATASETS))
    world, kept_apart = gold_world(SMALL)
    assert kept_apart == taken
    assert not toy.world_names(world) & taken
    assert {c.name for c in world.countries}.isdisjoint(name for name, _ in pools()[0].countries)
    # without the exclusion the same generator does reuse question-world names
    unguarded = build_world(random.Random("gold-5"), pools()[0], 200)
    assert toy.world_names(unguarded) & taken


def test_exclusion_leaves_the_question_world_unchanged():
    settings = toy.ToySettings(**TOY)
    world, _ = toy.question_world("hotpotqa", settings)
    again = build_world(random.Random("toy-3-hotpotqa"), pools()[0], 150, exclude=frozenset())
    assert list(world.passages) == list(again.passages)


def test_check_trace_names_what_is_wrong():
    question = _bridge()
    titles = {"d1": "The Hollow Orchard", "d2": "Tamsin Everhart", "d3": "Marrowick"}
    good = {"correct": {"acc": 1}, "steps": [{"retrieved": ["d1"]}, {"retrieved": ["d2"]}, {"retrieved": []}]}
    assert check_trace(good, question, "ircot", titles) is None
    late = {"correct": {"acc": 1}, "steps": [{"retrieved": ["d1"]}, {"retrieved": ["d3"]}, {"retrieved": ["d2"]}]}
    assert check_trace(late, question, "ircot", titles) == "passage"
    # Self-Ask needs the work's passage only at step 2, the author's at step 3
    assert check_trace(late, question, "selfask", titles) is None
    assert check_trace({**good, "correct": {"acc": 0}}, question, "ircot", titles) == "answer"


def test_missed_counts_only_passages_not_shown_before():
    titles = {"d1": "The Hollow Orchard", "d2": "Tamsin Everhart", "d3": "Marrowick"}
    line = {"steps": [{"retrieved": ["d1", "d2"]}, {"retrieved": ["d3"]}, {"retrieved": []}]}
    # put in at step 2 although step 1 showed it: BM25 did not miss it; Marrowick at step 2 was missed
    assert missed(line, [(2, "Tamsin Everhart")], titles) == 0
    assert missed(line, [(2, "Marrowick"), (2, "Tamsin Everhart")], titles) == 1


@pytest.fixture(scope="module")
def gold_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gold")
    world, _ = gold_world(SMALL)
    train_tokenizer([p.text for p in world.passages.values()], 400).save_pretrained(root / "tokenizer")
    settings = json.dumps({**SMALL.__dict__})
    assert main(["finetune", "gold-traces", "--output-dir", str(root / "gold"), "--tokenizer", str(root / "tokenizer"), "--settings", settings]) == 0
    return root


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("framework", ["ircot", "selfask"])
def test_gold_traces_follow_the_loop(gold_dir, framework):
    corpus = {d["id"]: d for d in _lines(gold_dir / "gold" / "corpus.jsonl")}
    lines = _lines(gold_dir / "gold" / f"{framework}.jsonl")
    summary = json.loads((gold_dir / "gold" / "summary.json").read_text())
    assert summary["names_shared"] == 0
    assert len(lines) == summary[framework]["traces"] == 12 - sum(summary[framework]["dropped"].values())
    assert len(lines) >= 10
    assert len({line["id"] for line in lines}) == len(lines)
    assert {line["id"].split("-")[2] for line in lines} == set(DATASETS)
    for line in lines:
        assert TRACE_KEYS <= set(line) and line["framework"] == framework and line["model"] == "gold"
        assert line["correct"]["acc"] == 1 and line["n_steps"] == len(line["steps"]) >= 2
        steps = line["steps"]
        assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
        assert steps[0]["query"] == line["question"]
        for before, step in zip(steps, steps[1:]):
            # the next query is the last sentence (IRCoT) or the last follow-up question (Self-Ask)
            expected = before["output"] if framework == "ircot" else before["output"].split("Follow up: ")[-1]
            assert step["query"] == expected
        for step in steps:
            assert STEP_KEYS <= set(step) and step["prompt_tokens"] > 0 and step["completion_tokens"] > 0
            assert len(step["retrieved"]) <= 2 and all(doc in corpus for doc in step["retrieved"])
        marker = "So the final answer is: " if framework == "selfask" else "So the answer is: "
        assert marker + line["prediction"] in steps[-1]["output"]


def test_gold_traces_build_stepwise_examples(gold_dir):
    out = gold_dir / "stepwise"
    assert main(["stepwise", "build", "--traces", str(gold_dir / "gold" / "ircot.jsonl"), "--corpus", str(gold_dir / "gold" / "corpus.jsonl"),
                 "--framework", "ircot", "--tokenizer", str(gold_dir / "tokenizer"), "--output-dir", str(out),
                 "--settings", json.dumps({"filter": "acc", "variants": ["first-mid-final"]})]) == 0
    examples = _lines(out / "first-mid-final.jsonl")
    traces = _lines(gold_dir / "gold" / "ircot.jsonl")
    # under the default chain target a step whose next step retrieved nothing joins it
    assert len(examples) == sum(1 for t in traces for s, following in zip(t["steps"], t["steps"][1:] + [None])
                                if following is None or following["retrieved"])
    assert len(examples) < sum(len(t["steps"]) for t in traces)
    assert all("Wikipedia Title: " in e["prompt"] for e in examples)
