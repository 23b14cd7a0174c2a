"""Gold teacher traces from a toy world that shares no entity with the question worlds.

The demo's teacher is SmolLM2-135M-Instruct fine-tuned to run IRCoT / Self-Ask zero-shot. Its
training data are traces in exactly the teacher's trace-line format, made by the frameworks' own
loop (`steper.frameworks.chain.run_chains`) with the real BM25 index of a separate world: the
"model" writes each question's gold chain step by step (IRCoT: the passage sentence of each hop,
the comparison's conclusion, then "So the answer is: ..."; Self-Ask: the follow-up lines), and
the queries are those the chain produces, so the distractors are the ones inference retrieves.
Where BM25 misses the passage a step rests on, that passage is put among the step's top-k at a
random rank (counted in the summary), so a gold step never states a fact it has not been shown.

The gold world is the toy generator with another seed, its own countries and no town, person or
title of any question world (checked), so the teacher can learn to read and copy, not to recall.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from steper import layout
from steper.data import toy
from steper.data import toy_questions as tq
from steper.data.corpus import write_corpus
from steper.data.toy_names import gold_pools
from steper.data.toy_world import World, build_world
from steper.frameworks.chain import run_chains
from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.prompts import IRCOT_FORCE, SELFASK_FORCE, selfask_chain
from steper.frameworks.registry import make_strategy
from steper.frameworks.runner import FrameworkSettings, loop_settings, trace_line
from steper.io import InputError, atomic_dir, write_json, write_jsonl
from steper.models.generation import Generation
from steper.models.prompting import encode
from steper.names import DATASETS, DISTILLED
from steper.retrieval import build_index, open_retriever, read_corpus
from steper.settings import from_schema, parse_settings, save_resolved

log = logging.getLogger(__name__)

GOLD_ID_START = 500000  # entity ids apart from the question worlds' (100000) and demonstrations' (900000)


@dataclass
class GoldSettings:
    world_seed: int = from_schema("models.*.gold.world_seed")
    n_entities: int = from_schema("models.*.gold.n_entities")
    n_chains: int = from_schema("models.*.gold.n_chains")  # questions per framework, shared out over the datasets' type mixes
    n_distractors: int = from_schema("models.*.gold.n_distractors")
    datasets: list[str] = from_schema("datasets")
    frameworks: list[str] = from_schema("frameworks")
    toy: dict[str, Any] = from_schema("data.toy")  # the question worlds' ToySettings
    # The teacher's FrameworkSettings with the retrieval section's backend, k1 and b: no schema node
    # holds that mapping, so it has no default and the workflow always passes it.
    framework: dict[str, Any] = field(kw_only=True)


@dataclass
class GoldQuestion:
    id: str
    dataset: str
    type: str
    question: tq.Question
    titles: list[str]  # gold + distractor passages: what the corpus holds for this question


def gold_world(settings: GoldSettings) -> tuple[World, set[str]]:
    """The gold world and the question worlds' names it was kept apart from (checked again here)."""
    toy_settings = parse_settings(settings.toy, toy.ToySettings, source="--settings toy")
    taken: set[str] = set()
    for dataset in settings.datasets:
        taken |= toy.world_names(toy.question_world(dataset, toy_settings)[0])
    rng = random.Random(f"gold-{settings.world_seed}")
    world = build_world(rng, gold_pools(), settings.n_entities, id_start=GOLD_ID_START, exclude=frozenset(taken))
    shared = toy.world_names(world) & taken
    if shared:
        raise InputError("--settings", f"gold world shares names with the question worlds: {sorted(shared)[:5]}", field="world_seed")
    return world, taken


