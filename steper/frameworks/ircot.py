"""IRCoT (Trivedi et al. 2023): interleave one chain-of-thought sentence with one retrieval.

Step 1 retrieves with the question; every later step with the last sentence written. Which
passages a step adds is `steper.frameworks.passages`' rule; the model's output is cut to its first
sentence. The chain ends when a sentence states an answer by IRCoT's exit rule (its answer regex
`.* answer is:? (.*)\\.?` matches, so "Thus, the answer is X." ends it and "The answer isn't given."
does not); at the step limit the prompt is extended with "So the answer is:" and the model
completes it.

Query cleaning (`query_cleaning: ircot`, IRCoT's `question_or_last_generated_sentence` with
bm25): the query is the last generated sentence that is not a reasoning sentence (one starting
"thus", "so", "that is,", "therefore", "hence", or stating an arithmetic "a + b = c"), or the
question when there is none; then the words who, what, when, where, why, which, how, does, is
are removed (case-insensitive, split on single spaces). A query left empty retrieves nothing
that step. `query_cleaning: none` sends the last sentence (or the question) as it is.
"""

from __future__ import annotations

import re

from steper.frameworks.answers import ircot_answer
from steper.frameworks.chain import BaseStrategy, Chain, Parsed
from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.prompts import IRCOT_FORCE, ircot_continuation, ircot_header, ircot_prompt, passages_text
from steper.frameworks.sentences import first_sentence, step_end
from steper.models.prompting import Prompt

QUERY_CLEANING = ("ircot", "none")
STOP = ["\n\n", "\nQ:", "Wikipedia Title:"]
_REASONING_STARTS = ("thus ", "thus,", "so ", "so,", "that is,", "therefore", "hence")
_ARITHMETIC = re.compile(r"(.*)(\d[\d,]*\.?\d+|\d+) ([+-]) (\d[\d,]*\.?\d+|\d+) = (\d[\d,]*\.?\d+|\d+)(.*)")
_WH_WORDS = frozenset({"who", "what", "when", "where", "why", "which", "how", "does", "is"})


def is_reasoning_sentence(sentence: str) -> bool:
    return sentence.lower().startswith(_REASONING_STARTS) or bool(_ARITHMETIC.match(sentence))


def remove_wh_words(text: str) -> str:
    return " ".join(word for word in text.split(" ") if word.strip().lower() not in _WH_WORDS)


def ircot_query(question: str, sentences: list[str], cleaning: str) -> str:
    """The retrieval query after `sentences` were written (see the module docstring)."""
    if cleaning == "none":
        return sentences[-1] if sentences and sentences[-1] else question
    factual = [sentence.strip() for sentence in sentences if not is_reasoning_sentence(sentence)]
    return remove_wh_words(factual[-1] if factual and factual[-1] else question)


def ircot_demonstration(demo: Demonstration, words: int | None) -> str:
    return passages_text(demo.contexts, words) + ircot_header(demo.question) + ircot_continuation(demo.cot)


class IRCoT(BaseStrategy):
    name = "ircot"
    stop = STOP

    def first_query(self, question: str) -> str | None:
        return ircot_query(question, [], self.query_cleaning)

    def demonstration(self, demo: Demonstration) -> str:
        return ircot_demonstration(demo, self.passage_words)

    def prompt(self, chain: Chain, demos: str) -> Prompt:
        return ircot_prompt(chain.question, chain.passages, chain.outputs, demos, self.passage_words)

    def step_end(self, text: str) -> int | None:
        return step_end(text)

    def parse(self, chain: Chain, text: str) -> Parsed:
        sentence = first_sentence(text)
        answer = ircot_answer(sentence)
        if answer is not None:
            return Parsed(sentence, answer=answer)
        if not sentence:
            return Parsed(sentence)
        return Parsed(sentence, next_query=ircot_query(chain.question, [*chain.outputs, sentence], self.query_cleaning))

    def force_prompt(self, chain: Chain, demos: str) -> Prompt:
        prompt = ircot_prompt(chain.question, chain.passages, [o for o in chain.outputs if o], demos, self.passage_words)
        return Prompt(prompt.context, prompt.continuation + " " + IRCOT_FORCE)

    def parse_forced(self, chain: Chain, text: str) -> Parsed:
        sentence = first_sentence(IRCOT_FORCE + text)
        last = chain.steps[-1]["output"]
        return Parsed(f"{last} {sentence}" if last else sentence, answer=ircot_answer(sentence) or "")
