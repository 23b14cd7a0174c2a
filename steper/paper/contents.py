"""What a paper directory holds: its tables, figures and their captions, listed once.

The paper rule declares these files as its outputs (with the captions as labels of Snakemake's
HTML report) and `steper paper render` writes exactly them, so the two cannot disagree. This
module imports nothing heavy: the Snakefile reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# table -> its line in Snakemake's HTML report (the rendered table carries its own, fuller caption)
TABLES: dict[str, str] = {
    "table1_main": "Table 1: in-context baselines (incl. ITER-RETGEN, ReAct when configured), distilled students, and cited KD rows (not re-run).",
    "table2_loss_weighting": "Table 2: fixed loss weightings vs learned difficulty-aware weights.",
    "table3_selfask": "Table 3: the Self-Ask framework.",
    "table4_subquestions": "Table 4: rationale validity on sub-questions.",
    "table_ablation_steps": "Step-data ablation with ability scores (Figure 3 as numbers).",
    "table_errors": "Each distilled student's wrong answers by the first gold hop its chain missed.",
    "table_transfer": "Cross-domain transfer (StepER vs Vanilla-KD).",
    "table_scaling": "Accuracy by model size (Figure 4 as numbers).",
    "table_latency": "Inference cost vs accuracy.",
    "table_retrieval": "BM25 retrieval recall per backend.",
    "table_stepwise_stats": "Step-wise distillation data: kept traces and examples per kind.",
    "table_teacher": "The teacher's accuracy on its training questions.",
    "table_published": "Published numbers vs ours.",
    "table_cost": "Cost per stage from Snakemake's benchmark files.",
    "table_benchmarks": "Benchmarks of benchmarks/results/*.json.",
    "table_seeds": "Mean ± sd over training seeds of every system trained with several seeds.",
    "table_training": "Each student's training budget and StepER's learned weighting.",
}
# The part of the experiments a table or figure shows when the config may leave it out; the others
# show the main evaluation, which every run has. Rendering an empty table or a figure with nothing
# to compare would say nothing, so a run renders only the parts it ran.
NEEDS: dict[str, str] = {
    "table3_selfask": "selfask",
    "table4_subquestions": "subquestions",
    "table_transfer": "transfer",
    "fig_transfer": "transfer",
    "fig4_scaling": "sizes",
    "table_seeds": "seeds",
}
# How REPORT.md's one line names a part the run left out, in the paper's order. Several seeds are
# an addition some runs make, not a part of the paper a tier leaves out, so they are not named.
NOT_RUN: dict[str, str] = {
    "selfask": "Table 3 (Self-Ask)",
    "transfer": "transfer",
    "subquestions": "sub-questions",
    "sizes": "Figure 4 (needs two student sizes)",
}

# figure -> caption, in REPORT.md and Snakemake's HTML report
FIGURES: dict[str, str] = {
    "fig1a_data_composition": (
        "Figure 1(a): training examples per step kind for Vanilla-KD (final step only) and StepER (first, mid and final steps), "
        "from the teacher's kept traces."
    ),
    "fig3_abilities": "Figure 3: ability scores (initialization, expansion, aggregation) of the step-data ablation (automatic proxy).",
    "fig4_scaling": "Figure 4: accuracy vs student size with 95% bootstrap intervals; dashed line: the few-shot teacher.",
    "fig_sigma": "Learned difficulty σ per step kind during StepER training.",
    "fig_latency": "Latency vs accuracy of every IRCoT system.",
    "fig_transfer": "Cross-domain transfer: accuracy with 95% bootstrap intervals of students tested on datasets they were not trained on.",
}
CASE_STUDY_CAPTION = "Figure 1(b): case study, StepER vs Vanilla-KD chains step by step."
REPORT_CAPTION = "The reproduction report: claims with their intervals, every table and figure."
REPORT_CATEGORY = "StepER reproduction"


@dataclass(frozen=True)
class Contents:
    """The parts of the experiments one run ran (keys of NOT_RUN and 'seeds'), hence what it renders."""

    parts: frozenset[str]

    @property
    def tables(self) -> list[str]:
        return [name for name in TABLES if NEEDS.get(name, "main") in self.parts | {"main"}]

    @property
    def figures(self) -> list[str]:
        return [name for name in FIGURES if NEEDS.get(name, "main") in self.parts | {"main"}]

    @property
    def not_run(self) -> str:
        """The one line naming what the run did not do; empty when it ran every part."""
        missing = [label for part, label in NOT_RUN.items() if part not in self.parts]
        return f"Not run in this tier: {', '.join(missing)}." if missing else ""


def run_contents(*, frameworks: Sequence[str], baselines: Sequence[str], size_study: Sequence[str],
                 transfer: bool, subquestions: bool, several_seeds: bool) -> Contents:
    """What a run renders, from what its config asks for: its frameworks and baselines, the students
    of the size study it trains and evaluates (IRCoT, a `scaling` method), and whether its manifest
    lists transfer, sub-question and several-seed evaluations. The workflow declares the paper rule's
    outputs and `steper paper render` writes them with this one function."""
    ran = {
        "selfask": "selfask" in [*frameworks, *baselines],
        "transfer": transfer,
        "subquestions": subquestions,
        # Figure 4 draws accuracy against student size: one size is a point, not a comparison.
        "sizes": len(set(size_study)) > 1,
        "seeds": several_seeds,
    }
    return Contents(frozenset(part for part, yes in ran.items() if yes))
