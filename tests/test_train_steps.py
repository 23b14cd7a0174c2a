"""The budget-matched control (`methods.<name>.match_steps_of`): the step count is the Trainer's own,
a matched method trains on its own data for the other method's steps, and the workflow plans it
as its own training job reading the other method's step-wise data."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from test_workflow import snakemake, write_config
from torch import nn
from transformers import Trainer, TrainingArguments

from steper.io import InputError
from steper.models.tiny import RandomModelSettings, build_random_model
from steper.train.settings import parse_train_settings
from steper.train.steps import optimizer_steps
from steper.train.trainer import matched_steps, train

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "distill" / "corpus.jsonl"
STEPER = {"data": "first-mid-final", "loss": "difficulty_aware"}
CPU = {"deepspeed": None, "gradient_checkpointing": False, "log_every": 1, "dtype": "float32", "lr": 1e-3}


class _Scalar(nn.Module):
    """The smallest model the Trainer can step: one weight, a loss from the batch."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return {"loss": ((self.w - x) ** 2).mean()}


@pytest.mark.parametrize(
    ("n", "batch", "accum", "epochs"),
    [(1, 4, 1, 2), (8, 4, 1, 2), (9, 4, 1, 2), (13, 3, 2, 1), (13, 3, 3, 2), (10, 1, 4, 1.5), (7, 2, 3, 0.4), (151, 4, 1, 2), (50, 4, 1, 2)],
)
def test_optimizer_steps_are_the_trainers(n, batch, accum, epochs, tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=batch, gradient_accumulation_steps=accum,
                             num_train_epochs=epochs, use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no",
                             disable_tqdm=True, dataloader_drop_last=False)
    trainer = Trainer(model=_Scalar(), args=args, train_dataset=[{"x": torch.tensor([float(i)])} for i in range(n)],
                      data_collator=lambda rows: {"x": torch.stack([row["x"] for row in rows])})
    trainer.train()
    assert trainer.state.global_step == optimizer_steps(n, batch, accum, 1, epochs)


def test_optimizer_steps_split_batches_over_processes():
    assert optimizer_steps(151, 4, 1, 1, 2) == 76  # the demo's StepER: 38 batches per epoch
    assert optimizer_steps(50, 4, 1, 1, 2) == 26  # its Vanilla-KD
    assert optimizer_steps(24, 2, 1, 2, 2) == 12  # 12 batches, 6 per process
    assert optimizer_steps(26, 2, 1, 2, 1) == 7  # 13 batches: the last round is padded to both processes
    with pytest.raises(ValueError):
        optimizer_steps(0, 4, 1, 1, 2)


def _examples(n_questions: int, kinds=("first", "mid", "final")) -> list[dict]:
    examples = []
    for i in range(n_questions):
        context = f"Q: Where was the author of book {i} born?\nA:"
        for kind in kinds:
            examples.append({"id": f"q{i}", "kind": kind, "step": 1, "prompt": context, "completion": f" {kind} step {i}.",
                             "context": context, "continuation": ""})
    return examples


def _write(path: Path, examples: list[dict]) -> Path:
    path.write_text("".join(json.dumps(example) + "\n" for example in examples), encoding="utf-8")
    return path


def _matched(**training):
    return parse_train_settings({"method": {"data": "final", "loss": "vanilla", "match_steps_of": STEPER},
                                 "training": {"batch_size": 4, "epochs": 2, **CPU, **training}})


def test_matched_steps_count_the_other_methods_examples(tmp_path):
    stepwise = _write(tmp_path / "first-mid-final.jsonl", _examples(10))  # 30 examples of StepER's kinds
    assert matched_steps(_matched(), stepwise, processes=1) == optimizer_steps(30, 4, 1, 1, 2) == 16
    assert matched_steps(_matched(grad_accum=2), stepwise, processes=1) == 8
    assert matched_steps(_matched(max_steps=5), stepwise, processes=1) == 5  # a cap applies to both methods alike
    vanilla_of_vanilla = parse_train_settings({"method": {"data": "final", "loss": "uniform",
                                                          "match_steps_of": {"data": "first-mid-final", "loss": "vanilla"}},
                                               "training": {"batch_size": 4, **CPU}})
    assert matched_steps(vanilla_of_vanilla, stepwise, processes=1) == optimizer_steps(10, 4, 1, 1, 2)  # Vanilla-KD counts final steps only
    assert matched_steps(parse_train_settings({"method": STEPER}), None, processes=1) is None
    with pytest.raises(InputError, match="--match-data"):
        matched_steps(_matched(), None, processes=1)


