"""Student training on a tiny random Llama: loss goes down, logs, outputs, methods, batching."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from steper import layout
from steper.cli import main
from steper.io import InputError
from steper.models.precision import resolve_dtype_name
from steper.models.tiny import RandomModelSettings, build_random_model
from steper.train.batching import Features, KindMixingSampler, collate, encode_example, mixed_batches
from steper.train.checkpoints import MARKER
from steper.train.launch import deepspeed_config, launch_command, needs_launch, resolve_deepspeed
from steper.train.losses import DifficultyAwareWeighting, ObjectiveScale, UniformWeighting
from steper.train.settings import parse_train_settings
from steper.train.trainer import (
    StepwiseModel,
    StepwiseTrainer,
    compute_dtype,
    encode_all,
    end_process_group,
    load_examples,
    matched_steps,
    objective_scale,
    remove_stale_staging,
    set_threads,
    train,
    training_arguments,
)

CORPUS = Path(__file__).parent / "fixtures" / "distill" / "corpus.jsonl"
# The schema's training defaults are the paper's GPU recipe (ZeRO-3, checkpointing, a log line every 10 steps).
CPU = {"deepspeed": None, "gradient_checkpointing": False, "log_every": 1}
STEPER = {"data": "first-mid-final", "loss": "difficulty_aware"}
COMPLETIONS = {
    "first": " The Hollow Orchard is a novel by Tamsin Everhart.",
    "mid": " Tamsin Everhart was born in Brackenford.",
    "final": " So the answer is: Brackenford.",
}


def tiny_student(directory):
    """The smoke tier's random Llama (tokenizer trained on the fixture corpus), made smaller."""
    build_random_model([CORPUS], directory, RandomModelSettings(hidden_size=32, intermediate_size=64, vocab_size=512))
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_student(tmp_path_factory.mktemp("models") / "student")


def _examples(n_per_kind=6):
    examples = []
    for i in range(n_per_kind):
        for kind in ("first", "mid", "final"):
            context = f"Wikipedia Title: Tamsin Everhart\nTamsin Everhart was born in Brackenford.\n\nQ: Where {i}?\nA:"
            continuation = "" if kind == "first" else " The Hollow Orchard is a novel by Tamsin Everhart."
            examples.append({"id": f"q{i}", "kind": kind, "step": 1, "prompt": context + continuation,
                             "completion": COMPLETIONS[kind], "context": context, "continuation": continuation})
    return examples


@pytest.fixture()
def data_path(tmp_path):
    path = tmp_path / "first-mid-final.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in _examples()), encoding="utf-8")
    return path


def _settings(loss, **training):
    base = {"lr": 3e-3, "epochs": 2, "batch_size": 6, "dtype": "float32", "warmup_ratio": 0.0, "sigma_lr": 0.05, **CPU}
    return parse_train_settings({"method": {"data": "first-mid-final", "loss": loss}, "training": {**base, **training}})


def _toy_loss(model_path, examples):
    """Mean over examples of their completions' mean token CE, under the model at `model_path`."""
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    student = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    kinds = ("first", "mid", "final")
    features = [encode_example(tokenizer, e, kinds.index(e["kind"]), 256, False, eos=True) for e in examples]
    # factor E/(K n) = B: each kind's term is the sum of its examples' losses, the total their sum
    model = StepwiseModel(student, UniformWeighting(), ObjectiveScale(len(features), 1, 1))
    with torch.no_grad():
        return model(**collate(features, tokenizer.pad_token_id))["loss"].item() / len(features)


def test_training_reduces_loss_and_logs_per_kind(model_dir, data_path, tmp_path):
    out = tmp_path / "student"
    # kind-mixed batches (no length grouping): every batch carries every kind, so every sigma sees its loss each step
    summary = train(data_path, model_dir, out, _settings("difficulty_aware", group_by_length=False, sigma_init=1.5), threads=1)
    assert summary["steps"] == 6 and summary["examples"] == {"first": 6, "mid": 6, "final": 6}
    assert (summary["traces"], summary["objective_factor"], summary["threads"]) == (6, 18 / (3 * 6), 1)
    assert summary["compute_dtype"] == "float32"
    assert (summary["data"], summary["model"], summary["kinds"], summary["matched_to"]) == (str(data_path), str(model_dir), ["first", "mid", "final"], None)
    assert _toy_loss(out, _examples()) < _toy_loss(model_dir, _examples()) - 0.5
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 7))
    # the budget: 2 epochs over every example's completion tokens (EOS included), counted per kind
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    per_epoch = {kind: 0 for kind in ("first", "mid", "final")}
    for example in _examples():
        per_epoch[example["kind"]] += encode_example(tokenizer, example, 0, 1024, False, eos=True).n_completion
    assert summary["supervised_tokens"] == records[-1]["supervised_tokens"] == {kind: 2 * n for kind, n in per_epoch.items()}
    totals = [sum(r["supervised_tokens"].values()) for r in records]
    assert 0 < totals[0] < totals[-1] and totals == sorted(totals)  # cumulative, logged at every step
    for record in records:
        assert {"step", "epoch", "lr", "loss", "kind_losses", "kind_terms", "sigma", "weights"} <= set(record)
        assert set(record["kind_losses"]) == set(record["sigma"]) == set(record["weights"]) == {"first", "mid", "final"}
    assert records[-1]["kind_losses"]["final"] < records[0]["kind_losses"]["final"]
    # sigma starts at sigma_init, and Adam's first step moves each log sigma^2 by sigma_lr (0.05), not the student's lr
    assert all(abs(math.log(s**2) - math.log(1.5**2)) == pytest.approx(0.05, abs=1e-3) for s in records[0]["sigma"].values())
    assert all(s > 1.0 for s in records[-1]["sigma"].values())
    assert summary["sigma"] == pytest.approx(records[-1]["sigma"]) and summary["weights"] == pytest.approx(records[-1]["weights"])
    assert summary["train_runtime"] > 0
    assert records[-1]["weights"]["first"] == pytest.approx(0.5 / records[-1]["sigma"]["first"] ** 2, rel=1e-4)
    saved = json.loads((out / "steper_settings.json").read_text())
    assert saved["settings"]["method"]["loss"] == "difficulty_aware" and saved["summary"]["steps"] == 6
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    assert reloaded.dtype == torch.bfloat16 and reloaded.config.use_cache
    assert not list(out.parent.glob(".student.*"))


