"""The run's plan (steper/plan/) and the names every rule file uses; the logic lives in the package."""

import os
from pathlib import Path

from snakemake.logging import logger

from steper import layout
from steper.frameworks.trace_import import import_output, import_source
from steper.paper import contents
from steper.plan import paper as paper_plan
from steper.plan.plan import ENV_CPU, ENV_GPU, Plan, as_json, one_of

plan = Plan(config, basedir=workflow.basedir, stated=CONFIG_SET)
P = plan.path
LOG = plan.log
BENCH = plan.benchmark
MODELS = plan.models
for _unused in plan.unused_imports:
    logger.warning(_unused)


def reported(path, caption):
    """A report() output whose caption is a label column: Snakemake's `caption=` takes an RST file path, not text."""
    return report(path, category=contents.REPORT_CATEGORY, labels={"file": Path(path).name, "caption": caption})


wildcard_constraints:
    dataset=one_of(plan.datasets),
    framework=one_of(plan.frameworks),
    backend=one_of(["pyserini", "bm25s"]),
    split="train|dev|test",
    variant=one_of(plan.variants),
    method=one_of(config["methods"]),
    student=one_of(plan.students),
