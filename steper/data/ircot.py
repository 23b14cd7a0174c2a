"""IRCoT's processed JSON lines (`processed_data/{dataset}/*.jsonl` and the `*_subsampled.jsonl` files).

Answers come from every answers_object (spans, number, date); contexts carry `idx` or `id`.
MuSiQue's `reasoning_steps` ("question >>>> answer") become the decomposition; other datasets'
reasoning steps are not question/answer pairs and are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from steper.data.records import Record, unique
from steper.data.source import Where, iter_json_lines

_STEP_SEPARATOR = " >>>> "


def answers(where: Where, record: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for index, item in enumerate(where.get(record, "answers_objects", list)):
        if not isinstance(item, dict):
            raise where.error(f"answers_objects[{index}]", "must be an object")
        values.extend(str(span) for span in item.get("spans") or [])
        if item.get("number") not in (None, ""):
            values.append(str(item["number"]))
        date = item.get("date") or {}
        if isinstance(date, dict):
            parts = [str(date.get(key) or "") for key in ("day", "month", "year")]
            values.append(" ".join(p for p in parts if p))
    found = unique(values)
    if not found:
        raise where.error("answers_objects", "holds no answer")
    return found


def contexts(where: Where, record: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for index, item in enumerate(where.get(record, "contexts", list)):
        if not isinstance(item, dict):
            raise where.error(f"contexts[{index}]", "must be an object")
        if "idx" not in item and "id" not in item:
            raise where.error(f"contexts[{index}].idx", "is missing (neither 'idx' nor 'id')")
        for name in ("title", "paragraph_text"):
            if not isinstance(item.get(name), str):
                raise where.error(f"contexts[{index}].{name}", "is missing or not a string")
        result.append(
            {
                "title": item["title"].strip(),
                "text": item["paragraph_text"].strip(),
                "is_supporting": bool(item.get("is_supporting", False)),
            }
        )
    return result


def decomposition(record: dict[str, Any]) -> list[dict[str, str]]:
    steps = [s for s in record.get("reasoning_steps") or [] if isinstance(s, str)]
    if not steps or not all(_STEP_SEPARATOR in s for s in steps):
        return []
    return [dict(zip(("question", "answer"), (p.strip() for p in s.split(_STEP_SEPARATOR, 1)))) for s in steps]


def read(path: str | os.PathLike, dataset: str) -> Iterator[Record]:
    for where, record in iter_json_lines(path):
        paragraphs = contexts(where, record)
        yield Record(
            id=str(where.get(record, "question_id", (str, int))),
            dataset=dataset,
            question=where.get(record, "question_text", str),
            answers=answers(where, record),
            type=str(record.get("type", "")),
            supporting=[{"title": c["title"], "text": c["text"]} for c in paragraphs if c["is_supporting"]],
            decomposition=decomposition(record),
            contexts=paragraphs,
        )


def context_paragraphs(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    for where, record in iter_json_lines(path):
        for paragraph in contexts(where, record):
            yield paragraph["title"], paragraph["text"]
