"""`steper preflight run`: check a GPU node before the paper grid; exit 1 on any FAIL."""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from steper.preflight.run import COMPONENTS, Context, default_threads, run_preflight
from steper.preflight.slurm import SlurmOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="tiny local models through the stack, driver and CUDA, transformers, vLLM, ZeRO-3 training, "
        "a checkpoint kill and resume, one Slurm GPU job: PASS / FAIL / SKIP per component",
    )
    run.add_argument("--only", nargs="+", choices=COMPONENTS, help="run these components (the stack always; the model when one needs it)")
    run.add_argument("--workdir", type=Path, help="where models, runs and logs go (default: a new directory under $TMPDIR)")
    run.add_argument("--threads", type=int, default=None, help="CPU threads of the training runs (default: this process's CPUs, at most 16)")
    run.add_argument("--profile", type=Path, default=Path("profiles/slurm"), help="the Slurm profile the slurm component submits with")
    run.add_argument("--slurm-args", default="", help="the site's Snakemake arguments, as for the grid, e.g. "
                     "\"--default-resources slurm_account=abc slurm_partition=gpu mem_mb=16000 runtime=120\"")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="steper-preflight-"))
    context = Context(workdir=workdir.resolve(), slurm=SlurmOptions(args.profile, shlex.split(args.slurm_args)), threads=args.threads or default_threads())
    results = run_preflight(context, args.only)
    return 1 if any(result.status == "FAIL" for result in results) else 0
