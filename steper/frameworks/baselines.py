"""Single-step baselines and ITER-RETGEN, written as chains so they share the loop and the trace format.

- direct: no retrieval; the prompt "Q: Answer the following question.\\n<q>\\nA:" is extended with
  "So the answer is:" and the model completes the answer.
- cot: no retrieval; IRCoT's prompt without passages, one generation of the whole chain of
  thought until "So the answer is: ...". The demonstrations are shown without their passages.
- rag: one retrieval with the question, then the cot generation over those passages (IRCoT's
  "OneR"). It retrieves k = min(top_k * max_steps, max_passages) passages: the most a multi-step
  run could have gathered, so the comparison isolates the interleaving, not the passage budget.
- iter_retgen (Shao et al. 2023, "Enhancing Retrieval-Augmented Large Language Models with
  Iterative Retrieval-Generation Synergy"): a fixed number of iterations (`iter_retgen_iterations`);
  iteration 1 is rag; iteration t retrieves with the question followed by iteration t-1's whole
  generation and generates the whole chain again over the passages of that retrieval only (they
  replace the earlier ones, as in the paper). The answer is the last iteration's. Each iteration
  retrieves rag's k passages and writes rag's budget of tokens.
A chain that never states an answer gets "So the answer is:" appended, as at IRCoT's step limit.
"""

from __future__ import annotations

from steper.frameworks.answers import ircot_answer
from steper.frameworks.chain import BaseStrategy, Chain, Parsed
from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.ircot import IRCoT, ircot_demonstration
from steper.frameworks.prompts import IRCOT_FORCE, direct_header, direct_prompt, ircot_continuation, ircot_header, ircot_prompt
from steper.frameworks.sentences import ANSWER_MARKER, answer_end, first_sentence, step_end
from steper.models.prompting import Prompt


def chain_end(text: str) -> int | None:
    """Cut a whole chain of thought once its answer sentence is complete (or at a line break)."""
    end = answer_end(text)
    if end is not None:
        return end
    newline = text.find("\n", len(text) - len(text.lstrip()))
    return newline if newline >= 0 else None


def _chain_text(text: str) -> str:
    end = answer_end(text, final=True) if ANSWER_MARKER in text else chain_end(text)
    return " ".join((text[:end] if end is not None else text).split())


class Direct(BaseStrategy):
    name = "direct"
    stop = IRCoT.stop
    retrieves = False

    def demonstration(self, demo: Demonstration) -> str:
        return direct_header(demo.question) + f" {IRCOT_FORCE} {demo.answer}."

    def prompt(self, chain: Chain, demos: str) -> Prompt:
        return Prompt(direct_prompt(chain.question, demos).context, " " + IRCOT_FORCE)

    def step_end(self, text: str) -> int | None:
        end = step_end(IRCOT_FORCE + text)
        return None if end is None else max(end - len(IRCOT_FORCE), 0)

    def parse(self, chain: Chain, text: str) -> Parsed:
        sentence = first_sentence(IRCOT_FORCE + text)
        return Parsed(sentence, answer=ircot_answer(sentence) or "")

    def force_prompt(self, chain: Chain, demos: str) -> Prompt:
        return self.prompt(chain, demos)

    def parse_forced(self, chain: Chain, text: str) -> Parsed:
        return self.parse(chain, text)


class ChainOfThought(BaseStrategy):
    """One generation of the whole chain: cot without retrieval, rag with one retrieval."""

    name = "cot"
    stop = IRCoT.stop
    retrieves = False

    def demonstration(self, demo: Demonstration) -> str:
        if not self.retrieves:
            return ircot_header(demo.question) + ircot_continuation(demo.cot)
        return ircot_demonstration(demo, self.passage_words)

    def prompt(self, chain: Chain, demos: str) -> Prompt:
        return ircot_prompt(chain.question, chain.passages, [], demos, self.passage_words)

    def step_end(self, text: str) -> int | None:
        return chain_end(text)

    def parse(self, chain: Chain, text: str) -> Parsed:
        output = _chain_text(text)
        answer = ircot_answer(output) if ANSWER_MARKER in output else None
        return Parsed(output, answer=answer)

    # an unfinished chain is closed exactly as IRCoT closes one
    force_prompt = IRCoT.force_prompt
    parse_forced = IRCoT.parse_forced


class Rag(ChainOfThought):
    name = "rag"
    retrieves = True


class IterRetGen(Rag):
    name = "iter_retgen"
    accumulates = False

    def parse(self, chain: Chain, text: str) -> Parsed:
        parsed = super().parse(chain, text)
        return Parsed(parsed.output, answer=parsed.answer, next_query=f"{chain.question} {parsed.output}")

    def force_prompt(self, chain: Chain, demos: str) -> Prompt:
        """The last iteration's chain, closed with "So the answer is:" (earlier iterations are not shown)."""
        prompt = ircot_prompt(chain.question, chain.passages, [chain.outputs[-1]] if chain.outputs[-1] else [], demos, self.passage_words)
        return Prompt(prompt.context, prompt.continuation + " " + IRCOT_FORCE)


def rag_k(top_k: int, max_steps: int, max_passages: int) -> int:
    return min(top_k * max_steps, max_passages)
