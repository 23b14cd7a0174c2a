"""Greedy batched generation with transformers, built for IRCoT-shaped prompts on CPU.

A decode loop of its own instead of `model.generate`, because the prompts of a framework run are
highly redundant and the work that matters is not redoing it:
- the prefix every row of a batch shares (few-shot demonstrations) is computed once and attended
  by all rows without being copied into each (`batch_attention`);
- each question's previous prompt is kept (`prefix_cache`): step s's prompt starts with step
  s-1's demonstrations and passages, so only the new passages, question and chain are prefilled;
- keys/values go into per-row buffers allocated once per batch; a finished row (stop string,
  step end, EOS or token budget) leaves the batch at once.
Rows are right-padded to the batch's widest new part; positions are explicit, so every row sees
exactly what it would see alone, and greedy outputs equal one-prompt-at-a-time generation.
"""

from __future__ import annotations

import logging
import os

import torch
from tqdm import tqdm

from steper.models.batch_attention import BatchKV, batch_attention
from steper.models.generation import Generation, GenerationSettings, StepEnd, cut_text, find_cut, token_budgets
from steper.models.loading import load_causal_lm
from steper.models.precision import resolve_dtype_name
from steper.models.prefix_cache import PrefixCache, Segment
from steper.models.prompting import Prompt, encode

log = logging.getLogger(__name__)


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
    """Length of the prefix computed once per batch; every row keeps at least one own token to predict from."""
    return max(0, min(common_prefix_length(rows), min(len(row) for row in rows) - 1))


