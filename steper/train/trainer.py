"""Student training on step-wise examples: Vanilla-KD, uniform / fixed multi-task, StepER.

A thin `transformers.Trainer` subclass, so DeepSpeed ZeRO-3, mixed precision, gradient
accumulation and multi-GPU come from the HF integration. The model the Trainer sees is
`StepwiseModel`: the student plus the kind-weighting module, with one forward that returns the
objective of `steper.train.losses`. Keeping the weighting inside the trained module is what lets
DeepSpeed treat the log-sigmas like any other parameter; only the student is saved at the end.

The compute dtype is `training.dtype` resolved by `steper.models.precision` (fp32 on CPUs without
native bf16, where bf16 autocast is many times slower; bf16 on GPUs); the resolved name is logged
and saved in the settings sidecar. `threads` caps torch's threads so that parallel jobs do not
oversubscribe the cores Snakemake gave them.

A killed training resumes: `training.checkpoint` has the Trainer write checkpoints beside the
student (steper.train.checkpoints), and a rerun of the same job continues from the latest complete
one, with the data order, σ and RNG states where they were. A method with `match_steps_of` trains
for the optimizer steps of another method's data (steper.train.steps). Every log line and the
summary count the supervised (completion) tokens trained on, the budget two methods are compared at.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm
from transformers import Trainer, TrainerCallback, TrainingArguments, get_cosine_schedule_with_warmup, set_seed

from steper import layout
from steper.io import InputError, append_jsonl, atomic_dir, read_jsonl_numbered
from steper.models.loading import load_causal_lm, load_tokenizer, torch_dtype
from steper.models.precision import resolve_dtype_name
from steper.settings import save_resolved
from steper.stepwise.kinds import KINDS
from steper.train.batching import Features, KindMixingSampler, collate, encode_example
from steper.train.checkpoints import TRAIN_LOG, CheckpointSchedule, CheckpointStore, directory_digest, file_digest
from steper.train.launch import resolve_deepspeed
from steper.train.losses import (
    IGNORE_INDEX,
    KindWeighting,
    ObjectiveScale,
    example_losses,
    kind_means,
    kind_terms,
    make_weighting,
    token_losses,
)
from steper.train.settings import MethodSettings, TrainSettings, checkpoint_identity, trained_kinds
from steper.train.steps import optimizer_steps

log = logging.getLogger(__name__)

EXAMPLE_FIELDS = ("id", "kind", "step", "prompt", "completion", "context", "continuation")


def load_examples(path: str | os.PathLike, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Step-wise examples of the wanted kinds; an unknown kind is an input error."""
    examples, skipped = [], Counter()
    for number, example in read_jsonl_numbered(path, required=EXAMPLE_FIELDS):
        if example["kind"] not in KINDS:
            raise InputError(path, f"unknown kind {example['kind']!r} (known: {', '.join(KINDS)})", line=number, field="kind")
        if not isinstance(example["completion"], str) or not example["completion"]:
            raise InputError(path, "must be a non-empty string", line=number, field="completion")
        if example["prompt"] != example["context"] + example["continuation"]:
            raise InputError(path, "must equal context + continuation", line=number, field="prompt")
        if example["kind"] in kinds:
            examples.append(example)
        else:
            skipped[example["kind"]] += 1
    if skipped:
        log.info("%s: left out %s (method trains on %s)", path, dict(skipped), ", ".join(kinds))
    if not examples:
        raise InputError(path, f"no examples of kinds {', '.join(kinds)}")
    return examples


def objective_scale(examples: list[dict[str, Any]], kinds: tuple[str, ...]) -> ObjectiveScale:
    """E/(K·n) of the loaded examples: n is the number of traces they come from (distinct ids)."""
    return ObjectiveScale(len(examples), len({example["id"] for example in examples}), len(kinds))


