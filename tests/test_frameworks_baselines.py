"""ITER-RETGEN and ReAct on a dict retriever and a scripted generator (the loop logic, exactly)."""

from __future__ import annotations

from pathlib import Path

from steper.frameworks.chain import LoopSettings, run_chains
from steper.frameworks.demonstrations import load_demonstrations
from steper.frameworks.registry import make_strategy
from steper.frameworks.runner import FrameworkSettings, loop_settings
from steper.models.generation import Generation
from steper.retrieval import Passage

FIXTURES = Path(__file__).parent / "fixtures" / "frameworks"
DOCS = {
    "a": Passage("a", "The Hollow Orchard", "The Hollow Orchard is a 1998 film starring Tamsin Everhart."),
    "b": Passage("b", "Brennan Vale", "Brennan Vale directed The Hollow Orchard."),
    "c": Passage("c", "Tamsin Everhart", "Tamsin Everhart is an actress."),
}
Q = "Who directed the film that stars Tamsin Everhart?"


class Retriever:
    def __init__(self, results):
        self.results = results
        self.queries = []

    def batch_search(self, queries, k):
        self.queries += queries
        return [[DOCS[i] for i in self.results.get(query, [])[:k]] for query in queries]


class Script:
    """Answers by the last line of the prompt's plain text; records every prompt."""

    def __init__(self, replies):
        self.replies = replies
        self.prompts = []

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        self.prompts += prompts
        out = []
        for prompt in prompts:
            text = next((reply for key, reply in self.replies.items() if prompt.plain.endswith(key)), " ?")
            cut = min([text.find(s) for s in stop if s in text] or [len(text)])
            end = step_end(text[:cut]) if step_end else None
            out.append(Generation(text[: end if end is not None else cut], 1, 1))
        return out


def test_iter_retgen_retrieves_with_the_last_generation_and_replaces_the_passages():
    first = " The film is The Hollow Orchard. So the answer is: Tamsin Everhart."
    script = Script({
        "A:": first,  # both iterations end at "A:"; the second is told apart by its passages below
    })
    query_2 = f"{Q} The film is The Hollow Orchard. So the answer is: Tamsin Everhart."
    retriever = Retriever({Q: ["a", "c"], query_2: ["b", "a"]})
    second = " The Hollow Orchard was directed by Brennan Vale. So the answer is: Brennan Vale."
    original = script.generate

    def generate(prompts, max_new_tokens, stop, step_end=None):
        if "Brennan Vale directed" in prompts[0].plain:
            script.replies = {"A:": second}
        return original(prompts, max_new_tokens, stop, step_end)

    script.generate = generate
    settings = loop_settings("iter_retgen", FrameworkSettings(top_k=1, max_steps=2, max_passages=15, iter_retgen_iterations=2))
    assert (settings.top_k, settings.max_steps, settings.max_passages) == (2, 2, 2)
    chain = run_chains([("1", Q)], make_strategy("iter_retgen", None, "ircot"), retriever, script, settings)[0]
    assert retriever.queries == [Q, query_2]
    assert [step["retrieved"] for step in chain.steps] == [["a", "c"], ["b", "a"]]
    assert "Tamsin Everhart is an actress." not in script.prompts[1].plain  # iteration 2 shows only its own passages
    assert script.prompts[1].continuation == ""  # and not the earlier generation
    assert chain.answer == "Brennan Vale" and len(chain.steps) == 2


REACT_STEP_1 = " I need to search the film starring Tamsin Everhart.\nAction 1: Search[film starring Tamsin Everhart]\nObservation 1: made up"
REACT_STEP_2 = " The film is The Hollow Orchard. I need to search its director.\nAction 2: Search[The Hollow Orchard director]"
REACT_STEP_3 = " Brennan Vale directed it.\nAction 3: Finish[Brennan Vale]\n"


def test_react_thought_action_observation_loop():
    script = Script({"Thought 1:": REACT_STEP_1, "Thought 2:": REACT_STEP_2, "Thought 3:": REACT_STEP_3})
    retriever = Retriever({"film starring Tamsin Everhart": ["a"], "The Hollow Orchard director": ["a", "b"]})
    chain = run_chains([("1", Q)], make_strategy("react", None, "ircot"), retriever, script, LoopSettings(2, 5, 15, 64, "retrieval", "ircot"))[0]
    assert retriever.queries == ["film starring Tamsin Everhart", "The Hollow Orchard director"]  # step 1 only thinks
    assert [step["retrieved"] for step in chain.steps] == [[], ["a"], ["b"]]
    assert chain.answer == "Brennan Vale"
    assert chain.steps[0]["output"] == "Thought 1: I need to search the film starring Tamsin Everhart.\nAction 1: Search[film starring Tamsin Everhart]"
    assert script.prompts[2].plain.endswith(
        f"Question: {Q}\n"
        "Thought 1: I need to search the film starring Tamsin Everhart.\nAction 1: Search[film starring Tamsin Everhart]\n"
        "Observation 1: [The Hollow Orchard] The Hollow Orchard is a 1998 film starring Tamsin Everhart.\n"
        "Thought 2: The film is The Hollow Orchard. I need to search its director.\nAction 2: Search[The Hollow Orchard director]\n"
        "Observation 2: [Brennan Vale] Brennan Vale directed The Hollow Orchard.\n"
        "Thought 3:"
    )


def test_react_at_the_step_limit_keeps_the_thought_and_asks_for_finish():
    script = Script({"Thought 1:": REACT_STEP_1, "Finish[": "Brennan Vale]\nmore"})
    retriever = Retriever({})
    chain = run_chains([("1", Q)], make_strategy("react", None, "ircot"), retriever, script, LoopSettings(2, 1, 15, 64, "retrieval", "ircot"))[0]
    assert script.prompts[-1].continuation == "\nThought 1: I need to search the film starring Tamsin Everhart.\nAction 1: Finish["
    assert chain.answer == "Brennan Vale"
    assert chain.steps[-1]["output"] == "Thought 1: I need to search the film starring Tamsin Everhart.\nAction 1: Finish[Brennan Vale]"


def test_react_demonstration_from_an_annotated_decomposition():
    demo = load_demonstrations(FIXTURES / "demonstrations.jsonl")[0]
    assert make_strategy("react", None, "ircot").demonstration(demo) == (
        "Question: Where was the poet of Harbor Lights born?\n"
        "Thought 1: I need to search Who wrote Harbor Lights?\n"
        "Action 1: Search[Who wrote Harbor Lights?]\n"
        "Observation 1: [Harbor Lights] Harbor Lights is a poem by Ada Finch.\n"
        'Thought 2: The answer to "Who wrote Harbor Lights?" is Ada Finch. Next I need to search Where was Ada Finch born?\n'
        "Action 2: Search[Where was Ada Finch born?]\n"
        "Observation 2: [Ada Finch] Ada Finch is a poet who was born in Dunmore.\n"
        'Thought 3: The answer to "Where was Ada Finch born?" is Dunmore. So the answer is: Dunmore.\n'
        "Action 3: Finish[Dunmore]"
    )
