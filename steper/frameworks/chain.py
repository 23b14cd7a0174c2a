"""The lockstep loop shared by every framework: retrieve, prompt, generate, parse, repeat.

All active questions advance together: each round gathers their queries into one
`batch_search` and their prompts into one `generate` call, so the backend can batch them and
reuse the cached demonstration prefix. What differs between frameworks (query, prompt, how an
output is cut and read, how an answer is forced at the step limit) is a `Strategy`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from steper.models.prompting import Prompt

log = logging.getLogger(__name__)


class Searcher(Protocol):
    def batch_search(self, queries: list[str], k: int) -> list[list[Any]]: ...


class Generator(Protocol):
    def generate(
        self, prompts: list[Prompt], max_new_tokens: int, stop: list[str], step_end: Callable[[str], int | None] | None = None
    ) -> list[Any]: ...


@dataclass
class Chain:
    """One question's progress through the loop."""

    id: str
    question: str
    query: str | None = None
    passages: list[Any] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None
    done: bool = False
    completion_tokens: int = 0

    @property
    def outputs(self) -> list[str]:
        return [step["output"] for step in self.steps]


@dataclass
class Parsed:
    """A step's text, and what it means for the chain."""

    output: str
    answer: str | None = None
    next_query: str | None = None


class Strategy(Protocol):
    stop: list[str]
    retrieves: bool

    def prompt(self, chain: Chain, demos: str) -> Prompt: ...

    def step_end(self, text: str) -> int | None: ...

    def parse(self, text: str) -> Parsed: ...

    def force_prompt(self, chain: Chain, demos: str) -> Prompt: ...

    def parse_forced(self, chain: Chain, text: str) -> Parsed: ...


PASSAGE_ORDERS = ("retrieval", "best_last")


@dataclass
class LoopSettings:
    top_k: int
    max_steps: int
    max_passages: int
    max_new_tokens: int
    passage_order: str = "retrieval"


def _add_passages(chain: Chain, found: Sequence[Any], top_k: int, max_passages: int, order: str = "retrieval") -> list[str]:
    """Append the `top_k` best unseen passages, up to the cap; return their ids (the step's `retrieved`)
    in the order they appear in the prompt: rank order (IRCoT), or reversed for `best_last`, which puts
    the step's best passage next to the question, where a small model looks first."""
    seen = {passage.id for passage in chain.passages}
    new: list[Any] = []
    for passage in found:
        if len(new) >= top_k or len(chain.passages) + len(new) >= max_passages:
            break
        if passage.id not in seen:
            new.append(passage)
            seen.add(passage.id)
    if order == "best_last":
        new.reverse()
    chain.passages.extend(new)
    return [passage.id for passage in new]


def run_chains(
    questions: Sequence[tuple[str, str]],
    strategy: Strategy,
    retriever: Searcher | None,
    backend: Generator,
    settings: LoopSettings,
    demos: str = "",
) -> list[Chain]:
    """Run every (id, question) through the framework; return the finished chains in order."""
    chains = [Chain(id=qid, question=question, query=question) for qid, question in questions]
    for step_number in range(1, settings.max_steps + 1):
        active = [chain for chain in chains if not chain.done]
        if not active:
            break
        retrieved: list[list[str]] = [[] for _ in active]
        if strategy.retrieves and retriever is not None:
            # Search deep enough that every chain can find top_k passages it has not shown yet.
            depth = settings.top_k + max(len(chain.passages) for chain in active)
            results = retriever.batch_search([chain.query or chain.question for chain in active], depth)
            retrieved = [
                _add_passages(chain, found, settings.top_k, settings.max_passages, settings.passage_order)
                for chain, found in zip(active, results)
            ]
        log.debug("step %d: %d active questions", step_number, len(active))
        prompts = [strategy.prompt(chain, demos) for chain in active]
        generations = backend.generate(prompts, settings.max_new_tokens, strategy.stop, strategy.step_end)
        to_force = []
        for chain, ids, generation in zip(active, retrieved, generations):
            parsed = strategy.parse(generation.text)
            chain.completion_tokens += generation.completion_tokens
            chain.steps.append(
                {
                    "step": step_number,
                    "query": chain.query if strategy.retrieves else None,
                    "retrieved": ids,
                    "prompt_tokens": generation.prompt_tokens,
                    "completion_tokens": generation.completion_tokens,
                    "output": parsed.output,
                }
            )
            if parsed.answer is not None:
                chain.answer, chain.done = parsed.answer, True
            elif parsed.next_query is None or step_number == settings.max_steps:
                to_force.append(chain)
            else:
                chain.query = parsed.next_query
        if to_force:
            _force_answers(to_force, strategy, backend, settings, demos)
    return chains


def _force_answers(chains: list[Chain], strategy: Strategy, backend: Generator, settings: LoopSettings, demos: str) -> None:
    """Ask for the answer directly when a chain hit the step limit or stopped making progress.

    The answer becomes part of the last step's output, so the last step always ends in the
    answer, as the final-step examples of StepER expect.
    """
    prompts = [strategy.force_prompt(chain, demos) for chain in chains]
    generations = backend.generate(prompts, settings.max_new_tokens, strategy.stop, strategy.step_end)
    for chain, generation in zip(chains, generations):
        parsed = strategy.parse_forced(chain, generation.text)
        last = chain.steps[-1]
        last["output"] = parsed.output
        last["prompt_tokens"] += generation.prompt_tokens
        last["completion_tokens"] += generation.completion_tokens
        chain.completion_tokens += generation.completion_tokens
        chain.answer, chain.done = parsed.answer, True
