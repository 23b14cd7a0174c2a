"""MuSiQue (v1.0, JSON lines as released, or one JSON list): paragraphs with support flags,
question decompositions whose later questions refer to earlier answers as #1, #2 (kept as is).

Unanswerable records (the `full` variant's contrast questions) have no usable gold chain; they are
skipped and counted in the log rather than turned into records with a wrong answer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from steper.data.records import Record, unique
from steper.data.source import Where, iter_json_records

log = logging.getLogger(__name__)


def paragraphs(where: Where, record: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for index, item in enumerate(where.get(record, "paragraphs", list)):
        if not isinstance(item, dict):
            raise where.error(f"paragraphs[{index}]", "must be an object")
        for name in ("title", "paragraph_text"):
            if not isinstance(item.get(name), str):
                raise where.error(f"paragraphs[{index}].{name}", "is missing or not a string")
        result.append(
            {
                "title": item["title"].strip(),
                "text": item["paragraph_text"].strip(),
                "is_supporting": bool(item.get("is_supporting", False)),
            }
        )
    return result


def decomposition(where: Where, record: dict[str, Any]) -> list[dict[str, str]]:
    steps = []
    for index, step in enumerate(where.get(record, "question_decomposition", list)):
        if (
            not isinstance(step, dict)
            or not isinstance(step.get("question"), str)
            or not isinstance(step.get("answer"), str)
        ):
            raise where.error(f"question_decomposition[{index}]", "must have string 'question' and 'answer'")
        steps.append({"question": step["question"], "answer": step["answer"]})
    return steps


def read(path: str | os.PathLike, dataset: str) -> Iterator[Record]:
    skipped = 0
    for where, record in iter_json_records(path):
        identifier = str(where.get(record, "id", (str, int)))
        if record.get("answerable") is False:
            skipped += 1
            continue
        answer = where.get(record, "answer", str)
        aliases = record.get("answer_aliases") or []
        if not isinstance(aliases, list):
            raise where.error("answer_aliases", "must be a list")
        answers = unique([answer, *[a for a in aliases if isinstance(a, str)]])
        if not answers:
            raise where.error("answer", "is empty")
        contexts = paragraphs(where, record)
        yield Record(
            id=identifier,
            dataset=dataset,
            question=where.get(record, "question", str),
            answers=answers,
            type=identifier.split("__")[0] if "__" in identifier else "",
            supporting=[{"title": c["title"], "text": c["text"]} for c in contexts if c["is_supporting"]],
            decomposition=decomposition(where, record),
            contexts=contexts,
        )
    if skipped:
        log.warning("%s: skipped %d unanswerable records (answerable=false)", path, skipped)


def context_paragraphs(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    for where, record in iter_json_records(path):
        for paragraph in paragraphs(where, record):
            yield paragraph["title"], paragraph["text"]
