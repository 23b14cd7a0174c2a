"""Paper-tier base models from the Hugging Face hub (never used in the smoke and demo tiers)."""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steper.io import InputError, atomic_dir
from steper.layout import SETTINGS_FILE
from steper.settings import from_schema, save_resolved

log = logging.getLogger(__name__)

# Weights, configs and tokenizers only: no code (no trust_remote_code), no PyTorch pickles, no GGUF copies.
ALLOW_PATTERNS = ["*.safetensors", "*.safetensors.index.json", "*.json", "tokenizer*", "*.model", "*.tiktoken", "merges.txt", "vocab.txt", "*.jinja"]
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class DownloadSettings:
    repo_id: str
    revision: str | None = from_schema("models.*.revision")


def snapshot_request(settings: DownloadSettings, local_dir: str | os.PathLike) -> dict[str, Any]:
    """Keyword arguments for `huggingface_hub.snapshot_download`."""
    if not REPO_ID.match(settings.repo_id):
        raise InputError("--repo-id", f"expected 'owner/name', got '{settings.repo_id}'", field="repo_id")
    return {
        "repo_id": settings.repo_id,
        "revision": settings.revision,
        "allow_patterns": list(ALLOW_PATTERNS),
        "local_dir": str(local_dir),
    }


def download_model(settings: DownloadSettings, output: str | os.PathLike) -> None:
    from huggingface_hub import snapshot_download

    with atomic_dir(output) as tmp:
        request = snapshot_request(settings, tmp)
        log.info("downloading %s@%s", settings.repo_id, settings.revision or "main")
        snapshot_download(**request)
        shutil.rmtree(Path(tmp) / ".cache", ignore_errors=True)
        if not (Path(tmp) / "config.json").is_file():
            raise InputError(settings.repo_id, "the snapshot has no config.json", field="repo_id")
        save_resolved(Path(tmp) / SETTINGS_FILE, settings)
