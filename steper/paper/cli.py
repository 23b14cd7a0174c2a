"""`steper paper render|check|expected`: the paper's tables and figures, and reproduction checks."""

from __future__ import annotations

import argparse
import logging

import yaml

from steper import layout
from steper.io import atomic_path
from steper.paper.check import load_checks, measured_checks, published_checks, run_check
from steper.paper.definitions import PaperSettings
from steper.paper.published import load_published
from steper.settings import parse_settings

log = logging.getLogger(__name__)


def _render(args: argparse.Namespace) -> int:
    from steper.paper.report import render

    settings = parse_settings(args.settings, PaperSettings)
    settings.validate()
    files = render(args.manifest, args.output_dir, settings)
    log.info("wrote %d files under %s", len(files), args.output_dir)
    return 0


def _check(args: argparse.Namespace) -> int:
    outcomes = [run_check(args.results_dir, check) for check in load_checks(args.expected, args.tolerance)]
    for outcome in outcomes:
        print(outcome.line)
    failed = sum(not outcome.ok for outcome in outcomes)
    print(f"{len(outcomes) - failed} OK, {failed} FAIL")
    return 1 if failed else 0


def _expected(args: argparse.Namespace) -> int:
    if args.results_dir:
        data = measured_checks(args.results_dir, args.tolerance)
    else:
        data = published_checks(load_published(), args.student, args.tolerance)
    with atomic_path(args.output) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    render = subparsers.add_parser("render", help="tables, figures and REPORT.md from result files")
    render.add_argument("--manifest", required=True, help="JSON listing every declared result file and what it is (written by the paper rule)")
    render.add_argument("--output-dir", required=True, help=layout.TEMPLATES["paper"])
    render.add_argument("--settings", required=True, help="PaperSettings as JSON or a JSON/YAML path")
    render.set_defaults(func=_render)

    check = subparsers.add_parser("check", help="compare evaluation results with expected metrics; exit 1 on any FAIL")
    check.add_argument("--results-dir", required=True, help=layout.TEMPLATES["results"])
    check.add_argument("--expected", required=True, help="YAML file of expected metrics (see steper.paper.check)")
    check.add_argument("--tolerance", type=float, default=None, help="override every tolerance in the file")
    check.set_defaults(func=_check)

    expected = subparsers.add_parser("expected", help="write an expected-metrics file from the published numbers or a finished run")
    source = expected.add_mutually_exclusive_group(required=True)
    source.add_argument("--student", help="published numbers, for this main student (systems '{student}--{method}')")
    source.add_argument("--results-dir", help="every EM/F1/Acc measured in results/{run}")
    expected.add_argument("--tolerance", type=float, default=2.0, help="absolute tolerance in points")
    expected.add_argument("--output", required=True)
    expected.set_defaults(func=_expected)
