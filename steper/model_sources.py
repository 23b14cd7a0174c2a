"""Where a model comes from: each source is built by one rule (workflow/rules/models.smk, finetune.smk)
and reads its own keys of the model's config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Keys every model has, whatever its source.
EVERY_SOURCE = frozenset({"source", "chat_template", "storage_dtype"})


@dataclass(frozen=True)
class Source:
    rule: str | None  # the rule that builds a model of this source (None: it exists already)
    needs: tuple[str, ...]  # the keys this source requires besides `source`
    reads: frozenset[str] = frozenset()  # the keys it reads besides `needs` and EVERY_SOURCE
    derived: bool = False  # built from `base`, another model of the config, whose tokenizer it keeps

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.needs) | self.reads


MODEL_SOURCES: dict[str, Source] = {
    "hub": Source("model_download", ("path", "revision")),
    "local": Source(None, ("path",)),
    "gguf": Source("model_gguf", ("package", "file"), reads=frozenset({"sha256"})),
    "prune": Source("model_prune", ("base", "keep_layers"), derived=True),
    "random": Source("model_random", (), reads=frozenset({"random"})),
    "finetune": Source("model_finetune", ("base",), reads=frozenset({"gold", "training", "stepwise", "method"}), derived=True),
}


def tokenizer_model(models: Mapping[str, Mapping[str, Any]], name: str) -> str:
    """The model of `models` whose tokenizer `name` has. A derived model saves its base's tokenizer
    as it loaded it (prune and finetune change weights, never the vocabulary), so a stage that only
    counts tokens reads the model that brought the tokenizer and needs no derived model built."""
    chain = [name]
    while MODEL_SOURCES[models[name]["source"]].derived:
        name = models[name]["base"]
        if name in chain:
            raise ValueError(f"a loop of bases ({' -> '.join([*chain, name])})")
        chain.append(name)
    return name
