"""The JVM-free backend: bm25s with Lucene's BM25 variant and an approximation of its analyzer.

bm25s precomputes every term's BM25 weights at index time, so unlike Lucene its k1 and b are fixed
by the index: opening it with other values is an error rather than a silent mismatch. The corpus
(id, title, text) is saved with the index by bm25s and memory-mapped on load.

We score with `get_scores` and pick the top k ourselves rather than with `retrieve`: bm25s's top-k
selection leaves the order of equal scores to numpy's partition, and drops nothing with score 0;
here equal scores are ordered by id and non-matching passages are never returned (as in Lucene).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from steper.io import InputError, read_json, write_json
from steper.retrieval.analyzer import EnglishAnalyzer, available_stemmer
from steper.retrieval.corpus import Passage, read_corpus

log = logging.getLogger(__name__)

ANALYZER_FILE = "analyzer.json"
IDS_FILE = "doc_ids.npy"


def build_bm25s_index(corpus_path: str | os.PathLike, index_dir: Path, k1: float, b: float) -> int:
    """Index the corpus into `index_dir`; return the number of passages."""
    stemmer = available_stemmer()
    if stemmer is None:
        log.warning("PyStemmer is not installed: bm25s index terms are not stemmed (Lucene's are)")
    analyzer = EnglishAnalyzer(stemmer)
    records: list[dict[str, str]] = []
    tokens: list[list[str]] = []
    for passage in tqdm(read_corpus(corpus_path), desc="bm25s analyze", unit="doc"):
        records.append({"id": passage.id, "title": passage.title, "text": passage.text})
        tokens.append(analyzer(f"{passage.title}\n{passage.text}"))
    model = bm25s.BM25(k1=k1, b=b, method="lucene")
    model.index(tokens, show_progress=True)
    model.save(str(index_dir), corpus=records, show_progress=True)
    write_json(index_dir / ANALYZER_FILE, {"stemmer": stemmer, "stopwords": "lucene-english"})
    np.save(index_dir / IDS_FILE, np.array([record["id"] for record in records]), allow_pickle=False)
    return len(records)


class Bm25sRetriever:
    """BM25 search over an index built by `build_bm25s_index`."""

    def __init__(self, index_dir: str | os.PathLike, k1: float, b: float):
        self.index_dir = Path(index_dir)
        self.model = bm25s.BM25.load(str(self.index_dir), load_corpus=True, mmap=True)
        if not (np.isclose(self.model.k1, k1) and np.isclose(self.model.b, b)):
            raise InputError(
                self.index_dir, f"bm25s index was built with k1={self.model.k1}, b={self.model.b}, not k1={k1}, b={b}: "
                "bm25s fixes k1 and b at index time, so rebuild the index with these values")
        stemmer = read_json(self.index_dir / ANALYZER_FILE)["stemmer"]
        if stemmer is not None and available_stemmer() != stemmer:
            raise InputError(self.index_dir, f"index terms were stemmed with {stemmer!r}; install PyStemmer to query it")
        self.analyzer = EnglishAnalyzer(stemmer)
        self.corpus = self.model.corpus
        self.ids = np.load(self.index_dir / IDS_FILE, allow_pickle=False)
        self.id_order = np.argsort(self.ids, kind="stable")
        self.id_rank = np.empty(len(self.ids), dtype=np.int64)
        self.id_rank[self.id_order] = np.arange(len(self.ids))
        # bm25s keeps the empty token in its vocabulary without a score column; no query may use it
        self.n_terms = len(self.model.scores["indptr"]) - 1

    def _passage(self, row: int, score: float) -> Passage:
        record = self.corpus[int(row)]
        return Passage(record["id"], record["title"], record["text"], float(score))

    def search(self, query: str, k: int) -> list[Passage]:
        term_ids = [i for i in self.model.get_tokens_ids(self.analyzer(query)) if i < self.n_terms]
        if not term_ids or k <= 0:
            return []
        scores = self.model.get_scores_from_ids(term_ids)
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            # every passage scoring at least the k-th best score, ties at the cut included
            kth = np.partition(scores[matching], len(matching) - k)[len(matching) - k]
            matching = matching[scores[matching] >= kth]
        order = np.lexsort((self.id_rank[matching], -scores[matching]))[:k]
        return [self._passage(row, scores[row]) for row in matching[order]]

    def batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        return [self.search(query, k) for query in tqdm(queries, desc="bm25s search", unit="query", disable=len(queries) < 100)]

    def doc(self, doc_id: str) -> Passage:
        position = int(np.searchsorted(self.ids, doc_id, sorter=self.id_order))
        if position < len(self.ids) and self.ids[self.id_order[position]] == doc_id:
            return self._passage(self.id_order[position], 0.0)
        raise KeyError(f"no passage with id {doc_id!r} in {self.index_dir}")
