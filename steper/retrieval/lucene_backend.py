"""The paper-faithful backend: Lucene BM25 through pyserini/Anserini.

Index layout. IRCoT's Elasticsearch index searched title + paragraph text, while our corpus lines
keep the title apart from `contents`. We index a temporary JsonCollection whose `contents` is
"title\\ntext" and ask Anserini to store the raw JSON; titles never hold a newline (the corpus
reader rejects them), so splitting at the first newline gives title and text back exactly.
`doc(id)` and every hit then come straight from the index: the directory is self-contained and
nothing is loaded into Python memory up front (a sidecar id -> (title, text) map would cost
gigabytes for the 5.2M-passage HotpotQA corpus), and each passage is stored once.

Indexing runs Anserini's IndexCollection in a child JVM (the Java >= 21 found by `java.py`), so a
multi-hour build logs its own progress and a Java failure cannot take the Python process down.
Search runs in-process on Anserini's SimpleSearcher, the Java object that pyserini's
LuceneSearcher wraps call for call (search, batch_search with threads, doc, set_bm25). We call it
through pyjnius directly because importing `pyserini.search.lucene` also imports torch,
transformers and scikit-learn for its dense encoders: ~20 s on a loaded 2-core machine, against
~2 s to start the JVM.
BM25(k1, b) is set at query time (Lucene stores only lengths; k1 and b are applied when scoring).
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

# Anserini rounds scores to 4 decimals and separates the resulting ties by 1e-6 steps in id order,
# but Lucene chose which tied passages reach the top k by internal doc number, which depends on
# indexing threads. Fetching a few extra hits and letting `sort_hits` cut to k makes the cut
# follow ids too (unless more than TIE_MARGIN passages tie at the cut).
TIE_MARGIN = 10
SHARD_SIZE = 50_000
_TOTAL = re.compile(r"Total ([\d,]+) documents indexed")


def write_collection(corpus_path: str | os.PathLike, collection_dir: Path) -> int:
    """Write the JsonCollection Anserini reads, in files of SHARD_SIZE passages; return the passage count.

    Anserini gives each input file to one thread, so a single file would index on one core and
    report no progress until the end.
    """
    count = 0
    handle = None
    try:
        for passage in tqdm(read_corpus(corpus_path), desc="lucene collection", unit="doc"):
            if count % SHARD_SIZE == 0:
                if handle:
                    handle.close()
                handle = open(collection_dir / f"docs{count // SHARD_SIZE:05d}.jsonl", "w", encoding="utf-8")
            line = {"id": passage.id, "contents": f"{passage.title}\n{passage.text}"}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if handle:
            handle.close()
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
        from jnius import autoclass

        self.index_dir = str(index_dir)
        self.threads = threads
        self._array_list = autoclass("java.util.ArrayList")
        self.searcher = autoclass("io.anserini.search.SimpleSearcher")(self.index_dir)
        self.searcher.set_bm25(float(k1), float(b))

    def _java_list(self, items: list[str]):
        array = self._array_list()
        for item in items:
            array.add(item)
        return array

    @staticmethod
    def _passage(raw: str, score: float) -> Passage:
        data = json.loads(raw)
        title, text = data["contents"].split("\n", 1)
        return Passage(data["id"], title, text, float(score))

    def _hits(self, hits, k: int) -> list[Passage]:
        # order and cut on (score, id) first: each raw-document fetch is a JNI round trip
        ranked = sort_hits([Passage(hit.docid, "", "", float(hit.score)) for hit in hits], k)
        documents = {hit.docid: hit.lucene_document for hit in hits}
        return [self._passage(documents[hit.id].get("raw"), hit.score) for hit in ranked]

    def search(self, query: str, k: int) -> list[Passage]:
        return self._hits(self.searcher.search(query, k + TIE_MARGIN), k)

    def batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        if not queries:
            return []
        qids = [str(number) for number in range(len(queries))]
        results = self.searcher.batch_search(self._java_list(queries), self._java_list(qids), k + TIE_MARGIN, self.threads)
        by_qid = {entry.getKey(): entry.getValue() for entry in results.entrySet().toArray()}
        return [self._hits(by_qid.get(qid, []), k) for qid in qids]

    def doc(self, doc_id: str) -> Passage:
        document = self.searcher.doc(str(doc_id))
        if document is None:
            raise KeyError(f"no passage with id {doc_id!r} in {self.index_dir}")
        return self._passage(document.get("raw"), 0.0)
