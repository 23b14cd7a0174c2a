"""What the preflight runs on, made on the node itself (no hub, no downloads): a corpus of toy-world
passages, a tiny random Llama with a tokenizer trained on it (as the smoke tier and the rehearsal
build theirs), prompts, and step-wise training examples in the format `steper train run` reads."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path

from steper.data.toy_names import pools
from steper.data.toy_world import build_world
from steper.models.prompting import Prompt
from steper.models.tiny import RandomModelSettings

# head_dim 64, a size every vLLM attention backend takes, and 8 query and 8 key/value heads, so
# vLLM can shard the model over 1, 2, 4 or 8 GPUs.
MODEL = RandomModelSettings(hidden_size=512, layers=2, heads=8, kv_heads=8, intermediate_size=1024, vocab_size=1024, max_position_embeddings=2048)
MAX_MODEL_LEN = 1024
N_PASSAGES = 240
N_PROMPTS = 8
N_TRAIN_IDS = 24


def tensor_parallel_size(gpus: int, heads: int = MODEL.heads) -> int:
    """The most GPUs (at most `gpus`) the tiny model's heads divide evenly over."""
    return max((size for size in range(1, max(1, gpus) + 1) if heads % size == 0), default=1)


@cache
def passages(seed: int = 0) -> list[tuple[str, str]]:
    """(title, text) of toy-world passages."""
    world = build_world(random.Random(f"preflight-{seed}"), pools()[0], N_PASSAGES)
    return [(title, passage.text) for title, passage in world.passages.items()]


def write_corpus(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for index, (title, text) in enumerate(passages()):
            out.write(json.dumps({"id": f"p{index}", "title": title, "contents": text}) + "\n")
    return path


def prompts() -> list[Prompt]:
    return [Prompt(f"{text}\nQ: What is said about {title}?\nA:") for title, text in passages()[:N_PROMPTS]]


def write_examples(path: Path) -> Path:
    """First, mid and final examples of `N_TRAIN_IDS` chains, each step a sentence of its passage."""
    with path.open("w", encoding="utf-8") as out:
        for index, (title, text) in enumerate(passages()[:N_TRAIN_IDS]):
            context = f"{text}\nQ: What is said about {title}?\nA:"
            sentences = [part.strip() + "." for part in text.split(".") if part.strip()]
            chain = ""
            for step, kind in enumerate(("first", "mid", "final"), start=1):
                sentence = sentences[min(step - 1, len(sentences) - 1)]
                chain += f" {sentence}"
                completion = f"{chain} So the answer is: {title}." if kind == "final" else chain
                example = {"id": f"q{index}", "kind": kind, "step": step, "prompt": context, "completion": completion,
                           "context": context, "continuation": ""}
                out.write(json.dumps(example) + "\n")
    return path
