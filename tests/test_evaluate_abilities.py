"""The ability scores (steper.evaluate.abilities) on hand-written chains, one rule per test.

Each chain is built so that a plausible slip in the definition (the wrong steps searched, the final
hop counted as intermediate, the wrong denominator, a step order taken from the file instead of the
step numbers) gives a different number than the one stated in ABILITY_DEFINITIONS.
"""

from __future__ import annotations

import pytest

from steper.data.corpus import passage_id
from steper.evaluate.abilities import ability_scores, appears, question_abilities, supporting_recall
from steper.retrieval import Passage

# a 4-hop question: a_1 Mara Quill, a_2 St. Albans, a_3 Hertfordshire, a_4 (final) England
RECORD = {
    "answers": ["England", "Kingdom of England"],
    "decomposition": [
        {"question": "Who wrote Quiet Harbor?", "answer": "Mara Quill"},
        {"question": "Where was she born?", "answer": "St. Albans"},
        {"question": "Which county is it in?", "answer": "Hertfordshire"},
        {"question": "Which country is that county in?", "answer": "England"},
    ],
    "supporting": [
        {"title": "Quiet Harbor", "text": "Quiet Harbor is a novel by Mara Quill."},
        {"title": "Mara Quill", "text": "Mara Quill was born in St. Albans."},
        {"title": "St. Albans", "text": "St. Albans is in Hertfordshire."},
        {"title": "Hertfordshire", "text": "Hertfordshire is a county of England."},
    ],
}


def trace(*outputs: str, prediction: str = "England", framework: str = "ircot", retrieved: list[list[str]] | None = None) -> dict:
    retrieved = retrieved or [[] for _ in outputs]
    return {
        "id": "q",
        "framework": framework,
        "prediction": prediction,
        "steps": [{"step": number, "retrieved": ids, "output": output} for number, (output, ids) in enumerate(zip(outputs, retrieved), start=1)],
    }


def abilities(*outputs: str, **kwargs) -> dict:
    return question_abilities(trace(*outputs, **kwargs), RECORD)


def test_initialization_is_the_first_hop_in_the_first_step_only():
    assert abilities("Quiet Harbor is by Mara Quill.", "x")["initialization"] == 1.0
    assert abilities("Quiet Harbor is a novel.", "Mara Quill wrote it.")["initialization"] == 0.0
    assert abilities("St. Albans is a city.", "x")["initialization"] == 0.0  # another hop's answer is not the first


def test_expansion_counts_intermediate_hops_found_after_the_first_step():
    # a_2 and a_3 are the intermediate hops; a_1 and the final answer are not counted
    assert abilities("Mara Quill.", "She was born in St. Albans.", "It is in Hertfordshire.")["expansion"] == 1.0
    assert abilities("Mara Quill.", "She was born in St. Albans.", "So the answer is: England.")["expansion"] == 0.5
    # a hop reached at any later step counts, not only at its own step
    assert abilities("Mara Quill.", "x", "y", "St. Albans, Hertfordshire.")["expansion"] == 1.0
    # a hop named only in the first step is not an expansion
    assert abilities("Mara Quill of St. Albans.", "It is in Hertfordshire.")["expansion"] == 0.5
    # the final answer in a later step adds nothing; the first hop in a later step adds nothing
    assert abilities("x", "Mara Quill, England.")["expansion"] == 0.0
    # a hop is matched within one step's text, never across the end of one step and the start of the next
    assert abilities("Mara Quill.", "She was born in St.", "Albans is in Hertfordshire.")["expansion"] == 0.5


def test_expansion_is_undefined_for_two_hop_questions_and_a_chain_of_one_step():
    two_hops = dict(RECORD, decomposition=RECORD["decomposition"][2:])
    scores = question_abilities(trace("Hertfordshire.", "England."), two_hops)
    assert scores["expansion"] is None and scores["initialization"] == 1.0
    assert abilities("Mara Quill, St. Albans, Hertfordshire.")["expansion"] == 0.0


def test_an_intermediate_hop_that_normalises_to_nothing_is_left_out():
    no_answer = dict(RECORD, decomposition=[RECORD["decomposition"][0], {"question": "?"}, RECORD["decomposition"][3]])
    assert question_abilities(trace("Mara Quill.", "England."), no_answer)["expansion"] is None
    record = dict(RECORD, decomposition=[RECORD["decomposition"][0], {"question": "?", "answer": "The"}, *RECORD["decomposition"][2:]])
    assert question_abilities(trace("Mara Quill.", "Hertfordshire."), record)["expansion"] == 1.0
    only_empty = dict(RECORD, decomposition=[RECORD["decomposition"][0], {"question": "?", "answer": "a"}, RECORD["decomposition"][3]])
    assert question_abilities(trace("Mara Quill.", "England."), only_empty)["expansion"] is None


def test_aggregation_needs_every_intermediate_hop_somewhere_in_the_chain():
    full = ("Mara Quill.", "St. Albans.", "Hertfordshire.")
    assert abilities(*full)["aggregation"] == 1.0
    assert abilities(*full, prediction="the Kingdom of England")["aggregation"] == 1.0  # Acc over the aliases
    assert abilities(*full, prediction="Wales")["aggregation"] == 0.0
    assert abilities("Mara Quill, St. Albans, Hertfordshire.")["aggregation"] == 1.0  # the first step counts here
    assert abilities("Mara Quill.", "Hertfordshire.")["aggregation"] is None  # St. Albans was never reached
    assert abilities("St. Albans.", "Hertfordshire.")["aggregation"] is None  # nor was the first hop
    assert abilities("Mara Quill of St.", "Albans, Hertfordshire.")["aggregation"] is None  # split over two steps
    # the final answer need not appear in a step: aggregation asks whether the chain concluded it
    assert abilities(*full, prediction="England")["aggregation"] == 1.0