def test_vanilla_trains_on_final_steps_only(model_dir, data_path, tmp_path):
    out = tmp_path / "vanilla"
    summary = train(data_path, model_dir, out, _settings("vanilla", max_steps=2, dtype="bfloat16", gradient_checkpointing=True))
    assert summary["examples"] == {"final": 6} and summary["sigma"] is None and summary["compute_dtype"] == "bfloat16"
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert all(set(r["kind_losses"]) == {"final"} for r in records)
    assert all(r["loss"] == pytest.approx(r["kind_losses"]["final"], rel=1e-4) for r in records)


def test_fixed_weights_log_the_weighted_sum(model_dir, data_path, tmp_path):
    settings = parse_train_settings({"method": {"data": "first-mid-final", "loss": "fixed", "weights": {"first": 1.5, "mid": 1.0, "final": 0.5}},
                                     "training": {"max_steps": 1, "batch_size": 18, "dtype": "float32", **CPU}})
    out = tmp_path / "fixed"
    train(data_path, model_dir, out, settings)
    record = json.loads((out / "train_log.jsonl").read_text().splitlines()[0])
    terms, losses = record["kind_terms"], record["kind_losses"]
    assert record["loss"] == pytest.approx(1.5 * terms["first"] + terms["mid"] + 0.5 * terms["final"], rel=1e-4)
    # the whole data in one batch: L_j = 1/(3n) * sum of kind j's example losses = (6 / 18) * mean loss of kind j
    for kind in terms:
        assert terms[kind] == pytest.approx(losses[kind] * 6 / 18, rel=1e-4)


def test_warmup_is_a_ratio_of_the_optimizer_steps(model_dir, data_path, tmp_path):
    """warmup_ratio 1: the lr rises over all 4 steps (transformers 5 reads warmup_steps=1.0 as one step)."""
    out = tmp_path / "warm"
    train(data_path, model_dir, out, _settings("difficulty_aware", max_steps=4, warmup_ratio=1.0, lr=1e-3))
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == pytest.approx([0.0, 2.5e-4, 5e-4, 7.5e-4])


def test_the_last_step_is_logged_whatever_log_every(model_dir, data_path, tmp_path):
    """The report reads a method's budget (steps, supervised tokens) from its log's last line. (Without checkpoints.)"""
    out = tmp_path / "odd"
    no_checkpoints = {"every_steps": None, "every_minutes": None}
    summary = train(data_path, model_dir, out, _settings("vanilla", max_steps=3, log_every=2, checkpoint=no_checkpoints))
    assert not Path(layout.checkpoints_dir(str(out))).exists() and summary["resumed_from_step"] is None
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[-1]["supervised_tokens"] == summary["supervised_tokens"]


def test_weight_decay_never_reaches_sigma(model_dir, tmp_path):
    settings = _settings("difficulty_aware", weight_decay=0.5, lr=0.1, sigma_lr=0.1)
    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    weighting = DifficultyAwareWeighting(sigma_init=2.0)
    model = StepwiseModel(student, weighting, ObjectiveScale(3, 1, 3))
    trainer = StepwiseTrainer(model=model, args=training_arguments(settings, tmp_path, "float32"), train_dataset=[],
                              sampler=None, sigma_lr=settings.training.sigma_lr, log_path=None)
    optimizer = trainer.create_optimizer()
    decayed = next(p for n, p in model.named_parameters() if n in set(trainer.get_decay_parameter_names(model)))
    before_sigma, before_decayed = weighting.log_var.detach().clone(), decayed.detach().clone()
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)  # Adam moves nothing: only decoupled weight decay could
    optimizer.step()
    assert torch.equal(weighting.log_var.detach(), before_sigma)
    assert torch.allclose(decayed.detach(), before_decayed * (1 - 0.1 * 0.5))  # the student's weights do decay


def test_sampler_epoch_can_be_set():
    """A run resumed in its second epoch must draw that epoch's permutation, not the first's."""
    kinds, lengths = [0] * 10 + [1] * 10, list(range(20))
    fresh = KindMixingSampler(kinds, lengths, 4, seed=0, group_by_length=True)
    first, second = list(fresh), list(fresh)
    resumed = KindMixingSampler(kinds, lengths, 4, seed=0, group_by_length=True)
    resumed.set_epoch(1)
    assert list(resumed) == second != first


