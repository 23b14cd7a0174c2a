"""`steper train run` with DeepSpeed ZeRO-3 on CPU: re-launch under torchrun, train, save; and two
processes killed mid-epoch resume to the weights of an uninterrupted run.

Skipped without DeepSpeed (the default test environment); CI installs it into the pinned-stack
environment with `DS_BUILD_OPS=0 pip install deepspeed==0.19.8` (nothing compiled at install).
"""

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from steper import layout
from steper.models.tiny import RandomModelSettings, build_random_model
from steper.train.checkpoints import MARKER
from steper.train.steps import optimizer_steps

pytest.importorskip("deepspeed")


def _job(root: Path, n_questions: int) -> tuple[Path, Path]:
    model_dir, data = root / "base", root / "first-mid-final.jsonl"
    corpus = Path(__file__).parent / "fixtures" / "distill" / "corpus.jsonl"
    build_random_model([corpus], model_dir, RandomModelSettings(hidden_size=32, intermediate_size=64, vocab_size=512))
    lines = []
    for i in range(n_questions):
        for kind, completion in (("first", " Tamsin Everhart wrote it."), ("mid", " She was born in Brackenford."),
                                 ("final", " So the answer is: Brackenford.")):
            context = f"Q: Where was the author of book {i} born?\nA:"
            lines.append({"id": f"q{i}", "kind": kind, "step": 1, "prompt": context, "completion": completion,
                          "context": context, "continuation": ""})
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return model_dir, data


def test_zero3_cli_trains_and_saves_a_loadable_student(tmp_path):
    model_dir, data = _job(tmp_path, n_questions=4)
    out = tmp_path / "out"
    # fp32 compute saved as bf16 (student.dtype's default), as on CPUs without native bf16: the saved
    # weights' dtype then differs from the parameters' dtype under ZeRO-3, and config.json must follow the weights.
    settings = {"method": {"data": "first-mid-final", "loss": "difficulty_aware"},
                "training": {"deepspeed": "zero3", "dtype": "float32", "max_steps": 2, "batch_size": 6, "lr": 1e-3, "sigma_lr": 0.1,
                             "gradient_checkpointing": False, "log_every": 1}}
    result = subprocess.run(
        [sys.executable, "-m", "steper.cli", "train", "run", "--data", str(data), "--model", str(model_dir),
         "--output", str(out), "--settings", json.dumps(settings)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert records[1]["sigma"]["first"] != 1.0
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    student = AutoModelForCausalLM.from_pretrained(out)
    assert student.dtype == torch.bfloat16
    assert json.loads((out / "steper_settings.json").read_text())["settings"]["training"]["deepspeed"] == "zero3"


def test_zero3_two_processes_killed_mid_epoch_resume_to_the_same_weights(tmp_path):
    model_dir, data = _job(tmp_path, n_questions=8)  # 24 examples, batch 2, 2 processes: 6 steps per epoch
    settings = {"method": {"data": "first-mid-final", "loss": "difficulty_aware"},
                "training": {"deepspeed": "zero3", "gpus": 2, "dtype": "float32", "epochs": 2, "batch_size": 2, "lr": 1e-3,
                             "sigma_lr": 0.05, "gradient_checkpointing": False, "log_every": 1,
                             "checkpoint": {"every_steps": None, "every_minutes": None}},
                "student": {"dtype": "float32"}}

    def command(output, every_steps=None):
        run = json.loads(json.dumps(settings))
        run["training"]["checkpoint"]["every_steps"] = every_steps
        return [sys.executable, "-m", "steper.cli", "train", "run", "--data", str(data), "--model", str(model_dir),
                "--output", str(output), "--threads", "1", "--settings", json.dumps(run)]

    reference = tmp_path / "reference"
    result = subprocess.run(command(reference), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((reference / "steper_settings.json").read_text())["summary"]
    assert summary["steps"] == optimizer_steps(24, 2, 1, 2, 2) == 12

    output = tmp_path / "student"
    checkpoints = Path(layout.checkpoints_dir(str(output)))
    process = subprocess.Popen(command(output, every_steps=2), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # torchrun's workers run in sessions of their own: a node failure is every process of the tree killed at once
    tree = []
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
            if (checkpoints / "checkpoint-8" / MARKER).exists():  # step 8 of 12: in the second epoch
                for member in tree:
                    with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):  # a short-lived child may be gone
                        member.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        process.wait(timeout=60)
    finally:
        for member in tree:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                member.send_signal(signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL and not output.exists()
    psutil.wait_procs(tree, timeout=60)
    assert list((checkpoints / "checkpoint-8").glob("global_step8/*")), "DeepSpeed's sharded states are in the checkpoint"

    resumed = subprocess.run(command(output, every_steps=2), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((output / "steper_settings.json").read_text())["summary"]
    assert summary["resumed_from_step"] >= 8 and summary["steps"] == 12
    expected, actual = load_file(reference / "model.safetensors"), load_file(output / "model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert bool((expected[name] == actual[name]).all()), name
    records = [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]
    reference_records = [json.loads(line) for line in (reference / "train_log.jsonl").read_text().splitlines()]
    assert [r["sigma"] for r in records] == [r["sigma"] for r in reference_records]
    assert not checkpoints.exists()
