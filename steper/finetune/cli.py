"""`steper finetune gold-traces`: the fine-tuned teacher's training traces."""

from __future__ import annotations

import argparse
from pathlib import Path

from steper.finetune.gold_traces import GoldSettings, make_gold_traces
from steper.settings import parse_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gold-traces", help="gold IRCoT/Self-Ask teacher traces of a toy world apart from the questions' (demo teacher)")
    parser.add_argument("--output-dir", required=True, help="gets corpus.jsonl, index/, {framework}.jsonl, summary.json")
    parser.add_argument("--tokenizer", required=True, help="tokenizer directory for the traces' token counts")
    parser.add_argument("--settings", help="GoldSettings as JSON or a JSON/YAML path: world_seed, n_entities, n_chains, "
                        "n_distractors, datasets, frameworks, toy (the question worlds' settings), framework (the teacher's)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    make_gold_traces(Path(args.output_dir), args.tokenizer, parse_settings(args.settings, GoldSettings))
