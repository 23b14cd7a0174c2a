"""Greedy batched generation with transformers, built for prompts that share a long few-shot prefix.

A manual decode loop over a KV cache instead of `model.generate`, for three reasons:
- the shared prefix (few-shot demonstrations) is prefilled once and its KV kept across calls;
- each batch row is laid out as [shared prefix][padding][own suffix] with an attention mask with
  holes and explicit position ids, so every row sees exactly the positions it would see alone;
- a row stops as soon as its text holds a stop string or a complete step, and finished rows are
  dropped from the batch (cache included), so they cost nothing more.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from tqdm import tqdm
from transformers import DynamicCache

from steper.models.generation import Generation, GenerationSettings, StepEnd, cut_text, find_cut
from steper.models.loading import load_causal_lm
from steper.models.prompting import Prompt, encode

log = logging.getLogger(__name__)

KV = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class _Prefix:
    """The last shared prefix's KV (batch 1), kept because consecutive calls repeat it."""

    tokens: tuple[int, ...]
    kv: KV


def common_prefix_length(rows: list[list[int]] | list[tuple[int, ...]]) -> int:
    if not rows:
        return 0
    shortest = min(len(row) for row in rows)
    for position in range(shortest):
        token = rows[0][position]
        if any(row[position] != token for row in rows[1:]):
            return position
    return shortest


def shared_prefix_length(rows: list[list[int]]) -> int:
    """Length of the prefix prefilled once; every row keeps at least one own token to predict from."""
    return max(0, min(common_prefix_length(rows), min(len(row) for row in rows) - 1))


