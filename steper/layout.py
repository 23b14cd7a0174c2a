"""Where every artifact lives, written once.

The Snakemake rules build their inputs and outputs from these templates (through `path`, with
the names they leave unfilled staying Snakemake wildcards), and the Python that reads results
parses or fills the same templates, so a path is never spelled twice. Every hyper-parameter that
changes a file is a name in its path. This module imports nothing from steper: the Snakefile loads
it before anything else.
"""

from __future__ import annotations

import os
import re
from typing import Any

# kind -> template; `{name}` is filled by `path` or left as a Snakemake wildcard.
TEMPLATES: dict[str, str] = {
    "results": "results/{run}",
    "raw": "results/{run}/raw/{dataset}",
    "annotations": "results/{run}/raw/annotations/{dataset}.jsonl",
    "records_full": "results/{run}/data/{dataset}/full_{part}.jsonl",
    "records_dir": "results/{run}/data/{dataset}",
    "records": "results/{run}/data/{dataset}/{split}.jsonl",
    "subquestions": "results/{run}/data/{dataset}/subquestions.jsonl",
    "corpus": "results/{run}/corpus/{dataset}.jsonl",
    "index_dir": "results/{run}/index/{dataset}",
    "index": "results/{run}/index/{dataset}/{backend}",
    "retrieval": "results/{run}/retrieval/{dataset}.json",
    "model": "results/{run}/models/{model}",
    "gold_dir": "results/{run}/gold/{model}/traces",
    "gold_corpus": "results/{run}/gold/{model}/traces/corpus.jsonl",
    "gold_traces": "results/{run}/gold/{model}/traces/{gold_framework}.jsonl",
    "gold_summary": "results/{run}/gold/{model}/traces/summary.json",
    "gold_stepwise_dir": "results/{run}/gold/{model}/stepwise/{gold_framework}",
    "gold_stepwise": "results/{run}/gold/{model}/stepwise/{gold_framework}/{variant}.jsonl",
    "gold_examples": "results/{run}/gold/{model}/train.jsonl",
    "trace_shard": "results/{run}/traces/{framework}/{dataset}/{model}/{split}.shards/{shard}-of-{n}.jsonl",
    "traces": "results/{run}/traces/{framework}/{dataset}/{model}/{split}.jsonl",
    "stepwise_dir": "results/{run}/stepwise/{framework}/{dataset}/{teacher}/{stepwise_tag}",
    "stepwise": "results/{run}/stepwise/{framework}/{dataset}/{teacher}/{stepwise_tag}/{variant}.jsonl",
    "stepwise_stats": "results/{run}/stepwise/{framework}/{dataset}/{teacher}/{stepwise_tag}/stats.json",
    "student": "results/{run}/students/{framework}/{dataset}/{student}/{method}/{stepwise_tag}/{hparams}",
    "train_log": "results/{run}/students/{framework}/{dataset}/{student}/{method}/{stepwise_tag}/{hparams}/train_log.jsonl",
    "eval": "results/{run}/eval/{framework}/{dataset}/{system}.json",
    "predictions": "results/{run}/eval/{framework}/{dataset}/{system}.predictions.jsonl",
    "transfer": "results/{run}/transfer/{framework}/{trained_on}/{dataset}/{system}.json",
    "transfer_predictions": "results/{run}/transfer/{framework}/{trained_on}/{dataset}/{system}.predictions.jsonl",
    "subq": "results/{run}/subq/{framework}/{dataset}/{system}.json",
    "subq_predictions": "results/{run}/subq/{framework}/{dataset}/{system}.predictions.jsonl",
    "manifest": "results/{run}/paper/manifest.json",
    "benchmark": "results/{run}/benchmarks/{stage}.tsv",
    "log": "logs/{run}/{stage}.log",
    "paper": "paper/{run}",
    "table": "paper/{run}/tables/{table}.{ext}",
    "figure": "paper/{run}/figures/{figure}.{ext}",
    "case_study": "paper/{run}/case_study.md",
    "report": "paper/{run}/REPORT.md",
    "check": "paper/{run}/CHECK.txt",
    "expected": "config/expected/{run}.yaml",
}

# Inside a directory artifact: its resolved settings. Beside a file artifact: `<file>` + a suffix,
# its resolved settings and its summary.
SETTINGS_FILE = "steper_settings.json"
SETTINGS_SUFFIX = ".settings.json"
SUMMARY_SUFFIX = ".summary.json"
# Beside a generated file (traces, predictions): the identities its resumable run checks.
RESUME_SUFFIX = ".resume.json"
TEMPLATES["traces_summary"] = f"{TEMPLATES['traces']}{SUMMARY_SUFFIX}"
# Beside a trained student: its training checkpoints. A sibling, not inside the student's directory,
# because Snakemake deletes a job's declared outputs before it reruns the job.
CHECKPOINTS_SUFFIX = ".checkpoints"
# A trained student is evaluated as `{student}--{method}`, an in-context baseline as `{model}--fewshot`.
SYSTEM_SEPARATOR = "--"
FEWSHOT = "fewshot"
# A student trained with an extra seed (experiments[].seeds) is evaluated into `{system}--seed{seed}`.
SEED_PREFIX = "seed"