class StepwiseModel(nn.Module):
    """Student + kind weighting; forward returns the objective and the per-kind losses of the batch.

    The student's body runs on the whole (left-padded) batch; its LM head runs only on the hidden
    states of the positions that predict a completion token, gathered first.
    """

    def __init__(self, student: nn.Module, weighting: KindWeighting, scale: ObjectiveScale):
        super().__init__()
        config = student.config
        if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
            raise ValueError(f"{type(student).__name__} transforms its logits beyond the LM head; the gathered head does not")
        self.student = student
        self.weighting = weighting
        self.scale = scale

    @property
    def config(self):
        """The student's config: the DeepSpeed integration sizes its "auto" buckets from it."""
        return self.student.config

    @property
    def _keys_to_ignore_on_save(self) -> list[str]:
        """Later names of a parameter met before (the student's tied embeddings): a checkpoint stores
        each tensor once (safetensors refuses shared ones), and the Trainer re-ties them on load."""
        seen: set[int] = set()
        tied = []
        for name, parameter in self.named_parameters(remove_duplicate=False):
            if id(parameter) in seen:
                tied.append(name)
            seen.add(id(parameter))
        return tied

    def tie_weights(self) -> None:
        self.student.tie_weights()

    def forward(self, input_ids, attention_mask, position_ids, labels, kind_ids) -> dict[str, Any]:
        targets = labels[:, 1:]
        rows, columns = (targets != IGNORE_INDEX).nonzero(as_tuple=True)
        hidden = self.student.get_decoder()(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).last_hidden_state
        tokens = token_losses(hidden[rows, columns], self.student.get_output_embeddings(), targets[rows, columns])
        losses = example_losses(tokens, rows, input_ids.size(0))
        terms = kind_terms(losses, kind_ids, self.weighting.kinds, self.scale)
        return {
            "loss": self.weighting(terms),
            "kind_losses": kind_means(losses.detach(), kind_ids, self.weighting.kinds),
            "kind_terms": {kind: float(term.detach()) for kind, term in terms.items()},
        }


def warmup_steps(ratio: float, total_steps: int) -> int:
    """Linear warm-up over `ratio` of the optimizer steps, rounded up (the Trainer's own rounding)."""
    return math.ceil(ratio * total_steps)


class _SamplerEpoch(TrainerCallback):
    """Puts the sampler on the epoch the Trainer starts, which a resumed run does not start at 0."""

    def __init__(self, sampler: KindMixingSampler):
        self.sampler = sampler

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.sampler.set_epoch(math.floor(state.epoch or 0))
        return control


