"""The framework loops and the runner, driven by a scripted generator and a dict retriever.

The generator and retriever here are test doubles for the model and the BM25 index: they return
fixed outputs so the loop logic (queries, dedup, caps, stopping, forced answers, trace format,
resumption, shards) can be checked exactly. The real components run in test_frameworks_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steper.frameworks.baselines import Direct, Rag
from steper.frameworks.chain import LoopSettings, run_chains
from steper.frameworks.ircot import IRCoT
from steper.frameworks.runner import FrameworkSettings, loop_settings, merge, run_framework
from steper.frameworks.selfask import SelfAsk
from steper.io import InputError
from steper.models.generation import Generation, GenerationSettings
from steper.models.prompting import Prompt
from steper.retrieval import Passage
from steper.stepwise.build import stepwise_prompts


class ScriptedGenerator:
    """Returns the scripted raw text for (question, continuation); records every call."""

    def __init__(self, script: dict[tuple[str, str], str], default: str = " I do not know."):
        self.script = script
        self.default = default
        self.calls: list[list[Prompt]] = []

    @staticmethod
    def question(prompt: Prompt) -> str:
        """The test question: the line before "A:" (IRCoT) or after "Question: " (Self-Ask)."""
        return prompt.context.splitlines()[-2].removeprefix("Question: ")

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        self.calls.append(list(prompts))
        out = []
        for prompt in prompts:
            text = self.script.get((self.question(prompt), prompt.continuation), self.default)
            out.append(Generation(text=text, prompt_tokens=len(prompt.plain.split()), completion_tokens=len(text.split())))
        return out


class DictRetriever:
    def __init__(self, results: dict[str, list[str]], docs: dict[str, Passage]):
        self.results = results
        self.docs = docs
        self.queries: list[list[str]] = []
        self.depths: list[int] = []

    def batch_search(self, queries, k):
        self.queries.append(list(queries))
        self.depths.append(k)
        return [[self.docs[doc_id] for doc_id in self.results.get(query, [])[:k]] for query in queries]

    def doc(self, doc_id):
        return self.docs[doc_id]


DOCS = {
    doc_id: Passage(doc_id, title, text)
    for doc_id, title, text in [
        ("a", "The Hollow Orchard", "The Hollow Orchard is a 1998 film starring Tamsin Everhart."),
        ("b", "Brennan Vale", "Brennan Vale directed The Hollow Orchard."),
        ("c", "Tamsin Everhart", "Tamsin Everhart is an actress."),
        ("d", "Quiet Harbor", "Quiet Harbor is a novel by Mara Quill."),
        ("e", "Mara Quill", "Mara Quill was born in St. Albans."),
        ("f", "Harbor Lights", "Harbor Lights is a poem."),
        ("g", "Ada Finch", "Ada Finch wrote Harbor Lights."),
    ]
}
Q1 = "Who directed the film that stars Tamsin Everhart?"
Q2 = "Where was the author of Quiet Harbor born?"
S1 = "The film that stars Tamsin Everhart is The Hollow Orchard."
T1, T2, T3 = "Quiet Harbor was written by someone.", "That someone is hard to find.", "Still thinking."

IRCOT_SCRIPT = {
    (Q1, ""): f" {S1} It is a drama.\nQ: another",
    (Q1, f" {S1}"): " So the answer is: Brennan Vale.\n\nWikipedia Title: x",
    (Q2, ""): f" {T1}",
    (Q2, f" {T1}"): f" {T2} More.",
    (Q2, f" {T1} {T2}"): f" {T3}",
    (Q2, f" {T1} {T2} {T3} So the answer is:"): " St. Albans.\nQ: next",
}
IRCOT_RESULTS = {Q1: ["a", "c"], S1: ["a", "b", "g", "f"], Q2: ["d", "f"], T1: ["d", "e"], T2: ["g", "f"]}


def run_ircot(max_passages=15, max_steps=3, passage_order="retrieval"):
    generator = ScriptedGenerator(IRCOT_SCRIPT)
    retriever = DictRetriever(IRCOT_RESULTS, DOCS)
    settings = LoopSettings(
        top_k=2, max_steps=max_steps, max_passages=max_passages, max_new_tokens=32, passage_order=passage_order, new_passages="deeper"
    )
    chains = run_chains([("1", Q1), ("2", Q2)], IRCoT(None, "none"), retriever, generator, settings)
    return chains, generator, retriever


def test_ircot_queries_dedup_stop_and_forced_answer():
    chains, generator, retriever = run_ircot()
    assert retriever.queries == [[Q1, Q2], [S1, T1], [T2]]
    assert [len(call) for call in generator.calls] == [2, 2, 1, 1]  # one generate call per round, then the forced answer
    first, second = chains
    assert first.answer == "Brennan Vale"
    assert [step["output"] for step in first.steps] == [S1, "So the answer is: Brennan Vale."]
    # "a" was already shown: the search goes deeper and adds the two best new passages
    assert [step["retrieved"] for step in first.steps] == [["a", "c"], ["b", "g"]]
    assert retriever.depths == [2, 2 + 2, 2 + 3]  # top_k + the most passages any active question shows
    assert [step["query"] for step in first.steps] == [Q1, S1]
    assert second.answer == "St. Albans"
    assert [step["output"] for step in second.steps] == [T1, T2, f"{T3} So the answer is: St. Albans."]
    assert [step["retrieved"] for step in second.steps] == [["d", "f"], ["e"], ["g"]]
    assert generator.calls[-1][0].continuation.endswith(f"{T3} So the answer is:")
    assert set(first.steps[0]) == {"step", "query", "retrieved", "prompt_tokens", "completion_tokens", "output"}


def test_ircot_caps_the_passages():
    chains, _, _ = run_ircot(max_passages=3)
    second = chains[1]
    assert [passage.id for passage in second.passages] == ["d", "f", "e"]
    assert [step["retrieved"] for step in second.steps] == [["d", "f"], ["e"], []]


def test_best_last_puts_each_steps_best_passage_next_to_the_question():
    chains, generator, _ = run_ircot(passage_order="best_last")
    second = chains[1]
    assert [step["retrieved"] for step in second.steps] == [["f", "d"], ["e"], ["g"]]
    assert [passage.id for passage in second.passages] == ["f", "d", "e", "g"]
    first_prompt = generator.calls[0][1].context
    assert first_prompt.index("Wikipedia Title: Harbor Lights") < first_prompt.index("Wikipedia Title: Quiet Harbor")
    assert second.answer == "St. Albans"


@pytest.mark.parametrize("passage_order", ["retrieval", "best_last"])
def test_stepwise_prompts_reproduce_the_loop_prompts(passage_order):
    chains, generator, _ = run_ircot(passage_order=passage_order)
    trace = {"question": Q2, "steps": chains[1].steps}
    examples = stepwise_prompts(trace, DOCS.__getitem__, "ircot")
    used = [call[-1] for call in generator.calls[:3]]  # Q2 is the last prompt of each round
    assert [prompt for _, prompt, _ in examples] == used
    last_prompt, last_completion = examples[-1][1], examples[-1][2]
    forced = generator.calls[3][0]
    assert (last_prompt.plain + last_completion).startswith(forced.plain)
    assert last_prompt.plain + last_completion == forced.plain + " St. Albans."


F1, F2 = "Who wrote Quiet Harbor?", "Where was Mara Quill born?"
SELFASK_SCRIPT = {
    (Q2, ""): f"\nFollow up: {F1}\nIntermediate answer: Ada Finch\n",
    (Q2, f"\nFollow up: {F1}"): f"\nIntermediate answer: Mara Quill\nFollow up: {F2}\nIntermediate answer: x",
    (Q2, f"\nFollow up: {F1}\nIntermediate answer: Mara Quill\nFollow up: {F2}"): "\nIntermediate answer: St. Albans\nSo the final answer is: St. Albans\n\nQuestion: x",
    (Q1, ""): "\nFollow up: Which film stars Tamsin Everhart?\n",
    (Q1, "\nFollow up: Which film stars Tamsin Everhart?"): "\nIntermediate answer: The Hollow Orchard\nFollow up: Who directed The Hollow Orchard?\n",
    (Q1, "\nFollow up: Which film stars Tamsin Everhart?\nIntermediate answer: The Hollow Orchard\nSo the final answer is:"): " Brennan Vale\n",
}
SELFASK_RESULTS = {Q2: ["f"], F1: ["d"], F2: ["e"], Q1: ["c"], "Which film stars Tamsin Everhart?": ["a"], "Who directed The Hollow Orchard?": ["b"]}


def test_selfask_loop():
    generator = ScriptedGenerator(SELFASK_SCRIPT)
    retriever = DictRetriever(SELFASK_RESULTS, DOCS)
    settings = LoopSettings(top_k=1, max_steps=2, max_passages=15, max_new_tokens=32, passage_order="retrieval", new_passages="deeper")
    chains = run_chains([("2", Q2), ("1", Q1)], SelfAsk(None, "none"), retriever, generator, settings)
    assert retriever.queries == [[Q2, Q1], [F1, "Which film stars Tamsin Everhart?"]]
    second, first = chains
    # Q2 reaches the step limit after its second step: the dangling follow-up is dropped, the answer forced
    assert [step["output"] for step in second.steps] == [f"Follow up: {F1}", "Intermediate answer: Mara Quill\nSo the final answer is: I do not know."]
    assert first.answer == "Brennan Vale"
    assert first.steps[-1]["output"] == "Intermediate answer: The Hollow Orchard\nSo the final answer is: Brennan Vale"
    assert [step["retrieved"] for step in first.steps] == [["c"], ["a"]]
    assert generator.calls[-1][1].continuation.endswith("Intermediate answer: The Hollow Orchard\nSo the final answer is:")
    examples = stepwise_prompts({"question": Q1, "steps": first.steps}, DOCS.__getitem__, "selfask")
    assert [prompt for _, prompt, _ in examples] == [call[1] for call in generator.calls[:2]]
    assert examples[-1][1].plain + examples[-1][2] == generator.calls[-1][1].plain + " Brennan Vale"


def test_selfask_three_steps_finish_on_their_own():
    generator = ScriptedGenerator(SELFASK_SCRIPT)
    retriever = DictRetriever(SELFASK_RESULTS, DOCS)
    chains = run_chains([("2", Q2)], SelfAsk(None, "none"), retriever, generator, LoopSettings(1, 5, 15, 32, "retrieval", "deeper"))
    chain = chains[0]
    assert chain.answer == "St. Albans"
    assert [step["query"] for step in chain.steps] == [Q2, F1, F2]
    assert chain.steps[-1]["output"] == "Intermediate answer: St. Albans\nSo the final answer is: St. Albans"


def test_baselines():
    generator = ScriptedGenerator({
        (Q1, " So the answer is:"): " Brennan Vale.\nQ: x",
        (Q2, ""): " The author is Mara Quill. She was born in St. Albans. So the answer is: St. Albans. Q: other",
    })
    chains = run_chains([("1", Q1)], Direct(None, "none"), None, generator, LoopSettings(4, 1, 4, 32, "retrieval", "deeper"))
    assert chains[0].answer == "Brennan Vale" and chains[0].steps[0]["output"] == "So the answer is: Brennan Vale."
    retriever = DictRetriever({Q2: ["d", "e", "f"]}, DOCS)
    chains = run_chains([("2", Q2)], Rag(None, "none"), retriever, generator, LoopSettings(3, 1, 3, 32, "retrieval", "deeper"))
    assert chains[0].answer == "St. Albans"
    assert chains[0].steps[0]["retrieved"] == ["d", "e", "f"]
    assert chains[0].steps[0]["output"] == "The author is Mara Quill. She was born in St. Albans. So the answer is: St. Albans."


# --------------------------------------------------------------------------------------------- runner

RECORDS = [
    {"id": f"r{i}", "question": question, "answers": answers}
    for i, (question, answers) in enumerate([(Q1, ["Brennan Vale"]), (Q2, ["St. Albans"]), (Q1, ["Brennan Vale"]), (Q2, ["Albans"]), (Q1, ["Nobody"])])
]


def write_records(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


def run(tmp_path, output, generator, shard=None):
    return run_framework(
        "ircot", tmp_path / "records.jsonl", output, "unused-model-dir", "scripted", None,
        FrameworkSettings(top_k=2, max_steps=3, shots=0, new_passages="deeper", query_cleaning="none"), GenerationSettings(batch_size=1),
        shard=shard, backend=generator, retriever=DictRetriever(IRCOT_RESULTS, DOCS),
    )


def lines_without_timing(path):
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    for line in lines:
        line.pop("seconds")
    return lines


def test_run_framework_writes_traces_and_summary(tmp_path):
    write_records(tmp_path / "records.jsonl")
    summary = run(tmp_path, tmp_path / "out.jsonl", ScriptedGenerator(IRCOT_SCRIPT))
    lines = lines_without_timing(tmp_path / "out.jsonl")
    assert [line["id"] for line in lines] == ["r0", "r1", "r2", "r3", "r4"]
    assert lines[0]["prediction"] == "Brennan Vale"
    assert {key: lines[0]["correct"][key] for key in ("em", "f1", "acc")} == {"em": 1.0, "f1": 1.0, "acc": 1.0}
    assert lines[3]["correct"]["acc"] == 1.0 and lines[3]["correct"]["em"] == 0.0
    assert lines[4]["correct"]["acc"] == 0.0
    assert lines[1]["n_steps"] == 3 and lines[1]["framework"] == "ircot" and lines[1]["model"] == "scripted"
    assert summary["n"] == 5 and summary["accuracy"]["acc"] == 80.0 and summary["accuracy"]["em"] == 60.0
    assert summary["mean_steps"] == pytest.approx((2 + 3 + 2 + 3 + 2) / 5)
    written = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert written["accuracy"] == summary["accuracy"] and "seconds_per_question" in written


@pytest.mark.parametrize("killed_file", ["partial.jsonl.partial", "partial.jsonl"])
def test_resume_after_a_kill_recomputes_nothing(tmp_path, killed_file):
    """A killed run leaves `<output>.partial`; an older complete output may also be extended."""
    write_records(tmp_path / "records.jsonl")
    run(tmp_path, tmp_path / "full.jsonl", ScriptedGenerator(IRCOT_SCRIPT))
    assert not (tmp_path / "full.jsonl.partial").exists()
    full = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
    partial = tmp_path / "partial.jsonl"
    (tmp_path / killed_file).write_text("".join(full[:2]) + full[2][:25])  # two finished lines and a torn third
    (tmp_path / "partial.jsonl.resume.json").write_text((tmp_path / "full.jsonl.resume.json").read_text())
    generator = ScriptedGenerator(IRCOT_SCRIPT)
    run(tmp_path, partial, generator)
    assert not (tmp_path / "partial.jsonl.partial").exists()
    # only r2, r3, r4 run: r0 and r1 were finished, the torn r2 is redone
    assert [ScriptedGenerator.question(prompt) for prompt in generator.calls[0]] == [Q1, Q2, Q1]
    assert sum(len(call) for call in generator.calls) == 2 + 3 + 1 + 2  # r2 (2 steps), r3 (3 steps + forced), r4 (2 steps)
    assert lines_without_timing(partial) == lines_without_timing(tmp_path / "full.jsonl")
    generator = ScriptedGenerator(IRCOT_SCRIPT)
    run(tmp_path, partial, generator)
    assert generator.calls == []


def test_shards_merge_to_the_unsharded_run(tmp_path):
    records = write_records(tmp_path / "records.jsonl")
    run(tmp_path, tmp_path / "full.jsonl", ScriptedGenerator(IRCOT_SCRIPT))
    shards = [tmp_path / f"shard{i}.jsonl" for i in range(2)]
    for i, path in enumerate(shards):
        run(tmp_path, path, ScriptedGenerator(IRCOT_SCRIPT), shard=(i, 2))
    assert [line["id"] for line in lines_without_timing(shards[1])] == ["r1", "r3"]
    summary = merge(list(reversed(shards)), records, tmp_path / "merged.jsonl")
    assert lines_without_timing(tmp_path / "merged.jsonl") == lines_without_timing(tmp_path / "full.jsonl")
    assert summary["n"] == 5
    with pytest.raises(InputError, match="r1"):
        merge(shards[:1], records, tmp_path / "missing.jsonl")


def test_bad_records_name_the_line_and_field(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps({"id": "x", "question": "q"}) + "\n")
    with pytest.raises(InputError) as error:
        run(tmp_path, tmp_path / "out.jsonl", ScriptedGenerator({}))
    assert error.value.line == 1 and error.value.field == "answers"
    assert not (tmp_path / "out.jsonl").exists()


def test_unknown_passage_order_is_a_settings_error():
    with pytest.raises(InputError) as error:
        loop_settings("ircot", FrameworkSettings(passage_order="best_first"))
    assert error.value.field == "passage_order"
