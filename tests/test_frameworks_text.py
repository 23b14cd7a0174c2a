"""Sentence splitting, answer parsing and exact prompt strings of the frameworks."""

from dataclasses import dataclass

import pytest

from steper.frameworks.answers import ircot_answer, selfask_answer
from steper.frameworks.demonstrations import Demonstration
from steper.frameworks.fitting import join_demos
from steper.frameworks.prompts import (
    ircot_prompt,
    selfask_chain,
    selfask_prompt,
)
from steper.frameworks.registry import make_strategy
from steper.frameworks.selfask import selfask_step_end
from steper.frameworks.sentences import first_sentence, step_end
from steper.stepwise.build import stepwise_prompts


@dataclass
class Doc:
    id: str
    title: str
    text: str


@pytest.mark.parametrize(
    "text, sentence",
    [
        ("J. R. R. Tolkien wrote it. He was born in 1892.", "J. R. R. Tolkien wrote it."),
        (" Dr. Smith moved to St. Louis in 1990. Later he left.", "Dr. Smith moved to St. Louis in 1990."),
        ("The U.S. Army bought 3.5 tons. Then more.", "The U.S. Army bought 3.5 tons."),
        ("Martin Luther King Jr. was a pastor. He", "Martin Luther King Jr. was a pastor."),
        ("It was filmed in Washington, D.C. in 1999. Next", "It was filmed in Washington, D.C. in 1999."),
        ("Who wrote it? Nobody knows.", "Who wrote it?"),
        ('He said "stop." Then he left.', 'He said "stop."'),
        ("No full stop at all\nQ: next question", "No full stop at all"),
        (" So the answer is: no. Other text", "So the answer is: no."),
        ("So the answer is: Dr. Brennan Vale.", "So the answer is: Dr. Brennan Vale."),
        ("  The film is The Hollow Orchard.", "The film is The Hollow Orchard."),
    ],
)
def test_first_sentence(text, sentence):
    assert first_sentence(text) == sentence


def test_step_end_waits_until_the_sentence_is_known_to_be_over():
    assert step_end(" J. R. R.") is None
    assert step_end(" J. R. R. Tolkien wrote it.") is None  # the next sentence has not started yet
    text = " J. R. R. Tolkien wrote it. He"
    assert text[: step_end(text)] == " J. R. R. Tolkien wrote it."
    assert step_end(" Dr. Smith") is None
    assert step_end(" born in 1950.\nQ:") == len(" born in 1950.")
    assert step_end("\nThe film") is None  # a leading line break does not end an empty sentence


def test_step_end_on_the_answer_sentence():
    assert step_end(" So the answer is: Paris") is None
    text = " So the answer is: Paris. x"
    assert text[: step_end(text)] == " So the answer is: Paris."
    text = " So the answer is: yes.\n"
    assert text[: step_end(text)] == " So the answer is: yes."


@pytest.mark.parametrize(
    "text, answer",
    [
        ("So the answer is: Brennan Vale.", "Brennan Vale"),
        ("It is X. So the answer is: 1,989 mi.", "1,989 mi"),
        ("The answer is Paris.", "Paris"),
        ("So the answer is: The Operation M.D..", "The Operation M.D."),
        ("No conclusion here.", None),
    ],
)
def test_ircot_answer(text, answer):
    assert ircot_answer(text) == answer


def test_selfask_answer_and_step_end():
    assert selfask_answer("Intermediate answer: X\nSo the final answer is: Mara Quill") == "Mara Quill"
    assert selfask_answer("So the final answer is: St. Albans.") == "St. Albans"
    assert selfask_answer("Follow up: who?") is None
    text = "\nIntermediate answer: Mara Quill\nFollow up: Where was Mara Quill born?\nIntermediate answer: x"
    assert text[: selfask_step_end(text)] == "\nIntermediate answer: Mara Quill\nFollow up: Where was Mara Quill born?"
    assert selfask_step_end("\nFollow up: Where was") is None
    assert selfask_step_end("\nIntermediate answer: Mara Quill\n") is None


DEMO = Demonstration(
    id="d1",
    question="Where was the author of Quiet Harbor born?",
    answer="St. Albans",
    contexts=[{"title": "Quiet Harbor", "text": "Quiet Harbor is a novel by Mara Quill."}, {"title": "Mara Quill", "text": "Mara Quill was born in St. Albans."}],
    cot=["The author of Quiet Harbor is Mara Quill.", "Mara Quill was born in St. Albans.", "So the answer is: St. Albans."],
    followups=[{"question": "Who is the author of Quiet Harbor?", "answer": "Mara Quill"}, {"question": "Where was Mara Quill born?", "answer": "St. Albans"}],
)
PASSAGES = [Doc("a", "The Hollow Orchard", "The Hollow Orchard is a 1998 film starring Tamsin Everhart."), Doc("b", "Brennan Vale", "Brennan Vale directed The Hollow Orchard.")]
QUESTION = "Who directed the film that stars Tamsin Everhart?"


