"""Attention over a batch whose rows share one prefix, with pre-allocated per-row KV buffers.

A batch's KV has two parts:
- the prefix every row shares (the few-shot demonstrations), stored once with batch size 1: all
  rows' queries attend to it as one matrix product, instead of copying it into every row;
- each row's own tokens, in a buffer allocated once per batch for the prompt and every new
  token; a forward pass writes its keys/values in place at each row's next free slots.
The two partial attentions are merged through their log-sum-exp, which gives exactly the softmax
over the concatenation. Decoding therefore never concatenates the cache, and a finished row is
dropped by selecting the remaining rows once.

Hooked into transformers as an attention implementation (`ATTENTION`): the model's own modules
compute projections, rotary embeddings and MLPs; only the attention itself is replaced, and
only while the backend's forward pass runs (`model.generate` keeps transformers' own).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

ATTENTION = "steper_batch"
_flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


class BatchKV:
    """KV of one batch: a shared prefix (batch 1) and per-row buffers of `capacity` slots."""

    def __init__(
        self,
        shared: list[tuple[torch.Tensor, torch.Tensor]],
        layers: int,
        rows: int,
        capacity: int,
        kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device,
    ):
        self.shared = shared  # per layer (1, kv_heads, S, head_dim), or [] when nothing is shared
        self.shared_length = shared[0][0].shape[2] if shared else 0
        # Zeros, not empty: masked slots get weight 0, and 0 * NaN from uninitialised memory would be NaN.
        self.keys = [torch.zeros((rows, kv_heads, capacity, head_dim), dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros((rows, kv_heads, capacity, head_dim), dtype=dtype, device=device) for _ in range(layers)]
        self.lengths = torch.zeros(rows, dtype=torch.long, device=device)  # own slots filled, per row
        self.dtype = dtype
        self._slots: torch.Tensor | None = None
        self._masks: dict[int | None, torch.Tensor] = {}
        self._visible = 0

    @property
    def rows(self) -> int:
        return self.lengths.shape[0]

    def prepare(self, width: int, windows: set[int | None], groups: int) -> None:
        """Slots and masks of the next forward pass of `width` tokens per row (right-padded).

        The masks are built once per pass, not per layer, already repeated for the query heads that
        share a KV head (see `attend`)."""
        device = self.lengths.device
        self._slots = self.lengths[:, None] + torch.arange(width, device=device)[None, :]
        self._visible = int(self._slots.max()) + 1
        own = torch.arange(self._visible, device=device)[None, None, :]
        causal = own <= self._slots[:, :, None]  # (rows, width, visible)
        self._masks = {}
        for window in windows:
            visible = causal if window is None else causal & (own > self._slots[:, :, None] - window)
            mask = torch.zeros(visible.shape, dtype=self.dtype, device=device).masked_fill_(~visible, float("-inf"))
            self._masks[window] = mask.repeat(1, groups, 1)[:, None]

    def advance(self, counts: torch.Tensor) -> None:
        self.lengths = self.lengths + counts

    def select(self, index: torch.Tensor) -> None:
        """Keep only the rows in `index` (finished rows leave the batch)."""
        self.keys = [k.index_select(0, index) for k in self.keys]
        self.values = [v.index_select(0, index) for v in self.values]
        self.lengths = self.lengths.index_select(0, index)

    def row_kv(self, layer: int, row: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Copies of one row's own keys/values, slots [0, end), shaped (kv_heads, end, head_dim)."""
        return self.keys[layer][row, :, :end].clone(), self.values[layer][row, :, :end].clone()

    def attend(self, layer: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float, window: int | None) -> torch.Tensor:
        """Write this pass's keys/values into the row buffers and attend; returns (rows, width, heads, head_dim)."""
        assert self._slots is not None
        rows, heads, width, head_dim = query.shape
        kv_heads = key.shape[1]
        groups = heads // kv_heads
        row_index = torch.arange(rows, device=query.device)[:, None, None]
        head_index = torch.arange(kv_heads, device=query.device)[None, :, None]
        slots = self._slots[:, None, :]
        self.keys[layer][row_index, head_index, slots] = key
        self.values[layer][row_index, head_index, slots] = value
        # Query heads of one KV head are folded into the query length: (rows, kv_heads, groups * width, head_dim).
        folded = query.reshape(rows, kv_heads, groups * width, head_dim)
        mask = self._masks[window]
        own_keys = self.keys[layer][:, :, : self._visible]
        own_values = self.values[layer][:, :, : self._visible]
        output, lse = _flash(folded, own_keys, own_values, attn_mask=mask, scale=scale)
        if self.shared_length:
            assert window is None, "sliding-window layers never share a prefix: positions would shift"
            shared_keys, shared_values = self.shared[layer]
            flat = folded.transpose(0, 1).reshape(1, kv_heads, rows * groups * width, head_dim)
            shared_out, shared_lse = _flash(flat, shared_keys, shared_values, scale=scale)
            shared_out = shared_out.reshape(kv_heads, rows, groups * width, head_dim).transpose(0, 1)
            shared_lse = shared_lse.reshape(kv_heads, rows, groups * width).transpose(0, 1)
            total = torch.logaddexp(lse, shared_lse)
            own_weight = torch.exp(lse - total)[..., None].to(output.dtype)
            shared_weight = torch.exp(shared_lse - total)[..., None].to(output.dtype)
            output = output * own_weight + shared_out * shared_weight
        # (rows, kv_heads, groups, width, head_dim) -> (rows, width, heads, head_dim), head = kv_head * groups + group
        return output.reshape(rows, kv_heads, groups, width, head_dim).permute(0, 3, 1, 2, 4).reshape(rows, width, heads, head_dim)


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, batch_kv: BatchKV | None = None, **kwargs):
    if batch_kv is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    window = getattr(module, "sliding_window", None)
    return batch_kv.attend(module.layer_idx, query, key, value, scaling, window), None


AttentionInterface.register(ATTENTION, _attention)


@contextmanager
def batch_attention(model):
    """Route the model's attention through `BatchKV` for the duration of one forward pass."""
    config = model.config
    previous = config._attn_implementation
    config._attn_implementation = ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = previous
