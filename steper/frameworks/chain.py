"""The lockstep loop shared by every framework: retrieve, prompt, generate, parse, repeat.

All active questions advance together: each round gathers their queries into one
`batch_search` and their prompts into one `generate` call, so the backend can batch them and
reuse the cached demonstration prefix. What differs between frameworks (query, prompt, how an
output is cut and read, how an answer is forced at the step limit) is a `Strategy`; the
strategies are listed once, in `steper.frameworks.registry`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.fitting import PromptBudget, fit_prompts
from steper.frameworks.passages import new_passages, search_depth
from steper.models.generation import Backend
from steper.models.prompting import Prompt
from steper.retrieval import Passage, Retriever

log = logging.getLogger(__name__)


@dataclass
class Chain:
    """One question's progress through the loop."""

    id: str
    question: str
    query: str | None = None
    passages: list[Passage] = field(default_factory=list)
    rounds: list[list[Passage]] = field(default_factory=list)  # passages added at each step
    steps: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None
    done: bool = False
    completion_tokens: int = 0
    cuts: dict[str, int] = field(default_factory=lambda: {"prompts_cut": 0, "demos_dropped": 0, "passages_dropped": 0, "overflows": 0})

    @property
    def outputs(self) -> list[str]:
        return [step["output"] for step in self.steps]


@dataclass
class Parsed:
    """A step's text, and what it means for the chain.

    An answer with no next query ends the chain. An answer *and* a next query (ITER-RETGEN) is a
    provisional answer: the chain goes on while steps remain and ends with the last one.
    """

    output: str
    answer: str | None = None
    next_query: str | None = None


class Strategy(Protocol):
    name: str
    stop: list[str]
    retrieves: bool
    accumulates: bool  # passages stay across steps (False: each retrieval replaces them)
    needs_followups: bool  # demonstrations need a decomposition
    separator: str  # what precedes each step's text in the chain

    def first_query(self, question: str) -> str | None: ...

    def demonstration(self, demo: Demonstration) -> str: ...

    def prompt(self, chain: Chain, demos: str) -> Prompt: ...

    def step_end(self, text: str) -> int | None: ...

    def parse(self, chain: Chain, text: str) -> Parsed: ...

    def force_prompt(self, chain: Chain, demos: str) -> Prompt: ...

    def parse_forced(self, chain: Chain, text: str) -> Parsed: ...


class BaseStrategy:
    """What most strategies share: passages accumulate, the question is the first query."""

    name = ""
    retrieves = True
    accumulates = True
    needs_followups = False
    separator = " "

    def __init__(self, passage_words: int | None, query_cleaning: str):
        self.passage_words = passage_words
        self.query_cleaning = query_cleaning

    def first_query(self, question: str) -> str | None:
        return question


PASSAGE_ORDERS = ("retrieval", "best_last")


@dataclass
class LoopSettings:
    top_k: int
    max_steps: int
    max_passages: int
    max_new_tokens: int
    passage_order: str
    new_passages: str


def _add_passages(chain: Chain, found: Sequence[Passage], settings: LoopSettings, accumulates: bool) -> list[str]:
    """Add the step's new passages (see `steper.frameworks.passages`); return their ids (the step's
    `retrieved`) in prompt order: rank order (IRCoT), or reversed for `best_last`, which puts the
    step's best passage next to the question, where a small model looks first."""
    shown = chain.passages if accumulates else []
    new = new_passages(found, shown, settings.top_k, settings.max_passages, settings.new_passages)
    if settings.passage_order == "best_last":
        new.reverse()
    chain.passages = [*shown, *new]
    chain.rounds.append(new)
    return [passage.id for passage in new]


def _view(chain: Chain, skip: int) -> Chain:
    """The chain with its first `skip` passages left out (for a prompt that must be cut)."""
    return chain if skip == 0 else dataclasses.replace(chain, passages=chain.passages[skip:])


