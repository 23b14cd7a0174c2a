"""The generation interface every framework and evaluation calls, whatever runs the model.

Two backends implement it (`steper.models.backends.make_backend` picks one): transformers (CPU or
GPU, the smoke/demo tiers and small students) and vLLM (the paper tier's 70B teachers). Both decode
greedily and cut the text the same way, so a trace does not depend on which backend wrote it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from steper.models.prompting import Prompt
from steper.settings import from_schema

log = logging.getLogger(__name__)

StepEnd = Callable[[str], "int | None"]


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class GenerationSettings:
    """How a model generates; the defaults are the schema's `teacher.generation` (the evaluation's are the same)."""

    backend: str = from_schema("teacher.generation.backend")
    # "auto": bf16 where the device computes it natively, fp32 elsewhere (steper.models.precision).
    dtype: str = from_schema("teacher.generation.dtype")
    batch_size: int = from_schema("teacher.generation.batch_size")
    chat_template: bool = from_schema("models.*.chat_template")
    # The job's GPUs (`<section>.resources.gpus`, 0 on CPU): vLLM shards the model over max(1, this).
    tensor_parallel_size: int = from_schema("teacher.resources.gpus")
    prefix_caching: bool = from_schema("teacher.generation.prefix_caching")
    # transformers backend: memory for KV kept between calls (vLLM manages its own).
    prefix_cache_mb: int = from_schema("teacher.generation.prefix_cache_mb")
    max_model_len: int = from_schema("teacher.generation.max_model_len")
    seed: int = from_schema("seed")


class Backend(Protocol):
    dtype_name: str  # the dtype actually computed in ("auto" resolved), for the settings sidecar
    max_model_len: int  # prompt + new tokens must fit in it

    def generate(
        self, prompts: list[Prompt], max_new_tokens: int, stop: list[str], step_end: StepEnd | None = None
    ) -> list[Generation]: ...

    def count_tokens(self, prompts: list[Prompt]) -> list[int]: ...


def token_budgets(prompt_tokens: list[int], max_new_tokens: int, max_model_len: int) -> list[int]:
    """New tokens each prompt may get so that prompt + completion fits in `max_model_len`.

    A prompt that leaves no room gets 0: both backends return an empty generation for it instead of
    failing the whole batch (frameworks shorten their prompts with `count_tokens` beforehand)."""
    budgets = [max(0, min(max_new_tokens, max_model_len - length)) for length in prompt_tokens]
    short = sum(0 < budget < max_new_tokens for budget in budgets)
    refused = sum(budget == 0 for budget in budgets)
    if short or refused:
        log.warning(
            "max_model_len=%d: %d prompts get fewer than %d new tokens, %d prompts are too long and get none",
            max_model_len, short, max_new_tokens, refused,
        )
    return budgets


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