def test_matched_training_takes_the_other_methods_steps_and_records_its_tokens(tmp_path):
    model_dir = tmp_path / "student"
    build_random_model([CORPUS], model_dir, RandomModelSettings(hidden_size=32, intermediate_size=64, vocab_size=512))
    final = _write(tmp_path / "final.jsonl", _examples(6, kinds=("final",)))
    stepwise = _write(tmp_path / "first-mid-final.jsonl", _examples(6))
    own = train(final, model_dir, tmp_path / "vanilla", parse_train_settings({"method": {"data": "final", "loss": "vanilla"},
                                                                             "training": {"batch_size": 4, "epochs": 2, **CPU}}))
    matched = train(final, model_dir, tmp_path / "matched", _matched(), match_data=stepwise)
    assert (own["steps"], matched["steps"]) == (4, optimizer_steps(18, 4, 1, 1, 2)) == (4, 10)
    assert matched["matched_to"] == STEPER and own["matched_to"] is None
    records = [json.loads(line) for line in (tmp_path / "matched" / "train_log.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 10
    # 10 steps of batches of 4 over 6 examples: 40 examples seen, at 1 + 2 + 1 completion tokens (" final step i." + EOS)
    assert set(matched["supervised_tokens"]) == {"final"} and matched["supervised_tokens"]["final"] > 2 * own["supervised_tokens"]["final"]


def _dry_run(tmp_path: Path, edit) -> subprocess.CompletedProcess:
    """`snakemake -n` of the smoke tier with `edit` applied to its config (test_workflow's helpers)."""
    return snakemake("-n", "--configfile", str(write_config(tmp_path, "smoke.yaml", edit)), cwd=tmp_path)


def test_workflow_trains_the_matched_method_on_its_own_data_with_the_others_size(tmp_path):
    def add_matched(config):
        config["methods"]["vanilla_kd_matched"] = {"data": "final", "loss": "vanilla", "label": "Vanilla-KD (matched steps)",
                                                   "match_steps_of": "steper"}
        config["experiments"][0]["methods"].append("vanilla_kd_matched")

    result = _dry_run(tmp_path, add_matched)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = re.findall(r"rule train:.*?(?=\n\n)", result.stdout, re.S)
    matched = next(job for job in jobs if re.search(r"output: \S+/ircot/hotpotqa/tiny/vanilla_kd_matched/", job))
    plain = next(job for job in jobs if re.search(r"output: \S+/ircot/hotpotqa/tiny/vanilla_kd/", job))
    assert re.search(r"--data \S+/stepwise/ircot/hotpotqa/\S+/final\.jsonl --model \S+ --match-data \S+/first-mid-final\.jsonl ", matched), matched
    assert '"match_steps_of": {"data": "first-mid-final", "loss": "difficulty_aware"}' in matched
    assert "--match-data" not in plain and '"match_steps_of": null' in plain


@pytest.mark.parametrize("target", ["steper_typo", "vanilla_kd_matched"])
def test_a_bad_match_reference_stops_the_run(tmp_path, target):
    def add_matched(config):
        config["methods"]["vanilla_kd_matched"] = {"data": "final", "loss": "vanilla", "match_steps_of": target}

    result = _dry_run(tmp_path, add_matched)
    assert result.returncode != 0 and "methods.vanilla_kd_matched.match_steps_of" in result.stderr + result.stdout, result.stdout[-2000:]


def test_demo_has_the_budget_matched_control_in_table1():
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    matched = config["methods"]["vanilla_kd_matched"]
    assert (matched["data"], matched["loss"], matched["match_steps_of"]) == ("final", "vanilla", "steper")
    table1 = next(grid for grid in config["experiments"] if grid["name"] == "table1")
    assert {"vanilla_kd", "steper", "vanilla_kd_matched"} <= set(table1["methods"])
