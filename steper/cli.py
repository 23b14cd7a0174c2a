"""`steper <stage> ...`: the entry points the Snakemake rules call, one subcommand group per stage.

Each stage package owns its subcommands in `steper/<stage>/cli.py` (a `register(subparsers)`
function); this module only wires them together, importing a stage when it is asked for so that
`steper data ...` never pays for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from steper.cli_paths import check_paths
from steper.io import NO_ROOM, InputError, setup_logging

STAGES: dict[str, tuple[str, str]] = {
    "data": ("steper.data.cli", "datasets: toy world, downloads, readers, splits, corpora"),
    "retrieval": ("steper.retrieval.cli", "BM25 indexes and retrieval evaluation"),
    "models": ("steper.models.cli", "base models: GGUF conversion, layer pruning, tiny random models"),
    "finetune": ("steper.finetune.cli", "the fine-tuned teacher's gold traces (model source finetune)"),
    "teacher": ("steper.frameworks.cli", "few-shot teacher traces with IRCoT or Self-Ask"),
    "stepwise": ("steper.stepwise.cli", "step-wise datasets from teacher traces"),
    "train": ("steper.train.cli", "student training with StepER and baseline losses"),
    "evaluate": ("steper.evaluate.cli", "students and in-context baselines on the test questions"),
    "paper": ("steper.paper.cli", "tables, figures and the reproduction report"),
    "preflight": ("steper.preflight.cli", "a GPU node checked before the paper grid: PASS / FAIL / SKIP per component"),
}


def build_parser(stage: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steper", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, (module, help_text) in STAGES.items():
        stage_parser = stages.add_parser(name, help=help_text)
        if name == stage:
            commands = stage_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
            importlib.import_module(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stage = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(stage if stage in STAGES else None).parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        check_paths(vars(args))
        return int(args.func(args) or 0)
    except InputError as error:
        return _bad_input(str(error))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as error:
        return _bad_input(f"{error.filename}: {error.strerror.lower()}" if error.filename else str(error))
    except UnicodeDecodeError as error:
        return _bad_input(f"input is not UTF-8 text ({error})")
    except OSError as error:
        if error.errno not in NO_ROOM:
            raise
        where = f"{error.filename}: " if error.filename else ""
        return _bad_input(f"{where}could not write an output: {os.strerror(error.errno).lower()}")


def _bad_input(message: str) -> int:
    """Every bad input ends the same way: one line on stderr and exit code 2 (1 is a failed `paper check`)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
