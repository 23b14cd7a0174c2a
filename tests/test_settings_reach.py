"""Every config key reaches the command that uses it, in every tier.

One dry run per tier (`snakemake -n -p`) gives every job's wildcards, resources and shell command,
and with it the `--settings` JSON and flags each stage gets. `REACH` says, for every key of the
config schema, which rules read it and where in their command it shows up; the tests check, job
by job, that the command holds the value the tier's resolved config gives the key (its files
merged, validated and defaulted as the Snakefile does). So a key overridden on its way (the demo's
`evaluation.generation.dtype: float32` once became the model's bfloat16) fails here; a schema key
no rule reads fails the completeness test; and a key a tier's files set that no job of that tier
reads (a setting that changes nothing) fails too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from steper.config_validation import config_schema, resolve, validate_config
from steper.plan.tiers import stated_config
from steper.plan.tiers import tier_config as laid_over

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
TIERS = {
    "smoke": ["smoke.yaml"],
    "demo": ["demo.yaml"],
    "demo-full": ["demo-full.yaml"],
    "config": ["config.yaml"],
    "rehearsal": ["config.yaml", "rehearsal.yaml", "rehearsal-mirror.yaml"],
    "one-cell": ["config.yaml", "one-cell.yaml"],
}
# Files a tier reads from its working directory (user-provided in a real run): stand-ins for the dry run.
PLACEHOLDERS = {
    "rehearsal": ["results/rehearsal-fixtures/subqa/hotpotqa_dev_subqa.json", "results/rehearsal-fixtures/followups/hotpotqa.jsonl"],
}
# A key of one model, student or method is (pattern, name): ("models.*.storage_dtype", "tiny").
Key = tuple[str, "str | None"]


# --- the schema's keys --------------------------------------------------------------------

def _branches(node: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The children of a section of the schema (an object of named keys, or a map of named
    entries such as `models`: child "*"); None for a leaf (a value, a list, a nullable object)."""
    node = resolve(node)
    if node.get("type") == "object" and "properties" in node:
        return node["properties"]
    entry = node.get("additionalProperties")
    if node.get("type") == "object" and isinstance(entry, dict) and "properties" in resolve(entry):
        return {"*": entry}
    return None


