"""Names, paths and settings shared by every rule file.

Rules get their stage settings as one JSON argument built here from the validated config, so a
changed hyper-parameter changes the rule's params and Snakemake reruns exactly what depends on it.
"""

import json
import re

RUN = config["run"]
ENV_CPU = "../envs/steper.yaml"
ENV_GPU = "../envs/gpu.yaml"
DATASETS = config["datasets"]
FRAMEWORKS = config["frameworks"]
MODELS = config["models"]
STUDENTS = config["students"]
METHODS = config["methods"]
TEACHERS = sorted({spec["teacher"] for spec in STUDENTS.values()})
VARIANTS = ["final", "first-final", "first-mid-final"]
BASELINES = config["evaluation"]["baselines"]
BACKENDS = config["retrieval"]["compare"]
MAIN_STUDENT = config["paper"]["main_student"] or next(iter(STUDENTS))
BASELINE_MODELS = config["evaluation"]["baseline_models"] or sorted(set(TEACHERS) | set(STUDENTS))


def _experiments():
    """The (framework, dataset, student, method) cells to train and evaluate, in config order."""
    grids = config["experiments"] or [{}]
    cells = []
    for grid in grids:
        for framework in grid.get("frameworks", FRAMEWORKS):
            for dataset in grid.get("datasets", DATASETS):
                for student in grid.get("students", list(STUDENTS)):
                    for method in grid.get("methods", list(METHODS)):
                        cell = (framework, dataset, student, method)
                        if cell not in cells:
                            cells.append(cell)
    return cells


def _check_references():
    """Cross-references the JSON schema cannot express; a dangling name stops the run here."""
    problems = []
    for student, spec in STUDENTS.items():
        if student not in MODELS:
            problems.append(f"students.{student}: not a key of models")
        if spec["teacher"] not in MODELS:
            problems.append(f"students.{student}.teacher: '{spec['teacher']}' is not a key of models")
    for name, spec in MODELS.items():
        if spec["source"] == "prune" and spec.get("base") not in MODELS:
            problems.append(f"models.{name}.base: '{spec.get('base')}' is not a key of models")
        for key in {"hub": ["path"], "local": ["path"], "gguf": ["package", "file"], "prune": ["base", "keep_layers"]}.get(spec["source"], []):
            if key not in spec:
                problems.append(f"models.{name}.{key}: required for source '{spec['source']}'")
        if "--" in name:
            problems.append(f"models.{name}: model names may not contain '--'")
    for method, spec in METHODS.items():
        if spec["loss"] == "fixed" and not spec.get("weights"):
            problems.append(f"methods.{method}.weights: required for loss 'fixed'")
    if config["retrieval"]["backend"] not in BACKENDS:
        problems.append(f"retrieval.backend: '{config['retrieval']['backend']}' must be listed in retrieval.compare")
    if MAIN_STUDENT not in STUDENTS:
        problems.append(f"paper.main_student: '{MAIN_STUDENT}' is not a key of students")
    for student in config["paper"]["scaling_students"]:
        if student not in STUDENTS:
            problems.append(f"paper.scaling_students: '{student}' is not a key of students")
    for i, grid in enumerate(config["experiments"] or []):
        for axis, known in (("frameworks", FRAMEWORKS), ("datasets", DATASETS), ("students", STUDENTS), ("methods", METHODS)):
            for name in grid.get(axis, []):
                if name not in known:
                    problems.append(f"experiments[{i}].{axis}: '{name}' is not configured in {axis}")
    for model in BASELINE_MODELS:
        if model not in MODELS:
            problems.append(f"evaluation.baseline_models: '{model}' is not a key of models")
    if problems:
        raise ValueError("Invalid config:\n  " + "\n  ".join(problems))


_check_references()
CELLS = _experiments()


def R(path):
    """An artifact path of this run."""
    return f"results/{RUN}/{path}"


def LOG(path):
    return f"logs/{RUN}/{path}.log"


def BENCH(path):
    return f"results/{RUN}/benchmarks/{path}.tsv"


def as_json(data):
    return json.dumps(data, sort_keys=True)


def one_of(names):
    """A wildcard constraint matching exactly the given names (or nothing)."""
    names = list(names)
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def resources(section):
    res = config[section]["resources"]
    out = {"mem_mb": res["mem_mb"], "runtime": res["runtime"]}
    if res["gpus"]:
        out["gpu"] = res["gpus"]
    return out


def model_dir(name):
    spec = MODELS[name]
    return spec["path"] if spec["source"] == "local" else R(f"models/{name}")


def hparams_tag():
    """Every training hyper-parameter that changes a student, in its directory name."""
    t = config["training"]
    tag = f"lr{t['lr']:g}_ep{t['epochs']:g}_bs{t['batch_size'] * t['grad_accum']}_len{t['max_length']}_seed{config['seed']}"
    if t["max_steps"]:
        tag += f"_steps{t['max_steps']}"
    return tag


HPARAMS = hparams_tag()


def framework_settings(section_framework, shots=None):
    settings = dict(section_framework)
    if shots is not None:
        settings["shots"] = shots
    settings.update(
        retrieval_backend=config["retrieval"]["backend"],
        k1=config["retrieval"]["k1"],
        b=config["retrieval"]["b"],
    )
    return settings


def generation_settings(section_generation, model):
    return dict(section_generation, chat_template=MODELS[model]["chat_template"], dtype=MODELS[model]["dtype"])


def demonstrations(dataset):
    """Few-shot demonstrations: generated with the toy world, or converted from IRCoT's annotations."""
    return R(f"raw/annotations/{dataset}.jsonl")


wildcard_constraints:
    dataset=one_of(DATASETS),
    framework=one_of(FRAMEWORKS),
    backend=one_of(["pyserini", "bm25s"]),
    split="train|dev|test",
    variant=one_of(VARIANTS),
    method=one_of(METHODS),
    student=one_of(STUDENTS),