def test_encode_masks_prompt_appends_eos_and_truncates_prompt_left(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    example = _examples(1)[2]
    full = encode_example(tokenizer, example, 2, 1024, False, eos=True)
    completion = tokenizer(example["completion"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    n_prompt = len(full.input_ids) - len(completion)
    assert full.labels == [-100] * n_prompt + completion
    assert full.input_ids[-len(completion):] == completion
    short = encode_example(tokenizer, example, 2, len(completion) + 5, False, eos=True)
    assert len(short.input_ids) == len(completion) + 5
    assert short.input_ids[-len(completion) - 4:] == full.input_ids[-len(completion) - 4:]
    assert short.labels[-len(completion):] == completion and short.n_completion == len(completion)


@pytest.mark.parametrize("eos", [None, "every_step", "final_step"])
def test_eos_ends_every_completion_by_default_and_only_the_final_steps_under_final_step(model_dir, eos):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    method = {"data": "first-mid-final", "loss": "difficulty_aware"} | ({"eos": eos} if eos else {})
    settings = parse_train_settings({"method": method, "training": {"dtype": "float32", **CPU}})
    examples = _examples(2)
    features = encode_all(tokenizer, examples, ("first", "mid", "final"), settings)
    ends = {(e["kind"], f.labels[-1] == tokenizer.eos_token_id) for e, f in zip(examples, features)}
    assert ends == ({("first", False), ("mid", False), ("final", True)} if eos == "final_step" else {(k, True) for k in ("first", "mid", "final")})
    without = encode_example(tokenizer, examples[0], 0, 1024, False, eos=False)
    assert without.labels[-without.n_completion:] == tokenizer(examples[0]["completion"], add_special_tokens=False)["input_ids"]


def test_chat_template_prompt_is_rendered_without_extra_special_tokens(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    example = _examples(1)[1]
    features = encode_example(tokenizer, example, 1, 1024, True, eos=True)
    n_prompt = features.labels.count(-100)
    text = tokenizer.decode(features.input_ids[:n_prompt])
    assert text == f"<|im_start|>user\n{example['context']}<|im_end|>\n<|im_start|>assistant\n{example['continuation']}"
    assert features.input_ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")


def _features(tokenizer, examples):
    return [encode_example(tokenizer, e, ("first", "mid", "final").index(e["kind"]), 256, False, eos=True) for e in examples]


def test_left_padded_gathered_head_matches_unpadded_forward(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    features = _features(tokenizer, _examples(2))
    features[0] = Features(features[0].input_ids[5:], features[0].labels[5:], features[0].kind)  # uneven lengths
    model = StepwiseModel(student, UniformWeighting(), ObjectiveScale(len(features), 2, 3))
    per_kind: dict[str, list[float]] = {}
    with torch.no_grad():
        batched = model(**collate(features, tokenizer.pad_token_id))["kind_losses"]
        for f in features:
            logits = student(input_ids=torch.tensor([f.input_ids])).logits[0, :-1]
            labels = torch.tensor(f.labels[1:])
            mask = labels != -100
            example = F.cross_entropy(logits[mask], labels[mask]).item()  # full head, unpadded
            per_kind.setdefault(("first", "mid", "final")[f.kind], []).append(example)
    assert set(batched) == set(per_kind)
    for kind, values in per_kind.items():
        assert batched[kind] == pytest.approx(sum(values) / len(values), rel=1e-4)


def test_lm_head_sees_only_completion_tokens(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    features = _features(tokenizer, _examples(2))
    rows = []
    student.get_output_embeddings().register_forward_hook(lambda module, args, output: rows.append(args[0].shape[0]))
    model = StepwiseModel(student, DifficultyAwareWeighting(), ObjectiveScale(len(features), 2, 3))
    model(**collate(features, tokenizer.pad_token_id))["loss"].backward()
    assert rows == [sum(f.n_completion for f in features)]
    assert all(len(f.input_ids) > f.n_completion for f in features)  # the prompts were there and skipped


def test_objective_scale_counts_traces_by_id():
    examples = [{"id": "a"}, {"id": "a"}, {"id": "a"}, {"id": "b"}, {"id": "b"}]
    assert objective_scale(examples, ("first", "mid", "final")) == ObjectiveScale(5, 2, 3)


def test_sigma_lr_reaches_the_weighting_group(model_dir, tmp_path):
    settings = _settings("difficulty_aware", sigma_lr=0.025)
    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    weighting = DifficultyAwareWeighting()
    model = StepwiseModel(student, weighting, ObjectiveScale(3, 1, 3))
    trainer = StepwiseTrainer(model=model, args=training_arguments(settings, tmp_path, "float32"), train_dataset=[],
                              sampler=None, sigma_lr=settings.training.sigma_lr, log_path=None)
    groups = trainer.create_optimizer().param_groups
    sigma_groups = [g for g in groups if any(p is weighting.log_var for p in g["params"])]
    assert len(sigma_groups) == 1 and sigma_groups[0]["lr"] == 0.025 and len(sigma_groups[0]["params"]) == 1
    student_groups = [g for g in groups if g is not sigma_groups[0]]
    assert {g["lr"] for g in student_groups} == {3e-3}
    assert sum(len(g["params"]) for g in student_groups) == len(list(student.parameters()))


def test_batches_mix_kinds_and_length_grouping_pads_less():
    kinds = [0] * 30 + [1] * 20 + [2] * 10
    lengths = [10 + (i * 37) % 500 for i in range(60)]
    for group in (False, True):
        batches = mixed_batches(kinds, lengths, 6, seed=3, group_by_length=group)
        assert sorted(i for b in batches for i in b) == list(range(60))
    assert all({kinds[i] for i in b} == {0, 1, 2} for b in mixed_batches(kinds, lengths, 6, 3, False))
    # with grouping, each batch holds neighbours in length: 60 examples, window 32 batches -> one sorted window
    grouped = mixed_batches(kinds, lengths, 6, 3, True)
    assert all(max(lengths[i] for i in b) - min(lengths[i] for i in b) <= 100 for b in grouped)
    padded = {g: sum(len(b) * max(lengths[i] for i in b) for b in mixed_batches(kinds, lengths, 6, 3, g)) for g in (False, True)}
    assert padded[True] < padded[False]
    sampler = KindMixingSampler(kinds, lengths, 6, seed=0, group_by_length=True)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(60)) and first != second


def test_partial_batch_stays_last():
    kinds = [0] * 7 + [2] * 6
    batches = mixed_batches(kinds, list(range(13)), 4, seed=1, group_by_length=True)
    assert [len(b) for b in batches] == [4, 4, 4, 1]


def test_collate_left_pads_with_real_positions():
    batch = collate([Features([5, 6, 7], [-100, 6, 7], 0), Features([8], [8], 2)], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [-100, -100, 8]]
    assert batch["kind_ids"].tolist() == [0, 2]


def test_settings_errors_name_the_field(data_path):
    with pytest.raises(InputError, match="batchsize"):
        parse_train_settings({"method": STEPER, "training": {"batchsize": 4}})
    with pytest.raises(InputError, match="method.weights"):
        parse_train_settings({"method": {"data": "first-mid-final", "loss": "fixed"}})
    with pytest.raises(InputError, match="method.data"):
        parse_train_settings({"method": {"data": "mid", "loss": "uniform"}})
    with pytest.raises(InputError, match="field 'eos' 'final' is not one of every_step, final_step"):
        parse_train_settings({"method": {**STEPER, "eos": "final"}})
    with pytest.raises(InputError, match="field 'loss'"):
        parse_train_settings({"method": {"data": "final"}})
    with pytest.raises(InputError, match="field 'method'"):
        parse_train_settings(None)
    with pytest.raises(InputError, match="training.dtype"):
        parse_train_settings({"method": STEPER, "training": {"dtype": "bf16"}})
    with pytest.raises(InputError, match="gpus"):
        parse_train_settings({"method": STEPER, "training": {"gpus": -1}})
    with pytest.raises(InputError, match="training.sigma_init"):
        parse_train_settings({"method": STEPER, "training": {"sigma_init": 0}})
    with pytest.raises(InputError, match="every_step"):
        parse_train_settings({"method": STEPER, "training": {"checkpoint": {"every_step": 5}}})
    with pytest.raises(InputError, match="training.checkpoint.keep"):
        parse_train_settings({"method": STEPER, "training": {"checkpoint": {"keep": 0}}})
    with pytest.raises(InputError, match="method.match_steps_of"):
        parse_train_settings({"method": {"data": "final", "loss": "vanilla", "match_steps_of": {"data": "final"}}})
    defaults = parse_train_settings({"method": STEPER}).training
    assert (defaults.dtype, defaults.lr, defaults.deepspeed, defaults.gpus, defaults.processes) == ("auto", 5e-6, "zero3", 0, 1)
    assert [e["kind"] for e in load_examples(data_path, ("final",))] == ["final"] * 6


def test_launch_command_and_deepspeed_config():
    command = launch_command(["--data", "d.jsonl", "--settings", "{}"], 4, python="/py")
    assert command == ["/py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4",
                       "-m", "steper.cli", "train", "run", "--data", "d.jsonl", "--settings", "{}"]
    assert needs_launch(4, False, {}) and needs_launch(1, True, {})
    assert not needs_launch(4, True, {"LOCAL_RANK": "0"}) and not needs_launch(1, False, {})
    config = resolve_deepspeed("zero3")
    assert config == deepspeed_config(3)
    assert config["zero_optimization"]["stage"] == 3 and config["bf16"]["enabled"] == config["fp16"]["enabled"] == "auto"
    assert config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert "optimizer" not in config and "scheduler" not in config
    assert resolve_deepspeed(None) is None
    with pytest.raises(InputError, match="training.deepspeed"):
        resolve_deepspeed("zero-three")


def test_two_processes_end_their_process_group_and_exit_cleanly(tmp_path):
    # Left to interpreter exit, gloo aborts a process (SIGABRT) in most runs after training succeeded.
    script = tmp_path / "job.py"
    script.write_text(
        "import torch, torch.distributed as dist\n"
        "from steper.train.trainer import end_process_group\n"
        "dist.init_process_group('gloo')\n"
        "total = torch.ones(1)\n"
        "dist.all_reduce(total)\n"
        "end_process_group()\n"
        "assert total.item() == 2 and not dist.is_initialized()\n"
    )
    for _ in range(3):
        run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
    end_process_group()  # one process, no group: nothing to end


def test_cli_rejects_bad_settings_before_training(data_path, model_dir, tmp_path, capsys):
    out = tmp_path / "never"
    code = main(["train", "run", "--data", str(data_path), "--model", str(model_dir), "--output", str(out),
                 "--settings", json.dumps({"method": STEPER, "training": {"lr": 1e-3, "warmup": 0.1}})])
    assert code == 2 and "field 'warmup'" in capsys.readouterr().err
    assert not out.exists()


def test_bad_example_names_line_and_field(tmp_path):
    path = tmp_path / "bad.jsonl"
    good, bad = _examples(1)[:2]
    bad = {**bad, "prompt": "something else"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_examples(path, ("first", "mid", "final"))
    assert (error.value.line, error.value.field) == (2, "prompt")


def _write(path, examples):
    path.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    return path


def test_each_bad_example_is_one_error_naming_its_line_and_field(tmp_path):
    first, mid, final = _examples(1)
    cases = [
        ({k: v for k, v in mid.items() if k != "context"}, "field 'context' is missing"),
        ({**mid, "kind": "middle"}, "field 'kind' unknown kind 'middle' (known: first, mid, final)"),
        ({**mid, "completion": ""}, "field 'completion' must be a non-empty string"),
        ({**mid, "completion": ["x"]}, "field 'completion' must be a non-empty string"),
        ({**mid, "prompt": "something else"}, "field 'prompt' must equal context + continuation"),
    ]
    for bad, message in cases:
        path = _write(tmp_path / "bad.jsonl", [first, bad])
        with pytest.raises(InputError) as error:
            load_examples(path, ("first", "mid", "final"))
        assert str(error.value) == f"{path}, line 2: {message}"
    path = _write(tmp_path / "mixed.jsonl", [first, mid, final])
    assert load_examples(path, ("first", "final")) == [first, final]  # other kinds are left out, in file order
    with pytest.raises(InputError) as error:
        load_examples(_write(tmp_path / "no_final.jsonl", [first, mid]), ("final",))
    assert str(error.value) == f"{tmp_path / 'no_final.jsonl'}: no examples of kinds final"


def test_a_matched_method_takes_the_steps_of_the_others_data(tmp_path):
    data = _write(tmp_path / "final.jsonl", [e for e in _examples(5) if e["kind"] == "final"])
    matched = {"data": "final", "loss": "vanilla", "match_steps_of": {"data": "first-mid-final", "loss": "difficulty_aware"}}
    other = _write(tmp_path / "fmf.jsonl", _examples(5))  # 15 examples of the method it is matched to

    def steps(match_data, processes=1, **training):
        settings = parse_train_settings({"method": matched, "training": {"batch_size": 4, "epochs": 2, **CPU, **training}})
        return matched_steps(settings, match_data, processes)

    assert steps(other) == 2 * 4  # ceil(15 / 4) batches per epoch, not the 2 of its own 5 examples
    assert steps(other, processes=2) == 2 * 2 and steps(other, grad_accum=2) == 2 * 2
    assert steps(other, max_steps=3) == 3
    assert matched_steps(_settings("vanilla"), data, 1) is None  # a method matched to none takes its own steps
    with pytest.raises(InputError) as error:
        steps(None)
    assert str(error.value) == "--match-data: required: method.match_steps_of names a method whose step-wise data it counts"


def test_only_this_outputs_staging_directories_are_removed(tmp_path):
    output = tmp_path / "student"
    stale = [tmp_path / ".student.abcd1234.tmp", tmp_path / ".student.abcd1234.old"]
    kept = [tmp_path / ".student.abc.tmp", tmp_path / ".students.abcd1234.tmp", tmp_path / ".student.abcd1234.tmpx", tmp_path / "student"]
    for path in stale + kept:
        path.mkdir()
        (path / "f").write_text("x")
    (tmp_path / ".student.efgh5678.tmp.file").write_text("x")
    remove_stale_staging(output)
    assert [path.exists() for path in stale] == [False, False] and all(path.exists() for path in kept)
    remove_stale_staging(tmp_path / "missing" / "student")  # no parent: nothing to do


def test_threads_cap_torch_and_the_tokenizer(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.delenv("RAYON_NUM_THREADS", raising=False)
    try:
        set_threads(None)
        assert torch.get_num_threads() == before and "RAYON_NUM_THREADS" not in os.environ
        set_threads(1)
        assert (torch.get_num_threads(), os.environ["TOKENIZERS_PARALLELISM"], os.environ["RAYON_NUM_THREADS"]) == (1, "false", "1")
        set_threads(2)
        assert (torch.get_num_threads(), os.environ["TOKENIZERS_PARALLELISM"], os.environ["RAYON_NUM_THREADS"]) == (2, "true", "2")
    finally:
        torch.set_num_threads(before)


def test_compute_dtype_is_the_setting_or_auto_for_this_device():
    assert compute_dtype(_settings("uniform", dtype="float32")) == "float32"
    assert compute_dtype(_settings("uniform", dtype="bfloat16")) == "bfloat16"
    assert compute_dtype(_settings("uniform", dtype="auto")) == resolve_dtype_name("auto", "cuda" if torch.cuda.is_available() else "cpu")


def test_a_logged_step_averages_its_accumulated_batches(model_dir, data_path, tmp_path):
    """Three accumulated batches of six (two examples of each kind) per step: each logged kind loss
    is the mean over the step's batches, each term L_j their mean (1/3 of the kind's mean loss here)."""
    settings = parse_train_settings({"method": {"data": "first-mid-final", "loss": "fixed", "weights": {"first": 1.5, "mid": 1.0, "final": 0.5}},
                                     "training": {"max_steps": 2, "batch_size": 6, "grad_accum": 3, "dtype": "float32",
                                                  "group_by_length": False, **CPU}})
    out = tmp_path / "accumulated"
    train(data_path, model_dir, out, settings)
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    for record in records:
        terms, losses = record["kind_terms"], record["kind_losses"]
        assert record["loss"] == pytest.approx(1.5 * terms["first"] + terms["mid"] + 0.5 * terms["final"], rel=1e-4)
        for kind in terms:
            assert terms[kind] == pytest.approx(losses[kind] / 3, rel=1e-4)
        assert 1.0 < losses["final"] < 20.0  # a mean token cross-entropy, not a sum over the batches


def test_checkpoints_in_process_mark_their_budget_and_a_rerun_resumes_from_the_latest(model_dir, data_path, tmp_path):
    """What the subprocess tests of test_train_checkpoint show end to end, in this process: a checkpoint
    holds the log so far and its supervised tokens; a second run of the same job resumes from it."""
    settings = _settings("difficulty_aware", max_steps=4, checkpoint={"every_steps": 2, "keep": 2, "keep_after_finish": True})
    out = tmp_path / "student"
    first = train(data_path, model_dir, out, settings)
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    root = Path(layout.checkpoints_dir(str(out)))
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-2"]  # never at the last step
    marker = json.loads((root / "checkpoint-2" / MARKER).read_text())
    assert marker["supervised_tokens"] == records[1]["supervised_tokens"] and marker["step"] == 2
    assert [json.loads(line)["step"] for line in (root / "checkpoint-2" / "train_log.jsonl").read_text().splitlines()] == [1, 2]
    shutil.rmtree(out)
    second = train(data_path, model_dir, out, settings)
    assert (second["resumed_from_step"], second["steps"], first["resumed_from_step"]) == (2, 4, None)
    assert second["supervised_tokens"] == first["supervised_tokens"]
    assert [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3, 4]


# --- in-process pins of what the multi-process / GPU paths read (the subprocess tests run those) ---


def _trainer(model_dir, tmp_path, settings=None, weighting=None, sampler=None, log_path=None, **kwargs):
    """A StepwiseTrainer around the tiny student, as `train` builds it (no data: the tests drive it directly)."""
    settings = settings or _settings("difficulty_aware")
    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    weighting = weighting or DifficultyAwareWeighting()
    model = StepwiseModel(student, weighting, ObjectiveScale(6, 2, 3))
    return StepwiseTrainer(model=model, args=training_arguments(settings, tmp_path / "trainer", "float32"), train_dataset=[],
                           sampler=sampler, sigma_lr=settings.training.sigma_lr, log_path=log_path, **kwargs)


def test_training_arguments_carry_every_setting(tmp_path):
    settings = _settings("uniform", lr=1e-4, epochs=3, batch_size=2, grad_accum=3, weight_decay=0.1, max_grad_norm=0.5,
                         seed=7, log_every=5)
    args = training_arguments(settings, tmp_path / "out", "float32")
    assert (args.output_dir, args.learning_rate, args.num_train_epochs, args.max_steps) == (str(tmp_path / "out"), 1e-4, 3, -1)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps, args.weight_decay, args.max_grad_norm) == (2, 3, 0.1, 0.5)
    assert (args.lr_scheduler_type, args.warmup_steps) == ("cosine", 0)
    assert (args.logging_steps, args.logging_first_step, args.save_strategy) == (5, True, "no")
    assert (args.seed, args.data_seed) == (7, 7)
    assert (args.bf16, args.fp16, args.deepspeed) == (False, False, None)
    # the batches carry kind_ids, which the student's forward does not name; the last partial batch trains too
    assert (args.remove_unused_columns, args.dataloader_drop_last, args.ddp_find_unused_parameters) == (False, False, False)
    assert training_arguments(settings, tmp_path, "float32", max_steps=4).max_steps == 4
    capped = _settings("uniform", max_steps=9)
    assert training_arguments(capped, tmp_path, "float32").max_steps == 9
    assert training_arguments(capped, tmp_path, "float32", max_steps=4).max_steps == 4  # a matched method's steps win
    bf16, fp16 = training_arguments(settings, tmp_path, "bfloat16"), training_arguments(settings, tmp_path, "float16")
    assert (bf16.bf16, bf16.fp16, fp16.bf16, fp16.fp16) == (True, False, False, True)


def test_deepspeed_arguments_take_the_zero3_config_with_bf16_resolved(tmp_path):
    pytest.importorskip("deepspeed")  # TrainingArguments reads a DeepSpeed config only with DeepSpeed installed (the gpu extra)
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled, unset_hf_deepspeed_config

    settings = _settings("uniform", deepspeed="zero3")
    try:
        args = training_arguments(settings, tmp_path, "bfloat16")
        assert args.deepspeed == resolve_deepspeed("zero3")
        assert is_deepspeed_zero3_enabled()  # what makes from_pretrained partition the weights while loading
        resolved = args.hf_deepspeed_config.config
        assert resolved["bf16"]["enabled"] is True and resolved["fp16"]["enabled"] is False  # "auto" follows bf16
    finally:
        unset_hf_deepspeed_config()
    assert not is_deepspeed_zero3_enabled()


def test_collate_gives_long_tensors():
    batch = collate([Features([5, 6, 7], [-100, 6, 7], 0), Features([8], [8], 2)], pad_id=0)
    assert {name: tensor.dtype for name, tensor in batch.items()} == dict.fromkeys(batch, torch.long)


def _bos_tokenizer(model_dir):
    """The tiny tokenizer made to start every text with BOS, as Llama's does."""
    from tokenizers import processors

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    bos = tokenizer.bos_token
    tokenizer.backend_tokenizer.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tokenizer.bos_token_id)]),
    ])
    return tokenizer


def test_truncation_keeps_a_leading_bos_and_the_completion_never_gets_one(model_dir):
    plain, with_bos = AutoTokenizer.from_pretrained(model_dir), _bos_tokenizer(model_dir)
    example = _examples(1)[2]
    bos, eos = with_bos.bos_token_id, with_bos.eos_token_id
    completion = plain(example["completion"], add_special_tokens=False)["input_ids"] + [eos]
    prompt = with_bos(example["prompt"])["input_ids"]
    assert prompt[0] == bos and prompt[1:] == plain(example["prompt"])["input_ids"]
    full = encode_example(with_bos, example, 2, 1024, False, eos=True)
    assert full.input_ids == prompt + completion and full.labels == [-100] * len(prompt) + completion
    # room for the prompt: BOS, then its last tokens
    for room in (2, 3, 6):
        short = encode_example(with_bos, example, 2, len(completion) + room, False, eos=True)
        assert short.input_ids == [bos] + prompt[len(prompt) - room + 1:] + completion
    # room for one prompt token: the last one, not BOS
    assert encode_example(with_bos, example, 2, len(completion) + 1, False, eos=True).input_ids == prompt[-1:] + completion
    # without BOS the cut keeps exactly the prompt's last tokens
    plain_prompt = plain(example["prompt"])["input_ids"]
    short = encode_example(plain, example, 2, len(completion) + 3, False, eos=True)
    assert short.input_ids == plain_prompt[-3:] + completion
    # a completion longer than max_length keeps its first max_length - 1 tokens and one prompt token
    tiny = encode_example(with_bos, example, 2, 4, False, eos=True)
    assert tiny.input_ids == prompt[-1:] + completion[:3] and tiny.labels == [-100] + completion[:3]


def test_a_tokenizer_without_eos_is_refused(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="^the student tokenizer has no EOS token$"):
        encode_example(tokenizer, _examples(1)[0], 0, 64, False, eos=True)


def test_length_grouping_sorts_each_window_of_batches_and_nothing_crosses_windows():
    """The examples of each window of `window` batches (kinds in proportion) are that window's, cut in length order."""
    n, batch_size = 150, 2
    kinds = [i % 3 for i in range(n)]
    lengths = [(i * 7919) % 1000 for i in range(n)]  # distinct
    order = [i for b in mixed_batches(kinds, lengths, batch_size, 5, False) for i in b]  # the ungrouped (key) order
    for window in (32, 3):
        span = batch_size * window
        expected = []
        for start in range(0, n, span):
            ranked = sorted(order[start:start + span], key=lambda i: lengths[i])
            expected += [sorted(ranked[k:k + batch_size]) for k in range(0, len(ranked), batch_size)]
        grouped = mixed_batches(kinds, lengths, batch_size, 5, True) if window == 32 else mixed_batches(kinds, lengths, batch_size, 5, True, window)
        assert sorted(sorted(b) for b in grouped) == sorted(expected)


def test_each_pass_of_the_sampler_is_the_next_epochs_batches():
    kinds, lengths = [0] * 9 + [1] * 6 + [2] * 5, [(i * 13) % 17 for i in range(20)]
    sampler = KindMixingSampler(kinds, lengths, 4, seed=10, group_by_length=True)
    for epoch in range(3):
        assert list(sampler) == [i for b in mixed_batches(kinds, lengths, 4, 10 + epoch, True) for i in b]
    sampler.set_epoch(6)
    assert list(sampler) == [i for b in mixed_batches(kinds, lengths, 4, 16, True) for i in b]
    assert sampler.epoch == 7


def test_load_and_encode_log_what_they_left_out_and_cut(tmp_path, model_dir, caplog):
    import logging

    path = _write(tmp_path / "mixed.jsonl", _examples(2))
    with caplog.at_level(logging.INFO, logger="steper.train.trainer"):
        examples = load_examples(path, ("final",))
    assert f"{path}: left out {{'first': 2, 'mid': 2}} (method trains on final)" in caplog.messages
    with pytest.raises(InputError) as error:
        load_examples(_write(tmp_path / "first.jsonl", _examples(1)[:1]), ("mid", "final"))
    assert str(error.value).endswith("no examples of kinds mid, final")
    from steper.train.trainer import encode_all

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="steper.train.trainer"):
        features = encode_all(tokenizer, examples, ("final",), _settings("vanilla", max_length=20))
    assert [len(f.input_ids) for f in features] == [20, 20]
    assert "2 of 2 examples reach max_length=20 (prompt cut on the left)" in caplog.messages