def gold_questions(world: World, settings: GoldSettings) -> dict[str, list[GoldQuestion]]:
    """Distinct questions per framework, in each dataset's type mix, with their context passages."""
    toy_settings = parse_settings(settings.toy, toy.ToySettings, source="--settings toy")
    rng = random.Random(f"gold-questions-{settings.world_seed}")
    n_frameworks = len(settings.frameworks)
    per_dataset = [settings.n_chains // len(settings.datasets)] * len(settings.datasets)
    for index in range(settings.n_chains % len(settings.datasets)):
        per_dataset[index] += 1
    seen: set[str] = set()
    chosen: dict[str, list[tuple[str, str, tq.Question]]] = {name: [] for name in settings.frameworks}
    for dataset, n in zip(settings.datasets, per_dataset):
        mix = toy.type_mix(dataset, toy_settings.types)
        pool = [(q, t) for q, t in toy.select_questions(world, mix, rng, 2 * n * n_frameworks) if q.question not in seen]
        if len(pool) < n * n_frameworks:
            raise InputError("--settings", f"the gold world has only {len(pool)} new {dataset} questions; raise n_entities", field="n_chains")
        for position, (question, native_type) in enumerate(pool[: n * n_frameworks]):
            seen.add(question.question)
            chosen[settings.frameworks[position % n_frameworks]].append((dataset, native_type, question))
    result: dict[str, list[GoldQuestion]] = {}
    for framework, entries in chosen.items():
        result[framework] = []
        for number, (dataset, native_type, question) in enumerate(entries):
            titles = question.gold_titles + tq.distractors(world, question, rng, settings.n_distractors)
            result[framework].append(GoldQuestion(f"gold-{framework}-{dataset}-{number:04d}", dataset, native_type, question, titles))
    return result


def gold_steps(question: tq.Question, framework: str) -> list[str]:
    """The chain the teacher should write, one entry per step of the framework's loop."""
    if framework == "selfask":
        followups = [{"question": h.question, "answer": h.answer} for h in question.hops]
        return selfask_chain(Demonstration("", question.question, question.answer, [], [], followups))
    return [h.statement for h in question.hops] + ([question.conclusion] if question.conclusion else []) + [f"So the answer is: {question.answer}."]


def needed_titles(question: tq.Question, framework: str) -> list[str | None]:
    """Per step, the passage that step's text rests on and must be shown by then (None: none new).

    IRCoT's step s states hop s; Self-Ask's step s + 1 answers the follow-up of step s.
    """
    hops = [h.title for h in question.hops]
    return hops if framework == "ircot" else [None, *hops]


class GoldRetriever:
    """The real retriever; a step's needed passage missing from its top-k is put there at a random rank."""

    def __init__(self, retriever: Any, passages: dict[str, Any], top_k: int, rng: random.Random):
        self.retriever = retriever
        self.passages = passages
        self.top_k = top_k
        self.rng = rng
        self.needed: list[str | None] = []
        self.step = 0
        self.promoted: list[tuple[int, str]] = []  # (step, title) of the current question

    def start(self, needed: list[str | None]) -> None:
        self.needed, self.step, self.promoted = needed, 0, []

    def batch_search(self, queries: list[str], k: int) -> list[list[Any]]:
        if len(queries) != 1:
            raise ValueError("gold traces are made one question at a time")
        hits = self.retriever.batch_search(queries, k)[0]
        title = self.needed[self.step] if self.step < len(self.needed) else None
        self.step += 1
        if title is not None and title not in {hit.title for hit in hits[: self.top_k]}:
            hits = [hit for hit in hits if hit.title != title]
            hits.insert(self.rng.randrange(self.top_k), self.passages[title])
            self.promoted.append((self.step, title))
        return [hits]


class GoldBackend:
    """A generation backend that writes the current question's gold chain, one step per call."""

    def __init__(self, tokenizer: Any, framework: str, separator: str):
        self.tokenizer = tokenizer
        self.force = SELFASK_FORCE if framework == "selfask" else IRCOT_FORCE
        self.separator = separator
        self.steps: list[str] = []
        self.answer = ""
        self.calls = 0

    def start(self, steps: list[str], answer: str) -> None:
        self.steps, self.answer, self.calls = steps, answer, 0

    def generate(self, prompts: list[Any], max_new_tokens: int, stop: list[str], step_end: Any = None) -> list[Any]:
        (prompt,) = prompts
        if prompt.continuation.endswith(self.force):
            text = f" {self.answer}" + ("." if self.separator == " " else "")
        else:
            text = self.separator + self.steps[self.calls]
        self.calls += 1
        prompt_tokens = len(encode(self.tokenizer, [prompt], chat_template=False)[0])
        completion_tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return [Generation(text, prompt_tokens, completion_tokens)]


def missed(line: dict[str, Any], promoted: list[tuple[int, str]], titles_of: dict[str, str]) -> int:
    """How many passages BM25 alone would not have shown by the step that rests on them."""
    count = 0
    for step, title in promoted:
        shown = {titles_of[doc_id] for earlier in line["steps"][: step - 1] for doc_id in earlier["retrieved"]}
        count += title not in shown
    return count


def check_trace(line: dict[str, Any], question: tq.Question, framework: str, titles_of: dict[str, str]) -> str | None:
    """Why a gold trace is unusable (None if it is fine): a wrong answer, or a step whose passage came too late."""
    if line["correct"]["acc"] != 1:
        return "answer"
    shown: set[str] = set()
    for step, title in zip(line["steps"], needed_titles(question, framework)):
        shown |= {titles_of[doc_id] for doc_id in step["retrieved"]}
        if title is not None and title not in shown:
            return "passage"
    return None


def make_gold_traces(output_dir: str | os.PathLike, tokenizer_dir: str | os.PathLike, settings: GoldSettings) -> dict[str, Any]:
    """Write corpus.jsonl, index/<backend>/, {framework}.jsonl and summary.json into `output_dir`."""
    from transformers import AutoTokenizer

    unknown = [name for name in settings.frameworks if name not in DISTILLED]
    if unknown or not settings.frameworks:
        raise InputError("--settings", f"unknown or no frameworks {unknown} (known: {', '.join(DISTILLED)})", field="frameworks")
    unknown = [name for name in settings.datasets if name not in DATASETS]
    if unknown or not settings.datasets:
        raise InputError("--settings", f"unknown or no datasets {unknown} (known: {', '.join(DATASETS)})", field="datasets")
    framework_settings = parse_settings(settings.framework, FrameworkSettings, source="--settings framework")
    world, taken = gold_world(settings)
    questions = gold_questions(world, settings)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    summary: dict[str, Any] = {"world_entities": len(world.passages), "names_kept_apart": len(taken), "names_shared": 0}
    with atomic_dir(output_dir) as tmp:
        titles = [t for entries in questions.values() for q in entries for t in q.titles]
        corpus_path = tmp / layout.below("gold_corpus", "gold_dir")
        summary["corpus"] = write_corpus(((t, world.passage(t).text) for t in titles), corpus_path, "gold")["count"]
        backend = framework_settings.retrieval_backend
        index = layout.backend_index(tmp / "index", backend)
        build_index(corpus_path, index, backend, framework_settings.k1, framework_settings.b, threads=1)
        passages = {p.title: p for p in read_corpus(corpus_path)}
        titles_of = {p.id: p.title for p in passages.values()}
        real = open_retriever(index, backend, k1=framework_settings.k1, b=framework_settings.b, threads=1)
        for framework in settings.frameworks:
            retriever = GoldRetriever(real, passages, framework_settings.top_k, random.Random(f"gold-ranks-{settings.world_seed}-{framework}"))
            strategy = make_strategy(framework, framework_settings.passage_words, framework_settings.query_cleaning)
            generator = GoldBackend(tokenizer, framework, strategy.separator)
            loop = loop_settings(framework, framework_settings)
            lines, dropped, kept_by, misses = [], Counter(), Counter(), 0
            for gold in tqdm(questions[framework], desc=f"gold {framework}", unit="q"):
                q = gold.question
                retriever.start(needed_titles(q, framework))
                generator.start(gold_steps(q, framework), q.answer)
                (chain,) = run_chains([(gold.id, q.question)], strategy, retriever, generator, loop)
                line = trace_line(chain, {"answers": [q.answer, *q.answer_aliases]}, framework, "gold", 0.0, framework_settings.passage_words)
                problem = check_trace(line, q, framework, titles_of)
                if problem is not None:
                    dropped[problem] += 1
                    continue
                misses += missed(line, retriever.promoted, titles_of)
                kept_by[f"{gold.dataset}/{gold.type}"] += 1
                lines.append(line)
            write_jsonl(tmp / layout.below("gold_traces", "gold_dir", gold_framework=framework), lines)
            n_steps = [line["n_steps"] for line in lines]
            summary[framework] = {
                "traces": len(lines),
                "dropped": dict(dropped),
                "steps": sum(n_steps),
                "mean_steps": round(sum(n_steps) / max(1, len(n_steps)), 3),
                "passages_put_in_top_k": misses,
                "by_dataset_type": dict(sorted(kept_by.items())),
            }
            log.info("gold %s: %d traces, %d steps, %d passages put in the top-k, dropped %s",
                     framework, len(lines), sum(n_steps), misses, dict(dropped))
        write_json(tmp / layout.below("gold_summary", "gold_dir"), summary)
        save_resolved(tmp / layout.SETTINGS_FILE, settings, tokenizer=str(tokenizer_dir))
    return summary
