"""Prompt text of every framework, and the step-wise prompts rebuilt from a trace.

Layout (IRCoT's format): demonstrations first, then the question's passages, then the question
header, then the steps written so far. The demonstrations are the same for every question, so
they form a shared prefix the generation backend can cache. A prompt ends exactly at "A:" (or,
for Self-Ask, at the end of the header line) or at the last completed step, never with a
trailing space: the model writes the separator itself, as it saw in the demonstrations.

`Prompt.context` holds demonstrations + passages + question header and `Prompt.continuation` the
steps so far (each IRCoT step preceded by a space, each Self-Ask step by a newline), so a chat
student can be rendered as chat(user=context) + continuation. Which framework uses which
builder is decided by the strategy classes, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.passages import truncate_words
from steper.models.prompting import Prompt

IRCOT_INSTRUCTION = "Answer the following question by reasoning step-by-step."
DIRECT_INSTRUCTION = "Answer the following question."
FOLLOWUPS_NEEDED = "Are follow up questions needed here: Yes."
IRCOT_FORCE = "So the answer is:"
SELFASK_FORCE = "So the final answer is:"

class HasText(Protocol):
    title: str
    text: str


def passage_block(title: str, text: str) -> str:
    return f"Wikipedia Title: {title}\n{text}\n\n"


def passages_text(passages: Iterable[HasText | dict[str, str]], words: int | None = None) -> str:
    """Passages as IRCoT shows them, each cut to its first `words` words (None: whole)."""
    parts = []
    for passage in passages:
        title, text = (passage["title"], passage["text"]) if isinstance(passage, dict) else (passage.title, passage.text)
        parts.append(passage_block(title, truncate_words(text, words)))
    return "".join(parts)


def ircot_header(question: str) -> str:
    return f"Q: {IRCOT_INSTRUCTION}\n{question}\nA:"


def direct_header(question: str) -> str:
    return f"Q: {DIRECT_INSTRUCTION}\n{question}\nA:"


def selfask_header(question: str) -> str:
    return f"Question: {question}\n{FOLLOWUPS_NEEDED}"


def ircot_continuation(steps: Sequence[str]) -> str:
    return "".join(" " + step for step in steps)


def selfask_continuation(steps: Sequence[str]) -> str:
    return "".join("\n" + step for step in steps)


def selfask_chain(demo: Demonstration) -> list[str]:
    """A demonstration's Self-Ask lines, grouped into the steps the loop would write.

    Step 1 is the first follow-up; every later step is the intermediate answer of the previous
    follow-up plus the next follow-up (or the final answer), because each step of the loop is
    one generation between two retrievals.
    """
    lines = [f"Follow up: {demo.followups[0]['question']}"]
    for index, followup in enumerate(demo.followups):
        following = demo.followups[index + 1 : index + 2]
        tail = f"Follow up: {following[0]['question']}" if following else f"{SELFASK_FORCE} {demo.answer}"
        lines.append(f"Intermediate answer: {followup['answer']}\n{tail}")
    return lines


def ircot_prompt(question: str, passages: Iterable[HasText], steps: Sequence[str], demos: str = "", words: int | None = None) -> Prompt:
    return Prompt(context=demos + passages_text(passages, words) + ircot_header(question), continuation=ircot_continuation(steps))


def selfask_prompt(question: str, passages: Iterable[HasText], steps: Sequence[str], demos: str = "", words: int | None = None) -> Prompt:
    return Prompt(context=demos + passages_text(passages, words) + selfask_header(question), continuation=selfask_continuation(steps))


def direct_prompt(question: str, demos: str = "") -> Prompt:
    return Prompt(context=demos + direct_header(question))
