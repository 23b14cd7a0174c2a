"""Figure 1(b) of the paper as a case study rendered from the evaluation predictions.

Questions where the StepER and Vanilla-KD students disagree (one right, the other wrong, by Acc),
with both chains step by step and the titles of the passages each step retrieved (looked up in the
dataset's corpus). Chosen deterministically: StepER-right questions first, then the reverse, each
in question-id order, up to `n` per dataset.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tqdm import tqdm

from steper import layout
from steper.evaluate.aggregate import read_traces
from steper.io import InputError, read_jsonl_numbered
from steper.paper.definitions import PaperSettings
from steper.paper.results import EvalResult, Results

log = logging.getLogger(__name__)


def _titles(corpus: Path, wanted: set[str]) -> dict[str, str]:
    """Title of each wanted passage id, streamed from the corpus (a paper-tier corpus has millions of lines)."""
    titles: dict[str, str] = {}
    rows = read_jsonl_numbered(corpus, required=("id", "title"))
    for _, doc in tqdm(rows, desc=f"titles from {corpus.name}", unit=" passages", leave=False):
        if str(doc["id"]) in wanted:
            titles[str(doc["id"])] = str(doc["title"])
            if len(titles) == len(wanted):
                break
    missing = sorted(wanted - set(titles))
    if missing:
        raise InputError(corpus, f"retrieved passage id '{missing[0]}' is not in the corpus ({len(missing)} missing)", field="id")
    return titles


def _pick(steper: EvalResult, vanilla: EvalResult, n: int) -> list[tuple[str, bool]]:
    """(question id, StepER right) of up to n disagreeing questions."""
    a, b = steper.scores("acc"), vanilla.scores("acc")
    wins = sorted(q for q in a if q in b and a[q] == 1.0 and b[q] == 0.0)
    losses = sorted(q for q in a if q in b and a[q] == 0.0 and b[q] == 1.0)
    return [(q, True) for q in wins][:n] + [(q, False) for q in losses][: max(0, n - len(wins))]


def _traces(result: EvalResult, ids: set[str]) -> dict[str, dict[str, Any]]:
    if result.predictions is None:
        raise InputError(result.path, "the manifest gives no predictions file for the case study", field="predictions")
    traces = {trace["id"]: trace for trace in read_traces(result.predictions) if trace["id"] in ids}
    missing = sorted(ids - set(traces))
    if missing:
        raise InputError(result.predictions, f"has no prediction for question '{missing[0]}'", field="id")
    return traces


def _chain(label: str, trace: dict[str, Any], right: bool, titles: dict[str, str]) -> list[str]:
    lines = [f"**{label}** — prediction “{trace['prediction']}” ({'right' if right else 'wrong'})", ""]
    for step in sorted(trace["steps"], key=lambda step: step.get("step", 0)):
        retrieved = "; ".join(titles[str(doc)] for doc in step.get("retrieved") or []) or "(nothing new)"
        lines.append(f"{step.get('step', '?')}. query: {str(step.get('query') or '').strip()} · retrieved: {retrieved}")
        lines.append(f"   → {str(step.get('output') or '').strip()}")
    return lines + [""]


def case_study(results: Results, settings: PaperSettings) -> str:
    """Markdown of the case study; a short note instead when the systems or disagreements are missing."""
    steper, vanilla = settings.first("main", "is_steper"), settings.first("main", "is_vanilla_kd")
    lines = [f"## Figure 1(b): case study — StepER vs Vanilla-KD ({settings.main_student}, IRCoT)", ""]
    if steper is None or vanilla is None or settings.case_study < 1:
        return "\n".join(lines + ["(not configured: the main table needs a StepER and a Vanilla-KD method, and paper.case_study ≥ 1)", ""])
    shown = 0
    for dataset in settings.datasets:
        a = results.get("ircot", dataset, layout.student_system(settings.main_student, steper.name))
        b = results.get("ircot", dataset, layout.student_system(settings.main_student, vanilla.name))
        if a is None or b is None:
            continue
        picked = _pick(a, b, settings.case_study)
        if not picked:
            lines += [f"### {dataset}", "", "The two students agree on every question.", ""]
            continue
        ids = {qid for qid, _ in picked}
        chains = {steper.label: _traces(a, ids), vanilla.label: _traces(b, ids)}
        wanted = {str(doc) for traces in chains.values() for trace in traces.values() for step in trace["steps"] for doc in step.get("retrieved") or []}
        if dataset not in results.corpora:
            raise InputError(results.source, f"declares no corpus of {dataset} for the case study", field="corpora")
        titles = _titles(results.corpora[dataset], wanted) if wanted else {}
        for qid, steper_right in picked:
            trace = chains[steper.label][qid]
            lines += [f"### {dataset} — question {qid}", "", f"Q: {trace['question']}  ", f"Gold: {' / '.join(map(str, trace.get('answers') or []))}", ""]
            lines += _chain(steper.label, trace, steper_right, titles)
            lines += _chain(vanilla.label, chains[vanilla.label][qid], not steper_right, titles)
            shown += 1
    if not shown:
        lines += ["No disagreeing question: no evaluation pair of StepER and Vanilla-KD, or they agree everywhere.", ""]
    log.info("case study: %d questions", shown)
    return "\n".join(lines)
