"""Sub-questions of multi-hop test questions, for Table 4 (rationale validity on sub-questions).

Each sub-question becomes a unified record of its own, id '{question id}#{hop}' (hop from 1), so
the same framework and student answer it alone and the paper pairs it with its question's result.
Two sources:
- the gold decompositions the records carry (toy world, MuSiQue): MuSiQue writes later hops with
  '#1', '#2', ... for earlier answers, which are filled in with those answers;
- a SubQA file (Tang et al., EACL 2021: HotpotQA questions with their sub-questions). Its download
  location and native format could not be verified from here, so the reader takes this documented
  format, one entry per HotpotQA question, as a JSON list or JSON lines:
  {"id": <HotpotQA _id>, "sub_questions": [{"question": str, "answer": str}, ...]}
  ("_id" is accepted for "id"; "answer" may be a list of aliases).
A question with a hop whose question or answer is empty is left out (it cannot be asked).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from steper.io import InputError, read_jsonl_numbered

_REFERENCE = re.compile(r"#(\d+)")


def _answers(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def subquestion_records(record: dict[str, Any], hops: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """One record per hop; '#k' in a hop question is replaced by hop k's (first) answer."""
    if len(hops) < 2 or any(not question.strip() or not answers or not answers[0].strip() for question, answers in hops):
        return []
    out = []
    for number, (question, answers) in enumerate(hops, start=1):
        text = _REFERENCE.sub(lambda match, number=number: hops[int(match[1]) - 1][1][0] if 0 < int(match[1]) < number else match[0], question)
        out.append({
            "id": f"{record['id']}#{number}",
            "dataset": record.get("dataset"),
            "question": text,
            "answers": answers,
            "type": "subquestion",
            "parent": record["id"],
            "hop": number,
            "supporting": [],
            "decomposition": [],
            "contexts": [],
        })
    return out


def from_decompositions(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        hops = [(str(hop.get("question") or ""), _answers(hop.get("answer") or "")) for hop in record.get("decomposition") or []]
        out += subquestion_records(record, hops)
    return out


def read_subqa(path: str | os.PathLike) -> dict[str, list[tuple[str, list[str]]]]:
    """Question id -> its (sub-question, answers) in order, from a SubQA file in the format above."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            entries = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as error:
            raise InputError(path, f"malformed JSON ({error.msg})", line=error.lineno) from None
        where = "entry"
    else:
        entries = list(read_jsonl_numbered(path))
        where = "line"
    subqa: dict[str, list[tuple[str, list[str]]]] = {}
    for number, entry in entries:
        line = number if where == "line" else None
        field_prefix = "" if where == "line" else f"[{number - 1}]."
        if not isinstance(entry, dict):
            raise InputError(path, "expected a JSON object", line=line, field=field_prefix.rstrip(".") or None)
        qid = entry.get("id", entry.get("_id"))
        if qid is None:
            raise InputError(path, "is missing", line=line, field=f"{field_prefix}id")
        hops = entry.get("sub_questions")
        if not isinstance(hops, list) or not all(isinstance(hop, dict) and "question" in hop and "answer" in hop for hop in hops):
            raise InputError(path, "must be a list of {question, answer}", line=line, field=f"{field_prefix}sub_questions")
        if str(qid) in subqa:
            raise InputError(path, f"duplicate id '{qid}'", line=line, field=f"{field_prefix}id")
        subqa[str(qid)] = [(str(hop["question"]), _answers(hop["answer"])) for hop in hops]
    return subqa


def from_subqa(records: Iterable[dict[str, Any]], subqa: dict[str, list[tuple[str, list[str]]]]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        if record["id"] in subqa:
            out += subquestion_records(record, subqa[record["id"]])
    return out
