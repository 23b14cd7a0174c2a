"""The SLURM profile against a live Slurm cluster (brought up by `cluster/slurm-up.sh`).

Runs the smoke DAG through `profiles/slurm`, every rule a Slurm job, and reads back what Slurm
recorded (`sacct`): which rules ran, with which CPUs, memory, time limit and GPUs, and when. A second
run lets Slurm kill a teacher job at its time limit and checks that Snakemake retries it and that the
retry resumes from the `.partial` file. Skipped when no cluster answers; `cluster/test-slurm.sh`
brings one up and runs this module with STEPER_SLURM_TEST=1 (about 20 minutes on 2 cores).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARTITION = os.environ.get("STEPER_SLURM_PARTITION", "local")
ACCOUNT = os.environ.get("STEPER_SLURM_ACCOUNT", "steper")
SMOKE = ["config/smoke.yaml", "cluster/slurm-smoke.yaml"]
TIMEOUT = ["config/smoke.yaml", "cluster/slurm-timeout.yaml"]
# What a user puts on the command line for their site; rules without a `resources` section get these.
DEFAULT_RESOURCES = {"mem_mb": 1000, "runtime": 10}
SITE = [
    "--default-resources",
    f"slurm_partition={PARTITION}",
    f"slurm_account={ACCOUNT}",
    *(f"{key}={value}" for key, value in DEFAULT_RESOURCES.items()),
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--jobs",
    "4",
]


def sections_of_rules() -> dict[str, str]:
    """Rule -> the config section whose `resources` it requests, read from the rule files (a rule
    made by `use rule ... as` inherits its parent's), so a new rule cannot be missed here."""
    sections: dict[str, str] = {}
    inherited: dict[str, str] = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule |use rule )", path.read_text()):
            if rule := re.match(r"rule (\w+):", block):
                if section := re.search(r'\*\*resources\("(\w+)"\)', block):
                    sections[rule[1]] = section[1]
            elif use := re.match(r"use rule (\w+) as (\w+)", block):
                inherited[use[2]] = use[1]
    return sections | {child: sections[parent] for child, parent in inherited.items() if parent in sections}


# evaluate_baseline takes its section from the model (a teacher's or the evaluation's): expected_resources.
SECTION_OF_RULE = sections_of_rules()
FIRST_LIMIT = 2  # minutes: the time-limit test's first attempt
TRACE_FIELDS = ("id", "question", "answers", "framework", "model", "steps", "prediction", "correct", "n_steps")


def cluster_answers() -> bool:
    if not shutil.which("sbatch") or not shutil.which("sacct"):
        return False
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return ping.returncode == 0 and "UP" in ping.stdout


# Opt-in (cluster/test-slurm.sh sets it): a cluster left up must not add 20 minutes to a plain `pytest`.
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(os.environ.get("STEPER_SLURM_TEST") != "1", reason="live-Slurm test: run cluster/test-slurm.sh"),
    pytest.mark.skipif(not cluster_answers(), reason="no Slurm cluster answers (start one: sudo bash cluster/slurm-up.sh)"),
]


@dataclass
class SlurmJob:
    job_id: str
    rule: str
    wildcards: str
    state: str
    cpus: int
    mem_mb: int
    time_limit_min: int
    gpus: int
    start: datetime
    end: datetime


def tool_env() -> dict[str, str]:
    """The test's environment with this interpreter's bin first: Slurm jobs inherit it (--export=ALL)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def start_snakemake(args: list[str], log: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=ROOT, env=tool_env(), stdout=out, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, log: Path) -> None:
    assert process.wait() == 0, f"{' '.join(process.args)} failed; see {log}"


def snakemake(args: list[str], log: Path) -> None:
    finish(start_snakemake(args, log), log)


def now() -> str:
    return datetime.now().strftime("%Y-%m-%dT%H:%M:%S")


def parse_minutes(limit: str) -> int:
    """Slurm's [D-]HH:MM:SS time limit in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, minutes, seconds = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + minutes + (seconds > 0)


