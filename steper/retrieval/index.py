"""Build and open BM25 indexes; one entry point for both backends.

`index_dir` is the backend's own directory (layout's `index`, which `layout.backend_index` finds in
a dataset's `index_dir`). It is built in a temporary sibling and renamed into place only when
complete, so an interrupted build never looks finished. Its settings file (`layout.SETTINGS_FILE`)
records the backend, k1, b and passage count, which lets `open_retriever` refuse an index of the
wrong backend and lets readers report the BM25 parameters.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steper.io import InputError, atomic_dir, read_json
from steper.layout import SETTINGS_FILE
from steper.retrieval.corpus import Retriever
from steper.settings import from_schema, save_resolved

log = logging.getLogger(__name__)

BACKENDS = ("pyserini", "bm25s")


@dataclass
class IndexSettings:
    k1: float = from_schema("retrieval.k1")
    b: float = from_schema("retrieval.b")
    threads: int = from_schema("retrieval.threads")


_DEFAULT = IndexSettings()


def _check_backend(backend: str, where: str | os.PathLike) -> None:
    if backend not in BACKENDS:
        raise InputError(where, f"unknown retrieval backend {backend!r} (known: {', '.join(BACKENDS)})", field="backend")


def _check_bm25(k1: float, b: float, where: str | os.PathLike) -> None:
    if not k1 >= 0:
        raise InputError(where, f"BM25 k1 must be >= 0, got {k1}", field="k1")
    if not 0 <= b <= 1:
        raise InputError(where, f"BM25 b must be in [0, 1], got {b}", field="b")


def build_index(corpus_path: str | os.PathLike, index_dir: str | os.PathLike, backend: str,
                k1: float = _DEFAULT.k1, b: float = _DEFAULT.b, threads: int = _DEFAULT.threads) -> None:
    """Index `corpus_path` (corpus JSON lines) with `backend` into `index_dir`, replacing it atomically."""
    _check_backend(backend, index_dir)
    _check_bm25(k1, b, index_dir)
    if threads < 1:
        raise InputError(index_dir, f"threads must be >= 1, got {threads}", field="threads")
    index_dir = Path(index_dir)
    settings = IndexSettings(k1=float(k1), b=float(b), threads=int(threads))
    start = time.perf_counter()
    with atomic_dir(index_dir) as tmp:
        if backend == "pyserini":
            from steper.retrieval.lucene_backend import build_lucene_index

            n_docs = build_lucene_index(corpus_path, tmp, settings.threads)
        else:
            from steper.retrieval.bm25s_backend import build_bm25s_index

            n_docs = build_bm25s_index(corpus_path, tmp, settings.k1, settings.b)
        seconds = round(time.perf_counter() - start, 3)
        save_resolved(tmp / SETTINGS_FILE, settings, backend=backend, n_docs=n_docs,
                      corpus=str(corpus_path), seconds=seconds)
    log.info("%s index of %d passages written to %s in %.1f s", backend, n_docs, index_dir, seconds)


def read_index_settings(index_dir: str | os.PathLike) -> dict[str, Any]:
    """The index's settings file; a missing or incomplete index is one clear InputError."""
    index_dir = Path(index_dir)
    path = index_dir / SETTINGS_FILE
    if not index_dir.is_dir():
        raise InputError(index_dir, "index directory does not exist; build it with `steper retrieval index`")
    if not path.is_file():
        raise InputError(path, "is missing: not a finished steper index; rebuild it with `steper retrieval index`")
    data = read_json(path)
    for field in ("backend", "n_docs"):
        if field not in data:
            raise InputError(path, "is missing", field=field)
    return data


def open_retriever(index_dir: str | os.PathLike, backend: str, k1: float = _DEFAULT.k1, b: float = _DEFAULT.b,
                   threads: int = _DEFAULT.threads) -> Retriever:
    """A retriever over the `backend` index in `index_dir`, scoring with BM25(k1, b)."""
    _check_backend(backend, index_dir)
    _check_bm25(k1, b, index_dir)
    info = read_index_settings(index_dir)
    if info["backend"] != backend:
        raise InputError(Path(index_dir) / SETTINGS_FILE, f"index was built by {info['backend']!r}, not {backend!r}", field="backend")
    built = info.get("settings", {})
    if (built.get("k1"), built.get("b")) != (k1, b):
        log.info("index %s was built with k1=%s b=%s; searching with k1=%s b=%s", index_dir, built.get("k1"), built.get("b"), k1, b)
    if backend == "pyserini":
        from steper.retrieval.lucene_backend import LuceneRetriever

        return LuceneRetriever(index_dir, k1, b, threads=threads)
    from steper.retrieval.bm25s_backend import Bm25sRetriever

    return Bm25sRetriever(index_dir, k1, b)
