"""Settings of `steper train run`, kept free of torch so the CLI can validate them (and re-launch
itself under torchrun) without importing the training stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from steper.distill.kinds import KINDS, VARIANTS
from steper.distill.launch import resolve_deepspeed
from steper.io import InputError
from steper.settings import from_schema, parse_settings

LOSSES: tuple[str, ...] = ("difficulty_aware", "uniform", "fixed", "vanilla")
DTYPE_NAMES: tuple[str, ...] = ("bfloat16", "float16", "float32")
# "auto": bf16 where the device computes it natively, fp32 elsewhere (steper.models.precision).
COMPUTE_DTYPES: tuple[str, ...] = ("auto", *DTYPE_NAMES)


@dataclass
class MethodSettings:
    """Which step-wise data and which loss: the method of the paper's tables."""

    data: str = "first-mid-final"
    loss: str = "difficulty_aware"
    weights: dict[str, float] | None = None


@dataclass
class TrainingSettings:
    """Optimisation; defaults are the paper's (lr 5e-6, 2 epochs, cosine with linear warm-up)."""

    lr: float = 5e-6
    epochs: float = 2
    batch_size: int = 8  # per device
    grad_accum: int = 1
    warmup_ratio: float = 0.1
    max_length: int = 2048  # prompt is cut on the left beyond this
    # lr of the log-sigmas (None = lr). Adam moves a parameter by about lr per step, so at 5e-6 the
    # sigmas barely move in a few thousand steps; a larger value lets the weighting adapt.
    # Both groups follow the same warm-up + cosine schedule.
    sigma_lr: float | None = None
    # Compute dtype: mixed precision over fp32 master weights (autocast on CPU, AMP or DeepSpeed on GPU).
    dtype: str = from_schema("training.dtype")
    gradient_checkpointing: bool = False
    deepspeed: str | None = None  # None, "zero0".."zero3" (generated config) or a DeepSpeed JSON path
    gpus: int = 1  # > 1: re-launch under torchrun with this many processes
    group_by_length: bool = True
    max_steps: int | None = None
    log_every: int = 1
    seed: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0


@dataclass
class StudentSettings:
    """How the student reads prompts and in which dtype its checkpoint is written."""

    chat_template: bool = False
    dtype: str = "bfloat16"


@dataclass
class TrainSettings:
    method: MethodSettings = field(default_factory=MethodSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    student: StudentSettings = field(default_factory=StudentSettings)


def parse_train_settings(value: str | dict[str, Any] | None) -> TrainSettings:
    """`--settings` -> TrainSettings; unknown keys at any level and bad values name their field."""
    top = parse_settings(value, TrainSettings)
    parts = {}
    for name, cls in (("method", MethodSettings), ("training", TrainingSettings), ("student", StudentSettings)):
        part = getattr(top, name)
        parts[name] = part if isinstance(part, cls) else parse_settings(part, cls, source=f"--settings.{name}")
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
    training = settings.training
    for name in ("batch_size", "grad_accum", "gpus", "log_every"):
        if getattr(training, name) < 1:
            raise InputError("--settings", "must be at least 1", field=f"training.{name}")
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
