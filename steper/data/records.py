"""The unified record every stage after `data` reads, whatever the native dataset format was."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from steper.io import InputError

_PARAGRAPH_KEYS = ("title", "text")


@dataclass
class Record:
    """One multi-hop question with its gold answers (first = official answer, then aliases) and passages."""

    id: str
    dataset: str
    question: str
    answers: list[str]
    type: str = ""
    supporting: list[dict[str, str]] = field(default_factory=list)
    decomposition: list[dict[str, str]] = field(default_factory=list)
    contexts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: str | os.PathLike = "<record>", line: int | None = None) -> Record:
        """Validate field names and types so a wrong file fails here, naming the file, line and field."""

        def fail(name: str, message: str) -> InputError:
            return InputError(path, message, line=line, field=name)

        if not isinstance(data, dict):
            raise InputError(path, "expected a JSON object", line=line)
        for name in ("id", "dataset", "question", "answers"):
            if name not in data:
                raise fail(name, "is missing")
        unknown = set(data) - {
            "id",
            "dataset",
            "question",
            "answers",
            "type",
            "supporting",
            "decomposition",
            "contexts",
        }
        if unknown:
            raise fail(sorted(unknown)[0], "is not a field of the unified record")
        for name in ("id", "dataset", "question", "type"):
            if name in data and not isinstance(data[name], str):
                raise fail(name, f"must be a string, got {type(data[name]).__name__}")
        answers = data["answers"]
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise fail("answers", "must be a non-empty list of strings")
        supporting = _paragraphs(data.get("supporting", []), _PARAGRAPH_KEYS, "supporting", fail)
        decomposition = _paragraphs(data.get("decomposition", []), ("question", "answer"), "decomposition", fail)
        contexts = _paragraphs(data.get("contexts", []), _PARAGRAPH_KEYS, "contexts", fail)
        for index, context in enumerate(contexts):
            if not isinstance(context.get("is_supporting", False), bool):
                raise fail(f"contexts[{index}].is_supporting", "must be true or false")
            context.setdefault("is_supporting", False)
        return cls(
            id=data["id"],
            dataset=data["dataset"],
            question=data["question"],
            answers=list(answers),
            type=data.get("type", ""),
            supporting=supporting,
            decomposition=decomposition,
            contexts=contexts,
        )


def _paragraphs(value: Any, keys: tuple[str, ...], name: str, fail) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise fail(name, "must be a list")
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise fail(f"{name}[{index}]", "must be an object")
        for key in keys:
            if not isinstance(item.get(key), str):
                raise fail(f"{name}[{index}].{key}", "is missing or not a string")
        items.append(dict(item))
    return items


def unique(values: list[str]) -> list[str]:
    """Drop empty and repeated answers, keeping the official answer first."""
    seen: set[str] = set()
    kept = []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.add(value)
            kept.append(value)
    return kept
