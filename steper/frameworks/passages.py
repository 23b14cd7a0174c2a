"""Which retrieved passages a step adds, what counts as a duplicate, and how a passage is shown.

IRCoT (commaqa/inference/ircot.py, `RetrieveAndResetParagraphsParticipant` with bm25) asks the
retriever for exactly K hits and walks them in rank order: a hit of more than 600 words is
discarded, a hit that closely matches a passage already shown (same title and text, or title and
text each at least 90% similar) is skipped, and nothing is added once 15 passages are shown. A
re-found passage therefore uses up one of the K slots: a step adds *at most* K new passages
(`new_passages: ircot`). The other reading (`new_passages: deeper`) searches past the passages
already shown so every step adds K new ones while the cap allows.

Every passage is shown cut to its first `passage_words` words (IRCoT's `para_to_text`, 350 words,
split on single spaces so line breaks inside a passage survive).
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from steper.retrieval import Passage

NEW_PASSAGES = ("ircot", "deeper")
MAX_RETRIEVED_WORDS = 600  # IRCoT discards longer hits ("excessively long")
SIMILAR = 0.9  # IRCoT's fuzz.ratio threshold of 90 (0-100 scale)


def truncate_words(text: str, words: int | None) -> str:
    """The first `words` space-separated words of `text` (IRCoT splits on " ", not on all whitespace)."""
    if words is None:
        return text
    return " ".join(text.split(" ")[:words])


def _ratio(a: str, b: str) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < SIMILAR or matcher.quick_ratio() < SIMILAR:
        return 0.0
    return matcher.ratio()


def is_duplicate(passage: Passage, shown: Sequence[Passage]) -> bool:
    """IRCoT's `is_para_closely_matching`: the same id or title+text, or both at least 90% similar."""
    for other in shown:
        if passage.id == other.id or (passage.title == other.title and passage.text == other.text):
            return True
        if _ratio(passage.title, other.title) >= SIMILAR and _ratio(passage.text, other.text) >= SIMILAR:
            return True
    return False


def search_depth(rule: str, top_k: int, shown: int) -> int:
    """How many hits to ask for: K (IRCoT) or K plus what is already shown (`deeper`)."""
    return top_k if rule == "ircot" else top_k + shown


def new_passages(found: Sequence[Passage], shown: Sequence[Passage], top_k: int, max_passages: int, rule: str) -> list[Passage]:
    """The passages a step adds to `shown`, in rank order."""
    added: list[Passage] = []
    hits = found[:top_k] if rule == "ircot" else found
    for passage in hits:
        if len(shown) + len(added) >= max_passages or (rule == "deeper" and len(added) >= top_k):
            break
        if rule == "ircot" and len(passage.text.split(" ")) > MAX_RETRIEVED_WORDS:
            continue
        if not is_duplicate(passage, [*shown, *added]):
            added.append(passage)
    return added