def schema_leaves(node: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    node = config_schema() if node is None else node
    branches = _branches(node)
    if branches is None:
        return [prefix]
    return [leaf for name, child in branches.items() for leaf in schema_leaves(child, f"{prefix}.{name}" if prefix else name)]


def set_keys(value: Any, node: dict[str, Any] | None = None, prefix: str = "", name: str | None = None) -> list[Key]:
    """The keys a config (as its files set it) sets."""
    node = config_schema() if node is None else node
    branches = _branches(node)
    if branches is None or not isinstance(value, dict):
        return [(prefix, name)]
    found = []
    for key, child in value.items():
        named = "*" in branches
        found += set_keys(child, branches["*" if named else key], f"{prefix}.{'*' if named else key}" if prefix else key, key if named else name)
    return found


def value_at(data: Any, pattern: str, name: str | None = None) -> Any:
    for part in pattern.split("."):
        data = data[name if part == "*" else part]
    return data


def shown(key: Key) -> str:
    pattern, name = key
    return pattern.replace("*", name) if name else pattern


# --- a tier's dry run -----------------------------------------------------------------------

@dataclass
class Job:
    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    @property
    def threads(self) -> int | None:
        match = re.fullmatch(r"OMP_NUM_THREADS=(\d+)", self.words[0]) if self.words else None
        return int(match[1]) if match else None

    def flag(self, name: str) -> list[str] | None:
        """The words after `--name` up to the next option or redirection (None if absent)."""
        if f"--{name}" not in self.words:
            return None
        values = []
        for word in self.words[self.words.index(f"--{name}") + 1:]:
            if word.startswith("--") or word in ("2>", ">", ";", "&&"):
                break
            values.append(word)
        return values

    def first(self, name: str) -> str | None:
        return (self.flag(name) or [None])[0]

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads(self.first("settings"))


def parse_jobs(output: str) -> list[Job]:
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if not head:
            continue
        job = Job(head[1])
        for key, value in re.findall(r"^    (\w+): (.*)$", block, re.M):
            if key in ("wildcards", "resources"):
                setattr(job, key, dict(item.split("=", 1) for item in value.split(", ")))
            elif key in ("input", "output"):
                setattr(job, f"{key}s", value.split(", "))
        command = re.search(r"^Shell command: (.*)$", block, re.M)
        job.words = shlex.split(command[1]) if command else []
        jobs.append(job)
    return jobs


@dataclass
class Tier:
    name: str
    own: dict[str, Any]  # what the tier's own files set
    config: dict[str, Any]  # as the Snakefile resolves it
    jobs: list[Job]

    def of(self, rules: Iterable[str]) -> list[Job]:
        rules = set(rules)
        return [job for job in self.jobs if job.rule in rules]

    @property
    def teachers(self) -> set[str]:
        return {spec["teacher"] for spec in self.config["students"].values()}

    @property
    def main_student(self) -> str:
        return self.config["paper"]["main_student"] or next(iter(self.config["students"]))

    def model_dir(self, name: str) -> str:
        spec = self.config["models"][name]
        return spec["path"] if spec["source"] == "local" else f"results/{self.config['run']}/models/{name}"


def tier_config(files: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the tier's own files set (an overlay's, not the paper config it is laid over), and the
    config as the Snakefile makes it (steper.plan.tiers), validated with the schema's defaults."""
    paths = [CONFIG / name for name in files]
    merged = laid_over(ROOT, paths)
    validate_config(merged)
    return stated_config(ROOT, paths), merged


@pytest.fixture(scope="module")
def tiers(tmp_path_factory) -> dict[str, Tier]:
    found = {}
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for name, files in TIERS.items():
        workdir = tmp_path_factory.mktemp(name)
        for placeholder in PLACEHOLDERS.get(name, []):
            (workdir / placeholder).parent.mkdir(parents=True, exist_ok=True)
            (workdir / placeholder).write_text("", encoding="utf-8")
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
                   "-n", "-p", "--cores", "1024", "--configfile", *(str(CONFIG / f) for f in files)]  # threads are capped at --cores
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=workdir)
        assert result.returncode == 0, (name, result.stderr[-3000:], result.stdout[-3000:])
        own, config = tier_config(files)
        found[name] = Tier(name, own, config, parse_jobs(result.stdout))
        assert found[name].jobs, name
    return found


# --- where each key shows up ------------------------------------------------------------------

# A check yields (key, value in the command, value the config gives) for one job (None: once per tier).
Check = Callable[["Job | None", Tier], Iterator[tuple[Key, Any, Any]]]
Condition = Callable[[Job, Tier], bool]
EVALUATIONS = ("evaluate_student", "evaluate_student_seed", "evaluate_transfer", "evaluate_subquestions")
GENERATING = ("teacher_shard", *EVALUATIONS, "evaluate_baseline")
FRAMEWORK_LOOPS = ("teacher_shard", "gold_traces", *EVALUATIONS, "evaluate_baseline")
MODEL_RULES = {"hub": "model_download", "gguf": "model_gguf", "prune": "model_prune", "random": "model_random", "finetune": "model_finetune"}


def command_value(pattern: str, actual: Callable[[Job, Tier], Any], bind: str | None = None,
                  expect: Callable[[Any, Job, Tier], Any] | None = None, when: Condition | None = None) -> Check:
    """The key (its `*` the job's wildcard `bind`) is `actual(job)`; `expect` turns the config's
    value into what the command should hold."""

    def check(job: Job, tier: Tier) -> Iterator[tuple[Key, Any, Any]]:
        if when is not None and not when(job, tier):
            return
        name = job.wildcards[bind] if bind else None
        expected = value_at(tier.config, pattern, name)
        yield (pattern, name), actual(job, tier), expected if expect is None else expect(expected, job, tier)

    return check


def setting(pattern: str, path: str, **options: Any) -> Check:
    """The key is the job's `--settings` at `path`."""
    return command_value(pattern, lambda job, tier: value_at(job.settings, path), **options)


def once(pattern: str, actual: Callable[[Tier], Any], expect: Callable[[Any, Tier], Any] = lambda value, tier: value) -> Check:
    """A key read by the shape of the plan (which jobs exist), checked once per tier."""

    def check(job: None, tier: Tier) -> Iterator[tuple[Key, Any, Any]]:
        yield (pattern, None), actual(tier), expect(value_at(tier.config, pattern), tier)

    return check


