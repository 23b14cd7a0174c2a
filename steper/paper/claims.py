"""The paper's qualitative claims, each tested against our results where the results allow.

Every test compares Acc of the systems the claim is about on the datasets both have; a claim
whose systems were not run is NOT TESTED rather than guessed. "Comparable" means within
COMPARABLE_POINTS Acc points (averaged over datasets), a tolerance chosen before seeing results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from steper.paper.definitions import ABILITIES, FEWSHOT, WEIGHTING_METHODS, PaperSettings, system_name
from steper.paper.published import Published
from steper.paper.results import Results

HOLDS = "HOLDS"
FAILS = "DOES NOT HOLD"
NOT_TESTED = "NOT TESTED"
COMPARABLE_POINTS = 3.0


@dataclass(frozen=True)
class Verdict:
    claim_id: str
    text: str
    verdict: str
    evidence: str


def _pairs(results: Results, settings: PaperSettings, framework: str, system_a: str, system_b: str, metric: str = "acc") -> dict[str, tuple[float, float]]:
    """dataset -> (a, b) for the datasets where both systems have the metric."""
    pairs = {}
    for dataset in settings.datasets:
        a = results.value(framework, dataset, system_a, metric)
        b = results.value(framework, dataset, system_b, metric)
        if a is not None and b is not None:
            pairs[dataset] = (a, b)
    return pairs


def _listing(pairs: dict[str, tuple[float, float]], names: tuple[str, str]) -> str:
    return "; ".join(f"{dataset}: {names[0]} {a:.2f} vs {names[1]} {b:.2f}" for dataset, (a, b) in pairs.items())


def _beats(results: Results, settings: PaperSettings, framework: str, student: str) -> tuple[str, str]:
    pairs = _pairs(results, settings, framework, system_name(student, "steper"), system_name(student, "vanilla_kd"))
    if not pairs:
        return NOT_TESTED, f"no {framework} results for both {student}--steper and {student}--vanilla_kd"
    wins = all(a > b for a, b in pairs.values())
    relative = [100.0 * (a - b) / b for a, b in pairs.values() if b > 0]
    gain = f"; mean relative Acc gain {sum(relative) / len(relative):+.1f}%" if relative else ""
    return (HOLDS if wins else FAILS), _listing(pairs, ("StepER", "Vanilla-KD")) + gain


def steper_beats_vanilla(results: Results, settings: PaperSettings) -> tuple[str, str]:
    return _beats(results, settings, "ircot", settings.main_student)


def selfask_gains(results: Results, settings: PaperSettings) -> tuple[str, str]:
    return _beats(results, settings, "selfask", settings.main_student)


def _matches(results: Results, settings: PaperSettings, student: str, teacher: str) -> tuple[str, str] | None:
    pairs = _pairs(results, settings, "ircot", system_name(student, "steper"), system_name(teacher, FEWSHOT))
    if not pairs:
        return None
    gap = sum(a - b for a, b in pairs.values()) / len(pairs)
    verdict = HOLDS if gap >= -COMPARABLE_POINTS else FAILS
    return verdict, _listing(pairs, ("StepER student", "teacher")) + f"; mean gap {gap:+.2f} points (comparable: ≥ -{COMPARABLE_POINTS:g})"


def student_matches_teacher(results: Results, settings: PaperSettings) -> tuple[str, str]:
    found = _matches(results, settings, settings.main_student, settings.teacher)
    return found or (NOT_TESTED, f"no IRCoT results for both {settings.main_student}--steper and {settings.teacher}--fewshot")


def learned_weights_best(results: Results, settings: PaperSettings) -> tuple[str, str]:
    learned = system_name(settings.main_student, "steper")
    parts, verdicts = [], []
    for method in WEIGHTING_METHODS[:-1]:
        pairs = _pairs(results, settings, "ircot", learned, system_name(settings.main_student, method))
        if pairs:
            verdicts.append(all(a > b for a, b in pairs.values()))
            parts.append(f"vs {method}: " + _listing(pairs, ("learned", "fixed")))
    if not verdicts:
        return NOT_TESTED, "no fixed-weighting results next to StepER"
    return (HOLDS if all(verdicts) else FAILS), " | ".join(parts)


def _ability_means(results: Results, settings: PaperSettings, method: str) -> dict[str, float] | None:
    """Ability -> mean over the datasets; None unless every ability has a value somewhere."""
    means = {}
    for ability in ABILITIES:
        values = [results.value("ircot", d, system_name(settings.main_student, method), f"abilities.{ability}") for d in settings.datasets]
        present = [value for value in values if value is not None]
        if not present:
            return None
        means[ability] = sum(present) / len(present)
    return means


def step_data_abilities(results: Results, settings: PaperSettings) -> tuple[str, str]:
    scores = {m: _ability_means(results, settings, m) for m in ("vanilla_kd", "final_plus_first", "final_plus_first_mid", "steper")}
    if any(value is None for value in scores.values()):
        missing = ", ".join(m for m, value in scores.items() if value is None)
        return NOT_TESTED, f"ability scores missing for {missing}"
    vanilla, first, first_mid, steper = (scores[m] for m in ("vanilla_kd", "final_plus_first", "final_plus_first_mid", "steper"))
    first_gain = {a: first[a] - vanilla[a] for a in ABILITIES}  # type: ignore[index]
    mid_gain = {a: first_mid[a] - first[a] for a in ABILITIES}  # type: ignore[index]
    checks = {
        "first-step data raises initialization most": first_gain["initialization"] > 0 and max(first_gain, key=first_gain.get) == "initialization",
        "mid-step data raises expansion most": mid_gain["expansion"] > 0 and max(mid_gain, key=mid_gain.get) == "expansion",
        "StepER best on all three": all(steper[a] >= max(s[a] for s in (vanilla, first, first_mid)) for a in ABILITIES),  # type: ignore[index]
    }
    detail = "; ".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in checks.items())
    table = "; ".join(f"{m}: " + "/".join(f"{s[a]:.1f}" for a in ABILITIES) for m, s in scores.items())  # type: ignore[union-attr]
    return (HOLDS if all(checks.values()) else FAILS), f"{detail} (init/exp/agg: {table})"


def scaling(results: Results, settings: PaperSettings) -> tuple[str, str]:
    students = settings.scaling_students or settings.students
    parts, verdicts = [], []
    for student in students:
        verdict, evidence = _beats(results, settings, "ircot", student)
        if verdict != NOT_TESTED:
            verdicts.append(verdict == HOLDS)
            parts.append(f"{student}: StepER > Vanilla-KD {'yes' if verdict == HOLDS else 'no'} ({evidence})")
        match = _matches(results, settings, student, settings.size_teacher)
        if match:
            parts.append(f"{student} vs teacher: {match[1]}")
    if not verdicts:
        return NOT_TESTED, "no scaling students with both StepER and Vanilla-KD results"
    return (HOLDS if all(verdicts) else FAILS), "tested: StepER beats Vanilla-KD at every size; teacher gaps reported. " + " | ".join(parts)


def latency(results: Results, settings: PaperSettings) -> tuple[str, str]:
    student = system_name(settings.main_student, "steper")
    teacher = system_name(settings.teacher, FEWSHOT)
    seconds = _pairs(results, settings, "ircot", student, teacher, "seconds_per_question")
    accs = _pairs(results, settings, "ircot", student, teacher)
    common = sorted(set(seconds) & set(accs))
    if not common:
        return NOT_TESTED, f"no IRCoT latency for both {student} and {teacher}"
    speed = sum(seconds[d][1] / seconds[d][0] for d in common if seconds[d][0] > 0) / len(common)
    gap = sum(accs[d][0] - accs[d][1] for d in common) / len(common)
    holds = all(seconds[d][0] < seconds[d][1] for d in common) and gap >= -COMPARABLE_POINTS
    listing = "; ".join(f"{d}: {seconds[d][0]:.2f}s vs {seconds[d][1]:.2f}s, Acc {accs[d][0]:.2f} vs {accs[d][1]:.2f}" for d in common)
    return (HOLDS if holds else FAILS), f"student vs teacher: {listing}; teacher/student time ×{speed:.2f}, mean Acc gap {gap:+.2f}"


def _untestable(reason: str) -> Callable[[Results, PaperSettings], tuple[str, str]]:
    return lambda results, settings: (NOT_TESTED, reason)


TESTS: dict[str, Callable[[Results, PaperSettings], tuple[str, str]]] = {
    "steper_beats_vanilla": steper_beats_vanilla,
    "student_matches_teacher": student_matches_teacher,
    "learned_weights_best": learned_weights_best,
    "step_data_abilities": step_data_abilities,
    "selfask_gains": selfask_gains,
    "subqa_validity": _untestable("needs SubQA sub-question annotations, which the workflow does not use"),
    "scaling": scaling,
    "out_of_domain": _untestable("the workflow evaluates students only on the dataset they were trained on"),
    "latency": latency,
}


def evaluate_claims(results: Results, settings: PaperSettings, published: Published) -> list[Verdict]:
    verdicts = []
    for claim in published.claims:
        test = TESTS.get(claim["id"], _untestable("no test defined"))
        verdict, evidence = test(results, settings)
        verdicts.append(Verdict(claim["id"], claim["text"], verdict, evidence))
    return verdicts
