"""Step-wise distillation datasets from teacher traces.

Every kept trace of S steps yields one example per step (see `steper.stepwise.kinds`). Prompts are
rebuilt from the trace's retrieved doc ids with the framework's own prompt code, so training and
inference prompts cannot drift apart. What an example asks the student to write is the setting
`target`:

- "chain" (the paper's objective, L = 1/(3n) Σ_i [ℓ(M(q,P≤1), R≤1) + Σ_s ℓ(M(q,P≤s), R≤s) +
  ℓ(M(q,P≤S), R<S ‖ a)]): the prompt is the question with the passages retrieved up to step s and
  no reasoning; the completion is the chain so far, R≤s. The final-step example (Vanilla-KD's only
  example) is therefore the whole chain followed by the answer sentence.
- "step" (the other reading of the paper): the earlier steps R<s follow the prompt as its
  continuation, masked, and the completion is r_s alone. With it Vanilla-KD learns only the last
  sentence and never the reasoning that leads to it.

For Self-Ask the chain is the Self-Ask lines so far (follow-ups and intermediate answers).

Which traces are kept is the setting `filter`, a score of steper.metrics recomputed here from the
trace's prediction and gold answers (so traces written before a score existed are filtered the
same way): "acc_tokens" (default: the gold answer's whole tokens occur in the prediction, so
"Norway" does not pass for gold "no" nor "1990" for gold "1"), "acc" (substring, the reported
Acc), "em", or "none". Example ids are the trace ids; (id, step) is unique. Variants keep subsets of
the kinds: "final" (Vanilla-KD), "first-final", "first-mid-final" (StepER).
"""

from __future__ import annotations

import logging
import os
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from steper.frameworks.chain import Chain
from steper.frameworks.prompts import HasText
from steper.frameworks.registry import make_strategy
from steper.io import InputError, read_jsonl_numbered
from steper.metrics import score
from steper.models.prompting import Prompt
from steper.retrieval import Passage, read_corpus
from steper.settings import from_schema
from steper.stepwise.kinds import KINDS, VARIANTS, kind_of

log = logging.getLogger(__name__)

FILTERS = ("acc_tokens", "acc", "em", "none")
TARGETS = ("chain", "step")
FRAMEWORKS = ("ircot", "selfask")
TRACE_FIELDS = ("id", "question", "answers", "prediction", "steps")


@dataclass
class StepwiseSettings:
    """What each example's target is, which traces are kept, and which variants are written
    (no default: the workflow writes every variant, a fine-tuning recipe only the one it trains on)."""

    target: str = from_schema("stepwise.target")
    filter: str = from_schema("stepwise.filter")
    variants: list[str] = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise InputError("--settings", f"unknown target {self.target!r} (known: {', '.join(TARGETS)})", field="target")
        if self.filter not in FILTERS:
            raise InputError("--settings", f"unknown filter {self.filter!r} (known: {', '.join(FILTERS)})", field="filter")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise InputError("--settings", f"unknown or no variants {unknown} (known: {', '.join(VARIANTS)})", field="variants")


@dataclass
class StepwiseData:
    """All examples of the kept traces (every kind), and what the filter did."""

    examples: list[dict[str, Any]]
    n_traces: int
    n_kept: int
    steps_per_trace: Counter


def load_corpus(path: str | os.PathLike) -> dict[str, Passage]:
    return {passage.id: passage for passage in read_corpus(path)}


def passes(trace: dict[str, Any], filter_name: str, path: str | os.PathLike, line: int) -> bool:
    """Whether the teacher's prediction is right under `filter_name` (a score of steper.metrics, or "none")."""
    if filter_name == "none":
        return True
    answers, prediction = trace["answers"], trace["prediction"]
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise InputError(path, "must be a non-empty list of strings", line=line, field="answers")
    if prediction is not None and not isinstance(prediction, str):
        raise InputError(path, f"must be a string or null, got {prediction!r}", line=line, field="prediction")
    return getattr(score(prediction, answers), filter_name) == 1.0