def below(pattern: str, depth: int) -> str:
    """A key's parts below its section (`teacher.framework.top_k`, 2 -> `top_k`)."""
    return ".".join(pattern.split(".")[depth:])


def leaves_under(prefix: str) -> list[str]:
    return [leaf for leaf in schema_leaves() if leaf.startswith(f"{prefix}.") and not leaf.startswith(f"{prefix}.resources.")]


def is_teacher(job: Job, tier: Tier) -> bool:
    return job.wildcards["model"] in tier.teachers


def is_not_teacher(job: Job, tier: Tier) -> bool:
    return not is_teacher(job, tier)


def zero_shot(pattern: str) -> Callable[[Any, Job, Tier], Any]:
    """Students (and the fine-tuned teacher's gold chains) run zero-shot: `shots` reaches only the baselines."""
    return lambda value, job, tier: 0 if pattern.endswith(".shots") else value


def finetune_training(pattern: str) -> Callable[[Any, Job, Tier], Any]:
    """The fine-tuned teacher's own `training` overrides the training section's."""
    return lambda value, job, tier: tier.config["models"][job.wildcards["model"]]["training"].get(below(pattern, 1), value)


def resource(name: str) -> Callable[[Job, Tier], int]:
    return lambda job, tier: int(job.resources.get(name, 0))


def hparams_seed(job: Job) -> int:
    return int(re.search(r"_seed(\d+)", job.wildcards["hparams"])[1])


def kinds(spec: dict[str, Any]) -> list[str]:
    return ["final"] if spec["loss"] == "vanilla" else spec["data"].split("-")


def identity(spec: dict[str, Any]) -> tuple:
    """What a student is trained on: its kinds, their weighting (uniform and fixed 1:1:1 are one)
    and where EOS goes (moot for final steps only)."""
    eos = None if kinds(spec) == ["final"] else spec["eos"]
    if spec["loss"] == "difficulty_aware":
        return tuple(kinds(spec)), "learned", eos
    weights = spec.get("weights") if spec["loss"] == "fixed" else dict.fromkeys(kinds(spec), 1.0)
    return tuple(kinds(spec)), tuple(float((weights or {}).get(kind, 0.0)) for kind in kinds(spec)), eos


def method_reaches(part: str) -> Check:
    """A method's data, loss, weights and EOS place reach the student its evaluations load: the training job
    that wrote it trained the method's kinds with its weighting (a method that is the same
    computation as an earlier one shares the earlier one's student)."""

    def check(job: Job, tier: Tier) -> Iterator[tuple[Key, Any, Any]]:
        method = job.wildcards["method"]
        spec = tier.config["methods"][method]
        if part == "weights" and spec["loss"] != "fixed":
            return
        train = next(other for other in tier.of(["train"]) if other.outputs[0] == job.first("model"))
        yield (f"methods.*.{part}", method), identity(train.settings["method"]), identity(spec)

    return check


def cells(tier: Tier) -> dict[tuple[str, str, str, str], set[int]]:
    """The (framework, dataset, student, method) cells the experiments ask for, with their extra seeds."""
    config = tier.config
    found: dict[tuple[str, str, str, str], set[int]] = {}
    for grid in [{}] if config["experiments"] is None else config["experiments"]:
        for f in grid.get("frameworks", config["frameworks"]):
            for d in grid.get("datasets", config["datasets"]):
                for s in grid.get("students", list(config["students"])):
                    for m in grid.get("methods", list(config["methods"])):
                        found.setdefault((f, d, s, m), set()).update(set(grid.get("seeds", [])) - {config["seed"]})
    return found


def planned_cells(tier: Tier) -> dict[tuple[str, str, str, str], set[int]]:
    found: dict[tuple[str, str, str, str], set[int]] = {}
    for job in tier.of(["evaluate_student", "evaluate_student_seed"]):
        cell = tuple(job.wildcards[k] for k in ("framework", "dataset", "student", "method"))
        found.setdefault(cell, set()).update({int(job.wildcards["seed"])} if "seed" in job.wildcards else set())
    return found


def baseline_models(tier: Tier) -> set[str]:
    """null = every teacher and every student's base model."""
    models = tier.config["evaluation"]["baseline_models"]
    return tier.teachers | set(tier.config["students"]) if models is None else set(models)


def subquestion_datasets(tier: Tier) -> set[str]:
    """Datasets of the main student's cells whose method is in the sub-questions table."""
    return {d for _, d, s, m in cells(tier) if s == tier.main_student and "subquestions" in tier.config["methods"][m]["tables"]}


