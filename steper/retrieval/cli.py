"""`steper retrieval index|evaluate`: build a BM25 index; score first-step retrieval."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from steper import layout
from steper.io import write_json
from steper.retrieval.evaluation import RetrievalEvalSettings, evaluate_retrieval
from steper.retrieval.index import BACKENDS, IndexSettings, build_index
from steper.settings import parse_settings, save_resolved

log = logging.getLogger(__name__)


def run_index(args: argparse.Namespace) -> int:
    settings = parse_settings(args.settings, IndexSettings)
    # build_index writes the resolved settings into the index itself
    build_index(args.corpus, args.output, args.backend, settings.k1, settings.b, threads=settings.threads)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    settings = parse_settings(args.settings, RetrievalEvalSettings)
    result = evaluate_retrieval(args.records, args.index_dir, args.backends, args.dataset, settings)
    write_json(args.output, result)
    save_resolved(layout.settings_sidecar(args.output), settings, dataset=args.dataset, backends=args.backends)
    for backend, scores in result["backends"].items():
        log.info("%s %s recall@k: %s", args.dataset, backend, {k: round(v, 1) for k, v in scores["recall"].items()})
    if result["agreement"]:
        log.info("top-%d agreement %s: %.3f", result["agreement"]["k"], "/".join(result["agreement"]["backends"]), result["agreement"]["overlap"])
    return 0


def register(subparsers) -> None:
    index = subparsers.add_parser("index", help="build a BM25 index of a corpus (one backend)")
    index.add_argument("--corpus", required=True, help="corpus JSON lines {id, title, contents}")
    index.add_argument("--backend", choices=BACKENDS, default="pyserini")
    index.add_argument("--output", required=True, type=Path, help=f"index directory: {layout.TEMPLATES['index']}")
    index.add_argument("--settings", default=None, help="IndexSettings as JSON or a JSON/YAML file: k1, b, threads")
    index.set_defaults(func=run_index)

    evaluate = subparsers.add_parser("evaluate", help="recall of supporting passages with the question as query")
    evaluate.add_argument("--records", required=True, help="unified records JSON lines (e.g. test.jsonl)")
    evaluate.add_argument("--index-dir", required=True, help=f"{layout.TEMPLATES['index_dir']} (one subdirectory per backend)")
    evaluate.add_argument("--backends", nargs="+", choices=BACKENDS, default=["pyserini"])
    evaluate.add_argument("--dataset", required=True)
    evaluate.add_argument("--output", required=True, help="JSON file to write")
    evaluate.add_argument("--settings", default=None, help="RetrievalEvalSettings as JSON or a file: eval_k, k1, b, agreement_k")
    evaluate.set_defaults(func=run_evaluate)
