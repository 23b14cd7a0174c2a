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

from steper import layout
from steper.evaluate.abilities import ABILITY_DEFINITIONS
from steper.io import OwnedFiles
from steper.layout import SETTINGS_FILE
from steper.paper import contents
from steper.paper.casestudy import case_study
from steper.paper.claims import HOLDS, INCONCLUSIVE, NOT_TESTED, OPPOSITE, Comparison, evaluate_claims
from steper.paper.definitions import PaperSettings
from steper.paper.figures import render_figures
from steper.paper.published import Published, load_published
from steper.paper.results import EvalResult, Results, load_manifest
from steper.paper.stats import Statistics
from steper.paper.tables import ERROR_KINDS, KIND_COLUMNS, error_counts, make_tables, passed_over
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


def run_contents(results: Results, settings: PaperSettings) -> contents.Contents:
    """What this run renders, from its settings and its manifest's sections, with the function the
    workflow declares the paper rule's outputs with (steper/plan/paper.py)."""
    size_study = [
        student for student in settings.scaling_students or settings.students
        if any(results.get("ircot", dataset, layout.student_system(student, method.name)) is not None
               for dataset in settings.datasets for method in settings.in_table("scaling"))
    ]
    return contents.run_contents(
        frameworks=settings.frameworks, baselines=settings.baselines, size_study=size_study,
        transfer=bool(results.transfer), subquestions=bool(results.subquestions),
        several_seeds=any(len(by_seed) > 1 for by_seed in results.seeds.values()),
    )


def _figure(name: str) -> str:
    return f"![{contents.FIGURES[name]}](figures/{name}.png)\n\n*{contents.FIGURES[name]}*\n"


def _transfer_heading(shown: contents.Contents) -> list[str]:
    subquestions, transfer = "table4_subquestions" in shown.tables, "table_transfer" in shown.tables
    if not (subquestions or transfer):
        return []
    both = "Rationale validity on sub-questions and cross-domain transfer"
    return [f"## {both if subquestions and transfer else 'Rationale validity on sub-questions' if subquestions else 'Cross-domain transfer'}", ""]


def _trace_side(claim_id: str, label: str, result: EvalResult) -> str:
    if claim_id == "subqa_validity":
        over = passed_over(result)
        if over is None:
            return f"{label}: no predictions file"
        return f"{label} {over.wrong} sub-questions wrong of {len(result.scores('acc'))}, {over.passed_over} passed over"
    errors = error_counts(result)
    return f"{label} {errors.wrong} wrong of {errors.questions} ({' / '.join(map(str, errors.kinds))})"


def traces_statement(comparisons: list[Comparison]) -> str:
    """For each comparison that does not hold, both systems' wrong answers by error kind (which hop
    the difference, or its absence, comes from), or for sub-questions how many they passed over."""
    kinds = " / ".join(ERROR_KINDS)
    shown = [c for c in comparisons if c.verdict in (OPPOSITE, INCONCLUSIVE) and c.systems is not None]
    subquestions = (
        "; for sub-question comparisons, each system's wrong sub-answers and how many of them a step before the chain's "
        "last had already found (passed over, Table 4)" if any(c.claim_id == "subqa_validity" for c in shown) else ""
    )
    lines = [
        "### What the traces show where a comparison does not hold",
        "",
        f"Each system's wrong answers (the run's seed) by the first gold hop its chain missed ({kinds}; defined under "
        f"'Where the wrong answers go wrong'){subquestions}.",
        "",
    ]
    for c in shown:
        sides = [_trace_side(c.claim_id, label, result) for label, result in c.systems]  # type: ignore[union-attr]
        lines.append(f"- **{c.verdict}**, {c.what} ({c.score}): {'; '.join(sides)}.")
    return "\n".join(lines if shown else [*lines, "- Every tested comparison holds."]) + "\n"