def imported(job: Job, tier: Tier) -> tuple:
    return job.first("framework"), Path(job.inputs[0]).parent.name, job.first("model-name"), job.first("sha256")


REACH: dict[str, list[tuple[tuple[str, ...], Check]]] = {}


def reach(pattern: str, rules: tuple[str, ...], check: Check) -> None:
    REACH.setdefault(pattern, []).append((rules, check))


# Sections whose every key is one key of a stage's --settings.
for leaf in leaves_under("data.toy"):
    reach(leaf, ("toy_world",), setting(leaf, below(leaf, 2)))
for leaf in leaves_under("data.split"):
    reach(leaf, ("split",), setting(leaf, below(leaf, 2)))
for leaf in leaves_under("stepwise"):
    reach(leaf, ("stepwise",), setting(leaf, below(leaf, 1)))
for leaf in leaves_under("paper.bootstrap"):
    reach(leaf, ("paper",), setting(leaf, f"bootstrap.{below(leaf, 2)}"))
for leaf in leaves_under("models.*.random"):
    reach(leaf, ("model_random",), setting(leaf, below(leaf, 3), bind="model"))
for leaf in leaves_under("models.*.training"):
    reach(leaf, ("model_finetune",), setting(leaf, f"training.{below(leaf, 3)}", bind="model"))
for leaf in leaves_under("models.*.gold"):
    if leaf != "models.*.gold.frameworks":
        reach(leaf, ("gold_traces",), setting(leaf, below(leaf, 3), bind="model"))
for leaf in leaves_under("models.*.stepwise"):
    reach(leaf, ("gold_stepwise",), setting(leaf, below(leaf, 3), bind="model"))
for leaf in leaves_under("models.*.method"):
    reach(leaf, ("model_finetune",), setting(leaf, f"method.{below(leaf, 3)}", bind="model"))
reach("models.*.method.data", ("gold_stepwise",), setting("models.*.method.data", "variants", bind="model", expect=lambda value, job, tier: [value]))
for leaf in leaves_under("training"):
    reach(leaf, ("train",), setting(leaf, leaf))
    reach(leaf, ("model_finetune",), setting(leaf, leaf, expect=finetune_training(leaf)))
for leaf in leaves_under("teacher.framework"):
    reach(leaf, ("teacher_shard",), setting(leaf, f"framework.{below(leaf, 2)}"))
    reach(leaf, ("gold_traces",), setting(leaf, f"framework.{below(leaf, 2)}", expect=zero_shot(leaf)))
for leaf in leaves_under("teacher.generation"):
    reach(leaf, ("teacher_shard",), setting(leaf, f"generation.{below(leaf, 2)}"))
    reach(leaf, ("evaluate_baseline",), setting(leaf, f"generation.{below(leaf, 2)}", when=is_teacher))  # a teacher keeps its own
for leaf in leaves_under("evaluation.framework"):
    reach(leaf, EVALUATIONS, setting(leaf, f"framework.{below(leaf, 2)}", expect=zero_shot(leaf)))
    reach(leaf, ("evaluate_baseline",), setting(leaf, f"framework.{below(leaf, 2)}"))
for leaf in leaves_under("evaluation.generation"):
    reach(leaf, EVALUATIONS, setting(leaf, f"generation.{below(leaf, 2)}"))
    reach(leaf, ("evaluate_baseline",), setting(leaf, f"generation.{below(leaf, 2)}", when=is_not_teacher))
for name in ("seed", "n_entities", "types"):
    reach(f"data.toy.{name}", ("gold_traces",), setting(f"data.toy.{name}", f"toy.{name}"))

# Resources: the scheduler's, the job's threads, the GPUs a stage spreads over.
for section, rules, when in (
    ("teacher", ("teacher_shard",), None),
    ("teacher", ("evaluate_baseline",), is_teacher),
    ("training", ("train", "model_finetune"), None),
    ("evaluation", EVALUATIONS, None),
    ("evaluation", ("evaluate_baseline",), is_not_teacher),
):
    prefix = f"{section}.resources"
    reach(f"{prefix}.threads", rules, command_value(f"{prefix}.threads", lambda job, tier: job.threads, when=when))
    reach(f"{prefix}.mem_mb", rules, command_value(f"{prefix}.mem_mb", resource("mem_mb"), when=when))
    reach(f"{prefix}.runtime", rules, command_value(f"{prefix}.runtime", resource("runtime"), when=when))
    reach(f"{prefix}.gpus", rules, command_value(f"{prefix}.gpus", resource("gpu"), when=when))
    path = "training.gpus" if section == "training" else "generation.tensor_parallel_size"
    reach(f"{prefix}.gpus", rules, setting(f"{prefix}.gpus", path, when=when))
