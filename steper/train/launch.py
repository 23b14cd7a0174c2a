"""Multi-GPU launch and DeepSpeed configuration for student training (the paper tier).

The DeepSpeed config is generated here rather than shipped as a file so that the stage number is
a setting. It leaves optimizer and scheduler out on purpose: the HF Trainer then builds them
itself, which keeps the separate learning rate of the loss weighting (`sigma_lr`) and the
cosine schedule with linear warm-up identical with and without DeepSpeed. "auto" values are
filled by the HF integration from TrainingArguments.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from steper.io import InputError, read_json


def deepspeed_config(stage: int) -> dict[str, Any]:
    """ZeRO config for `stage` (0-3) with HF-resolved precision, batch sizes and clipping."""
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"ZeRO stage must be 0..3, got {stage}")
    zero: dict[str, Any] = {"stage": stage}
    if stage >= 2:
        zero.update({"overlap_comm": True, "contiguous_gradients": True, "reduce_bucket_size": "auto"})
    if stage == 3:
        zero.update(
            {
                "stage3_prefetch_bucket_size": "auto",
                "stage3_param_persistence_threshold": "auto",
                "stage3_max_live_parameters": 1e9,
                "stage3_max_reuse_distance": 1e9,
                # The final model is written as one consolidated checkpoint, not ZeRO shards.
                "stage3_gather_16bit_weights_on_model_save": True,
            }
        )
    return {
        "bf16": {"enabled": "auto"},  # "auto" follows TrainingArguments, i.e. training.dtype resolved
        "fp16": {"enabled": "auto"},
        "zero_optimization": zero,
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "steps_per_print": 1e9,
        "wall_clock_breakdown": False,
    }


def resolve_deepspeed(value: str | None) -> dict[str, Any] | None:
    """`training.deepspeed` -> config dict: None, "zero0".."zero3", or a path to a JSON config."""
    if value is None:
        return None
    if value.startswith("zero") and value[4:].isdigit():
        return deepspeed_config(int(value[4:]))
    path = Path(value)
    if not path.exists():
        raise InputError("--settings", f"'{value}' is neither zero0..zero3 nor an existing DeepSpeed JSON file", field="training.deepspeed")
    return read_json(path)


def needs_launch(gpus: int, deepspeed: bool, environ: Mapping[str, str]) -> bool:
    """True when training needs a distributed launcher (several GPUs, or DeepSpeed, which needs a
    process group even on one device) and this process was not started by one."""
    return (gpus > 1 or deepspeed) and "LOCAL_RANK" not in environ


def launch_command(train_args: Sequence[str], gpus: int, python: str = sys.executable) -> list[str]:
    """The torchrun command that re-runs `steper train run <train_args>` on `gpus` local devices.

    torchrun is invoked as `python -m torch.distributed.run` so it is the one of this
    environment; `--standalone` gives a private rendezvous for a single node.
    """
    if gpus < 1:
        raise ValueError(f"gpus must be at least 1, got {gpus}")
    return [
        python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus),
        "-m", "steper.cli", "train", "run", *train_args,
    ]