class TransformersBackend:
    def __init__(self, model_dir: str | os.PathLike, settings: GenerationSettings):
        self.settings = settings
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype_name = resolve_dtype_name(settings.dtype, self.device)
        log.info("generation dtype: %s (setting %r, %s)", self.dtype_name, settings.dtype, self.device.type)
        self.model, self.tokenizer = load_causal_lm(model_dir, self.dtype_name)
        self.model.to(self.device)
        self.dtype = next(self.model.parameters()).dtype
        config = self.model.config.get_text_config(decoder=True)
        self.layers = config.num_hidden_layers
        self.kv_heads = config.num_key_value_heads
        self.groups = config.num_attention_heads // config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.max_model_len = min(settings.max_model_len, getattr(config, "max_position_embeddings", settings.max_model_len))
        self.pad_id = self.tokenizer.pad_token_id
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        sliding = _has_sliding_layers(config)
        self.windows: set[int | None] = {None, config.sliding_window} if sliding else {None}
        # A prefix shared in batch 1 would need its own window bookkeeping; sliding models keep all KV per row.
        self.share_prefix = settings.prefix_caching and not sliding
        self.cache = PrefixCache(settings.prefix_cache_mb << 20) if settings.prefix_caching else None
        # Work done, for benchmarks and tests: positions computed in prefill (padding included),
        # prompt positions taken from kept KV instead, and decode forward passes.
        self.stats = {"prefill_tokens": 0, "prefix_tokens_reused": 0, "prompt_tokens": 0, "decode_steps": 0}
        self._decoder = self.model.get_decoder()
        self._head = self.model.get_output_embeddings()
        torch.manual_seed(settings.seed)

    def count_tokens(self, prompts: list[Prompt]) -> list[int]:
        """Prompt lengths in tokens, encoded exactly as `generate` encodes them."""
        return [len(row) for row in encode(self.tokenizer, prompts, self.settings.chat_template)]

    def generate(
        self, prompts: list[Prompt], max_new_tokens: int, stop: list[str], step_end: StepEnd | None = None
    ) -> list[Generation]:
        if not prompts:
            return []
        rows = encode(self.tokenizer, prompts, self.settings.chat_template)
        budgets = token_budgets([len(row) for row in rows], max_new_tokens, self.max_model_len)
        results: list[Generation | None] = [Generation("", len(row), 0) if budget == 0 else None for row, budget in zip(rows, budgets)]
        # Longest first: similar lengths share a batch (little padding) and memory peaks at once.
        order = sorted((index for index, budget in enumerate(budgets) if budget), key=lambda index: -len(rows[index]))
        tensors = {index: torch.tensor(rows[index]) for index in order}
        matches = {index: self.cache.lookup(tensors[index]) if self.cache else (None, 0) for index in order}
        if self.cache:
            self.cache.pin([segment for segment, _ in matches.values()])
        size = max(1, self.settings.batch_size)
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        log.info("generating %d prompts in %d batches of <= %d", len(order), len(batches), size)
        try:
            for batch in tqdm(batches, desc="generate", unit="batch", disable=len(batches) < 2):
                outputs = self._generate_batch(
                    [tensors[index] for index in batch], [matches[index] for index in batch], [budgets[index] for index in batch], stop, step_end
                )
                for index, output in zip(batch, outputs):
                    results[index] = output
        finally:
            if self.cache:
                self.cache.unpin()
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(
        self, rows: list[torch.Tensor], matches: list[tuple[Segment | None, int]], budgets: list[int], stop: list[str], step_end: StepEnd | None
    ) -> list[Generation]:
        size = len(rows)
        shared = shared_prefix_length([row.tolist() for row in rows]) if self.share_prefix else 0
        root = self._root(rows[0][:shared]) if shared else None
        # Positions already computed per row: the shared prefix, or more from the row's own kept KV.
        reused = [max(shared, min(length, len(row) - 1)) if segment else shared for row, (segment, length) in zip(rows, matches)]
        new_counts = [len(row) - done for row, done in zip(rows, reused)]
        width = max(new_counts)
        own_kept = [done - shared for done in reused]
        capacity = max(max(kept + width for kept in own_kept), max(len(row) - shared + budget for row, budget in zip(rows, budgets)))
        kv = BatchKV(
            [tuple(t[None] for t in root.kv_range(layer, 0, shared)) for layer in range(self.layers)] if root else [],
            self.layers, size, capacity, self.kv_heads, self.head_dim, self.dtype, self.device,
        )
        input_ids = torch.full((size, width), self.pad_id, dtype=torch.long)
        for slot, (row, done, (segment, _)) in enumerate(zip(rows, reused, matches)):
            input_ids[slot, : len(row) - done] = row[done:]
            if done > shared:
                assert segment is not None
                for layer in range(self.layers):
                    keys, values = segment.kv_range(layer, shared, done)
                    kv.keys[layer][slot, :, : done - shared] = keys
                    kv.values[layer][slot, :, : done - shared] = values
        kv.lengths = torch.tensor(own_kept, device=self.device)
        counts = torch.tensor(new_counts, device=self.device)
        logits = self._forward(input_ids.to(self.device), kv, counts - 1)
        kv.advance(counts)
        self.stats["prefill_tokens"] += input_ids.numel()
        self.stats["prefix_tokens_reused"] += sum(reused)
        self.stats["prompt_tokens"] += sum(len(row) for row in rows)
        if self.cache:
            for slot, (row, (segment, _)) in enumerate(zip(rows, matches)):
                own = [kv.row_kv(layer, slot, len(row) - shared) for layer in range(self.layers)]
                self.cache.add(Segment(row, shared, [k for k, _ in own], [v for _, v in own], parent=root), replaces=segment)

        active = list(range(size))
        generated: list[list[int]] = [[] for _ in rows]
        texts = [""] * size
        while True:
            tokens = logits.argmax(dim=-1).tolist()
            keep = []
            for slot, row in enumerate(active):
                token = tokens[slot]
                generated[row].append(token)
                if token in self.eos_ids:
                    continue
                texts[row] = self.tokenizer.decode(generated[row], skip_special_tokens=True)
                if len(generated[row]) < budgets[row] and find_cut(texts[row], stop, step_end) is None:
                    keep.append(slot)
            if not keep:
                break
            if len(keep) < len(active):
                kv.select(torch.tensor(keep, device=self.device))
                active = [active[slot] for slot in keep]
            step_ids = torch.tensor([[tokens[slot]] for slot in keep], device=self.device)
            logits = self._forward(step_ids, kv, torch.zeros(len(keep), dtype=torch.long, device=self.device))
            kv.advance(1)
            self.stats["decode_steps"] += 1
        return [
            Generation(text=cut_text(texts[row], stop, step_end), prompt_tokens=len(rows[row]), completion_tokens=len(generated[row]))
            for row in range(size)
        ]

    def _forward(self, input_ids: torch.Tensor, kv: BatchKV, last: torch.Tensor) -> torch.Tensor:
        """Next-token logits (fp32) after each row's token at column `last`; writes the pass's KV into `kv`."""
        size, width = input_ids.shape
        positions = kv.shared_length + kv.lengths[:, None] + torch.arange(width, device=self.device)[None, :]
        kv.prepare(width, self.windows, self.groups)
        with batch_attention(self.model):
            hidden = self._decoder(input_ids=input_ids, position_ids=positions, use_cache=False, batch_kv=kv).last_hidden_state
        return self._head(hidden[torch.arange(size, device=self.device), last]).float()

    def _root(self, tokens: torch.Tensor) -> Segment:
        """KV of the batch's shared prefix: kept from an earlier call as far as the tokens agree, the rest prefilled."""
        found, length = self.cache.lookup(tokens) if self.cache else (None, 0)
        length = min(length, len(tokens))
        if found is not None and length == len(tokens) == len(found) and found.start == 0:
            return found
        kept = [found.kv_range(layer, 0, length) for layer in range(self.layers)] if found and length else []
        missing = len(tokens) - length
        if missing:
            log.debug("prefilling shared prefix: %d tokens (%d reused)", len(tokens), length)
            kv = BatchKV([(k[None], v[None]) for k, v in kept], self.layers, 1, missing, self.kv_heads, self.head_dim, self.dtype, self.device)
            self._forward(tokens[None, length:].to(self.device), kv, torch.tensor([missing - 1], device=self.device))
            kept = [(torch.cat([k, kv.keys[layer][0]], dim=1), torch.cat([v, kv.values[layer][0]], dim=1)) for layer, (k, v) in enumerate(kept)] or [
                (kv.keys[layer][0], kv.values[layer][0]) for layer in range(self.layers)
            ]
        self.stats["prefill_tokens"] += missing
        keys, values = [k.contiguous() for k, _ in kept], [v.contiguous() for _, v in kept]
        root = Segment(tokens.clone(), 0, keys, values)
        if self.cache:
            self.cache.add(root)
            self.cache.pin([root])
        return root


def _eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id
    ids.update(configured if isinstance(configured, list) else [configured])
    return {token for token in ids if token is not None}


def _has_sliding_layers(config) -> bool:
    layer_types = getattr(config, "layer_types", None) or []
    return "sliding_attention" in layer_types
