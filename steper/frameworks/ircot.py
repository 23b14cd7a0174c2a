"""IRCoT (Trivedi et al. 2023): interleave one chain-of-thought sentence with one retrieval.

Step 1 retrieves with the question; every later step with the last sentence written. Each step
adds the k best-ranked passages not already shown (searching deeper past those already in the
prompt, so a query that re-finds known passages still brings new evidence), up to
`max_passages` in total, and keeps only the
first sentence of the model's output. The chain ends when a sentence says "answer is"; at the
step limit the prompt is extended with "So the answer is:" and the model completes it.
"""

from __future__ import annotations

from steper.frameworks.answers import ircot_answer
from steper.frameworks.chain import Chain, Parsed
from steper.frameworks.prompts import IRCOT_FORCE, ircot_prompt
from steper.frameworks.sentences import ANSWER_MARKER, first_sentence, step_end
from steper.models.prompting import Prompt

STOP = ["\n\n", "\nQ:", "Wikipedia Title:"]


class IRCoT:
    stop = STOP
    retrieves = True

    def prompt(self, chain: Chain, demos: str) -> Prompt:
        return ircot_prompt(chain.question, chain.passages, chain.outputs, demos)

    def step_end(self, text: str) -> int | None:
        return step_end(text)

    def parse(self, text: str) -> Parsed:
        sentence = first_sentence(text)
        if ANSWER_MARKER in sentence:
            return Parsed(sentence, answer=ircot_answer(sentence) or "")
        return Parsed(sentence, next_query=sentence or None)

    def force_prompt(self, chain: Chain, demos: str) -> Prompt:
        prompt = ircot_prompt(chain.question, chain.passages, [o for o in chain.outputs if o], demos)
        return Prompt(prompt.context, prompt.continuation + " " + IRCOT_FORCE)

    def parse_forced(self, chain: Chain, text: str) -> Parsed:
        sentence = first_sentence(IRCOT_FORCE + text)
        last = chain.steps[-1]["output"]
        return Parsed(f"{last} {sentence}" if last else sentence, answer=ircot_answer(sentence) or "")
