"""IRCoT's rule for which retrieved passages a step adds (steper.frameworks.passages), case by case.

What counts as a duplicate is IRCoT's `is_para_closely_matching` (commaqa/inference/ircot.py): the
title is among the shown titles and the text among the shown texts, or one shown passage has both
title and text at least 90% similar by rapidfuzz's `fuzz.ratio`, the normalised Indel similarity
2·LCS / (|a| + |b|).
"""

from __future__ import annotations

import random

import pytest

from steper.frameworks.passages import MAX_RETRIEVED_WORDS, _lcs_length, is_duplicate, new_passages, search_depth, similar, truncate_words
from steper.retrieval import Passage

DIRECTOR = Passage("v1", "Brennan Vale", "Brennan Vale is a film director from Port Ellery.")
FOOTBALLER = Passage("v2", "Brennan Vale", "Brennan Vale (born 1988) is a footballer who plays as a defender.")
ORCHARD = Passage("o1", "The Hollow Orchard", "The Hollow Orchard is a 1998 drama film.")


def lcs_ratio(a: str, b: str) -> float:
    """2·LCS / (|a| + |b|) by the textbook dynamic programme, to check the fast one against."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return 1.0 if not a and not b else 2 * previous[-1] / (len(a) + len(b))


@pytest.mark.parametrize(
    "a, b",
    [
        ("Brennan Vale is a film director from Port Ellery.", "Brennan Vale film a is director from Port Ellery."),
        ("abaabababbbbaaaababa", "abaaabbabbbaaaababa"),
        ("Ada Finch!", "Ada Finch?"),
        ("Ada Finch", "Ada Fin"),
        ("", ""),
        ("x", ""),
        ("Quiet Harbor", "Harbor Quiet"),
    ],
)
def test_similarity_is_rapidfuzz_ratio_not_difflib(a, b):
    assert similar(a, b) == (lcs_ratio(a, b) >= 0.9)
    assert similar(b, a) == similar(a, b)


def test_lcs_length_is_the_longest_common_subsequence():
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("abd ") for _ in range(rng.randint(0, 12)))
        assert _lcs_length(a, b) == round(lcs_ratio(a, b) * (len(a) + len(b)) / 2), (a, b)


def test_a_reordered_text_is_a_near_duplicate_as_in_ircot():
    # fuzz.ratio 91.8; difflib's greedy matching blocks find only 89.8
    reordered = Passage("v3", "Brennan Vale", "Brennan Vale film a is director from Port Ellery.")
    assert is_duplicate(reordered, [DIRECTOR])


def test_ninety_percent_exactly_is_similar():
    # 2 * 9 / (10 + 10) = 0.9 exactly; 2 * 8 / (9 + 10) < 0.9
    assert similar("Ada Finch!", "Ada Finch?")
    assert not similar("Ada Fin h", "Ada Finch?")
    assert not similar("Ada Finch wrote Harbor Lights", "Ada Fench wrote Harbar Lightx")  # 2 * 26 / 58 = 89.7%
    text = "Ada Finch wrote Harbor Lights."
    assert is_duplicate(Passage("f2", "Ada Finch!", text), [Passage("f1", "Ada Finch?", text)])
    assert not is_duplicate(Passage("f2", "Ada Fin h", text), [Passage("f1", "Ada Finch?", text)])


def test_one_title_two_texts_are_two_passages():
    assert not is_duplicate(FOOTBALLER, [DIRECTOR])
    assert [p.id for p in new_passages([DIRECTOR, FOOTBALLER], [], 2, 15, "ircot")] == ["v1", "v2"]


def test_similar_text_under_another_title_is_not_a_duplicate():
    assert not is_duplicate(Passage("x", "Vale of York", DIRECTOR.text), [DIRECTOR])


def test_shown_title_and_shown_text_from_two_passages_is_a_duplicate():
    # IRCoT checks `new_title in existing_titles and new_para in existing_paras`, each on its own
    mixed = Passage("x", ORCHARD.title, DIRECTOR.text)
    assert is_duplicate(mixed, [DIRECTOR, ORCHARD])
    assert not is_duplicate(mixed, [ORCHARD])


def test_the_same_id_is_a_duplicate_whatever_its_text():
    assert is_duplicate(Passage("v1", "Other", "Other text entirely."), [DIRECTOR])
    assert not is_duplicate(DIRECTOR, [])


def test_ircot_rule_walks_exactly_k_hits():
    long = Passage("long", "Orchard Films", " ".join(["word"] * (MAX_RETRIEVED_WORDS + 1)))
    limit = Passage("limit", "Orchard Films", " ".join(["word"] * MAX_RETRIEVED_WORDS))
    hits = [DIRECTOR, long, FOOTBALLER, ORCHARD]
    assert [p.id for p in new_passages(hits, [], 2, 15, "ircot")] == ["v1"]  # the long hit used a slot
    assert [p.id for p in new_passages(hits, [], 3, 15, "ircot")] == ["v1", "v2"]
    assert [p.id for p in new_passages(hits, [], 2, 15, "deeper")] == ["v1", "long"]  # deeper keeps long hits
    assert [p.id for p in new_passages([limit], [], 1, 15, "ircot")] == ["limit"]  # 600 words are not too many
    assert [p.id for p in new_passages(hits, [DIRECTOR], 2, 15, "deeper")] == ["long", "v2"]
    assert [p.id for p in new_passages(hits, [DIRECTOR], 3, 2, "ircot")] == ["v2"]  # the cap counts shown passages
    assert new_passages(hits, [DIRECTOR, ORCHARD], 3, 2, "deeper") == []
    assert (search_depth("ircot", 4, 7), search_depth("deeper", 4, 7)) == (4, 11)


def test_long_passages_count_words_on_single_spaces():
    # IRCoT splits on " ": a line break does not separate words, a double space makes an empty one
    text = "\n".join(["w"] * (MAX_RETRIEVED_WORDS + 5))
    assert [p.id for p in new_passages([Passage("n", "N", text)], [], 1, 15, "ircot")] == ["n"]
    spaced = "  ".join(["w"] * 301)  # 301 words and 300 empty ones: 601
    assert new_passages([Passage("s", "S", spaced)], [], 1, 15, "ircot") == []


def test_truncate_words():
    assert truncate_words("a b\nc  d e", 3) == "a b\nc "
    assert truncate_words("a b", None) == "a b"
    assert truncate_words("a b", 5) == "a b"
