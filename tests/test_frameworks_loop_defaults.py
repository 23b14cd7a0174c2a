"""The paper's IRCoT settings through the real loop, and the training prompts it leaves behind.

Every test here runs `run_chains` (or the runner around it) with the schema's defaults:
`query_cleaning: ircot` (the query is the last generated sentence that is not a reasoning
sentence, with IRCoT's wh-words removed), `new_passages: ircot` (exactly K hits per step; a
re-found, near-duplicate or over-long hit uses up its slot) and passages cut to `passage_words`.
The components around the loop are real classes behind the loop's interfaces: a generation
backend that answers each prompt with a fixed text and cuts it with the stop strings and step end
exactly as the transformers and vLLM backends do (`cut_text`), and a retriever with a fixed ranking
per query that refuses any query it was not given, so a wrong query fails the test instead of
silently retrieving nothing. Passages are hand-written to hit each rule: a copy under another id, a
one-word variant, a passage over 600 words, two passages under one title with other texts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from scripted_components import RankedRetriever, ScriptedBackend

from steper.frameworks.chain import LoopSettings, run_chains
from steper.frameworks.demonstrations import load_demonstrations
from steper.frameworks.fitting import PromptBudget
from steper.frameworks.ircot import ircot_query
from steper.frameworks.registry import make_strategy
from steper.frameworks.runner import FrameworkSettings, run_framework
from steper.models.generation import GenerationSettings
from steper.retrieval import Passage
from steper.stepwise.build import build_examples, stepwise_prompts

FIXTURES = Path(__file__).parent / "fixtures" / "frameworks"
DEFAULTS = FrameworkSettings()


ORCHARD = "The Hollow Orchard is a 1998 drama film starring Tamsin Everhart and directed by Brennan Vale."
LONG = " ".join(["Orchard Films made many films in many places over many years."] * 55)  # 605 words
DOCS = {
    doc_id: Passage(doc_id, title, text)
    for doc_id, title, text in [
        ("orchard", "The Hollow Orchard", ORCHARD),
        ("orchard_copy", "The Hollow Orchard", ORCHARD),  # the same passage under another id
        ("orchard_near", "The Hollow Orchard", ORCHARD.replace("drama", "dramatic")),  # >= 90% similar
        ("orchard_novel", "The Hollow Orchard", "The Hollow Orchard is also a 1952 novel by Edith Marrow about apple growers."),
        ("orchard_films", "Orchard Films", LONG),
        ("everhart", "Tamsin Everhart", "Tamsin Everhart is an English actress.\nShe was born in 1970 in Dunmore."),
        ("vale_director", "Brennan Vale", "Brennan Vale is a film director from Port Ellery."),
        ("vale_footballer", "Brennan Vale", "Brennan Vale (born 1988) is a footballer who plays as a defender."),
        ("quiet", "Quiet Harbor", "Quiet Harbor is a novel by Mara Quill, published in 1971."),
        ("quill", "Mara Quill", "Mara Quill was born in St. Albans, where she taught  music."),
        ("ellery", "Port Ellery", "Port Ellery is a harbour town on the west coast."),
    ]
}

# Question A: a reasoning sentence in the middle, answered in a phrasing other than "So the answer is:".
QA = "Who directed the film which stars Tamsin Everhart?"
A1 = "The Hollow Orchard is the film which stars Tamsin Everhart."
A2 = "The director of The Hollow Orchard is Brennan Vale."
A3 = "1998 + 10 = 2008, so the sequel came out ten years later."
A4 = "Thus, the answer is Brennan Vale."
# the queries IRCoT sends: wh-words and "is" removed; after the arithmetic sentence, A2 again
QA_QUERIES = [
    "directed the film stars Tamsin Everhart?",
    "The Hollow Orchard the film stars Tamsin Everhart.",
    "The director of The Hollow Orchard Brennan Vale.",
    "The director of The Hollow Orchard Brennan Vale.",
]
# Question B: ends in "The answer is: ..." at step 3, with "St." inside its sentences.
QB = "Where was the author of Quiet Harbor born?"
B1 = "The author of Quiet Harbor is Mara Quill."
B2 = "Mara Quill was born in St. Albans."
B3 = "The answer is: St. Albans."
QB_QUERIES = ["was the author of Quiet Harbor born?", "The author of Quiet Harbor Mara Quill.", "Mara Quill was born in St. Albans."]
# Question C: "The answer isn't ..." states no answer (IRCoT's regex needs "answer is" + space or colon),
# then only reasoning sentences until the step limit forces the answer.
QC = "Which river flows through Port Ellery?"
C1 = "The answer isn't in these passages."
C2 = "Hence, more evidence is needed."
C3 = "That is, the river is not named."
C4 = "Therefore nothing is known yet."
QC_QUERIES = ["river flows through Port Ellery?", C1, C1, C1]

SCRIPT = {
    (QA, ""): f" {A1} It was released in 1998.\n\nQ: next",
    (QA, f" {A1}"): f" {A2} Brennan Vale was born in Port Ellery.",
    (QA, f" {A1} {A2}"): f" {A3} The sequel",
    (QA, f" {A1} {A2} {A3}"): f" {A4} He directed it in 1998.\nQ: x",
    (QB, ""): f" {B1} Quill is a pen name.",
    (QB, f" {B1}"): f" {B2} She later moved.",
    (QB, f" {B1} {B2}"): f" {B3}\n\nWikipedia Title: x",
    (QC, ""): f" {C1} Port Ellery is a town.",
    (QC, f" {C1}"): f" {C2} More",
    (QC, f" {C1} {C2}"): f" {C3} It",
    (QC, f" {C1} {C2} {C3}"): f" {C4} Nothing",
    (QC, f" {C1} {C2} {C3} {C4} So the answer is:"): " the Ellery River.\n\nQ: x",
}
RANKINGS = {
    QA_QUERIES[0]: ["orchard", "everhart", "orchard_copy", "vale_director"],
    QA_QUERIES[1]: ["orchard_near", "orchard_films", "orchard_novel", "vale_footballer"],
    QA_QUERIES[2]: ["vale_director", "vale_footballer", "orchard", "quiet"],
    QB_QUERIES[0]: ["quiet", "quill", "orchard"],
    QB_QUERIES[1]: ["quill", "quiet", "everhart", "ellery"],
    QB_QUERIES[2]: ["quill", "ellery", "vale_director"],
    QC_QUERIES[0]: ["ellery", "vale_director", "quiet"],
    C1: ["quiet", "quill", "everhart", "orchard"],
}
QUESTIONS = [("a", QA), ("b", QB), ("c", QC)]


def loop(passage_words=DEFAULTS.passage_words, max_passages=DEFAULTS.max_passages, script=SCRIPT, questions=QUESTIONS, rankings=RANKINGS):
    backend, retriever = ScriptedBackend(script), RankedRetriever(rankings, DOCS)
    settings = LoopSettings(
        top_k=3, max_steps=4, max_passages=max_passages, max_new_tokens=32,
        passage_order=DEFAULTS.passage_order, new_passages=DEFAULTS.new_passages,
    )
    strategy = make_strategy("ircot", passage_words, DEFAULTS.query_cleaning)
    chains = run_chains(questions, strategy, retriever, backend, settings)
    return {chain.id: chain for chain in chains}, backend, retriever


def test_the_defaults_are_the_papers():
    assert (DEFAULTS.query_cleaning, DEFAULTS.new_passages, DEFAULTS.passage_words, DEFAULTS.max_passages) == ("ircot", "ircot", 350, 15)


def test_queries_are_the_last_factual_sentence_without_wh_words():
    chains, _, retriever = loop()
    assert [step["query"] for step in chains["a"].steps] == QA_QUERIES
    assert [step["query"] for step in chains["b"].steps] == QB_QUERIES
    assert [step["query"] for step in chains["c"].steps] == QC_QUERIES
    # lockstep: one batch per round, of the questions still running, each asking for exactly K hits
    assert retriever.calls == [
        ([QA_QUERIES[0], QB_QUERIES[0], QC_QUERIES[0]], 3),
        ([QA_QUERIES[1], QB_QUERIES[1], QC_QUERIES[1]], 3),
        ([QA_QUERIES[2], QB_QUERIES[2], QC_QUERIES[2]], 3),
        ([QA_QUERIES[3], QC_QUERIES[3]], 3),
    ]


def test_only_the_first_sentence_of_each_generation_is_kept_and_answers_end_the_chain():
    chains, backend, _ = loop()
    assert [step["output"] for step in chains["a"].steps] == [A1, A2, A3, A4]
    assert chains["a"].answer == "Brennan Vale"
    assert [step["output"] for step in chains["b"].steps] == [B1, B2, B3]
    assert chains["b"].answer == "St. Albans"
    # "The answer isn't ..." is not an answer: the chain goes on until the step limit forces one
    assert [step["output"] for step in chains["c"].steps] == [C1, C2, C3, f"{C4} So the answer is: the Ellery River."]
    assert chains["c"].answer == "the Ellery River"
    assert backend.prompts_of(QC)[-1].continuation == f" {C1} {C2} {C3} {C4} So the answer is:"
    assert len(backend.prompts) == 4 + 3 + 4 + 1


def test_each_hit_uses_its_slot_duplicates_and_long_passages_add_nothing():
    chains, _, _ = loop()
    a = chains["a"]
    assert [step["retrieved"] for step in a.steps] == [
        ["orchard", "everhart"],  # orchard_copy: same title and text under another id
        ["orchard_novel"],  # orchard_near: a one-word variant; orchard_films: over 600 words
        ["vale_director", "vale_footballer"],  # one title, two texts: both are shown; orchard: re-found
        [],  # the same query again: all three hits are shown already, no deeper search
    ]
    assert [passage.id for passage in a.passages] == ["orchard", "everhart", "orchard_novel", "vale_director", "vale_footballer"]
    assert [step["retrieved"] for step in chains["b"].steps] == [["quiet", "quill", "orchard"], ["everhart"], ["ellery", "vale_director"]]
    assert [step["retrieved"] for step in chains["c"].steps] == [["ellery", "vale_director", "quiet"], ["quill", "everhart"], [], []]  # "orchard" ranks 4th: never seen


def test_the_cap_on_passages_holds_across_steps():
    chains, _, _ = loop(max_passages=4)
    assert [step["retrieved"] for step in chains["a"].steps] == [["orchard", "everhart"], ["orchard_novel"], ["vale_director"], []]
    assert [step["retrieved"] for step in chains["c"].steps] == [["ellery", "vale_director", "quiet"], ["quill"], [], []]


def test_prompts_show_the_passages_cut_on_single_spaces():
    _, backend, _ = loop(passage_words=6)
    last = backend.prompts_of(QA)[-1].context
    assert last == (
        "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a 1998\n\n"
        "Wikipedia Title: Tamsin Everhart\nTamsin Everhart is an English actress.\nShe\n\n"
        "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is also a\n\n"
        "Wikipedia Title: Brennan Vale\nBrennan Vale is a film director\n\n"
        "Wikipedia Title: Brennan Vale\nBrennan Vale (born 1988) is a\n\n"
        f"Q: Answer the following question by reasoning step-by-step.\n{QA}\nA:"
    )
    _, whole, _ = loop(passage_words=None)
    assert "she taught  music." in whole.prompts_of(QB)[-1].context
    # the forced answer's prompt shows the last step's passages, cut the same way
    forced, last_step = backend.prompts_of(QC)[-1], backend.prompts_of(QC)[-2]
    assert forced.context == last_step.context and "Port Ellery is a harbour town\n\n" in forced.context


def test_demonstrations_are_cut_like_the_questions_passages():
    demo = load_demonstrations(FIXTURES / "demonstrations.jsonl")[0]
    assert make_strategy("ircot", 3, "ircot").demonstration(demo) == (
        "Wikipedia Title: Harbor Lights\nHarbor Lights is\n\n"
        "Wikipedia Title: Quiet Harbor\nQuiet Harbor is\n\n"
        "Wikipedia Title: Ada Finch\nAda Finch is\n\n"
        f"Q: Answer the following question by reasoning step-by-step.\n{demo.question}\n"
        "A: Harbor Lights was written by Ada Finch. Ada Finch was born in Dunmore. So the answer is: Dunmore."
    )
    assert make_strategy("selfask", 3, "ircot").demonstration(demo) == (
        "Wikipedia Title: Harbor Lights\nHarbor Lights is\n\n"
        "Wikipedia Title: Quiet Harbor\nQuiet Harbor is\n\n"
        "Wikipedia Title: Ada Finch\nAda Finch is\n\n"
        f"Question: {demo.question}\nAre follow up questions needed here: Yes.\n"
        "Follow up: Who wrote Harbor Lights?\n"
        "Intermediate answer: Ada Finch\nFollow up: Where was Ada Finch born?\n"
        "Intermediate answer: Dunmore\nSo the final answer is: Dunmore"
    )


QD = "When was Port Ellery founded?"
D1 = "So we must find the town first."


def test_a_reasoning_sentence_first_queries_the_question_and_an_empty_step_forces_the_answer():
    script = {
        (QD, ""): f" {D1} It",
        (QD, f" {D1}"): "\n\nQ: next",  # nothing before the stop string: an empty step
        (QD, f" {D1} So the answer is:"): "\n\nQ: x",  # and nothing after the forced "So the answer is:"
    }
    rankings = {"was Port Ellery founded?": ["ellery", "quiet", "quill"]}
    chains, backend, retriever = loop(script=script, questions=[("d", QD)], rankings=rankings)
    chain = chains["d"]
    # no factual sentence yet: the question, cleaned, is the query again
    assert retriever.queries() == ["was Port Ellery founded?", "was Port Ellery founded?"]
    assert [step["output"] for step in chain.steps] == [D1, "So the answer is:"]
    assert chain.answer == ""
    assert [step["retrieved"] for step in chain.steps] == [["ellery", "quiet", "quill"], []]


def test_an_empty_step_whose_forced_answer_cannot_fit_stays_empty():
    script = {(QD, ""): f" {D1} It", (QD, f" {D1}"): "\n\nQ: next"}
    backend, retriever = ScriptedBackend(script), RankedRetriever({"was Port Ellery founded?": []}, DOCS)
    settings = LoopSettings(top_k=3, max_steps=4, max_passages=15, max_new_tokens=8, passage_order="retrieval", new_passages="ircot")
    step_two = len(f"Q: Answer the following question by reasoning step-by-step.\n{QD}\nA: {D1}".split())
    budget = PromptBudget(count=backend.count_tokens, max_model_len=step_two + 8)  # the step fits, its forced answer does not
    chain = run_chains([("d", QD)], make_strategy("ircot", 350, "ircot"), retriever, backend, settings, budget=budget)[0]
    assert [step["output"] for step in chain.steps] == [D1, ""]
    assert chain.answer is None and chain.cuts["overflows"] == 1


def test_stepwise_prompts_of_steps_that_list_no_retrieval():
    trace = {"question": QD, "passage_words": 2, "steps": [{"step": 1, "output": D1}, {"step": 2, "retrieved": ["ellery"], "output": "x"}]}
    (_, first, _), (_, second, _) = stepwise_prompts(trace, DOCS.__getitem__, "ircot")
    assert first.context == f"Q: Answer the following question by reasoning step-by-step.\n{QD}\nA:"
    assert second.context.startswith("Wikipedia Title: Port Ellery\nPort Ellery\n\nQ:") and second.continuation == f" {D1}"


def test_query_cleaning_splits_on_single_spaces_as_ircot():
    # "Who  directed" splits into "Who", "", "directed": the empty word stays, so does a line break
    assert ircot_query("q", ["Who  directed it?"], "ircot") == " directed it?"
    assert ircot_query("q", ["Who\ndirected it?"], "ircot") == "Who\ndirected it?"
    for sentence in ["thus it is X.", "Thus, X.", "so X.", "So, X.", "That is, X.", "Therefore X.", "hence X.", "It is 1,990 - 10 = 1,980."]:
        assert ircot_query("Which film?", [sentence], "ircot") == "film?", sentence
    for sentence in ["Thusly X.", "Sonia X.", "That is X.", "It is 3 + 4."]:
        assert ircot_query("Which film?", [sentence], "ircot") == sentence.replace("is ", ""), sentence


# ---------------------------------------------------------------- training prompts = loop prompts

SELFASK_SCRIPT = {
    (QB, ""): "\nFollow up: Who wrote Quiet Harbor?\nIntermediate answer: x",
    (QB, "\nFollow up: Who wrote Quiet Harbor?"): "\nIntermediate answer: Mara Quill\nFollow up: Where was Mara Quill born?\n",
    (QB, "\nFollow up: Who wrote Quiet Harbor?\nIntermediate answer: Mara Quill\nFollow up: Where was Mara Quill born?"):
        "\nIntermediate answer: St. Albans\nSo the final answer is: St. Albans\n\nQuestion: x",
    (QA, ""): "\nFollow up: Which film stars Tamsin Everhart?\n",
    (QA, "\nFollow up: Which film stars Tamsin Everhart?"): "\nIntermediate answer: The Hollow Orchard\nFollow up: Who directed The Hollow Orchard?\n",
    (QA, "\nFollow up: Which film stars Tamsin Everhart?\nIntermediate answer: The Hollow Orchard\nFollow up: Who directed The Hollow Orchard?"):
        "\nIntermediate answer: Brennan Vale\nFollow up: Was he born in Port Ellery?\n",
    (QA, "\nFollow up: Which film stars Tamsin Everhart?\nIntermediate answer: The Hollow Orchard\nFollow up: Who directed The Hollow Orchard?\n"
         "Intermediate answer: Brennan Vale\nSo the final answer is:"): " Brennan Vale\n",
}
SELFASK_RANKINGS = {
    QB: ["quiet", "orchard", "everhart"],
    "Who wrote Quiet Harbor?": ["quiet", "quill", "ellery"],
    "Where was Mara Quill born?": ["quill", "orchard_copy", "orchard_near"],
    QA: ["orchard", "everhart", "orchard_films"],
    "Which film stars Tamsin Everhart?": ["orchard_near", "orchard_novel", "vale_director"],
    "Who directed The Hollow Orchard?": ["vale_director", "vale_footballer", "quiet"],
}


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_and_build(tmp_path, framework, passage_words, passage_order, shots, target):
    """Run the framework through the runner, then rebuild its step-wise examples from the trace file."""
    records = write_jsonl(tmp_path / "records.jsonl", [{"id": qid, "question": q, "answers": ["x"]} for qid, q in QUESTIONS[:2]])
    steps = 4 if framework == "ircot" else 3  # Self-Ask's question A reaches the limit with a follow-up pending
    settings = dataclasses.replace(DEFAULTS, top_k=3, max_steps=steps, shots=shots, passage_words=passage_words, passage_order=passage_order)
    backend = ScriptedBackend(SCRIPT if framework == "ircot" else SELFASK_SCRIPT)
    retriever = RankedRetriever(RANKINGS if framework == "ircot" else SELFASK_RANKINGS, DOCS)
    traces = tmp_path / "traces.jsonl"
    run_framework(
        framework, records, traces, "unused", "scripted", None, settings, GenerationSettings(batch_size=4),
        demonstrations_path=FIXTURES / "demonstrations.jsonl", backend=backend, retriever=retriever,
    )
    data = build_examples(traces, DOCS, framework, "none", target)
    return backend, data.examples


@pytest.mark.parametrize("framework", ["ircot", "selfask"])
@pytest.mark.parametrize("passage_words", [350, 6, 1, None])
@pytest.mark.parametrize("passage_order", ["retrieval", "best_last"])
@pytest.mark.parametrize("shots", [0, 2])
def test_stepwise_prompts_are_the_loops_prompts_byte_for_byte(tmp_path, framework, passage_words, passage_order, shots):
    backend, examples = run_and_build(tmp_path, framework, passage_words, passage_order, shots, "step")
    assert examples
    demos = set()
    for qid, question in QUESTIONS[:2]:
        sent = backend.prompts_of(question)
        forced = sent[-1].continuation.endswith(("So the answer is:", "So the final answer is:"))
        mine = [example for example in examples if example["id"] == qid]
        assert len(mine) == len(sent) - forced
        for example, prompt in zip(mine, sent):
            assert prompt.context.endswith(example["context"]) and prompt.continuation == example["continuation"]
            demos.add(prompt.context[: len(prompt.context) - len(example["context"])])
            assert example["prompt"] == example["context"] + example["continuation"]
        if forced:  # the forced answer is the end of the last step's completion
            assert example["prompt"] + example["completion"] == sent[-1].plain[len(sent[-1].context) - len(example["context"]):] + " Brennan Vale"
    # the demonstrations are one shared prefix (empty zero-shot); the training prompt has none
    assert len(demos) == 1
    assert (next(iter(demos)) == "") == (shots == 0)


@pytest.mark.parametrize("passage_words", [6, None])
def test_chain_target_moves_the_steps_so_far_into_the_completion(tmp_path, passage_words):
    backend, examples = run_and_build(tmp_path, "ircot", passage_words, "retrieval", 0, "chain")
    sent = backend.prompts_of(QA)
    mine = [example for example in examples if example["id"] == "a"]
    # step 4 repeats step 3's query and finds nothing new, so step 3 joins it: one example, no EOS after A3
    assert sent[2].context == sent[3].context
    assert [example["context"] for example in mine] == [sent[0].context, sent[1].context, sent[3].context]
    assert [example["completion"] for example in mine] == [f" {A1}", f" {A1} {A2}", f" {A1} {A2} {A3} {A4}"]
    assert [example["kind"] for example in mine] == ["first", "mid", "final"]
    assert all(example["continuation"] == "" for example in mine)


RETGEN_ANSWER = "The author is Mara Quill. She was born in St. Albans. So the answer is: St. Albans."
REACT_SCRIPT = {
    (QB, "\nThought 1:"): " I need to search Quiet Harbor.\nAction 1: Search[Quiet Harbor]\nObservation 1: x",
    (QB, "\nThought 2:"): " Quiet Harbor is by Mara Quill.\nAction 2: Search[Mara Quill]\nObservation",
    (QB, "\nThought 3:"): " She was born in St. Albans.\nAction 3: Finish[St. Albans]",
}


@pytest.mark.parametrize("framework", ["iter_retgen", "react"])
def test_stepwise_prompts_follow_frameworks_that_replace_or_observe_passages(framework):
    # ITER-RETGEN replaces its passages at each iteration; ReAct shows each step's own passages after it
    script = {(QB, ""): f" {RETGEN_ANSWER}"} if framework == "iter_retgen" else REACT_SCRIPT
    rankings = {QB: ["quiet", "orchard"], f"{QB} {RETGEN_ANSWER}": ["quill", "quiet"],
                "Quiet Harbor": ["quiet", "orchard"], "Mara Quill": ["quill", "quiet", "ellery"]}
    backend, retriever = ScriptedBackend(script), RankedRetriever(rankings, DOCS)
    settings = LoopSettings(top_k=2, max_steps=3 if framework == "react" else 2, max_passages=15, max_new_tokens=32,
                            passage_order="retrieval", new_passages="ircot")
    chain = run_chains([("b", QB)], make_strategy(framework, 4, "ircot"), retriever, backend, settings)[0]
    assert chain.answer == "St. Albans"
    examples = stepwise_prompts({"question": QB, "steps": chain.steps, "passage_words": 4}, DOCS.__getitem__, framework)
    assert [prompt for _, prompt, _ in examples] == backend.prompts
    if framework == "iter_retgen":
        assert [step["retrieved"] for step in chain.steps] == [["quiet", "orchard"], ["quill", "quiet"]]
        assert "Wikipedia Title: The Hollow Orchard" not in backend.prompts[1].context
    else:
        assert [step["retrieved"] for step in chain.steps] == [[], ["quiet", "orchard"], ["quill"]]
        assert backend.prompts[2].context.endswith(
            "Action 1: Search[Quiet Harbor]\nObservation 1: [Quiet Harbor] Quiet Harbor is a [The Hollow Orchard] The Hollow Orchard is\n"
            "Thought 2: Quiet Harbor is by Mara Quill.\nAction 2: Search[Mara Quill]\nObservation 2: [Mara Quill] Mara Quill was born"
        )


def test_the_forced_answers_call_is_recorded_apart_from_its_steps_call():
    chains, backend, _ = loop()
    last, forced = chains["c"].steps[-1], backend.prompts_of(QC)[-1]
    assert last["answer_prompt_tokens"] == len(forced.plain.split()) != last["prompt_tokens"]
    assert last["answer_completion_tokens"] == len("the Ellery River.".split())
    steps = sum(step["completion_tokens"] for step in chains["c"].steps)
    assert chains["c"].completion_tokens == steps + last["answer_completion_tokens"]
    assert "answer_prompt_tokens" not in chains["a"].steps[-1]  # a chain that answered itself made no such call


def test_a_chain_whose_forced_answer_cannot_fit_does_not_stop_the_others_answers():
    script = {**SCRIPT, (QD, ""): f" {D1} It", (QD, f" {D1}"): "\n\nQ: next"}
    backend, retriever = ScriptedBackend(script), RankedRetriever({**RANKINGS, "was Port Ellery founded?": []}, DOCS)
    settings = LoopSettings(top_k=3, max_steps=4, max_passages=15, max_new_tokens=8, passage_order="retrieval", new_passages="ircot")
    step_two = len(f"Q: Answer the following question by reasoning step-by-step.\n{QD}\nA: {D1}".split())
    budget = PromptBudget(count=backend.count_tokens, max_model_len=step_two + 8)
    chains = run_chains([("d", QD), ("d2", QD)], make_strategy("ircot", 350, "ircot"), retriever, backend, settings, budget=budget)
    assert [chain.cuts["overflows"] for chain in chains] == [1, 1] and [chain.answer for chain in chains] == [None, None]
    assert all(chain.done for chain in chains)


def test_a_step_whose_prompt_cannot_fit_ends_its_chain_with_an_empty_step():
    backend, retriever = ScriptedBackend({}), RankedRetriever({"was Port Ellery founded?": ["ellery"]}, DOCS)
    settings = LoopSettings(top_k=3, max_steps=4, max_passages=15, max_new_tokens=8, passage_order="retrieval", new_passages="ircot")
    budget = PromptBudget(count=backend.count_tokens, max_model_len=12)  # not even the question fits
    chains = run_chains([("d", QD), ("d2", QD)], make_strategy("ircot", 350, "ircot"), retriever, backend, settings, budget=budget)
    for chain in chains:
        assert (chain.answer, chain.done, chain.cuts["overflows"], chain.completion_tokens) == (None, True, 1, 0)
        assert [(s["step"], s["output"], s["retrieved"], s["prompt_tokens"], s["completion_tokens"], s["query"]) for s in chain.steps] == [
            (1, "", ["ellery"], 0, 0, "was Port Ellery founded?")
        ]
        assert chain.rounds == [[DOCS["ellery"]]]
    assert backend.prompts == []


class BudgetedBackend(ScriptedBackend):
    """The scripted backend, keeping the generation budget each call asked for."""

    def __init__(self, script):
        super().__init__(script)
        self.budgets: list[int] = []

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        self.budgets.append(max_new_tokens)
        return super().generate(prompts, max_new_tokens, stop, step_end)


E1 = "Port Ellery is a harbour town on the west coast."


def test_a_prompt_that_fits_only_without_its_first_passages_leaves_them_out_and_counts_every_cut():
    """14 + 15 + 16 words of passages (ellery, quiet, quill) then 13 + 16 (vale_director, everhart):
    a limit of 44 words fits step 1 without ellery, and step 2 with everhart alone; the demonstration
    never fits, so it is dropped at both steps."""
    script = {(QD, ""): f" {E1} It was", (QD, f" {E1}"): " So the answer is: 1820. It"}
    rankings = {"was Port Ellery founded?": ["ellery", "quiet", "quill"], "Port Ellery a harbour town on the west coast.": ["quill", "vale_director", "everhart"]}
    backend, retriever = BudgetedBackend(script), RankedRetriever(rankings, DOCS)
    settings = LoopSettings(top_k=3, max_steps=4, max_passages=15, max_new_tokens=8, passage_order="retrieval", new_passages="ircot")
    budget = PromptBudget(count=backend.count_tokens, max_model_len=44 + 8)
    demo = "Q: Answer the following question by reasoning step-by-step.\n" + " ".join(["Who?"] * 40) + "\nA: So the answer is: x."
    strategy = make_strategy("ircot", 350, "ircot")
    chain = run_chains([("d", QD)], strategy, retriever, backend, settings, demos=[demo], budget=budget)[0]
    question = f"Q: Answer the following question by reasoning step-by-step.\n{QD}\nA:"
    assert [prompt.context for prompt in backend.prompts] == [
        "Wikipedia Title: Quiet Harbor\nQuiet Harbor is a novel by Mara Quill, published in 1971.\n\n"
        "Wikipedia Title: Mara Quill\nMara Quill was born in St. Albans, where she taught  music.\n\n" + question,
        "Wikipedia Title: Tamsin Everhart\nTamsin Everhart is an English actress.\nShe was born in 1970 in Dunmore.\n\n" + question,
    ]
    assert chain.cuts == {"prompts_cut": 2, "demos_dropped": 2, "passages_dropped": 1 + 4, "overflows": 0}
    assert [s["retrieved"] for s in chain.steps] == [["ellery", "quiet", "quill"], ["vale_director", "everhart"]]
    assert len(chain.passages) == 5  # the chain keeps every passage: only its prompts leave some out
    assert [s["prompt_tokens"] for s in chain.steps] == [44, 41] and backend.budgets == [8, 8]
    # the backend cut each completion at the step's end ("It was", "It" are not generated)
    assert [s["completion_tokens"] for s in chain.steps] == [10, 5] and chain.completion_tokens == 15
    assert chain.answer == "1820"


def test_a_framework_that_does_not_retrieve_never_searches_even_given_a_retriever():
    backend, retriever = ScriptedBackend({(QD, " So the answer is:"): " 1820. It"}), RankedRetriever({}, DOCS)
    settings = LoopSettings(top_k=3, max_steps=4, max_passages=15, max_new_tokens=8, passage_order="retrieval", new_passages="ircot")
    chain = run_chains([("d", QD)], make_strategy("direct", 350, "ircot"), retriever, backend, settings)[0]
    assert retriever.calls == [] and chain.rounds == [[]] and chain.passages == []
    assert [(s["query"], s["retrieved"], s["output"]) for s in chain.steps] == [(None, [], "So the answer is: 1820.")]
    assert chain.answer == "1820"
