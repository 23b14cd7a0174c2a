"""Few-shot demonstrations: the annotation file, prompt-set sampling, and IRCoT's annotations.

Annotation file (demonstrations.jsonl, one question per line; written by the toy world and by
`steper teacher annotations`):
  {"id", "question", "answer",
   "contexts": [{"title", "text", "supporting"?}],  gold + distractor passages, in prompt order
   "cot": ["sentence.", ..., "So the answer is: <answer>."],
   "followups": [{"question", "answer"}]}      Self-Ask decomposition (may be empty)

IRCoT's published annotations (prompt_generator/data_annotations/{dataset}.jsonnet in
StonyBrookNLP/ircot) are a jsonnet list of
  {"question_id", "question_text", "reasoning_steps": [
     {"paragraphs": [{"title", "text_substring", "supporting_snippet"?}], "cot_sent"}]}
where a step whose paragraph title is null adds no passage (it is an inference or the answer
step), `text_substring` locates the paragraph in the dataset and `supporting_snippet` (absent in
MuSiQue) quotes the sentence that supports the step. The jsonnet used is plain JSON plus `#`
comments, single-quoted strings and trailing commas. The converter takes each paragraph's full
text from unified records (matching by question id, so the record's distractors come along as
in IRCoT's prompts) or from a corpus (matching title + substring), and falls back to the
snippet (counted in a warning); records that lack an annotated question are an error, as its
demonstration would lose its distractors. A URL is fetched only with the sha256 that
`steper/data/sha256.json` (or `--sums`) keeps under its file name. Those annotations carry no
Self-Ask decomposition: `followups` is taken from the matching record's gold decomposition where
the dataset has one (MuSiQue's question_decomposition, with "#1"-style references replaced by the
earlier answers; 2WikiMultihopQA's evidence triples), else from a follow-ups file
(`data.annotations.followups`): HotpotQA has no gold decomposition, so steper ships hand-written
Self-Ask decompositions of IRCoT's 29 HotpotQA questions (steper/frameworks/followups/hotpotqa.jsonl,
one {"id", "question", "followups"} per line; the question must equal the annotation's, so a file
written for other annotations is caught).

Which passages a demonstration shows (`demo_distractors`): IRCoT's prompts
(prompt_generator/common.py, `gold_with_2_distractors` in every base config) show the annotation's
gold paragraphs plus 2 distractors sampled from the record's non-supporting paragraphs, shuffled
together. The converter marks each context `supporting` (an annotated gold paragraph) or not, and
keeps the record's other non-supporting paragraphs as distractor candidates; at prompt time
`demo_contexts` keeps the gold ones and samples `demo_distractors` of the others with the run's
seed (null: every context of the file). A file without `supporting` marks (the toy world writes
gold + its distractors already chosen) is shown as it is. IRCoT also clips each distractor to 250
spaCy tokens by whole sentences; here every demonstration passage gets the same `passage_words`
cut as the question's passages.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from steper.data.download import SUMS_PATH, fetch_pinned
from steper.io import InputError, open_text, read_jsonl, write_jsonl

log = logging.getLogger(__name__)

REQUIRED = ("id", "question", "answer", "contexts", "cot")


@dataclass
class Demonstration:
    id: str
    question: str
    answer: str
    contexts: list[dict[str, Any]]
    cot: list[str]
    followups: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_demonstrations(path: str | os.PathLike) -> list[Demonstration]:
    demos = []
    for number, line in enumerate(read_jsonl(path, required=REQUIRED), start=1):
        for name in ("contexts", "cot"):
            if not isinstance(line[name], list):
                raise InputError(path, "must be a list", line=number, field=name)
        for context in line["contexts"]:
            if not isinstance(context, dict) or "title" not in context or "text" not in context:
                raise InputError(path, "each context needs 'title' and 'text'", line=number, field="contexts")
            if not isinstance(context.get("supporting", False), bool):
                raise InputError(path, "a context's 'supporting' must be true or false", line=number, field="contexts")
        followups = line.get("followups") or []
        for followup in followups:
            if not isinstance(followup, dict) or "question" not in followup or "answer" not in followup:
                raise InputError(path, "each follow-up needs 'question' and 'answer'", line=number, field="followups")
        demos.append(
            Demonstration(
                id=str(line["id"]),
                question=line["question"],
                answer=line["answer"],
                contexts=[{key: c[key] for key in ("title", "text", "supporting") if key in c} for c in line["contexts"]],
                cot=list(line["cot"]),
                followups=[{"question": f["question"], "answer": f["answer"]} for f in followups],
            )
        )
    return demos


def demo_contexts(demo: Demonstration, distractors: int | None, seed: int) -> list[dict[str, Any]]:
    """The passages a demonstration shows: gold + `distractors` sampled non-gold ones, shuffled
    (IRCoT's gold_with_n_distractors); all of them when `distractors` is None or nothing is marked."""
    if distractors is None or not any("supporting" in context for context in demo.contexts):
        return demo.contexts
    rng = random.Random(f"{seed}:{demo.id}")
    gold = [context for context in demo.contexts if context.get("supporting")]
    others = [context for context in demo.contexts if not context.get("supporting")]
    chosen = gold + rng.sample(others, min(distractors, len(others)))
    rng.shuffle(chosen)
    return chosen


def select_demonstrations(demos: list[Demonstration], shots: int, seed: int, needs_followups: bool) -> list[Demonstration]:
    """One prompt set: `shots` demonstrations sampled with `seed`, shared by every question.

    Sharing one set keeps the prompt prefix identical across questions (prefix caching) and is
    how IRCoT builds its prompt sets. Self-Ask and ReAct need demonstrations with a decomposition. Within
    the seeded order, questions of a shape not yet chosen (their wording before the first name:
    "Where was the director of the film", "Who was born first,") go first, so a few shots cover as many question kinds as they can; a
    small model copies the shape of the nearest demonstration's chain.
    """
    if shots <= 0:
        return []
    usable = [d for d in demos if d.followups] if needs_followups else list(demos)
    if len(usable) < shots:
        kind = "demonstrations with follow-up questions" if needs_followups else "demonstrations"
        raise InputError("demonstrations", f"{shots} shots requested but only {len(usable)} {kind}")
    order = random.Random(seed).sample(usable, len(usable))
    chosen: list[Demonstration] = []
    shapes: set[str] = set()
    for demo in order:
        if _shape(demo.question) not in shapes:
            chosen.append(demo)
            shapes.add(_shape(demo.question))
    chosen += [demo for demo in order if demo not in chosen]
    return chosen[:shots]


def _shape(question: str) -> str:
    """The question's wording up to the first capitalised word after the first (names, titles)."""
    words = question.split()
    shape = words[:1]
    for word in words[1:]:
        if word[:1].isupper():
            break
        shape.append(word)
    return " ".join(shape).lower()


# ---------------------------------------------------------------------------------------------
# IRCoT annotation conversion

def _jsonnet_to_json(text: str) -> str:
    """Rewrite the jsonnet subset to JSON: drop `#` comments and trailing commas, and turn
    single-quoted strings into double-quoted ones, never touching the inside of a string."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif char == "'":
            body: list[str] = []
            j = i + 1
            while j < n and text[j] != "'":
                if text[j] == "\\" and j + 1 < n:
                    body.append("'" if text[j + 1] == "'" else text[j : j + 2])
                    j += 2
                    continue
                body.append('\\"' if text[j] == '"' else text[j])
                j += 1
            out.append('"' + "".join(body) + '"')
            i = j + 1
        elif char == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif char == ",":
            j = i + 1
            while j < n and (text[j].isspace() or text[j] == "#"):
                if text[j] == "#":
                    while j < n and text[j] != "\n":
                        j += 1
                else:
                    j += 1
            if j < n and text[j] in "]}":
                i += 1
                continue
            out.append(char)
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def parse_annotation_jsonnet(text: str, source: str = "annotations") -> list[dict[str, Any]]:
    """Parse the JSON subset of jsonnet the IRCoT annotation files use."""
    try:
        data = json.loads(_jsonnet_to_json(text))
    except json.JSONDecodeError as error:
        raise InputError(source, f"not a parsable annotation list ({error.msg})", line=error.lineno) from None
    if not isinstance(data, list):
        raise InputError(source, "expected a list of annotated questions")
    return data


def _read_source(source: str, sums_path: str | os.PathLike) -> str:
    """The annotation file: a URL is fetched and must match its pinned sha256, a path is read as is."""
    if re.match(r"^https?://", source):
        log.info("fetching %s", source)
        data = fetch_pinned(source, sums_path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(source, "is not UTF-8 text") from None
    path = Path(source)
    if not path.is_file():
        raise InputError(source, "annotation file does not exist")
    with open_text(path) as handle:
        return handle.read()


def _passage_text(title: str, substring: str | None, snippet: str | None, pool: list[dict[str, str]]) -> str | None:
    """The full text of an annotated paragraph, or None when neither the record nor the corpus holds it."""
    for passage in pool:
        if passage["title"] == title and (not substring or substring in passage["text"]):
            return passage["text"]
    return None


def followups_from_decomposition(decomposition: list[dict[str, str]]) -> list[dict[str, str]]:
    """Self-Ask follow-ups from a gold decomposition, "#k" replaced by the k-th answer."""
    answers = [step["answer"] for step in decomposition]

    def resolve(match: re.Match) -> str:
        index = int(match.group(1)) - 1
        return answers[index] if 0 <= index < len(answers) else match.group(0)

    return [{"question": re.sub(r"#(\d+)", resolve, step["question"]), "answer": step["answer"]} for step in decomposition]


@dataclass
class Followups:
    """A follow-ups file's decomposition of one annotated question."""

    question: str
    followups: list[dict[str, str]]
    line: int


def load_followups(path: str | os.PathLike) -> dict[str, Followups]:
    """Question id -> its Self-Ask decomposition, from a follow-ups file."""
    entries: dict[str, Followups] = {}
    for number, line in enumerate(read_jsonl(path, required=("id", "question", "followups")), start=1):
        steps = line["followups"]
        if not isinstance(steps, list) or not steps:
            raise InputError(path, "must be a non-empty list", line=number, field="followups")
        for step in steps:
            if not isinstance(step, dict) or not all(isinstance(step.get(key), str) and step[key].strip() for key in ("question", "answer")):
                raise InputError(path, "each follow-up needs a non-empty 'question' and 'answer'", line=number, field="followups")
        qid = str(line["id"])
        if qid in entries:
            raise InputError(path, f"question {qid} is listed twice (first on line {entries[qid].line})", line=number, field="id")
        entries[qid] = Followups(str(line["question"]), [{"question": s["question"], "answer": s["answer"]} for s in steps], number)
    return entries


def convert_annotations(
    source: str,
    records_path: str | os.PathLike | list[str | os.PathLike] | None = None,
    corpus_path: str | os.PathLike | None = None,
    followups_path: str | os.PathLike | None = None,
    sums_path: str | os.PathLike = SUMS_PATH,
) -> list[Demonstration]:
    """IRCoT annotations -> demonstrations in the annotation-file format.

    IRCoT's demonstrations are training questions shown with their record's distractors, so when
    records are given, an annotated question missing from them is an error (its demonstration
    would silently lose the distractors and show the annotation's one-sentence snippets instead).
    A passage found neither in the record nor in the corpus falls back to the snippet, counted in
    a warning."""
    data = parse_annotation_jsonnet(_read_source(source, sums_path), source=source)
    written = load_followups(followups_path) if followups_path else {}
    records: dict[str, list[dict[str, Any]]] = {}
    decompositions: dict[str, list[dict[str, str]]] = {}
    paths = records_path if isinstance(records_path, list) else [records_path] if records_path else []
    for path in paths:
        for record in read_jsonl(path, required=("id", "contexts")):
            records[str(record["id"])] = [
                {"title": c["title"], "text": c["text"], "supporting": bool(c.get("is_supporting"))} for c in record["contexts"]
            ]
            decompositions[str(record["id"])] = followups_from_decomposition(record.get("decomposition") or [])
    corpus: list[dict[str, str]] = []
    if corpus_path:
        corpus = [{"title": c["title"], "text": c["contents"]} for c in read_jsonl(corpus_path, required=("title", "contents"))]
    annotated = [str(item["question_id"]) for item in data if isinstance(item, dict) and "question_id" in item]
    if paths:
        missing = [qid for qid in annotated if qid not in records]
        if missing:
            raise InputError(
                ", ".join(map(str, paths)),
                f"{len(missing)} of the {len(annotated)} questions annotated in {source} are not in these records "
                f"(e.g. {', '.join(missing[:3])}): their demonstrations would lose the record's distractors and show "
                "the annotation's snippets; give the dataset's training records (IRCoT's demonstrations are training questions)",
                field="records",
            )
    else:
        log.warning("%s: no records given: the %d demonstrations show their gold passages only, no distractors", source, len(annotated))
    snippets = 0
    demos = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InputError(source, f"annotation {number} is not an object")
        for name in ("question_id", "question_text", "reasoning_steps"):
            if name not in item:
                raise InputError(source, f"annotation {number} is missing it", field=name)
        if not isinstance(item["reasoning_steps"], list):
            raise InputError(source, f"annotation {number} needs a list", field="reasoning_steps")
        qid = str(item["question_id"])
        pool = records.get(qid, []) + corpus
        gold: list[dict[str, str]] = []
        cot = []
        for step in item["reasoning_steps"]:
            if not isinstance(step, dict) or not isinstance(step.get("cot_sent"), str):
                raise InputError(source, f"annotation {number} ({qid}) has a reasoning step without a 'cot_sent' string", field="cot_sent")
            cot.append(" ".join(step["cot_sent"].split()))
            for paragraph in step.get("paragraphs") or []:
                if not isinstance(paragraph, dict):
                    raise InputError(source, f"annotation {number} ({qid}) has a paragraph that is not an object", field="paragraphs")
                title = paragraph.get("title")
                if not title:
                    continue
                text = _passage_text(title, paragraph.get("text_substring"), paragraph.get("supporting_snippet"), pool)
                if text is None:
                    snippets += 1
                    text = paragraph.get("supporting_snippet") or paragraph.get("text_substring") or ""
                if not any(p["title"] == title and p["text"] == text for p in gold):
                    gold.append({"title": title, "text": text})
        if not cot or "answer is" not in cot[-1]:
            raise InputError(source, f"annotation {number} ({qid}) does not end with an answer sentence", field="cot_sent")
        answer = re.sub(r"^.*answer is:?\s*", "", cot[-1])
        answer = answer[:-1] if answer.endswith(".") else answer
        contexts = _marked_contexts(gold, records.get(qid, []))
        followups = decompositions.get(qid) or []
        if not followups and qid in written:
            entry = written[qid]
            if " ".join(entry.question.split()) != " ".join(str(item["question_text"]).split()):
                raise InputError(followups_path, f"question {qid} reads differently in {source}: {item['question_text']!r}", line=entry.line, field="question")
            followups = entry.followups
        demos.append(
            Demonstration(
                id=qid,
                question=item["question_text"],
                answer=answer,
                contexts=contexts,
                cot=cot,
                followups=followups,
            )
        )
    if snippets:
        log.warning(
            "%s: %d annotated passages are in neither the records nor the corpus: they show the annotation's snippet, not the paragraph",
            source, snippets,
        )
    unused = sorted(set(written) - {str(item["question_id"]) for item in data})
    if unused:
        log.warning("%s: %d questions are not in %s (e.g. %s); their follow-ups are not used", followups_path, len(unused), source, unused[0])
    return demos


def _marked_contexts(gold: list[dict[str, str]], record_contexts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record's paragraphs (or the gold ones alone), gold marked `supporting`; a paragraph the
    record calls supporting but the annotation does not use is neither gold nor distractor, as in IRCoT."""
    if not record_contexts:
        return [{**context, "supporting": True} for context in gold]
    keys = {(context["title"], context["text"]) for context in gold}
    marked = []
    for context in record_contexts:
        if (context["title"], context["text"]) in keys:
            marked.append({"title": context["title"], "text": context["text"], "supporting": True})
        elif not context["supporting"]:
            marked.append({"title": context["title"], "text": context["text"], "supporting": False})
    found = {(context["title"], context["text"]) for context in marked}
    return marked + [{**context, "supporting": True} for context in gold if (context["title"], context["text"]) not in found]


def write_demonstrations(path: str | os.PathLike, demos: list[Demonstration]) -> int:
    return write_jsonl(path, (demo.to_dict() for demo in demos))
