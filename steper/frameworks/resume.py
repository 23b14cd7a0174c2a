"""The resume contract of a trace file (teacher shards and evaluation predictions).

A run appends finished questions to `<output>.partial` and renames it to `<output>` when every
question is done. A result file holds the lines of one run, and what may be resumed is pinned down
so that a resume can never mix runs:
- a run's identity is everything that decides a line: framework, model name and the fingerprint of
  the model's files (`steper.fingerprint`), that of the index's files, the records (of this shard),
  the framework and generation settings, the shard, the demonstration text.
- `<output>.resume.json` holds two identities: `run`, that of the lines in the partial (or in the
  output when there is no partial), and `output`, that of the output's lines while a partial
  exists. Every step that changes these files keeps the record true, so a kill at any instant
  leaves files whose identity is known.
- a partial of another identity is discarded and its lines never merged: the run starts over and
  the log names what changed (model, records, settings, demonstrations). A finished output of
  another identity stays as it is until the new run's output replaces it.
- a partial continues a finished output of the same identity only if it holds every question the
  output has (a killed extension of it); a stale partial is discarded and the output extended
  instead, so a finished question is never lost.
- a partial or output without `<output>.resume.json` was not written by a run: it is refused.
- every kept line must name a question of the records (of this shard), once, and be a whole trace
  line of the run (see `finished_ids`); a torn last line (a kill mid-write) is cut off.
- one writer per output: a run holds an exclusive lock on `<output>.lock` from start to end, and a
  second run on the same output fails at once.
- the partial and the output are never opened through a symbolic link.
- hidden temporary files that a killed atomic write of this output left behind are removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steper import layout
from steper.io import InputError, read_json, write_json
from steper.settings import config_hash

log = logging.getLogger(__name__)

# What an atomic write of the output or its sidecars leaves when killed: `.<name>.<8 chars>.tmp`.
_SIDECARS = ("", ".partial", layout.SUMMARY_SUFFIX, layout.SETTINGS_SUFFIX, layout.RESUME_SUFFIX)
# How the keys of an identity are named when they change.
_KINDS = {"model": "model", "model_files": "model", "index_files": "index", "records": "records", "demonstrations": "demonstrations"}
_FILES = ("model_files", "index_files")

# A line's problem: (field, what is wrong with it), or None for a good line.
LineCheck = Callable[[dict[str, Any]], "tuple[str, str] | None"]


def partial_path(output_path: str | os.PathLike) -> Path:
    """Where a run appends while it is going: not the declared output, so a workflow manager
    does not delete it when the job is killed, and the output only appears once complete."""
    return Path(f"{output_path}.partial")


def resume_path(output_path: str | os.PathLike) -> Path:
    return Path(layout.resume_sidecar(output_path))


def lock_path(output_path: str | os.PathLike) -> Path:
    return Path(f"{output_path}.lock")


def records_digest(records: list[dict[str, Any]]) -> str:
    """The sha256 of the records a run answers (those of its shard), as parsed: the same questions
    and answers give the same digest whatever the file's formatting."""
    blob = "\n".join(json.dumps(record, sort_keys=True, ensure_ascii=False) for record in records)
    return hashlib.sha256(blob.encode()).hexdigest()


