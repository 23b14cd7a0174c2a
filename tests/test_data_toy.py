"""The toy world: deterministic, readable by the real readers, gold chains complete and consistent."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from steper.cli import main
from steper.data.readers import read_records
from steper.data.toy import MIXES, ToySettings, generate
from steper.io import InputError
from steper.metrics import normalize_answer

SMALL = ToySettings(seed=3, n_entities=150, n_train=40, n_dev=30, n_demonstrations=4, n_distractors=4)
NATIVE = {
    "hotpotqa": ("hotpotqa", ["train.json", "dev.json"]),
    "2wikimultihopqa": ("2wikimultihopqa", ["train.json", "dev.json"]),
    "musique": ("musique", ["musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"]),
}
TYPES = {
    "hotpotqa": {"bridge", "comparison"},
    "2wikimultihopqa": {"compositional", "inference", "comparison", "bridge_comparison"},
    "musique": {"2hop", "3hop1", "4hop1"},
}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toy")
    for dataset in NATIVE:
        generate(dataset, root / dataset, SMALL)
    return {dataset: root / dataset for dataset in NATIVE}


def _records(directory: Path, dataset: str):
    fmt, files = NATIVE[dataset]
    aliases = directory / "id_aliases.json" if dataset == "2wikimultihopqa" else None
    records = []
    for name in files:
        records += list(
            read_records(fmt, directory / name, dataset, aliases=aliases, chains=directory / "chains.jsonl")
        )
    return records


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("dataset", list(NATIVE))
def test_readers_accept_the_toy_files_and_chains_are_complete(worlds, dataset):
    records = _records(worlds[dataset], dataset)
    assert len(records) == SMALL.n_train + SMALL.n_dev
    assert len({r.id for r in records}) == len(records) and len({r.question for r in records}) == len(records)
    assert {r.type for r in records} == TYPES[dataset]
    chains = {c["id"]: c["decomposition"] for c in _jsonl(worlds[dataset] / "chains.jsonl")}
    assert set(chains) == {r.id for r in records}
    for record in records:
        assert len(record.supporting) >= 2, record.question
        assert len(record.contexts) == len(record.supporting) + SMALL.n_distractors
        assert len(record.decomposition) >= 2
        assert len(chains[record.id]) == len(record.decomposition)
        gold = " ".join(s["text"] for s in record.supporting)
        for step in chains[record.id]:  # every hop's answer is stated in a supporting passage
            assert step["answer"] in gold, (record.question, step)
        if record.answers[0] not in ("yes", "no"):
            assert record.answers[0] in gold
            assert record.answers[0] == chains[record.id][-1]["answer"] or record.type in (
                "comparison",
                "bridge_comparison",
            )
        else:
            assert record.type == "comparison"
        for context in record.contexts:
            assert context["text"] == context["text"].strip() and "  " not in context["text"]


def test_hotpotqa_supporting_facts_point_at_the_stating_sentence(worlds):
    for name in ("train.json", "dev.json"):
        for record in json.loads((worlds["hotpotqa"] / name).read_text(encoding="utf-8")):
            sentences = dict((title, s) for title, s in record["context"])
            assert len({t for t, _ in record["supporting_facts"]}) >= 2
            if record["answer"] not in ("yes", "no") and record["type"] == "bridge":
                title, index = record["supporting_facts"][-1]
                assert record["answer"] in sentences[title][index]
            assert all(s[0] == " " for _, ss in record["context"] for s in ss[1:])
            assert record["level"] in ("easy", "medium", "hard")


def test_musique_support_indices_and_hash_references(worlds):
    for row in _jsonl(worlds["musique"] / "musique_ans_v1.0_train.jsonl"):
        hops = row["question_decomposition"]
        assert len(hops) == int(row["id"][0]) and row["answerable"] is True
        for k, hop in enumerate(hops):
            paragraph = row["paragraphs"][hop["paragraph_support_idx"]]
            assert paragraph["is_supporting"] and hop["answer"] in paragraph["paragraph_text"]
            if k:
                assert f"#{k}" in hop["question"]
        assert hops[-1]["answer"] == row["answer"]


def test_2wiki_evidences_and_aliases(worlds):
    aliases = _jsonl(worlds["2wikimultihopqa"] / "id_aliases.json")
    assert aliases and all(set(a) == {"Q_id", "aliases", "demonyms"} for a in aliases)
    records = json.loads((worlds["2wikimultihopqa"] / "train.json").read_text(encoding="utf-8"))
    for record in records:
        assert len(record["evidences"]) >= 2 and all(len(e) == 3 for e in record["evidences"])
        assert record["entity_ids"]
    unified = _records(worlds["2wikimultihopqa"], "2wikimultihopqa")
    assert any(len(r.answers) > 1 for r in unified)  # some answers carry aliases


def test_demonstrations_come_from_a_separate_world(worlds):
    for dataset, directory in worlds.items():
        demos = _jsonl(directory / "demonstrations.jsonl")
        assert len(demos) == SMALL.n_demonstrations
        world_text = " ".join(
            f"{c['title']} {c['text']} {a}" for r in _records(directory, dataset) for c in r.contexts for a in r.answers
        )
        normalized_world = f" {normalize_answer(world_text)} "
        for demo in demos:
            assert set(demo) == {"id", "question", "answer", "contexts", "cot", "followups", "type", "template"}
            assert demo["type"] in TYPES[dataset]
            if not re.fullmatch(r"\d{4}|yes|no", demo["answer"]):  # names, demonyms and titles
                assert f" {normalize_answer(demo['answer'])} " not in normalized_world  # as whole words
            assert demo["cot"][-1] == f"So the answer is: {demo['answer']}."
            comparison = any(word in demo["question"] for word in (" first, ", " later, "))
            assert len(demo["cot"]) == len(demo["followups"]) + (2 if comparison else 1)
            assert len(demo["contexts"]) >= 4  # at least two gold passages and two distractors
            text = " ".join(c["text"] for c in demo["contexts"])
            for step in demo["followups"]:
                assert step["answer"] in text


def test_demonstrations_cover_every_template_of_the_most_common_types_first(tmp_path):
    templates = {name: [b.__name__ for _, _, group in MIXES[name] for b in group] for name in NATIVE}
    for dataset in NATIVE:
        n = len(templates[dataset])
        generate(dataset, tmp_path / dataset, ToySettings(n_entities=150, n_train=20, n_dev=10, n_demonstrations=n + 1))
        demos = _jsonl(tmp_path / dataset / "demonstrations.jsonl")
        assert sorted(d["template"] for d in demos[:n]) == sorted(templates[dataset])
    generate("hotpotqa", tmp_path / "few", ToySettings(n_entities=150, n_train=20, n_dev=10, n_demonstrations=2))
    assert {d["type"] for d in _jsonl(tmp_path / "few" / "demonstrations.jsonl")} == {"bridge"}  # 75% of questions


def test_type_shares_reweight_and_drop_question_types(tmp_path):
    settings = ToySettings(n_entities=150, n_train=30, n_dev=10, n_demonstrations=3)
    generate(
        "hotpotqa", tmp_path / "bridge", ToySettings(**{**settings.__dict__, "types": {"hotpotqa": {"comparison": 0}}})
    )
    records = _records(tmp_path / "bridge", "hotpotqa")
    assert {r.type for r in records} == {"bridge"}
    assert {d["type"] for d in _jsonl(tmp_path / "bridge" / "demonstrations.jsonl")} == {"bridge"}
    generate(
        "musique",
        tmp_path / "even",
        ToySettings(**{**settings.__dict__, "types": {"musique": {"2hop": 1, "3hop1": 1, "4hop1": 2}}}),
    )
    counts = Counter(r.type for r in _records(tmp_path / "even", "musique"))
    assert counts == {"2hop": 10, "3hop1": 10, "4hop1": 20}
    for types, field in (
        ({"hotpotqa": {"bridges": 1}}, "types.hotpotqa.bridges"),
        ({"hotpot": {}}, "types.hotpot"),
        ({"musique": {"2hop": -1}}, "types.musique.2hop"),
        ({"hotpotqa": {"bridge": 0, "comparison": 0}}, "types.hotpotqa"),
    ):
        with pytest.raises(InputError) as error:
            generate("hotpotqa", tmp_path / "bad", ToySettings(**{**settings.__dict__, "types": types}))
        assert error.value.field == field
    assert not (tmp_path / "bad").exists()


def test_same_nationality_questions_are_balanced_between_yes_and_no(worlds):
    answers = Counter(
        r.answers[0] for r in _records(worlds["2wikimultihopqa"], "2wikimultihopqa") if r.question.startswith("Are ")
    )
    assert sum(answers.values()) >= 6 and min(answers["yes"], answers["no"]) >= 0.3 * sum(answers.values())


def test_same_settings_same_files_and_datasets_differ(tmp_path, worlds):
    generate("hotpotqa", tmp_path / "again", SMALL)
    for name in ("train.json", "dev.json", "chains.jsonl", "demonstrations.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (worlds["hotpotqa"] / name).read_bytes()
    generate("hotpotqa", tmp_path / "other", ToySettings(**{**SMALL.__dict__, "seed": 4}))
    assert (tmp_path / "other" / "dev.json").read_bytes() != (worlds["hotpotqa"] / "dev.json").read_bytes()
    hotpot_titles = {t for r in _records(worlds["hotpotqa"], "hotpotqa") for t in (c["title"] for c in r.contexts)}
    musique_titles = {t for r in _records(worlds["musique"], "musique") for t in (c["title"] for c in r.contexts)}
    assert hotpot_titles != musique_titles


def test_cli_defaults_and_settings_validation(tmp_path, capsys):
    out, annotations = tmp_path / "raw", tmp_path / "annotations" / "musique.jsonl"
    args = ["data", "toy", "--dataset", "musique", "--output-dir", str(out)]
    assert main([*args, "--demonstrations", str(annotations), "--settings", '{"n_train": 20, "n_dev": 10}']) == 0
    assert len(_jsonl(out / "musique_ans_v1.0_train.jsonl")) == 20
    assert json.loads((out / "steper_settings.json").read_text())["settings"]["n_entities"] == 400
    assert annotations.read_bytes() == (out / "demonstrations.jsonl").read_bytes()
    assert main([*args[:-1], str(tmp_path / "x"), "--settings", '{"entities": 3}']) == 2
    assert "entities" in capsys.readouterr().err
    with pytest.raises(InputError) as error:
        generate("hotpotqa", tmp_path / "y", ToySettings(n_entities=60, n_train=5000))
    assert error.value.field == "n_train"
    assert not (tmp_path / "y").exists()


def test_only_the_last_cot_sentence_states_the_answer(worlds):
    for directory in worlds.values():
        for demo in _jsonl(directory / "demonstrations.jsonl"):
            assert [s for s in demo["cot"] if "answer is" in s] == [demo["cot"][-1]]
