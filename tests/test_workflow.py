"""The Snakemake workflow: config validation, the three tiers' DAGs, and the smoke tier end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parent.parent


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(cwd), *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )


def write_config(tmp_path: Path, base: str, edit) -> Path:
    """config/<base> laid over the paper config (as the Snakefile lays it), altered by `edit`."""
    config = tier_config(ROOT, [ROOT / "config" / base])
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("tier", ["smoke.yaml", "demo.yaml", "config.yaml"])
def test_every_tier_plans_without_network(tier, tmp_path):
    result = snakemake("-n", "--quiet", "rules", "--configfile", str(ROOT / "config" / tier), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^paper\s+1$", result.stdout, re.M), result.stdout


def training_identity(spec: dict) -> tuple:
    """What a student depends on: the kinds it trains on and how their losses are weighted (equal
    weights whatever the loss's name: 'uniform' and 'fixed' 1:1:1 are one computation)."""
    kinds = ["final"] if spec["loss"] == "vanilla" else spec["data"].split("-")
    if spec["loss"] == "difficulty_aware":
        return tuple(kinds), "learned"
    weights = spec["weights"] if spec["loss"] == "fixed" else dict.fromkeys(kinds, 1.0)
    return tuple(kinds), tuple(float(weights.get(kind, 0.0)) for kind in kinds)


def test_paper_tier_trains_each_training_identity_once_on_gpus(tmp_path):
    """The full grid is evaluated for every method; methods that are the same computation share one training job."""
    result = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config.get("experiments") is None  # the paper tier runs the full grid
    grid = len(config["students"]) * len(config["datasets"]) * len(config["frameworks"])
    identities = {training_identity(spec) for spec in config["methods"].values()}
    assert len(identities) < len(config["methods"])  # the rule is exercised: some methods share a student
    assert re.search(rf"^evaluate_student\s+{grid * len(config['methods'])}$", result.stdout, re.M), result.stdout
    assert re.search(rf"^train\s+{grid * len(identities)}$", result.stdout, re.M), result.stdout
    train_jobs = re.findall(r"rule train:.*?(?=\n\n)", result.stdout, re.S)
    assert len(train_jobs) == grid * len(identities)
    assert all(re.search(r"resources:.*gpu=4", job, re.S) for job in train_jobs)
    trained = {re.search(r"output: (\S+)", job)[1] for job in train_jobs}
    evaluations = re.findall(r"rule evaluate_student:.*?(?=\n\n)", result.stdout, re.S)
    assert len(evaluations) == grid * len(config["methods"])
    for job in evaluations:
        student_dir = next(path for path in re.search(r"input: ([^\n]+)", job)[1].split(", ") if "/students/" in path)
        assert student_dir in trained, job
    for rule in ("download", "corpus", "index", "model_download", "teacher_shard", "teacher_merge"):
        assert f"rule {rule}:" in result.stdout


def test_misspelt_key_stops_the_run_and_names_it(tmp_path):
    def misspell(config):
        config["trainig"] = config.pop("training")

    path = write_config(tmp_path, "smoke.yaml", misspell)
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode != 0
    assert "trainig" in result.stderr + result.stdout


def test_wrong_type_stops_the_run_and_names_the_key(tmp_path):
    def wrong(config):
        config["training"]["lr"] = "fast"

    path = write_config(tmp_path, "smoke.yaml", wrong)
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode != 0
    out = result.stderr + result.stdout
    assert "lr" in out and "fast" in out


def test_dangling_reference_is_named(tmp_path):
    def dangling(config):
        config["students"]["tiny"]["teacher"] = "giant"

    path = write_config(tmp_path, "smoke.yaml", dangling)
    result = snakemake("-n", "--configfile", str(path), cwd=tmp_path)
    assert result.returncode != 0
    assert "students.tiny.teacher" in result.stderr + result.stdout


def _table_rows(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


@pytest.mark.slow
def test_smoke_dag_end_to_end(tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    config = str(ROOT / "config" / "smoke.yaml")
    result = snakemake("--cores", "2", "--configfile", config, cwd=workdir, timeout=1500)
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])

    table = (workdir / "paper/smoke/tables/table1_main.md").read_text()
    rows = _table_rows(table)
    methods = {method for grid in tier_config(ROOT, [config])["experiments"] for method in grid["methods"]}
    labels = " ".join(" ".join(row[:2]) for row in rows).lower()
    for method in ("vanilla", "steper"):
        assert method in labels, table
    assert len(rows) >= len(methods) + 1  # the few-shot baseline, then one row per method
    for row in rows:
        if row[0] == "(published)":  # rows of systems not re-run carry the paper's numbers or dashes
            continue
        cells = [re.fullmatch(r"(-?\d+(?:\.\d+)?) \[(-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)\]", cell) for cell in row[2:]]
        assert cells and all(cells), row  # every metric cell is "estimate [low, high]"
        for match in cells:
            estimate, low, high = (float(value) for value in match.groups())
            assert 0.0 <= low <= estimate <= high <= 100.0, row
    assert (workdir / "paper/smoke/figures/fig_sigma.png").stat().st_size > 0

    again = snakemake("-n", "--configfile", config, cwd=workdir)
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr

    trace = workdir / "results/smoke/traces/ircot/musique/tiny/train.jsonl"
    trace.unlink()
    rerun = snakemake("-n", "--quiet", "rules", "--configfile", config, cwd=workdir)
    assert rerun.returncode == 0
    planned = dict(re.findall(r"^(\w+)\s+(\d+)$", rerun.stdout, re.M))
    assert planned.get("teacher_merge") == "1"
    assert planned.get("stepwise") == "1"
    assert planned.get("train") == "2"
    for upstream in ("toy_world", "prepare", "index", "teacher_shard", "model_random"):
        assert upstream not in planned


def _jobs(output: str, rule: str) -> list[str]:
    return re.findall(rf"rule {rule}:.*?(?=\n\n)", output, re.S)


def _outputs(output: str, rule: str) -> set[str]:
    return {re.search(r"output: ([^,\n]+)", job)[1] for job in _jobs(output, rule)}


def test_extra_seeds_train_and_evaluate_their_own_students(tmp_path):
    """experiments[].seeds: one student per seed; the run's seed keeps every path, the extra seeds sit beside it."""

    def seeds(config):
        config["experiments"][0]["seeds"] = [0, 1, 2]  # smoke's 'main' grid: IRCoT x 3 datasets x 2 methods

    before = snakemake("-n", "--configfile", str(ROOT / "config" / "smoke.yaml"), cwd=tmp_path)
    after = snakemake("-n", "--configfile", str(write_config(tmp_path, "smoke.yaml", seeds)), cwd=tmp_path)
    assert before.returncode == 0 and after.returncode == 0, after.stderr[-3000:]
    trained, trained_seeds = _outputs(before.stdout, "train"), _outputs(after.stdout, "train")
    main = {path for path in trained if "/students/ircot/" in path and "/tiny/" in path}  # not the scaling grid's tiny-l1
    assert len(main) == 6 and trained <= trained_seeds
    assert trained_seeds - trained == {path.replace("_seed0", f"_seed{seed}") for path in main for seed in (1, 2)}
    assert _outputs(before.stdout, "evaluate_student") == _outputs(after.stdout, "evaluate_student")
    evaluated = _outputs(after.stdout, "evaluate_student_seed")
    assert evaluated == {
        f"results/smoke/eval/ircot/{dataset}/tiny--{method}--seed{seed}.json"
        for dataset in ("hotpotqa", "2wikimultihopqa", "musique") for method in ("vanilla_kd", "steper") for seed in (1, 2)
    }
    job = next(job for job in _jobs(after.stdout, "evaluate_student_seed") if "hotpotqa/tiny--steper--seed2.json" in job)
    assert "--system tiny--steper " in job  # the file names the system it replicates; its path names the seed
    assert re.search(r"--model results/smoke/students/ircot/hotpotqa/tiny/steper/\S+_seed2 ", job), job
    train = next(job for job in _jobs(after.stdout, "train") if re.search(r"output: \S+/ircot/musique/tiny/vanilla_kd/\S+_seed1\n", job))
    assert '"seed": 1' in train and '"seed": 0' not in train
    assert "paper/smoke/tables/table_seeds.md" in after.stdout and "table_seeds" not in before.stdout


def test_manifest_lists_every_seed_only_when_there_are_several(tmp_path):
    def seeds(config):
        config["experiments"][1]["seeds"] = [0, 3]  # smoke's 'selfask' grid: hotpotqa x 2 methods

    manifest = tmp_path / "results" / "smoke" / "paper" / "manifest.json"
    one = snakemake("--cores", "1", str(manifest.relative_to(tmp_path)), "--configfile", str(ROOT / "config" / "smoke.yaml"), cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    assert "seeds" not in json.loads(manifest.read_text())
    several = snakemake("--cores", "1", str(manifest.relative_to(tmp_path)), "--configfile", str(write_config(tmp_path, "smoke.yaml", seeds)), cwd=tmp_path)
    assert several.returncode == 0, several.stderr[-3000:]
    listed = json.loads(manifest.read_text())
    assert [(entry["system"], entry["seed"], entry["path"]) for entry in listed["seeds"]] == [
        ("tiny--vanilla_kd", "0", "results/smoke/eval/selfask/hotpotqa/tiny--vanilla_kd.json"),
        ("tiny--vanilla_kd", "3", "results/smoke/eval/selfask/hotpotqa/tiny--vanilla_kd--seed3.json"),
        ("tiny--steper", "0", "results/smoke/eval/selfask/hotpotqa/tiny--steper.json"),
        ("tiny--steper", "3", "results/smoke/eval/selfask/hotpotqa/tiny--steper--seed3.json"),
    ]
    assert {entry["path"] for entry in listed["seeds"] if entry["seed"] == "0"} <= {entry["path"] for entry in listed["evals"]}
    assert any(entry["stage"].endswith("tiny--steper--seed3") for entry in listed["benchmarks"])


@pytest.mark.parametrize(
    "seeds, message",
    [([1, 2], "experiments[0].seeds: must include the run's seed 0"), ([0, 0], "non-unique"), ([], "seeds")],
)
def test_bad_seeds_stop_the_run(tmp_path, seeds, message):
    def edit(config):
        config["experiments"][0]["seeds"] = seeds

    result = snakemake("-n", "--configfile", str(write_config(tmp_path, "smoke.yaml", edit)), cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout


def test_demo_full_trains_the_main_comparison_with_three_seeds():
    config = yaml.safe_load((ROOT / "config" / "demo-full.yaml").read_text())
    table1 = next(grid for grid in config["experiments"] if grid["name"] == "table1")
    assert table1["seeds"] == [0, 1, 2] and table1["methods"] == ["vanilla_kd", "steper", "vanilla_kd_matched"]
