"""`steper data toy`: a seeded fictional world written in each dataset's native format.

The demo and smoke tiers run offline on it, so the real readers, corpus builder and every later
stage run unchanged. Besides the native files it writes `chains.jsonl` (the gold chain of every
question, for formats without one) and `demonstrations.jsonl` (few-shot examples built from a
separate set of names, so a name copied from a demonstration is never right by accident).
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steper.data import toy_questions as tq
from steper.data.toy_names import pools
from steper.data.toy_world import World, build_world
from steper.io import InputError, atomic_dir, write_jsonl
from steper.layout import SETTINGS_FILE
from steper.names import DATASETS
from steper.settings import from_schema, save_resolved

log = logging.getLogger(__name__)

# dataset -> [(native type, share of questions, builders)]
MIXES: dict[str, list[tuple[str, float, list[tq.Builder]]]] = {
    "hotpotqa": [
        ("bridge", 0.75, [tq.where_born, tq.year_born, tq.nationality_of, tq.birth_country]),
        ("comparison", 0.25, [tq.born_first, tq.same_nationality, tq.came_out_first]),
    ],
    "2wikimultihopqa": [
        ("compositional", 0.3, [tq.where_born, tq.nationality_of, tq.father_of_creator]),
        ("inference", 0.15, [tq.grandfather]),
        ("comparison", 0.3, [tq.born_first, tq.same_nationality, tq.came_out_first]),
        ("bridge_comparison", 0.25, [tq.creator_born_later]),
    ],
    "musique": [
        ("2hop", 0.5, [tq.where_born, tq.year_born, tq.birth_country, tq.father_of_creator]),
        ("3hop1", 0.3, [tq.country_of_birthplace, tq.father_birthplace]),
        ("4hop1", 0.2, [tq.capital_of_birth_country, tq.father_birth_country]),
    ],
}
DEMO_ENTITIES = 60
# below: too few people for families; above: the name lists run out of distinct surnames
MIN_ENTITIES, MAX_ENTITIES = 60, 1500
DEMO_DISTRACTORS = 2


@dataclass
class ToySettings:
    seed: int = from_schema("data.toy.seed")
    n_entities: int = from_schema("data.toy.n_entities")
    n_train: int = from_schema("data.toy.n_train")
    n_dev: int = from_schema("data.toy.n_dev")
    n_demonstrations: int = from_schema("data.toy.n_demonstrations")
    n_distractors: int = from_schema("data.toy.n_distractors")
    # dataset -> native type -> share, replacing that type's share in MIXES (0 drops the type)
    types: dict[str, dict[str, float]] = from_schema("data.toy.types")


@dataclass
class Item:
    """A question placed in its split, with its native type, native id and passages in context order."""

    question: tq.Question
    type: str
    id: str
    titles: list[str]


def generate(
    dataset: str,
    output_dir: str | os.PathLike,
    settings: ToySettings,
    demonstrations_path: str | os.PathLike | None = None,
) -> dict[str, int]:
    """Write the native files, chains and demonstrations of `dataset` into `output_dir` (atomically);
    `demonstrations_path` gets a copy of the demonstrations where the pipeline keeps annotations."""
    if dataset not in DATASETS:
        raise InputError(
            "--dataset", f"unknown toy dataset {dataset!r} (known: {', '.join(DATASETS)})", field="dataset"
        )
    if not MIN_ENTITIES <= settings.n_entities <= MAX_ENTITIES:
        raise InputError("--settings", f"must be between {MIN_ENTITIES} and {MAX_ENTITIES}", field="n_entities")
    for name in ("n_train", "n_dev", "n_demonstrations", "n_distractors"):
        if getattr(settings, name) < 0:
            raise InputError("--settings", "must not be negative", field=name)
    mix = type_mix(dataset, settings.types)
    _, demo_pools = pools()
    world, rng = question_world(dataset, settings)
    questions = select_questions(world, mix, rng, settings.n_train + settings.n_dev)
    items = [_place(world, dataset, q, t, i, rng, settings.n_distractors) for i, (q, t) in enumerate(questions)]
    splits = {"train": items[: settings.n_train], "dev": items[settings.n_train :]}

    demo_rng = random.Random(f"toy-demo-{settings.seed}-{dataset}")
    demo_world = build_world(demo_rng, demo_pools, DEMO_ENTITIES, id_start=900000)
    demos = _demonstrations(demo_world, dataset, mix, demo_rng, settings.n_demonstrations)

    with atomic_dir(output_dir) as tmp:
        writer = {"hotpotqa": _write_hotpotqa, "2wikimultihopqa": _write_2wiki, "musique": _write_musique}[dataset]
        writer(world, splits, tmp)
        _jsonl(
            tmp / "chains.jsonl",
            [
                {
                    "id": item.id,
                    "decomposition": [{"question": h.question, "answer": h.answer} for h in item.question.hops],
                }
                for split in splits.values()
                for item in split
            ],
        )
        _jsonl(tmp / "demonstrations.jsonl", demos)
        save_resolved(tmp / SETTINGS_FILE, settings, dataset=dataset)
        if demonstrations_path is not None:
            write_jsonl(demonstrations_path, demos)
    sizes = {name: len(split) for name, split in splits.items()} | {
        "demonstrations": len(demos),
        "entities": len(world.passages),
    }
    log.info("toy %s -> %s: %s", dataset, output_dir, sizes)
    return sizes


def question_world(dataset: str, settings: ToySettings) -> tuple[World, random.Random]:
    """The world `dataset`'s questions are asked about, and the generator that goes on to pick them."""
    rng = random.Random(f"toy-{settings.seed}-{dataset}")
    return build_world(rng, pools()[0], settings.n_entities), rng


