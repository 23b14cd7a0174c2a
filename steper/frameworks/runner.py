"""Run a framework over a records file and write one trace line per question, resumably.

Finished questions are appended (and fsynced) chunk by chunk to `<output>.partial`, which is
renamed to `<output>` when every question is done; a killed run loses at most the chunk in
flight, and a restart of the same run (same model files, records, settings and demonstrations)
keeps every complete line and only runs the questions still missing, under the contract of
`steper.frameworks.resume`; one process at a time writes an output. Shards split the questions by
index for parallel jobs; `merge` joins them back in the records' order, and only shards whose
resume record says they were run on those records under one identity.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from steper import layout
from steper.fingerprint import directory_fingerprint
from steper.frameworks.baselines import rag_k
from steper.frameworks.chain import PASSAGE_ORDERS, Chain, LoopSettings, run_chains
from steper.frameworks.demonstrations import demo_contexts, load_demonstrations, select_demonstrations
from steper.frameworks.fitting import PromptBudget
from steper.frameworks.passages import NEW_PASSAGES
from steper.frameworks.registry import MULTI_STEP, RETRIEVING, make_strategy
from steper.frameworks.resume import (
    Resume,
    clean_stale_temporaries,
    exclusive_writer,
    output_identity,
    plan_resume,
    records_digest,
    resume_path,
)
from steper.io import InputError, append_jsonl, read_jsonl, read_jsonl_numbered, write_json, write_jsonl
from steper.metrics import score
from steper.models.generation import GenerationSettings
from steper.models.prompting import encode
from steper.retrieval.corpus import Retriever
from steper.settings import from_schema, parse_settings

log = logging.getLogger(__name__)

RECORD_FIELDS = ("id", "question", "answers")
CUTS = ("prompts_cut", "demos_dropped", "passages_dropped", "overflows")
# The fields of a trace line (`trace_line`) and their JSON types: a resumed line must have them all.
LINE_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str, int),
    "question": (str,),
    "answers": (list,),
    "framework": (str,),
    "model": (str,),
    "steps": (list,),
    "prediction": (str,),
    "correct": (dict,),
    "n_steps": (int,),
    "passage_words": (int, type(None)),
    "prompt_cuts": (dict,),
    "seconds": (int, float),
}


@dataclass
class FrameworkSettings:
    """The framework slice of the config (`$defs/framework_settings` in the schema, same defaults;
    retrieval_backend, k1 and b come from the `retrieval` section)."""

    top_k: int = from_schema("teacher.framework.top_k")
    max_steps: int = from_schema("teacher.framework.max_steps")
    max_passages: int = from_schema("teacher.framework.max_passages")
    max_new_tokens: int = from_schema("teacher.framework.max_new_tokens")
    shots: int = from_schema("teacher.framework.shots")
    seed: int = from_schema("teacher.framework.seed")
    retrieval_backend: str = from_schema("retrieval.backend")
    k1: float = from_schema("retrieval.k1")
    b: float = from_schema("retrieval.b")
    passage_order: str = from_schema("teacher.framework.passage_order")
    demo_distractors: int | None = from_schema("teacher.framework.demo_distractors")
    passage_words: int | None = from_schema("teacher.framework.passage_words")
    new_passages: str = from_schema("teacher.framework.new_passages")
    query_cleaning: str = from_schema("teacher.framework.query_cleaning")
    iter_retgen_iterations: int = from_schema("teacher.framework.iter_retgen_iterations")


@dataclass
class RunSettings:
    """The `--settings` of a framework run, the teacher's (`steper teacher run`) and a system's under
    evaluation (`steper evaluate run`): the loop's slice and the generation backend's."""

    framework: FrameworkSettings = field(default_factory=FrameworkSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)


def parse_run_settings(value: str | dict[str, Any] | None) -> RunSettings:
    """`--settings` -> RunSettings; an unknown key or a value the schema does not allow, in either
    slice, is an InputError naming the slice and the field."""
    top = parse_settings(value, RunSettings)
    return RunSettings(
        framework=_slice(top.framework, FrameworkSettings, "framework"),
        generation=_slice(top.generation, GenerationSettings, "generation"),
    )


def _slice(value: Any, cls: type, name: str) -> Any:
    return value if isinstance(value, cls) else parse_settings(value, cls, source=f"--settings {name}")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options every stage that runs a framework takes alike: its index, demonstrations and settings."""
    parser.add_argument(
        "--index-dir", default=None,
        help=f"{layout.TEMPLATES['index_dir']}: the run searches the index of framework.retrieval_backend in it "
        f"({layout.TEMPLATES['index']}); needed by the frameworks that retrieve",
    )
    parser.add_argument("--demonstrations", default=None, help="demonstrations (JSON lines) for few-shot prompts; needed when framework.shots > 0")
    parser.add_argument("--settings", default=None, help='JSON or a JSON/YAML file: {"framework": {...}, "generation": {...}}')