def test_a_student_whose_logits_go_beyond_the_head_is_refused(model_dir):
    for attribute in ("final_logit_softcapping", "logit_scale"):
        student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        setattr(student.config, attribute, 30.0)
        with pytest.raises(ValueError, match=f"^{type(student).__name__} transforms its logits beyond the LM head"):
            StepwiseModel(student, UniformWeighting(), ObjectiveScale(3, 1, 3))


def test_checkpoint_store_identity_and_when_there_is_one(model_dir, data_path, tmp_path):
    from steper.train.checkpoints import directory_digest, file_digest
    from steper.train.settings import checkpoint_identity
    from steper.train.trainer import checkpoint_store

    out = tmp_path / "student"
    off = _settings("uniform", checkpoint={"every_steps": None, "every_minutes": None})
    assert checkpoint_store(off, data_path, model_dir, out, None, 1) is None
    on = _settings("uniform", checkpoint={"every_steps": 2, "keep": 3})
    store = checkpoint_store(on, data_path, model_dir, out, 5, 2)
    assert (store.root, store.keep) == (Path(layout.checkpoints_dir(str(out))), 3)
    assert store.identity == {"settings": checkpoint_identity(on), "max_steps": 5, "processes": 2,
                              "data": file_digest(data_path), "model": directory_digest(model_dir)}
    store.root.mkdir(parents=True)  # a killed run left checkpoints: a rerun with checkpoints off still resumes them
    assert checkpoint_store(off, data_path, model_dir, out, None, 1) is not None


