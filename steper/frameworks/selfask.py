"""Self-Ask (Press et al. 2023) with retrieval, cut into steps at the retrievals.

Prompt: demonstrations, the passages retrieved so far, then
  Question: <question>
  Are follow up questions needed here: Yes.
followed by the lines written so far. One step is one generation between two retrievals, so
its passages and its text form a single (prompt, completion) pair, as in IRCoT:
  step 1:  query = the question;            output = "Follow up: <q1>"
  step s:  query = the last follow-up q_s-1; output = "Intermediate answer: <a_s-1>\nFollow up: <q_s>"
  last:    output = "Intermediate answer: <a>\nSo the final answer is: <answer>"
Each follow-up question is therefore the retrieval query, and its passages are in the prompt
before the model writes its intermediate answer. A step's text is appended to the prompt after
a newline; the prompt itself ends at the end of the last line written (no trailing newline).
At the step limit (or when a step asks no follow-up) a dangling follow-up line is dropped and
the model completes "So the final answer is:", which becomes the end of the last step.
"""

from __future__ import annotations

from steper.frameworks.answers import selfask_answer
from steper.frameworks.chain import BaseStrategy, Chain, Parsed
from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.prompts import SELFASK_FORCE, passages_text, selfask_chain, selfask_continuation, selfask_header, selfask_prompt
from steper.models.prompting import Prompt

STOP = ["\n\n", "\nQuestion:", "Wikipedia Title:"]
FOLLOW_UP = "Follow up:"


def selfask_step_end(text: str) -> int | None:
    """Cut after the first finished "Follow up:" or final-answer line (blank lines before it are skipped)."""
    position = 0
    while True:
        newline = text.find("\n", position)
        if newline < 0:
            return None
        line = text[position:newline].strip()
        if line.startswith(FOLLOW_UP) or SELFASK_FORCE in line:
            return newline
        position = newline + 1


def _cut(text: str) -> str:
    end = selfask_step_end(text)
    return (text[:end] if end is not None else text).strip()


class SelfAsk(BaseStrategy):
    name = "selfask"
    stop = STOP
    needs_followups = True
    separator = "\n"

    def demonstration(self, demo: Demonstration) -> str:
        return passages_text(demo.contexts, self.passage_words) + selfask_header(demo.question) + selfask_continuation(selfask_chain(demo))

    def prompt(self, chain: Chain, demos: str) -> Prompt:
        return selfask_prompt(chain.question, chain.passages, chain.outputs, demos, self.passage_words)

    def step_end(self, text: str) -> int | None:
        return selfask_step_end(text)

    def parse(self, chain: Chain, text: str) -> Parsed:
        output = _cut(text)
        lines = output.splitlines()
        if any(SELFASK_FORCE in line for line in lines):
            return Parsed(output, answer=selfask_answer(output) or "")
        followups = [line.strip()[len(FOLLOW_UP):].strip() for line in lines if line.strip().startswith(FOLLOW_UP)]
        return Parsed(output, next_query=followups[-1] if followups and followups[-1] else None)

    @staticmethod
    def _without_dangling_followup(output: str) -> str:
        lines = output.splitlines()
        while lines and lines[-1].strip().startswith(FOLLOW_UP):
            lines.pop()
        return "\n".join(lines).strip()

    def force_prompt(self, chain: Chain, demos: str) -> Prompt:
        outputs = [o for o in chain.outputs[:-1] if o] + [self._without_dangling_followup(chain.outputs[-1])]
        prompt = selfask_prompt(chain.question, chain.passages, [o for o in outputs if o], demos, self.passage_words)
        return Prompt(prompt.context, prompt.continuation + "\n" + SELFASK_FORCE)

    def parse_forced(self, chain: Chain, text: str) -> Parsed:
        line = (SELFASK_FORCE + text).split("\n", 1)[0].strip()
        kept = self._without_dangling_followup(chain.steps[-1]["output"])
        return Parsed(f"{kept}\n{line}" if kept else line, answer=selfask_answer(line) or "")
