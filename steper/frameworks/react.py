"""ReAct (Yao et al. 2023) on the BM25 index: Thought / Action / Observation until Finish[answer].

The prompt is ReAct's HotpotQA format with the two actions a passage index supports:
  <instruction>
  <demonstrations>
  Question: <question>
  Thought 1: ...
  Action 1: Search[<query>]
  Observation 1: [<title>] <text> [<title>] <text> ...
  Thought 2: ...
  Action 2: Finish[<answer>]
One step of the loop is one Thought and one Action (the model is stopped at "\\nObservation");
a Search[...] is the next step's query, and its new passages (the same rule as IRCoT's) become the
observation shown after it. Step 1 retrieves nothing: ReAct starts by thinking. At the step limit
(or when a step names no action) the last thought is kept and the model completes
"Action n: Finish[". Demonstrations are built from the annotated decompositions: one Search per
follow-up question, observing the passage that holds its answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from steper.frameworks.chain import BaseStrategy, Chain, Parsed
from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.passages import truncate_words
from steper.frameworks.prompts import HasText
from steper.models.prompting import Prompt

INSTRUCTION = (
    "Solve a question answering task with interleaving Thought, Action, Observation steps. Thought can reason about "
    "the current situation, and Action can be two types:\n"
    "(1) Search[query], which searches a Wikipedia paragraph index and returns the most relevant new paragraphs.\n"
    "(2) Finish[answer], which returns the answer and finishes the task.\n\n"
)
STOP = ["\nObservation", "\nQuestion:", "\n\n"]
_ACTION = re.compile(r"Action \d+:\s*(Search|Finish)\[([^\]\n]*)\]")
NOTHING_NEW = "No new paragraphs."


def observation(passages: Sequence[HasText | dict[str, str]], words: int | None) -> str:
    parts = []
    for passage in passages:
        title, text = (passage["title"], passage["text"]) if isinstance(passage, dict) else (passage.title, passage.text)
        parts.append(f"[{title}] {' '.join(truncate_words(text, words).split())}")
    return " ".join(parts) if parts else NOTHING_NEW


def _holding(demo: Demonstration, answer: str) -> dict[str, str]:
    """The demonstration passage that states `answer` (a supporting one first)."""
    ordered = sorted(demo.contexts, key=lambda context: not context.get("supporting", False))
    for context in ordered:
        if answer.lower() in context["text"].lower():
            return context
    return ordered[0]


def react_trajectory(demo: Demonstration, words: int | None) -> list[str]:
    """The demonstration's steps, each "Thought k: ...\\nAction k: ...\\nObservation k: ..." but the last."""
    followups = demo.followups
    lines = [f"Thought 1: I need to search {followups[0]['question']}\nAction 1: Search[{followups[0]['question']}]"]
    for index, followup in enumerate(followups, start=1):
        lines[-1] += f"\nObservation {index}: {observation([_holding(demo, followup['answer'])], words)}"
        known = f"Thought {index + 1}: The answer to \"{followup['question']}\" is {followup['answer']}."
        if index < len(followups):
            following = followups[index]["question"]
            lines.append(f"{known} Next I need to search {following}\nAction {index + 1}: Search[{following}]")
        else:
            lines.append(f"{known} So the answer is: {demo.answer}.\nAction {index + 1}: Finish[{demo.answer}]")
    return lines


def react_step_end(text: str) -> int | None:
    match = _ACTION.search(text)
    return match.end() if match else None


class ReAct(BaseStrategy):
    name = "react"
    stop = STOP
    needs_followups = True
    separator = "\n"

    def first_query(self, question: str) -> str | None:
        return None

    def demonstration(self, demo: Demonstration) -> str:
        return f"Question: {demo.question}\n" + "\n".join(react_trajectory(demo, self.passage_words))

    def _history(self, chain: Chain, outputs: list[str]) -> str:
        """Question, the steps so far and the observation after each (passages a prompt cut left out are not shown)."""
        kept = {passage.id for passage in chain.passages}
        text = f"Question: {chain.question}"
        for index, output in enumerate(outputs, start=1):
            text += f"\n{output}"
            if index < len(chain.rounds):
                shown = [passage for passage in chain.rounds[index] if passage.id in kept]
                text += f"\nObservation {index}: {observation(shown, self.passage_words)}"
        return text

    def prompt(self, chain: Chain, demos: str) -> Prompt:
        return Prompt(INSTRUCTION + demos + self._history(chain, chain.outputs), f"\nThought {len(chain.steps) + 1}:")

    def step_end(self, text: str) -> int | None:
        return react_step_end(text)

    def parse(self, chain: Chain, text: str) -> Parsed:
        end = react_step_end(text)
        output = f"Thought {len(chain.steps) + 1}:{text[:end] if end is not None else text}".strip()
        match = _ACTION.search(output)
        if match is None:
            return Parsed(output)
        if match.group(1) == "Finish":
            return Parsed(output, answer=match.group(2).strip())
        return Parsed(output, next_query=match.group(2).strip() or None)

    @staticmethod
    def _thought(output: str) -> str:
        return output.split("\nAction", 1)[0].strip()

    def force_prompt(self, chain: Chain, demos: str) -> Prompt:
        step = len(chain.steps)
        history = self._history(chain, chain.outputs[:-1])
        return Prompt(INSTRUCTION + demos + history, f"\n{self._thought(chain.outputs[-1])}\nAction {step}: Finish[")

    def parse_forced(self, chain: Chain, text: str) -> Parsed:
        answer = text.split("]", 1)[0].split("\n", 1)[0].strip()
        step = len(chain.steps)
        return Parsed(f"{self._thought(chain.outputs[-1])}\nAction {step}: Finish[{answer}]", answer=answer)
