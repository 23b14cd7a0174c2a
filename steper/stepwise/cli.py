"""`steper stepwise build`: step-wise example files (one per variant) + statistics from teacher traces."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from steper.io import atomic_path, owned_files, write_json, write_jsonl
from steper.layout import SETTINGS_FILE
from steper.settings import parse_settings, save_resolved
from steper.stepwise.build import FRAMEWORKS, StepwiseSettings, build_examples, compute_stats, load_corpus, stats_markdown, variant_examples

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", help="build {variant}.jsonl, stats.json and stats.md from a trace file")
    parser.add_argument("--traces", required=True, help="teacher trace file (JSON lines)")
    parser.add_argument("--corpus", required=True, help="corpus JSONL the traces retrieved from")
    parser.add_argument("--framework", required=True, choices=FRAMEWORKS)
    parser.add_argument("--tokenizer", required=True, help="tokenizer directory used for the length statistics")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--settings", default=None, help="StepwiseSettings as JSON or a JSON/YAML path: target, filter, variants")
    parser.add_argument("--allow-empty", action="store_true", help="write empty files when no trace is kept (default: an error)")
    parser.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    settings = parse_settings(args.settings, StepwiseSettings)
    corpus = load_corpus(args.corpus)
    data = build_examples(args.traces, corpus, args.framework, settings.filter, settings.target, args.allow_empty)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    stats = compute_stats(data, tokenizer, settings.variants, settings.filter, settings.target)
    output = Path(args.output_dir)
    names = [f"{variant}.jsonl" for variant in settings.variants] + ["stats.json", "stats.md", SETTINGS_FILE]
    with owned_files(output, names, inputs=[args.traces, args.corpus]):
        for variant in settings.variants:
            count = write_jsonl(output / f"{variant}.jsonl", variant_examples(data.examples, variant))
            log.info("%s: %d examples", output / f"{variant}.jsonl", count)
        write_json(output / "stats.json", stats)
        with atomic_path(output / "stats.md") as tmp:
            tmp.write_text(stats_markdown(stats), encoding="utf-8")
        save_resolved(output / SETTINGS_FILE, settings, traces=args.traces, corpus=args.corpus,
                      framework=args.framework, tokenizer=args.tokenizer)
    return 0