def test_ircot_prompt_golden():
    demos = join_demos([make_strategy("ircot", None, "none").demonstration(DEMO)])
    prompt = ircot_prompt(QUESTION, PASSAGES, ["The film is The Hollow Orchard."], demos)
    assert prompt.context == (
        "Wikipedia Title: Quiet Harbor\nQuiet Harbor is a novel by Mara Quill.\n\n"
        "Wikipedia Title: Mara Quill\nMara Quill was born in St. Albans.\n\n"
        "Q: Answer the following question by reasoning step-by-step.\n"
        "Where was the author of Quiet Harbor born?\n"
        "A: The author of Quiet Harbor is Mara Quill. Mara Quill was born in St. Albans. So the answer is: St. Albans.\n\n\n"
        "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a 1998 film starring Tamsin Everhart.\n\n"
        "Wikipedia Title: Brennan Vale\nBrennan Vale directed The Hollow Orchard.\n\n"
        "Q: Answer the following question by reasoning step-by-step.\n"
        "Who directed the film that stars Tamsin Everhart?\n"
        "A:"
    )
    assert prompt.continuation == " The film is The Hollow Orchard."


def test_zero_shot_ircot_prompt_ends_exactly_at_a():
    prompt = ircot_prompt(QUESTION, [], [])
    assert prompt.plain == "Q: Answer the following question by reasoning step-by-step.\nWho directed the film that stars Tamsin Everhart?\nA:"
    assert prompt.continuation == ""


def test_selfask_prompt_golden():
    demos = join_demos([make_strategy("selfask", None, "none").demonstration(DEMO)])
    prompt = selfask_prompt(QUESTION, PASSAGES[:1], ["Follow up: Which film stars Tamsin Everhart?"], demos)
    assert prompt.plain == (
        "Wikipedia Title: Quiet Harbor\nQuiet Harbor is a novel by Mara Quill.\n\n"
        "Wikipedia Title: Mara Quill\nMara Quill was born in St. Albans.\n\n"
        "Question: Where was the author of Quiet Harbor born?\n"
        "Are follow up questions needed here: Yes.\n"
        "Follow up: Who is the author of Quiet Harbor?\n"
        "Intermediate answer: Mara Quill\n"
        "Follow up: Where was Mara Quill born?\n"
        "Intermediate answer: St. Albans\n"
        "So the final answer is: St. Albans\n\n\n"
        "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a 1998 film starring Tamsin Everhart.\n\n"
        "Question: Who directed the film that stars Tamsin Everhart?\n"
        "Are follow up questions needed here: Yes.\n"
        "Follow up: Which film stars Tamsin Everhart?"
    )
    assert prompt.continuation == "\nFollow up: Which film stars Tamsin Everhart?"
    assert selfask_chain(DEMO)[0] == "Follow up: Who is the author of Quiet Harbor?"


def test_stepwise_prompts_concatenate_to_the_chain():
    trace = {
        "question": QUESTION,
        "steps": [
            {"step": 1, "query": QUESTION, "retrieved": ["a"], "output": "The film is The Hollow Orchard."},
            {"step": 2, "query": "The film is The Hollow Orchard.", "retrieved": ["b"], "output": "It was directed by Brennan Vale. So the answer is: Brennan Vale."},
        ],
    }
    docs = {doc.id: doc for doc in PASSAGES}
    examples = stepwise_prompts(trace, docs.__getitem__, "ircot")
    assert [step for step, _, _ in examples] == [1, 2]
    (_, first, first_completion), (_, last, last_completion) = examples
    assert first.plain == "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a 1998 film starring Tamsin Everhart.\n\n" + (
        "Q: Answer the following question by reasoning step-by-step.\nWho directed the film that stars Tamsin Everhart?\nA:"
    )
    assert first_completion == " The film is The Hollow Orchard."
    assert last.plain.endswith("A: The film is The Hollow Orchard.")
    assert "Wikipedia Title: Brennan Vale" in last.context
    assert last.plain + last_completion == (
        "".join(f"Wikipedia Title: {d.title}\n{d.text}\n\n" for d in PASSAGES)
        + "Q: Answer the following question by reasoning step-by-step.\nWho directed the film that stars Tamsin Everhart?\n"
        + "A: The film is The Hollow Orchard. It was directed by Brennan Vale. So the answer is: Brennan Vale."
    )
