"""Run a framework over a records file and write one trace line per question, resumably.

Finished questions are appended (and fsynced) chunk by chunk to `<output>.partial`, which is
renamed to `<output>` when every question is done; a killed run loses at most the chunk in
flight, and a restart keeps every complete line, drops a torn last line, and only runs the
questions still missing. Shards split the questions by index for parallel jobs; `merge` joins
them back in the records' order.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from steper.frameworks.baselines import ChainOfThought, Direct, rag_k
from steper.frameworks.chain import PASSAGE_ORDERS, Chain, LoopSettings, run_chains
from steper.frameworks.demonstrations import load_demonstrations, select_demonstrations
from steper.frameworks.ircot import IRCoT
from steper.frameworks.prompts import demonstrations_text
from steper.frameworks.selfask import SelfAsk
from steper.io import InputError, append_jsonl, read_jsonl, write_json, write_jsonl
from steper.metrics import score
from steper.models.generation import GenerationSettings

log = logging.getLogger(__name__)

FRAMEWORKS = ("ircot", "selfask", "direct", "cot", "rag")
RECORD_FIELDS = ("id", "question", "answers")


@dataclass
class FrameworkSettings:
    top_k: int = 4
    max_steps: int = 5
    max_passages: int = 15
    max_new_tokens: int = 64
    shots: int = 0
    seed: int = 0
    retrieval_backend: str = "pyserini"
    k1: float = 0.9
    b: float = 0.4
    passage_order: str = "retrieval"


def make_strategy(framework: str):
    strategies = {
        "ircot": IRCoT,
        "selfask": SelfAsk,
        "direct": Direct,
        "cot": lambda: ChainOfThought(retrieves=False),
        "rag": lambda: ChainOfThought(retrieves=True),
    }
    if framework not in strategies:
        raise InputError("--framework", f"unknown framework '{framework}' (known: {', '.join(FRAMEWORKS)})")
    return strategies[framework]()


def loop_settings(framework: str, settings: FrameworkSettings) -> LoopSettings:
    """Multi-step frameworks use the settings as given; baselines make one step (see baselines)."""
    if settings.passage_order not in PASSAGE_ORDERS:
        raise InputError("--settings", f"unknown passage order (known: {', '.join(PASSAGE_ORDERS)})", field="passage_order")
    if framework in ("ircot", "selfask"):
        return LoopSettings(
            settings.top_k, settings.max_steps, settings.max_passages, settings.max_new_tokens, settings.passage_order
        )
    k = rag_k(settings.top_k, settings.max_steps, settings.max_passages)
    new_tokens = settings.max_new_tokens if framework == "direct" else settings.max_new_tokens * settings.max_steps
    return LoopSettings(top_k=k, max_steps=1, max_passages=k, max_new_tokens=new_tokens, passage_order=settings.passage_order)


def trace_line(chain: Chain, record: dict[str, Any], framework: str, model_name: str, seconds: float) -> dict[str, Any]:
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
        "seconds": round(seconds, 4),
    }


def finished_ids(output_path: str | os.PathLike) -> set[str]:
    """Ids of complete lines in an earlier partial output; a torn last line is cut off the file."""
    path = Path(output_path)
    if not path.exists():
        return set()
    ids: set[str] = set()
    keep = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                raise InputError(path, "malformed JSON in an earlier output; remove the file to start over", line=number) from None
            if not isinstance(line, dict) or "id" not in line:
                raise InputError(path, "is missing in an earlier output", line=number, field="id")
            ids.add(str(line["id"]))
            keep += len(raw)
    if keep != path.stat().st_size:
        log.warning("%s: dropping a partial last line (%d bytes)", path, path.stat().st_size - keep)
        with open(path, "r+b") as handle:
            handle.truncate(keep)
    return ids


def read_records(records_path: str | os.PathLike, shard: tuple[int, int] | None) -> list[dict[str, Any]]:
    records = list(read_jsonl(records_path, required=RECORD_FIELDS))
    for number, record in enumerate(records, start=1):
        if not isinstance(record["answers"], list):
            raise InputError(records_path, "must be a list of answers", line=number, field="answers")
        record["id"] = str(record["id"])
    if shard is not None:
        index, count = shard
        if count < 1 or not 0 <= index < count:
            raise InputError("--shard", f"shard {index} of {count} does not exist")
        records = [record for position, record in enumerate(records) if position % count == index]
    return records


def summarize(output_path: str | os.PathLike, seconds: float | None = None) -> dict[str, Any]:
    """Accuracy, steps and token counts over every line of a trace file."""
    lines = list(read_jsonl(output_path, required=("id", "correct", "steps")))
    n = len(lines)

    def mean(values: list[float]) -> float:
        return sum(values) / n if n else 0.0

    total_seconds = sum(line.get("seconds", 0.0) for line in lines) if seconds is None else seconds
    return {
        "n": n,
        "accuracy": {key: round(100 * mean([line["correct"][key] for line in lines]), 2) for key in ("em", "f1", "acc")},
        "mean_steps": round(mean([len(line["steps"]) for line in lines]), 3),
        "prompt_tokens": sum(step.get("prompt_tokens", 0) for line in lines for step in line["steps"]),
        "completion_tokens": sum(step.get("completion_tokens", 0) for line in lines for step in line["steps"]),
        "seconds": round(total_seconds, 2),
        "seconds_per_question": round(total_seconds / n, 3) if n else 0.0,
    }


def partial_path(output_path: str | os.PathLike) -> Path:
    """Where a run appends while it is going: not the declared output, so a workflow manager
    does not delete it when the job is killed, and the output only appears once complete."""
    return Path(f"{output_path}.partial")


def summary_path(output_path: str | os.PathLike) -> Path:
    return Path(f"{output_path}.summary.json")


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
) -> dict[str, Any]:
    """Run `framework` on every (remaining) question; return the summary written beside the output.

    `backend` and `retriever` are normally opened here from `model_dir` and `index_dir`; passing
    them lets a caller reuse already-loaded ones across several runs.
    """
    strategy = make_strategy(framework)
    records = read_records(records_path, shard)
    demos = []
    if settings.shots > 0:
        if demonstrations_path is None:
            raise InputError("--demonstrations", f"shots={settings.shots} needs a demonstrations file")
        demos = select_demonstrations(load_demonstrations(demonstrations_path), settings.shots, settings.seed, framework)
    demos_text = demonstrations_text(demos, framework)
    partial = partial_path(output_path)
    partial.parent.mkdir(parents=True, exist_ok=True)
    if Path(output_path).exists() and not partial.exists():
        os.replace(output_path, partial)  # a finished output is extended, never rewritten
    done = finished_ids(partial)
    todo = [record for record in records if record["id"] not in done]
    log.info("%s on %s: %d questions, %d already done, %d to run", framework, records_path, len(records), len(records) - len(todo), len(todo))
    if todo and retriever is None and strategy.retrieves:
        if index_dir is None:
            raise InputError("--index-dir", f"{framework} retrieves and needs an index")
        from steper.retrieval import open_retriever

        retriever = open_retriever(Path(index_dir) / settings.retrieval_backend, settings.retrieval_backend, k1=settings.k1, b=settings.b)
    if todo and backend is None:
        from steper.models.generation import make_backend

        backend = make_backend(model_dir, generation)
    loop = loop_settings(framework, settings)
    chunk = max(1, generation.batch_size) * 4
    started = time.perf_counter()
    with open(partial, "a", encoding="utf-8") as handle, tqdm(total=len(todo), desc=f"{framework} questions", unit="q") as bar:
        for start in range(0, len(todo), chunk):
            batch = todo[start : start + chunk]
            chunk_started = time.perf_counter()
            chains = run_chains([(r["id"], r["question"]) for r in batch], strategy, retriever, backend, loop, demos_text)
            per_question = (time.perf_counter() - chunk_started) / len(batch)
            for chain, record in zip(chains, batch):
                append_jsonl(handle, trace_line(chain, record, framework, model_name, per_question))
            bar.update(len(batch))
    os.replace(partial, output_path)
    summary = summarize(output_path)
    summary.update({"framework": framework, "model": model_name, "run_seconds": round(time.perf_counter() - started, 2)})
    write_json(summary_path(output_path), summary)
    log.info("%s: %s", output_path, json.dumps(summary["accuracy"]))
    return summary


def merge(shard_paths: list[str | os.PathLike], records_path: str | os.PathLike, output_path: str | os.PathLike) -> dict[str, Any]:
    """Join shard outputs into one file ordered as the records; every record must be present."""
    lines: dict[str, dict[str, Any]] = {}
    for path in shard_paths:
        for line in read_jsonl(path, required=("id",)):
            lines[str(line["id"])] = line
    ordered = []
    for record in read_records(records_path, None):
        if record["id"] not in lines:
            raise InputError(records_path, f"question {record['id']} is in no shard output", field="id")
        ordered.append(lines[record["id"]])
    write_jsonl(output_path, ordered)
    summary = summarize(output_path)
    if ordered:
        summary.update({"framework": ordered[0].get("framework"), "model": ordered[0].get("model")})
    write_json(summary_path(output_path), summary)
    return summary