def open_index(index_dir: str | os.PathLike | None, framework: str, settings: FrameworkSettings) -> Retriever | None:
    """The retriever a run of `framework` searches (None for a framework that does not retrieve): the
    `retrieval_backend`'s index in `index_dir`, scored with BM25(k1, b) of the settings."""
    if framework not in RETRIEVING:
        return None
    if index_dir is None:
        raise InputError("--index-dir", f"{framework} retrieves and needs an index")
    from steper.retrieval import open_retriever

    backend = settings.retrieval_backend
    return open_retriever(layout.backend_index(index_dir, backend), backend, k1=settings.k1, b=settings.b)


def loop_settings(framework: str, settings: FrameworkSettings) -> LoopSettings:
    """Multi-step frameworks use the settings as given; baselines make one step, ITER-RETGEN a fixed
    number (see `steper.frameworks.baselines`)."""
    if settings.passage_order not in PASSAGE_ORDERS:
        raise InputError("--settings", f"unknown passage order (known: {', '.join(PASSAGE_ORDERS)})", field="passage_order")
    if settings.new_passages not in NEW_PASSAGES:
        raise InputError("--settings", f"unknown rule (known: {', '.join(NEW_PASSAGES)})", field="new_passages")
    common = {"passage_order": settings.passage_order, "new_passages": settings.new_passages}
    if framework in MULTI_STEP:
        return LoopSettings(settings.top_k, settings.max_steps, settings.max_passages, settings.max_new_tokens, **common)
    k = rag_k(settings.top_k, settings.max_steps, settings.max_passages)
    new_tokens = settings.max_new_tokens if framework == "direct" else settings.max_new_tokens * settings.max_steps
    steps = settings.iter_retgen_iterations if framework == "iter_retgen" else 1
    return LoopSettings(top_k=k, max_steps=steps, max_passages=k, max_new_tokens=new_tokens, **common)


def trace_line(chain: Chain, record: dict[str, Any], framework: str, model_name: str, seconds: float, passage_words: int | None) -> dict[str, Any]:
    prediction = chain.answer or ""
    return {
        "id": chain.id,
        "question": chain.question,
        "answers": record["answers"],
        "framework": framework,
        "model": model_name,
        "steps": chain.steps,
        "prediction": prediction,
        "correct": score(prediction, record["answers"]).to_dict(),
        "n_steps": len(chain.steps),
        "passage_words": passage_words,
        "prompt_cuts": dict(chain.cuts),
        "seconds": round(seconds, 4),
    }


def line_check(framework: str, model_name: str):
    """What a resumed line must be (see `steper.frameworks.resume.finished_ids`): a whole trace line of this run."""

    def check(line: dict[str, Any]) -> tuple[str, str] | None:
        for name, types in LINE_FIELDS.items():
            if name not in line:
                return name, "is missing"
            if not isinstance(line[name], types):
                return name, f"is not a {' or '.join(t.__name__ for t in types)}"
        for name, expected in (("framework", framework), ("model", model_name)):
            if line[name] != expected:
                return name, f"is {line[name]!r}, this run is {expected!r}"
        if not all(isinstance(line["correct"].get(key), (int, float)) for key in ("em", "f1", "acc")):
            return "correct", "lacks a number for em, f1 or acc"
        return None

    return check


def step_tokens(step: dict[str, Any], kind: str) -> int:
    """A step's `kind` ("prompt" or "completion") tokens over its own call and, when the loop had
    to force an answer at the step, the forced-answer call (recorded apart as `answer_<kind>_tokens`)."""
    return step.get(f"{kind}_tokens", 0) + step.get(f"answer_{kind}_tokens", 0)


def read_records(records_path: str | os.PathLike, shard: tuple[int, int] | None) -> list[dict[str, Any]]:
    records = []
    seen: set[str] = set()
    for number, record in read_jsonl_numbered(records_path, required=RECORD_FIELDS):
        if not isinstance(record["answers"], list):
            raise InputError(records_path, "must be a list of answers", line=number, field="answers")
        record["id"] = str(record["id"])
        if record["id"] in seen:
            raise InputError(records_path, f"repeats question {record['id']}", line=number, field="id")
        seen.add(record["id"])
        records.append(record)
    if shard is not None:
        index, count = shard
        if count < 1 or not 0 <= index < count:
            raise InputError("--shard", f"shard {index} of {count} does not exist")
        records = [record for position, record in enumerate(records) if position % count == index]
    return records


