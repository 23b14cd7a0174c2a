"""Index time, query time and top-k agreement of the two BM25 backends on a synthetic corpus.

The corpus is generated (seeded) from pseudo-words drawn with Zipf frequencies, some carrying
English inflections ("-s", "-ed", "-ing") so that stemming matters as it does on Wikipedia text;
queries are words sampled from a random passage plus a few random words. Figures go to
benchmarks/results/retrieval_agreement.json, one entry per condition (corpus size, inflections,
whether PyStemmer was importable).

    python benchmarks/retrieval_agreement.py --n-docs 5000 --n-queries 300
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import tempfile
import time
from pathlib import Path

from steper.io import read_json, setup_logging, write_json, write_jsonl
from steper.retrieval import build_index, open_retriever
from steper.retrieval.analyzer import available_stemmer
from steper.retrieval.evaluation import overlap

log = logging.getLogger("benchmarks.retrieval_agreement")

SYLLABLES = ["ka", "lo", "mir", "dan", "el", "tor", "vis", "sha", "ren", "qu", "bel", "ost", "ar", "mun", "fi", "ga"]
SUFFIXES = ["s", "ed", "ing"]
STOPWORDS = ["the", "of", "and", "in", "a", "to", "was", "is", "for", "on", "with", "by", "as", "at", "from"]


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_sampler(rng: random.Random, vocabulary: list[str]):
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    return lambda n: rng.choices(vocabulary, weights=weights, k=n)


def make_corpus(rng: random.Random, n_docs: int, vocabulary: list[str], inflected: float) -> list[dict[str, str]]:
    sample = zipf_sampler(rng, vocabulary)
    lines, seen = [], set()
    while len(lines) < n_docs:
        title = " ".join(word.capitalize() for word in rng.sample(vocabulary, rng.randint(1, 3)))
        words = [word + rng.choice(SUFFIXES) if rng.random() < inflected else word for word in sample(rng.randint(30, 90))]
        words = [rng.choice(STOPWORDS) if rng.random() < 0.25 else word for word in words]
        text = " ".join(words).capitalize() + "."
        doc_id = hashlib.sha256(f"{title} {text}".encode()).hexdigest()[:16]
        if doc_id not in seen:
            seen.add(doc_id)
            lines.append({"id": doc_id, "title": title, "contents": text})
    return lines


def make_queries(rng: random.Random, corpus: list[dict[str, str]], vocabulary: list[str], n: int) -> list[str]:
    queries = []
    for _ in range(n):
        passage = rng.choice(corpus)
        words = (passage["title"] + " " + passage["contents"].rstrip(".")).split()
        queries.append(" ".join(rng.sample(words, min(len(words), rng.randint(3, 8))) + rng.sample(vocabulary, 2)))
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-docs", type=int, default=5000)
    parser.add_argument("--n-queries", type=int, default=300)
    parser.add_argument("--vocabulary", type=int, default=8000)
    parser.add_argument("--inflected", type=float, default=0.3, help="share of words given an English inflection")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "retrieval_agreement.json")
    args = parser.parse_args()
    setup_logging()
    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, args.vocabulary)
    corpus = make_corpus(rng, args.n_docs, vocabulary, args.inflected)
    queries = make_queries(rng, corpus, vocabulary, args.n_queries)
    figures: dict[str, dict[str, float]] = {}
    rankings = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = Path(tmp) / "corpus.jsonl"
        write_jsonl(corpus_path, corpus)
        for backend in ("pyserini", "bm25s"):
            start = time.perf_counter()
            build_index(corpus_path, Path(tmp) / backend, backend, 0.9, 0.4, threads=args.threads)
            index_seconds = time.perf_counter() - start
            start = time.perf_counter()
            retriever = open_retriever(Path(tmp) / backend, backend, 0.9, 0.4, threads=args.threads)
            open_seconds = time.perf_counter() - start
            start = time.perf_counter()
            rankings[backend] = retriever.batch_search(queries, args.k)
            search_seconds = time.perf_counter() - start
            figures[backend] = {"index_seconds": round(index_seconds, 2), "open_seconds": round(open_seconds, 2),
                                "batch_search_ms_per_query": round(1000 * search_seconds / len(queries), 2)}
            log.info("%s: %s", backend, figures[backend])
    pairs = list(zip(rankings["pyserini"], rankings["bm25s"]))
    agreement = sum(overlap(a, b) for a, b in pairs) / len(pairs)
    top1 = sum(bool(a and b) and a[0].id == b[0].id for a, b in pairs) / len(pairs)
    result = {"n_docs": len(corpus), "n_queries": len(queries), "k": args.k, "k1": 0.9, "b": 0.4, "seed": args.seed,
              "inflected": args.inflected, "bm25s_stemmer": available_stemmer(), "backends": figures,
              f"top{args.k}_overlap": round(agreement, 4), "top1_same": round(top1, 4),
              "command": f"python benchmarks/retrieval_agreement.py --n-docs {args.n_docs} --n-queries {args.n_queries} "
                         f"--vocabulary {args.vocabulary} --inflected {args.inflected} --k {args.k} --seed {args.seed} --threads {args.threads}"}
    # one entry per condition, so runs with and without PyStemmer or inflections sit side by side
    runs = read_json(args.output) if args.output.exists() else {}
    runs[f"docs={len(corpus)} queries={len(queries)} inflected={args.inflected} stemmer={available_stemmer()}"] = result
    write_json(args.output, runs)
    log.info("top-%d overlap %.4f, same top-1 %.4f -> %s", args.k, agreement, top1, args.output)


if __name__ == "__main__":
    main()