def _check_trace(trace: dict[str, Any], corpus: dict[str, Passage], framework: str, path: str | os.PathLike, line: int) -> None:
    if trace.get("framework", framework) != framework:
        raise InputError(path, f"is {trace['framework']!r}, expected {framework!r}", line=line, field="framework")
    steps = trace["steps"]
    if not isinstance(steps, list) or not steps:
        raise InputError(path, "must be a non-empty list", line=line, field="steps")
    for step in steps:
        for key in ("step", "output"):
            if key not in step:
                raise InputError(path, f"a step is missing '{key}'", line=line, field="steps")
        for doc_id in step.get("retrieved", []):
            if doc_id not in corpus:
                raise InputError(path, f"doc id {doc_id!r} (step {step['step']}) is not in the corpus", line=line, field="retrieved")



def stepwise_prompts(trace: dict[str, Any], lookup: Callable[[str], HasText], framework: str) -> list[tuple[int, Prompt, str]]:
    """(step, zero-shot prompt before that step, teacher's completion) for every step of a trace.

    A step's passages are those retrieved at it and before it (each step's `retrieved` lists the
    passages it added), shown cut to the trace's `passage_words` as the loop showed them, and the
    completion is the step's text with the separator it has in the chain, so prompt.plain +
    completion of the last step is the whole zero-shot chain.
    """
    strategy = make_strategy(framework, passage_words=trace.get("passage_words"), query_cleaning="none")  # queries are not rebuilt
    chain = Chain(id=str(trace.get("id", "")), question=trace["question"])
    examples = []
    for step in trace["steps"]:
        added = [lookup(doc_id) for doc_id in step.get("retrieved", [])]
        chain.passages = (chain.passages if strategy.accumulates else []) + added
        chain.rounds.append(added)
        examples.append((int(step["step"]), strategy.prompt(chain, ""), strategy.separator + step["output"]))
        chain.steps.append({"output": step["output"]})
    return examples


def trace_examples(trace: dict[str, Any], lookup: Callable[[str], HasText], framework: str, target: str) -> list[dict[str, Any]]:
    """One example per step of a trace, with the step's target under `target` ("chain" or "step").

    `stepwise_prompts` gives, per step, the prompt with R<s as its continuation and r_s as the
    completion; the chain target moves R<s from the prompt into the completion.

    Under the chain target a step whose next step retrieved nothing new joins that step: both
    would have the same prompt, one teaching R<=s then EOS, the other R<=s+1, and a student taught
    both stops where the loop continues (a Self-Ask follow-up often finds only passages already
    shown). The joined example keeps the earlier step's kind (it starts from that step's prompt),
    but the last step's example stays "final": Vanilla-KD's data does not change.
    """
    steps = stepwise_prompts(trace, lookup, framework)
    examples = []
    joined: str | None = None
    for position, (step, prompt, completion) in enumerate(steps, start=1):
        kind = joined if joined and position < len(steps) else kind_of(position, len(steps))
        if target == "chain":
            if position < len(steps) and steps[position][1].context == prompt.context:
                joined = kind
                continue
            prompt, completion = Prompt(prompt.context), prompt.continuation + completion
        joined = None
        examples.append(
            {
                "id": trace["id"],
                "kind": kind,
                "step": step,
                "prompt": prompt.plain,
                "completion": completion,
                "context": prompt.context,
                "continuation": prompt.continuation,
            }
        )
    return examples


def build_examples(
    traces_path: str | os.PathLike,
    corpus: dict[str, Passage],
    framework: str,
    filter_name: str,
    target: str,
    allow_empty: bool = False,
) -> StepwiseData:
    """Examples of every kind from the traces that pass the filter, in trace then step order.

    Every trace is checked against the corpus, kept or not: a missing doc id means the traces and
    the corpus do not belong together. No trace at all, or none kept, is an input error unless
    `allow_empty`: an empty step-wise file would train a student on nothing.
    """
    if framework not in FRAMEWORKS:
        raise InputError(traces_path, f"unknown framework {framework!r} (known: {', '.join(FRAMEWORKS)})")
    examples: list[dict[str, Any]] = []
    n_traces = n_kept = 0
    steps_per_trace: Counter = Counter()
    numbered = read_jsonl_numbered(traces_path, required=TRACE_FIELDS)
    for number, trace in tqdm(numbered, desc="traces", unit="trace", mininterval=5):
        _check_trace(trace, corpus, framework, traces_path, number)
        n_traces += 1
        if not passes(trace, filter_name, traces_path, number):
            continue
        n_kept += 1
        trace_part = trace_examples(trace, corpus.__getitem__, framework, target)
        steps_per_trace[len(trace_part)] += 1
        examples.extend(trace_part)
    log.info("%s: kept %d of %d traces (filter %s, target %s) -> %d examples",
             traces_path, n_kept, n_traces, filter_name, target, len(examples))
    if not allow_empty and n_traces == 0:
        raise InputError(traces_path, "holds no trace (pass --allow-empty to write empty step-wise files)")
    if not allow_empty and n_kept == 0:
        raise InputError(traces_path, f"no trace of {n_traces} passes the filter '{filter_name}' (pass --allow-empty to write empty step-wise files)")
    return StepwiseData(examples, n_traces, n_kept, steps_per_trace)


