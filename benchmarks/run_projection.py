"""How long a run takes on this machine: its finished jobs as measured, the rest priced at measured rates.

config/demo-full.yaml (every table on three datasets, three training seeds) does not fit in one
sitting here, so its cost is stated from measurements rather than guessed. The jobs a partial run
has finished (say, `--until stepwise`: teacher fine-tuning, traces, step-wise data) keep their
Snakemake benchmark times. Every job Snakemake still plans (its dry run) and has no benchmark time is
priced at the rate of its kind measured in a finished run of another config (the demo):
- training at tokens per second, over example-epochs: the examples of its data file times their mean
  prompt + completion tokens (the step-wise stats beside the file) times its epochs. Layer-pruned
  students are priced as full-depth ones, so their jobs are over-estimated;
- evaluation (students, baselines, transfer, sub-questions) at seconds per question of the finished
  run's zero-shot student evaluations; few-shot baselines have longer prompts, so under-estimated;
- anything else at the finished run's mean time for that rule, or listed as unpriced.
Wall time on N cores (2, this machine; 8 and 16 projected) is the larger of two bounds: the jobs'
core-seconds packed perfectly (a two-thread job, training or fine-tuning, holds two cores) and the
chain every run waits on, the longest job of each stage from the teacher's fine-tuning to the
evaluations. Jobs keep their configured threads and this machine's per-job times; the DAG's other
waits are not modelled, so more cores are a lower bound on the wall time.

    python benchmarks/run_projection.py --configfile config/demo-full.yaml config/demo-full-imports.yaml \
        --rates-run results/demo --rates-config config/demo.yaml \
        --output benchmarks/results/demo_full_projection.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from demo_speedup import stage_seconds

from steper.plan.tiers import tier_config

TWO_THREAD_STAGES = ("models/finetune", "train")
# The stages each later one waits for: the teacher's fine-tuning, its traces, the step-wise data, a training, its evaluation.
CHAIN = ("models/finetune", "teacher", "stepwise", "train", "evaluate")
CORES = (2, 8, 16)
EPOCHS = re.compile(r"_ep(\d+)_")
GROUPED_STAGES = ("data", "models", "retrieval", "paper")
RULE = re.compile(r"^(?:local)?rule (\w+):$")
BENCHMARK = re.compile(r"^benchmark: \S*?/benchmarks/(\S+)\.tsv$")


def planned_jobs(configfiles: list[str]) -> list[tuple[str, str, list[str]]]:
    """(rule, stage, shell words) of every job Snakemake would still run for this config and its overlays."""
    result = subprocess.run(
        ["snakemake", "--dry-run", "--printshellcmds", "--nolock", "--cores", "2", "--configfile", *configfiles],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"snakemake --dry-run --configfile {' '.join(configfiles)} failed:\n{result.stderr[-2000:]}")
    return parse_dry_run(result.stdout)


def parse_dry_run(text: str) -> list[tuple[str, str, list[str]]]:
    """The jobs of `snakemake --dry-run --printshellcmds` output: a rule line, its benchmark file under
    benchmarks/ without .tsv (the rule's own BENCH path, so the stage is never spelled twice; the rule
    name if it has none), its shell command."""
    jobs: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        match = RULE.match(line.strip())
        bench = BENCHMARK.match(line.strip())
        if match:
            jobs.append((match.group(1), match.group(1), []))
        elif bench and jobs:
            jobs[-1] = (jobs[-1][0], bench.group(1), jobs[-1][2])
        elif line.startswith("Shell command:") and jobs:
            jobs[-1] = (jobs[-1][0], jobs[-1][1], shlex.split(line[len("Shell command:"):]))
    return jobs


def flag(words: list[str], name: str) -> str:
    if name not in words:
        raise SystemExit(f"planned command has no {name}: {' '.join(words)[:300]}")
    return words[words.index(name) + 1]


def example_tokens(data_file: Path) -> tuple[int, float]:
    """Examples and their summed prompt + completion tokens, from the step-wise stats beside the file."""
    stats_file = data_file.parent / "stats.json"
    if not stats_file.exists():
        raise SystemExit(f"{stats_file}: missing (run the config up to its step-wise data first: --until stepwise)")
    variant = json.loads(stats_file.read_text())["variants"][data_file.stem]
    return variant["examples"], variant["examples"] * (variant["prompt_tokens"]["mean"] + variant["completion_tokens"]["mean"])


def count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


def measured_rates(run_dir: Path, config: dict) -> dict[str, float]:
    """Training tokens per second and evaluation seconds per question of a finished run."""
    seconds = stage_seconds(run_dir)
    tokens, train_seconds, questions, eval_seconds = 0.0, 0.0, 0, 0.0
    for stage, wall in seconds.items():
        parts = stage.split("/")
        if parts[0] == "train":
            framework, dataset, student, method, tag, hparams = parts[1:]
            teacher = config["students"][student]["teacher"]
            data = run_dir / "stepwise" / framework / dataset / teacher / tag / f"{config['methods'][method]['data']}.jsonl"
            tokens += example_tokens(data)[1] * int(EPOCHS.search(hparams).group(1))
            train_seconds += wall
        elif parts[0] == "evaluate":
            framework, dataset, system = parts[1:]
            questions += json.loads((run_dir / "eval" / framework / dataset / f"{system}.json").read_text())["n_records"]
            eval_seconds += wall
    if not train_seconds or not questions:
        raise SystemExit(f"{run_dir}: needs finished train and evaluate jobs to measure rates")
    means = defaultdict(list)
    for stage, wall in seconds.items():
        means[stage_of(stage)].append(wall)
    return {
        "train_tokens_per_second": tokens / train_seconds,
        "evaluate_seconds_per_question": eval_seconds / questions,
        "stage_mean_seconds": {stage: sum(v) / len(v) for stage, v in means.items()},
    }


def stage_of(benchmark: str) -> str:
    """The stage a benchmark file belongs to: its first two path parts for data, models, retrieval and
    paper (data/split, models/finetune), its first otherwise (teacher, train, evaluate)."""
    parts = benchmark.split("/")
    return "/".join(parts[:2]) if parts[0] in GROUPED_STAGES else parts[0]


def unfinished(jobs: list[tuple[str, str, list[str]]], done: dict[str, float]) -> list[tuple[str, str, list[str]]]:
    """The planned jobs not yet measured. A run assembled in parts plans again the finished jobs whose
    files it does not keep (a fresh clone has the committed benchmarks but no model or index): their
    benchmark is already counted, and pricing them again would count them twice."""
    return [job for job in jobs if job[1] not in done]


def price(rule: str, benchmark: str, words: list[str], rates: dict) -> tuple[str, float | None, dict]:
    """(stage, seconds or None if unpriced, what the price was computed from)."""
    stage = stage_of(benchmark)
    if stage == "train":
        settings = json.loads(flag(words, "--settings"))
        examples, tokens = example_tokens(Path(flag(words, "--data")))
        epochs = settings["training"]["epochs"]
        return "train", tokens * epochs / rates["train_tokens_per_second"], {"examples": examples, "epochs": epochs}
    if stage == "evaluate" and "--records" in words:
        records = Path(flag(words, "--records"))
        if not records.exists():  # made by a job not yet run (the sub-questions): listed as unpriced
            return stage, None, {}
        n = count_lines(records)
        return "evaluate", n * rates["evaluate_seconds_per_question"], {"questions": n}
    return stage, rates["stage_mean_seconds"].get(stage), {}


def threads(stage: str) -> int:
    return 2 if stage.startswith(TWO_THREAD_STAGES) else 1


def wall_on(jobs: list[tuple[str, float]], cores: int) -> float:
    """Wall seconds of (stage, seconds) jobs on `cores` cores: perfect packing of their core-seconds,
    or the chain of the longest job per CHAIN stage when more cores cannot shorten it further."""
    core_seconds = sum(threads(stage) * seconds for stage, seconds in jobs)
    chain = sum(max((seconds for stage, seconds in jobs if stage_of(stage) == link), default=0.0) for link in CHAIN)
    return max(core_seconds / cores, chain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", nargs="+", required=True, help="the config to project and its overlays (run it partially first)")
    parser.add_argument("--rates-run", type=Path, required=True, help="a finished run's results directory")
    parser.add_argument("--rates-config", type=Path, required=True, help="the config of that run")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    config = tier_config(Path.cwd(), args.configfile)
    rates = measured_rates(args.rates_run, tier_config(Path.cwd(), [args.rates_config]))
    done = stage_seconds(Path("results") / config["run"])
    measured = defaultdict(float)
    for stage, seconds in done.items():
        measured[stage_of(stage)] += seconds
    projected, jobs, unpriced, examples = defaultdict(float), defaultdict(int), defaultdict(int), []
    priced: list[tuple[str, float]] = []
    for rule, benchmark, words in unfinished(planned_jobs(args.configfile), done):
        stage, seconds, basis = price(rule, benchmark, words, rates)
        jobs[stage] += 1
        if seconds is None:
            unpriced[rule] += 1
            continue
        projected[stage] += seconds
        priced.append((stage, seconds))
        if stage == "train":
            examples.append(basis["examples"])
    finished = list(done.items())
    result = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "configfile": args.configfile,
        "rates": {k: v for k, v in rates.items() if k != "stage_mean_seconds"},
        "measured_jobs": len(done),
        "measured_job_seconds": dict(sorted(measured.items())),
        "planned_jobs": dict(sorted(jobs.items())),
        "projected_job_seconds": dict(sorted(projected.items())),
        "unpriced_jobs": dict(sorted(unpriced.items())),
        "trainings": len(examples),
        "training_examples_min_max": [min(examples), max(examples)] if examples else [],
        "wall_hours_measured": wall_on(finished, 2) / 3600,
        "wall_hours_projected": wall_on(priced, 2) / 3600,
        "wall_hours_total": {str(cores): wall_on(finished + priced, cores) / 3600 for cores in CORES},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
