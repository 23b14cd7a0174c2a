"""Which command-line options name files, and the check that no output overwrites an input.

Every writer renames its result onto the output only at the end, so an output that is also an
input (`--output` = `--input`, the same file under two names, a model directory given as both
`--base` and `--output`) would replace the input it was made from, and an output directory that
holds an input would take the input with it when it is replaced. `check_paths` refuses both
before any work, for every command at once; a test walks every subcommand so an option added
later must be listed here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from steper.io import InputError, same_path

# Options whose value is a path (or a list of paths) read or written by the command.
PATH_OPTIONS = frozenset({
    "aliases", "base", "chains", "corpus", "data", "demonstrations", "dev", "expected", "followups",
    "index_dir", "input", "inputs", "manifest", "match_data", "model", "output", "output_dir", "predictions", "records",
    "results_dir", "settings", "subqa", "sums", "tokenizer", "traces", "train", "wheel", "wiki_abstracts",
    "workdir", "profile",
})
# Options whose value is never a path (names, numbers, flags, URLs).
OTHER_OPTIONS = frozenset({
    "allow_empty", "backend", "backends", "command", "dataset", "dtype", "expect_count", "file", "format",
    "framework", "func", "keep_layers", "mirror", "model_name", "native", "num_shards", "package", "partial",
    "repo_id", "revision", "sha256", "shard", "stage", "student", "system", "threads", "tolerance", "verbose",
    "only", "slurm_args",
})
# Options a command writes to (in some commands; `--predictions` and `--demonstrations` are read by others).
WRITTEN = frozenset({"output", "output_dir", "predictions", "demonstrations"})
# A directory given here is replaced as a whole (`steper.io.atomic_dir`).
REPLACED_DIRECTORY = "output"


def _paths(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return [os.fspath(v) for v in values if isinstance(v, str | os.PathLike) and "://" not in os.fspath(v)]


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_paths(args: dict[str, Any]) -> None:
    """An output option naming the same file as another path option, or an input inside the
    directory `--output` replaces, is one InputError naming the output."""
    paths = {dest: _paths(value) for dest, value in args.items() if dest in PATH_OPTIONS and value is not None}
    dests = sorted(paths)
    for index, dest in enumerate(dests):
        for other in dests[index + 1:]:
            if not {dest, other} & WRITTEN:
                continue  # two inputs may be one file (e.g. --train and --dev of a small test)
            for path in paths[dest]:
                if any(same_path(path, other_path) for other_path in paths[other]):
                    raise InputError(
                        path, f"is given as both {_option(dest)} and {_option(other)}; refusing "
                        "(an output would replace an input, or one file would stand for two)"
                    )
    for output in paths.get(REPLACED_DIRECTORY, []):
        if not Path(output).is_dir():
            continue
        root = Path(os.path.realpath(output))
        for dest in dests:
            inside = [path for path in paths[dest] if dest != REPLACED_DIRECTORY and os.path.exists(path) and Path(os.path.realpath(path)).is_relative_to(root)]
            if inside:
                raise InputError(
                    output, f"holds {_option(dest)} {inside[0]}, and an output directory is replaced as a whole; "
                    "refusing to delete an input"
                )
