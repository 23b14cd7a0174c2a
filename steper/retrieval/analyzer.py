"""A pure-Python approximation of Lucene's English analyzer, for the bm25s backend.

pyserini indexes with Anserini's default English analyzer: StandardTokenizer, possessive removal,
lower-casing, Lucene's 33 English stop words and the Porter stemmer. Using the same steps for bm25s
keeps the two backends' rankings close (see benchmarks/retrieval_agreement.py), so the cheap
backend is a fair stand-in when no JVM is available.

The Porter stemmer comes from PyStemmer when it is installed; without it tokens stay unstemmed,
and the index records `stemmer: null` so a mismatch between index and query time is caught.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable

from bm25s.stopwords import STOPWORDS_EN

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET; bm25s ships the identical list.
LUCENE_STOPWORDS = frozenset(STOPWORDS_EN)

# Unicode word segmentation (UAX #29), as Lucene's StandardTokenizer implements it, closely enough:
# word characters joined by inner apostrophes or periods stay one token ("o'neil", "3.5", "u.s"),
# so do digits joined by commas ("1,000"); each Han or Hiragana character is a token of its own.
_IDEOGRAPHS = "\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = rf"[^\W{_IDEOGRAPHS}]"
_TOKEN = re.compile(rf"[{_IDEOGRAPHS}]|{_WORD}+(?:(?:['’.]|(?<=\d)[,;](?=\d)){_WORD}+)*")
_POSSESSIVES = ("'s", "’s")


def available_stemmer() -> str | None:
    """Name of the stemmer this machine can apply ("porter" with PyStemmer), or None."""
    return "porter" if importlib.util.find_spec("Stemmer") is not None else None


def make_stemmer(name: str | None) -> Callable[[str], str] | None:
    if name is None:
        return None
    import Stemmer

    return Stemmer.Stemmer(name).stemWord


class EnglishAnalyzer:
    """Text -> index terms; index and queries must be analyzed with the same stemmer."""

    def __init__(self, stemmer: str | None):
        self.stemmer = stemmer
        self._stem = make_stemmer(stemmer)

    def __call__(self, text: str) -> list[str]:
        terms = []
        for token in _TOKEN.findall(text.lower()):
            if token.endswith(_POSSESSIVES):
                token = token[:-2]
            if not token or token in LUCENE_STOPWORDS:
                continue
            term = self._stem(token) if self._stem else token
            if term:  # the stemmer maps a lone "s" to nothing
                terms.append(term)
        return terms