def world_names(world: World) -> set[str]:
    """Every entity name and title of `world`: what another world must not reuse."""
    return set(world.passages)


def type_mix(dataset: str, types: dict[str, dict[str, float]]) -> list[tuple[str, float, list[tq.Builder]]]:
    """The dataset's type mix with the shares of `types` applied, renormalised, most common first."""
    for name, shares in types.items():
        if name not in DATASETS:
            raise InputError("--settings", f"unknown dataset (known: {', '.join(DATASETS)})", field=f"types.{name}")
        known = [native_type for native_type, _, _ in MIXES[name]]
        for native_type, share in shares.items():
            if native_type not in known:
                raise InputError(
                    "--settings",
                    f"unknown {name} type (known: {', '.join(known)})",
                    field=f"types.{name}.{native_type}",
                )
            if not isinstance(share, (int, float)) or share < 0:
                raise InputError("--settings", "a share must be a number >= 0", field=f"types.{name}.{native_type}")
    shares = types.get(dataset, {})
    mix = [(t, float(shares.get(t, share)), builders) for t, share, builders in MIXES[dataset]]
    total = sum(share for _, share, _ in mix)
    if total <= 0:
        raise InputError("--settings", "at least one type needs a share above 0", field=f"types.{dataset}")
    mix = [(t, share / total, builders) for t, share, builders in mix if share > 0]
    return sorted(mix, key=lambda entry: -entry[1])


def select_questions(
    world: World, mix: list[tuple[str, float, list[tq.Builder]]], rng: random.Random, total: int
) -> list[tuple[tq.Question, str]]:
    """`total` distinct questions in the type mix; a type that runs out is made up by the others."""
    pools_by_type = []
    for native_type, share, builders in mix:
        lists = [tq.candidates(world, b, rng, pairs=total) for b in builders]
        interleaved = [q for group in _zip_longest(lists) for q in group]
        pools_by_type.append((native_type, round(share * total), interleaved))
    chosen: list[tuple[tq.Question, str]] = []
    # "X or Y" and "Y or X" are one question: the key ignores the order of the gold passages
    seen: set[tuple] = set()

    def take(native_type: str, pool: list[tq.Question], n: int) -> None:
        while pool and n > 0 and len(chosen) < total:
            question = pool.pop(0)
            key = (question.kind, frozenset(question.gold_titles), question.answer)
            if key not in seen:
                seen.add(key)
                chosen.append((question, native_type))
                n -= 1

    for native_type, quota, pool in pools_by_type:
        take(native_type, pool, quota)
    while len(chosen) < total and any(pool for _, _, pool in pools_by_type):
        for native_type, _, pool in pools_by_type:
            take(native_type, pool, 1)
    if len(chosen) < total:
        raise InputError(
            "--settings",
            f"the toy world has only {len(chosen)} distinct questions; lower n_train/n_dev or raise n_entities",
            field="n_train",
        )
    rng.shuffle(chosen)
    return chosen


def _zip_longest(lists: list[list]) -> list[list]:
    longest = max((len(x) for x in lists), default=0)
    return [[x[i] for x in lists if i < len(x)] for i in range(longest)]


def _place(
    world: World,
    dataset: str,
    question: tq.Question,
    native_type: str,
    index: int,
    rng: random.Random,
    n_distractors: int,
) -> Item:
    titles = question.gold_titles + tq.distractors(world, question, rng, n_distractors)
    rng.shuffle(titles)
    if dataset == "musique":
        first = 100000 + 10 * index
        identifier = f"{native_type}__" + "_".join(str(first + k) for k in range(len(question.hops)))
    else:
        bits = 128 if dataset == "2wikimultihopqa" else 96  # the lengths of the real ids
        identifier = f"{rng.getrandbits(bits):0{bits // 4}x}"
    return Item(question, native_type, identifier, titles)


