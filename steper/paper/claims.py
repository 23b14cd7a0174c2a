"""The paper's claims, each decided from paired confidence intervals, never from point estimates.

A claim is split into comparisons (one per dataset and framework, per pair of weightings, per pair
of sizes ...). Each comparison is a paired bootstrap of the difference on the same questions:
HOLDS when the whole interval lies on the claimed side of zero, OPPOSITE when it lies on the other
side, INCONCLUSIVE when it contains zero (the difference is inside the noise, whatever the point
estimates say); NOT TESTED when the systems were not run. For 0/1 scores the exact McNemar test
must agree at the same level: with few discordant questions the percentile bootstrap is too liberal
(4:0 discordant gives an interval above zero, while no 4 questions can reach p < 0.05). The
intervals are per comparison, not corrected for multiple comparisons; with many comparisons a few
may exclude zero by chance.

When StepER and a Vanilla-KD were trained with several seeds, their comparison is decided pooled
over the seeds both have (each question's Acc averaged over the seeds, paired bootstrap over
questions): one seed's draw of the training order no longer decides the verdict. The evidence keeps
the run seed's comparison and adds the pooled interval and the difference per seed (mean ± sd, how
many seeds StepER wins), which shows the spread the pooled interval, over questions, leaves out.

The paper compares StepER and Vanilla-KD at equal epochs, which gives StepER more optimizer steps
(it has three kinds of examples per trace). When the config has a Vanilla-KD with `match_steps_of`
StepER, each of those comparisons is followed by the budget-matched one, with both budgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from steper import layout
from steper.io import InputError
from steper.paper.definitions import FRAMEWORK_LABELS, Method, PaperSettings
from steper.paper.published import Published
from steper.paper.results import EvalResult, Results
from steper.paper.stats import Paired, SeedDifference, Statistics, seed_difference
from steper.paper.tables import ablation_methods, subquestion_outcomes
from steper.paper.training import budget, describe_budget, find_log

# The budget-matched control is this reproduction's, not a claim of the paper: its text is here.
MATCHED = "steper_beats_matched_vanilla"
MATCHED_TEXT = (
    "StepER beats Vanilla-KD trained on its final-step data for as many optimizer steps as StepER "
    "(budget-matched control; not in the paper, whose Vanilla-KD takes fewer steps at equal epochs)"
)
HOLDS = "HOLDS"
OPPOSITE = "OPPOSITE"
INCONCLUSIVE = "INCONCLUSIVE"
NOT_TESTED = "NOT TESTED"
# What each claim of the paper needs, the evidence of its NOT TESTED row when a run has no comparison
# for it: the report lists every claim, tested or not.
NEEDS: dict[str, str] = {
    "steper_beats_vanilla": "needs StepER and Vanilla-KD in the main table",
    "student_matches_teacher": (
        "not decided by this reproduction: the paper gives no margin for 'comparable'; Table 1 shows the teacher's "
        "in-context rows beside the student"
    ),
    "learned_weights_best": "needs StepER and fixed-weight methods in the weighting table",
    "step_data_abilities": "needs the step-data ablation (final, first+final, first+mid+final data) in the ablation table",
    "selfask_gains": "needs StepER and Vanilla-KD trained in the Self-Ask framework",
    "subqa_validity": "needs StepER's and Vanilla-KD's sub-question evaluations (the subquestions table)",
    "scaling": "needs two or more student sizes in the scaling table (paper.scaling_students)",
    "out_of_domain": "needs StepER's and Vanilla-KD's transfer evaluations (the transfer table)",
    "latency": (
        "not decided by this reproduction: cost is not a paired score; the latency table and figure give each "
        "system's seconds and generated tokens per question"
    ),
}


@dataclass(frozen=True)
class Comparison:
    """One tested direction: `better` should score higher than `worse` on `score`."""

    claim_id: str
    claim: str
    what: str
    score: str
    verdict: str
    evidence: str
    # (label, result) of the better and the worse system, where both were evaluated: their traces
    systems: tuple[tuple[str, EvalResult], tuple[str, EvalResult]] | None = None


def verdict(paired: Paired | None, level: float) -> str:
    """`level`: the intervals' coverage; McNemar's p must be below 1 - level (module docstring)."""
    if paired is None:
        return NOT_TESTED
    d = paired.difference
    if d.low <= 0 <= d.high or (paired.mcnemar is not None and paired.mcnemar.p_value >= 1.0 - level):
        return INCONCLUSIVE
    return HOLDS if d.low > 0 else OPPOSITE


def describe_seeds(pooled: Paired, difference: SeedDifference, better: str) -> str:
    spread, n, d = difference.spread, difference.n, pooled.difference
    text = (
        f"over {n} seeds pooled per question (the verdict's interval): Δ {d.estimate:+.1f} [{d.low:+.1f}, {d.high:+.1f}] points; "
        f"per seed Δ {spread.value:+.1f} ± {spread.sd:.1f} (mean ± sd), {better} higher in {difference.wins} of {n}"
    )
    return text + (f", {difference.ties} tied" if difference.ties else "")


def describe(paired: Paired) -> str:
    d = paired.difference
    text = f"Δ {d.estimate:+.1f} [{d.low:+.1f}, {d.high:+.1f}] points, n={d.n}"
    if paired.mcnemar is not None:
        m = paired.mcnemar
        text += f"; McNemar {m.only_a}:{m.only_b} discordant, exact p={m.p_value:.3g}"
    return text


class ClaimTester:
    def __init__(self, results: Results, settings: PaperSettings, stats: Statistics, published: Published):
        self.results, self.settings, self.stats = results, settings, stats
        self.texts = {MATCHED: MATCHED_TEXT} | {claim["id"]: claim["text"] for claim in published.claims}

    def compare(self, claim_id: str, what: str, better: EvalResult | None, worse: EvalResult | None, score: str, levels: tuple[str, str]) -> Comparison:
        text = self.texts.get(claim_id, claim_id)
        if better is None or worse is None:
            missing = " and ".join(name for name, result in zip(levels, (better, worse)) if result is None)
            return Comparison(claim_id, text, what, score, NOT_TESTED, f"no result for {missing}")
        paired = self.stats.paired(better, worse, score)
        if paired is None:
            return Comparison(claim_id, text, what, score, NOT_TESTED, f"no question where both define {score}")
        evidence = (
            f"{levels[0]} {self.stats.interval(better, score).estimate:.1f} vs {levels[1]} "  # type: ignore[union-attr]
            f"{self.stats.interval(worse, score).estimate:.1f}; {describe(paired)}"  # type: ignore[union-attr]
        )
        return Comparison(claim_id, text, what, score, self._verdict(paired), evidence, ((levels[0], better), (levels[1], worse)))

    def _verdict(self, paired: Paired | None) -> str:
        return verdict(paired, self.stats.settings.level)

    def _get(self, framework: str, dataset: str, model: str, method: Method | str) -> EvalResult | None:
        name = method if isinstance(method, str) else method.name
        return self.results.get(framework, dataset, layout.student_system(model, name))

    def _matches(self, method: Method) -> str | None:
        spec = self.settings.methods.get(method.name)
        return spec.get("match_steps_of") if isinstance(spec, dict) else None

    def steper_beats_vanilla(self) -> list[Comparison]:
        """The paper's comparison (same epochs), each followed by the budget-matched control when the
        config has a Vanilla-KD with `match_steps_of` StepER: the same final-step data trained for
        StepER's optimizer steps, which separates the step-wise data from the extra steps it brings."""
        main = self.settings.in_table("main")
        steper = self.settings.first("main", "is_steper")
        vanilla = next((m for m in main if m.is_vanilla_kd and self._matches(m) is None), None)
        if steper is None or vanilla is None:
            return [Comparison("steper_beats_vanilla", self.texts.get("steper_beats_vanilla", ""), "–", "acc", NOT_TESTED,
                               "the config's main table lacks a StepER or a Vanilla-KD method")]
        matched = next((m for m in main if m.is_vanilla_kd and self._matches(m) == steper.name), None)
        student = self.settings.main_student
        comparisons = []
        for framework in self.settings.frameworks:
            for dataset in self.settings.datasets:
                if not (self._get(framework, dataset, student, steper) or self._get(framework, dataset, student, vanilla)):
                    continue
                for baseline, claim_id in ((vanilla, "steper_beats_vanilla" if framework == "ircot" else "selfask_gains"), (matched, MATCHED)):
                    if baseline is None or (baseline is matched and not self._get(framework, dataset, student, matched)):
                        continue  # the control is reported where it was run
                    comparison = self.compare(
                        claim_id, f"{FRAMEWORK_LABELS[framework]}, {dataset}",
                        self._get(framework, dataset, student, steper), self._get(framework, dataset, student, baseline),
                        "acc", (steper.label, baseline.label),
                    )
                    if baseline is matched:
                        comparison = self.with_budgets(comparison, framework, dataset, (steper, baseline))
                    comparisons.append(self.with_seeds(
                        comparison, (framework, dataset, layout.student_system(student, steper.name)),
                        (framework, dataset, layout.student_system(student, baseline.name)), steper.label,
                    ))
        return comparisons

    def with_budgets(self, comparison: Comparison, framework: str, dataset: str, methods: tuple[Method, Method]) -> Comparison:
        """The comparison with each method's training budget (steps, supervised tokens) appended, when logged."""
        budgets = []
        for method in methods:
            log_ = find_log(self.results, framework, dataset, self.settings.main_student, method.name)
            if log_ is not None:
                budgets.append(f"{method.label} {describe_budget(budget(log_))}")
        return replace(comparison, evidence=f"{comparison.evidence}; trained: {'; '.join(budgets)}") if budgets else comparison

    def with_seeds(self, comparison: Comparison, better: tuple[str, str, str], worse: tuple[str, str, str], label: str) -> Comparison:
        """The comparison decided pooled over the seeds both systems have, when they have two or more."""
        if comparison.verdict == NOT_TESTED or better not in self.results.seeds or worse not in self.results.seeds:
            return comparison
        a, b = self.results.seeds[better], self.results.seeds[worse]
        pooled = self.stats.paired_over_seeds(a, b, comparison.score)
        if pooled is None:
            return comparison
        difference = seed_difference(a, b, comparison.score)
        if difference is None:  # two or more common seeds were pooled: one of them reports no score
            missing = next(r for seed in sorted(set(a) & set(b)) for r in (a[seed], b[seed]) if r.metric(comparison.score) is None)
            raise InputError(missing.path, f"reports no {comparison.score} beside its per-question rows", field=f"metrics.{comparison.score}")
        return replace(comparison, verdict=self._verdict(pooled), evidence=f"{comparison.evidence}; {describe_seeds(pooled, difference, label)}")

    def learned_weights_best(self) -> list[Comparison]:
        steper = self.settings.first("weighting", "is_steper")
        if steper is None:
            return []
        student = self.settings.main_student
        return [
            self.compare("learned_weights_best", f"vs {fixed.label}, {dataset}", self._get("ircot", dataset, student, steper),
                         self._get("ircot", dataset, student, fixed), "acc", (steper.label, fixed.label))
            for fixed in self.settings.in_table("weighting")
            if fixed.is_fixed_weighting
            for dataset in self.settings.datasets
            if self._get("ircot", dataset, student, fixed)
        ]

    def step_data_abilities(self) -> list[Comparison]:
        """Adding first-step data raises initialization; adding mid-step data raises expansion."""
        methods = ablation_methods(self.settings)
        by_data = {}
        for method in methods:  # at equal data the fixed-weight method (the pure data ablation) comes first
            by_data.setdefault(method.data, method)
        steps = [("final", "first-final", "initialization"), ("first-final", "first-mid-final", "expansion")]
        student = self.settings.main_student
        comparisons = []
        for before, after, ability in steps:
            if before not in by_data or after not in by_data:
                continue
            for dataset in self.settings.datasets:
                better, worse = self._get("ircot", dataset, student, by_data[after]), self._get("ircot", dataset, student, by_data[before])
                if better is None and worse is None:
                    continue
                comparisons.append(self.compare(
                    "step_data_abilities", f"{by_data[after].label} vs {by_data[before].label}, {dataset}",
                    better, worse, ability, (by_data[after].label, by_data[before].label),
                ))
        return comparisons

    def scaling(self) -> list[Comparison]:
        """Larger students do better: each student against the next smaller one, per method and dataset."""
        students = self.settings.scaling_students or self.settings.students
        comparisons = []
        for method in self.settings.in_table("scaling"):
            for dataset in self.settings.datasets:
                sized = [
                    (result.n_parameters, student, result)
                    for student in students
                    if (result := self._get("ircot", dataset, student, method)) is not None and result.n_parameters is not None
                ]
                sized.sort(key=lambda item: item[0])
                for (_, small, small_result), (_, large, large_result) in zip(sized, sized[1:]):
                    comparisons.append(self.compare(
                        "scaling", f"{method.label}, {dataset}: {large} vs {small}", large_result, small_result, "acc", (large, small),
                    ))
        return comparisons

    def out_of_domain(self) -> list[Comparison]:
        steper, vanilla = self.settings.first("transfer", "is_steper"), self.settings.first("transfer", "is_vanilla_kd")
        if steper is None or vanilla is None:
            return []
        student = self.settings.main_student
        comparisons = []
        for framework, trained_on, dataset, system in sorted(self.results.transfer):
            if system != layout.student_system(student, steper.name):
                continue
            worse = self.results.transfer.get((framework, trained_on, dataset, layout.student_system(student, vanilla.name)))
            comparisons.append(self.compare(
                "out_of_domain", f"{FRAMEWORK_LABELS[framework]}, {trained_on} → {dataset}",
                self.results.transfer[(framework, trained_on, dataset, system)], worse, "acc", (steper.label, vanilla.label),
            ))
        return comparisons

    def subqa_validity(self) -> list[Comparison]:
        """StepER's right answers are more often backed by right sub-answers than Vanilla-KD's."""
        steper, vanilla = self.settings.first("subquestions", "is_steper"), self.settings.first("subquestions", "is_vanilla_kd")
        if steper is None or vanilla is None:
            return []
        comparisons = []
        student = self.settings.main_student
        for framework, dataset, system in sorted(self.results.subquestions):
            if system != layout.student_system(student, steper.name):
                continue
            shares, subs = {}, []
            for method in (steper, vanilla):
                key = (framework, dataset, layout.student_system(student, method.name))
                main, sub = self.results.get(*key), self.results.subquestions.get(key)
                if main is not None and sub is not None:
                    shares[method.name] = {q: o["both"] for q, o in subquestion_outcomes(main.scores("acc"), sub.scores("acc")).items()}
                    subs.append((method.label, sub))
            text = self.texts.get("subqa_validity", "subqa_validity")
            what = f"{FRAMEWORK_LABELS[framework]}, {dataset}: share with question and sub-questions right"
            if len(shares) < 2:
                comparisons.append(Comparison("subqa_validity", text, what, "acc", NOT_TESTED, "sub-question results missing"))
                continue
            common = sorted(set(shares[steper.name]) & set(shares[vanilla.name]))
            paired = self.stats.paired_values([shares[steper.name][q] for q in common], [shares[vanilla.name][q] for q in common])
            evidence = describe(paired) if paired else "no question in common"
            comparisons.append(Comparison("subqa_validity", text, what, "both right", self._verdict(paired), evidence, (subs[0], subs[1])))
        return comparisons

    def all(self) -> list[Comparison]:
        """Every comparison the run's results allow, then one NOT TESTED row per claim with none."""
        tests: list[Callable[[], list[Comparison]]] = [
            self.steper_beats_vanilla, self.learned_weights_best, self.step_data_abilities, self.scaling, self.out_of_domain, self.subqa_validity,
        ]
        comparisons = [comparison for test in tests for comparison in test()]
        tested = {comparison.claim_id for comparison in comparisons}
        return comparisons + [
            Comparison(claim_id, text, "–", "–", NOT_TESTED, NEEDS[claim_id])
            for claim_id, text in self.texts.items()
            if claim_id not in tested and claim_id != MATCHED
        ]


def evaluate_claims(results: Results, settings: PaperSettings, stats: Statistics, published: Published) -> list[Comparison]:
    return ClaimTester(results, settings, stats, published).all()
