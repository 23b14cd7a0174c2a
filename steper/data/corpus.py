"""Retrieval corpora as IRCoT builds them (retriever_server/build_index.py), as pyserini JSON lines.

- from records: every context paragraph, deduplicated by sha256(title + " " + text);
- from the HotpotQA 2017 Wikipedia abstracts: one document per article, sentences stripped and
  joined by spaces.
Document id = the first 16 hex characters of that hash; order = first appearance, so the same
inputs always give the same file. A `<output>.stats.json` records the count and, when asked, the
expected count of the paper's corpus and whether they match.
"""

from __future__ import annotations

import bz2
import hashlib
import json
import logging
import os
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from steper.data.readers import context_paragraphs
from steper.data.source import iter_json_lines
from steper.io import InputError, atomic_path, write_json

log = logging.getLogger(__name__)


def passage_id(title: str, text: str) -> str:
    """A passage's corpus id: the same title and text are the same passage in every corpus."""
    return hashlib.sha256(f"{title} {text}".encode()).hexdigest()[:16]

EXPECTED_COUNTS = {"hotpotqa": 5_233_329, "2wikimultihopqa": 430_225, "musique": 139_416}


def record_paragraphs(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, str]]:
    """Context paragraphs of unified record files (the output of `steper data prepare`)."""
    for path in paths:
        for where, record in iter_json_lines(path):
            for index, context in enumerate(where.get(record, "contexts", list)):
                if (
                    not isinstance(context, dict)
                    or not isinstance(context.get("title"), str)
                    or not isinstance(context.get("text"), str)
                ):
                    raise where.error(f"contexts[{index}]", "must have string 'title' and 'text'")
                yield context["title"], context["text"]


def native_paragraphs(fmt: str, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, str]]:
    """Context paragraphs of native dataset files, including test files without answers."""
    for path in paths:
        yield from context_paragraphs(fmt, path)


def wiki_abstracts(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Articles of the HotpotQA abstracts dump: a tar.bz2 of bz2 JSON-lines files (or a directory of them).

    Each line has id, url, title and text (a list of sentences; nested lists are flattened).
    """
    path = Path(path)
    if path.is_dir():
        for member in sorted(path.rglob("*.bz2")):
            try:
                with bz2.open(member, "rt", encoding="utf-8") as handle:
                    yield from _abstract_lines(handle, f"{path}:{member.relative_to(path)}")
            except (OSError, EOFError, UnicodeDecodeError) as error:
                raise InputError(member, f"not a readable bz2 file of UTF-8 JSON lines ({error})") from None
        return
    if not path.exists():
        raise InputError(path, "does not exist")
    try:
        with tarfile.open(path, mode="r|bz2") as archive:
            for member in archive:
                if not (member.isfile() and member.name.endswith(".bz2")):
                    continue
                # members are small (a few MB each); a streamed tar member cannot be wrapped lazily
                try:
                    text = bz2.decompress(archive.extractfile(member).read()).decode("utf-8")
                except (OSError, EOFError, UnicodeDecodeError) as error:
                    raise InputError(f"{path}:{member.name}", f"not a readable bz2 file of UTF-8 JSON lines ({error})") from None
                yield from _abstract_lines(text.splitlines(), f"{path}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise InputError(path, f"not a readable tar.bz2 of bz2 JSON-lines files ({error})") from None


def _abstract_lines(handle: Iterable[str], name: str) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            article = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(name, f"malformed JSON ({error.msg})", line=number) from None
        if not isinstance(article, dict) or not isinstance(article.get("title"), str):
            raise InputError(name, "is missing or not a string", line=number, field="title")
        text = article.get("text")
        if not isinstance(text, list):
            raise InputError(name, "must be a list of sentences", line=number, field="text")
        yield article["title"].strip(), " ".join(s.strip() for s in _flatten(text) if s.strip())


def _flatten(items: list[Any]) -> Iterator[str]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        elif isinstance(item, str):
            yield item


def write_corpus(
    paragraphs: Iterable[tuple[str, str]],
    output: str | os.PathLike,
    dataset: str,
    expected: int | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Deduplicate and write; returns (and saves beside the corpus) the stats. No paragraph at all
    stops the run before the corpus is replaced, unless `allow_empty`."""
    seen: set[str] = set()
    duplicates = 0
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for title, text in tqdm(paragraphs, desc=f"corpus {dataset}", unit="doc", disable=None):
            identifier = passage_id(title, text)
            if identifier in seen:
                duplicates += 1
                continue
            seen.add(identifier)
            handle.write(json.dumps({"id": identifier, "title": title, "contents": text}, ensure_ascii=False) + "\n")
        if not seen and not allow_empty:
            raise InputError(output, "no paragraph found in the inputs (pass --allow-empty to write an empty corpus)")
    stats = {
        "dataset": dataset,
        "count": len(seen),
        "duplicates": duplicates,
        "expected": expected,
        "match": None if expected is None else len(seen) == expected,
    }
    write_json(f"{output}.stats.json", stats)
    log.info("corpus %s: %d documents (%d duplicates dropped) -> %s", dataset, len(seen), duplicates, output)
    if expected is not None:
        level = logging.INFO if stats["match"] else logging.WARNING
        log.log(
            level,
            "corpus %s: %d documents, expected %d (%s)",
            dataset,
            len(seen),
            expected,
            "match" if stats["match"] else "MISMATCH",
        )
    return stats
