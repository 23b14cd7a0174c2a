"""Small file helpers shared by every stage.

Every writer goes through a temporary name and an atomic rename, so a killed job never leaves a
half-written artifact that Snakemake would take for finished. Every reader reports bad input as
one `InputError` naming the file, the line and the field.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
    first = True
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except RecursionError:
                raise InputError(path, "is nested too deeply to read", line=number) from None
            except json.JSONDecodeError as error:
                if first:
                    _other_format(path, line, number)
                raise InputError(path, f"malformed JSON ({error.msg}, column {error.colno})", line=number) from None
            if not isinstance(record, dict):
                if first:
                    _other_format(path, line, number)
                raise InputError(path, "expected a JSON object", line=number)
            first = False
            for field in required:
                if field not in record:
                    raise InputError(path, "is missing", line=number, field=field)
            yield number, record


def _other_format(path: str | os.PathLike, line: str, number: int) -> None:
    """A first line that is not an object because the file is a whole JSON document says so,
    rather than "malformed JSON (Expecting value, column 1)"."""
    text = line.strip()
    found = "a JSON list (it starts with '[')" if text.startswith("[") else "one JSON document spread over lines" if text == "{" else None
    if found:
        raise InputError(
            path, f"is {found}, but this reader expects JSON lines: one JSON object per line "
            "(e.g. `jq -c '.[]'` turns a list into JSON lines)", line=number
        )


def read_jsonl(path: str | os.PathLike, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line; malformed JSON or a missing required field is an InputError."""
    for _, record in read_jsonl_numbered(path, required):
        yield record


def read_json(path: str | os.PathLike) -> Any:
    try:
        with open_text(path) as handle:
            return json.load(handle)
    except RecursionError:
        raise InputError(path, "is nested too deeply to read") from None
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":
            raise InputError(
                path, "holds more than one JSON value (JSON lines?), but this reader expects one JSON document", line=error.lineno
            ) from None
        raise InputError(path, f"malformed JSON ({error.msg}, column {error.colno})", line=error.lineno) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds.

    A directory where the file belongs (`--output .`), a full disk or a file-size limit is one
    InputError naming `path`, not the temporary file; the old `path`, if any, is left as it was."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a directory; the output must be a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o644)  # mkstemp makes it private; an artifact should not be
    try:
        with _write_errors_named(path):
            yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


OWNER_MARKER = ".steper-owned.json"


@dataclass
class Ownership:
    """What a directory's marker says: the output it was made for, whether steper made the directory
    itself (only then may `atomic_dir` replace it) and every file steper put in it."""

    made_for: str
    owns_directory: bool
    files: set[str]


def read_ownership(directory: str | os.PathLike) -> Ownership | None:
    """The marker of `directory`, or None if it has none; a damaged marker proves nothing and says so."""
    marker = Path(directory) / OWNER_MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        return Ownership(str(data["made_for"]), data["owns_directory"] is True, {str(name) for name in data["files"]})
    except (ValueError, KeyError, TypeError):
        raise InputError(marker, "is not a marker steper wrote (malformed); move it away") from None


def _write_ownership(directory: Path, ownership: Ownership) -> None:
    data = {"made_for": ownership.made_for, "owns_directory": ownership.owns_directory, "files": sorted(ownership.files)}
    with atomic_path(directory / OWNER_MARKER) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _marker_name(directory: Path) -> str:
    """How a marker names its directory: relative to the working directory when inside it, so a
    checkout moved (or cloned) elsewhere keeps its markers; absolute otherwise."""
    absolute = Path(os.path.abspath(directory))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _made_here(ownership: Ownership, directory: Path) -> bool:
    """A marker copied along with its directory (or alone) proves nothing about the copy."""
    recorded = Path(ownership.made_for)
    absolute = Path(os.path.abspath(directory))
    if recorded.is_absolute():
        return recorded == absolute
    return absolute.parts[-len(recorded.parts):] == recorded.parts


def _files_under(directory: Path) -> set[str]:
    """Every file and symbolic link below `directory` (relative, '/'-separated), its marker excepted."""
    found = set()
    for root, dirs, files in os.walk(directory):
        here = Path(root).relative_to(directory)
        found.update((here / name).as_posix() for name in files)
        found.update((here / name).as_posix() for name in dirs if (Path(root) / name).is_symlink())
    found.discard(OWNER_MARKER)
    return found


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return f"{shown} and {len(names) - 3} more" if len(names) > 3 else shown