def test_the_trainer_uses_its_sampler_no_warmup_by_default_and_a_given_optimizer(model_dir, tmp_path):
    from steper.train.trainer import _SamplerEpoch

    sampler = KindMixingSampler([0, 1, 2], [3, 2, 1], 3, seed=0, group_by_length=False)
    trainer = _trainer(model_dir, tmp_path, sampler=sampler)
    assert trainer._get_train_sampler() is sampler
    assert [c.sampler for c in trainer.callback_handler.callbacks if isinstance(c, _SamplerEpoch)] == [sampler]
    assert not any(isinstance(c, _SamplerEpoch) for c in _trainer(model_dir, tmp_path).callback_handler.callbacks)
    optimizer = trainer.create_optimizer()
    scheduler = trainer.create_scheduler(10)
    assert scheduler.get_last_lr()[0] == pytest.approx(3e-3)  # warm-up ratio 0: the full lr from the first step
    assert trainer._created_lr_scheduler  # the Trainer rebuilds a schedule it created when train() runs again
    other = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    fresh = _trainer(model_dir, tmp_path)
    assert fresh.create_scheduler(10, optimizer=other).optimizer is other and optimizer is not other


def test_the_optimizer_groups_decay_and_a_given_model(model_dir, tmp_path):
    settings = _settings("difficulty_aware", weight_decay=0.1)
    trainer = _trainer(model_dir, tmp_path, settings)
    groups = trainer.create_optimizer().param_groups
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0, 0.0]
    other = _trainer(model_dir, tmp_path, settings).model
    given = _trainer(model_dir, tmp_path, settings)
    ids = {id(p) for g in given.create_optimizer(other).param_groups for p in g["params"]}
    assert ids == {id(p) for p in other.parameters()}


