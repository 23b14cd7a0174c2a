"""benchmarks/run_projection.py: rates from a finished run's benchmark files, prices of planned jobs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import run_projection  # noqa: E402

DRY_RUN = """\
Job stats:
job          count
---------  -------
train            1
total            1

[Wed Dec  2 20:23:25 2026]
rule train:
    input: results/x/stepwise/ircot/hotpotqa/t/chain-acc_tokens/first-mid-final.jsonl
    wildcards: framework=ircot
    benchmark: results/x/benchmarks/train/ircot/hotpotqa/s/steper/chain-acc_tokens/lr0.0001_ep3_bs4_len1024_seed0.tsv
    threads: 2
Shell command: OMP_NUM_THREADS=2 steper train run --threads 2 --data {data} --model m --output o --settings '{{"training": {{"epochs": 3}}}}' 2> log

[Wed Dec  2 20:23:25 2026]
localrule paper_manifest:
    output: results/x/paper/manifest.json
"""


def _stepwise(directory: Path, examples: int, prompt: float, completion: float) -> Path:
    directory.mkdir(parents=True)
    variant = {"examples": examples, "prompt_tokens": {"mean": prompt}, "completion_tokens": {"mean": completion}}
    (directory / "stats.json").write_text(json.dumps({"variants": {"first-mid-final": variant, "final": variant}}))
    return directory / "first-mid-final.jsonl"


def _bench(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t1.0\n")


def test_dry_run_jobs_and_training_price(tmp_path: Path) -> None:
    data = _stepwise(tmp_path / "stepwise", examples=10, prompt=90.0, completion=10.0)
    jobs = run_projection.parse_dry_run(DRY_RUN.format(data=data))
    bench = "train/ircot/hotpotqa/s/steper/chain-acc_tokens/lr0.0001_ep3_bs4_len1024_seed0"
    assert [(rule, benchmark) for rule, benchmark, _ in jobs] == [("train", bench), ("paper_manifest", "paper_manifest")]
    stage, seconds, basis = run_projection.price(*jobs[0], {"train_tokens_per_second": 100.0})
    assert (stage, seconds, basis) == ("train", pytest.approx(30.0), {"examples": 10, "epochs": 3})  # 10 × 100 tokens × 3 epochs / 100 tok/s
    assert run_projection.price(*jobs[1], {"stage_mean_seconds": {}})[1] is None  # unpriced


def test_planned_jobs_already_measured_are_not_priced_again(tmp_path: Path) -> None:
    """A part run from a fresh clone re-plans finished jobs whose models it lacks; their benchmark counts once."""
    jobs = run_projection.parse_dry_run(DRY_RUN.format(data=tmp_path / "x.jsonl"))
    measured = {"train/ircot/hotpotqa/s/steper/chain-acc_tokens/lr0.0001_ep3_bs4_len1024_seed0": 50.0}
    assert [rule for rule, _, _ in run_projection.unfinished(jobs, measured)] == ["paper_manifest"]
    other_seed = {"train/ircot/hotpotqa/s/steper/chain-acc_tokens/lr0.0001_ep3_bs4_len1024_seed1": 50.0}
    assert [rule for rule, _, _ in run_projection.unfinished(jobs, other_seed)] == ["train", "paper_manifest"]


def test_rates_from_a_finished_run(tmp_path: Path) -> None:
    run = tmp_path / "results" / "demo"
    _stepwise(run / "stepwise" / "ircot" / "hotpotqa" / "teacher" / "chain-acc_tokens", examples=20, prompt=40.0, completion=10.0)
    _bench(run / "benchmarks" / "train" / "ircot" / "hotpotqa" / "s" / "steper" / "chain-acc_tokens" / "lr0.0001_ep2_bs4_len1024_seed0.tsv", 40.0)
    _bench(run / "benchmarks" / "evaluate" / "ircot" / "hotpotqa" / "s--steper.tsv", 30.0)
    _bench(run / "benchmarks" / "teacher" / "ircot" / "hotpotqa" / "teacher" / "train.0-of-2.tsv", 8.0)
    (run / "eval" / "ircot" / "hotpotqa").mkdir(parents=True)
    (run / "eval" / "ircot" / "hotpotqa" / "s--steper.json").write_text(json.dumps({"n_records": 15}))
    config = {"students": {"s": {"teacher": "teacher"}}, "methods": {"steper": {"data": "first-mid-final"}}}
    rates = run_projection.measured_rates(run, config)
    assert rates["train_tokens_per_second"] == pytest.approx(20 * 50 * 2 / 40.0)
    assert rates["evaluate_seconds_per_question"] == pytest.approx(2.0)
    assert rates["stage_mean_seconds"]["teacher"] == pytest.approx(8.0)


def test_evaluation_priced_per_question_and_missing_stats_named(tmp_path: Path) -> None:
    records = tmp_path / "test.jsonl"
    records.write_text("{}\n{}\n\n{}\n")
    words = ["steper", "evaluate", "run", "--records", str(records)]
    assert run_projection.price("evaluate_baseline", "evaluate", words, {"evaluate_seconds_per_question": 1.5})[:2] == ("evaluate", pytest.approx(4.5))
    missing = ["steper", "evaluate", "run", "--records", str(tmp_path / "subquestions.jsonl")]
    assert run_projection.price("evaluate_subquestions", "evaluate", missing, {"evaluate_seconds_per_question": 1.5}) == ("evaluate", None, {})
    with pytest.raises(SystemExit, match="stats.json: missing"):
        run_projection.example_tokens(tmp_path / "nowhere" / "final.jsonl")


def test_wall_time_packs_core_seconds_or_waits_for_the_chain() -> None:
    jobs = [("models/finetune/teacher", 100.0), ("train/a", 60.0), ("train/b", 40.0), ("evaluate/a", 30.0), ("evaluate/b", 10.0), ("data/split/x", 20.0)]
    # core-seconds: 2×100 + 2×60 + 2×40 + 30 + 10 + 20 = 460
    assert run_projection.wall_on(jobs, 2) == pytest.approx(230.0)
    assert run_projection.wall_on(jobs, 4) == pytest.approx(190.0)  # the chain: fine-tuning 100 + training 60 + evaluation 30
    assert run_projection.wall_on(jobs, 16) == pytest.approx(190.0)
    assert run_projection.wall_on([("evaluate/a", 30.0), ("evaluate/b", 30.0)], 2) == pytest.approx(30.0)
    assert run_projection.wall_on([], 8) == 0.0
    assert [run_projection.threads(stage) for stage in ("train", "models/finetune", "evaluate", "teacher")] == [2, 2, 1, 1]
    assert run_projection.stage_of("models/finetune/teacher") == "models/finetune"
    assert run_projection.stage_of("teacher/ircot/hotpotqa/t/train.0-of-2") == "teacher"
