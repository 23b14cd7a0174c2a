"""BM25 retrieval behind one interface: pyserini (Lucene, paper-faithful default) and bm25s (no JVM)."""

from steper.retrieval.corpus import Passage, Retriever, read_corpus
from steper.retrieval.index import BACKENDS, IndexSettings, build_index, open_retriever, read_index_settings

__all__ = ["BACKENDS", "IndexSettings", "Passage", "Retriever", "build_index", "open_retriever",
           "read_corpus", "read_index_settings"]