def _supporting_facts(world: World, question: tq.Question) -> list[list]:
    facts = [[h.title, world.passage(h.title).facts[h.fact]] for h in question.hops]
    return [list(f) for f in dict.fromkeys(tuple(f) for f in facts)]


def _write_hotpotqa(world: World, splits: dict[str, list[Item]], directory: Path) -> None:
    levels = ("easy", "medium", "hard")
    for name, items in splits.items():
        records = []
        for number, item in enumerate(items):
            q = item.question
            records.append(
                {
                    "_id": item.id,
                    "question": q.question,
                    "answer": q.answer,
                    "supporting_facts": _supporting_facts(world, q),
                    "context": [
                        [t, [s if i == 0 else " " + s for i, s in enumerate(world.passage(t).sentences)]]
                        for t in item.titles
                    ],
                    "type": item.type,
                    "level": levels[number % len(levels)],
                }
            )
        _json(directory / f"{name}.json", records)


def _write_2wiki(world: World, splits: dict[str, list[Item]], directory: Path) -> None:
    for name, items in splits.items():
        records = []
        for item in items:
            q = item.question
            subjects = list(dict.fromkeys(h.subject_id for h in q.hops if h.after is None))
            records.append(
                {
                    "_id": item.id,
                    "type": item.type,
                    "question": q.question,
                    "context": [[t, list(world.passage(t).sentences)] for t in item.titles],
                    "supporting_facts": _supporting_facts(world, q),
                    "evidences": [[h.subject, h.relation, h.answer] for h in q.hops],
                    "evidences_id": [[h.subject_id, h.relation, h.answer_id] for h in q.hops],
                    "answer": q.answer,
                    "entity_ids": "_".join(subjects),
                    "answer_id": q.answer_id,
                }
            )
        _json(directory / f"{name}.json", records)
    aliases = [{"Q_id": p.id, "aliases": [p.alias], "demonyms": []} for p in world.people if p.alias]
    aliases += [{"Q_id": c.id, "aliases": [], "demonyms": [c.demonym]} for c in world.countries]
    _jsonl(directory / "id_aliases.json", aliases)


def _write_musique(world: World, splits: dict[str, list[Item]], directory: Path) -> None:
    for name, items in splits.items():
        records = []
        for item in items:
            q = item.question
            gold = set(q.gold_titles)
            sub_ids = [int(x) for x in item.id.split("__")[1].split("_")]
            records.append(
                {
                    "id": item.id,
                    "paragraphs": [
                        {"idx": i, "title": t, "paragraph_text": world.passage(t).text, "is_supporting": t in gold}
                        for i, t in enumerate(item.titles)
                    ],
                    "question": q.question,
                    "question_decomposition": [
                        {
                            "id": sub_ids[k],
                            "question": h.question_with_refs(),
                            "answer": h.answer,
                            "paragraph_support_idx": item.titles.index(h.title),
                        }
                        for k, h in enumerate(q.hops)
                    ],
                    "answer": q.answer,
                    "answer_aliases": list(q.answer_aliases),
                    "answerable": True,
                }
            )
        _jsonl(directory / f"musique_ans_v1.0_{name}.jsonl", records)


def _demonstrations(
    world: World, dataset: str, mix: list[tuple[str, float, list[tq.Builder]]], rng: random.Random, n: int
) -> list[dict[str, Any]]:
    """One demonstration per question template before any template gets a second, templates of
    the most common types first: a small teacher copies the shape of the chain it has seen, so a
    template without a demonstration is answered with another template's chain."""
    templates = [(native_type, builder) for native_type, _, group in mix for builder in group]
    lists = [[(q, t, b) for q in tq.candidates(world, b, rng, pairs=4 * n)] for t, b in templates]
    chosen: list[tuple[tq.Question, str, tq.Builder]] = []
    for group in _zip_longest(lists):
        for entry in group:
            if len(chosen) < n and entry[0].question not in {q.question for q, _, _ in chosen}:
                chosen.append(entry)
    if len(chosen) < n:
        raise InputError("--settings", f"only {len(chosen)} demonstrations can be built", field="n_demonstrations")
    demos = []
    for index, (q, native_type, builder) in enumerate(chosen):
        titles = q.gold_titles + tq.distractors(world, q, rng, DEMO_DISTRACTORS)
        rng.shuffle(titles)
        demos.append(
            {
                "id": f"demo-{dataset}-{index + 1}",
                "question": q.question,
                "answer": q.answer,
                "contexts": [{"title": t, "text": world.passage(t).text} for t in titles],
                "cot": [h.statement for h in q.hops]
                + ([q.conclusion] if q.conclusion else [])
                + [f"So the answer is: {q.answer}."],
                "followups": [{"question": h.question, "answer": h.answer} for h in q.hops],
                "type": native_type,
                "template": builder.__name__,
            }
        )
    return demos


def _json(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
