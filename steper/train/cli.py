"""`steper train run`: fine-tune a student on step-wise examples (StepER or a baseline loss).

With more than one GPU (`training.gpus`) or a DeepSpeed config, and not yet under a launcher, the command
re-runs itself under torchrun with the resolved settings, so the Snakemake rule stays one line.
Rerunning a killed training with the same arguments resumes it from its latest complete checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess

from steper.settings import settings_dict
from steper.train.launch import launch_command, needs_launch
from steper.train.settings import parse_train_settings

log = logging.getLogger(__name__)


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="train a student; writes model, train_log.jsonl, steper_settings.json")
    parser.add_argument("--data", required=True, help="step-wise examples (JSON lines, e.g. first-mid-final.jsonl)")
    parser.add_argument("--model", required=True, help="student base model directory")
    parser.add_argument("--output", required=True, help="output directory (replaced atomically at the end)")
    parser.add_argument("--settings", default=None, help="TrainSettings JSON or JSON/YAML path: method, training, student")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads of this job (default: torch's own choice)")
    parser.add_argument("--match-data", default=None,
                        help="step-wise data of the method named by method.match_steps_of (its optimizer steps are this training's)")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    settings = parse_train_settings(args.settings)
    training = settings.training
    if needs_launch(training.processes, training.deepspeed is not None, os.environ):
        train_args = ["--data", args.data, "--model", args.model, "--output", args.output,
                      "--settings", json.dumps(settings_dict(settings))]
        if args.threads is not None:
            train_args += ["--threads", str(args.threads)]
        if args.match_data is not None:
            train_args += ["--match-data", args.match_data]
        command = launch_command(train_args, training.processes)
        log.info("re-launching under torchrun: %s", " ".join(command[:8]))
        return subprocess.run(command, check=False).returncode
    from steper.train.trainer import train  # heavy (torch, transformers): only in the training process

    train(args.data, args.model, args.output, settings, threads=args.threads, match_data=args.match_data)
    return 0
