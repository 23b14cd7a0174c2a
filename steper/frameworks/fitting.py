"""Fitting a prompt into the model's context the way IRCoT does, and counting every cut.

IRCoT (commaqa/inference/prompt_reader.py, `fit_prompt_into_given_limit`, called by its
generators with `remove_method="first"`) drops whole demonstrations from the start of the prompt
until demonstrations + test example + the generation length fit the model's limit; if the test
example alone is still too long it removes lines from the start of the prompt. Here the second
stage removes whole passages from the start of the question's passages (a line-level cut would
leave a title without its text). A prompt that does not fit even with no demonstration and no
passage is not sent: its chain ends without an answer and is counted as an overflow, so a long
record costs one question, never the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from steper.models.prompting import Prompt

DEMO_SEPARATOR = "\n\n\n"


@dataclass
class PromptBudget:
    """Token counting of the backend that will read the prompts, and its context length."""

    count: Callable[[list[Prompt]], list[int]]
    max_model_len: int


@dataclass
class Fitted:
    prompt: Prompt | None  # None: nothing fits (overflow)
    dropped_demos: int = 0
    dropped_passages: int = 0


def join_demos(blocks: Sequence[str]) -> str:
    return DEMO_SEPARATOR.join(blocks) + DEMO_SEPARATOR if blocks else ""


def fit_prompts(
    build: Callable[[int, str, int], Prompt],
    items: int,
    blocks: Sequence[str],
    passages: Callable[[int], int],
    budget: PromptBudget | None,
    max_new_tokens: int,
) -> list[Fitted]:
    """Fit prompt i = build(i, demos, skip) for every i < items, where `skip` passages are left out.

    Prompts are counted in one batch; only those over the limit are rebuilt with one demonstration
    fewer (the first, IRCoT's "first" removal) at a time, then one passage fewer at a time.
    """
    demos = join_demos(blocks)
    prompts = [build(index, demos, 0) for index in range(items)]
    if budget is None:
        return [Fitted(prompt) for prompt in prompts]
    limit = budget.max_model_len - max_new_tokens
    counts = budget.count(prompts)
    fitted = []
    for index, (prompt, count) in enumerate(zip(prompts, counts)):
        dropped, skip = 0, 0
        while count > limit:
            if dropped < len(blocks):
                dropped += 1
            elif skip < passages(index):
                skip += 1
            else:
                break
            prompt = build(index, join_demos(blocks[dropped:]), skip)
            count = budget.count([prompt])[0]
        fitted.append(Fitted(prompt if count <= limit else None, dropped, skip))
    return fitted
