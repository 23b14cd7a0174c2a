"""Evaluation: trace lines -> answer metrics, per-step ability scores and latency.

The same trace format serves teacher traces and student predictions, so every system (trained
student, in-context baseline, teacher) is scored by one code path.
"""

from steper.evaluate.abilities import ABILITY_DEFINITIONS, ability_scores
from steper.evaluate.aggregate import Metrics, aggregate, read_traces
from steper.evaluate.result import build_result, count_parameters

__all__ = [
    "ABILITY_DEFINITIONS",
    "Metrics",
    "ability_scores",
    "aggregate",
    "build_result",
    "count_parameters",
    "read_traces",
]