def test_compute_loss_counts_completion_tokens_and_returns_outputs(model_dir, tmp_path):
    trainer = _trainer(model_dir, tmp_path)
    model = trainer.model.train()
    # the longest row's prompt is one token: its first label is at position 1
    batch = collate([Features([9, 10, 11, 12], [-100, 10, 11, 12], 2), Features([5, 6, 7], [-100, -100, 7], 0)], pad_id=0)
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    assert loss is outputs["loss"] and set(outputs) == {"loss", "kind_losses", "kind_terms"}
    assert trainer._tokens.tolist() == [1, 0, 3]
    assert torch.equal(trainer.compute_loss(model, batch), loss)


def test_log_puts_kind_losses_and_sigmas_in_the_console_dict_and_the_record(model_dir, tmp_path):
    weighting = DifficultyAwareWeighting(sigma_init=1.23456789)
    log_path = tmp_path / "train_log.jsonl"
    trainer = _trainer(model_dir, tmp_path, weighting=weighting, log_path=log_path)
    model = trainer.model.train()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    batch = collate(_features(tokenizer, _examples(2)), tokenizer.pad_token_id)
    outputs = trainer.compute_loss(model, batch, return_outputs=True)[1]
    trainer.log({"loss": 2.5, "grad_norm": 0.75, "learning_rate": 1e-3})
    console = trainer.state.log_history[-1]
    sigmas = weighting.sigmas()
    for kind in ("first", "mid", "final"):
        assert console[f"loss_{kind}"] == round(outputs["kind_losses"][kind], 6)
        assert console[f"sigma_{kind}"] == round(sigmas[kind], 6) != round(sigmas[kind], 7)
    record = json.loads(log_path.read_text(encoding="utf-8"))
    assert (record["step"], record["lr"], record["loss"], record["grad_norm"]) == (0, 1e-3, 2.5, 0.75)
    assert record["kind_losses"] == pytest.approx(outputs["kind_losses"])
    assert record["kind_terms"] == pytest.approx(outputs["kind_terms"])
    assert record["sigma"] == pytest.approx(sigmas) and record["weights"] == pytest.approx(weighting.effective_weights())
    assert record["supervised_tokens"] == {kind: sum(f.n_completion for f, e in zip(_features(tokenizer, _examples(2)), _examples(2))
                                                     if e["kind"] == kind) for kind in ("first", "mid", "final")}
    # a step without batches (nothing accumulated) and no log file: the console line only
    quiet = _trainer(model_dir, tmp_path, weighting=DifficultyAwareWeighting(), log_path=None)
    quiet.log({"loss": 1.0})
    assert quiet.state.log_history[-1]["loss"] == 1.0 and "loss_first" not in quiet.state.log_history[-1]
    trainer.log({"eval_loss": 3.0})  # not a training step: no record
    assert len(log_path.read_text(encoding="utf-8").splitlines()) == 1


