"""2WikiMultihopQA: HotpotQA-shaped records with evidence triples and answer aliases by entity id.

Sentences are joined with " " (as IRCoT). Evidence triples [subject, relation, object] become the
decomposition, one sub-question per triple. Aliases come from `id_aliases.json` (official: JSON
lines {"Q_id", "aliases", "demonyms"}; a single JSON object {id: [aliases]} is accepted too) and
are looked up by the record's `answer_id`, or by its `_id` when it has no `answer_id`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from steper.data import hotpotqa
from steper.data.records import Record, unique
from steper.data.source import Where, iter_json_lines, iter_json_records
from steper.io import InputError, open_text

# Sub-question wording per Wikidata relation; other relations fall back to "What is the <rel> of <subj>?".
_TEMPLATES = {
    "place of birth": "Where was {s} born?",
    "place of death": "Where did {s} die?",
    "date of birth": "When was {s} born?",
    "date of death": "When did {s} die?",
    "country of citizenship": "What is the nationality of {s}?",
    "country": "Which country is {s} in?",
    "father": "Who is the father of {s}?",
    "mother": "Who is the mother of {s}?",
    "spouse": "Who is the spouse of {s}?",
    "director": "Who is the director of {s}?",
    "author": "Who is the author of {s}?",
    "performer": "Who is the performer of {s}?",
    "publication date": "When was {s} published?",
    "capital": "What is the capital of {s}?",
}


def sub_question(subject: str, relation: str) -> str:
    template = _TEMPLATES.get(relation.strip().lower(), "What is the {r} of {s}?")
    return template.format(s=subject, r=relation)


def load_aliases(path: str | os.PathLike) -> dict[str, list[str]]:
    """Entity id -> aliases (aliases + demonyms in the official JSON-lines file)."""
    with open_text(path) as handle:
        text = handle.read()
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    aliases: dict[str, list[str]] = {}
    if isinstance(whole, dict) and "Q_id" not in whole:
        for key, value in whole.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(path, "must map an id to a list of strings", field=key)
            aliases[key] = value
        return aliases
    for where, line in iter_json_lines(path):
        qid = where.get(line, "Q_id", str)
        names = where.get(line, "aliases", list) + list(line.get("demonyms") or [])
        aliases[qid] = [n for n in names if isinstance(n, str)]
    return aliases


def decomposition(where: Where, record: dict[str, Any]) -> list[dict[str, str]]:
    steps = []
    for index, triple in enumerate(record.get("evidences") or []):
        if not (isinstance(triple, list) and len(triple) == 3 and all(isinstance(x, str) for x in triple)):
            raise where.error(f"evidences[{index}]", "must be [subject, relation, object]")
        subject, relation, obj = triple
        steps.append({"question": sub_question(subject, relation), "answer": obj})
    return steps


def read(path: str | os.PathLike, dataset: str, aliases: dict[str, list[str]] | None = None) -> Iterator[Record]:
    aliases = aliases or {}
    for where, record in iter_json_records(path):
        answer = where.get(record, "answer", str)
        key = record.get("answer_id") or record.get("_id")
        unified = hotpotqa.build(where, record, dataset, " ", unique([answer, *aliases.get(str(key), [])]))
        unified.decomposition = decomposition(where, record)
        yield unified


def context_paragraphs(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    for where, record in iter_json_records(path):
        yield from hotpotqa.paragraphs(where, record, " ")
