"""The Slurm component: the profile (profiles/slurm) submits one job that asks for a GPU the way the
GPU rules ask (the `gpu` resource, which the executor turns into `--gpus`), and the job reports the
Slurm job id, the GPUs Slurm gave it and how many CUDA devices torch sees in it.

It runs where Snakemake will run the grid: on a login node, `steper preflight run --only slurm`.
Inside a job allocation the probe job may wait for the allocation's own GPUs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from steper.preflight.worker import MARK
from steper.strict_yaml import load_file

PLACEHOLDER_ACCOUNT = "your-account"  # profiles/slurm/config.yaml until a site edits it
TIMEOUT = 900  # seconds: queueing included
SNAKEFILE = """\
rule gpu_probe:
    output:
        "probe.out",
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=15,
    shell:
        "{python} -m steper.preflight.worker probe . 1 > {{output}}"
"""


@dataclass
class SlurmOptions:
    profile: Path = Path("profiles/slurm")
    args: list[str] = field(default_factory=list)  # the site's settings, as on the grid's command line


def _unset_account(options: SlurmOptions) -> bool:
    """The profile still names the placeholder account and the command line sets none."""
    config = load_file(options.profile / "config.yaml")  # a repeated key is an error, not the last one silently
    account = (config.get("default-resources") or {}).get("slurm_account")
    return account == PLACEHOLDER_ACCOUNT and not any(arg.startswith("slurm_account=") for arg in options.args)


def _controller_answers() -> bool:
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return ping.returncode == 0 and "UP" in ping.stdout


def slurm_probe(workdir: Path, options: SlurmOptions, env: dict[str, str]) -> tuple[str, str]:
    if not shutil.which("sbatch"):
        return "SKIP", "not on a Slurm cluster (no sbatch on PATH)"
    if not _controller_answers():
        return "SKIP", "no Slurm controller answers (scontrol ping)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "FAIL", "the Snakemake SLURM executor is not installed: pip install -e '.[cluster]' -c cluster/gpu-constraints.txt"
    if not (options.profile / "config.yaml").is_file():
        return "FAIL", f"no profile at {options.profile}/config.yaml: run from the steper checkout or pass --profile"
    if _unset_account(options):
        return "FAIL", (f"{options.profile}/config.yaml still names slurm_account '{PLACEHOLDER_ACCOUNT}': set your site's account and "
                        "partition there, or pass them: --slurm-args '--default-resources slurm_account=... slurm_partition=... mem_mb=16000 runtime=120'")
    directory = workdir / "slurm"
    directory.mkdir(parents=True, exist_ok=True)
    snakefile = directory / "Snakefile"
    snakefile.write_text(SNAKEFILE.format(python=sys.executable))
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake if snakemake.exists() else "snakemake"), "--snakefile", str(snakefile), "--directory", str(directory),
               "--profile", str(options.profile.resolve()), "--jobs", "1", "--retries", "0", *options.args]
    log = workdir / "slurm.log"
    code = _run_snakemake(command, log, env)
    if code is None:
        return "FAIL", f"the job did not finish in {TIMEOUT} s (still queued? squeue --me); see {log}"
    if code != 0:
        return "FAIL", f"snakemake --profile {options.profile} exited with code {code}; see {log} and {directory}/.snakemake/slurm_logs"
    lines = [line for line in (directory / "probe.out").read_text().splitlines() if line.startswith(MARK)]
    if not lines:
        return "FAIL", f"the job wrote no result; see {directory}/probe.out"
    result = json.loads(lines[-1][len(MARK):])
    return result["status"], f"{options.profile} submitted one job asking for 1 GPU: {result['detail']}"


def _run_snakemake(command: list[str], log: Path, env: dict[str, str]) -> int | None:
    """Snakemake's exit code; None when it ran past `TIMEOUT` and was interrupted (SIGINT first, so
    that it cancels its Slurm job rather than leave it queued)."""
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        while process.poll() is None:
            if time.monotonic() - start > TIMEOUT:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                return None
            time.sleep(1)
    return process.returncode
