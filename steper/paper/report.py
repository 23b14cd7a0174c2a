"""Render every table, figure and REPORT.md of one run from its result files.

Everything is rendered into a temporary directory first and moved into place only when all of it
succeeded, so a failed render never leaves a mix of old and new tables.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from steper.evaluate.abilities import ABILITY_DEFINITIONS
from steper.io import OwnedFiles
from steper.layout import SETTINGS_FILE
from steper.paper import contents
from steper.paper.casestudy import case_study
from steper.paper.claims import HOLDS, INCONCLUSIVE, NOT_TESTED, OPPOSITE, Comparison, evaluate_claims
from steper.paper.definitions import PaperSettings
from steper.paper.figures import FIGURES, render_figures
from steper.paper.published import Published, load_published
from steper.paper.results import Results, load_manifest
from steper.paper.stats import Statistics
from steper.paper.tables import KIND_COLUMNS, make_tables
from steper.paper.training import NON_UNIFORM_RATIO, learned_weights
from steper.paper.typeset import Table, to_latex, to_markdown
from steper.settings import save_resolved

log = logging.getLogger(__name__)

CASE_STUDY = "case_study.md"


def weighting_statement(results: Results, settings: PaperSettings) -> str:
    """Whether StepER's learned weights moved away from uniform, per training (the last logged step)."""
    lines = []
    for log_ in results.train_logs:
        weights = learned_weights(log_)
        if weights is None:
            continue
        name = f"{settings.label(log_.method)} ({log_.framework}, {log_.dataset}, {log_.student})"
        shares = ", ".join(f"{label} {weights.share[kind]:.2f}" for kind, label in KIND_COLUMNS if kind in weights.share)
        if weights.differs_from_uniform:
            lines.append(f"- {name}: the learned weights **differ from uniform** at step {weights.step} "
                         f"(shares {shares}; the largest is {weights.ratio:.2f}× the smallest).")
        else:
            lines.append(f"- {name}: the learned weights **stay uniform** within {NON_UNIFORM_RATIO:g}× at step {weights.step} "
                         f"(shares {shares}; ratio {weights.ratio:.2f}): the difficulty-aware weighting did not act.")
    return "\n".join(lines or ["- No training log recorded a learned σ."]) + "\n"


def _claims_markdown(comparisons: list[Comparison]) -> str:
    lines = ["| Claim | Comparison | Score | Verdict | Evidence |", "|---|---|---|---|---|"]
    for c in comparisons:
        lines.append(f"| {c.claim} | {c.what} | {c.score} | **{c.verdict}** | {c.evidence.replace('|', '/')} |")
    counts = {v: sum(c.verdict == v for c in comparisons) for v in (HOLDS, OPPOSITE, INCONCLUSIVE, NOT_TESTED)}
    lines += ["", "Totals: " + ", ".join(f"{v} {n}" for v, n in counts.items()) + "."]
    return "\n".join(lines) + "\n"


def _figure(name: str) -> str:
    return f"![{contents.FIGURES[name]}](figures/{name}.png)\n\n*{contents.FIGURES[name]}*\n"


