"""Cross-references of the config that its JSON schema cannot express.

The schema checks each value alone; a name that points at another part of the config (a student's
teacher, a grid's method, the main student) is checked here, so a dangling name stops the run
before any job starts, with every problem named by its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from steper.config_checks import reserved_method_problems
from steper.frameworks.trace_import import import_problems
from steper.model_sources import MODEL_SOURCES, tokenizer_model

GRID_AXES = ("frameworks", "datasets", "students", "methods")


def reference_problems(config: Mapping[str, Any]) -> list[str]:
    """Every dangling or missing reference of a schema-valid config, as `key: what is wrong`."""
    models, students, methods = config["models"], config["students"], config["methods"]
    seed = config["seed"]
    problems = reserved_method_problems(methods)
    for student, spec in students.items():
        if student not in models:
            problems.append(f"students.{student}: not a key of models")
        if spec["teacher"] not in models:
            problems.append(f"students.{student}.teacher: '{spec['teacher']}' is not a key of models")
    derived = [name for name, spec in models.items() if MODEL_SOURCES[spec["source"]].derived]
    dangling = [name for name in derived if models[name].get("base") not in models]
    problems += [f"models.{name}.base: '{models[name].get('base')}' is not a key of models" for name in dangling]
    for name in derived if not dangling else []:
        try:
            tokenizer_model(models, name)
        except ValueError as loop:
            problems.append(f"models.{name}.base: {loop}")
    for name, spec in models.items():
        for key in MODEL_SOURCES[spec["source"]].needs:
            if spec.get(key) is None:
                problems.append(f"models.{name}.{key}: required for source '{spec['source']}'")
    for method, spec in methods.items():
        if spec["loss"] == "fixed" and not spec.get("weights"):
            problems.append(f"methods.{method}.weights: required for loss 'fixed'")
        matched = spec.get("match_steps_of")
        if matched is not None and (matched not in methods or matched == method or methods[matched].get("match_steps_of")):
            problems.append(f"methods.{method}.match_steps_of: '{matched}' must be another method of methods that matches none itself")
    retrieval = config["retrieval"]
    if retrieval["backend"] not in retrieval["compare"]:
        problems.append(f"retrieval.backend: '{retrieval['backend']}' must be listed in retrieval.compare")
    paper = config["paper"]
    main_student = paper["main_student"] or next(iter(students))
    if main_student not in students:
        problems.append(f"paper.main_student: '{main_student}' is not a key of students")
    for student in paper["scaling_students"]:
        if student not in students:
            problems.append(f"paper.scaling_students: '{student}' is not a key of students")
    for i, grid in enumerate(config["experiments"] or []):
        label = f" (grid '{grid['name']}')" if "name" in grid else ""
        for axis in GRID_AXES:
            for name in grid.get(axis, []):
                if name not in config[axis]:
                    problems.append(f"experiments[{i}].{axis}: '{name}' is not configured in {axis}{label}")
        if seed not in grid.get("seeds", [seed]):
            problems.append(
                f"experiments[{i}].seeds: must include the run's seed {seed} (its students are the tables' cells; the others replicate them){label}"
            )
    teachers = {spec["teacher"] for spec in students.values()}
    baseline_models = config["evaluation"]["baseline_models"]
    for model in sorted(teachers | set(students)) if baseline_models is None else baseline_models:
        if model not in models:
            problems.append(f"evaluation.baseline_models: '{model}' is not a key of models")
    return problems + import_problems(config)
