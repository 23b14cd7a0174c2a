"""What the paper's tables and figures are made of: settings, methods and their roles.

Methods are config data: each carries its label and the tables it belongs to (`methods.<name>.label`
and `.tables` in the config), so renaming a method never moves it to another table. The role a
method plays in a comparison (the KD baseline, StepER, a fixed weighting, a step-data ablation) is
read from what it trains on and with which loss, never from its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from steper.evaluate.bootstrap import BootstrapSettings
from steper.io import InputError
from steper.names import METHOD_TABLES
from steper.settings import from_schema

FRAMEWORK_LABELS: dict[str, str] = {
    "direct": "No retrieval",
    "cot": "CoT (no retrieval)",
    "rag": "Vanilla RAG",
    "iter_retgen": "ITER-RETGEN",
    "ircot": "IRCoT",
    "selfask": "Self-Ask",
    "react": "ReAct",
}
ABILITIES: tuple[str, ...] = ("initialization", "expansion", "aggregation")
ABILITY_LABELS: dict[str, str] = {
    "initialization": "Init.",
    "expansion": "Exp.",
    "aggregation": "Agg.",
    "supporting_recall": "Sup. recall",
}
METRICS: tuple[str, ...] = ("em", "f1", "acc")
METRIC_LABELS: dict[str, str] = {"em": "EM", "f1": "F1", "acc": "Acc"}


@dataclass(frozen=True)
class Method:
    """One configured training method: its step data, loss, display label and tables."""

    name: str
    data: str
    loss: str
    label: str
    tables: tuple[str, ...]

    @property
    def is_vanilla_kd(self) -> bool:
        return self.loss == "vanilla" and self.data == "final"

    @property
    def is_steper(self) -> bool:
        return self.loss == "difficulty_aware" and self.data == "first-mid-final"

    @property
    def is_fixed_weighting(self) -> bool:
        return self.data == "first-mid-final" and self.loss in ("uniform", "fixed")


def _method(name: str, spec: Any, source: str) -> Method:
    if not isinstance(spec, dict):
        raise InputError(source, "must be a mapping with data, loss, label and tables", field=f"methods.{name}")
    for key in ("data", "loss"):
        if not isinstance(spec.get(key), str):
            raise InputError(source, "must be a string", field=f"methods.{name}.{key}")
    tables = spec.get("tables", ["main"])
    if not isinstance(tables, list) or any(table not in METHOD_TABLES for table in tables):
        raise InputError(source, f"must be a list of {', '.join(METHOD_TABLES)}", field=f"methods.{name}.tables")
    return Method(name, spec["data"], spec["loss"], str(spec.get("label") or name), tuple(tables))


@dataclass(kw_only=True)
class PaperSettings:
    """The slice of the config that says which systems exist and how to render them.

    frameworks: frameworks students were distilled and evaluated in (ircot, selfask);
    baselines: frameworks the in-context ('{model}--fewshot') baselines ran in;
    methods: name -> {data, loss, label, tables} as in the config;
    students: every student; scaling_students: the students of the size study (Figure 4);
    scaling_teacher: their teacher when it is not `teacher` (optional);
    bootstrap: {resamples, level, seed} of every confidence interval;
    case_study: how many disagreeing questions Figure 1(b) shows.
    The names the workflow resolves (main student, teachers, students, methods) have no default;
    the rest are the schema's.
    """

    run: str
    datasets: list[str] = from_schema("datasets")
    frameworks: list[str] = from_schema("frameworks")
    main_student: str
    teacher: str
    students: list[str]
    methods: dict[str, Any]
    baselines: list[str] = from_schema("evaluation.baselines")
    scaling_students: list[str] = from_schema("paper.scaling_students")
    scaling_teacher: str
    bootstrap: dict[str, Any] = from_schema("paper.bootstrap")
    case_study: int = from_schema("paper.case_study")

    @property
    def size_teacher(self) -> str:
        """Teacher of the size study (the paper's 72B Qwen); the main teacher unless set."""
        return self.scaling_teacher or self.teacher

    def method_list(self) -> list[Method]:
        return [_method(name, spec, "--settings") for name, spec in self.methods.items()]

    def in_table(self, table: str) -> list[Method]:
        return [method for method in self.method_list() if table in method.tables]

    def label(self, method: str) -> str:
        spec = self.methods.get(method)
        return str(spec.get("label") or method) if isinstance(spec, dict) else method

    def first(self, table: str, role: str) -> Method | None:
        """The first method of `table` playing `role` ('is_vanilla_kd', 'is_steper')."""
        return next((method for method in self.in_table(table) if getattr(method, role)), None)

    def bootstrap_settings(self) -> BootstrapSettings:
        try:
            return BootstrapSettings(int(self.bootstrap["resamples"]), float(self.bootstrap["level"]), int(self.bootstrap["seed"]))
        except (KeyError, TypeError, ValueError) as error:
            raise InputError("--settings", f"needs resamples, level and seed ({error})", field="bootstrap") from None

    def validate(self, source: str = "--settings") -> None:
        for name in ("datasets", "frameworks", "students", "baselines", "scaling_students"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise InputError(source, "must be a list of strings", field=name)
        if not isinstance(self.methods, dict):
            raise InputError(source, "must be a mapping of method name -> {data, loss, label, tables}", field="methods")
        for name, spec in self.methods.items():
            _method(name, spec, source)
        for framework in self.frameworks + self.baselines:
            if framework not in FRAMEWORK_LABELS:
                raise InputError(source, f"unknown framework '{framework}' (known: {', '.join(FRAMEWORK_LABELS)})", field="frameworks/baselines")
        self.bootstrap_settings()
