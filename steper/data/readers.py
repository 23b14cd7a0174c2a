"""One entry point over the native readers; the format is always named, never guessed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from steper.data import hotpotqa, ircot, musique, twowiki
from steper.data.records import Record
from steper.data.source import iter_json_lines
from steper.io import InputError

FORMATS: dict[str, Callable[..., Iterator[Record]]] = {
    "hotpotqa": hotpotqa.read,
    "2wikimultihopqa": twowiki.read,
    "musique": musique.read,
    "ircot": ircot.read,
}

PARAGRAPHS: dict[str, Callable[[str | os.PathLike], Iterator[tuple[str, str]]]] = {
    "hotpotqa": hotpotqa.context_paragraphs,
    "2wikimultihopqa": twowiki.context_paragraphs,
    "musique": musique.context_paragraphs,
    "ircot": ircot.context_paragraphs,
}


def check_format(fmt: str, path: str | os.PathLike) -> None:
    if fmt not in FORMATS:
        raise InputError(path, f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", field="format")


def read_records(
    fmt: str,
    path: str | os.PathLike,
    dataset: str,
    aliases: str | os.PathLike | None = None,
    chains: str | os.PathLike | None = None,
) -> Iterator[Record]:
    """Unified records from a native file. `aliases`: 2Wiki id_aliases.json. `chains`: gold chains
    ({id, decomposition}) that fill the decomposition of records whose format has none."""
    check_format(fmt, path)
    if aliases is not None and fmt != "2wikimultihopqa":
        raise InputError(
            aliases, f"answer aliases by entity id only exist for 2wikimultihopqa, not {fmt!r}", field="aliases"
        )
    known = load_chains(chains) if chains is not None else {}
    if fmt == "2wikimultihopqa":
        records = twowiki.read(path, dataset, twowiki.load_aliases(aliases) if aliases else None)
    else:
        records = FORMATS[fmt](path, dataset)
    for record in records:
        if not record.decomposition and record.id in known:
            record.decomposition = known[record.id]
        yield record


def load_chains(path: str | os.PathLike) -> dict[str, list[dict[str, str]]]:
    chains = {}
    for where, line in iter_json_lines(path):
        identifier = str(where.get(line, "id", (str, int)))
        steps = where.get(line, "decomposition", list)
        for index, step in enumerate(steps):
            if (
                not isinstance(step, dict)
                or not isinstance(step.get("question"), str)
                or not isinstance(step.get("answer"), str)
            ):
                raise where.error(f"decomposition[{index}]", "must have string 'question' and 'answer'")
        chains[identifier] = [{"question": s["question"], "answer": s["answer"]} for s in steps]
    return chains


def context_paragraphs(fmt: str, path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """(title, text) of every context paragraph of a native file; answers are not needed."""
    check_format(fmt, path)
    return PARAGRAPHS[fmt](path)