class _LogLastStep(TrainerCallback):
    """Logs the last step whatever `log_every` is, so the log's last line holds the whole run's budget."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_log = True
        return control


class StepwiseTrainer(Trainer):
    """Adds the kind-mixing sampler, a separate lr for the weighting, warm-up as a ratio, train_log.jsonl,
    supervised-token counts, and checkpoints that are marked complete only once every process wrote its part."""

    def __init__(
        self, *args: Any, sampler: KindMixingSampler | None, sigma_lr: float | None, log_path: Path | None,
        warmup_ratio: float = 0.0, checkpoints: CheckpointStore | None = None, tokens_before: dict[str, int] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.kind_sampler = sampler
        self.sigma_lr = sigma_lr
        self.log_path = log_path
        self.warmup_ratio = warmup_ratio
        self.checkpoints = checkpoints
        self._kind_sums: Counter = Counter()
        self._kind_counts: Counter = Counter()
        self._term_sums: Counter = Counter()
        self._batches = 0
        kinds = self.model.weighting.kinds
        # completion tokens this process trained on, per kind; with the totals a resumed run started from
        self._tokens = torch.zeros(len(kinds), dtype=torch.long)
        self._tokens_before = {kind: int((tokens_before or {}).get(kind, 0)) for kind in kinds}
        if sampler is not None:
            self.add_callback(_SamplerEpoch(sampler))
        self.add_callback(_LogLastStep())

    def _get_train_sampler(self, train_dataset=None):
        return self.kind_sampler

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """Cosine with linear warm-up over `warmup_ratio` of the steps the Trainer counted. transformers 5
        has no warmup_ratio argument (warmup_steps reads a float below 1 as a ratio, and 1.0 as one step)."""
        if self.lr_scheduler is None:
            self.lr_scheduler = get_cosine_schedule_with_warmup(
                self.optimizer if optimizer is None else optimizer, warmup_steps(self.warmup_ratio, num_training_steps), num_training_steps
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def supervised_tokens(self) -> dict[str, int]:
        """Completion tokens trained on so far, per kind, summed over processes (a collective)."""
        counts = self.accelerator.reduce(self._tokens.to(self.args.device), reduction="sum").cpu().tolist()
        return {kind: self._tokens_before[kind] + int(n) for kind, n in zip(self.model.weighting.kinds, counts)}

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """A checkpoint's weights, each tied tensor under its first name only (`StepwiseModel._keys_to_ignore_on_save`)."""
        state = self.model.state_dict() if state_dict is None else state_dict
        tied = set(self.model._keys_to_ignore_on_save)
        super()._save(output_dir, state_dict={name: tensor for name, tensor in state.items() if name not in tied})

    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        self.accelerator.wait_for_everyone()
        tokens = self.supervised_tokens()
        if self.checkpoints is not None and self.is_world_process_zero():
            path = self.checkpoints.root / f"checkpoint-{self.state.global_step}"
            if self.log_path is not None and self.log_path.exists():
                shutil.copy2(self.log_path, path / TRAIN_LOG)
            self.checkpoints.mark(path, self.state.global_step, {"supervised_tokens": tokens})
            self.checkpoints.rotate()
            log.info("checkpoint %s complete", path)
        self.accelerator.wait_for_everyone()

    def create_optimizer(self, model=None):
        """Student parameters as usual; the weighting's parameters in their own group (own lr, no decay)."""
        if self.optimizer is None:
            wrapper = self.model if model is None else model
            weighting_ids = {id(p) for p in wrapper.weighting.parameters()}
            decay = set(self.get_decay_parameter_names(wrapper))
            named = [(n, p) for n, p in wrapper.named_parameters() if p.requires_grad and id(p) not in weighting_ids]
            groups = [
                {"params": [p for n, p in named if n in decay], "weight_decay": self.args.weight_decay},
                {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
                {"params": list(wrapper.weighting.parameters()), "weight_decay": 0.0, "lr": self.sigma_lr or self.args.learning_rate},
            ]
            optimizer_cls, optimizer_kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, wrapper)
            self.optimizer = optimizer_cls([g for g in groups if g["params"]], **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        if model.training:
            per_row = (inputs["labels"][:, 1:] != IGNORE_INDEX).sum(dim=1).cpu()
            self._tokens.index_add_(0, inputs["kind_ids"].cpu(), per_row)
            for kind, value in outputs["kind_losses"].items():
                self._kind_sums[kind] += value
                self._kind_counts[kind] += 1
            self._term_sums.update(outputs["kind_terms"])
            self._batches += 1
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" not in logs:
            super().log(logs, start_time)
            return
        weighting: KindWeighting = self.model.weighting
        kind_losses = {k: self._kind_sums[k] / self._kind_counts[k] for k in weighting.kinds if self._kind_counts[k]}
        kind_terms = {k: self._term_sums[k] / self._batches for k in weighting.kinds} if self._batches else {}
        self._kind_sums.clear()
        self._kind_counts.clear()
        self._term_sums.clear()
        self._batches = 0
        sigmas = weighting.sigmas()
        weights = weighting.effective_weights()
        tokens = self.supervised_tokens()
        for kind, value in kind_losses.items():
            logs[f"loss_{kind}"] = round(value, 6)
        for kind in weighting.kinds:
            if sigmas is not None:
                logs[f"sigma_{kind}"] = round(sigmas[kind], 6)
        super().log(logs, start_time)
        if self.log_path is not None and self.is_world_process_zero():
            record = {
                "step": self.state.global_step,
                "epoch": self.state.epoch,
                "lr": logs.get("learning_rate"),
                "loss": logs["loss"],
                "grad_norm": logs.get("grad_norm"),
                "kind_losses": kind_losses,
                "kind_terms": kind_terms,
                "sigma": sigmas,
                "weights": weights,
                "supervised_tokens": tokens,
            }
            with open(self.log_path, "a", encoding="utf-8") as handle:
                append_jsonl(handle, record)


def encode_all(tokenizer: Any, examples: list[dict[str, Any]], kinds: tuple[str, ...], settings: TrainSettings) -> list[Features]:
    features = [
        encode_example(tokenizer, ex, kinds.index(ex["kind"]), settings.training.max_length, settings.student.chat_template,
                       eos=settings.method.eos == "every_step" or ex["kind"] == "final")
        for ex in tqdm(examples, desc="tokenise", unit="ex", mininterval=5)
    ]
    truncated = sum(len(f.input_ids) >= settings.training.max_length for f in features)
    if truncated:
        log.info("%d of %d examples reach max_length=%d (prompt cut on the left)", truncated, len(features), settings.training.max_length)
    return features


def compute_dtype(settings: TrainSettings) -> str:
    """`training.dtype` resolved for the device this process trains on ("auto": bf16 where native)."""
    return resolve_dtype_name(settings.training.dtype, "cuda" if torch.cuda.is_available() else "cpu")


def training_arguments(settings: TrainSettings, output_dir: Path, dtype: str, max_steps: int | None = None) -> TrainingArguments:
    """TrainingArguments from our settings and the resolved compute dtype. Built BEFORE the model is
    loaded: with ZeRO-3 this is what makes `from_pretrained` partition the weights while loading
    (HfDeepSpeedConfig); DeepSpeed's "auto" bf16 follows `bf16` here.

    `output_dir` is where the Trainer writes checkpoints (`save_strategy` "no": `CheckpointSchedule`
    decides when); `max_steps` overrides `training.max_steps` (a budget-matched method's steps).
    The warm-up is the trainer's (`StepwiseTrainer.create_scheduler`), from `training.warmup_ratio`."""
    t = settings.training
    steps = t.max_steps if max_steps is None else max_steps
    return TrainingArguments(
        output_dir=str(output_dir),
        learning_rate=t.lr,
        num_train_epochs=t.epochs,
        max_steps=steps if steps is not None else -1,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        bf16=dtype == "bfloat16",
        fp16=dtype == "float16",
        use_cpu=not torch.cuda.is_available(),
        deepspeed=resolve_deepspeed(t.deepspeed),
        logging_strategy="steps",
        logging_steps=t.log_every,
        logging_first_step=True,
        save_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        seed=t.seed,
        data_seed=t.seed,
        dataloader_drop_last=False,
        # Every parameter is used in every forward (the log-sigmas are one tensor), and the HF default
        # for a module that is not a PreTrainedModel (find unused = True) would cost a graph walk per step.
        ddp_find_unused_parameters=False,
    )


def init_deepspeed_on_cpu(settings: TrainSettings) -> None:
    """Start DeepSpeed's communication on a CPU-only machine with several processes (the tests' ZeRO-3).

    On GPUs Accelerate starts it; on CPU it starts a plain gloo process group that DeepSpeed does
    not see, so ZeRO-3 would count one process of several. Must run before TrainingArguments."""
    if settings.training.deepspeed is None or torch.cuda.is_available() or int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return
    import deepspeed

    deepspeed.init_distributed(dist_backend="gloo", auto_mpi_discovery=False)


def end_process_group() -> None:
    """Wait for every process, then destroy the process group of a multi-process run.

    Left to interpreter exit, gloo's worker threads are torn down with the interpreter and a
    process can abort (SIGABRT, "terminate called without an active exception") after training
    succeeded, which fails the whole torchrun job."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _save_student(trainer: StepwiseTrainer, student: nn.Module, tokenizer: Any, directory: Path, dtype: torch.dtype) -> None:
    """Write the student alone (not the weighting) in `dtype`; under ZeRO-3 the shards are gathered first."""
    if trainer.is_deepspeed_enabled:
        # a collective: every process gathers, the main one receives the weights (the others None)
        state = trainer.accelerator.get_state_dict(trainer.deepspeed) or {}
        state = {k.removeprefix("student."): v.to(dtype) for k, v in state.items() if k.startswith("student.")}
    else:
        student.to(dtype)
        state = None
    if trainer.is_world_process_zero():
        student.config.use_cache = True  # the Trainer turned it off for training; generation wants it
        student.save_pretrained(directory, state_dict=state)
        # save_pretrained records the dtype of the module's parameters, which under ZeRO-3 are still the
        # training ones (fp32 when the compute dtype is fp32), not that of the weights written; loaders
        # (from_pretrained's default dtype="auto" in transformers 5) read it, so it must name the weights'.
        student.config.dtype = dtype
        student.config.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


def set_threads(threads: int | None) -> None:
    """Cap torch (and the tokenizer's thread pool) at `threads`, the cores this job was given."""
    if threads is None:
        return
    torch.set_num_threads(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    os.environ["RAYON_NUM_THREADS"] = str(threads)


def _enable_checkpointing(student: nn.Module) -> None:
    """Transformers renamed the call in 5.2x; the GPU extra's vLLM caps transformers below the rename."""
    kwargs = {"use_reentrant": False}
    if hasattr(student, "activation_checkpointing_enable"):
        student.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        student.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def matched_steps(settings: TrainSettings, match_data: str | os.PathLike | None, processes: int) -> int | None:
    """The optimizer steps of the method named by `match_steps_of` on its own data (`match_data`), or
    None when the method does not match another; `training.max_steps`, when set, caps both alike."""
    other = settings.method.match_steps_of
    if other is None:
        return None
    if match_data is None:
        raise InputError("--match-data", "required: method.match_steps_of names a method whose step-wise data it counts")
    t = settings.training
    if t.max_steps is not None:
        return t.max_steps
    n_other = len(load_examples(match_data, trained_kinds(MethodSettings(**other))))
    return optimizer_steps(n_other, t.batch_size, t.grad_accum, processes, t.epochs)


def remove_stale_staging(output_dir: Path) -> None:
    """Remove the staging directories (`atomic_dir`) a killed run of this output left beside it."""
    if not output_dir.parent.is_dir():
        return
    pattern = re.compile(r"^\." + re.escape(output_dir.name) + r"\.[^./]{8}\.(tmp|old)$")
    for path in output_dir.parent.iterdir():
        if path.is_dir() and pattern.match(path.name):
            log.warning("removing %s, left by a killed training", path)
            shutil.rmtree(path, ignore_errors=True)


def checkpoint_store(settings: TrainSettings, data_path: str | os.PathLike, model_dir: str | os.PathLike,
                     output_dir: Path, max_steps: int | None, processes: int) -> CheckpointStore | None:
    """The job's checkpoints, if it writes any or a killed earlier run of it left some."""
    root = Path(layout.checkpoints_dir(str(output_dir)))
    if not settings.training.checkpoint.enabled and not root.exists():
        return None
    identity = {
        "settings": checkpoint_identity(settings),
        "max_steps": max_steps,
        "processes": processes,
        "data": file_digest(data_path),
        "model": directory_digest(model_dir),
    }
    return CheckpointStore(root, identity, settings.training.checkpoint.keep)


def train(
    data_path: str | os.PathLike,
    model_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: TrainSettings,
    threads: int | None = None,
    match_data: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Fine-tune the student at `model_dir` on the step-wise examples; write model, log and settings.

    `match_data`: the step-wise data of the method named by `method.match_steps_of`, whose number of
    optimizer steps this training takes."""
    set_threads(threads)
    set_seed(settings.training.seed)
    kinds = trained_kinds(settings.method)
    examples = load_examples(data_path, kinds)
    counts = Counter(ex["kind"] for ex in examples)
    scale = objective_scale(examples, kinds)
    dtype = compute_dtype(settings)
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    max_steps = matched_steps(settings, match_data, processes)
    log.info("%d examples of %d traces from %s: %s; loss %s; compute dtype %s (training.dtype %s); %d threads%s",
             len(examples), scale.n_traces, data_path, dict(counts), settings.method.loss, dtype,
             settings.training.dtype, torch.get_num_threads(),
             f"; {max_steps} optimizer steps, matched to {settings.method.match_steps_of}" if settings.method.match_steps_of else "")
    tokenizer = load_tokenizer(model_dir)
    features = encode_all(tokenizer, examples, kinds, settings)

    output_dir = Path(output_dir)
    is_main = int(os.environ.get("RANK", "0")) == 0
    checkpoints = checkpoint_store(settings, data_path, model_dir, output_dir, max_steps, processes)
    resume = checkpoints.resumable(remove_incomplete=is_main) if checkpoints is not None else None
    if is_main:
        remove_stale_staging(output_dir)
    if resume is not None:
        log.info("resuming from %s (step %d)", resume.path, resume.step)
    # Only the main process owns the output directory; other ranks train in a throwaway one.
    staging_dir = atomic_dir(output_dir) if is_main else tempfile.TemporaryDirectory()
    with staging_dir as staging:
        staging = Path(staging)
        log_path = staging / "train_log.jsonl" if is_main else None
        if resume is not None and log_path is not None and (resume.path / TRAIN_LOG).exists():
            shutil.copy2(resume.path / TRAIN_LOG, log_path)
        init_deepspeed_on_cpu(settings)
        args = training_arguments(settings, checkpoints.root if checkpoints is not None else staging, dtype, max_steps)
        # fp32 master weights; a lower compute dtype comes from autocast / DeepSpeed, never from bf16 parameters + Adam.
        student, _ = load_causal_lm(model_dir, dtype="float32")
        if settings.training.gradient_checkpointing:
            _enable_checkpointing(student)
        # Same dtype as the student's parameters: under ZeRO-3 (bf16) all trainable parameters are
        # partitioned into one flat buffer; the optimizer still keeps fp32 master copies.
        weighting = make_weighting(settings.method.loss, settings.method.weights, kinds, settings.training.sigma_init)
        weighting = weighting.to(next(student.parameters()).dtype)
        model = StepwiseModel(student, weighting, scale)
        pad_id = tokenizer.pad_token_id  # load_tokenizer falls back to EOS
        sampler = KindMixingSampler(
            [f.kind for f in features], [len(f.input_ids) for f in features],
            settings.training.batch_size, settings.training.seed, settings.training.group_by_length,
        )
        trainer = StepwiseTrainer(
            model=model, args=args, train_dataset=features, data_collator=lambda batch: collate(batch, pad_id),
            sampler=sampler, sigma_lr=settings.training.sigma_lr, log_path=log_path, warmup_ratio=settings.training.warmup_ratio,
            checkpoints=checkpoints, tokens_before=resume.marker.get("supervised_tokens") if resume is not None else None,
        )
        plan = settings.training.checkpoint
        if plan.enabled:
            trainer.add_callback(CheckpointSchedule(plan.every_steps, plan.every_minutes))
        result = trainer.train(resume_from_checkpoint=str(resume.path) if resume is not None else None)
        tokens = trainer.supervised_tokens()
        _save_student(trainer, student, tokenizer, staging, torch_dtype(settings.student.dtype))
        summary = {
            "data": str(data_path),
            "model": str(model_dir),
            "examples": dict(counts),
            "kinds": list(kinds),
            "traces": scale.n_traces,
            "objective_factor": scale.factor,
            "compute_dtype": dtype,
            "threads": torch.get_num_threads(),
            "steps": trainer.state.global_step,
            "matched_to": settings.method.match_steps_of,
            "supervised_tokens": tokens,
            "resumed_from_step": resume.step if resume is not None else None,
            "train_loss": result.training_loss,
            "train_runtime": result.metrics.get("train_runtime"),
            "sigma": weighting.sigmas(),
            "weights": weighting.effective_weights(),
        }
        if is_main:
            save_resolved(staging / layout.SETTINGS_FILE, settings, summary=summary)
    if is_main and checkpoints is not None and not settings.training.checkpoint.keep_after_finish:
        checkpoints.remove()
    end_process_group()
    log.info("trained %d steps (%d supervised tokens), final loss %.4f -> %s",
             summary["steps"], sum(tokens.values()), summary["train_loss"], output_dir)
    return summary
