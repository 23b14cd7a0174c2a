"""The paper-faithful backend: Lucene BM25 through pyserini/Anserini.

Index layout. IRCoT's Elasticsearch index searched title + paragraph text, while our corpus lines
keep the title apart from `contents`. We index a temporary JsonCollection whose `contents` is
"title\\ntext" and which also carries `title` and `text` as plain JSON fields, and ask Anserini to
store the raw JSON. `doc(id)` and every hit then return title and text separately straight from the
index, so the index directory is self-contained and nothing is loaded into Python memory up front
(a sidecar id -> (title, text) map would cost gigabytes for the 5.2M-passage HotpotQA corpus).

Indexing runs Anserini's IndexCollection in a child JVM (the Java >= 21 found by `java.py`), so a
multi-hour build logs its own progress and a Java failure cannot take the Python process down.
Search runs in-process through pyserini's LuceneSearcher with BM25(k1, b) set at query time
(Lucene stores only lengths; k1 and b are applied when scoring).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
from pathlib import Path

from tqdm import tqdm

from steper.retrieval.corpus import Passage, read_corpus, sort_hits
from steper.retrieval.java import anserini_jar, ensure_java, find_java_home

log = logging.getLogger(__name__)

# Anserini rounds scores to 4 decimals and so creates ties; fetching a few extra hits lets
# `sort_hits` order the tied ones by id before cutting to k.
TIE_MARGIN = 10
_TOTAL = re.compile(r"Total ([\d,]+) documents indexed")


def write_collection(corpus_path: str | os.PathLike, collection_dir: Path) -> int:
    """Write the JsonCollection Anserini reads; return the number of passages."""
    count = 0
    with open(collection_dir / "docs.jsonl", "w", encoding="utf-8") as handle:
        for passage in tqdm(read_corpus(corpus_path), desc="lucene collection", unit="doc"):
            line = {"id": passage.id, "contents": f"{passage.title}\n{passage.text}", "title": passage.title, "text": passage.text}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    return count


def run_indexer(collection_dir: Path, index_dir: Path, threads: int) -> int:
    """Run Anserini's IndexCollection (English analyzer: Porter stemming, Lucene stop words); return docs indexed."""
    java = str(Path(find_java_home()) / "bin" / "java")
    command = [java, "-cp", anserini_jar(), "io.anserini.index.IndexCollection",
               "-collection", "JsonCollection", "-input", str(collection_dir), "-index", str(index_dir),
               "-generator", "DefaultLuceneDocumentGenerator", "-threads", str(threads), "-storeRaw"]
    log.info("indexing with Anserini: %s", " ".join(command[3:]))
    output: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            log.log(logging.INFO if "indexed" in line else logging.DEBUG, "anserini: %s", line.rstrip())
    total = next((int(m.group(1).replace(",", "")) for line in output if (m := _TOTAL.search(line))), None)
    if process.returncode != 0 or total is None:
        tail = "\n".join(output[-20:])
        raise RuntimeError(f"Anserini indexing failed (exit {process.returncode}):\n{tail}")
    return total


def build_lucene_index(corpus_path: str | os.PathLike, index_dir: Path, threads: int) -> int:
    """Index the corpus into `index_dir` (a fresh directory); return the number of passages."""
    with tempfile.TemporaryDirectory(prefix=".collection.", dir=index_dir.parent) as tmp:
        n_docs = write_collection(corpus_path, Path(tmp))
        indexed = run_indexer(Path(tmp), index_dir, threads)
    if indexed != n_docs:
        raise RuntimeError(f"Anserini indexed {indexed} of {n_docs} passages from {corpus_path}")
    return n_docs


class LuceneRetriever:
    """BM25 search over a Lucene index built by `build_lucene_index`."""

    def __init__(self, index_dir: str | os.PathLike, k1: float, b: float, threads: int = 2):
        ensure_java()
        from pyserini.search.lucene import LuceneSearcher

        self.index_dir = str(index_dir)
        self.threads = threads
        self.searcher = LuceneSearcher(self.index_dir)
        self.searcher.set_bm25(float(k1), float(b))

    @staticmethod
    def _passage(raw: str, score: float) -> Passage:
        data = json.loads(raw)
        return Passage(data["id"], data["title"], data["text"], float(score))

    def _hits(self, hits, k: int) -> list[Passage]:
        return sort_hits([self._passage(hit.lucene_document.get("raw"), hit.score) for hit in hits], k)

    def search(self, query: str, k: int) -> list[Passage]:
        return self._hits(self.searcher.search(query, k + TIE_MARGIN), k)

    def batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        qids = [str(number) for number in range(len(queries))]
        results = self.searcher.batch_search(queries, qids, k=k + TIE_MARGIN, threads=self.threads)
        return [self._hits(results.get(qid, []), k) for qid in qids]

    def doc(self, doc_id: str) -> Passage:
        document = self.searcher.doc(str(doc_id))
        if document is None:
            raise KeyError(f"no passage with id {doc_id!r} in {self.index_dir}")
        return self._passage(document.raw(), 0.0)
