"""`steper teacher ...`: run a framework over questions, merge shards, import traces made elsewhere, convert IRCoT annotations."""

from __future__ import annotations

import argparse
import logging

from steper import layout
from steper.data.download import SUMS_PATH
from steper.frameworks.demonstrations import convert_annotations, write_demonstrations
from steper.frameworks.registry import FRAMEWORKS
from steper.frameworks.runner import add_run_options, merge, parse_run_settings, run_framework
from steper.frameworks.trace_import import import_traces
from steper.io import InputError
from steper.settings import save_resolved

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace) -> None:
    settings = parse_run_settings(args.settings)
    shard = None
    if args.shard is not None or args.num_shards is not None:
        if args.shard is None or args.num_shards is None:
            raise InputError("--shard", "--shard and --num-shards go together")
        shard = (args.shard, args.num_shards)
    summary = run_framework(
        args.framework, args.records, args.output, args.model, args.model_name, args.index_dir,
        settings.framework, settings.generation, demonstrations_path=args.demonstrations, shard=shard,
    )
    save_resolved(
        layout.settings_sidecar(args.output), settings,
        command="teacher run", framework_name=args.framework, model=args.model_name, shard=shard, summary=summary,
    )


def _merge(args: argparse.Namespace) -> None:
    summary = merge(args.inputs, args.records, args.output, allow_empty=args.allow_empty)
    log.info("merged %d shard outputs into %s (%d questions)", len(args.inputs), args.output, summary["n"])


def _import(args: argparse.Namespace) -> None:
    import_traces(args.input, args.sha256, args.records, args.framework, args.model_name, args.output)


def _annotations(args: argparse.Namespace) -> None:
    demos = convert_annotations(args.input, records_path=args.records, corpus_path=args.corpus, followups_path=args.followups, sums_path=args.sums)
    count = write_demonstrations(args.output, demos)
    with_followups = sum(1 for demo in demos if demo.followups)
    log.info("%s: %d demonstrations for %s, %d with Self-Ask follow-ups", args.output, count, args.dataset, with_followups)


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run a framework few-shot (teacher) or zero-shot over a records file")
    run.add_argument("--framework", required=True, choices=FRAMEWORKS)
    run.add_argument("--records", required=True, help="unified records (JSON lines)")
    run.add_argument("--model", required=True, help="model directory")
    run.add_argument("--model-name", required=True, help="name recorded in every trace line")
    run.add_argument(
        "--output", required=True,
        help="trace file (JSON lines); resumed if the same run (model files, records, settings, demonstrations) wrote it, "
        "started over otherwise; one process writes it at a time",
    )
    run.add_argument("--shard", type=int, default=None, help="this job's shard index (0-based)")
    run.add_argument("--num-shards", type=int, default=None)
    add_run_options(run)
    run.set_defaults(func=_run)

    join = subparsers.add_parser("merge", help="merge shard outputs in the records' order")
    join.add_argument("--inputs", nargs="+", required=True, help="finished `teacher run` shard outputs (each with its .resume.json)")
    join.add_argument("--records", required=True)
    join.add_argument("--output", required=True)
    join.add_argument("--allow-empty", action="store_true", help="write an empty output when the records hold no questions")
    join.set_defaults(func=_merge)

    imports = subparsers.add_parser(
        "import", help="take teacher traces made elsewhere (a file or URL with its sha256) as this run's, checked line by line"
    )
    imports.add_argument("--framework", required=True, choices=FRAMEWORKS)
    imports.add_argument("--model-name", required=True, help="the teacher's name, which every trace line must record")
    imports.add_argument("--records", required=True, help="the records the traces answer, one line each, in their order")
    imports.add_argument("--input", required=True, help="trace file (JSON lines, as `teacher merge` writes it): a path or an http(s):// or file:// URL")
    imports.add_argument("--sha256", required=True, help="the sha256 the input's bytes must have")
    imports.add_argument("--output", required=True, help="where the traces land (their summary beside it); left as it was if the input is refused")
    imports.set_defaults(func=_import)

    notes = subparsers.add_parser("annotations", help="convert IRCoT's annotated demonstrations (jsonnet) to demonstrations.jsonl")
    notes.add_argument("--dataset", required=True, choices=("hotpotqa", "2wikimultihopqa", "musique"))
    notes.add_argument("--input", required=True, help="path or http(s) URL of data_annotations/{dataset}.jsonnet")
    notes.add_argument(
        "--records", nargs="+", default=None,
        help="unified records holding the annotated questions (full passages + distractors, decomposition -> Self-Ask follow-ups)",
    )
    notes.add_argument("--corpus", default=None, help="corpus JSON lines to look the annotated passages up in")
    notes.add_argument("--followups", default=None, help="Self-Ask decompositions of the annotated questions without a gold one (data.annotations.followups)")
    notes.add_argument("--sums", default=str(SUMS_PATH), help="JSON file name -> sha256 that an --input URL must match (a mirror's own sums file)")
    notes.add_argument("--output", required=True)
    notes.set_defaults(func=_annotations)