class TransformersBackend:
    def __init__(self, model_dir: str | os.PathLike, settings: GenerationSettings):
        self.settings = settings
        self.model, self.tokenizer = load_causal_lm(model_dir, settings.dtype)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.pad_id = self.tokenizer.pad_token_id
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self._prefix: _Prefix | None = None
        self.reuse_prefix = settings.prefix_caching and not _has_sliding_layers(self.model.config)
        if settings.prefix_caching and not self.reuse_prefix:
            # Sliding windows count cache slots, not positions, so the padding between prefix and suffix would shift them.
            log.warning("prefix reuse disabled: the model has sliding-window attention layers")
        # Work done, for benchmarks and tests: positions prefilled (padding included), prefix tokens reused.
        self.stats = {"prefill_tokens": 0, "prefix_tokens_reused": 0, "decode_steps": 0}
        torch.manual_seed(settings.seed)

    def reset_prefix_cache(self) -> None:
        self._prefix = None

    def generate(
        self, prompts: list[Prompt], max_new_tokens: int, stop: list[str], step_end: StepEnd | None = None
    ) -> list[Generation]:
        if not prompts:
            return []
        rows = encode(self.tokenizer, prompts, self.settings.chat_template)
        too_long = sum(len(row) + max_new_tokens > self.settings.max_model_len for row in rows)
        if too_long:
            log.warning("%d prompts exceed max_model_len=%d with the new tokens", too_long, self.settings.max_model_len)
        # Longest first: similar lengths share a batch (little padding) and memory peaks at once.
        order = sorted(range(len(rows)), key=lambda index: -len(rows[index]))
        size = max(1, self.settings.batch_size)
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        log.info("generating %d prompts in %d batches of <= %d", len(rows), len(batches), size)
        results: list[Generation | None] = [None] * len(rows)
        for batch in tqdm(batches, desc="generate", unit="batch", disable=len(batches) < 2):
            outputs = self._generate_batch([rows[index] for index in batch], max_new_tokens, stop, step_end)
            for index, output in zip(batch, outputs):
                results[index] = output
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(
        self, rows: list[list[int]], max_new_tokens: int, stop: list[str], step_end: StepEnd | None
    ) -> list[Generation]:
        size = len(rows)
        shared = shared_prefix_length(rows) if self.reuse_prefix else 0
        suffixes = [row[shared:] for row in rows]
        width = max(len(suffix) for suffix in suffixes)
        input_ids = torch.full((size, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((size, shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        positions = torch.full((size, width), shared, dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            start = width - len(suffix)
            input_ids[row, start:] = torch.tensor(suffix)
            mask[row, shared + start :] = 1
            positions[row, start:] = torch.arange(shared, shared + len(suffix))
        next_position = torch.tensor([len(row) for row in rows])
        cache = self._cache_for(rows[0][:shared], size)
        input_ids, mask, positions, next_position = (t.to(self.device) for t in (input_ids, mask, positions, next_position))

        logits = self._forward(input_ids, mask, positions, cache)
        self.stats["prefill_tokens"] += input_ids.numel()
        self.stats["prefix_tokens_reused"] += shared * (size - 1)
        active = list(range(size))
        generated: list[list[int]] = [[] for _ in rows]
        texts = [""] * size
        for step in range(max_new_tokens):
            tokens = logits.argmax(dim=-1)
            keep = []
            for slot, row in enumerate(active):
                token = int(tokens[slot])
                generated[row].append(token)
                if token in self.eos_ids:
                    continue
                texts[row] = self.tokenizer.decode(generated[row], skip_special_tokens=True)
                if find_cut(texts[row], stop, step_end) is None:
                    keep.append(slot)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, tokens, next_position = mask[index], tokens[index], next_position[index]
                active = [active[slot] for slot in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            logits = self._forward(tokens[:, None], mask, next_position[:, None], cache)
            next_position = next_position + 1
            self.stats["decode_steps"] += 1
        return [
            Generation(text=cut_text(texts[row], stop, step_end), prompt_tokens=len(rows[row]), completion_tokens=len(generated[row]))
            for row in range(size)
        ]

    def _forward(self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
        output = self.model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1
        )
        return output.logits[:, -1, :].float()

    def _cache_for(self, prefix: list[int], size: int) -> DynamicCache:
        """A cache holding the prefix's KV for every row (empty when there is no shared prefix)."""
        config = self.model.config
        if not prefix:
            return DynamicCache(config=config)
        kv = self._prefix_kv(prefix)
        return DynamicCache(ddp_cache_data=[(k.expand(size, -1, -1, -1), v.expand(size, -1, -1, -1)) for k, v in kv], config=config)

    @torch.inference_mode()
    def _prefix_kv(self, prefix: list[int]) -> KV:
        """KV of `prefix`, reusing (and extending) the kept prefix as far as the tokens agree."""
        kept = self._prefix
        reused = common_prefix_length([list(kept.tokens), prefix]) if kept else 0
        if kept and reused == len(prefix):
            self.stats["prefix_tokens_reused"] += reused
            return [(k[:, :, :reused], v[:, :, :reused]) for k, v in kept.kv]
        config = self.model.config
        if reused:
            cache = DynamicCache(ddp_cache_data=[(k[:, :, :reused], v[:, :, :reused]) for k, v in kept.kv], config=config)
        else:
            cache = DynamicCache(config=config)
        log.debug("prefilling shared prefix: %d tokens (%d reused)", len(prefix), reused)
        self.stats["prefill_tokens"] += len(prefix) - reused
        self.stats["prefix_tokens_reused"] += reused
        new = torch.tensor([prefix[reused:]], device=self.device)
        positions = torch.arange(reused, len(prefix), device=self.device)[None, :]
        self.model(input_ids=new, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1)
        kv = [(layer.keys, layer.values) for layer in cache.layers]
        self._prefix = _Prefix(tuple(prefix), kv)
        return kv


def _eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id
    ids.update(configured if isinstance(configured, list) else [configured])
    return {token for token in ids if token is not None}


def _has_sliding_layers(config) -> bool:
    layer_types = getattr(config.get_text_config(decoder=True), "layer_types", None) or []
    return "sliding_attention" in layer_types
