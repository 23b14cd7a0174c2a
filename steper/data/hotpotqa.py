"""HotpotQA in both schemas: the official JSON (`_id`, list contexts) and the Hugging Face copy (`id`).

The schema is read per record (`_id` + list context = official, `id` + dict context = HF), so a
file converted from the hub and the official file both work under `--format hotpotqa`; a record
matching neither is an error. Sentences keep their leading spaces and are joined with "" (as IRCoT).
A supporting title names one paragraph: where the context repeats a title, the last paragraph under
it (IRCoT's processing maps each title to its paragraph with a dict, so the last one wins), and only
that paragraph is marked `is_supporting`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from steper.data.records import Record, unique
from steper.data.source import Where, iter_json_records

log = logging.getLogger(__name__)


def paragraphs(where: Where, record: dict[str, Any], joiner: str = "") -> list[tuple[str, str]]:
    """(title, text) of every context paragraph, for either schema."""
    context = where.get(record, "context", (list, dict))
    if isinstance(context, dict):
        titles = where.get(context, "title", list)
        sentences = where.get(context, "sentences", list)
        if len(titles) != len(sentences):
            raise where.error("context", "'title' and 'sentences' differ in length")
        pairs = list(zip(titles, sentences))
    else:
        pairs = []
        for index, item in enumerate(context):
            if not (isinstance(item, list) and len(item) == 2):
                raise where.error(f"context[{index}]", "must be [title, [sentences]]")
            pairs.append((item[0], item[1]))
    result = []
    for index, (title, sentences) in enumerate(pairs):
        if (
            not isinstance(title, str)
            or not isinstance(sentences, list)
            or not all(isinstance(s, str) for s in sentences)
        ):
            raise where.error(f"context[{index}]", "must hold a title string and a list of sentence strings")
        result.append((title, joiner.join(sentences).strip()))
    return result


def supporting_titles(where: Where, record: dict[str, Any]) -> list[str]:
    """Titles of the supporting facts, in order of first mention."""
    facts = where.get(record, "supporting_facts", (list, dict))
    if isinstance(facts, dict):
        titles = where.get(facts, "title", list)
    else:
        titles = []
        for index, fact in enumerate(facts):
            if not (isinstance(fact, list) and len(fact) == 2 and isinstance(fact[0], str)):
                raise where.error(f"supporting_facts[{index}]", "must be [title, sentence_id]")
            titles.append(fact[0])
    return list(dict.fromkeys(titles))


def record_id(where: Where, record: dict[str, Any]) -> str:
    """`_id` with a list context (official) or `id` with a dict context (Hugging Face)."""
    context = record.get("context")
    if "_id" in record and isinstance(context, list):
        return str(record["_id"])
    if "id" in record and isinstance(context, dict):
        return str(record["id"])
    if "_id" not in record and "id" not in record:
        raise where.error("_id", "is missing (neither '_id' nor 'id' present)")
    raise where.error(
        "context", "does not match the record's schema (official: '_id' + list; Hugging Face: 'id' + dict)"
    )


def build(where: Where, record: dict[str, Any], dataset: str, joiner: str, answers: list[str]) -> Record:
    """A unified record from a HotpotQA-shaped native record (shared with 2WikiMultihopQA)."""
    identifier = record_id(where, record)
    if not answers:
        raise where.error("answer", "is empty")
    question = where.get(record, "question", str)
    gold = supporting_titles(where, record)
    pairs = paragraphs(where, record, joiner)
    last = {title: index for index, (title, _) in enumerate(pairs)}  # a repeated title: its last paragraph
    chosen = {last[title] for title in gold if title in last}
    contexts = [{"title": t, "text": x, "is_supporting": index in chosen} for index, (t, x) in enumerate(pairs)]
    missing = sorted(set(gold) - set(last))
    if missing:  # a known quirk of a few official records; the rest of the record is still good
        log.warning("%s: supporting fact title(s) %s not in the context of %s", where.path, missing, identifier)
    supporting = [{"title": t, "text": pairs[last[t]][1]} for t in gold if t in last]
    return Record(
        id=identifier,
        dataset=dataset,
        question=question,
        answers=answers,
        type=str(record.get("type", "")),
        supporting=supporting,
        contexts=contexts,
    )


def read(path: str | os.PathLike, dataset: str) -> Iterator[Record]:
    for where, record in iter_json_records(path):
        answer = where.get(record, "answer", str)
        yield build(where, record, dataset, "", unique([answer]))


def context_paragraphs(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Every context paragraph, without needing answers (test files have none)."""
    for where, record in iter_json_records(path):
        yield from paragraphs(where, record, "")
