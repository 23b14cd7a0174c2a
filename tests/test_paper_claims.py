"""The paper's claims (steper.paper.claims) decided on the fixture run, without rendering anything.

The fixture run (tests/fixtures/results/run, written by tests/fixtures/results/per_question.py) has
per-question rows whose paired differences are worked out in that script's docstring; the committed
fixture report (tests/fixtures/results/paper/REPORT.md) lists the comparisons they give, and every
comparison is checked against it field by field.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from steper.evaluate.bootstrap import Interval, McNemar
from steper.io import InputError
from steper.paper.claims import (
    HOLDS,
    INCONCLUSIVE,
    MATCHED,
    MATCHED_TEXT,
    NEEDS,
    NOT_TESTED,
    OPPOSITE,
    ClaimTester,
    Comparison,
    describe,
    describe_seeds,
    evaluate_claims,
    verdict,
)
from steper.paper.definitions import PaperSettings
from steper.paper.published import Published, load_published
from steper.paper.report import traces_statement
from steper.paper.results import EvalResult, TrainLog, load_manifest
from steper.paper.stats import Paired, SeedDifference, Statistics
from steper.paper.typeset import Spread
from steper.settings import parse_settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "results"


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the manifest names its files from the repository root


def settings_dict() -> dict:
    return json.loads((FIXTURE / "paper" / "steper_settings.json").read_text())["settings"]


def claim_tester(settings: dict | None = None, results=None) -> ClaimTester:
    parsed = parse_settings(settings or settings_dict(), PaperSettings)
    return ClaimTester(results or load_manifest(FIXTURE / "run" / "manifest.json"), parsed, Statistics(parsed.bootstrap_settings()), load_published())


def committed_rows() -> list[tuple[str, str, str, str, str]]:
    """(claim, what, score, verdict, evidence) of every row of the committed report's claims table."""
    lines = (FIXTURE / "paper" / "REPORT.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Claims of the paper"))
    rows = []
    for line in lines[start:]:
        if line.startswith("## ") and rows:
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[3].startswith("**"):
            rows.append((cells[0], cells[1], cells[2], cells[3].strip("*"), cells[4]))
    return rows


def as_row(comparison: Comparison) -> tuple[str, str, str, str, str]:
    return (comparison.claim, comparison.what, comparison.score, comparison.verdict, comparison.evidence)


def test_every_comparison_of_the_fixture_run_is_the_committed_one():
    parsed = parse_settings(settings_dict(), PaperSettings)
    results = load_manifest(FIXTURE / "run" / "manifest.json")
    comparisons = evaluate_claims(results, parsed, Statistics(parsed.bootstrap_settings()), load_published())
    assert [as_row(c) for c in comparisons] == committed_rows()
    assert len(comparisons) == 16 and {c.claim_id for c in comparisons} == {
        "steper_beats_vanilla", "selfask_gains", "learned_weights_best", "step_data_abilities", "scaling", "out_of_domain", "subqa_validity",
        "student_matches_teacher", "latency",
    }


def test_every_claim_of_the_paper_is_listed_and_one_without_comparison_says_what_it_needs():
    published = load_published()
    assert [claim["id"] for claim in published.claims if claim["id"] not in NEEDS] == []
    settings = settings_dict()
    settings["scaling_students"] = ["stu"]
    parsed = parse_settings(settings, PaperSettings)
    results = load_manifest(FIXTURE / "run" / "manifest.json")
    results.transfer.clear()
    comparisons = evaluate_claims(results, parsed, Statistics(parsed.bootstrap_settings()), published)
    untested = [(c.claim_id, c.what, c.score, c.evidence) for c in comparisons if c.what == "–"]
    assert untested == [
        (claim_id, "–", "–", NEEDS[claim_id]) for claim_id in ("student_matches_teacher", "scaling", "out_of_domain", "latency")
    ]
    assert all(c.verdict == NOT_TESTED and c.claim == claims_text(published, c.claim_id) for c in comparisons if c.what == "–")
    assert [c.claim_id for c in comparisons][-4:] == ["student_matches_teacher", "scaling", "out_of_domain", "latency"]