def variant_examples(examples: Sequence[dict[str, Any]], variant: str) -> list[dict[str, Any]]:
    kinds = VARIANTS[variant]
    return [example for example in examples if example["kind"] in kinds]


def _summary(values: Sequence[int]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 2), "median": float(statistics.median(values)), "max": max(values)}


def token_lengths(tokenizer: Any, texts: Sequence[str], batch: int = 256) -> list[int]:
    """Token counts without special tokens (what the text itself costs)."""
    lengths: list[int] = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer(list(texts[start : start + batch]), add_special_tokens=False)["input_ids"]
        lengths.extend(len(ids) for ids in encoded)
    return lengths


def compute_stats(data: StepwiseData, tokenizer: Any, variants: Sequence[str], filter_name: str, target: str) -> dict[str, Any]:
    """Counts per kind and token lengths per variant, plus how many traces the filter kept."""
    prompt_len = token_lengths(tokenizer, [e["prompt"] for e in data.examples])
    completion_len = token_lengths(tokenizer, [e["completion"] for e in data.examples])
    per_variant = {}
    for variant in variants:
        chosen = [i for i, e in enumerate(data.examples) if e["kind"] in VARIANTS[variant]]
        by_kind = {
            kind: {
                "examples": sum(data.examples[i]["kind"] == kind for i in chosen),
                "prompt_tokens": _summary([prompt_len[i] for i in chosen if data.examples[i]["kind"] == kind]),
                "completion_tokens": _summary([completion_len[i] for i in chosen if data.examples[i]["kind"] == kind]),
            }
            for kind in KINDS
            if kind in VARIANTS[variant]
        }
        per_variant[variant] = {
            "examples": len(chosen),
            "kinds": by_kind,
            "prompt_tokens": _summary([prompt_len[i] for i in chosen]),
            "completion_tokens": _summary([completion_len[i] for i in chosen]),
        }
    return {
        "target": target,
        "filter": filter_name,
        "traces": data.n_traces,
        "kept": data.n_kept,
        "pass_rate": round(data.n_kept / data.n_traces, 4) if data.n_traces else None,
        "steps_per_kept_trace": {str(k): v for k, v in sorted(data.steps_per_trace.items())},
        "variants": per_variant,
    }


def _fmt(summary: dict[str, float] | None) -> str:
    return "–" if summary is None else f"{summary['mean']:.1f} / {summary['median']:.0f} / {summary['max']}"


def stats_markdown(stats: dict[str, Any]) -> str:
    """stats.json as a Markdown table: one row per variant and kind."""
    pass_rate = "–" if stats["pass_rate"] is None else f"{100 * stats['pass_rate']:.1f}%"
    lines = [
        f"Traces: {stats['traces']}, kept {stats['kept']} ({pass_rate}, filter `{stats['filter']}`, target `{stats['target']}`); "
        f"steps per kept trace: {stats['steps_per_kept_trace']}",
        "",
        "| variant | kind | examples | prompt tokens (mean / median / max) | completion tokens (mean / median / max) |",
        "|---|---|---:|---:|---:|",
    ]
    for variant, data in stats["variants"].items():
        for kind, kind_data in data["kinds"].items():
            lines.append(f"| {variant} | {kind} | {kind_data['examples']} | {_fmt(kind_data['prompt_tokens'])} | {_fmt(kind_data['completion_tokens'])} |")
        lines.append(f"| {variant} | all | {data['examples']} | {_fmt(data['prompt_tokens'])} | {_fmt(data['completion_tokens'])} |")
    return "\n".join(lines) + "\n"