def report_markdown(tables: list[Table], comparisons: list[Comparison], settings: PaperSettings, published: Published,
                    results: Results, stats: Statistics, case: str, shown: contents.Contents) -> str:
    by_name = {table.name: table for table in tables}

    def table(name: str) -> list[str]:
        return [to_markdown(by_name[name])] if name in by_name else []

    def figure(name: str) -> list[str]:
        return [_figure(name)] if name in shown.figures else []

    b = stats.settings
    seeds = by_name.get("table_seeds")
    seeds_claims = (
        "Where StepER and Vanilla-KD were trained with several seeds, the comparison is decided pooled over the "
        "seeds both have: each question's Acc is averaged over the seeds and the difference is bootstrapped over "
        "questions (the seeds are fixed, not sampled). The evidence starts with the run's seed, as in the tables, "
        "and adds the pooled interval and the Acc difference per seed (seed i of one against seed i of the other): "
        "its mean ± sd over seeds and how many seeds StepER is higher.\n\n"
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
        *([shown.not_run, ""] if shown.not_run else []),
        f"Every EM/F1/Acc cell is the mean over the test questions with its {100 * b.level:g}% percentile-bootstrap "
        f"interval over questions ({b.resamples} resamples, seed {b.seed}), computed from each system's per-question "
        "scores. Comparisons of two systems are paired (the same questions, the same resamples); for 0/1 scores the "
        "exact McNemar test is given too.",
        "",
        "## Claims of the paper",
        "",
        "Each claim is split into comparisons and decided from the paired interval of the difference: **HOLDS** when "
        "the interval lies above zero, **OPPOSITE** when it lies below, **INCONCLUSIVE** when it contains zero (inside "
        "the noise, whatever the point estimates), NOT TESTED when a system was not run. For 0/1 scores the exact "
        f"McNemar test must agree (p < {1 - b.level:.2g}), or the comparison is INCONCLUSIVE: with few discordant "
        "questions the percentile bootstrap is too liberal. Intervals are per comparison, not corrected for multiple "
        "comparisons.",
        "",
        seeds_claims + _claims_markdown(comparisons),
        traces_statement(comparisons),
        "## Main results",
        "",
        to_markdown(by_name["table1_main"]),
        *table("table3_selfask"),
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
        "### Where the wrong answers go wrong",
        "",
        to_markdown(by_name["table_errors"]),
        *_transfer_heading(shown),
        *table("table4_subquestions"),
        *table("table_transfer"),
        *figure("fig_transfer"),
        "## Scaling, latency and training",
        "",
        *figure("fig4_scaling"),
        to_markdown(by_name["table_scaling"]),
        _figure("fig_latency"),
        to_markdown(by_name["table_latency"]),
        _figure("fig_sigma"),
        "### Training budget and learned weighting",
        "",
        weighting_statement(results, settings),
        to_markdown(by_name["table_training"]),
        "Figures as PDF: " + ", ".join(f"[{name}](figures/{name}.pdf)" for name in shown.figures),
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
    shown = run_contents(results, settings)
    tables = make_tables(results, settings, stats, published, shown.tables)
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
        render_figures(results, settings, stats, staging / "figures", shown.figures)
        (staging / CASE_STUDY).write_text(case, encoding="utf-8")
        (staging / "REPORT.md").write_text(report_markdown(tables, comparisons, settings, published, results, stats, case, shown), encoding="utf-8")
        save_resolved(staging / SETTINGS_FILE, settings, manifest=str(manifest))
        # Only now, with every file rendered, replace the old ones; other files in the directory
        # (e.g. the check rule's CHECK.txt) stay, and a file steper did not write stops the run.
        staged = sorted(p for p in staging.rglob("*") if p.is_file())
        written = [files.path(path.relative_to(staging).as_posix()) for path in staged]
        for path, target in zip(staged, written, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        # A table or figure of an earlier render that this run does not produce would read as its result.
        rendered = {path.relative_to(staging).as_posix() for path in staged}
        for name in sorted(files.known - rendered):
            if name.startswith(("tables/", "figures/")):
                files.remove(name)
    finally:
        files.record()
        shutil.rmtree(staging, ignore_errors=True)
    for comparison in comparisons:
        log.info("claim %s (%s): %s", comparison.claim_id, comparison.what, comparison.verdict)
    return written
