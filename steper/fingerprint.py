"""What an input directory holds, as a result file must know it: each file's name, size and sha256.

A result file may only ever hold the lines of one model on one index, and their names
do not say which: a student retrained with another learning rate keeps its name, a rebuilt teacher
or index too. So the resume identity of a run carries this fingerprint of every file of the model
directory (config, tokenizer, weights, `steper_settings.json`) and of the index directory; hidden
files (download caches, temporaries) are not part of either.

Hashing a 16 GB checkpoint takes about half a minute at disk speed, and every shard and evaluation
job would pay it again, so the sum of a file of `CACHED_SIZE` bytes or more is cached in
`<cache>/sha256/`, one small JSON entry per file keyed by its real path, size, mtime, ctime, inode
and device: a file rewritten, even in place with the same size, gets a new mtime or ctime and is
hashed again. The cache lives outside the directories (which may be read-only, and which steper
must not add files to) in `$STEPER_CACHE_DIR`, else `$XDG_CACHE_HOME/steper`, else
`~/.cache/steper`; without a writable cache every run hashes again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from tqdm import tqdm

from steper.io import InputError, write_json

log = logging.getLogger(__name__)

CACHED_SIZE = 1 << 20  # smaller files are hashed every time: cheaper than reading a cache entry
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BLOCK = 1 << 22


def cache_dir() -> Path:
    if os.environ.get("STEPER_CACHE_DIR"):
        return Path(os.environ["STEPER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "steper"


def directory_fingerprint(directory: str | os.PathLike, kind: str = "model") -> dict[str, dict[str, Any]]:
    """{relative path: {"size", "sha256"}} of every non-hidden file under `directory`, sorted by path."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(root, f"is not a {kind} directory")
    files = []
    for parent, subdirs, names in os.walk(root):
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        files += [Path(parent) / name for name in names if not name.startswith(".")]
    if not files:
        raise InputError(root, f"is not a {kind} directory (it holds no files)")
    fingerprint = {}
    for path in sorted(files, key=lambda path: path.relative_to(root).as_posix()):
        if not path.is_file():
            raise InputError(path, f"is not a regular file (a broken link?); a {kind} directory holds files")
        fingerprint[path.relative_to(root).as_posix()] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return fingerprint


def file_sha256(path: Path) -> str:
    """The file's sha256, from the cache when the file has not changed since it was hashed."""
    stat = path.stat()
    if stat.st_size < CACHED_SIZE:
        return _hash(path, stat)
    key = _cache_key(path, stat)
    entry = cache_dir() / "sha256" / f"{hashlib.sha256(key['path'].encode()).hexdigest()[:32]}.json"
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = None
    if isinstance(cached, dict) and all(cached.get(name) == value for name, value in key.items()) and _SHA256.match(str(cached.get("sha256"))):
        return cached["sha256"]
    digest = _hash(path, stat)
    try:
        write_json(entry, key | {"sha256": digest})
    except OSError as error:
        log.warning("cannot cache the sha256 of %s in %s (%s): it is hashed again next time", path, entry, error.strerror)
    return digest


def _cache_key(path: Path, stat: os.stat_result) -> dict[str, Any]:
    return {
        "path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns,
        "inode": stat.st_ino, "device": stat.st_dev,
    }


def _hash(path: Path, stat: os.stat_result) -> str:
    digest = hashlib.sha256()
    large = stat.st_size >= CACHED_SIZE
    if large:
        log.info("hashing %s (%.1f MB) for the resume identity", path, stat.st_size / 1e6)
    with open(path, "rb") as handle, tqdm(total=stat.st_size, unit="B", unit_scale=True, desc=path.name, disable=not large) as bar:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            bar.update(len(block))
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
        raise InputError(path, "changed while it was being hashed; is the model still being written?")
    return digest.hexdigest()