def summarize(output_path: str | os.PathLike, seconds: float | None = None) -> dict[str, Any]:
    """Accuracy, steps, token counts and prompt cuts over every line of a trace file."""
    lines = list(read_jsonl(output_path, required=("id", "correct", "steps")))
    n = len(lines)

    def mean(values: list[float]) -> float:
        return sum(values) / n if n else 0.0

    total_seconds = sum(line.get("seconds", 0.0) for line in lines) if seconds is None else seconds
    return {
        "n": n,
        "accuracy": {key: round(100 * mean([line["correct"][key] for line in lines]), 2) for key in ("em", "f1", "acc")},
        "mean_steps": round(mean([len(line["steps"]) for line in lines]), 3),
        "prompt_tokens": sum(step_tokens(step, "prompt") for line in lines for step in line["steps"]),
        "completion_tokens": sum(step_tokens(step, "completion") for line in lines for step in line["steps"]),
        "prompt_cuts": {key: sum(line.get("prompt_cuts", {}).get(key, 0) for line in lines) for key in CUTS},
        "seconds": round(total_seconds, 2),
        "seconds_per_question": round(total_seconds / n, 3) if n else 0.0,
    }


def summary_path(output_path: str | os.PathLike) -> Path:
    return Path(layout.summary_sidecar(output_path))


def prompt_budget(backend: Any, generation: GenerationSettings) -> PromptBudget | None:
    """The backend's token count and context length, for IRCoT's prompt fitting.

    A backend with `count_tokens(prompts) -> list[int]` is asked directly; otherwise its
    `tokenizer` encodes the prompts exactly as the backends do (`steper.models.prompting.encode`).
    """
    count = getattr(backend, "count_tokens", None)
    if count is None and getattr(backend, "tokenizer", None) is not None:
        def count(prompts):
            return [len(ids) for ids in encode(backend.tokenizer, prompts, generation.chat_template)]
    if count is None:
        log.warning("the backend cannot count tokens: prompts are not fitted to max_model_len=%d", generation.max_model_len)
        return None
    return PromptBudget(count=count, max_model_len=generation.max_model_len)


def run_framework(
    framework: str,
    records_path: str | os.PathLike,
    output_path: str | os.PathLike,
    model_dir: str | os.PathLike,
    model_name: str,
    index_dir: str | os.PathLike | None,
    settings: FrameworkSettings,
    generation: GenerationSettings,
    demonstrations_path: str | os.PathLike | None = None,
    shard: tuple[int, int] | None = None,
    backend: Any = None,
    retriever: Any = None,
    budget: PromptBudget | None = None,
) -> dict[str, Any]:
    """Run `framework` on every (remaining) question; return the summary written beside the output.

    `index_dir` holds one index per retrieval backend (layout's `index_dir`); the run searches the
    settings' `retrieval_backend` one. `backend` and `retriever` are normally opened here from
    `model_dir` and `index_dir`, and only when a question is left to run; passing them lets a caller
    use ones it has already loaded (the evaluation scores with the same retriever). `budget`
    defaults to the backend's own (see `prompt_budget`).
    """
    strategy = make_strategy(framework, settings.passage_words, settings.query_cleaning)
    loop = loop_settings(framework, settings)
    records = read_records(records_path, shard)
    demos = []
    if settings.shots > 0:
        if demonstrations_path is None:
            raise InputError("--demonstrations", f"shots={settings.shots} needs a demonstrations file")
        chosen = select_demonstrations(load_demonstrations(demonstrations_path), settings.shots, settings.seed, strategy.needs_followups)
        demos = [
            strategy.demonstration(dataclasses.replace(demo, contexts=demo_contexts(demo, settings.demo_distractors, settings.seed)))
            for demo in chosen
        ]
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_writer(output):
        clean_stale_temporaries(output)
        index = layout.backend_index(index_dir, settings.retrieval_backend) if index_dir is not None and strategy.retrieves else None
        identity = {
            "framework": framework,
            "model": model_name,
            "model_files": _files(model_dir, "model", supplied=backend is not None),
            "index_files": _files(index, "index", supplied=retriever is not None),
            "records": records_digest(records),
            "settings": dataclasses.asdict(settings),
            "generation": dataclasses.asdict(generation),
            "shard": list(shard) if shard else None,
            "demonstrations": hashlib.sha256("\n".join(demos).encode()).hexdigest()[:16],
        }
        resume = plan_resume(output, identity, {record["id"] for record in records}, line_check(framework, model_name))
        todo = [record for record in records if record["id"] not in resume.done]
        log.info("%s on %s: %d questions, %d already done, %d to run", framework, records_path, len(records), len(records) - len(todo), len(todo))
        if todo and retriever is None:
            retriever = open_index(index_dir, framework, settings)
        if todo and backend is None:
            from steper.models.backends import make_backend

            backend = make_backend(model_dir, generation)
        if todo and budget is None:
            budget = prompt_budget(backend, generation)
        started = time.perf_counter()
        if todo or not resume.complete:
            resume.start()
            _append_chains(resume, todo, strategy, retriever, backend, loop, demos, budget, framework, model_name, settings, generation)
            summary = summarize(resume.partial)  # every line read before the rename: a bad one leaves the output as it was
            resume.finish()
        else:
            summary = summarize(output)
        summary.update({"framework": framework, "model": model_name, "run_seconds": round(time.perf_counter() - started, 2)})
        write_json(summary_path(output), summary)
    log.info("%s: %s; prompt cuts %s", output, json.dumps(summary["accuracy"]), json.dumps(summary["prompt_cuts"]))
    return summary