def check_replaceable(path: str | os.PathLike) -> None:
    """Only an empty directory, or one steper made for this very output and holding nothing but
    the files steper put there, may be replaced: anything else (a file, a foreign directory, a
    copy, a user's file added inside) stops the run before any work is done. Steper's settings
    file proves nothing: any command may write one, the marker only `atomic_dir` does."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise InputError(path, "exists and is not a directory steper made; refusing to replace it")
    if not path.is_dir() or not any(path.iterdir()):
        return
    ownership = read_ownership(path)
    if ownership is None or not ownership.owns_directory:
        raise InputError(
            path, f"is a non-empty directory steper did not make (no {OWNER_MARKER} of its own); "
            "refusing to replace it (move it away or choose another output)"
        )
    if not _made_here(ownership, path):
        raise InputError(path, f"was made by steper for {ownership.made_for}, not for this path; refusing to replace it")
    foreign = sorted(_files_under(path) - ownership.files)
    if foreign:
        raise InputError(
            path, f"holds {len(foreign)} file(s) steper did not write: {_listing(foreign)}; "
            "refusing to replace it (move them out, then rerun)"
        )


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling directory; it replaces `path` only if the block succeeds.

    The block must write steper's settings file into the directory. On success the directory gets
    its ownership marker (made for `path`, listing every file in it), the only proof that a later
    run may replace it.
    """
    path = Path(path)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp_path.chmod(0o755)  # mkdtemp makes it private; an artifact directory should not be
    old_path = tmp_path.with_suffix(".old")
    try:
        with _write_errors_named(path):
            yield tmp_path
        if not (tmp_path / SETTINGS_FILE).is_file():
            raise RuntimeError(f"atomic_dir({path}): the block wrote no {SETTINGS_FILE}")
        _write_ownership(tmp_path, Ownership(_marker_name(path), True, _files_under(tmp_path)))
        if path.exists():
            check_replaceable(path)
            os.replace(path, old_path)
        os.replace(tmp_path, path)
    finally:
        for leftover in (tmp_path, old_path):
            if leftover.exists():
                shutil.rmtree(leftover)


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """`a` and `b` are one file: the same path once symbolic links are resolved, or hard links."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_settings_record(path: Path) -> bool:
    """A settings file as `steper.settings.save_resolved` writes it: replacing one loses nothing
    the run does not write again (directories written before markers existed hold them)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"settings", "config_hash", "git_revision"} <= data.keys()


class OwnedFiles:
    """The files one command writes into a directory it may share with other files (its inputs,
    other stages' outputs, the user's). Each may replace only a file steper wrote there (listed in
    the directory's marker) and never an input; nothing else in the directory is touched. The
    marker then lists them, and says the directory is steper's only if it was absent or empty."""

    def __init__(self, directory: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()):
        self.directory = Path(directory)
        self.inputs = [Path(path) for path in inputs]
        if self.directory.is_symlink() or (self.directory.exists() and not self.directory.is_dir()):
            raise InputError(self.directory, "exists and is not a directory; refusing to write into it")
        self.made_here = not self.directory.exists() or not any(self.directory.iterdir())
        ownership = read_ownership(self.directory) if self.directory.is_dir() else None
        self.known = ownership.files if ownership is not None and _made_here(ownership, self.directory) else set()
        self.claimed: list[str] = []
        self.removed: set[str] = set()

    def path(self, name: str) -> Path:
        """The path to write `name` to, once it is known to replace nothing that is not steper's."""
        target = self.directory / name
        if name in self.claimed:
            return target
        for source in self.inputs:
            if same_path(target, source):
                raise InputError(target, "is also an input of this command; refusing to overwrite it")
        if target.is_dir() and not target.is_symlink():
            raise InputError(target, "is a directory where steper writes a file; refusing to replace it")
        if (target.exists() or target.is_symlink()) and name not in self.known:
            if not (target.name == SETTINGS_FILE and not target.is_symlink() and _is_settings_record(target)):
                raise InputError(
                    target, f"exists and steper did not write it (not listed in {self.directory / OWNER_MARKER}); "
                    "refusing to replace it (move it away or choose another output directory)"
                )
        self.claimed.append(name)
        return target

    def remove(self, name: str) -> None:
        """Delete `name` if steper wrote it here before (a table a run no longer renders); the
        marker stops listing it. A file steper did not write is never touched."""
        if name in self.known:
            (self.directory / name).unlink(missing_ok=True)
            self.removed.add(name)

    def record(self) -> None:
        """List every claimed file that now exists in the marker (also after a failure: what was
        already renamed into place is steper's)."""
        written = {name for name in self.claimed if (self.directory / name).exists()}
        if not written and not self.removed:
            return
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # two writers into one directory keep both lists
            ownership = read_ownership(self.directory)
            if ownership is None or not _made_here(ownership, self.directory):
                ownership = Ownership(_marker_name(self.directory), self.made_here, set())
            ownership.files = (ownership.files - self.removed) | written
            _write_ownership(self.directory, ownership)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def owned_files(
    directory: str | os.PathLike, names: Iterable[str] = (), inputs: Iterable[str | os.PathLike] = ()
) -> Iterator[OwnedFiles]:
    """`OwnedFiles` of `directory` with `names` checked before the block runs (so a refusal comes
    before any work) and recorded when it ends."""
    files = OwnedFiles(directory, inputs)
    for name in names:
        files.path(name)
    try:
        yield files
    finally:
        files.record()


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
    with _write_errors_named(handle.name):
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# A write that fails for want of room: no space, a quota, a file-size limit (RLIMIT_FSIZE).
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def _write_errors_named(path: str | os.PathLike) -> Iterator[None]:
    """A write that finds no room is one InputError naming the file being written (a bare OSError
    from `write` names no file)."""
    try:
        yield
    except OSError as error:
        if error.errno not in NO_ROOM:
            raise
        raise InputError(path, f"could not be written: {os.strerror(error.errno).lower()}; nothing was replaced") from None


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
