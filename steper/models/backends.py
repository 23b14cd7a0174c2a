"""Which backend runs a model: the config's `generation.backend`, imported only when it is asked for
(vLLM is installed on GPU nodes only)."""

from __future__ import annotations

import os

from steper.io import InputError
from steper.models.generation import Backend, GenerationSettings

BACKENDS = ("transformers", "vllm")


def make_backend(model_dir: str | os.PathLike, settings: GenerationSettings) -> Backend:
    if settings.backend == "transformers":
        from steper.models.transformers_backend import TransformersBackend

        return TransformersBackend(model_dir, settings)
    if settings.backend == "vllm":
        from steper.models.vllm_backend import VLLMBackend

        return VLLMBackend(model_dir, settings)
    raise InputError("--settings", f"unknown backend '{settings.backend}' (known: {', '.join(BACKENDS)})", field="backend")
