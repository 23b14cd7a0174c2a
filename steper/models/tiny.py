"""A tiny randomly initialised Llama with a real byte-level BPE tokenizer, for the smoke tier.

The tokenizer is trained on the run's own corpus so that token counts, prompt lengths and
truncation behave like a real model's; the weights are random because the smoke tier checks the
plumbing, not the accuracy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from steper.io import InputError, atomic_dir, read_jsonl
from steper.layout import SETTINGS_FILE
from steper.models.loading import torch_dtype
from steper.settings import from_schema, save_resolved

log = logging.getLogger(__name__)

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<|pad|>"
UNK = "<|endoftext|>"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass
class RandomModelSettings:
    hidden_size: int = from_schema("models.*.random.hidden_size")
    layers: int = from_schema("models.*.random.layers")
    heads: int = from_schema("models.*.random.heads")
    kv_heads: int = from_schema("models.*.random.kv_heads")
    intermediate_size: int = from_schema("models.*.random.intermediate_size")
    vocab_size: int = from_schema("models.*.random.vocab_size")
    max_position_embeddings: int = from_schema("models.*.random.max_position_embeddings")
    seed: int = from_schema("models.*.random.seed")
    initializer_range: float = from_schema("models.*.random.initializer_range")


def corpus_texts(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Texts to train the tokenizer on: corpus lines ({"title","contents"}) or plain text lines."""
    for path in paths:
        if not Path(path).is_file():
            raise InputError(path, "corpus file does not exist")
        if str(path).endswith(".jsonl"):
            for record in read_jsonl(path, required=("contents",)):
                title = record.get("title") or ""
                yield f"{title} {record['contents']}".strip()
        else:
            with open(path, encoding="utf-8") as handle:
                yield from (line.rstrip("\n") for line in handle if line.strip())


def train_tokenizer(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2 style), so any text, even unseen characters, round-trips exactly."""
    if not texts:
        raise InputError("--corpus", "no texts to train the tokenizer on")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[UNK, BOS, EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK, padding_side="left"
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def random_llama(settings: RandomModelSettings, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    if len(tokenizer) > settings.vocab_size:
        raise InputError("--settings", f"tokenizer has {len(tokenizer)} tokens, more than vocab_size", field="vocab_size")
    config = LlamaConfig(
        vocab_size=settings.vocab_size,
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        num_key_value_heads=settings.kv_heads,
        max_position_embeddings=settings.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=settings.initializer_range,
        dtype="float32",
    )
    torch.manual_seed(settings.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def build_random_model(corpus: list[str | os.PathLike], output: str | os.PathLike, settings: RandomModelSettings, storage_dtype: str = "float32") -> None:
    """The model is initialised in fp32 (so its weights do not depend on the storage dtype's
    rounding of the initialiser) and written in `storage_dtype`."""
    texts = list(corpus_texts(corpus))
    log.info("training a %d-token BPE tokenizer on %d texts", settings.vocab_size, len(texts))
    tokenizer = train_tokenizer(texts, settings.vocab_size)
    model = random_llama(settings, tokenizer)
    log.info("random Llama: %d layers, hidden %d, %d parameters", settings.layers, settings.hidden_size, model.num_parameters())
    model.to(torch_dtype(storage_dtype))
    with atomic_dir(output) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_resolved(tmp / SETTINGS_FILE, settings, corpus=[str(path) for path in corpus], storage_dtype=storage_dtype)
