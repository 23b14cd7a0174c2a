"""Real components behind the loop's interfaces for the framework tests: a generation backend whose
model is a table and a retriever with a fixed ranking per query (see test_frameworks_loop_defaults)."""

from __future__ import annotations

from steper.models.generation import Generation, cut_text
from steper.models.prompting import Prompt
from steper.retrieval import Passage


class ScriptedBackend:
    """A generation backend whose model is a table: (question, steps so far) -> raw completion.

    The raw text runs on past the step, as a model's does; it is cut with the stop strings and the
    framework's step end like every real backend's output. Every prompt is kept, in call order.
    """

    dtype_name = "float32"
    max_model_len = 1_000_000

    def __init__(self, script: dict[tuple[str, str], str]):
        self.script = script
        self.prompts: list[Prompt] = []

    @staticmethod
    def question(prompt: Prompt) -> str:
        """The question of a prompt: the line after the last "Q: " line (IRCoT's format) or the last
        "Question: " line (Self-Ask's and ReAct's)."""
        lines = prompt.context.splitlines()
        for index in range(len(lines) - 1, -1, -1):
            if lines[index].startswith("Question: "):
                return lines[index].removeprefix("Question: ")
            if lines[index].startswith("Q: "):
                return lines[index + 1]
        raise AssertionError(f"no question in {prompt.context!r}")

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        generations = []
        for prompt in prompts:
            key = (self.question(prompt), prompt.continuation)
            if key not in self.script:
                raise AssertionError(f"unscripted prompt {key}")
            text = cut_text(self.script[key], stop, step_end)
            self.prompts.append(prompt)
            generations.append(Generation(text, prompt_tokens=len(prompt.plain.split()), completion_tokens=len(text.split())))
        return generations

    def count_tokens(self, prompts):
        return [len(prompt.plain.split()) for prompt in prompts]

    def prompts_of(self, question: str) -> list[Prompt]:
        return [prompt for prompt in self.prompts if self.question(prompt) == question]


class RankedRetriever:
    """A retriever with a fixed ranking per query; an unknown query is an error, not an empty list."""

    def __init__(self, rankings: dict[str, list[str]], docs: dict[str, Passage]):
        self.rankings = rankings
        self.docs = docs
        self.calls: list[tuple[list[str], int]] = []

    def search(self, query: str, k: int) -> list[Passage]:
        if query not in self.rankings:
            raise AssertionError(f"unexpected query {query!r}")
        return [self.docs[doc_id] for doc_id in self.rankings[query][:k]]

    def batch_search(self, queries, k):
        self.calls.append((list(queries), k))
        return [self.search(query, k) for query in queries]

    def doc(self, doc_id: str) -> Passage:
        return self.docs[doc_id]

    def queries(self) -> list[str]:
        return [query for queries, _ in self.calls for query in queries]
