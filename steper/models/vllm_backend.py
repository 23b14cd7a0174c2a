"""vLLM backend for the paper tier's 70B/72B teachers (tensor parallel, automatic prefix caching).

vLLM is an optional dependency (`pip install steper[gpu]`); it is imported only when this backend
is built. Requests are plain data made by pure functions, so their content is tested without vLLM.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from steper.models.generation import Generation, GenerationSettings, StepEnd, cut_text, token_budgets
from steper.models.precision import resolve_dtype_name
from steper.models.prompting import Prompt, encode

log = logging.getLogger(__name__)


def engine_kwargs(model_dir: str | os.PathLike, settings: GenerationSettings, dtype_name: str) -> dict[str, Any]:
    """`dtype_name` is the resolved dtype (never "auto": vLLM's own "auto" would follow the checkpoint)."""
    return {
        "model": str(model_dir),
        "tensor_parallel_size": max(1, settings.tensor_parallel_size),
        "enable_prefix_caching": settings.prefix_caching,
        "dtype": dtype_name,
        "max_model_len": settings.max_model_len,
        "seed": settings.seed,
        "trust_remote_code": False,
    }


def sampling_kwargs(max_new_tokens: int, stop: list[str]) -> dict[str, Any]:
    """Greedy; vLLM drops the stop string from the text, as the transformers backend does."""
    return {"temperature": 0.0, "max_tokens": max_new_tokens, "stop": list(stop), "include_stop_str_in_output": False}


def build_requests(tokenizer, prompts: list[Prompt], chat_template: bool) -> list[dict[str, list[int]]]:
    """Token-id prompts, encoded exactly as the transformers backend encodes them (same special tokens)."""
    return [{"prompt_token_ids": ids} for ids in encode(tokenizer, prompts, chat_template)]


class VLLMBackend:
    def __init__(self, model_dir: str | os.PathLike, settings: GenerationSettings):
        try:
            import vllm
        except ImportError:
            raise ImportError("the vllm backend needs vLLM on a GPU machine: pip install 'steper[gpu]'") from None
        self.settings = settings
        self._vllm = vllm
        self.dtype_name = resolve_dtype_name(settings.dtype, "cuda")
        log.info("starting vLLM for %s (tensor_parallel_size=%d, %s)", model_dir, max(1, settings.tensor_parallel_size), self.dtype_name)
        self.llm = vllm.LLM(**engine_kwargs(model_dir, settings, self.dtype_name))
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = settings.max_model_len  # the engine was built with it (vLLM refuses one the model cannot hold)

    def count_tokens(self, prompts: list[Prompt]) -> list[int]:
        """Prompt lengths in tokens, encoded exactly as `generate` encodes them."""
        return [len(ids) for ids in encode(self.tokenizer, prompts, self.settings.chat_template)]

    def generate(
        self, prompts: list[Prompt], max_new_tokens: int, stop: list[str], step_end: StepEnd | None = None
    ) -> list[Generation]:
        if not prompts:
            return []
        requests = build_requests(self.tokenizer, prompts, self.settings.chat_template)
        budgets = token_budgets([len(request["prompt_token_ids"]) for request in requests], max_new_tokens, self.max_model_len)
        # vLLM rejects a prompt longer than max_model_len (failing the batch); such prompts get an empty generation instead.
        runnable = [index for index, budget in enumerate(budgets) if budget]
        params = [self._vllm.SamplingParams(**sampling_kwargs(budgets[index], stop)) for index in runnable]
        outputs = self.llm.generate([requests[index] for index in runnable], params, use_tqdm=True) if runnable else []
        results = [Generation("", len(request["prompt_token_ids"]), 0) for request in requests]
        # vLLM cannot stop a sequence at a step end, so the step is cut out afterwards.
        for index, output in zip(runnable, outputs):
            results[index] = Generation(
                text=cut_text(output.outputs[0].text, stop, step_end),
                prompt_tokens=len(output.prompt_token_ids),
                completion_tokens=len(output.outputs[0].token_ids),
            )
        return results
