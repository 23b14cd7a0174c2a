"""Settings of `steper train run`, kept free of torch so the CLI can validate them (and re-launch
itself under torchrun) without importing the training stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from steper.io import InputError
from steper.settings import from_schema, parse_settings, settings_dict
from steper.stepwise.kinds import KINDS, VARIANTS
from steper.train.launch import resolve_deepspeed

LOSSES: tuple[str, ...] = ("difficulty_aware", "uniform", "fixed", "vanilla")
DTYPE_NAMES: tuple[str, ...] = ("bfloat16", "float16", "float32")
# "auto": bf16 where the device computes it natively, fp32 elsewhere (steper.models.precision).
COMPUTE_DTYPES: tuple[str, ...] = ("auto", *DTYPE_NAMES)


@dataclass
class MethodSettings:
    """Which step-wise data and which loss: the method of the paper's tables (required, like in the config)."""

    data: str
    loss: str
    weights: dict[str, float] | None = from_schema("methods.*.weights")
    eos: str = from_schema("methods.*.eos")
    # A budget-matched control: the {data, loss} of the method whose number of optimizer steps this
    # one takes. The config names that method (`methods.<name>.match_steps_of`, default null); the
    # workflow passes its data and loss here, and its step-wise data as `--match-data`.
    match_steps_of: dict[str, str] | None = None


@dataclass
class CheckpointSettings:
    """When training checkpoints are written and how long they are kept (`training.checkpoint`)."""

    every_steps: int | None = from_schema("training.checkpoint.every_steps")
    every_minutes: float | None = from_schema("training.checkpoint.every_minutes")
    keep: int = from_schema("training.checkpoint.keep")
    keep_after_finish: bool = from_schema("training.checkpoint.keep_after_finish")

    @property
    def enabled(self) -> bool:
        return self.every_steps is not None or self.every_minutes is not None


@dataclass
class TrainingSettings:
    """Optimisation; the defaults are the schema's (the paper's lr 5e-6, 2 epochs, cosine with linear warm-up)."""

    lr: float = from_schema("training.lr")
    epochs: float = from_schema("training.epochs")
    batch_size: int = from_schema("training.batch_size")  # per device
    grad_accum: int = from_schema("training.grad_accum")
    warmup_ratio: float = from_schema("training.warmup_ratio")
    max_length: int = from_schema("training.max_length")  # prompt is cut on the left beyond this
    # lr of the log-sigmas (None = lr). Adam moves a parameter by about lr per step, so at 5e-6 the
    # sigmas barely move in a few thousand steps; a larger value lets the weighting adapt.
    # Both groups follow the same warm-up + cosine schedule.
    sigma_lr: float | None = from_schema("training.sigma_lr")
    sigma_init: float = from_schema("training.sigma_init")
    # Compute dtype: mixed precision over fp32 master weights (autocast on CPU, AMP or DeepSpeed on GPU).
    dtype: str = from_schema("training.dtype")
    gradient_checkpointing: bool = from_schema("training.gradient_checkpointing")
    deepspeed: str | None = from_schema("training.deepspeed")  # None, "zero0".."zero3" (generated config) or a DeepSpeed JSON path
    # GPUs of the job (0 = CPU); training runs max(1, gpus) processes, re-launched under torchrun beyond 1.
    gpus: int = from_schema("training.resources.gpus")
    group_by_length: bool = from_schema("training.group_by_length")
    max_steps: int | None = from_schema("training.max_steps")
    log_every: int = from_schema("training.log_every")
    seed: int = from_schema("seed")
    weight_decay: float = from_schema("training.weight_decay")
    max_grad_norm: float = from_schema("training.max_grad_norm")
    # Not part of what a checkpoint must match: saving more or less often changes no weight.
    checkpoint: CheckpointSettings = field(default_factory=CheckpointSettings)

    @property
    def processes(self) -> int:
        return max(1, self.gpus)


