"""How well BM25 finds the supporting passages when the question itself is the query.

This is the first-step retrieval of IRCoT/Self-Ask, so it bounds what a one-shot RAG baseline can
see and shows how much the later, reasoning-driven queries must add. The top-k agreement between
two backends tells whether bm25s can stand in for Lucene on a dataset.

A supporting passage is matched to the corpus by its id (the sha256 of "title text", as the corpus
builder computes it); when that id is not in the index (HotpotQA's corpus is the Wikipedia
abstracts, whose text can differ from the dataset's paragraph) it is matched by title.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from steper import layout
from steper.data.corpus import passage_id
from steper.io import InputError, read_jsonl_numbered
from steper.retrieval.corpus import Passage, Retriever
from steper.retrieval.index import BACKENDS, open_retriever
from steper.settings import config_hash, from_schema, git_revision, settings_dict

log = logging.getLogger(__name__)


@dataclass
class RetrievalEvalSettings:
    eval_k: list[int] = from_schema("retrieval.eval_k")
    k1: float = from_schema("retrieval.k1")
    b: float = from_schema("retrieval.b")
    agreement_k: int = from_schema("retrieval.agreement_k")


@dataclass
class Question:
    id: str
    question: str
    supporting: list[tuple[str, str]]  # (title, text)


def read_questions(path: str | os.PathLike) -> list[Question]:
    questions = []
    for number, record in read_jsonl_numbered(path, required=("id", "question", "supporting")):
        if not isinstance(record["question"], str) or not record["question"].strip():
            raise InputError(path, "must be a non-empty string", line=number, field="question")
        if not isinstance(record["supporting"], list):
            raise InputError(path, "must be a list of {title, text}", line=number, field="supporting")
        supporting = []
        for item in record["supporting"]:
            if not isinstance(item, dict) or not isinstance(item.get("title"), str) or not isinstance(item.get("text"), str):
                raise InputError(path, "entries must be {title: str, text: str}", line=number, field="supporting")
            supporting.append((item["title"], item["text"]))
        questions.append(Question(str(record["id"]), record["question"], supporting))
    return questions


def match_keys(retriever: Retriever, supporting: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """For each supporting passage, ("id", doc id) if the index holds it, else ("title", title)."""
    keys = []
    for title, text in supporting:
        doc_id = passage_id(title, text)
        try:
            retriever.doc(doc_id)
            keys.append(("id", doc_id))
        except KeyError:
            keys.append(("title", title))
    return keys


def found(keys: list[tuple[str, str]], hits: list[Passage]) -> int:
    ids = {hit.id for hit in hits}
    titles = {hit.title for hit in hits}
    return sum(1 for kind, value in keys if value in (ids if kind == "id" else titles))


def overlap(a: list[Passage], b: list[Passage]) -> float:
    """|A ∩ B| / max(|A|, |B|): |A ∩ B| / k when both return k hits; two empty lists agree fully."""
    size = max(len(a), len(b))
    return 1.0 if size == 0 else len({hit.id for hit in a} & {hit.id for hit in b}) / size


def evaluate_retrieval(records_path: str | os.PathLike, index_dir: str | os.PathLike, backends: list[str],
                       dataset: str, settings: RetrievalEvalSettings) -> dict[str, Any]:
    """Recall@k and all-found@k (percent) per backend, and the top-k agreement of the first two backends."""
    if not backends:
        raise InputError("--backends", "name at least one backend")
    if not settings.eval_k or any(not isinstance(k, int) or k <= 0 for k in settings.eval_k):
        raise InputError("--settings", f"must be a non-empty list of positive integers, got {settings.eval_k!r}", field="eval_k")
    if not isinstance(settings.agreement_k, int) or settings.agreement_k <= 0:
        raise InputError("--settings", f"must be a positive integer, got {settings.agreement_k!r}", field="agreement_k")
    for backend in backends:
        if backend not in BACKENDS:
            raise InputError("--backends", f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    questions = read_questions(records_path)
    without = [q.id for q in questions if not q.supporting]
    if without:
        log.warning("%d of %d questions have no supporting passages and are left out", len(without), len(questions))
    questions = [q for q in questions if q.supporting]
    if not questions:
        raise InputError(records_path, "no question has supporting passages")
    depth = max(max(settings.eval_k), settings.agreement_k)
    ks = sorted(set(settings.eval_k))
    rankings: dict[str, list[list[Passage]]] = {}
    results: dict[str, Any] = {}
    for backend in backends:
        retriever = open_retriever(layout.backend_index(index_dir, backend), backend, settings.k1, settings.b)
        log.info("%s: searching %d questions (top %d)", backend, len(questions), depth)
        rankings[backend] = retriever.batch_search([q.question for q in questions], depth)
        recall = {k: 0.0 for k in ks}
        all_found = {k: 0.0 for k in ks}
        by_title = 0
        for question, hits in tqdm(zip(questions, rankings[backend]), total=len(questions), desc=f"recall {backend}", unit="q"):
            keys = match_keys(retriever, question.supporting)
            by_title += sum(kind == "title" for kind, _ in keys)
            for k in ks:
                hit_count = found(keys, hits[:k])
                recall[k] += hit_count / len(keys)
                all_found[k] += hit_count == len(keys)
        if by_title:
            log.info("%s: %d supporting passages not in the index by id were matched by title", backend, by_title)
        n = len(questions)
        results[backend] = {"recall": {str(k): 100 * recall[k] / n for k in ks},
                            "all_found": {str(k): 100 * all_found[k] / n for k in ks},
                            "matched_by_title": by_title}
    agreement = None
    if len(backends) >= 2:
        first, second = backends[0], backends[1]
        k = settings.agreement_k
        scores = [overlap(a[:k], b[:k]) for a, b in zip(rankings[first], rankings[second])]
        agreement = {"backends": [first, second], "k": k, "overlap": sum(scores) / len(scores)}
    data = settings_dict(settings)
    return {"dataset": dataset, "n_questions": len(questions), "n_without_supporting": len(without),
            "backends": results, "agreement": agreement, "settings": data,
            "config_hash": config_hash(data), "git_revision": git_revision()}
