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
from steper.paper.claims import COMPARABLE_POINTS, Verdict, evaluate_claims
from steper.paper.definitions import PaperSettings
from steper.paper.figures import FIGURES, render_figures
from steper.paper.published import Published, load_published
from steper.paper.results import Results, load_results
from steper.paper.table import Table, to_latex, to_markdown
from steper.paper.tables import RESULT_TABLES, table_published
from steper.settings import save_resolved

log = logging.getLogger(__name__)


def _claims_markdown(verdicts: list[Verdict]) -> str:
    lines = ["| Claim | Verdict | Evidence |", "|---|---|---|"]
    for verdict in verdicts:
        lines.append(f"| {verdict.text} | **{verdict.verdict}** | {verdict.evidence.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def report_markdown(tables: list[Table], verdicts: list[Verdict], settings: PaperSettings, published: Published, results: Results) -> str:
    by_name = {table.name: table for table in tables}
    sections = [
        f"# StepER reproduction report — run `{settings.run}`",
        "",
        f"Rendered by `steper paper render` from the result files under `{results.root}` alone "
        f"({len(results.evals)} evaluation results). Main student `{settings.main_student}`, teacher "
        f"`{settings.teacher}`, datasets {', '.join(settings.datasets) or '(none)'}. EM/F1/Acc in %; "
        "– marks a system or cell that was not run.",
        "",
        "## Main results",
        "",
        to_markdown(by_name["table1_main"]),
        to_markdown(by_name["table3_selfask"]),
        "## Loss weighting and step-data ablation",
        "",
        to_markdown(by_name["table2_loss_weighting"]),
        to_markdown(by_name["table_ablation_steps"]),
        "![Figure 3](figures/fig3_abilities.png)",
        "",
        "### Ability-score definitions",
        "",
        ABILITY_DEFINITIONS,
        "",
        "## Scaling, latency and training",
        "",
        "![Figure 4: Acc vs student size](figures/fig4_scaling.png)",
        "",
        to_markdown(by_name["table_scaling"]),
        "![Latency vs accuracy](figures/fig_latency.png)",
        "",
        to_markdown(by_name["table_latency"]),
        "![σ trajectories](figures/fig_sigma.png)",
        "",
        "Figures as PDF: " + ", ".join(f"[{name}](figures/{name}.pdf)" for name in FIGURES),
        "",
        "## Data and retrieval",
        "",
        to_markdown(by_name["table_retrieval"]),
        to_markdown(by_name["table_stepwise_stats"]),
        to_markdown(by_name["table_teacher"]),
        "## Claims of the paper",
        "",
        f"Each qualitative claim tested on our results (Acc; 'comparable' = within {COMPARABLE_POINTS:g} points).",
        "",
        _claims_markdown(verdicts),
        "## Published numbers",
        "",
        to_markdown(by_name["table_published"]),
    ]
    return "\n".join(sections)


def render(results_dir: str | os.PathLike, output_dir: str | os.PathLike, settings: PaperSettings) -> list[Path]:
    """Write tables/, figures/, REPORT.md and steper_settings.json; return the files written."""
    results = load_results(results_dir)
    published = load_published()
    tables = [make(results, settings) for make in RESULT_TABLES.values()]
    tables.append(table_published(results, settings, published))
    verdicts = evaluate_claims(results, settings, published)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".render.", dir=output))
    try:
        (staging / "tables").mkdir()
        (staging / "figures").mkdir()
        for table in tables:
            (staging / "tables" / f"{table.name}.md").write_text(to_markdown(table), encoding="utf-8")
            (staging / "tables" / f"{table.name}.tex").write_text(to_latex(table), encoding="utf-8")
        render_figures(results, settings, staging / "figures")
        (staging / "REPORT.md").write_text(report_markdown(tables, verdicts, settings, published, results), encoding="utf-8")
        save_resolved(staging / "steper_settings.json", settings, results_dir=str(results_dir))
        # Only now, with every file rendered, replace the old ones; other files in the directory
        # (e.g. the check rule's CHECK.txt) stay.
        written = []
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            target = output / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            written.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for verdict in verdicts:
        log.info("claim %s: %s", verdict.claim_id, verdict.verdict)
    return written