@contextlib.contextmanager
def exclusive_writer(output_path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive `flock` on `<output>.lock` for the block; fail at once if another process holds it.

    The lock file holds the holder's pid, for the second writer's message, and is removed on exit;
    a process that took the lock of a file removed meanwhile takes it again on the new file. A killed
    holder's lock is released by the kernel, so a stale lock file never blocks a rerun.
    """
    path = lock_path(output_path)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise InputError(path, "is a symbolic link; refusing to follow it") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise InputError(path, "is not a regular file; refusing to use it as a lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder.isdigit() else "process"
            raise InputError(output_path, f"is being written by another steper {who} (it holds {path.name}); wait for it to end or stop it") from None
        try:
            current = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def clean_stale_temporaries(output_path: str | os.PathLike) -> list[Path]:
    """Remove `.tmp` files a killed write of this output (or its sidecars) left; return them.

    Call it holding the output's lock: another writer's temporaries are not stale."""
    output = Path(output_path)
    if not output.parent.is_dir():
        return []
    pattern = re.compile(r"^\." + re.escape(output.name) + "(" + "|".join(re.escape(s) for s in _SIDECARS) + r")\.[^./]{8}\.tmp$")
    removed = [path for path in output.parent.iterdir() if path.is_file() and pattern.match(path.name)]
    for path in removed:
        log.warning("removing %s, left by a killed write (%d bytes)", path, path.stat().st_size)
        path.unlink()
    return removed


@dataclass
class _Saved:
    """`<output>.resume.json`: identity records ({"hash", "identity"}), None where unknown."""

    run: dict[str, Any] | None
    output: dict[str, Any] | None


def _read_saved(output: Path) -> _Saved | None:
    path = resume_path(output)
    if not path.exists():
        return None
    saved = read_json(path)
    if not isinstance(saved, dict):
        raise InputError(path, "is not a resume record (a JSON object)")
    if "hash" in saved:  # an older record: one identity for the partial and the output alike
        record = {"hash": saved["hash"], "identity": saved.get("identity")}
        return _Saved(record, record)
    records = [saved.get("run"), saved.get("output")]
    return _Saved(*(record if isinstance(record, dict) and "hash" in record else None for record in records))


def _write_saved(output: Path, run: dict[str, Any] | None, finished: dict[str, Any] | None) -> None:
    write_json(resume_path(output), {"run": run, "output": finished})


def output_identity(output_path: str | os.PathLike) -> dict[str, Any] | None:
    """The identity record of the lines in `output_path` ({"hash", "identity"}), None when no run vouches for them."""
    output = Path(output_path)
    saved = _read_saved(output)
    if saved is None:
        return None
    return saved.output if partial_path(output).exists() else saved.run


def identity_record(identity: dict[str, Any]) -> dict[str, Any]:
    return {"hash": config_hash(identity), "identity": identity}


def what_changed(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """The kinds of input that differ (model, records, settings, demonstrations), each with its keys."""
    if not isinstance(before, dict):
        return "unknown (no identity recorded)"
    kinds: dict[str, list[str]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        kind = _KINDS.get(key, "settings")
        if isinstance(old, dict) and isinstance(new, dict):
            names = [name if key in _FILES else f"{key}.{name}" for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
        else:
            names = [] if key in (kind, *_FILES) else ["name" if key == "model" else key]
        kinds.setdefault(kind, []).extend(names)
    return "; ".join(f"{kind} ({', '.join(names)})" if names else kind for kind, names in kinds.items()) or "unknown"


def _refuse_special(*paths: Path) -> None:
    """A symbolic link, directory, FIFO or device where a trace file belongs is refused, not opened."""
    for path in paths:
        if path.is_symlink():
            raise InputError(path, "is a symbolic link; refusing to follow it (remove it to start over)")
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise InputError(path, "is not a regular file; refusing to open it (remove it to start over)")


def _open_nofollow(path: Path, flags: int, mode: str):
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InputError(path, "is a symbolic link; refusing to follow it (remove it to start over)") from None
        raise
    return os.fdopen(fd, mode)


def finished_ids(path: str | os.PathLike, record_ids: set[str], check: LineCheck) -> set[str]:
    """Ids of the complete lines of an earlier output; a torn last line is cut off the file.

    Every complete line must be a JSON object naming a question of `record_ids` once and pass
    `check` (the runner's: every field of a trace line, of this framework and model), so a line
    the summary cannot read is refused here, before anything is renamed.
    """
    path = Path(path)
    ids: set[str] = set()
    keep = 0
    with _open_nofollow(path, os.O_RDWR, "r+b") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                line = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(path, "malformed JSON in an earlier output; remove the file to start over", line=number) from None
            if not isinstance(line, dict) or "id" not in line:
                raise InputError(path, "is missing in an earlier output", line=number, field="id")
            qid = str(line["id"])
            if qid in ids:
                raise InputError(path, f"question {qid} is written twice; remove the file to start over", line=number, field="id")
            if qid not in record_ids:
                raise InputError(path, f"question {qid} is not in the records; remove the file to start over", line=number, field="id")
            problem = check(line)
            if problem is not None:
                raise InputError(path, f"{problem[1]} in an earlier output; remove the file to start over", line=number, field=problem[0])
            ids.add(qid)
            keep += len(raw)
        size = os.fstat(handle.fileno()).st_size
        if keep != size:
            log.warning("%s: dropping a partial last line (%d bytes)", path, size - keep)
            handle.truncate(keep)
    return ids


def _count_lines(path: Path) -> int:
    with _open_nofollow(path, os.O_RDONLY, "rb") as handle:
        return sum(1 for _ in handle)


@dataclass
class Resume:
    """What a run finds beside its output, and how it goes on: see the module docstring."""

    output: Path
    current: dict[str, Any]  # this run's identity record
    finished: dict[str, Any] | None  # the identity record of the output's lines (None: no output, or unknown)
    keep_partial: bool
    keep_output: bool
    done: set[str]

    @property
    def partial(self) -> Path:
        return partial_path(self.output)

    @property
    def complete(self) -> bool:
        """The output is this run's and there is no partial to finish: nothing to write."""
        return self.keep_output and not self.partial.exists()

    def start(self) -> Path:
        """The partial to append to, with this run's identity recorded; each step leaves every file's identity known."""
        partial = self.partial
        if not self.keep_partial:
            # the record must be true at every instant: disown the partial, remove it, record the
            # output alone, and only then make the partial anew
            if partial.exists():
                _write_saved(self.output, None, self.finished)
                partial.unlink()
            _write_saved(self.output, self.finished, self.finished)
            if self.keep_output:
                handle, tmp = tempfile.mkstemp(prefix=f".{partial.name}.", suffix=".tmp", dir=partial.parent)
                os.close(handle)
                shutil.copyfile(self.output, tmp)
                os.chmod(tmp, 0o644)
                os.replace(tmp, partial)
            else:
                _open_nofollow(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "wb").close()
        _write_saved(self.output, self.current, self.finished)
        return partial

    def append(self):
        """The partial opened for appending (never through a symbolic link)."""
        return _open_nofollow(self.partial, os.O_WRONLY | os.O_APPEND, "a")

    def finish(self) -> None:
        os.replace(self.partial, self.output)
        _write_saved(self.output, self.current, self.current)


def plan_resume(output_path: str | os.PathLike, identity: dict[str, Any], record_ids: set[str], check: LineCheck) -> Resume:
    """Decide, from the files beside the output, which finished questions this run keeps.

    Nothing is written here but the cut of a torn last line; `Resume.start` makes the changes, once
    the model has loaded, so a failed load leaves every file as it was.
    """
    output, partial = Path(output_path), partial_path(output_path)
    _refuse_special(output, partial)
    saved = _read_saved(output)
    if saved is None:
        for path in (partial, output):
            if path.exists():
                raise InputError(path, f"has no {resume_path(output).name} saying which run wrote it; remove it to start over")
        saved = _Saved(None, None)
    current = identity_record(identity)
    partial_record = saved.run if partial.exists() else None
    finished = (saved.output if partial.exists() else saved.run) if output.exists() else None
    keep_partial = partial.exists() and partial_record is not None and partial_record["hash"] == current["hash"]
    keep_output = output.exists() and finished is not None and finished["hash"] == current["hash"]
    changed = []
    if partial.exists() and not keep_partial:
        what = what_changed((partial_record or {}).get("identity"), identity)
        changed.append(f"{partial} ({_count_lines(partial)} lines, discarded, never merged) was written by another run, changed: {what}")
    if output.exists() and not keep_output:
        what = what_changed((finished or {}).get("identity"), identity)
        changed.append(f"{output} (kept until this run replaces it) was written by another run, changed: {what}")
    partial_ids = finished_ids(partial, record_ids, check) if keep_partial else None
    output_ids = finished_ids(output, record_ids, check) if keep_output else None
    if partial_ids is not None and output_ids is not None and not partial_ids >= output_ids:
        log.warning(
            "%s is stale: it lacks %d of the questions the finished %s has; discarding it and extending %s",
            partial, len(output_ids - partial_ids), output.name, output.name,
        )
        keep_partial, partial_ids = False, None
    done = partial_ids if partial_ids is not None else output_ids if output_ids is not None else set()
    if changed:
        start = f"the {len(done)} finished questions of {output.name}" if done else "zero"
        log.warning("%s; starting over from %s", "; ".join(changed), start)
    return Resume(output, current, finished if output.exists() else None, keep_partial, keep_output, done)
