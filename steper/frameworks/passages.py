"""Which retrieved passages a step adds, what counts as a duplicate, and how a passage is shown.

IRCoT (commaqa/inference/ircot.py, `RetrieveAndResetParagraphsParticipant` with bm25) asks the
retriever for exactly K hits and walks them in rank order: a hit of more than 600 words is
discarded, a hit that closely matches a passage already shown is skipped (`is_duplicate`), and
nothing is added once 15 passages are shown. A
re-found passage therefore uses up one of the K slots: a step adds *at most* K new passages
(`new_passages: ircot`). The other reading (`new_passages: deeper`) searches past the passages
already shown so every step adds K new ones while the cap allows.

Every passage is shown cut to its first `passage_words` words (IRCoT's `para_to_text`, 350 words,
split on single spaces so line breaks inside a passage survive).
"""

from __future__ import annotations

from collections.abc import Sequence

from steper.retrieval import Passage

NEW_PASSAGES = ("ircot", "deeper")
MAX_RETRIEVED_WORDS = 600  # IRCoT discards longer hits ("excessively long")
SIMILAR_PERCENT = 90  # IRCoT's fuzz.ratio threshold (0-100 scale)


def truncate_words(text: str, words: int | None) -> str:
    """The first `words` space-separated words of `text` (IRCoT splits on " ", not on all whitespace)."""
    if words is None:
        return text
    return " ".join(text.split(" ")[:words])


def _lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison-Dix, Hyyrö): bit i of `v` is
    0 where a[i] is matched, and each character of b updates all of them in one integer step."""
    masks: dict[str, int] = {}
    for position, char in enumerate(a):
        masks[char] = masks.get(char, 0) | 1 << position
    full = (1 << len(a)) - 1
    v = full
    for char in b:
        u = v & masks.get(char, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def similar(a: str, b: str) -> bool:
    """rapidfuzz's `fuzz.ratio(a, b) >= 90`, IRCoT's test: the normalised Indel similarity
    2·LCS / (|a| + |b|), compared exactly. (difflib's ratio is not it: its greedy matching blocks
    can miss a longer common subsequence, so it under-reports near-duplicates.)"""
    return 2 * 100 * _lcs_length(a, b) >= SIMILAR_PERCENT * (len(a) + len(b))


def is_duplicate(passage: Passage, shown: Sequence[Passage]) -> bool:
    """IRCoT's `is_para_closely_matching`: the title is a shown passage's and the text a shown
    passage's (each checked on its own, as IRCoT does), or one shown passage has title and text
    both `similar`; a passage already shown under the same id also counts."""
    if any(passage.id == other.id for other in shown):
        return True
    if passage.title in {other.title for other in shown} and passage.text in {other.text for other in shown}:
        return True
    return any(similar(passage.title, other.title) and similar(passage.text, other.text) for other in shown)


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