reach("training.resources.threads", ("train",), command_value("training.resources.threads", lambda job, tier: int(job.first("threads"))))

reach("run", (), once("run", lambda tier: {path.split("/")[1] for job in tier.jobs for path in job.outputs if path.split("/")[0] in ("results", "paper")},
                      lambda run, tier: {run}))
reach("run", ("paper",), setting("run", "run"))
reach("seed", GENERATING, setting("seed", "generation.seed"))
reach("seed", ("model_finetune",), setting("seed", "training.seed"))
reach("seed", ("train",), setting("seed", "training.seed", when=lambda job, tier: hparams_seed(job) == tier.config["seed"]))
reach("datasets", (), once("datasets", lambda tier: {job.wildcards["dataset"] for job in tier.of(["prepare"])}, lambda value, tier: set(value)))
reach("datasets", ("paper",), setting("datasets", "datasets"))
reach("frameworks", (), once("frameworks", lambda tier: {c[0] for c in planned_cells(tier)}, lambda value, tier: {c[0] for c in cells(tier)}))
reach("frameworks", ("paper",), setting("frameworks", "frameworks"))
reach("experiments", (), once("experiments", planned_cells, lambda value, tier: cells(tier)))
reach("data.source", (), once("data.source", lambda tier: "toy" if tier.of(["toy_world"]) else "official" if tier.of(["download"]) else None))
reach("data.annotations.url", ("annotations",),
      command_value("data.annotations.url", lambda job, tier: job.first("input"), expect=lambda url, job, tier: url.format(dataset=job.wildcards["dataset"])))
# a relative path missing from the working directory is read from the checkout, where steper ships its own
reach("data.annotations.followups", ("annotations",),
      command_value("data.annotations.followups", lambda job, tier: (job.first("followups") or "").removeprefix(f"{ROOT}/") or None,
                    expect=lambda followups, job, tier: followups.get(job.wildcards["dataset"])))
reach("data.download.mirror", ("download",), command_value("data.download.mirror", lambda job, tier: job.first("mirror")))
reach("data.download.sha256", ("download",), command_value("data.download.sha256", lambda job, tier: job.first("sums")))
reach("retrieval.backend", FRAMEWORK_LOOPS, setting("retrieval.backend", "framework.retrieval_backend"))
reach("retrieval.compare", (), once("retrieval.compare", lambda tier: {job.wildcards["backend"] for job in tier.of(["index"])}, lambda value, tier: set(value)))
reach("retrieval.compare", ("retrieval_eval",), command_value("retrieval.compare", lambda job, tier: job.flag("backends")))
for name in ("k1", "b"):
    reach(f"retrieval.{name}", ("index", "retrieval_eval"), setting(f"retrieval.{name}", name))
    reach(f"retrieval.{name}", FRAMEWORK_LOOPS, setting(f"retrieval.{name}", f"framework.{name}"))
for name in ("eval_k", "agreement_k"):
    reach(f"retrieval.{name}", ("retrieval_eval",), setting(f"retrieval.{name}", name))
reach("retrieval.threads", ("index",), setting("retrieval.threads", "threads"))

reach("models.*.source", tuple(MODEL_RULES.values()),
      command_value("models.*.source", lambda job, tier: next(s for s, rule in MODEL_RULES.items() if rule == job.rule), bind="model"))
for key, flag in (("path", "repo-id"), ("revision", "revision")):
    reach(f"models.*.{key}", ("model_download",), command_value(f"models.*.{key}", lambda job, tier, flag=flag: job.first(flag), bind="model"))
for key in ("package", "file", "sha256"):
    reach(f"models.*.{key}", ("model_gguf",), command_value(f"models.*.{key}", lambda job, tier, flag=key: job.first(flag), bind="model"))
for rule, flag in (("model_prune", "base"), ("model_finetune", "model"), ("gold_traces", "tokenizer")):
    reach("models.*.base", (rule,), command_value("models.*.base", lambda job, tier, flag=flag: job.first(flag), bind="model",
                                                  expect=lambda base, job, tier: tier.model_dir(base)))
