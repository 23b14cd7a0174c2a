"""Layer-pruned students: a smaller model made by keeping some decoder layers of a base model.

The demo tier has one small base model (SmolLM2-135M); keeping e.g. the first and last four of its
30 layers gives the "smaller student" of the paper's scaling study without another download.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from steper.io import InputError, atomic_dir
from steper.layout import SETTINGS_FILE
from steper.models.loading import load_tokenizer, torch_dtype
from steper.settings import from_schema, save_resolved

log = logging.getLogger(__name__)


@dataclass
class PruneSettings:
    base: str
    keep_layers: list[int]
    storage_dtype: str = from_schema("models.*.storage_dtype")  # the kept layers are written in it


def parse_layers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError("--keep-layers", f"expected comma-separated layer indices, got '{text}'", field="keep_layers") from None


def check_layers(keep: list[int], total: int) -> None:
    """Kept layers must exist, be listed once and in order, so the pruned stack keeps the base's order."""
    if not keep:
        raise InputError("--keep-layers", "no layers to keep", field="keep_layers")
    outside = [index for index in keep if not 0 <= index < total]
    if outside:
        raise InputError("--keep-layers", f"layers {outside} outside 0..{total - 1}", field="keep_layers")
    if keep != sorted(set(keep)):
        raise InputError("--keep-layers", f"layers must be unique and increasing, got {keep}", field="keep_layers")


def prune_model(model: torch.nn.Module, keep: list[int]) -> torch.nn.Module:
    """Keep the listed decoder layers in place; renumber them so the KV cache indexes them densely."""
    decoder = model.get_decoder()
    check_layers(keep, len(decoder.layers))
    decoder.layers = torch.nn.ModuleList(decoder.layers[index] for index in keep)
    for new_index, layer in enumerate(decoder.layers):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    config = model.config.get_text_config(decoder=True)
    layer_types = getattr(config, "layer_types", None)
    config.num_hidden_layers = len(keep)
    if layer_types is not None:
        config.layer_types = [layer_types[index] for index in keep]
    return model


def prune_layers(base: str | os.PathLike, keep: list[int], output: str | os.PathLike, storage_dtype: str | None = None) -> None:
    """Write the kept layers in `storage_dtype` (None: the base's own dtype)."""
    tokenizer = load_tokenizer(base)
    total = AutoConfig.from_pretrained(str(base)).get_text_config(decoder=True).num_hidden_layers
    check_layers(keep, total)  # before loading weights: a typo fails fast
    dtype = torch_dtype(storage_dtype) if storage_dtype else "auto"
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype, trust_remote_code=False)
    settings = PruneSettings(base=str(base), keep_layers=keep, storage_dtype=str(model.dtype).removeprefix("torch."))
    prune_model(model, keep)
    log.info("kept %d of %d layers: %s (%d parameters)", len(keep), total, keep, model.num_parameters())
    with atomic_dir(output) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_resolved(tmp / SETTINGS_FILE, settings, base_layers=total)
