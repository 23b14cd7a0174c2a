"""Passages, the retriever interface, and reading a corpus file with its errors named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from steper.io import InputError, read_jsonl_numbered

CORPUS_FIELDS = ("id", "title", "contents")


@dataclass
class Passage:
    id: str
    title: str
    text: str
    score: float = 0.0


class Retriever(Protocol):
    def search(self, query: str, k: int) -> list[Passage]: ...

    def batch_search(self, queries: list[str], k: int) -> list[list[Passage]]: ...

    def doc(self, doc_id: str) -> Passage: ...


def read_corpus(path: str | os.PathLike) -> Iterator[Passage]:
    """Yield the corpus passages; wrong types, empty passages and repeated ids are InputErrors."""
    seen: set[str] = set()
    count = 0
    for number, line in read_jsonl_numbered(path, required=CORPUS_FIELDS):
        for field in CORPUS_FIELDS:
            if not isinstance(line[field], str):
                raise InputError(path, "must be a string", line=number, field=field)
        if not line["id"]:
            raise InputError(path, "is empty", line=number, field="id")
        if "\n" in line["title"]:
            raise InputError(path, "holds a line break", line=number, field="title")
        if not (line["title"].strip() or line["contents"].strip()):
            raise InputError(path, "and 'title' are both empty", line=number, field="contents")
        if line["id"] in seen:
            raise InputError(path, f"repeats id {line['id']!r}", line=number, field="id")
        seen.add(line["id"])
        count += 1
        yield Passage(line["id"], line["title"], line["contents"])
    if count == 0:
        raise InputError(path, "corpus holds no passages")


def sort_hits(hits: list[Passage], k: int) -> list[Passage]:
    """Best first; equal scores ordered by id, so ties never depend on index layout or threads."""
    return sorted(hits, key=lambda hit: (-hit.score, hit.id))[:k]
