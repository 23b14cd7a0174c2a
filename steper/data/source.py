"""Where a native record came from, and streaming iteration over JSON lists and JSON lines.

The official HotpotQA train file is one 550 MB JSON list; decoding it element by element keeps
memory flat. Errors name the file and a 1-based position: the line for JSON lines, the record
index for JSON lists (the message says which).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from steper.io import InputError, open_text, read_jsonl_numbered

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Where:
    """A record's position: `line` is a file line (JSON lines) or a record index (JSON list)."""

    path: str
    line: int
    in_list: bool = False

    def error(self, field: str | None, message: str) -> InputError:
        if self.in_list:
            message = f"{message} (line = record {self.line} of the JSON list, 1-based)"
        return InputError(self.path, message, line=self.line, field=field)

    def get(self, record: dict[str, Any], name: str, kind: type | tuple[type, ...] = object) -> Any:
        """record[name], or an InputError naming the field when it is missing or of the wrong type."""
        if name not in record:
            raise self.error(name, "is missing")
        value = record[name]
        if not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(name, f"must be {expected}, got {type(value).__name__}")
        return value


def first_char(path: str | os.PathLike) -> str:
    with open_text(path) as handle:
        while True:
            chunk = handle.read(4096)
            if not chunk:
                return ""
            stripped = chunk.lstrip()
            if stripped:
                return stripped[0]


def iter_json_list(path: str | os.PathLike) -> Iterator[tuple[Where, dict[str, Any]]]:
    """Yield each object of a top-level JSON list without loading the whole file."""
    path = str(path)
    decoder = json.JSONDecoder()
    with open_text(path) as handle:
        buffer = handle.read(_CHUNK).lstrip()
        if not buffer.startswith("["):
            raise InputError(path, "expected a JSON list of records", line=1)
        position, index, eof = 1, 0, False
        while True:
            while True:
                position = _skip(buffer, position)
                if position < len(buffer) or eof:
                    break
                buffer, position, eof = _refill(handle, buffer, position)
            if position >= len(buffer):
                raise InputError(path, f"unterminated JSON list after record {index}")
            if buffer[position] == "]":
                return
            if index:
                if buffer[position] != ",":
                    raise Where(path, index, in_list=True).error(
                        None, "malformed JSON (expected ',' or ']' after this record)"
                    )
                position += 1
                while True:
                    position = _skip(buffer, position)
                    if position < len(buffer) or eof:
                        break
                    buffer, position, eof = _refill(handle, buffer, position)
            index += 1
            where = Where(path, index, in_list=True)
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, position)
                    break
                except json.JSONDecodeError as error:
                    if eof:
                        raise where.error(None, f"malformed JSON ({error.msg})") from None
                    buffer, position, eof = _refill(handle, buffer, position)
            if not isinstance(value, dict):
                raise where.error(None, "expected a JSON object")
            position = end
            yield where, value


def _skip(buffer: str, position: int) -> int:
    while position < len(buffer) and buffer[position] in " \t\r\n":
        position += 1
    return position


def _refill(handle, buffer: str, position: int) -> tuple[str, int, bool]:
    chunk = handle.read(_CHUNK)
    return buffer[position:] + chunk, 0, not chunk


def iter_json_lines(path: str | os.PathLike) -> Iterator[tuple[Where, dict[str, Any]]]:
    for number, value in read_jsonl_numbered(path):
        yield Where(str(path), number), value


def iter_json_records(path: str | os.PathLike) -> Iterator[tuple[Where, dict[str, Any]]]:
    """JSON list or JSON lines, told apart by the file's first character ('[' = list)."""
    return iter_json_list(path) if first_char(path) == "[" else iter_json_lines(path)
