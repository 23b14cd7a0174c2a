"""IRCoT's protocol where steper follows it (or makes it a setting), checked on IRCoT-format fixtures.

Each expectation is derived by hand from IRCoT's code (StonyBrookNLP/ircot: commaqa/inference/ircot.py,
prompt_reader.py, prompt_generator/common.py) applied to the fixture.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from steper.frameworks.answers import selfask_answer
from steper.frameworks.chain import Chain
from steper.frameworks.demonstrations import convert_annotations, demo_contexts
from steper.frameworks.fitting import PromptBudget, fit_prompts
from steper.frameworks.ircot import ircot_demonstration, ircot_query
from steper.frameworks.passages import is_duplicate, new_passages, truncate_words
from steper.frameworks.registry import FRAMEWORKS, make_strategy
from steper.frameworks.runner import FrameworkSettings, run_framework
from steper.frameworks.selfask import SelfAsk
from steper.frameworks.sentences import first_sentence
from steper.models.generation import Generation, GenerationSettings
from steper.models.prompting import Prompt
from steper.retrieval import Passage

IRCOT = Path(__file__).parent / "fixtures" / "ircot"
SCHEMA = Path(__file__).parent.parent / "workflow" / "schemas" / "config.schema.yaml"


# ------------------------------------------------------------------ demonstrations: gold + 2 distractors

def converted():
    return convert_annotations(str(IRCOT / "distractors_annotations.jsonnet"), records_path=IRCOT / "distractors_records.jsonl")[0]


def test_converter_marks_the_annotated_gold_paragraphs():
    demo = converted()
    marks = {context["title"]: context["supporting"] for context in demo.contexts}
    assert marks == {
        "Orchard Street": False, "The Hollow Orchard": True, "Vale of York": False,
        "Brennan Vale": True, "Tamsin Everhart": False, "Hollow Earth": False,
    }


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_demonstration_shows_its_gold_paragraphs_and_two_distractors(seed):
    demo = converted()
    shown = demo_contexts(demo, 2, seed)
    titles = [context["title"] for context in shown]
    assert len(titles) == 4 and {"The Hollow Orchard", "Brennan Vale"} <= set(titles)
    assert len(set(titles) & {"Orchard Street", "Vale of York", "Tamsin Everhart", "Hollow Earth"}) == 2
    assert demo_contexts(demo, 2, seed) == shown  # the run's seed fixes the sample
    assert demo_contexts(demo, None, seed) == demo.contexts  # null: every paragraph of the record
    assert len(demo_contexts(demo, 9, seed)) == 6  # fewer candidates than asked: all of them


def test_demonstration_text_is_ircots_prompt_file_text():
    """With the paragraphs IRCoT's prompt file happened to sample, our block is that file's demonstration."""
    demo = converted()
    by_title = {context["title"]: context for context in demo.contexts}
    expected = (IRCOT / "gold_with_2_distractors_context_cot_qa.txt").read_text().split("\n", 1)[1].strip()
    order = [line.removeprefix("Wikipedia Title: ") for line in expected.splitlines() if line.startswith("Wikipedia Title: ")]
    shown = dataclasses.replace(demo, contexts=[by_title[title] for title in order])
    assert ircot_demonstration(shown, 350).strip() == expected


# ------------------------------------------------------------------ 350-word passages

def test_passages_are_cut_to_350_words_on_single_spaces():
    words = [f"w{i}" for i in range(1, 401)]
    text = " ".join(words[:200]) + "\n" + " ".join(words[200:])
    cut = truncate_words(text, 350)
    # IRCoT splits on " ": the line break stays inside the word "w200\nw201", which counts as one word
    assert cut.split(" ")[-1] == "w351" and cut.count("\n") == 1 and len(cut.split(" ")) == 350
    assert truncate_words(text, None) == text
    strategy = make_strategy("ircot", 3, "ircot")
    prompt = strategy.prompt(Chain("1", "Q?", passages=[Passage("p", "T", "one two three four five")]), "")
    assert prompt.context.startswith("Wikipedia Title: T\none two three\n\n")


# ------------------------------------------------------------------ new passages per step and duplicates

def P(doc_id, title, text):
    return Passage(doc_id, title, text)


SHOWN = [P("a", "The Hollow Orchard", "The Hollow Orchard is a 1998 drama film starring Tamsin Everhart.")]


def test_ircot_rule_takes_the_top_k_hits_and_a_refound_passage_uses_a_slot():
    hits = [SHOWN[0], P("b", "Brennan Vale", "Brennan Vale is a director."), P("c", "Vale of York", "A lowland.")]
    assert [p.id for p in new_passages(hits, SHOWN, 2, 15, "ircot")] == ["b"]
    assert [p.id for p in new_passages(hits, SHOWN, 2, 15, "deeper")] == ["b", "c"]
    assert [p.id for p in new_passages(hits, SHOWN, 2, 2, "ircot")] == ["b"]  # the cap of 2 passages in all
    assert new_passages(hits, SHOWN, 2, 1, "ircot") == []


def test_near_duplicates_and_overlong_hits_are_skipped():
    # another id, same title, text one character off: title and text both >= 90% similar
    near = P("a2", "The Hollow Orchard", "The Hollow Orchard is a 1998 drama film starring Tamsin Everhart!")
    assert is_duplicate(near, SHOWN)
    other = P("d", "The Hollow Orchard (novel)", "A novel about an orchard, unrelated to any film.")
    assert not is_duplicate(other, SHOWN)
    long = P("e", "Long", " ".join(["word"] * 601))
    assert [p.id for p in new_passages([near, long, other], SHOWN, 3, 15, "ircot")] == ["d"]


# ------------------------------------------------------------------ query cleaning

def test_ircot_query_cleaning():
    question = "Who directed the film that stars Tamsin Everhart?"
    assert ircot_query(question, [], "ircot") == "directed the film that stars Tamsin Everhart?"
    sentences = ["The film that stars Tamsin Everhart is The Hollow Orchard.", "Thus, the director is unknown."]
    # the reasoning sentence is skipped: the last factual one is the query, "is" removed
    assert ircot_query(question, sentences, "ircot") == "The film that stars Tamsin Everhart The Hollow Orchard."
    assert ircot_query(question, ["So the film is 3 + 4 = 7 years old."], "ircot") == "directed the film that stars Tamsin Everhart?"
    assert ircot_query(question, ["Where is it?"], "ircot") == "it?"
    assert ircot_query(question, ["Who is?"], "ircot") == "is?"  # IRCoT compares whole space-split words
    assert ircot_query(question, ["Who is"], "ircot") == ""  # an empty query retrieves nothing that step
    assert ircot_query(question, sentences, "none") == "Thus, the director is unknown."


# ------------------------------------------------------------------ prompt fitting

def words(prompts):
    return [len(prompt.plain.split()) for prompt in prompts]


def fit(max_model_len):
    blocks = ["a b c", "d e", "f"]
    passages = ["p1 p1", "p2 p2"]
    build = lambda i, demos, skip: Prompt(demos + " ".join(passages[skip:]) + " Q")  # noqa: E731
    return fit_prompts(build, 1, blocks, lambda i: len(passages), PromptBudget(words, max_model_len), 2)[0]


def test_fitting_drops_the_first_demonstrations_then_the_first_passages():
    # 3 + 2 + 1 demo words, 4 passage words, 1 question word = 11; the limit is max_model_len - 2 new tokens
    whole = fit(13)
    assert (whole.dropped_demos, whole.dropped_passages) == (0, 0) and whole.prompt.plain.startswith("a b c")
    one = fit(10)  # limit 8: without "a b c" 8 words
    assert (one.dropped_demos, one.dropped_passages) == (1, 0) and one.prompt.plain.startswith("d e")
    passages = fit(6)  # limit 4: no demos = 5 words, then without "p1 p1" 3 words
    assert (passages.dropped_demos, passages.dropped_passages) == (3, 1) and passages.prompt.plain == "p2 p2 Q"
    nothing = fit(2)  # limit 0: nothing fits
    assert nothing.prompt is None and (nothing.dropped_demos, nothing.dropped_passages) == (3, 2)


class EchoBackend:
    def __init__(self):
        self.prompts = []

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        self.prompts += prompts
        return [Generation(" B.", len(p.plain.split()), 1) for p in prompts]


def test_run_counts_cuts_and_survives_a_prompt_that_cannot_fit(tmp_path):
    demos = tmp_path / "demos.jsonl"
    demos.write_text("".join(
        json.dumps({"id": qid, "question": q, "answer": a, "contexts": [], "cot": [f"So the answer is: {a}."]}) + "\n"
        for qid, q, a in [("d1", "Who is A?", "B"), ("d2", "Who is C?", "D")]
    ))
    records = tmp_path / "records.jsonl"
    questions = ["Who directed it?", " ".join(["w"] * 20), " ".join(["w"] * 40)]
    records.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answers": ["B"]}) + "\n" for i, q in enumerate(questions)))
    # direct prompt words: 5 ("Q: Answer the following question.") + question + 1 ("A:") + 4 ("So the answer is:");
    # each demo is 5 + 3 + 1 + 4 + 1 = 14 words. Limit 34 - 4 new tokens = 30:
    # q0: 13 + 28 = 41 -> drop 1 -> 27; q1: 30 + 28 -> drop 2 -> 30; q2: 50 -> overflow after dropping 2
    backend = EchoBackend()
    summary = run_framework(
        "direct", records, tmp_path / "out.jsonl", "unused", "m", None,
        FrameworkSettings(shots=2, max_new_tokens=4), GenerationSettings(max_model_len=34),
        demonstrations_path=demos, backend=backend, budget=PromptBudget(words, 34),
    )
    assert summary["prompt_cuts"] == {"prompts_cut": 3, "demos_dropped": 5, "passages_dropped": 0, "overflows": 1}
    assert len(backend.prompts) == 2  # the overflowing prompt is never sent
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["prediction"] for line in lines] == ["B", "B", ""]
    assert lines[0]["prompt_cuts"]["demos_dropped"] == 1 and lines[2]["prompt_cuts"]["overflows"] == 1


# ------------------------------------------------------------------ pinned parsing

def test_selfask_reads_the_answer_when_its_line_is_not_first():
    text = "\nIntermediate answer: Mara Quill\nSo the final answer is: St. Albans.\n"
    parsed = SelfAsk(None, "none").parse(Chain("1", "Q?"), text)
    assert parsed.answer == "St. Albans" and parsed.next_query is None
    assert parsed.output == "Intermediate answer: Mara Quill\nSo the final answer is: St. Albans."
    assert selfask_answer("Follow up: x\nIntermediate answer: y\nSo the final answer is: Dunmore") == "Dunmore"
    assert selfask_answer("Intermediate answer: y") is None


@pytest.mark.parametrize(
    "text, sentence",
    [
        # strict: a full stop followed by a lower-case word does not end the sentence
        ("It was released by Apple Records. in 1974 it topped charts. Next", "It was released by Apple Records. in 1974 it topped charts."),
        ("The film is The Hollow Orchard. It was directed by Brennan Vale.", "The film is The Hollow Orchard."),
        ("Born in 1950. 2 films followed.", "Born in 1950."),
    ],
)
def test_strict_first_sentence_cut(text, sentence):
    assert first_sentence(text) == sentence


# ------------------------------------------------------------------ one source of truth

def test_framework_settings_defaults_are_the_schemas():
    schema = yaml.safe_load(SCHEMA.read_text())
    defaults = {name: spec["default"] for name, spec in schema["$defs"]["framework_settings"]["properties"].items()}
    retrieval = schema["properties"]["retrieval"]["properties"]
    defaults.update(retrieval_backend=retrieval["backend"]["default"], k1=retrieval["k1"]["default"], b=retrieval["b"]["default"])
    assert dataclasses.asdict(FrameworkSettings()) == defaults


def test_every_baseline_the_schema_allows_is_registered():
    schema = yaml.safe_load(SCHEMA.read_text())
    allowed = schema["properties"]["evaluation"]["properties"]["baselines"]["items"]["enum"]
    assert set(allowed) == set(FRAMEWORKS)
