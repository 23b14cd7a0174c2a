"""The generation interface every framework and evaluation calls, whatever runs the model.

Two backends sit behind `make_backend`: transformers (CPU or GPU, the smoke/demo tiers and small
students) and vLLM (the paper tier's 70B teachers). Both decode greedily and cut the text the same
way, so a trace does not depend on which backend wrote it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from steper.io import InputError
from steper.models.prompting import Prompt

StepEnd = Callable[[str], "int | None"]


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class GenerationSettings:
    backend: str = "transformers"
    dtype: str = "bfloat16"
    batch_size: int = 8
    chat_template: bool = False
    tensor_parallel_size: int = 1
    prefix_caching: bool = True
    max_model_len: int = 8192
    seed: int = 0


class Backend(Protocol):
    def generate(
        self, prompts: list[Prompt], max_new_tokens: int, stop: list[str], step_end: StepEnd | None = None
    ) -> list[Generation]: ...


BACKENDS = ("transformers", "vllm")


def make_backend(model_dir: str | os.PathLike, settings: GenerationSettings) -> Backend:
    if settings.backend == "transformers":
        from steper.models.transformers_backend import TransformersBackend

        return TransformersBackend(model_dir, settings)
    if settings.backend == "vllm":
        from steper.models.vllm_backend import VLLMBackend

        return VLLMBackend(model_dir, settings)
    raise InputError("--settings", f"unknown backend '{settings.backend}' (known: {', '.join(BACKENDS)})", field="backend")


def find_cut(text: str, stop: list[str], step_end: StepEnd | None = None) -> int | None:
    """Where the completion ends: before the first stop string, or where `step_end` says the step is done."""
    hits = [text.find(marker) for marker in stop if marker and marker in text]
    cut = min(hits) if hits else None
    if step_end is not None:
        end = step_end(text if cut is None else text[:cut])
        if end is not None:
            cut = end if cut is None else min(cut, end)
    return cut


def cut_text(text: str, stop: list[str], step_end: StepEnd | None = None) -> str:
    cut = find_cut(text, stop, step_end)
    return text if cut is None else text[:cut]
