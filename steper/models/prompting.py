"""One prompt, two renderings: plain text for base/few-shot models, chat for instruction students.

Step-wise examples keep `context` (what the user says) apart from `continuation` (the reasoning
already written), so a chat model sees the context as the user turn and continues its own answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase


@dataclass
class Prompt:
    context: str
    continuation: str = ""

    @property
    def plain(self) -> str:
        return self.context + self.continuation


def render(tokenizer: PreTrainedTokenizerBase, prompt: Prompt, chat_template: bool) -> str:
    if not chat_template:
        return prompt.plain
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt.context}], add_generation_prompt=True, tokenize=False
    )
    return chat + prompt.continuation


def encode(tokenizer: PreTrainedTokenizerBase, prompts: list[Prompt], chat_template: bool) -> list[list[int]]:
    """Token ids as every backend feeds them; a chat template already holds its special tokens."""
    texts = [render(tokenizer, prompt, chat_template) for prompt in prompts]
    return tokenizer(texts, add_special_tokens=not chat_template)["input_ids"]