def _generate(
    chains: list[Chain], build, strategy: Strategy, backend: Backend, settings: LoopSettings, demos: Sequence[str], budget: PromptBudget | None
) -> list[Any]:
    """Fit and generate one prompt per chain; a chain whose prompt cannot fit gets None."""
    fitted = fit_prompts(
        lambda i, text, skip: build(_view(chains[i], skip), text), len(chains), demos,
        lambda i: len(chains[i].passages), budget, settings.max_new_tokens,
    )
    for chain, fit in zip(chains, fitted):
        if fit.dropped_demos or fit.dropped_passages:
            chain.cuts["prompts_cut"] += 1
            chain.cuts["demos_dropped"] += fit.dropped_demos
            chain.cuts["passages_dropped"] += fit.dropped_passages
        if fit.prompt is None:
            chain.cuts["overflows"] += 1
    sendable = [index for index, fit in enumerate(fitted) if fit.prompt is not None]
    generations = backend.generate([fitted[i].prompt for i in sendable], settings.max_new_tokens, strategy.stop, strategy.step_end)
    results: list[Any] = [None] * len(chains)
    for index, generation in zip(sendable, generations):
        results[index] = generation
    return results


def run_chains(
    questions: Sequence[tuple[str, str]],
    strategy: Strategy,
    retriever: Retriever | None,
    backend: Backend,
    settings: LoopSettings,
    demos: Sequence[str] = (),
    budget: PromptBudget | None = None,
) -> list[Chain]:
    """Run every (id, question) through the framework; return the finished chains in order.

    `demos` are the demonstration blocks; `budget` (the backend's token count and context length)
    turns on IRCoT's prompt fitting, whose cuts each chain counts in `cuts`.
    """
    chains = [Chain(id=qid, question=question, query=strategy.first_query(question)) for qid, question in questions]
    for step_number in range(1, settings.max_steps + 1):
        active = [chain for chain in chains if not chain.done]
        if not active:
            break
        retrieved: list[list[str]] = [[] for _ in active]
        searching = [index for index, chain in enumerate(active) if chain.query] if strategy.retrieves and retriever else []
        searched = set(searching)
        if searching:
            depth = max(search_depth(settings.new_passages, settings.top_k, len(active[i].passages)) for i in searching)
            results = retriever.batch_search([active[i].query for i in searching], depth)
            for index, found in zip(searching, results):
                retrieved[index] = _add_passages(active[index], found, settings, strategy.accumulates)
        for index, chain in enumerate(active):
            if index not in searched:
                chain.rounds.append([])
        log.debug("step %d: %d active questions", step_number, len(active))
        generations = _generate(active, strategy.prompt, strategy, backend, settings, demos, budget)
        to_force = []
        for chain, ids, generation in zip(active, retrieved, generations):
            if generation is None:
                chain.steps.append(_step(step_number, chain, strategy, ids, None, ""))
                chain.answer, chain.done = None, True
                continue
            parsed = strategy.parse(chain, generation.text)
            chain.completion_tokens += generation.completion_tokens
            chain.steps.append(_step(step_number, chain, strategy, ids, generation, parsed.output))
            last = step_number == settings.max_steps
            if parsed.answer is not None and (parsed.next_query is None or last):
                chain.answer, chain.done = parsed.answer, True
            elif parsed.next_query is None or last:
                to_force.append(chain)
            else:
                chain.query = parsed.next_query
        if to_force:
            _force_answers(to_force, strategy, backend, settings, demos, budget)
    return chains


def _step(number: int, chain: Chain, strategy: Strategy, ids: list[str], generation: Any, output: str) -> dict[str, Any]:
    return {
        "step": number,
        "query": chain.query if strategy.retrieves else None,
        "retrieved": ids,
        "prompt_tokens": generation.prompt_tokens if generation else 0,
        "completion_tokens": generation.completion_tokens if generation else 0,
        "output": output,
    }


def _force_answers(
    chains: list[Chain], strategy: Strategy, backend: Backend, settings: LoopSettings, demos: Sequence[str], budget: PromptBudget | None
) -> None:
    """Ask for the answer directly when a chain hit the step limit or stopped making progress.

    The answer becomes part of the last step's output, so the last step always ends in the
    answer, as the final-step examples of StepER expect. The call's tokens are recorded apart from
    the step's own call (`answer_prompt_tokens`, `answer_completion_tokens`): added to them, the
    step's prompt would look as long as both prompts together.
    """
    generations = _generate(chains, strategy.force_prompt, strategy, backend, settings, demos, budget)
    for chain, generation in zip(chains, generations):
        chain.done = True
        if generation is None:
            continue
        parsed = strategy.parse_forced(chain, generation.text)
        last = chain.steps[-1]
        last["output"] = parsed.output
        last["answer_prompt_tokens"] = generation.prompt_tokens
        last["answer_completion_tokens"] = generation.completion_tokens
        chain.completion_tokens += generation.completion_tokens
        chain.answer = parsed.answer