@dataclass
class StudentSettings:
    """How the student reads prompts and in which dtype its checkpoint is written."""

    chat_template: bool = from_schema("models.*.chat_template")
    dtype: str = from_schema("models.*.storage_dtype")


@dataclass
class TrainSettings:
    method: MethodSettings
    training: TrainingSettings = field(default_factory=TrainingSettings)
    student: StudentSettings = field(default_factory=StudentSettings)


def parse_train_settings(value: str | dict[str, Any] | None) -> TrainSettings:
    """`--settings` -> TrainSettings; unknown keys at any level and bad values name their field."""
    top = parse_settings(value, TrainSettings)
    parts = {}
    for name, cls in (("method", MethodSettings), ("training", TrainingSettings), ("student", StudentSettings)):
        part = getattr(top, name)
        parts[name] = part if isinstance(part, cls) else parse_settings(part, cls, source=f"--settings.{name}")
    training = parts["training"]
    if not isinstance(training.checkpoint, CheckpointSettings):
        training.checkpoint = parse_settings(training.checkpoint, CheckpointSettings, source="--settings.training.checkpoint")
    settings = TrainSettings(**parts)
    method = settings.method
    if method.data not in VARIANTS:
        raise InputError("--settings", f"unknown data variant {method.data!r} (known: {', '.join(VARIANTS)})", field="method.data")
    if method.loss not in LOSSES:
        raise InputError("--settings", f"unknown loss {method.loss!r} (known: {', '.join(LOSSES)})", field="method.loss")
    if method.loss == "fixed" and not method.weights:
        raise InputError("--settings", "loss 'fixed' needs weights per kind", field="method.weights")
    if method.weights and set(method.weights) - set(KINDS):
        raise InputError("--settings", f"weights for unknown kinds (known: {', '.join(KINDS)})", field="method.weights")
    if method.match_steps_of is not None:
        other = method.match_steps_of
        if not isinstance(other, dict) or set(other) != {"data", "loss"} or other["data"] not in VARIANTS or other["loss"] not in LOSSES:
            raise InputError("--settings", "must be the {data, loss} of the method whose steps are matched", field="method.match_steps_of")
    training = settings.training
    for name in ("batch_size", "grad_accum", "log_every"):
        if getattr(training, name) < 1:
            raise InputError("--settings", "must be at least 1", field=f"training.{name}")
    if training.gpus < 0:
        raise InputError("--settings", "must be at least 0", field="training.gpus")
    if not training.sigma_init > 0:
        raise InputError("--settings", "must be positive", field="training.sigma_init")
    for name in ("every_steps", "keep"):
        value = getattr(training.checkpoint, name)
        if value is not None and value < 1:
            raise InputError("--settings", "must be at least 1", field=f"training.checkpoint.{name}")
    if training.checkpoint.every_minutes is not None and not training.checkpoint.every_minutes > 0:
        raise InputError("--settings", "must be positive", field="training.checkpoint.every_minutes")
    if training.max_length < 8:
        raise InputError("--settings", "must be at least 8 tokens", field="training.max_length")
    resolve_deepspeed(training.deepspeed)
    if training.dtype not in COMPUTE_DTYPES:
        raise InputError("--settings", f"unknown dtype (known: {', '.join(COMPUTE_DTYPES)})", field="training.dtype")
    if settings.student.dtype not in DTYPE_NAMES:
        raise InputError("--settings", f"unknown dtype (known: {', '.join(DTYPE_NAMES)})", field="student.dtype")
    return settings


def trained_kinds(method: MethodSettings) -> tuple[str, ...]:
    """Kinds a method learns from: its data variant's kinds; Vanilla-KD learns from final steps only."""
    return ("final",) if method.loss == "vanilla" else VARIANTS[method.data]


def checkpoint_identity(settings: TrainSettings) -> dict:
    """The settings a checkpoint must have been written under to be resumed: all but `checkpoint`."""
    data = settings_dict(settings)
    data["training"].pop("checkpoint")
    return data
