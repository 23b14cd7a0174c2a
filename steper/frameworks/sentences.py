"""Abbreviation-aware sentence boundaries for chain-of-thought steps.

IRCoT keeps only the first sentence of each generation, and the next retrieval query is that
sentence, so a split at "J." in "J. R. R. Tolkien" would both truncate the reasoning and send a
useless query. A full stop ends a sentence only when it is not part of an abbreviation, an initial,
a dotted acronym or a number, and (while text is still streaming in) only once the next
non-space character shows that a new sentence starts.
"""

from __future__ import annotations

# Lower-cased tokens (without their final full stop) that do not end a sentence.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr st jr sr prof gen col lt capt sgt maj adm cmdr rev gov sen rep pres hon fr mt ft
    vol vols pp ed eds est approx dept univ inc ltd co corp bros assn vs al cf ca
    jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m
    """.split()
)
_ENDERS = ".!?"
_CLOSERS = "\"')]”’"
ANSWER_MARKER = "answer is"


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the full stop at `dot` belongs to the word before it rather than ending a sentence."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"'“‘":
        start -= 1
    word = text[start:dot]
    if not word:
        return False
    if dot + 1 < len(text) and text[dot + 1].isdigit() and word[-1].isdigit():
        return True  # decimal number such as 3.5
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. R. R. Tolkien"
    if "." in word and all(len(part) <= 2 for part in word.split(".")):
        return True  # dotted acronym: "U.S.", "e.g."
    return word.lower() in ABBREVIATIONS


def _boundary(text: str, start: int, final: bool, strict: bool) -> int | None:
    """Index just after the first sentence of text[start:], or None while it may still grow.

    `final` says the text is complete, so its end also ends a sentence. `strict` requires a
    capital (or digit, quote, bracket) after the gap; answer sentences relax it because what
    follows them ends the step anyway.
    """
    i = start
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            return i
        if char in _ENDERS and not (char == "." and _is_abbreviation(text, i)):
            end = i + 1
            while end < n and text[end] in _CLOSERS:
                end += 1
            gap = end
            while gap < n and text[gap] in " \t":
                gap += 1
            if gap == n:
                if final:
                    return end
                i += 1
                continue
            if text[gap] == "\n":
                return end
            if gap > end and (not strict or text[gap].isupper() or text[gap].isdigit() or text[gap] in "\"'(“‘["):
                return end
        i += 1
    return None


def _skip_space(text: str) -> int:
    return len(text) - len(text.lstrip())


def answer_end(text: str, final: bool = False) -> int | None:
    """End of the sentence that states the answer (the first "answer is"), or None."""
    marker = text.find(ANSWER_MARKER)
    if marker < 0:
        return None
    return _boundary(text, marker + len(ANSWER_MARKER), final=final, strict=False)


def step_end(text: str) -> int | None:
    """Cut position once `text` holds a complete first sentence (for early stopping), else None."""
    start = _skip_space(text)
    end = _boundary(text, start, final=False, strict=True)
    marker = text.find(ANSWER_MARKER, start)
    if marker >= 0 and (end is None or marker < end):
        return answer_end(text)
    return end


def first_sentence(text: str) -> str:
    """The first sentence of a finished generation, without surrounding whitespace."""
    start = _skip_space(text)
    end = _boundary(text, start, final=True, strict=True)
    marker = text.find(ANSWER_MARKER, start)
    if marker >= 0 and (end is None or marker < end):
        end = answer_end(text, final=True)
    return text[start:end].strip() if end is not None else text.strip()
