"""The resume contract of a trace file (teacher shards and evaluation predictions).

A run appends finished questions to `<output>.partial` and renames it to `<output>` when every
question is done. What may be resumed is pinned down so a resume cannot mix runs:
- `<output>.resume.json` holds the hash of everything that decides a line (framework, model,
  framework and generation settings, shard, demonstration text); it is written before the first
  line and stays beside the finished output. A partial or output whose hash differs, or that has
  no such file, is refused with the differing keys named: remove it to start over.
- every kept line must name a question of the records (of this shard), once, and carry the run's
  framework and model; a torn last line (a kill mid-write) is cut off.
- a finished output is never moved away: extending it copies it to the partial, and only the
  final rename replaces it, so a failed model load or a kill leaves it as it was.
- hidden temporary files that a killed atomic write of this output left behind are removed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from steper.io import InputError, read_json, write_json
from steper.settings import config_hash

log = logging.getLogger(__name__)

# What an atomic write of the output or its sidecars leaves when killed: `.<name>.<8 chars>.tmp`.
_SIDECARS = ("", ".partial", ".summary.json", ".settings.json", ".resume.json")


def partial_path(output_path: str | os.PathLike) -> Path:
    """Where a run appends while it is going: not the declared output, so a workflow manager
    does not delete it when the job is killed, and the output only appears once complete."""
    return Path(f"{output_path}.partial")


def resume_path(output_path: str | os.PathLike) -> Path:
    return Path(f"{output_path}.resume.json")


def clean_stale_temporaries(output_path: str | os.PathLike) -> list[Path]:
    """Remove `.tmp` files a killed write of this output (or its sidecars) left; return them."""
    output = Path(output_path)
    if not output.parent.is_dir():
        return []
    pattern = re.compile(r"^\." + re.escape(output.name) + "(" + "|".join(re.escape(s) for s in _SIDECARS) + r")\.[^./]{8}\.tmp$")
    removed = [path for path in output.parent.iterdir() if path.is_file() and pattern.match(path.name)]
    for path in removed:
        log.warning("removing %s, left by a killed write (%d bytes)", path, path.stat().st_size)
        path.unlink()
    return removed


def check_identity(output_path: str | os.PathLike, existing: Path, identity: dict[str, Any]) -> None:
    """Refuse to resume `existing` unless it was written with the same `identity`."""
    path = resume_path(output_path)
    if not path.exists():
        raise InputError(existing, f"has no {path.name} saying which settings wrote it; remove it to start over")
    saved = read_json(path)
    if not isinstance(saved, dict) or saved.get("hash") != config_hash(identity):
        before = saved.get("identity", {}) if isinstance(saved, dict) else {}
        differing = sorted(key for key in set(before) | set(identity) if before.get(key) != identity.get(key))
        raise InputError(existing, f"was written under other settings (differing: {', '.join(differing) or 'unknown'}); remove it to start over")


def write_identity(output_path: str | os.PathLike, identity: dict[str, Any]) -> None:
    write_json(resume_path(output_path), {"hash": config_hash(identity), "identity": identity})


def finished_ids(path: str | os.PathLike, record_ids: set[str], framework: str, model: str) -> set[str]:
    """Ids of the complete lines of an earlier output; a torn last line is cut off the file."""
    path = Path(path)
    ids: set[str] = set()
    keep = 0
    with open(path, "rb") as handle:
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
            for name, expected in (("framework", framework), ("model", model)):
                if line.get(name) != expected:
                    raise InputError(path, f"is {line.get(name)!r}, this run is {expected!r}", line=number, field=name)
            ids.add(qid)
            keep += len(raw)
    size = path.stat().st_size
    if keep != size:
        log.warning("%s: dropping a partial last line (%d bytes)", path, size - keep)
        with open(path, "r+b") as handle:
            handle.truncate(keep)
    return ids


def start_partial(output_path: str | os.PathLike) -> Path:
    """The partial file to append to; a finished output is copied there, never moved."""
    output, partial = Path(output_path), partial_path(output_path)
    if output.exists() and not partial.exists():
        handle, tmp = tempfile.mkstemp(prefix=f".{partial.name}.", suffix=".tmp", dir=partial.parent)
        os.close(handle)
        shutil.copyfile(output, tmp)
        os.replace(tmp, partial)
    return partial
