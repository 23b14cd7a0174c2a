"""`steper evaluate run|score`: predictions for a system on the test questions, and their scores.

`run` generates the predictions (resumable, through the same framework runner the teacher uses)
and scores them; `score` scores an existing trace file, so teacher traces and predictions made
elsewhere get the same evaluation JSON.
"""

from __future__ import annotations

import argparse
import logging

from steper import layout
from steper.evaluate.result import build_result
from steper.frameworks.registry import FRAMEWORKS
from steper.frameworks.runner import add_run_options, open_index, parse_run_settings, run_framework
from steper.io import write_json
from steper.settings import save_resolved, settings_dict

log = logging.getLogger(__name__)


def _run(args: argparse.Namespace) -> int:
    from steper.models.precision import precision_record

    settings = parse_run_settings(args.settings)
    # one retriever for the run and for the scoring (supporting recall looks up the passages each prediction retrieved)
    retriever = open_index(args.index_dir, args.framework, settings.framework)
    summary = run_framework(
        args.framework,
        args.records,
        args.predictions,
        args.model,
        args.system,
        args.index_dir,
        settings.framework,
        settings.generation,
        demonstrations_path=args.demonstrations,
        retriever=retriever,
    )
    log.info("framework run finished: %s", summary)
    result = build_result(
        system=args.system,
        framework=args.framework,
        dataset=args.dataset,
        predictions_path=args.predictions,
        records_path=args.records,
        model_dir=args.model,
        settings=settings_dict(settings),
        retriever=retriever,
    )
    # the model's storage dtype and the compute dtype ("auto" resolved on this machine), apart
    result["precision"] = precision_record(args.model, settings.generation.dtype, settings.generation.backend)
    write_json(args.output, result)
    save_resolved(layout.settings_sidecar(args.output), settings, system=args.system, framework=args.framework, dataset=args.dataset)
    return 0


def _score(args: argparse.Namespace) -> int:
    settings = settings_dict(parse_run_settings(args.settings)) if args.settings else None
    result = build_result(
        system=args.system,
        framework=args.framework,
        dataset=args.dataset,
        predictions_path=args.predictions,
        records_path=args.records,
        model_dir=args.model,
        settings=settings,
        allow_partial=args.partial,
    )
    write_json(args.output, result)
    return 0


def _subquestions(args: argparse.Namespace) -> int:
    from steper.data.subqa import from_decompositions, from_subqa, read_subqa
    from steper.io import InputError, read_jsonl, write_jsonl

    records = list(read_jsonl(args.records, required=("id", "question", "answers")))
    for record in records:
        record["id"] = str(record["id"])
    if args.subqa:
        subquestions = from_subqa(records, read_subqa(args.subqa))
        source = f"{args.subqa} (SubQA)"
    else:
        subquestions = from_decompositions(records)
        source = "the records' gold decompositions"
    if not subquestions:
        hint = "" if args.subqa else " (real HotpotQA records carry none: set paper.subquestions.subqa to a SubQA file)"
        raise InputError(args.records, f"no question has sub-questions in {source}{hint}")
    n = write_jsonl(args.output, subquestions)
    log.info("%d sub-questions of %d questions from %s", n, len({r['parent'] for r in subquestions}), source)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--framework", required=True, choices=FRAMEWORKS)
    parser.add_argument("--dataset", required=True, help="dataset name (recorded in the output)")
    parser.add_argument(
        "--system", required=True, help=f"'{layout.student_system('{student}', '{method}')}' or '{layout.fewshot_system('{model}')}'"
    )
    parser.add_argument("--records", required=True, help="unified records (test.jsonl) with gold answers")
    parser.add_argument(
        "--predictions", required=True,
        help="trace-format predictions (.predictions.jsonl); `run` resumes them only if the same model files, records and settings wrote them",
    )
    parser.add_argument("--output", required=True, help="evaluation JSON")


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run a framework with a model on test records, then score it")
    _common(run)
    run.add_argument("--model", required=True, help="model directory (HF format)")
    add_run_options(run)
    run.set_defaults(func=_run)

    subquestions = subparsers.add_parser("subquestions", help="the sub-questions of test records, as records of their own (Table 4)")
    subquestions.add_argument("--records", required=True, help="unified records (test.jsonl)")
    subquestions.add_argument("--subqa", default=None, help="SubQA file (format: steper/data/subqa.py); default: the records' decompositions")
    subquestions.add_argument("--output", required=True, help="sub-question records (.jsonl)")
    subquestions.set_defaults(func=_subquestions)

    score = subparsers.add_parser("score", help="score an existing predictions or trace file")
    _common(score)
    score.add_argument("--model", default=None, help="model directory, to record its parameter count")
    score.add_argument("--settings", default=None, help="settings the traces were made with (recorded, not used)")
    score.add_argument("--partial", action="store_true", help="allow records without a prediction")
    score.set_defaults(func=_score)