def claims_text(published, claim_id: str) -> str:
    return next(claim["text"] for claim in published.claims if claim["id"] == claim_id)


def paired(low: float, high: float, mcnemar: McNemar | None = None) -> Paired:
    return Paired(Interval((low + high) / 2, low, high, 10), mcnemar)


def test_verdict_needs_the_whole_interval_on_one_side():
    assert verdict(None, 0.95) == NOT_TESTED
    assert verdict(paired(0.5, 2.0), 0.95) == HOLDS
    assert verdict(paired(-2.0, -0.5), 0.95) == OPPOSITE
    assert verdict(paired(0.0, 2.0), 0.95) == INCONCLUSIVE  # an interval touching zero does not exclude it
    assert verdict(paired(-2.0, 0.0), 0.95) == INCONCLUSIVE
    assert verdict(paired(-1.0, 1.0), 0.95) == INCONCLUSIVE


def test_for_0_1_scores_mcnemar_must_agree_at_the_intervals_level():
    assert verdict(paired(1.0, 8.0, McNemar(4, 0, 0.125)), 0.95) == INCONCLUSIVE
    assert verdict(paired(1.0, 8.0, McNemar(4, 0, 0.125)), 0.8) == HOLDS  # p < 1 - level
    assert verdict(paired(1.0, 8.0, McNemar(5, 0, 0.0625)), 0.95) == INCONCLUSIVE
    assert verdict(paired(1.0, 8.0, McNemar(6, 0, 0.03125)), 0.95) == HOLDS
    assert verdict(paired(-8.0, -1.0, McNemar(0, 7, 0.0156)), 0.95) == OPPOSITE
    assert verdict(paired(-8.0, -1.0, McNemar(0, 4, 0.125)), 0.95) == INCONCLUSIVE
    assert verdict(paired(-1.0, 8.0, McNemar(9, 1, 0.02)), 0.95) == INCONCLUSIVE  # and the interval must exclude zero
    assert verdict(paired(1.0, 8.0, McNemar(2, 0, 0.5)), 0.5) == INCONCLUSIVE  # p must be below 1 - level, not equal


def test_four_discordant_questions_never_decide_a_claim():
    """The percentile bootstrap of 4:0 discordant on 100 questions excludes zero (no question of the
    4 is drawn in under 2.5% of resamples); the exact test gives p = 0.125."""
    stats = Statistics(parse_settings(settings_dict(), PaperSettings).bootstrap_settings())
    better, worse = [1.0] * 4 + [1.0] * 50 + [0.0] * 46, [0.0] * 4 + [1.0] * 50 + [0.0] * 46
    four = stats.paired_values(better, worse)
    assert four.difference.low > 0 and four.mcnemar == McNemar(4, 0, 0.125)
    assert claim_tester()._verdict(four) == INCONCLUSIVE
    better[54:60] = [1.0] * 6  # 10:0 discordant
    assert claim_tester()._verdict(stats.paired_values(better, worse)) == HOLDS


def test_evidence_text():
    assert describe(paired(-1.25, 3.75)) == "Δ +1.2 [-1.2, +3.8] points, n=10"
    assert describe(paired(1.0, 3.0, McNemar(4, 1, 0.375))) == "Δ +2.0 [+1.0, +3.0] points, n=10; McNemar 4:1 discordant, exact p=0.375"
    three = SeedDifference(Spread(2.0, 4.0), 3, 2, 0)
    assert describe_seeds(paired(-1.25, 5.25), three, "StepER") == (
        "over 3 seeds pooled per question (the verdict's interval): Δ +2.0 [-1.2, +5.2] points; "
        "per seed Δ +2.0 ± 4.0 (mean ± sd), StepER higher in 2 of 3"
    )
    tied = SeedDifference(Spread(-0.5, 0.7071), 2, 0, 1)
    assert describe_seeds(paired(-1.0, 0.0), tied, "X").endswith("per seed Δ -0.5 ± 0.7 (mean ± sd), X higher in 0 of 2, 1 tied")


