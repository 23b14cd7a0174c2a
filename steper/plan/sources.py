"""Where a model comes from: each source is built by one rule (workflow/rules/models.smk, finetune.smk)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    rule: str | None  # the rule that builds a model of this source (None: it exists already)
    needs: tuple[str, ...]  # the model keys this source requires besides `source`
    derived: bool = False  # built from `base`, another model of the config


MODEL_SOURCES: dict[str, Source] = {
    "hub": Source("model_download", ("path", "revision")),
    "local": Source(None, ("path",)),
    "gguf": Source("model_gguf", ("package", "file")),
    "prune": Source("model_prune", ("base", "keep_layers"), derived=True),
    "random": Source("model_random", ()),
    "finetune": Source("model_finetune", ("base",), derived=True),
}