reach("models.*.keep_layers", ("model_prune",),
      command_value("models.*.keep_layers", lambda job, tier: [int(i) for i in job.first("keep-layers").split(",")], bind="model"))
reach("models.*.gold.frameworks", ("gold_examples",),
      command_value("models.*.gold.frameworks", lambda job, tier: [Path(path).name for path in job.inputs], bind="model"))
reach("models.*.storage_dtype", ("model_gguf", "model_prune", "model_random"),
      command_value("models.*.storage_dtype", lambda job, tier: job.first("dtype"), bind="model"))
reach("models.*.storage_dtype", ("model_finetune",), setting("models.*.storage_dtype", "student.dtype", bind="model"))
reach("models.*.storage_dtype", ("train",), setting("models.*.storage_dtype", "student.dtype", bind="student"))
reach("models.*.chat_template", ("train",), setting("models.*.chat_template", "student.chat_template", bind="student"))
reach("models.*.chat_template", ("model_finetune",), setting("models.*.chat_template", "student.chat_template", bind="model"))
reach("models.*.chat_template", ("teacher_shard", "evaluate_baseline"), setting("models.*.chat_template", "generation.chat_template", bind="model"))
reach("models.*.chat_template", EVALUATIONS, setting("models.*.chat_template", "generation.chat_template", bind="student"))
reach("students.*.teacher", ("train",),  # the step-wise data of results/{run}/stepwise/{framework}/{dataset}/{teacher}/...
      command_value("students.*.teacher", lambda job, tier: Path(job.first("data")).parts[5], bind="student"))
for part in ("data", "loss", "weights", "eos"):
    reach(f"methods.*.{part}", ("evaluate_student",), method_reaches(part))
reach("methods.*.match_steps_of", ("train",),
      command_value("methods.*.match_steps_of", lambda job, tier: job.settings["method"].get("match_steps_of"), bind="method",
                    expect=lambda other, job, tier: other and {k: tier.config["methods"][other][k] for k in ("data", "loss")}))
for part in ("label", "tables"):
    reach(f"methods.*.{part}", ("paper",), lambda job, tier, part=part: (
        ((f"methods.*.{part}", method), spec[part], tier.config["methods"][method][part] or method) for method, spec in job.settings["methods"].items()))
reach("teacher.shards", ("teacher_shard",), command_value("teacher.shards", lambda job, tier: int(job.wildcards["n"])))
reach("teacher.imports", ("teacher_import",),
      command_value("teacher.imports", imported, expect=lambda imports, job, tier: next(
          (found for found in ((i["framework"], i["dataset"], i["teacher"], i["sha256"]) for i in imports) if found == imported(job, tier)), None)))
reach("evaluation.baselines", (), once("evaluation.baselines", lambda tier: {job.wildcards["baseline"] for job in tier.of(["evaluate_baseline"])},
                                       lambda value, tier: set(value) if baseline_models(tier) else set()))
reach("evaluation.baselines", ("paper",), setting("evaluation.baselines", "baselines"))
reach("evaluation.baseline_models", (), once("evaluation.baseline_models", lambda tier: {job.wildcards["model"] for job in tier.of(["evaluate_baseline"])},
                                             lambda value, tier: baseline_models(tier) if tier.config["evaluation"]["baselines"] else set()))
reach("paper.main_student", ("paper",), setting("paper.main_student", "main_student", expect=lambda value, job, tier: tier.main_student))
for name in ("scaling_students", "case_study"):
    reach(f"paper.{name}", ("paper",), setting(f"paper.{name}", name))
reach("paper.subquestions.datasets", (), once("paper.subquestions.datasets", lambda tier: {job.wildcards["dataset"] for job in tier.of(["subquestions"])},
                                              lambda value, tier: set(value) & subquestion_datasets(tier)))
reach("paper.subquestions.subqa", ("subquestions",), command_value("paper.subquestions.subqa", lambda job, tier: job.first("subqa")))