def seed_result(right: list[int], system: str, seed: int) -> EvalResult:
    """Acc 1 on the questions in `right` out of q0..q9, its reported Acc consistent with the rows."""
    rows = [{"id": f"q{i}", "acc": float(i in right)} for i in range(10)]
    return EvalResult("ircot", "hotpotqa", system, Path(f"{system}-{seed}.json"), {"metrics": {"acc": 10.0 * len(right)}, "per_question": rows})


def test_several_seeds_are_decided_pooled_per_question():
    """Seed 0 alone (the fixture's run seed: StepER 72 vs 60 of 200, 12:0 discordant) HOLDS. Over three
    seeds of ten questions StepER is right on q0 in every seed and Vanilla-KD never, but each is right on
    q1..q4 in two of three seeds (Acc 30/30/50 against 40/20/20): the pooled difference is +10 points,
    all of it on one question of ten, which no interval over questions separates from zero."""
    claims = claim_tester()
    claims.results.seeds[("ircot", "hotpotqa", "stu--steper")] = {
        s: seed_result(right, "stu--steper", s) for s, right in enumerate([[0, 1, 2], [0, 3, 4], [0, 1, 2, 3, 4]])}
    claims.results.seeds[("ircot", "hotpotqa", "stu--vanilla_kd")] = {
        s: seed_result(right, "stu--vanilla_kd", s) for s, right in enumerate([[1, 2, 3, 4], [1, 2], [3, 4]])}
    hotpot, musique = claims.steper_beats_vanilla()[:2]
    assert hotpot.verdict == INCONCLUSIVE
    pooled = hotpot.evidence.split("; over 3 seeds pooled per question (the verdict's interval): ")[1]
    assert pooled.startswith("Δ +10.0 [+0.0, +30.0] points; per seed Δ +10.0 ± 20.0 (mean ± sd), StepER higher in 2 of 3")
    assert hotpot.evidence.startswith("StepER 36.0 vs Vanilla-KD 30.0; Δ +6.0")  # the run seed's comparison comes first
    assert "seeds" not in musique.evidence and musique.verdict == HOLDS
    # one seed in common: the run seed's verdict and no pooled result
    claims.results.seeds[("ircot", "hotpotqa", "stu--vanilla_kd")] = {
        5: seed_result([1], "stu--vanilla_kd", 5), 0: seed_result([1, 2, 3, 4], "stu--vanilla_kd", 0)}
    alone = claims.steper_beats_vanilla()[0]
    assert "seeds" not in alone.evidence and alone.verdict == HOLDS


def test_pooling_needs_every_seed_scored_per_question():
    claims = claim_tester()
    claims.results.seeds[("ircot", "hotpotqa", "stu--steper")] = {s: seed_result([0], "stu--steper", s) for s in range(2)}
    no_rows = EvalResult("ircot", "hotpotqa", "stu--vanilla_kd", Path("v-1.json"), {"metrics": {"acc": 0.0}})
    claims.results.seeds[("ircot", "hotpotqa", "stu--vanilla_kd")] = {0: seed_result([], "stu--vanilla_kd", 0), 1: no_rows}
    with pytest.raises(InputError, match="v-1.json.*per_question"):
        claims.steper_beats_vanilla()