def test_the_console_rounds_kind_losses_to_six_decimals(model_dir, tmp_path):
    """With losses of known digits: a real model's losses change with every transformers release."""
    losses = {"first": 1.23456789, "mid": 2.34567891, "final": 3.45678912}

    class FixedLosses:
        training = True

        def __call__(self, **inputs):
            return {"loss": torch.tensor(1.0), "kind_losses": losses, "kind_terms": {}}

    trainer = _trainer(model_dir, tmp_path, weighting=DifficultyAwareWeighting(), log_path=None)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    trainer.compute_loss(FixedLosses(), collate(_features(tokenizer, _examples(2)), tokenizer.pad_token_id))
    trainer.log({"loss": 1.0})
    console = trainer.state.log_history[-1]
    assert {kind: console[f"loss_{kind}"] for kind in losses} == {"first": 1.234568, "mid": 2.345679, "final": 3.456789}


def test_checkpoint_weights_store_each_tensor_once(model_dir, tmp_path):
    from safetensors.torch import load_file

    trainer = _trainer(model_dir, tmp_path)
    state = trainer.model.state_dict()
    tied = set(trainer.model._keys_to_ignore_on_save)
    trainer._save(str(tmp_path / "all"))
    assert set(load_file(tmp_path / "all" / "model.safetensors")) == set(state) - tied
    subset = {name: state[name] for name in list(state)[:2]}
    trainer._save(str(tmp_path / "some"), state_dict=subset)
    assert set(load_file(tmp_path / "some" / "model.safetensors")) == set(subset)


