"""What a paper directory holds: its tables, figures and their captions, listed once.

The paper rule declares these files as its outputs (with the captions as labels of Snakemake's
HTML report) and `steper paper render` writes exactly them, so the two cannot disagree. This
module imports nothing heavy: the Snakefile reads it.
"""

from __future__ import annotations

# table -> its line in Snakemake's HTML report (the rendered table carries its own, fuller caption)
TABLES: dict[str, str] = {
    "table1_main": "Table 1: in-context baselines (incl. ITER-RETGEN, ReAct when configured), distilled students, and cited KD rows (not re-run).",
    "table2_loss_weighting": "Table 2: fixed loss weightings vs learned difficulty-aware weights.",
    "table3_selfask": "Table 3: the Self-Ask framework.",
    "table4_subquestions": "Table 4: rationale validity on sub-questions.",
    "table_ablation_steps": "Step-data ablation with ability scores (Figure 3 as numbers).",
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
# Rendered only when some system was trained with several seeds.
SEEDS_TABLE = "table_seeds"

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


def table_names(several_seeds: bool) -> list[str]:
    """The tables a run renders: every one, and the seeds table only when some system has several seeds."""
    return [name for name in TABLES if several_seeds or name != SEEDS_TABLE]