def with_matched_vanilla(claims: ClaimTester) -> ClaimTester:
    """The fixture with a Vanilla-KD trained for StepER's steps on IRCoT/hotpotqa (its scores are Vanilla-KD's)."""
    settings = settings_dict()
    settings["methods"]["vanilla_matched"] = {"data": "final", "loss": "vanilla", "label": "Vanilla-KD (matched)", "tables": ["main"],
                                              "match_steps_of": "steper"}
    results = copy.copy(claims.results)
    results.evals = dict(results.evals)
    vanilla = results.evals[("ircot", "hotpotqa", "stu--vanilla_kd")]
    results.evals[("ircot", "hotpotqa", "stu--vanilla_matched")] = dataclasses.replace(vanilla, system="stu--vanilla_matched", path=Path("m.json"))
    results.train_logs = [
        TrainLog("ircot", "hotpotqa", "stu", "steper", Path("s.jsonl"), [{"step": 5}, {"step": 12, "supervised_tokens": {"first": 900, "final": 1100}}]),
        TrainLog("ircot", "hotpotqa", "stu", "vanilla_matched", Path("v.jsonl"), [{"step": 12, "supervised_tokens": None}, {"note": "end"}]),
    ]
    return claim_tester(settings, results)


def test_the_matched_control_follows_each_main_comparison_with_both_budgets():
    claims = with_matched_vanilla(claim_tester())
    comparisons = claims.steper_beats_vanilla()
    assert [(c.claim_id, c.what) for c in comparisons] == [
        ("steper_beats_vanilla", "IRCoT, hotpotqa"), (MATCHED, "IRCoT, hotpotqa"),  # the control only where it was run
        ("steper_beats_vanilla", "IRCoT, musique"), ("selfask_gains", "Self-Ask, hotpotqa"),
    ]
    matched = comparisons[1]
    assert matched.claim == MATCHED_TEXT and matched.verdict == HOLDS
    assert matched.evidence == (
        "StepER 36.0 vs Vanilla-KD (matched) 30.0; Δ +6.0 [+3.0, +9.5] points, n=200; McNemar 12:0 discordant, exact p=0.000488; "
        "trained: StepER 12 optimizer steps, 2,000 supervised tokens; Vanilla-KD (matched) 12 optimizer steps"
    )
    assert "trained" not in comparisons[0].evidence  # the paper's comparison carries no budget
    # without training logs the control is reported without budgets
    claims.results.train_logs = []
    assert "trained" not in claims.steper_beats_vanilla()[1].evidence


def test_a_main_table_without_steper_or_vanilla_tests_nothing():
    settings = settings_dict()
    settings["methods"] = {name: spec for name, spec in settings["methods"].items() if name != "vanilla_kd"}
    (only,) = claim_tester(settings).steper_beats_vanilla()
    assert only.claim_id == "steper_beats_vanilla"
    assert (only.verdict, only.evidence, only.what, only.score) == (
        NOT_TESTED, "the config's main table lacks a StepER or a Vanilla-KD method", "–", "acc")
    assert only.claim == "StepER beats Vanilla-KD on every dataset (average +9.5% accuracy, relative)"
    settings["methods"] = {name: spec for name, spec in settings_dict()["methods"].items() if name != "steper"}
    claims = claim_tester(settings)
    assert [c.verdict for c in claims.steper_beats_vanilla()] == [NOT_TESTED]
    assert claims.learned_weights_best() == [] and claims.out_of_domain() == [] and claims.subqa_validity() == []


def test_scaling_compares_each_student_with_the_next_smaller_one():
    claims = claim_tester()
    comparisons = claims.scaling()
    assert [c.what for c in comparisons] == ["Vanilla-KD, hotpotqa: stu vs stu-s", "StepER, hotpotqa: stu vs stu-s"]
    # without a parameter count a student cannot be placed by size
    for key, result in list(claims.results.evals.items()):
        if key[2].startswith("stu-s--"):
            claims.results.evals[key] = dataclasses.replace(result, data={k: v for k, v in result.data.items() if k != "n_parameters"})
    assert claims.scaling() == []


def test_missing_systems_are_not_tested_and_nothing_when_neither_ran():
    claims = claim_tester()
    for key in [key for key in claims.results.evals if key[1] == "musique" and key[2] == "stu--vanilla_kd"]:
        del claims.results.evals[key]
    musique = [c for c in claims.steper_beats_vanilla() if c.what == "IRCoT, musique"]
    assert [(c.verdict, c.evidence) for c in musique] == [(NOT_TESTED, "no result for Vanilla-KD")]
    del claims.results.evals[("ircot", "musique", "stu--steper")]
    assert not [c for c in claims.steper_beats_vanilla() if c.what == "IRCoT, musique"]


