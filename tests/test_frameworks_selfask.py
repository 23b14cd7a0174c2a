"""Self-Ask (steper.frameworks.selfask) through the real loop: steps that ask nothing, empty follow-ups,
the step limit with a follow-up pending, and forced answers the model runs on past."""

from __future__ import annotations

from scripted_components import RankedRetriever, ScriptedBackend

from steper.frameworks.chain import LoopSettings, run_chains
from steper.frameworks.prompts import direct_prompt, selfask_prompt
from steper.frameworks.registry import make_strategy
from steper.frameworks.selfask import selfask_step_end
from steper.retrieval import Passage

DOCS = {
    "quiet": Passage("quiet", "Quiet Harbor", "Quiet Harbor is a novel by Mara Quill."),
    "quill": Passage("quill", "Mara Quill", "Mara Quill was born in St. Albans."),
}
Q = "Where was the author of Quiet Harbor born?"
F1 = "Follow up: Who wrote Quiet Harbor?"
RANKINGS = {Q: ["quiet"], "Who wrote Quiet Harbor?": ["quill"]}
FORCE = "So the final answer is:"


def run(script: dict[str, str], max_steps: int = 3):
    backend = ScriptedBackend({(Q, continuation): text for continuation, text in script.items()})
    retriever = RankedRetriever(RANKINGS, DOCS)
    settings = LoopSettings(top_k=1, max_steps=max_steps, max_passages=15, max_new_tokens=32, passage_order="retrieval", new_passages="ircot")
    chain = run_chains([("q", Q)], make_strategy("selfask", None, "ircot"), retriever, backend, settings)[0]
    return chain, backend, retriever


def test_a_step_that_asks_nothing_forces_the_answer():
    chain, backend, retriever = run({
        "": f"\n{F1}\n",
        f"\n{F1}": "\nIntermediate answer: Mara Quill\nShe was a novelist.\n\n",
        f"\n{F1}\nIntermediate answer: Mara Quill\nShe was a novelist.\n{FORCE}": " St. Albans\n",
    })
    assert retriever.queries() == [Q, "Who wrote Quiet Harbor?"]
    assert [step["output"] for step in chain.steps] == [F1, f"Intermediate answer: Mara Quill\nShe was a novelist.\n{FORCE} St. Albans"]
    assert chain.answer == "St. Albans"


def test_an_empty_follow_up_is_no_query():
    chain, backend, retriever = run({
        "": f"\n{F1}\n",
        f"\n{F1}": "\nIntermediate answer: Mara Quill\nFollow up:\n",
        f"\n{F1}\nIntermediate answer: Mara Quill\n{FORCE}": " St. Albans\n",
    })
    assert retriever.queries() == [Q, "Who wrote Quiet Harbor?"]  # the loop did not go on with an empty query
    assert chain.steps[-1]["output"] == f"Intermediate answer: Mara Quill\n{FORCE} St. Albans"


def test_the_step_limit_drops_only_the_pending_follow_up():
    # one step: its only line is the follow-up, so the forced answer stands alone
    chain, backend, _ = run({"": f"\n{F1}\n", f"\n{FORCE}": " Mara Quill\n"}, max_steps=1)
    assert [step["output"] for step in chain.steps] == [f"{FORCE} Mara Quill"]
    assert backend.prompts[-1].continuation == f"\n{FORCE}"
    # lines before the pending follow-up all stay, in order
    chain, backend, _ = run({
        "": f"\n{F1}\n",
        f"\n{F1}": "\nIntermediate answer: Mara Quill\nIntermediate answer: a novelist\nFollow up: Where was she born?\n",
        f"\n{F1}\nIntermediate answer: Mara Quill\nIntermediate answer: a novelist\n{FORCE}": " St. Albans\n",
    }, max_steps=2)
    assert chain.steps[-1]["output"] == f"Intermediate answer: Mara Quill\nIntermediate answer: a novelist\n{FORCE} St. Albans"


def test_a_forced_answer_is_its_first_line():
    chain, _, _ = run({
        "": f"\n{F1}\n",
        f"\n{FORCE}": " Mara Quill\nIntermediate answer: x\nFollow up: y\n",
    }, max_steps=1)
    assert chain.answer == "Mara Quill" and chain.steps[-1]["output"] == f"{FORCE} Mara Quill"


def test_step_end_skips_blank_lines_and_cuts_after_the_first_follow_up_or_answer():
    text = "\n\nIntermediate answer: Mara Quill\nFollow up: Where was she born?\nIntermediate answer: x"
    assert text[: selfask_step_end(text)] == "\n\nIntermediate answer: Mara Quill\nFollow up: Where was she born?"
    text = "\nIntermediate answer: St. Albans\nSo the final answer is: St. Albans\nQuestion: x"
    assert text[: selfask_step_end(text)] == "\nIntermediate answer: St. Albans\nSo the final answer is: St. Albans"
    assert selfask_step_end("\nIntermediate answer: Mara Quill\n") is None
    assert selfask_step_end("Follow up: Who?") is None  # the line is not finished yet
    assert selfask_step_end("Follow up: Who?\n") == len("Follow up: Who?")


def test_zero_shot_prompts_have_no_demonstrations():
    assert selfask_prompt(Q, [DOCS["quiet"]], [F1]).plain == (
        "Wikipedia Title: Quiet Harbor\nQuiet Harbor is a novel by Mara Quill.\n\n"
        f"Question: {Q}\nAre follow up questions needed here: Yes.\n{F1}"
    )
    assert selfask_prompt(Q, [DOCS["quill"]], [], words=2).plain == (
        f"Wikipedia Title: Mara Quill\nMara Quill\n\nQuestion: {Q}\nAre follow up questions needed here: Yes."
    )
    assert direct_prompt(Q).plain == f"Q: Answer the following question.\n{Q}\nA:"


def test_an_empty_final_answer_is_an_empty_answer():
    chain, _, _ = run({"": f"\n{F1}\n", f"\n{F1}": f"\nIntermediate answer: Mara Quill\n{FORCE}\n"})
    assert chain.answer == "" and chain.steps[-1]["output"] == f"Intermediate answer: Mara Quill\n{FORCE}"
    forced, _, _ = run({"": f"\n{F1}\n", f"\n{FORCE}": "\n\nQuestion: x"}, max_steps=1)
    assert forced.answer == "" and forced.steps[-1]["output"] == FORCE