def test_steps_are_read_in_step_order():
    shuffled = trace("Mara Quill.", "St. Albans.", "Hertfordshire.")
    shuffled["steps"] = shuffled["steps"][::-1]
    assert question_abilities(shuffled, RECORD)["initialization"] == 1.0
    # steps without a number keep the file's order, before any numbered step
    unnumbered = [{"output": "Mara Quill."}, {"output": "St. Albans."}]
    assert question_abilities(dict(shuffled, steps=unnumbered), RECORD)["initialization"] == 1.0
    mixed = [{"step": 1, "output": "St. Albans."}, {"output": "Mara Quill."}]
    assert question_abilities(dict(shuffled, steps=mixed), RECORD)["initialization"] == 1.0
    # a step without output is an empty step
    assert abilities("Mara Quill.", None, "Hertfordshire.")["expansion"] == 0.5


def test_selfask_reads_each_hop_from_the_next_step():
    chain = trace(
        "Follow up: Who wrote Quiet Harbor?",
        "Intermediate answer: Mara Quill\nFollow up: Where was she born?",
        "Intermediate answer: St. Albans\nFollow up: Which county?",
        "Intermediate answer: Hertfordshire\nSo the final answer is: England",
        framework="selfask",
    )
    assert question_abilities(chain, RECORD) == {"initialization": 1.0, "expansion": 1.0, "aggregation": 1.0, "supporting_recall": 0.0}
    # two steps: the second holds the first hop's answer
    two = trace("Follow up: Who wrote Quiet Harbor?", "Intermediate answer: Mara Quill\nSo the final answer is: England", framework="selfask")
    assert question_abilities(two, RECORD)["initialization"] == 1.0
    # a one-step Self-Ask chain is read as it is
    single = trace("Intermediate answer: Mara Quill\nSo the final answer is: England", framework="selfask")
    assert question_abilities(single, RECORD)["initialization"] == 1.0


def test_no_output_or_no_decomposition_defines_nothing():
    assert question_abilities(dict(trace("Mara Quill."), steps=[]), RECORD)["initialization"] is None
    one_hop = dict(RECORD, decomposition=RECORD["decomposition"][:1])
    assert question_abilities(trace("Mara Quill."), one_hop) == {
        "initialization": None, "expansion": None, "aggregation": None, "supporting_recall": 0.0
    }


def test_supporting_recall_counts_each_supporting_passage_once():
    ids = [passage_id(p["title"], p["text"]) for p in RECORD["supporting"]]
    chain = trace("a", "b", "c", retrieved=[[ids[0], "other"], [ids[0], ids[2]], []])
    assert supporting_recall(chain, RECORD) == pytest.approx(2 / 4)
    assert supporting_recall(chain, dict(RECORD, supporting=[])) is None


class TitleIndex:
    """An index holding only the first supporting passage under its id, and a second one by title."""

    def __init__(self):
        first = RECORD["supporting"][0]
        self.docs = {
            passage_id(first["title"], first["text"]): Passage(passage_id(first["title"], first["text"]), first["title"], first["text"]),
            "abstract": Passage("abstract", "Mara Quill", "Mara Quill (1901-1980) was an English novelist."),
        }

    def doc(self, doc_id):
        return self.docs[doc_id]


def test_supporting_recall_with_the_index_matches_by_title_when_the_text_differs():
    first = passage_id(RECORD["supporting"][0]["title"], RECORD["supporting"][0]["text"])
    chain = trace("a", "b", retrieved=[["abstract"], [first]])
    assert supporting_recall(chain, RECORD, TitleIndex()) == pytest.approx(2 / 4)
    assert supporting_recall(chain, RECORD) == pytest.approx(1 / 4)


def test_ability_scores_are_macro_averages_with_their_counts():
    records = {"a": RECORD, "b": RECORD, "c": dict(RECORD, decomposition=[], supporting=[])}
    traces = [
        dict(trace("Mara Quill."), id="not in the records"),  # skipped, and the next traces still count
        dict(trace("Mara Quill.", "St. Albans.", "Hertfordshire."), id="a"),  # init 1, expansion 1, aggregation 1
        dict(trace("x", "St. Albans."), id="b"),  # init 0, expansion 1/2, aggregation undefined
        dict(trace("Mara Quill."), id="c"),  # nothing defined
    ]
    scores = ability_scores(traces, records)
    assert scores == {
        "initialization": 50.0, "n_initialization": 2,
        "expansion": 75.0, "n_expansion": 2,
        "aggregation": 100.0, "n_aggregation": 1,
        "supporting_recall": 0.0, "n_supporting_recall": 2,
    }


def test_appears_needs_whole_tokens():
    assert appears("St. Albans", "born in st albans, england")
    assert not appears("Albans", "St. Albansbury")
    assert appears("albans", "Albans")
    assert not appears("a", "a")  # an article normalises to nothing