def test_subquestion_validity_needs_both_systems_sub_results():
    claims = claim_tester()
    key = next(key for key in claims.results.subquestions if key[2] == "stu--vanilla_kd")
    del claims.results.subquestions[key]
    (comparison,) = claims.subqa_validity()
    assert (comparison.claim_id, comparison.claim) == ("subqa_validity", claims.texts["subqa_validity"])
    assert (comparison.verdict, comparison.evidence, comparison.score) == (NOT_TESTED, "sub-question results missing", "acc")
    assert comparison.what == "IRCoT, hotpotqa: share with question and sub-questions right"


def test_claim_texts_fall_back_to_the_claim_id():
    parsed = parse_settings(settings_dict(), PaperSettings)
    claims = ClaimTester(load_manifest(FIXTURE / "run" / "manifest.json"), parsed, Statistics(parsed.bootstrap_settings()), Published({}))
    assert {c.claim for c in claims.all()} == {
        "steper_beats_vanilla", "selfask_gains", "learned_weights_best", "step_data_abilities", "scaling", "out_of_domain", "subqa_validity"}
    settings = settings_dict()
    settings["methods"] = {name: spec for name, spec in settings["methods"].items() if name != "vanilla_kd"}
    parsed = parse_settings(settings, PaperSettings)
    lacking = ClaimTester(load_manifest(FIXTURE / "run" / "manifest.json"), parsed, Statistics(parsed.bootstrap_settings()), Published({}))
    assert lacking.steper_beats_vanilla()[0].claim == ""


def test_compare_without_results_or_common_questions():
    claims = claim_tester()
    comparison = claims.compare("scaling", "x", None, None, "acc", ("A", "B"))
    assert (comparison.claim_id, comparison.verdict, comparison.evidence) == ("scaling", NOT_TESTED, "no result for A and B")
    steper = claims.results.evals[("ircot", "hotpotqa", "stu--steper")]

    def expansion_on(name, ids):
        rows = [{"id": qid, "expansion": 1.0} for qid in ids]
        return EvalResult("ircot", "hotpotqa", name, Path(f"{name}.json"), {"metrics": {}, "abilities": {"expansion": 100.0}, "per_question": rows})

    disjoint = claims.compare("step_data_abilities", "y", expansion_on("a", ["q1"]), expansion_on("b", ["q2"]), "expansion", ("A", "B"))
    assert disjoint == Comparison("step_data_abilities", claims.texts["step_data_abilities"], "y", "expansion", NOT_TESTED,
                                  "no question where both define expansion")
    assert claims.compare("unknown_claim", "z", steper, steper, "acc", ("A", "B")).claim == "unknown_claim"


def test_scaling_students_are_the_size_study_s_in_config_order_for_equal_sizes():
    settings = settings_dict()
    settings["scaling_students"] = ["stu"]
    assert claim_tester(settings).scaling() == []  # one student of the size study: nothing to compare
    settings["scaling_students"] = []
    assert len(claim_tester(settings).scaling()) == 2  # none named: every student
    claims = claim_tester()
    for key, result in list(claims.results.evals.items()):
        if key[2].startswith("stu-s--"):
            size = claims.results.evals[(key[0], key[1], key[2].replace("stu-s--", "stu--"))].n_parameters
            claims.results.evals[key] = dataclasses.replace(result, data={**result.data, "n_parameters": size})
    # equal sizes keep the order of scaling_students (stu-s, stu): stu is the "larger"
    assert [c.what for c in claims.scaling()] == ["Vanilla-KD, hotpotqa: stu vs stu-s", "StepER, hotpotqa: stu vs stu-s"]