def parse_mem_mb(req_mem: str) -> int:
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?)n?c?", req_mem).groups()
    return round(float(number) * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2, "": 1}[unit])


def parse_gpus(alloc_tres: str) -> int:
    match = re.search(r"gres/gpu=(\d+)", alloc_tres)
    return int(match.group(1)) if match else 0


def sacct_jobs(since: str, until: str) -> list[SlurmJob]:
    """The Snakemake rule jobs Slurm accounted between two times, in submission order."""
    fields = "JobID,Comment,State,AllocCPUS,ReqMem,Timelimit,AllocTRES,Start,End"
    out = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-S", since, "-E", until, "-o", fields],
        capture_output=True, text=True, check=True,
    ).stdout
    jobs = []
    for row in csv.reader(io.StringIO(out), delimiter="|"):
        job_id, comment, state, cpus, req_mem, limit, tres, start, end = row
        if not comment.startswith("rule_"):
            continue
        rule, _, wildcards = comment[len("rule_"):].partition("_wildcards_")
        jobs.append(
            SlurmJob(
                job_id, rule, wildcards, state.split()[0], int(cpus), parse_mem_mb(req_mem), parse_minutes(limit),
                parse_gpus(tres), datetime.fromisoformat(start), datetime.fromisoformat(end),
            )
        )
    return sorted(jobs, key=lambda job: int(job.job_id))


def merged_config(configfiles: list[str]) -> dict:
    """The configfiles merged as Snakemake merges them (later files win, key by key)."""

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        return out

    config: dict = {}
    for name in configfiles:
        config = merge(config, yaml.safe_load((ROOT / name).read_text()))
    return config


def planned_jobs(configfiles: list[str], log: Path, *extra: str) -> dict[str, int]:
    """Jobs per rule that a run from scratch executes, from Snakemake's dry-run job table."""
    snakemake(["-n", "--forceall", "--quiet", "rules", "--configfile", *configfiles, *extra], log)
    counts = {}
    for line in log.read_text().splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) not in {"total", "all"}:
            counts[match.group(1)] = int(match.group(2))
    return counts


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def untimed(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if "seconds" not in key}


def is_metrics_file(path: Path) -> bool:
    """`<system>.json`, not the side files (`.settings.json`, `.predictions.jsonl.summary.json`, ...)."""
    return ".jsonl." not in path.name and not path.name.endswith(".settings.json")


def trace_content(path: Path) -> list[dict]:
    """A trace file without its timings, by question id."""
    return sorted(({key: line[key] for key in TRACE_FIELDS} for line in read_jsonl(path)), key=lambda t: t["id"])


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """The smoke DAG locally and through Slurm (same configfiles, two run names), and Slurm's records."""
    logs = tmp_path_factory.mktemp("slurm-smoke")
    config = merged_config(SMOKE)
    local_run = f"{config['run']}-local"
    for run in (config["run"], local_run):
        shutil.rmtree(ROOT / "results" / run, ignore_errors=True)
        shutil.rmtree(ROOT / "logs" / run, ignore_errors=True)
    planned = planned_jobs(SMOKE, logs / "dry-run.log")
    # The local reference runs while the Slurm run waits on the scheduler.
    local_process = start_snakemake(["--cores", "2", "--configfile", *SMOKE, "--config", f"run={local_run}"], logs / "local.log")
    since = now()
    try:
        snakemake(["--profile", "profiles/slurm", "--configfile", *SMOKE, *SITE], logs / "slurm.log")
    except BaseException:
        local_process.terminate()
        raise
    jobs = sacct_jobs(since, now())
    finish(local_process, logs / "local.log")
    # Rules marked `localrule` run inside the Snakemake process even with an executor.
    local = set(re.findall(r"^localrule (\w+):", (logs / "slurm.log").read_text(), flags=re.M))
    return {
        "config": config, "planned": planned, "local": local, "jobs": jobs,
        "slurm_dir": ROOT / "results" / config["run"], "local_dir": ROOT / "results" / local_run,
    }


