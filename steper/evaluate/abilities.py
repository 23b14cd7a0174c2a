"""Per-step ability scores: an automatic proxy for the paper's GPT-4-judged Figure 3.

StepER's Figure 3 asks GPT-4 whether a chain initialises, expands and aggregates its reasoning
correctly. We have no judge model, but every question with a gold decomposition (toy world,
MuSiQue, 2WikiMultihopQA from its evidence triples) tells us which intermediate answer each hop
must reach, so the three abilities can be measured as string containment. The proxy is strict
(a paraphrased hop answer counts as missed) and says nothing about reasoning validity beyond
reaching the right entities: a conservative, reproducible measure to compare methods, not a GPT-4 replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from steper.data.corpus import passage_id
from steper.metrics import normalize_answer, score
from steper.retrieval.corpus import Retriever
from steper.retrieval.evaluation import found, match_keys

ABILITY_DEFINITIONS = """\
Ability scores (automatic proxy for the paper's GPT-4 judgement, Figure 3). A question with a gold
decomposition has hop answers a_1 … a_n (n ≥ 2; a_n is the final answer); the chain has step
outputs o_1 … o_S (for Self-Ask, o_s is the s-th intermediate answer, i.e. the output of step s+1:
a Self-Ask step begins with the answer to the previous step's follow-up question, so its first step
only asks). "x appears in o" means the normalised x (HotpotQA normalisation, no aliases) occurs
in the normalised o as a whole-token span.
- Initialization: % of questions with n ≥ 2 whose first step output o_1 contains a_1.
- Expansion: over questions with n ≥ 3 (undefined for 2-hop questions, which are excluded), the
  fraction of intermediate hop answers a_2 … a_{n-1} that appear in any later step output
  o_2 … o_S, averaged over questions (%). The chain length is the model's choice, so a hop only
  has to be reached after the first step, not at a fixed step.
- Aggregation: Acc of the final prediction (max over the answer aliases) over the questions with
  n ≥ 2 whose step outputs o_1 … o_S contain every intermediate answer a_1 … a_{n-1}: given that
  the chain collected the evidence, did it conclude the right answer (%).
- Supporting recall: % of a question's gold supporting passages among the documents retrieved at
  any step, averaged over questions with supporting passages. A passage is matched by its corpus id
  (first 16 hex of sha256(title + " " + text)); when the index is available (`steper evaluate run`)
  a passage the index does not hold (HotpotQA's abstracts corpus) is matched by title instead,
  exactly as `steper retrieval evaluate` does.
Each score comes with its number of questions (n_*); a score with no defined question is null."""


def appears(answer: str, text: str) -> bool:
    """Whole-token containment after normalisation, so '19' is not found inside '1999'."""
    needle = normalize_answer(answer)
    if not needle:
        return False
    return f" {needle} " in f" {normalize_answer(text)} "


def _in_any(answer: str, outputs: list[str]) -> bool:
    """Whether one of the outputs contains `answer` (each on its own: normalisation would join the
    end of one step to the start of the next into a span neither wrote)."""
    return any(appears(answer, output) for output in outputs)


def _outputs(trace: Mapping[str, Any]) -> list[str]:
    """The reasoning text of each hop, in order (see ABILITY_DEFINITIONS for Self-Ask's shift)."""
    outputs = [str(step.get("output") or "") for step in sorted(trace["steps"], key=lambda step: step.get("step", 0))]
    if trace.get("framework") == "selfask" and len(outputs) > 1:
        return outputs[1:]
    return outputs


def supporting_recall(trace: Mapping[str, Any], record: Mapping[str, Any], retriever: Retriever | None = None) -> float | None:
    """Fraction of the supporting passages retrieved at any step; by id, or by title via the index."""
    supporting = [(p["title"], p["text"]) for p in record.get("supporting") or []]
    if not supporting:
        return None
    retrieved = list(dict.fromkeys(doc for step in trace["steps"] for doc in step.get("retrieved") or []))
    if retriever is None:
        ids = set(retrieved)
        return sum(passage_id(title, text) in ids for title, text in supporting) / len(supporting)
    return found(match_keys(retriever, supporting), [retriever.doc(doc) for doc in retrieved]) / len(supporting)


def question_abilities(trace: Mapping[str, Any], record: Mapping[str, Any], retriever: Retriever | None = None) -> dict[str, float | None]:
    """The four per-question scores in [0, 1]; None where the definition excludes the question."""
    outputs = _outputs(trace)
    hops = [str(hop.get("answer") or "") for hop in record.get("decomposition") or []]
    result: dict[str, float | None] = {
        "initialization": None,
        "expansion": None,
        "aggregation": None,
        "supporting_recall": None,
    }
    if len(hops) >= 2 and outputs:
        result["initialization"] = float(appears(hops[0], outputs[0]))
        middle = [hop for hop in hops[1:-1] if normalize_answer(hop)]
        if middle:
            result["expansion"] = sum(_in_any(hop, outputs[1:]) for hop in middle) / len(middle)
        if all(_in_any(hop, outputs) for hop in hops[:-1]):
            result["aggregation"] = score(trace["prediction"], record.get("answers") or []).acc
    result["supporting_recall"] = supporting_recall(trace, record, retriever)
    return result


def ability_scores(
    traces: Iterable[Mapping[str, Any]], records: Mapping[str, Mapping[str, Any]], retriever: Retriever | None = None
) -> dict[str, float | int | None]:
    """Macro-averaged ability scores in percent with their question counts (see ABILITY_DEFINITIONS)."""
    values: dict[str, list[float]] = {name: [] for name in ("initialization", "expansion", "aggregation", "supporting_recall")}
    for trace in traces:
        record = records.get(trace["id"])
        if record is None:
            continue
        for name, value in question_abilities(trace, record, retriever).items():
            if value is not None:
                values[name].append(value)
    result: dict[str, float | int | None] = {}
    for name, scores in values.items():
        result[name] = 100.0 * sum(scores) / len(scores) if scores else None
        result[f"n_{name}"] = len(scores)
    return result