def without_method(name: str) -> dict:
    settings = settings_dict()
    settings["methods"] = {method: spec for method, spec in settings["methods"].items() if method != name}
    return settings


def test_each_data_ablation_step_needs_both_of_its_methods():
    assert claim_tester(without_method("final_plus_first")).step_data_abilities() == []
    # without Vanilla-KD's final-step data only the mid-step comparison remains
    settings = settings_dict()
    settings["methods"]["vanilla_kd"]["tables"] = ["main"]
    comparisons = claim_tester(settings).step_data_abilities()
    assert [c.what for c in comparisons] == ["Final + first + mid-step data vs Final + first-step data, hotpotqa"]


def test_a_dataset_where_neither_system_ran_is_skipped_and_the_next_one_still_compared():
    claims = claim_tester()
    for system in ("stu--final_plus_first", "stu--vanilla_kd"):
        claims.results.evals.pop(("ircot", "hotpotqa", system), None)
    assert [c.what for c in claims.step_data_abilities()] == [
        "Final + first-step data vs Vanilla-KD, musique", "Final + first + mid-step data vs Final + first-step data, hotpotqa"]
    claims = claim_tester()
    for system in ("stu--steper", "stu--vanilla_kd"):
        del claims.results.evals[("ircot", "hotpotqa", system)]
    assert [c.what for c in claims.steper_beats_vanilla()] == ["IRCoT, musique", "Self-Ask, hotpotqa"]


def test_a_missing_steper_is_not_tested_against_a_vanilla_that_ran():
    claims = claim_tester()
    del claims.results.evals[("ircot", "musique", "stu--steper")]
    musique = [c for c in claims.steper_beats_vanilla() if c.what == "IRCoT, musique"]
    assert [(c.verdict, c.evidence) for c in musique] == [(NOT_TESTED, "no result for StepER")]


def test_seed_evidence_needs_seeds_of_both_systems():
    claims = claim_tester()
    claims.results.seeds[("ircot", "hotpotqa", "stu--steper")] = {s: seed_result(right, "stu--steper", s) for s, right in enumerate([[0], [1]])}
    hotpot = claims.steper_beats_vanilla()[0]
    assert "seeds" not in hotpot.evidence and hotpot.verdict == HOLDS


def sub_result(system: str, dataset: str, ids: list[str]) -> EvalResult:
    rows = [{"id": f"{qid}#{hop}", "acc": 1.0} for qid in ids for hop in (1, 2)]
    return EvalResult("ircot", dataset, system, Path(f"{dataset}-{system}-sub.json"), {"metrics": {"acc": 100.0}, "per_question": rows})


def test_subquestion_validity_per_dataset_and_without_common_questions():
    claims = claim_tester()
    subs = claims.results.subquestions
    # another system's sub-questions, sorted before StepER's, are not a comparison of their own
    subs[("ircot", "hotpotqa", "stu--aaa")] = sub_result("stu--aaa", "hotpotqa", ["q000"])
    for system in ("stu--steper", "stu--vanilla_kd"):
        claims.results.evals[("ircot", "musique", system)] = dataclasses.replace(
            claims.results.evals[("ircot", "hotpotqa", system)], dataset="musique")
    subs[("ircot", "musique", "stu--steper")] = sub_result("stu--steper", "musique", ["q000", "q001"])
    subs[("ircot", "musique", "stu--vanilla_kd")] = sub_result("stu--vanilla_kd", "musique", ["q100", "q101"])
    del subs[("ircot", "hotpotqa", "stu--vanilla_kd")]
    hotpot, musique = claims.subqa_validity()
    assert (hotpot.claim_id, hotpot.claim, hotpot.verdict) == ("subqa_validity", claims.texts["subqa_validity"], NOT_TESTED)
    systems = (("StepER", subs[("ircot", "musique", "stu--steper")]), ("Vanilla-KD", subs[("ircot", "musique", "stu--vanilla_kd")]))
    assert musique == Comparison("subqa_validity", claims.texts["subqa_validity"], "IRCoT, musique: share with question and sub-questions right",
                                 "both right", NOT_TESTED, "no question in common", systems)


