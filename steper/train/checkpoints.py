"""Training checkpoints that survive a kill: which one to resume, when to write one, what to keep.

The HF Trainer writes a checkpoint (model with the σ weighting, optimizer, scheduler, RNG states,
trainer state with the step that fixes the data position; under DeepSpeed the engine's sharded
states) into `checkpoint-<step>/` of the directory `steper.layout.checkpoints_dir` names beside the
student. That write is not atomic and, with several processes, not one process's: so when every
process has finished writing, the main process adds `steper_checkpoint.json` last, by an atomic
rename. A checkpoint directory without it is an interrupted write: it is never resumed, and is
removed. The marker holds the hash of the checkpoint's identity (settings but `checkpoint`, the
resolved step count, process count, and digests of the data and the base model): a rerun resumes
the latest complete checkpoint only if its identity is the rerun's, and otherwise stops and names
what differs (the rule of the trace resume, steper/frameworks/resume.py), so a checkpoint of other
settings is never resumed and never silently thrown away.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from steper.io import InputError, read_json, write_json
from steper.settings import config_hash

log = logging.getLogger(__name__)

MARKER = "steper_checkpoint.json"
TRAIN_LOG = "train_log.jsonl"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")  # the HF Trainer's PREFIX_CHECKPOINT_DIR + step
# Weight files are digested by size and their first and last MiB: a full read of a 16 GB model by
# every process would cost minutes per job; small files (configs, tokenizer) are read whole.
_HEAD = 1 << 20


def file_digest(path: str | os.PathLike, whole: bool = True) -> str:
    digest = hashlib.sha256()
    size = os.path.getsize(path)
    digest.update(str(size).encode())
    with open(path, "rb") as handle:
        if whole or size <= 2 * _HEAD:
            for block in iter(lambda: handle.read(_HEAD), b""):
                digest.update(block)
        else:
            digest.update(handle.read(_HEAD))
            handle.seek(size - _HEAD)
            digest.update(handle.read(_HEAD))
    return digest.hexdigest()


def directory_digest(directory: str | os.PathLike) -> str:
    """A digest of a model directory: every file's relative path and content (weights sampled)."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(file_digest(path, whole=path.stat().st_size <= 2 * _HEAD).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    marker: dict[str, Any]


def _step_dirs(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = [(int(match[1]), path) for path in root.iterdir() if path.is_dir() and (match := _CHECKPOINT.match(path.name))]
    return sorted(found)


@dataclass
class CheckpointStore:
    """The checkpoints of one training job: `root/checkpoint-<step>/`, each complete with its marker."""

    root: Path
    identity: dict[str, Any]
    keep: int = 1
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.hash = config_hash(self.identity)

    def complete(self) -> list[Checkpoint]:
        return [Checkpoint(path, step, read_json(path / MARKER)) for step, path in _step_dirs(self.root) if (path / MARKER).is_file()]

    def incomplete(self) -> list[Path]:
        return [path for _, path in _step_dirs(self.root) if not (path / MARKER).is_file()]

    def resumable(self, remove_incomplete: bool) -> Checkpoint | None:
        """The latest complete checkpoint if it was written under this identity; None if there is none.

        Interrupted writes are skipped (and removed by the process that owns the directory); the
        latest complete checkpoint of another identity is an error naming what differs.
        """
        for path in self.incomplete():
            log.warning("ignoring %s: its write did not finish (no %s)", path, MARKER)
            if remove_incomplete:
                shutil.rmtree(path, ignore_errors=True)
        complete = self.complete()
        if not complete:
            return None
        latest = complete[-1]
        if latest.marker.get("hash") != self.hash:
            before = latest.marker.get("identity", {})
            differing = sorted(key for key in set(before) | set(self.identity) if before.get(key) != self.identity.get(key))
            raise InputError(latest.path, f"was written under other settings or data (differing: {', '.join(differing) or 'unknown'}); "
                             f"remove {self.root} to start over")
        return latest

    def mark(self, path: Path, step: int, extra: dict[str, Any]) -> None:
        """Declare `path` complete: the last file of a checkpoint, written by an atomic rename."""
        write_json(path / MARKER, {"hash": self.hash, "step": step, "identity": self.identity, **extra})

    def rotate(self) -> None:
        """Keep the newest `keep` complete checkpoints; drop older ones and any older unfinished write."""
        complete = self.complete()
        if not complete:
            return
        kept = {checkpoint.path for checkpoint in complete[-self.keep :]}
        newest = complete[-1].step
        for step, path in _step_dirs(self.root):
            if path not in kept and step <= newest:
                shutil.rmtree(path, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class CheckpointSchedule(TrainerCallback):
    """Asks the Trainer for a checkpoint every N steps and/or every M minutes, never at the last step
    (the final model is written right after it). The clock is the main process's, broadcast to the
    others, because under DeepSpeed a checkpoint is a collective every process must enter together."""

    def __init__(self, every_steps: int | None, every_minutes: float | None):
        self.every_steps = every_steps
        self.every_seconds = None if every_minutes is None else 60.0 * every_minutes
        self.last = time.monotonic()

    def _clock_due(self, device: torch.device) -> bool:
        if self.every_seconds is None:
            return False
        due = time.monotonic() - self.last >= self.every_seconds
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([int(due)], device=device)
            torch.distributed.broadcast(flag, src=0)
            due = bool(flag.item())
        return due

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            return control
        by_steps = self.every_steps is not None and state.global_step % self.every_steps == 0
        if self._clock_due(args.device) or by_steps:
            control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        self.last = time.monotonic()
        return control