def reached(tier: Tier) -> tuple[set[Key], list[str]]:
    """The keys some job of the tier reads, and every command that disagrees with the config."""
    seen, wrong = set(), []
    leaves = set(schema_leaves())
    for pattern, uses in REACH.items():
        if pattern not in leaves:  # an entry for a key this schema does not have (yet)
            continue
        for rules, check in uses:
            for job in tier.of(rules) if rules else [None]:
                for key, actual, expected in check(job, tier):
                    seen.add(key)
                    if actual != expected:
                        where = "the plan" if job is None else f"{job.rule} {job.outputs[0]}"
                        wrong.append(f"{shown(key)}: {where} has {actual!r}, the config says {expected!r}")
    return seen, wrong


# --- the tests --------------------------------------------------------------------------------

def test_every_schema_key_says_where_it_is_read():
    assert sorted(set(schema_leaves()) - set(REACH)) == []


@pytest.mark.parametrize("tier", list(TIERS))
def test_every_command_holds_the_value_of_its_config_keys(tiers, tier):
    _, wrong = reached(tiers[tier])
    assert wrong == []


@pytest.mark.parametrize("tier", list(TIERS))
def test_every_key_a_tier_sets_reaches_a_command(tiers, tier):
    """A key the tier's files set that no job of the tier reads changes nothing: remove it, or make it count."""
    seen, _ = reached(tiers[tier])
    assert sorted(shown(key) for key in set_keys(tiers[tier].own) if key not in seen) == []


def test_every_schema_key_reaches_a_command_in_some_tier(tiers):
    seen = {pattern for tier in tiers.values() for pattern, _ in reached(tier)[0]}
    assert sorted(leaf for leaf in schema_leaves() if leaf not in seen) == []


# --- the dtypes take effect: storage is how steper writes a model, compute what a stage runs in --

FRAMEWORK_FIXTURES = ROOT / "tests" / "fixtures" / "frameworks"
TINY = ["--settings", json.dumps({"hidden_size": 32, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate_size": 64, "vocab_size": 400})]


def stored(model_dir: Path) -> set[str]:
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as handle:
        return {str(handle.get_tensor(name).dtype).removeprefix("torch.") for name in handle.keys()}


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory) -> Path:
    from steper.cli import main

    model = tmp_path_factory.mktemp("models") / "tiny"
    assert main(["models", "random", "--corpus", str(FRAMEWORK_FIXTURES / "corpus.jsonl"), "--output", str(model), "--dtype", "bfloat16", *TINY]) == 0
    return model


def test_a_models_storage_dtype_is_the_dtype_of_the_weights_steper_writes(bf16_model, tmp_path):
    from steper.cli import main
    from steper.models.precision import stored_dtype

    assert stored(bf16_model) == {"bfloat16"} and stored_dtype(bf16_model) == "bfloat16"
    assert main(["models", "prune", "--base", str(bf16_model), "--keep-layers", "0", "--dtype", "float16", "--output", str(tmp_path / "pruned")]) == 0
    assert stored(tmp_path / "pruned") == {"float16"} and stored_dtype(tmp_path / "pruned") == "float16"


def test_evaluation_computes_in_its_own_dtype_whatever_the_model_is_stored_in(bf16_model, tmp_path):
    """The demo's bug: a bf16-stored student with `evaluation.generation.dtype: float32` was evaluated in bf16."""
    from steper.cli import main
    from steper.models.generation import GenerationSettings
    from steper.models.transformers_backend import TransformersBackend
    from steper.retrieval import build_index

    assert str(TransformersBackend(bf16_model, GenerationSettings(dtype="float32")).dtype) == "torch.float32"
    build_index(FRAMEWORK_FIXTURES / "corpus.jsonl", tmp_path / "index" / "bm25s", "bm25s")
    output = tmp_path / "eval.json"
    settings = {"framework": {"top_k": 2, "max_steps": 1, "max_new_tokens": 4, "shots": 0, "retrieval_backend": "bm25s"},
                "generation": {"dtype": "float32", "batch_size": 4}}
    assert main(["evaluate", "run", "--framework", "ircot", "--dataset", "toy", "--system", "tiny--steper",
                 "--records", str(FRAMEWORK_FIXTURES / "records.jsonl"), "--index-dir", str(tmp_path / "index"), "--model", str(bf16_model),
                 "--predictions", str(tmp_path / "predictions.jsonl"), "--output", str(output), "--settings", json.dumps(settings)]) == 0
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["settings"]["generation"]["dtype"] == "float32"
    assert result["precision"] == {"storage_dtype": "bfloat16", "compute_dtype_setting": "float32", "compute_dtype": "float32"}
