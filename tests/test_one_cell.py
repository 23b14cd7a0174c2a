"""The one-cell overlay (config/one-cell.yaml): one cell of Table 1 with the paper tier's protocol.

The Snakefile lays `--configfile config/one-cell.yaml` over config/config.yaml (steper/plan/tiers.py:
mappings merge, lists and values replace; the overlay sets neither `models` nor `students`, which
would be replaced whole). The dry run shows what the cell builds: one teacher's traces, two
students, three evaluations, and only the two hub models it uses.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from steper.paper.check import load_checks, published_checks
from steper.paper.published import load_published
from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parents[1]
PAPER, CELL = str(ROOT / "config" / "config.yaml"), str(ROOT / "config" / "one-cell.yaml")


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(cwd), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def job_counts(stdout: str) -> dict[str, int]:
    counts = {}
    for line in stdout.splitlines():
        if match := re.fullmatch(r"(\w+)\s+(\d+)", line.strip()):
            counts.setdefault(match[1], int(match[2]))
    return counts




@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    result = snakemake("-n", "--quiet", "rules", "--configfile", CELL, cwd=tmp_path_factory.mktemp("one-cell"))
    assert result.returncode == 0, result.stderr[-3000:]
    return job_counts(result.stdout)


def test_the_dry_run_builds_one_cell_with_only_the_models_it_uses(plan):
    assert plan == {
        "download": 2, "model_download": 2, "paper_manifest": 1, "corpus": 1, "prepare": 2, "annotations": 1, "index": 1,
        "split": 1, "evaluate_baseline": 1, "retrieval_eval": 1, "teacher_shard": 4, "teacher_merge": 1, "stepwise": 1,
        "train": 2, "evaluate_student": 2, "paper": 1, "all": 1, "total": 25,
    }


def test_the_cell_is_the_paper_tiers_cell(tmp_path):
    """Same training settings, teacher, student and test protocol: the student paths and the rule
    commands name the paper tier's hyper-parameters and models."""
    result = snakemake("-n", "--printshellcmds", "--configfile", CELL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    students = set(re.findall(r"results/one-cell/students/ircot/hotpotqa/llama3\.1-8b/(\w+)/chain-acc_tokens/(lr\S+?_seed\d+)", result.stdout))
    assert students == {("vanilla_kd", "lr5e-06_ep2_bs32_len4096_seed0"), ("steper", "lr5e-06_ep2_bs32_len4096_seed0")}
    assert re.findall(r"--repo-id (\S+)", result.stdout) and set(re.findall(r"--repo-id (\S+)", result.stdout)) == {
        "meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"}
    paper, cell = yaml.safe_load(Path(PAPER).read_text()), tier_config(ROOT, [CELL])
    for section in ("models", "students", "methods", "teacher", "stepwise", "training", "seed"):
        assert cell[section] == paper[section], section
    assert cell["evaluation"]["framework"] == paper["evaluation"]["framework"]
    assert cell["evaluation"]["generation"] == paper["evaluation"]["generation"]
    assert cell["data"]["split"] == dict(paper["data"]["split"], n_train=10000)


def test_naming_the_paper_config_first_plans_the_same_jobs(plan, tmp_path):
    result = snakemake("-n", "--quiet", "rules", "--configfile", PAPER, CELL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout) == plan


def test_check_compares_the_cell_with_the_published_numbers(tmp_path):
    expected = ROOT / "config" / "expected" / "one-cell.yaml"
    (tmp_path / "config" / "expected").mkdir(parents=True)
    shutil.copy(expected, tmp_path / "config" / "expected")  # the rule reads it from the working directory
    result = snakemake("check", "-n", "--quiet", "rules", "--configfile", CELL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout)["check"] == 1
    published = published_checks(load_published(), "llama3.1-8b", tolerance=6.2)
    cell = [c for c in published["checks"] if c["dataset"] == "hotpotqa" and c["system"] in {"llama3.1-8b--vanilla_kd", "llama3.1-8b--steper"}]
    assert yaml.safe_load(expected.read_text())["checks"] == cell
    assert {(c.system, c.metric) for c in load_checks(expected)} == {
        (f"llama3.1-8b--{method}", metric) for method in ("vanilla_kd", "steper") for metric in ("em", "f1", "acc")}
    assert {c.tolerance for c in load_checks(expected)} == {6.2}