def test_every_rule_runs_as_a_slurm_job(smoke_runs):
    ran: dict[str, int] = {}
    for job in smoke_runs["jobs"]:
        assert job.state == "COMPLETED", job
        ran[job.rule] = ran.get(job.rule, 0) + 1
    expected = {rule: n for rule, n in smoke_runs["planned"].items() if rule not in smoke_runs["local"]}
    assert ran == expected, f"run inside Snakemake (localrule): {sorted(smoke_runs['local'])}"


def expected_resources(rule: str, wildcards: str, config: dict) -> tuple[int, int, int, int]:
    """(CPUs, memory MB, time limit minutes, GPUs) that the config asks for this rule's job."""
    teachers = {spec["teacher"] for spec in config["students"].values()}
    section = SECTION_OF_RULE.get(rule)
    if rule == "evaluate_baseline":
        model = wildcards.split("_")[-1]  # wildcards: baseline_dataset_model
        section = "teacher" if model in teachers else "evaluation"
    if section is None:
        threads = 2 if rule == "index" else 1
        return threads, DEFAULT_RESOURCES["mem_mb"], DEFAULT_RESOURCES["runtime"], 0
    res = config[section]["resources"]
    return res["threads"], res["mem_mb"], res["runtime"], res.get("gpus", 0)


def test_resources_as_slurm_sees_them_match_the_config(smoke_runs):
    config = smoke_runs["config"]
    for job in smoke_runs["jobs"]:
        seen = (job.cpus, job.mem_mb, job.time_limit_min, job.gpus)
        assert seen == expected_resources(job.rule, job.wildcards, config), f"{job.rule} {job.wildcards} (job {job.job_id})"
    assert any(job.gpus for job in smoke_runs["jobs"]), "the overlay asks for GPUs: some job must hold one"


def test_outputs_equal_the_local_run(smoke_runs):
    slurm, local = smoke_runs["slurm_dir"], smoke_runs["local_dir"]
    traces = sorted(p.relative_to(slurm) for p in (slurm / "traces").rglob("*.jsonl") if ".shards" not in str(p))
    assert traces
    for path in traces:
        assert trace_content(slurm / path) == trace_content(local / path), path
    for path in sorted(p.relative_to(slurm) for p in (slurm / "stepwise").rglob("*.jsonl")):
        assert read_jsonl(slurm / path) == read_jsonl(local / path), path
    metrics = sorted(p.relative_to(slurm) for p in (slurm / "eval").rglob("*.json") if is_metrics_file(p))
    assert metrics
    for path in metrics:
        ours, theirs = (json.loads((root / path).read_text()) for root in (slurm, local))
        assert (untimed(ours["metrics"]), ours["per_question"]) == (untimed(theirs["metrics"]), theirs["per_question"]), path
    for path in sorted(p.relative_to(slurm) for p in (slurm / "eval").rglob("*.predictions.jsonl")):
        assert trace_content(slurm / path) == trace_content(local / path), path


def test_teacher_shards_run_as_parallel_jobs_and_are_merged(smoke_runs):
    shards = [job for job in smoke_runs["jobs"] if job.rule == "teacher_shard"]
    n = smoke_runs["config"]["teacher"]["shards"]
    by_trace: dict[str, list[SlurmJob]] = {}
    for job in shards:  # wildcards: framework_dataset_model_split_shard_n
        by_trace.setdefault(job.wildcards.rsplit("_", 2)[0], []).append(job)
    assert by_trace and all(len(group) == n for group in by_trace.values())
    # Slurm starts them in submission order as CPUs free up; on a small node a shard may share the
    # node with another trace file's shard rather than its sibling.
    assert any(a.start < b.end and b.start < a.end for i, a in enumerate(shards) for b in shards[i + 1 :]), "no two shard jobs ran at once"
    slurm = smoke_runs["slurm_dir"]
    imported = {slurm / "traces" / i["framework"] / i["dataset"] / i["teacher"] / "train.jsonl" for i in smoke_runs["config"]["teacher"].get("imports", [])}
    for merged in (p for p in (slurm / "traces").rglob("*.jsonl") if ".shards" not in str(p) and p not in imported):
        parts = sorted(merged.with_suffix(".shards").glob(f"*-of-{n}.jsonl"))
        assert len(parts) == n
        ids = [line["id"] for part in parts for line in read_jsonl(part)]
        assert sorted(ids) == sorted(line["id"] for line in read_jsonl(merged)) and len(ids) == len(set(ids))


