"""The training components: `steper train run` as the `train` rule calls it (torchrun and DeepSpeed
ZeRO-3 over the node's GPUs when the settings ask for them), once straight through and once
killed with SIGKILL after its first complete checkpoint and run again.

The killed run is compared with the one that ran straight through: it must resume from the latest
complete checkpoint the kill left (not from step 0), end at the same step and remove its
checkpoints. Its per-step losses are held to `LOSS_TOLERANCE` of the other run's, a loose bound:
bf16 kernels on GPUs are not bitwise reproducible. The exact comparison of a resumed run with an
uninterrupted one (fp32 on CPU) is in the test suite; this one says the resume holds on the node.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steper import layout
from steper.preflight.processes import kill_group, kill_tree

STEPS = 8
CHECKPOINT = {"every_steps": 1, "every_minutes": None, "keep": 1}
MARKER = "steper_checkpoint.json"  # what steper.train.checkpoints writes last into a complete checkpoint
LOSS_TOLERANCE = 0.05  # relative, per step
TIMEOUT = 600  # seconds, one training run


@dataclass
class TrainRun:
    output: Path
    log: Path
    code: int | None  # None: killed (by the preflight or its timeout)
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        path = self.output / layout.SETTINGS_FILE
        return json.loads(path.read_text())["summary"] if path.is_file() else {}

    def losses(self) -> dict[int, float]:
        path = self.output / "train_log.jsonl"
        if not path.is_file():
            return {}
        return {record["step"]: record["loss"] for record in map(json.loads, path.read_text().splitlines())}


def train_settings(gpus: int, deepspeed: bool) -> dict[str, Any]:
    """The paper tier's method and training choices (StepER's loss, ZeRO-3, gradient checkpointing,
    dtype auto = bf16 on GPUs) at a size that trains in seconds, with a checkpoint every few steps."""
    return {
        "method": {"data": "first-mid-final", "loss": "difficulty_aware"},
        "training": {
            "deepspeed": "zero3" if deepspeed else None, "gpus": gpus, "max_steps": STEPS, "batch_size": 2, "grad_accum": 1,
            "lr": 1.0e-4, "sigma_lr": 1.0e-2, "max_length": 256, "gradient_checkpointing": True, "dtype": "auto", "log_every": 1,
            "checkpoint": CHECKPOINT,
        },
        "student": {"chat_template": False, "dtype": "bfloat16"},
    }


def train_command(workdir: Path, output: Path, settings: dict[str, Any], threads: int) -> list[str]:
    """The `train` rule's command (workflow/rules/train.smk), with this environment's Python."""
    return [
        sys.executable, "-m", "steper.cli", "train", "run", "--threads", str(threads), "--data", str(workdir / "examples.jsonl"),
        "--model", str(workdir / "model"), "--output", str(output), "--settings", json.dumps(settings),
    ]


def complete_checkpoints(output: Path) -> list[int]:
    root = Path(layout.checkpoints_dir(str(output)))
    if not root.is_dir():
        return []
    return sorted(int(path.name.split("-")[1]) for path in root.glob("checkpoint-*") if (path / MARKER).is_file())


def run_train(command: list[str], output: Path, log: Path, env: dict[str, str], kill_at_checkpoint: bool = False) -> TrainRun:
    """Run the training in its own process group; SIGKILL it with every process it started once a
    complete checkpoint is on disk when `kill_at_checkpoint`, or after `TIMEOUT` seconds."""
    start = time.monotonic()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        killed = False
        while process.poll() is None:
            if time.monotonic() - start > TIMEOUT or (kill_at_checkpoint and complete_checkpoints(output)):
                kill_tree(process.pid)
                process.wait()
                killed = True
                break
            time.sleep(0.05)
        kill_group(process.pid)  # what torchrun left behind must not hold GPUs into the next component
    return TrainRun(output, log, None if killed else process.returncode, time.monotonic() - start)


def check_finished(run: TrainRun, what: str) -> str | None:
    """Why a training run is not a finished student, or None."""
    if run.code is None:
        return f"{what}: killed after {TIMEOUT} s; see {run.log}"
    if run.code != 0:
        return f"{what}: exit code {run.code}; see {run.log}"
    if not (run.output / "config.json").is_file():
        return f"{what}: no model in {run.output}"
    steps = sorted(run.losses())
    if steps != list(range(1, STEPS + 1)):
        return f"{what}: train_log.jsonl has steps {steps}, expected 1..{STEPS}"
    if Path(layout.checkpoints_dir(str(run.output))).exists():
        return f"{what}: its checkpoints were not removed after the final model"
    return None


def describe(run: TrainRun, settings: dict[str, Any]) -> str:
    training = settings["training"]
    processes = max(1, training["gpus"])
    how = f"{processes} process(es) under torchrun, DeepSpeed ZeRO-3" if training["deepspeed"] else f"{processes} process, no DeepSpeed"
    return f"{how}, {run.summary.get('compute_dtype')}, {STEPS} steps in {run.seconds:.0f} s"


def straight(workdir: Path, gpus: int, deepspeed: bool, threads: int, env: dict[str, str]) -> tuple[str, str, TrainRun]:
    """One training run start to finish: (status, detail, run)."""
    settings = train_settings(gpus, deepspeed)
    output = workdir / "train" / "straight"
    run = run_train(train_command(workdir, output, settings, threads), output, workdir / "train-straight.log", env)
    problem = check_finished(run, "training")
    return ("FAIL", problem, run) if problem else ("PASS", describe(run, settings), run)


def killed_and_resumed(workdir: Path, gpus: int, deepspeed: bool, threads: int, env: dict[str, str], reference: TrainRun) -> tuple[str, str]:
    """The same training killed at its first complete checkpoint, run again, and held to `reference`."""
    settings = train_settings(gpus, deepspeed)
    output = workdir / "train" / "resumed"
    command = train_command(workdir, output, settings, threads)
    log = workdir / "train-resumed.log"
    first = run_train(command, output, log, env, kill_at_checkpoint=True)
    if first.code is not None:
        return "FAIL", f"the run ended (exit code {first.code}) before a complete checkpoint was seen; see {log}"
    left = complete_checkpoints(output)
    if not left:
        return "FAIL", f"killed, but no complete checkpoint was left; see {log}"
    second = run_train(command, output, log, env)
    if problem := check_finished(second, "rerun"):
        return "FAIL", problem
    resumed = second.summary.get("resumed_from_step")
    if resumed != left[-1]:
        return "FAIL", f"the rerun resumed from step {resumed}, not from the complete checkpoint at step {left[-1]}; see {log}"
    ours, theirs = second.losses(), reference.losses()
    gap = max(abs(ours[step] - theirs[step]) / max(abs(theirs[step]), 1e-12) for step in theirs)
    where = f"killed (SIGKILL) at step {left[-1]}'s checkpoint, resumed from it, {STEPS} steps; per-step loss within {gap:.1e} of the uninterrupted run"
    if gap > LOSS_TOLERANCE:
        return "FAIL", f"{where}, over the {LOSS_TOLERANCE} allowed"
    return "PASS", where