def report_markdown(tables: list[Table], comparisons: list[Comparison], settings: PaperSettings, published: Published,
                    results: Results, stats: Statistics, case: str) -> str:
    by_name = {table.name: table for table in tables}
    b = stats.settings
    seeds = by_name.get("table_seeds")
    seeds_claims = (
        "Where StepER and Vanilla-KD were trained with several seeds, the evidence adds the Acc difference per "
        "seed (seed i of one against seed i of the other): its mean ± sd over seeds and how many seeds StepER "
        "is higher. The verdict stays the run's seed's paired interval: a few seeds give a spread, not an interval.\n\n"
        if seeds else ""
    )
    seeds_section = ["### Training seeds", "", to_markdown(seeds)] if seeds else []
    sections = [
        f"# StepER reproduction report — run `{settings.run}`",
        "",
        f"Rendered by `steper paper render` from the result files its rule declares (manifest `{results.source}`; "
        f"{len(results.evals)} evaluation results). Main student `{settings.main_student}`, teacher "
        f"`{settings.teacher}`, datasets {', '.join(settings.datasets) or '(none)'}. EM/F1/Acc in %; "
        "– marks a system or cell that was not run.",
        "",
        f"Every EM/F1/Acc cell is the mean over the test questions with its {100 * b.level:g}% percentile-bootstrap "
        f"interval over questions ({b.resamples} resamples, seed {b.seed}), computed from each system's per-question "
        "scores. Comparisons of two systems are paired (the same questions, the same resamples); for 0/1 scores the "
        "exact McNemar test is given too.",
        "",
        "## Claims of the paper",
        "",
        "Each claim is split into comparisons and decided from the paired interval of the difference: **HOLDS** when "
        "the interval lies above zero, **OPPOSITE** when it lies below, **INCONCLUSIVE** when it contains zero (inside "
        "the noise, whatever the point estimates), NOT TESTED when a system was not run. Intervals are per comparison, "
        "not corrected for multiple comparisons.",
        "",
        seeds_claims + _claims_markdown(comparisons),
        "## Main results",
        "",
        to_markdown(by_name["table1_main"]),
        to_markdown(by_name["table3_selfask"]),
        *seeds_section,
        "## Loss weighting and step-data ablation",
        "",
        to_markdown(by_name["table2_loss_weighting"]),
        to_markdown(by_name["table_ablation_steps"]),
        _figure("fig3_abilities"),
        "### Ability-score definitions",
        "",
        ABILITY_DEFINITIONS,
        "",
        "## Rationale validity on sub-questions and cross-domain transfer",
        "",
        to_markdown(by_name["table4_subquestions"]),
        to_markdown(by_name["table_transfer"]),
        _figure("fig_transfer"),
        "## Scaling, latency and training",
        "",
        _figure("fig4_scaling"),
        to_markdown(by_name["table_scaling"]),
        _figure("fig_latency"),
        to_markdown(by_name["table_latency"]),
        _figure("fig_sigma"),
        "### Training budget and learned weighting",
        "",
        weighting_statement(results, settings),
        to_markdown(by_name["table_training"]),
        "Figures as PDF: " + ", ".join(f"[{name}](figures/{name}.pdf)" for name in FIGURES),
        "",
        "## Teacher and distillation data",
        "",
        to_markdown(by_name["table_teacher"]),
        to_markdown(by_name["table_stepwise_stats"]),
        _figure("fig1a_data_composition"),
        to_markdown(by_name["table_retrieval"]),
        case,
        "## Cost",
        "",
        to_markdown(by_name["table_cost"]),
        to_markdown(by_name["table_benchmarks"]),
        "## Published numbers",
        "",
        to_markdown(by_name["table_published"]),
    ]
    return "\n".join(sections)


def render(manifest: str | os.PathLike, output_dir: str | os.PathLike, settings: PaperSettings) -> list[Path]:
    """Write tables/, figures/, case_study.md, REPORT.md and steper_settings.json; return the files written."""
    results = load_manifest(manifest)
    published = load_published()
    stats = Statistics(settings.bootstrap_settings())
    tables = make_tables(results, settings, stats, published)
    comparisons = evaluate_claims(results, settings, stats, published)
    case = case_study(results, settings)
    output = Path(output_dir)
    files = OwnedFiles(output, inputs=[manifest])  # before mkdir: it tells whether steper made the directory
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".render.", dir=output))
    try:
        (staging / "tables").mkdir()
        (staging / "figures").mkdir()
        for table in tables:
            (staging / "tables" / f"{table.name}.md").write_text(to_markdown(table), encoding="utf-8")
            (staging / "tables" / f"{table.name}.tex").write_text(to_latex(table), encoding="utf-8")
        render_figures(results, settings, stats, staging / "figures")
        (staging / CASE_STUDY).write_text(case, encoding="utf-8")
        (staging / "REPORT.md").write_text(report_markdown(tables, comparisons, settings, published, results, stats, case), encoding="utf-8")
        save_resolved(staging / SETTINGS_FILE, settings, manifest=str(manifest))
        # Only now, with every file rendered, replace the old ones; other files in the directory
        # (e.g. the check rule's CHECK.txt) stay, and a file steper did not write stops the run.
        staged = sorted(p for p in staging.rglob("*") if p.is_file())
        written = [files.path(path.relative_to(staging).as_posix()) for path in staged]
        for path, target in zip(staged, written, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        files.record()
        shutil.rmtree(staging, ignore_errors=True)
    for comparison in comparisons:
        log.info("claim %s (%s): %s", comparison.claim_id, comparison.what, comparison.verdict)
    return written