def test_the_student_is_saved_alone_in_its_dtype(model_dir, tmp_path):
    from safetensors.torch import load_file

    from steper.train.trainer import _save_student

    trainer = _trainer(model_dir, tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    trainer.model.student.config.use_cache = False
    _save_student(trainer, trainer.model.student, tokenizer, tmp_path / "saved", torch.bfloat16)
    weights = load_file(tmp_path / "saved" / "model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.bfloat16} and not any("log_var" in name for name in weights)
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["dtype"] == "bfloat16" and config["use_cache"] is True


def test_gradient_checkpointing_does_not_reenter(model_dir):
    from steper.train.trainer import _enable_checkpointing

    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    _enable_checkpointing(student)
    functions = {m._gradient_checkpointing_func.keywords["use_reentrant"] for m in student.modules()
                 if hasattr(m, "_gradient_checkpointing_func")}
    assert student.is_gradient_checkpointing and functions == {False}


def test_a_matched_training_takes_the_other_methods_steps_and_drops_its_checkpoints(model_dir, data_path, tmp_path):
    """vanilla on 6 final steps, matched to StepER's 18 examples: ceil(18 / 4) steps an epoch, not ceil(6 / 4);
    its checkpoints are removed once it finished (keep_after_finish false)."""
    settings = parse_train_settings({
        "method": {"data": "final", "loss": "vanilla", "match_steps_of": STEPER},
        "training": {"batch_size": 4, "epochs": 1, "dtype": "float32", **CPU, "checkpoint": {"every_steps": 2, "keep_after_finish": False}},
    })
    out = tmp_path / "matched"
    summary = train(data_path, model_dir, out, settings, match_data=data_path)
    assert (summary["steps"], summary["examples"], summary["matched_to"]) == (5, {"final": 6}, STEPER)
    assert not Path(layout.checkpoints_dir(str(out))).exists()
