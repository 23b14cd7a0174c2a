"""`steper data ...`: toy world, downloads, native -> unified records, IRCoT splits, corpora."""

from __future__ import annotations

import argparse
import logging

from steper.data.corpus import EXPECTED_COUNTS, native_paragraphs, record_paragraphs, wiki_abstracts, write_corpus
from steper.data.download import SOURCES, SUMS_PATH, download
from steper.data.prepare import prepare
from steper.data.readers import FORMATS
from steper.data.split import SplitSettings, split_files
from steper.data.toy import ToySettings, generate
from steper.io import InputError, owned_files
from steper.layout import SETTINGS_FILE
from steper.names import DATASETS
from steper.settings import parse_settings, save_resolved

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="native dataset file -> unified records (JSON lines)",
        description="Convert a native file to unified records. --format hotpotqa accepts the official schema "
        "('_id', list context) and the Hugging Face schema ('id', dict context), told apart per record.",
    )
    p.add_argument("--format", required=True, help=f"one of: {', '.join(FORMATS)}")
    p.add_argument("--dataset", required=True, help="dataset name written into each record")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--aliases", help="2WikiMultihopQA id_aliases.json")
    p.add_argument("--chains", help="toy-world chains.jsonl: fills the decomposition of records that have none")
    p.add_argument("--allow-empty", action="store_true", help="write an empty output for an input without records")
    p.set_defaults(func=_prepare)

    p = subparsers.add_parser("split", help="IRCoT train/dev/test sampling of unified records")
    p.add_argument("--train", required=True)
    p.add_argument("--dev", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--settings", help="JSON or JSON/YAML file: n_train, n_dev, n_test, seed")
    p.add_argument("--allow-empty", action="store_true", help="write empty splits for inputs without records")
    p.set_defaults(func=_split)

    p = subparsers.add_parser("corpus", help="retrieval corpus (pyserini JSON lines) as IRCoT builds it")
    p.add_argument("--dataset", required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--records", nargs="+", help="unified record files (or native files with --native)")
    source.add_argument(
        "--wiki-abstracts", help="HotpotQA enwiki-20171001 abstracts .tar.bz2 (or its extracted directory)"
    )
    p.add_argument(
        "--native", metavar="FORMAT", help="--records are native files of this format (e.g. test files without answers)"
    )
    p.add_argument("--output", required=True)
    p.add_argument(
        "--expect-count",
        nargs="?",
        const="paper",
        default=None,
        help="compare the count with the paper corpus (no value) or with the given number",
    )
    p.add_argument("--allow-empty", action="store_true", help="write an empty corpus for inputs without paragraphs")
    p.set_defaults(func=_corpus)

    p = subparsers.add_parser("download", help="official dataset files, verified by sha256 (paper tier)")
    p.add_argument("--dataset", required=True, choices=list(SOURCES))
    p.add_argument("--output-dir", required=True)
    p.add_argument(
        "--sums",
        default=str(SUMS_PATH),
        help="JSON file name -> sha256 (null = not known yet); a mirror of other files than the official ones has its own",
    )
    p.add_argument(
        "--mirror",
        help="base URL (http(s):// or file://) holding <dataset>/<official file name>, fetched instead of the official URLs",
    )
    p.set_defaults(func=_download)

    p = subparsers.add_parser("toy", help="fictional world in a dataset's native format (demo/smoke tiers)")
    p.add_argument("--dataset", required=True, choices=list(DATASETS))
    p.add_argument("--output-dir", required=True)
    p.add_argument("--demonstrations", help="also write the demonstrations (annotation format) to this file")
    p.add_argument(
        "--settings", help="JSON or JSON/YAML file: seed, n_entities, n_train, n_dev, n_demonstrations, n_distractors"
    )
    p.set_defaults(func=_toy)


def _prepare(args: argparse.Namespace) -> None:
    prepare(args.format, args.dataset, args.input, args.output, aliases=args.aliases, chains=args.chains,
            allow_empty=args.allow_empty)


def _split(args: argparse.Namespace) -> None:
    """The splits go into a directory that also holds other files (the full records they are drawn
    from): only their own names are replaced, and only files steper wrote."""
    settings = parse_settings(args.settings, SplitSettings)
    names = [f"{part}.jsonl" for part in ("train", "dev", "test")] + [SETTINGS_FILE]
    with owned_files(args.output_dir, names, inputs=[args.train, args.dev]) as files:
        split_files(args.train, args.dev, args.output_dir, settings, allow_empty=args.allow_empty)
        save_resolved(files.path(SETTINGS_FILE), settings)


def _corpus(args: argparse.Namespace) -> None:
    expected = _expected(args.expect_count, args.dataset)
    if args.wiki_abstracts:
        if args.native:
            raise InputError("--native", "only applies to --records", field="native")
        paragraphs = wiki_abstracts(args.wiki_abstracts)
    elif args.native:
        if args.native not in FORMATS:
            raise InputError(
                "--native", f"unknown format {args.native!r} (known: {', '.join(FORMATS)})", field="format"
            )
        paragraphs = native_paragraphs(args.native, args.records)
    else:
        paragraphs = record_paragraphs(args.records)
    write_corpus(paragraphs, args.output, args.dataset, expected, allow_empty=args.allow_empty)


def _expected(value: str | None, dataset: str) -> int | None:
    if value is None:
        return None
    if value == "paper":
        if dataset not in EXPECTED_COUNTS:
            raise InputError(
                "--expect-count",
                f"no paper count known for {dataset!r} (known: {', '.join(EXPECTED_COUNTS)})",
                field="dataset",
            )
        return EXPECTED_COUNTS[dataset]
    if not value.isdigit():
        raise InputError("--expect-count", f"must be a number, got {value!r}", field="expect-count")
    return int(value)


def _download(args: argparse.Namespace) -> None:
    download(args.dataset, args.output_dir, args.sums, mirror=args.mirror)


def _toy(args: argparse.Namespace) -> None:
    generate(args.dataset, args.output_dir, parse_settings(args.settings, ToySettings), args.demonstrations)
