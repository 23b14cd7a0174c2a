"""Answer metrics of the official HotpotQA evaluator (hotpot_evaluate_v1.py), plus StepER's Acc.

Shared by the frameworks (each trace line records its scores), the distillation filter and the
evaluation stage. Every score is the maximum over the gold answer and its aliases.

Acc (the reported accuracy of this line of work) counts the normalised gold answer as found when
it is a substring of the normalised prediction, so gold "no" is found in "norway" and gold "1" in
"1990". That convention stays for the tables; `acc_tokens` is the same containment on whole
tokens (the gold's tokens occur as a contiguous run of the prediction's tokens), which the trace
filter uses so that a wrong teacher answer is not distilled because it happens to contain the gold
answer's characters.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
_SPECIAL = {"yes", "no", "noanswer"}


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (the official order)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    # yes/no/noanswer only count when matched exactly, as in the official script.
    if (pred in _SPECIAL or ref in _SPECIAL) and pred != ref:
        return 0.0
    pred_tokens, ref_tokens = pred.split(), ref.split()
    common = Counter(pred_tokens) & Counter(ref_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


def accuracy(prediction: str, gold: str) -> float:
    """StepER's Acc: the normalised gold answer occurs in the normalised prediction."""
    ref = normalize_answer(gold)
    if not ref:
        return 0.0
    return float(ref in normalize_answer(prediction))


def token_accuracy(prediction: str, gold: str) -> float:
    """Acc on whole tokens: the normalised gold tokens occur, contiguous and in order, in the prediction's."""
    ref = normalize_answer(gold).split()
    pred = normalize_answer(prediction).split()
    if not ref:
        return 0.0
    return float(any(pred[start : start + len(ref)] == ref for start in range(len(pred) - len(ref) + 1)))


@dataclass(frozen=True)
class Scores:
    em: float
    f1: float
    acc: float
    acc_tokens: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def score(prediction: str | None, answers: Sequence[str]) -> Scores:
    """Best EM, F1, Acc and whole-token Acc of `prediction` over every gold answer; a missing prediction scores 0."""
    if prediction is None or not answers:
        return Scores(0.0, 0.0, 0.0, 0.0)
    return Scores(
        em=max(exact_match(prediction, gold) for gold in answers),
        f1=max(f1_score(prediction, gold) for gold in answers),
        acc=max(accuracy(prediction, gold) for gold in answers),
        acc_tokens=max(token_accuracy(prediction, gold) for gold in answers),
    )
