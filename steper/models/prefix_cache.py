"""KV of token prefixes kept between `generate` calls, so an IRCoT step prefills only its new tokens.

Step s of a question is prompted with demonstrations + the passages of steps < s + the step's new
passages + question + chain; everything before the new passages was already computed at step s-1.
A `Segment` holds the keys/values of one token sequence from some position on and borrows the
earlier positions from its parent (the demonstrations every row of a batch shares are stored
once). The cache is bounded in bytes: least recently used segments go first, but never one that
the current call is about to reuse.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Segment:
    """KV of `tokens[start:]` per layer, each (kv_heads, len(tokens) - start, head_dim); earlier positions are the parent's."""

    tokens: torch.Tensor
    start: int
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    parent: Segment | None = None
    nbytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.nbytes = sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def __len__(self) -> int:
        return len(self.tokens)

    def kv_range(self, layer: int, begin: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of positions [begin, end) of one layer (a view unless it spans the parent)."""
        if begin >= self.start:
            return self.keys[layer][:, begin - self.start : end - self.start], self.values[layer][:, begin - self.start : end - self.start]
        assert self.parent is not None
        if end <= self.start:
            return self.parent.kv_range(layer, begin, end)
        keys, values = self.parent.kv_range(layer, begin, self.start)
        own_keys, own_values = self.keys[layer][:, : end - self.start], self.values[layer][:, : end - self.start]
        return torch.cat([keys, own_keys], dim=1), torch.cat([values, own_values], dim=1)

    def ancestors(self) -> list[Segment]:
        chain, node = [], self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain


def common_length(first: torch.Tensor, second: torch.Tensor) -> int:
    """Length of the longest common prefix of two 1-D token tensors."""
    size = min(len(first), len(second))
    if size == 0:
        return 0
    same = first[:size] == second[:size]
    return size if bool(same.all()) else int((~same).nonzero()[0])


class PrefixCache:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.segments: OrderedDict[int, Segment] = OrderedDict()
        self.pinned: set[int] = set()
        self.nbytes = 0

    def lookup(self, tokens: torch.Tensor) -> tuple[Segment | None, int]:
        """The cached segment sharing the longest prefix with `tokens`, and that prefix's length."""
        best, best_length = None, 0
        for segment in self.segments.values():
            length = common_length(segment.tokens, tokens)
            if length > best_length:
                best, best_length = segment, length
        if best is not None:
            for node in (best, *best.ancestors()):
                if id(node) in self.segments:
                    self.segments.move_to_end(id(node))
        return best, best_length

    def pin(self, segments: list[Segment | None]) -> None:
        """Keep these segments (and what they borrow from) until `unpin`: the current call reuses them."""
        for segment in segments:
            if segment is not None:
                self.pinned.update(id(node) for node in (segment, *segment.ancestors()))

    def unpin(self) -> None:
        self.pinned.clear()

    def add(self, segment: Segment, replaces: Segment | None = None) -> bool:
        """Store `segment`; `replaces` (the same question's previous step, now a prefix of it) is dropped."""
        if replaces is not None and replaces is not segment.parent and id(replaces) in self.segments:
            if not any(node is replaces for node in segment.ancestors()):
                self._remove(replaces)
        if segment.nbytes > self.max_bytes:
            return False
        for key in list(self.segments):
            if self.nbytes + segment.nbytes <= self.max_bytes:
                break
            if key in self.segments and key not in self.pinned and not self._is_parent(key):
                self._remove(self.segments[key])
        if self.nbytes + segment.nbytes > self.max_bytes:
            log.debug("prefix cache full (%d MB): segment of %d tokens not kept", self.nbytes >> 20, len(segment))
            return False
        self.segments[id(segment)] = segment
        self.nbytes += segment.nbytes
        return True

    def _is_parent(self, key: int) -> bool:
        return any(segment.parent is not None and id(segment.parent) == key for segment in self.segments.values())

    def _remove(self, segment: Segment) -> None:
        self.segments.pop(id(segment))
        self.nbytes -= segment.nbytes
