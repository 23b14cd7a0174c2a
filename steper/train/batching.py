"""Tokenised training features, kind-mixing batches of similar lengths, left-padded collation.

The sampler spreads each kind evenly over the epoch, so every window of batches holds the kinds in
proportion and sigma sees every kind often. With length grouping (the default) the examples of a
window of batches are sorted by length before being cut into batches, so a batch pads to little
more than its own length; a batch may then hold fewer kinds, which leaves the objective of
`steper.train.losses` unbiased: each batch's estimate E/(K·n)·(1/B)·Σ ℓ_e is exact summed over the
epoch, however the examples are grouped, and so is the gradient of each log σ_j (a batch without
kind j lowers σ_j, the batches with it raise it by proportionally more). What grouping changes is
the noise of that gradient, which makes Adam's steps on σ smaller; `group_by_length: false` keeps
every kind in every batch instead, at the cost of padding short first steps to long final ones.

Batches are padded on the LEFT, with position ids counting real tokens only.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Sampler

from steper.models.prompting import Prompt, encode
from steper.train.losses import IGNORE_INDEX

log = logging.getLogger(__name__)


@dataclass
class Features:
    """One tokenised example: prompt tokens carry label -100, completion tokens (+ EOS) their ids."""

    input_ids: list[int]
    labels: list[int]
    kind: int

    @property
    def n_completion(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def encode_example(tokenizer: Any, example: dict[str, Any], kind: int, max_length: int, chat_template: bool, *, eos: bool) -> Features:
    """Tokenise prompt and completion separately and mask the prompt; `eos`: the completion ends with EOS.

    The prompt goes through `steper.models.prompting.encode`, the same call the generation
    backends use, so the student is trained on exactly the token ids it will see at inference.

    Too long: tokens are dropped from the LEFT of the prompt (after a leading BOS), since the
    completion and the most recent context (question, latest passages, earlier steps) matter most.
    """
    eos_id = tokenizer.eos_token_id
    if eos_id is None:
        raise ValueError("the student tokenizer has no EOS token")
    prompt = encode(tokenizer, [Prompt(example["context"], example["continuation"])], chat_template)[0]
    completion = tokenizer(example["completion"], add_special_tokens=False)["input_ids"] + ([eos_id] if eos else [])
    completion = completion[: max_length - 1]
    room = max_length - len(completion)
    if len(prompt) > room:
        bos = tokenizer.bos_token_id
        head = prompt[:1] if bos is not None and prompt and prompt[0] == bos and room > 1 else []
        prompt = head + prompt[len(prompt) - (room - len(head)) :]
    return Features(prompt + completion, [IGNORE_INDEX] * len(prompt) + completion, kind)


def mixed_batches(
    kind_ids: Sequence[int], lengths: Sequence[int], batch_size: int, seed: int, group_by_length: bool, window: int = 32
) -> list[list[int]]:
    """Batches of example indices in which each kind is spread evenly over the epoch.

    Each kind's (shuffled) members get evenly spaced keys (j + u) / n_kind with a random phase u;
    sorting all keys interleaves the kinds in proportion, so without length grouping a kind with
    at least 1/batch_size of the data appears in every batch. With `group_by_length`, each window
    of `window` batches (kinds still in proportion) is sorted by length, then the full batches of
    the epoch are shuffled; the last, partial batch stays last so that a DataLoader chunking this
    order into `batch_size` reproduces the batches exactly.
    """
    rng = random.Random(seed)
    keyed: list[tuple[float, float, int]] = []
    for kind in sorted(set(kind_ids)):
        members = [index for index, k in enumerate(kind_ids) if k == kind]
        rng.shuffle(members)
        phase = rng.random()
        keyed.extend(((j + phase) / len(members), rng.random(), index) for j, index in enumerate(members))
    keyed.sort()
    order = [index for _, _, index in keyed]
    if group_by_length:
        span = batch_size * window
        for start in range(0, len(order), span):
            order[start : start + span] = sorted(order[start : start + span], key=lambda index: lengths[index])
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    tail = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    if group_by_length:
        rng.shuffle(batches)
    return batches + tail


class KindMixingSampler(Sampler[int]):
    """Yields the indices of `mixed_batches`, a new permutation at each pass (= epoch).

    The sampler counts its passes itself, and `set_epoch` sets the count: the trainer calls it at
    the start of every epoch, which is what puts a training resumed in its second epoch on that
    epoch's permutation (the Trainer does not forward `set_epoch` through every dataloader
    wrapper). Every rank draws the same permutation from the same seed.
    """

    def __init__(self, kind_ids: Sequence[int], lengths: Sequence[int], batch_size: int, seed: int, group_by_length: bool):
        self.kind_ids = list(kind_ids)
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group_by_length = group_by_length
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.kind_ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        batches = mixed_batches(self.kind_ids, self.lengths, self.batch_size, self.seed + self.epoch, self.group_by_length)
        self.epoch += 1
        for batch in batches:
            yield from batch


def collate(features: Sequence[Features], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-pad a batch; position ids count real tokens only, so padding never shifts positions."""
    width = max(len(f.input_ids) for f in features)
    size = (len(features), width)
    input_ids = torch.full(size, pad_id, dtype=torch.long)
    labels = torch.full(size, IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros(size, dtype=torch.long)
    position_ids = torch.zeros(size, dtype=torch.long)
    for row, feature in enumerate(features):
        n = len(feature.input_ids)
        input_ids[row, width - n :] = torch.tensor(feature.input_ids)
        labels[row, width - n :] = torch.tensor(feature.labels)
        attention_mask[row, width - n :] = 1
        position_ids[row, width - n :] = torch.arange(n)
    kind_ids = torch.tensor([f.kind for f in features], dtype=torch.long)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "labels": labels,
        "kind_ids": kind_ids,
    }
