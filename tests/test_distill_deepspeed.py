"""`steper train run` with DeepSpeed ZeRO-3 on CPU: re-launch under torchrun, train 2 steps, save."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from steper.models.tiny import RandomModelSettings, build_random_model

pytest.importorskip("deepspeed")


def test_zero3_cli_trains_and_saves_a_loadable_student(tmp_path):
    model_dir = tmp_path / "student"
    corpus = Path(__file__).parent / "fixtures" / "distill" / "corpus.jsonl"
    build_random_model([corpus], model_dir, RandomModelSettings(hidden_size=32, intermediate_size=64, vocab_size=512))
    data = tmp_path / "first-mid-final.jsonl"
    lines = []
    for i in range(4):
        for kind, completion in (("first", " Tamsin Everhart wrote it."), ("mid", " She was born in Brackenford."),
                                 ("final", " So the answer is: Brackenford.")):
            context = f"Q: Where was the author of book {i} born?\nA:"
            lines.append({"id": f"q{i}", "kind": kind, "step": 1, "prompt": context, "completion": completion,
                          "context": context, "continuation": ""})
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
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
