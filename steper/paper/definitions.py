"""What the paper's tables and figures are made of: settings, method names and their labels.

Methods, students and datasets are config data; this module only knows the method NAMES each
table is about. A configured method that no table is about is not dropped: it gets a row in
Table 1 next to Vanilla-KD and StepER, labelled by its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steper.io import InputError

FRAMEWORK_LABELS: dict[str, str] = {
    "direct": "No retrieval",
    "cot": "CoT (no retrieval)",
    "rag": "Vanilla RAG",
    "ircot": "IRCoT",
    "selfask": "Self-Ask",
}

METHOD_LABELS: dict[str, str] = {
    "vanilla_kd": "Vanilla-KD",
    "final_plus_first": "Final + first-step data",
    "final_plus_first_mid": "Final + first + mid-step data",
    "steper_uniform": "Uniform weights (1:1:1)",
    "steper_first_heavy": "First-heavy weights (1.5:1:0.5)",
    "steper_last_heavy": "Last-heavy weights (0.5:1:1.5)",
    "steper": "StepER",
}

# Table 2: fixed loss weightings against StepER's learned difficulty-aware weights.
WEIGHTING_METHODS: tuple[str, ...] = ("steper_uniform", "steper_first_heavy", "steper_last_heavy", "steper")
WEIGHTING_LABELS: dict[str, str] = {**METHOD_LABELS, "steper": "Difficulty-aware (StepER)"}
# Step-data ablation and Figure 3: which kinds of step-wise data the student saw.
ABLATION_METHODS: tuple[str, ...] = ("vanilla_kd", "final_plus_first", "final_plus_first_mid", "steper")
KD_METHODS: tuple[str, ...] = ("vanilla_kd", "steper")
ABILITIES: tuple[str, ...] = ("initialization", "expansion", "aggregation")
ABILITY_LABELS: dict[str, str] = {
    "initialization": "Init.",
    "expansion": "Exp.",
    "aggregation": "Agg.",
    "supporting_recall": "Sup. recall",
}
METRICS: tuple[str, ...] = ("em", "f1", "acc")
METRIC_LABELS: dict[str, str] = {"em": "EM", "f1": "F1", "acc": "Acc"}
# Published table rows -> our method names.
PUBLISHED_TABLE1: dict[str, str] = {"vanilla_kd": "vanilla_kd", "steper": "steper"}
PUBLISHED_TABLE2: dict[str, str] = {
    "uniform_1_1_1": "steper_uniform",
    "first_heavy_1.5_1_0.5": "steper_first_heavy",
    "last_heavy_0.5_1_1.5": "steper_last_heavy",
    "difficulty_aware": "steper",
}
FEWSHOT = "fewshot"


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def extra_methods(methods: list[str]) -> list[str]:
    """Configured methods that belong to no ablation table (they join Table 1)."""
    return [m for m in methods if m not in KD_METHODS and m not in ABLATION_METHODS and m not in WEIGHTING_METHODS]


def system_name(model: str, method: str) -> str:
    """The eval file stem: '{student}--{method}' or '{model}--fewshot'."""
    return f"{model}--{method}"


@dataclass
class PaperSettings:
    """The slice of the config that says which systems exist.

    frameworks: frameworks students were distilled and evaluated in (ircot, selfask);
    baselines: frameworks the in-context ('{model}--fewshot') baselines ran in;
    students: every student; scaling_students: the students of the size study (Figure 4);
    scaling_teacher: their teacher when it is not `teacher` (optional).
    """

    run: str
    datasets: list[str] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)
    main_student: str = ""
    teacher: str = ""
    students: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    baselines: list[str] = field(default_factory=list)
    scaling_students: list[str] = field(default_factory=list)
    scaling_teacher: str = ""

    @property
    def size_teacher(self) -> str:
        """Teacher of the size study (the paper's 72B Qwen); the main teacher unless set."""
        return self.scaling_teacher or self.teacher

    def validate(self, source: str = "--settings") -> None:
        for name in ("datasets", "frameworks", "students", "methods", "baselines", "scaling_students"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise InputError(source, "must be a list of strings", field=name)
        for framework in self.frameworks + self.baselines:
            if framework not in FRAMEWORK_LABELS:
                raise InputError(source, f"unknown framework '{framework}' (known: {', '.join(FRAMEWORK_LABELS)})", field="frameworks/baselines")