def test_the_traces_section_lists_only_comparisons_that_do_not_hold():
    holds = Comparison("c", "claim", "IRCoT, hotpotqa", "acc", HOLDS, "", None)
    untested = Comparison("c", "claim", "IRCoT, musique", "acc", NOT_TESTED, "no result for StepER")
    assert traces_statement([holds, untested]).endswith("\n- Every tested comparison holds.\n")


def test_a_sub_question_comparison_reports_the_answers_its_chains_passed_over(tmp_path):
    def sub(system: str, wrong: int) -> EvalResult:
        predictions = tmp_path / f"{system}.predictions.jsonl"
        traces = [{"id": f"q{i}#1", "question": "?", "answers": ["Rushaven"], "prediction": "Morvath",
                   "steps": [{"step": 1, "output": "born in Rushaven."}, {"step": 2, "output": "So the answer is: Morvath."}]}
                  for i in range(wrong)]
        predictions.write_text("".join(json.dumps(t) + "\n" for t in traces))
        rows = [{"id": f"q{i}#1", "acc": float(i >= wrong)} for i in range(3)]
        return EvalResult("ircot", "hotpotqa", system, tmp_path / f"{system}.json", {"per_question": rows}, predictions)

    opposite = Comparison("subqa_validity", "claim", "IRCoT, hotpotqa: share", "both right", OPPOSITE, "",
                          (("StepER", sub("stu--steper", 2)), ("Vanilla-KD", sub("stu--vanilla_kd", 1))))
    assert traces_statement([opposite]).endswith(
        "\n- **OPPOSITE**, IRCoT, hotpotqa: share (both right): StepER 2 sub-questions wrong of 3, 2 passed over; "
        "Vanilla-KD 1 sub-questions wrong of 3, 1 passed over.\n")
    no_predictions = dataclasses.replace(opposite.systems[1][1], predictions=None)
    assert "Vanilla-KD: no predictions file" in traces_statement([dataclasses.replace(opposite, systems=(opposite.systems[0], ("Vanilla-KD", no_predictions)))])


def test_a_comparison_carries_both_systems_for_their_traces():
    claims = claim_tester()
    better, worse = (claims.results.get("ircot", "hotpotqa", f"stu--{m}") for m in ("steper", "vanilla_kd"))
    comparison = claims.compare("steper_beats_vanilla", "x", better, worse, "acc", ("StepER", "Vanilla-KD"))
    assert comparison.systems == (("StepER", better), ("Vanilla-KD", worse))
    assert claims.compare("steper_beats_vanilla", "x", better, None, "acc", ("StepER", "Vanilla-KD")).systems is None


def test_seeds_are_pooled_only_where_the_better_system_has_them():
    claims = claim_tester()
    claims.results.seeds[("ircot", "hotpotqa", "stu--vanilla_kd")] = {s: seed_result([1, 2], "stu--vanilla_kd", s) for s in range(3)}
    hotpot = claims.steper_beats_vanilla()[0]
    assert "seeds" not in hotpot.evidence and hotpot.verdict == HOLDS


def test_a_pooled_seed_without_its_reported_score_is_named():
    claims = claim_tester()
    claims.results.seeds[("ircot", "hotpotqa", "stu--steper")] = {s: seed_result([1, 2], "stu--steper", s) for s in range(3)}
    claims.results.seeds[("ircot", "hotpotqa", "stu--vanilla_kd")] = {s: seed_result([1, 2], "stu--vanilla_kd", s) for s in (0, 2)}
    claims.results.seeds[("ircot", "hotpotqa", "stu--vanilla_kd")][2].data["metrics"].pop("acc")
    with pytest.raises(InputError) as error:
        claims.steper_beats_vanilla()
    assert str(error.value) == "stu--vanilla_kd-2.json: field 'metrics.acc' reports no acc beside its per-question rows"
