"""Small file helpers shared by every stage.

Every writer goes through a temporary name and an atomic rename, so a killed job never leaves a
half-written artifact that Snakemake would take for finished. Every reader reports bad input as
one `InputError` naming the file, the line and the field.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from steper.layout import SETTINGS_FILE


class InputError(ValueError):
    """Bad input: carries the file, line (1-based, or None) and field that are wrong."""

    def __init__(self, path: str | os.PathLike, message: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}, line {line}"
        what = f"field '{field}' " if field else ""
        super().__init__(f"{where}: {what}{message}")


def check_file(path: str | os.PathLike) -> None:
    """A missing input or a directory where a file belongs is one InputError, not a traceback."""
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not a file")
    if not os.path.exists(path):
        raise InputError(path, "does not exist")


def _encoding_error(path: str | os.PathLike) -> InputError:
    """Name the first line of `path` that is not UTF-8 (a decoder reading ahead cannot say which)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return InputError(path, f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})", line=number)
    return InputError(path, "is not UTF-8 text")


@contextlib.contextmanager
def open_text(path: str | os.PathLike) -> Iterator[TextIO]:
    """Open a UTF-8 input; missing, a directory or bad bytes is an InputError naming the file (and line)."""
    check_file(path)
    try:
        with open(path, encoding="utf-8") as handle:
            yield handle
    except UnicodeDecodeError:
        raise _encoding_error(path) from None


def read_jsonl_numbered(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, dict) per non-empty line, so later checks can name the line too.

    Line numbers count every line, blank ones included, so they match an editor's.
    """
    required = tuple(required)
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(path, f"malformed JSON ({error.msg}, column {error.colno})", line=number) from None
            if not isinstance(record, dict):
                raise InputError(path, "expected a JSON object", line=number)
            for field in required:
                if field not in record:
                    raise InputError(path, "is missing", line=number, field=field)
            yield number, record


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line; malformed JSON or a missing required field is an InputError."""
    for _, record in read_jsonl_numbered(path, required):
        yield record


def read_json(path: str | os.PathLike) -> Any:
    try:
        with open_text(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise InputError(path, f"malformed JSON ({error.msg}, column {error.colno})", line=error.lineno) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o644)  # mkstemp makes it private; an artifact should not be
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_replaceable(path: str | os.PathLike) -> None:
    """Only what steper wrote may be replaced: a file, or a non-empty directory without steper's
    settings file, is someone else's and stops the run before any work is done."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise InputError(path, "exists and is not a directory steper wrote; refusing to replace it")
    if path.is_dir() and any(path.iterdir()) and not (path / SETTINGS_FILE).is_file():
        raise InputError(
            path, f"is a non-empty directory without {SETTINGS_FILE}, so steper did not write it; "
            "refusing to replace it (move it away or choose another output)"
        )


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory; it replaces `path` only if the block succeeds.

    The block must write steper's settings file into the directory: that file is what marks a
    directory as steper's, and only such a directory (or an empty one) is ever replaced.
    """
    path = Path(path)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp_path.chmod(0o755)  # mkdtemp makes it private; an artifact directory should not be
    old_path = tmp_path.with_suffix(".old")
    try:
        yield tmp_path
        if not (tmp_path / SETTINGS_FILE).is_file():
            raise RuntimeError(f"atomic_dir({path}): the block wrote no {SETTINGS_FILE}")
        if path.exists():
            check_replaceable(path)
            os.replace(path, old_path)
        os.replace(tmp_path, path)
    finally:
        for leftover in (tmp_path, old_path):
            if leftover.exists():
                shutil.rmtree(leftover)


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> int:
    """Write records atomically; return how many were written."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=False)
        handle.write("\n")


def append_jsonl(handle, record: dict[str, Any]) -> None:
    """Append one record and flush it to disk, so a killed job keeps every finished line."""
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