def test_a_job_killed_at_its_time_limit_is_retried_and_resumes(tmp_path_factory):
    """The teacher job gets 2 minutes on its first attempt (Slurm kills it), its configured time on the retry."""
    logs = tmp_path_factory.mktemp("slurm-timeout")
    config = merged_config(TIMEOUT)
    run = config["run"]
    target = "traces/ircot/hotpotqa/tiny/train.jsonl"
    shutil.rmtree(ROOT / "results" / run, ignore_errors=True)
    shutil.rmtree(ROOT / "logs" / run, ignore_errors=True)
    limit = config["teacher"]["resources"]["runtime"]
    since = now()
    snakemake(
        ["--profile", "profiles/slurm", "--configfile", *TIMEOUT, *SITE,
         "--set-resources", f"teacher_shard:runtime={FIRST_LIMIT} if attempt == 1 else {limit}", "--", f"results/{run}/{target}"],
        logs / "slurm.log",
    )
    teacher = [job for job in sacct_jobs(since, now()) if job.rule == "teacher_shard"]
    assert [(job.state, job.time_limit_min) for job in teacher] == [("TIMEOUT", FIRST_LIMIT), ("COMPLETED", limit)]
    assert "Trying to restart job" in (logs / "slurm.log").read_text()
    shard_log = ROOT / "logs" / run / "teacher/ircot/hotpotqa/tiny/train.0-of-1.log"
    resumed = re.findall(r"(\d+) questions, (\d+) already done", shard_log.read_text())
    assert resumed and int(resumed[-1][1]) > 0, "the retry started from scratch"
    ids = [line["id"] for line in read_jsonl(ROOT / "results" / run / target)]
    records = [line["id"] for line in read_jsonl(ROOT / "results" / run / "data/hotpotqa/train.jsonl")]
    assert sorted(ids) == sorted(records) and len(ids) == len(set(ids))


def test_the_preflight_submits_one_gpu_job_through_the_profile(tmp_path):
    """`steper preflight run --only slurm`: the profile submits the probe job with one GPU, and the job
    reports what Slurm gave it. The GPUs of slurm-up.sh are /dev/null clones, so torch in the job sees
    none and the component fails for that reason alone; on a GPU cluster it passes."""
    since = now()
    result = subprocess.run(
        [sys.executable, "-m", "steper.cli", "preflight", "run", "--only", "slurm", "--workdir", str(tmp_path),
         "--slurm-args", " ".join(SITE)],
        cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=1200,
    )
    report = {r["component"]: r for r in json.loads((tmp_path / "preflight.json").read_text())["results"]}
    (probe,) = [job for job in sacct_jobs(since, now()) if job.rule == "gpu_probe"]
    assert (probe.state, probe.gpus) == ("COMPLETED", 1)
    assert result.returncode == 1 and report["slurm"]["status"] == "FAIL", result.stdout
    assert report["slurm"]["detail"].startswith(
        f"profiles/slurm submitted one job asking for 1 GPU: Slurm job {probe.job_id} on "
    ), report["slurm"]["detail"]
    assert re.search(rf" \(partition {PARTITION}\), GPU ids from Slurm: \d+; torch \S+ sees no CUDA device in the job$", report["slurm"]["detail"])
