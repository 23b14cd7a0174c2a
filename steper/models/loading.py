"""Load a local Hugging Face causal LM the same way in every stage."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from steper.io import InputError
from steper.models.precision import DTYPES

log = logging.getLogger(__name__)

def torch_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise InputError("dtype", f"unknown dtype '{name}' (known: {', '.join(DTYPES)})", field="dtype")
    return DTYPES[name]


def load_tokenizer(path: str | os.PathLike) -> PreTrainedTokenizerBase:
    """Tokenizer ready for batched generation: a pad token and left padding."""
    _require_model_dir(path)
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_causal_lm(path: str | os.PathLike, dtype: str = "float32") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model in eval mode plus its tokenizer; never runs code shipped with the checkpoint.

    `dtype` is a concrete name: callers resolve "auto" with `steper.models.precision` first."""
    tokenizer = load_tokenizer(path)
    log.info("loading %s (%s)", path, dtype)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype(dtype), trust_remote_code=False)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _require_model_dir(path: str | os.PathLike) -> None:
    if not (Path(path) / "config.json").is_file():
        raise InputError(path, "not a model directory (no config.json)", field="config.json")