_FIELD = re.compile(r"\{(\w+)\}")


def fields(kind: str) -> list[str]:
    """The names of a template, in order."""
    return _FIELD.findall(TEMPLATES[kind])


def _fill(kind: str, template: str, values: dict[str, Any]) -> str:
    unknown = set(values) - set(_FIELD.findall(template))
    if unknown:
        raise KeyError(f"{kind}: no field(s) {', '.join(sorted(unknown))} in {template!r}")
    return _FIELD.sub(lambda match: str(values[match[1]]) if match[1] in values else match[0], template)


def path(kind: str, **values: Any) -> str:
    """The template of `kind` with the given names filled; the others stay `{name}` wildcards."""
    return _fill(kind, TEMPLATES[kind], values)


def below(kind: str, parent: str, **values: Any) -> str:
    """The template of `kind` relative to the directory of `parent` (an evaluation within results/{run},
    a gold trace file within its directory), with the given names filled."""
    prefix = f"{TEMPLATES[parent]}/"
    if not TEMPLATES[kind].startswith(prefix):
        raise KeyError(f"{kind}: {TEMPLATES[kind]!r} is not under {parent} ({TEMPLATES[parent]!r})")
    return _fill(kind, TEMPLATES[kind][len(prefix):], values)


def parse(kind: str, text: str, parent: str | None = None) -> dict[str, str] | None:
    """The names of a path made from the template of `kind` (relative to `parent`'s directory when
    given), or None if it is not one."""
    template = below(kind, parent) if parent else TEMPLATES[kind]
    pattern = "".join(f"(?P<{part}>[^/]+?)" if index % 2 else re.escape(part) for index, part in enumerate(_FIELD.split(template)))
    match = re.fullmatch(pattern, str(text))
    return match.groupdict() if match else None


def pattern(kind: str, parent: str | None = None) -> str:
    """The glob pattern of the paths of `kind` (relative to `parent`'s directory when given)."""
    return _FIELD.sub("*", below(kind, parent) if parent else TEMPLATES[kind])


def backend_index(index_dir: str | os.PathLike, backend: str) -> str:
    """The `index` of `backend` in an `index_dir`: every stage that searches (the teacher, the
    evaluation, the retrieval evaluation) is given the dataset's `index_dir` and finds the index of
    the backend it is configured with here."""
    return os.path.join(index_dir, below("index", "index_dir", backend=backend))


def settings_sidecar(artifact: str | os.PathLike) -> str:
    """The resolved-settings file written beside a file artifact."""
    return f"{artifact}{SETTINGS_SUFFIX}"


def summary_sidecar(artifact: str | os.PathLike) -> str:
    """The summary written beside a file artifact (a trace file's, a predictions file's)."""
    return f"{artifact}{SUMMARY_SUFFIX}"


def resume_sidecar(artifact: str | os.PathLike) -> str:
    return f"{artifact}{RESUME_SUFFIX}"


def checkpoints_dir(artifact: str) -> str:
    """Where the training that writes `artifact` keeps its checkpoints until the artifact is written."""
    return f"{str(artifact).rstrip('/')}{CHECKPOINTS_SUFFIX}"


def student_system(student: str, method: str) -> str:
    return f"{student}{SYSTEM_SEPARATOR}{method}"


def split_system(system: str) -> tuple[str, str]:
    """(student or model, method or FEWSHOT) of a system name."""
    model, _, method = system.partition(SYSTEM_SEPARATOR)
    return model, method


def fewshot_system(model: str) -> str:
    return f"{model}{SYSTEM_SEPARATOR}{FEWSHOT}"


def seed_system(system: str, seed: int | str) -> str:
    """The `{system}` path segment of `system` trained with an extra seed (not the run's `seed`).

    The run's own seed keeps the plain `{system}` segment, so adding seeds to an experiment leaves
    every existing result where it is; the extra seeds' files sit beside it. The file's content
    still names `system`: the seed is a replicate of the same system, not another one.
    """
    return f"{system}{SYSTEM_SEPARATOR}{SEED_PREFIX}{seed}"


def split_seed_system(segment: str) -> tuple[str, int | None]:
    """(system, extra seed) of a `{system}` path segment; the seed is None for the run's own seed."""
    system, separator, tail = segment.rpartition(f"{SYSTEM_SEPARATOR}{SEED_PREFIX}")
    if separator and system and tail.isdigit():
        return system, int(tail)
    return segment, None


def hparams_tag(training: dict[str, Any], seed: int) -> str:
    """Every training hyper-parameter that changes a student, as one path segment."""
    tag = (
        f"lr{training['lr']:g}_ep{training['epochs']:g}_bs{training['batch_size'] * training['grad_accum']}"
        f"_len{training['max_length']}_seed{seed}"
    )
    if training.get("max_steps"):
        tag += f"_steps{training['max_steps']}"
    return tag