def _files(directory: str | os.PathLike | None, kind: str, supplied: bool) -> dict[str, Any] | None:
    """The directory's fingerprint for the resume identity; None for no directory, or where the caller's
    own backend or retriever (`supplied`) stands for one that does not exist (tests, benchmarks)."""
    if directory is None or (supplied and not Path(directory).is_dir()):
        return None
    return directory_fingerprint(directory, kind)


def _append_chains(resume: Resume, todo, strategy, retriever, backend, loop, demos, budget, framework, model_name, settings, generation) -> None:
    chunk = max(1, generation.batch_size) * 4
    with resume.append() as handle, tqdm(total=len(todo), desc=f"{framework} questions", unit="q") as bar:
        for start in range(0, len(todo), chunk):
            batch = todo[start : start + chunk]
            chunk_started = time.perf_counter()
            chains = run_chains([(r["id"], r["question"]) for r in batch], strategy, retriever, backend, loop, demos, budget)
            per_question = (time.perf_counter() - chunk_started) / len(batch)
            for chain, record in zip(chains, batch):
                append_jsonl(handle, trace_line(chain, record, framework, model_name, per_question, settings.passage_words))
            bar.update(len(batch))


def merge(
    shard_paths: list[str | os.PathLike], records_path: str | os.PathLike, output_path: str | os.PathLike, allow_empty: bool = False
) -> dict[str, Any]:
    """Join shard outputs into one file ordered as the records.

    Every record must be in exactly one shard, every shard line a whole trace line of a record, and
    the shards must come from one run: each has the resume record of a finished run (see
    `steper.frameworks.resume`), run on its shard of these very records, and all have the same
    identity but for the shard.
    """
    records = read_records(records_path, None)
    if not records and not allow_empty:
        raise InputError(records_path, "holds no questions: nothing to merge (--allow-empty writes an empty output)")
    record_ids = {record["id"] for record in records}
    lines: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    runs: dict[str, str] = {}
    for path in shard_paths:
        identity = _shard_identity(path, records_path)
        runs[str(path)] = json.dumps({key: value for key, value in identity.items() if key not in ("shard", "records")}, sort_keys=True)
        check = line_check(identity["framework"], identity["model"])
        for number, line in read_jsonl_numbered(path, required=("id",)):
            qid = str(line["id"])
            if qid in origin:
                raise InputError(path, f"question {qid} is also in {origin[qid]}", line=number, field="id")
            if qid not in record_ids:
                raise InputError(path, f"question {qid} is not in {records_path}", line=number, field="id")
            problem = check(line)
            if problem is not None:
                raise InputError(path, problem[1], line=number, field=problem[0])
            lines[qid], origin[qid] = line, str(path)
    if len(set(runs.values())) > 1:
        raise InputError(shard_paths[0], f"shards were written under different settings: {', '.join(runs)}")
    ordered = []
    for record in records:
        if record["id"] not in lines:
            raise InputError(records_path, f"question {record['id']} is in no shard output", field="id")
        ordered.append(lines[record["id"]])
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    with exclusive_writer(output_path):
        write_jsonl(output_path, ordered)
        summary = summarize(output_path)
        if ordered:
            summary.update({"framework": ordered[0].get("framework"), "model": ordered[0].get("model")})
        write_json(summary_path(output_path), summary)
    return summary


def _shard_identity(path: str | os.PathLike, records_path: str | os.PathLike) -> dict[str, Any]:
    """The identity of the run that wrote the shard, which must have run on its share of `records_path`."""
    record = output_identity(path)
    identity = record.get("identity") if record else None
    if not isinstance(identity, dict) or not {"framework", "model", "records"} <= set(identity):
        raise InputError(path, f"has no {resume_path(path).name} saying which run wrote it: only a finished `steper teacher run` output can be merged")
    shard = identity.get("shard")
    selected = read_records(records_path, (int(shard[0]), int(shard[1])) if shard else None)
    if identity["records"] != records_digest(selected):
        raise InputError(path, f"was run on other records than its share of {records_path} (or on an earlier version of them)", field="records")
    return identity
