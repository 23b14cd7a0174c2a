"""Names, paths and settings shared by every rule file.

Rules get their stage settings as one JSON argument built here from the validated config, so a
changed hyper-parameter changes the rule's params and Snakemake reruns exactly what depends on it.
"""

import json
import os
import re
from pathlib import Path

from snakemake.logging import logger

from steper import layout
from steper.config_checks import ignored_settings, reserved_method_problems
from steper.config_validation import ConfigError
from steper.frameworks.trace_import import import_output, import_problems, import_source, imported, traced_key, unused_imports

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
# null = every teacher and every student's base model; an explicit [] = none
BASELINE_MODELS = config["evaluation"]["baseline_models"]
if BASELINE_MODELS is None:
    BASELINE_MODELS = sorted(set(TEACHERS) | set(STUDENTS))


SEED = config["seed"]


def _experiments():
    """The (framework, dataset, student, method) cells to train and evaluate, in config order, each
    with its training seeds (sorted; the union over the grids that list it)."""
    grids = [{}] if config["experiments"] is None else config["experiments"]
    cells = {}
    for grid in grids:
        for framework in grid.get("frameworks", FRAMEWORKS):
            for dataset in grid.get("datasets", DATASETS):
                for student in grid.get("students", list(STUDENTS)):
                    for method in grid.get("methods", list(METHODS)):
                        seeds = cells.setdefault((framework, dataset, student, method), set())
                        seeds.update(grid.get("seeds", [SEED]))
    return {cell: sorted(seeds) for cell, seeds in cells.items()}


def _check_references():
    """Cross-references the JSON schema cannot express; a dangling name stops the run here."""
    problems = reserved_method_problems(METHODS)
    for student, spec in STUDENTS.items():
        if student not in MODELS:
            problems.append(f"students.{student}: not a key of models")
        if spec["teacher"] not in MODELS:
            problems.append(f"students.{student}.teacher: '{spec['teacher']}' is not a key of models")
    for name, spec in MODELS.items():
        if spec["source"] in ("prune", "finetune") and spec.get("base") not in MODELS:
            problems.append(f"models.{name}.base: '{spec.get('base')}' is not a key of models")
        for key in {"hub": ["path", "revision"], "local": ["path"], "gguf": ["package", "file"], "prune": ["base", "keep_layers"], "finetune": ["base"]}.get(
            spec["source"], []
        ):
            if spec.get(key) is None:
                problems.append(f"models.{name}.{key}: required for source '{spec['source']}'")
    for method, spec in METHODS.items():
        if spec["loss"] == "fixed" and not spec.get("weights"):
            problems.append(f"methods.{method}.weights: required for loss 'fixed'")
        matched = spec.get("match_steps_of")
        if matched is not None and (matched not in METHODS or matched == method or METHODS[matched].get("match_steps_of")):
            problems.append(f"methods.{method}.match_steps_of: '{matched}' must be another method of methods that matches none itself")
    if config["retrieval"]["backend"] not in BACKENDS:
        problems.append(f"retrieval.backend: '{config['retrieval']['backend']}' must be listed in retrieval.compare")
    if MAIN_STUDENT not in STUDENTS:
        problems.append(f"paper.main_student: '{MAIN_STUDENT}' is not a key of students")
    for student in config["paper"]["scaling_students"]:
        if student not in STUDENTS:
            problems.append(f"paper.scaling_students: '{student}' is not a key of students")
    for i, grid in enumerate(config["experiments"] or []):
        label = f" (grid '{grid['name']}')" if "name" in grid else ""
        for axis, known in (("frameworks", FRAMEWORKS), ("datasets", DATASETS), ("students", STUDENTS), ("methods", METHODS)):
            for name in grid.get(axis, []):
                if name not in known:
                    problems.append(f"experiments[{i}].{axis}: '{name}' is not configured in {axis}{label}")
        if SEED not in grid.get("seeds", [SEED]):
            problems.append(
                f"experiments[{i}].seeds: must include the run's seed {SEED} (its students are the tables' cells; the others replicate them){label}"
            )
    for model in BASELINE_MODELS:
        if model not in MODELS:
            problems.append(f"evaluation.baseline_models: '{model}' is not a key of models")
    problems += import_problems(config)
    if problems:
        raise ConfigError("Invalid config:\n  " + "\n  ".join(problems))


def _check_effects():
    """Keys the config files (or --config) set that no job reads: a setting is never silently ignored."""
    problems = ignored_settings(CONFIG_SET, config)
    if problems:
        raise ConfigError("Invalid config (settings that would change nothing):\n  " + "\n  ".join(problems))


_check_references()
_check_effects()
CELL_SEEDS = _experiments()
CELLS = list(CELL_SEEDS)
# Students of the extra seeds (cells x seeds other than the run's) and the cells trained with several seeds.
EXTRA_SEEDS = [(*cell, seed) for cell, seeds in CELL_SEEDS.items() for seed in seeds if seed != SEED]
MULTI_SEED = [cell for cell, seeds in CELL_SEEDS.items() if len(seeds) > 1]
# Teacher traces made elsewhere (teacher.imports), by the `{traced}` wildcard of teacher_import, which makes them.
_TRACED = {(f, d, STUDENTS[s]["teacher"]) for f, d, s, _ in CELLS}
IMPORTED = {traced_key(*traced): entry for traced, entry in imported(config, _TRACED).items()}
for _unused in unused_imports(config, _TRACED):
    logger.warning(_unused)


def P(kind, **values):
    """An artifact path of this run from steper/layout.py; the names not given stay wildcards."""
    return layout.path(kind, run=RUN, **values)


def LOG(stage):
    return P("log", stage=stage)


def BENCH(stage):
    return P("benchmark", stage=stage)


def as_json(data):
    return json.dumps(data, sort_keys=True)


def one_of(names):
    """A wildcard constraint matching exactly the given names (or nothing)."""
    names = list(names)
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def resources(section):
    """A job's scheduler resources; `<section>.resources.gpus` is the only place its GPU count is set."""
    res = config[section]["resources"]
    out = {"mem_mb": res["mem_mb"], "runtime": res["runtime"]}
    if res["gpus"]:
        out["gpu"] = res["gpus"]
    return out


def models_from(source):
    """Names of the models built from `source` (models.smk has one rule per source)."""
    return [name for name, spec in MODELS.items() if spec["source"] == source]


def model_dir(name):
    spec = MODELS[name]
    return spec["path"] if spec["source"] == "local" else P("model", model=name)


def hparams(seed):
    """The student path segment of the training settings with `seed`."""
    return layout.hparams_tag(config["training"], seed)


# hparams segment -> its seed: the train rule reads which seed to train with from its output path.
SEED_OF_HPARAMS = {hparams(seed): seed for seeds in CELL_SEEDS.values() for seed in seeds}


def training_settings(seed):
    """The training section as `steper train run` takes it: seed and GPUs (it runs max(1, gpus) processes) included."""
    training = {key: value for key, value in config["training"].items() if key != "resources"}
    return dict(training, seed=seed, gpus=config["training"]["resources"]["gpus"])


# Step-wise data and students (stages stepwise and train). A variant's kinds are its name split
# at "-"; methods that train the same kinds with the same weighting are one training job.
STEPWISE_TAG = f"{config['stepwise']['target']}-{config['stepwise']['filter']}"


def training_identity(method):
    """What a method's student depends on: the kinds it trains on, how their losses are weighted,
    and the method whose optimizer steps it takes (if any)."""
    spec = METHODS[method]
    kinds = ["final"] if spec["loss"] == "vanilla" else spec["data"].split("-")
    matched = tuple(sorted(matched_method(method).items())) if matched_method(method) else None
    if spec["loss"] == "difficulty_aware":
        return "-".join(kinds), "difficulty_aware", matched
    weights = spec["weights"] if spec["loss"] == "fixed" else dict.fromkeys(kinds, 1.0)
    return "-".join(kinds), tuple(float(weights.get(kind, 0.0)) for kind in kinds), matched


def matched_method(method):
    """The {data, loss} of the method whose optimizer steps `method` takes (`match_steps_of`), or None."""
    other = METHODS[method].get("match_steps_of")
    return None if other is None else {"data": METHODS[other]["data"], "loss": METHODS[other]["loss"]}


TRAINED_METHODS = {}  # identity -> the first method (config order) that has it: its student's directory name
for _method in METHODS:
    TRAINED_METHODS.setdefault(training_identity(_method), _method)


def trained_method(method):
    """The method whose student `method` shares (itself unless an earlier method is the same computation)."""
    return TRAINED_METHODS[training_identity(method)]


def stepwise_dir(framework, dataset, teacher):
    return P("stepwise_dir", framework=framework, dataset=dataset, teacher=teacher, stepwise_tag=STEPWISE_TAG)


def student_dir(framework, dataset, student, method, seed=SEED):
    return P("student", framework=framework, dataset=dataset, student=student, method=trained_method(method), stepwise_tag=STEPWISE_TAG, hparams=hparams(seed))


def train_log(framework, dataset, student, method):
    return P(
        "train_log", framework=framework, dataset=dataset, student=student, method=trained_method(method), stepwise_tag=STEPWISE_TAG, hparams=hparams(SEED)
    )


def eval_system(student, method, seed):
    """The `{system}` path segment of a student's evaluation: `{student}--{method}` for the run's
    seed (today's paths), `layout.seed_system` of it for an extra seed."""
    system = layout.student_system(student, method)
    return system if seed == SEED else layout.seed_system(system, seed)


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


def generation_settings(section, model):
    """The generation settings of config section `section` (teacher, evaluation) for `model`: the
    section's compute dtype whatever the dtype the model is stored in (models.<name>.storage_dtype)."""
    return dict(
        config[section]["generation"],
        tensor_parallel_size=config[section]["resources"]["gpus"],
        chat_template=MODELS[model]["chat_template"],
        seed=SEED,
    )


def demonstrations(dataset):
    """Few-shot demonstrations: generated with the toy world, or converted from IRCoT's annotations."""
    return P("annotations", dataset=dataset)


# Data stage (data.smk): native file names per dataset and reader format, and the flags built from them.
TOY = config["data"]["source"] == "toy"
NATIVE = {
    "toy": {
        "hotpotqa": ("hotpotqa", "train.json", "dev.json"),
        "2wikimultihopqa": ("2wikimultihopqa", "train.json", "dev.json"),
        "musique": ("musique", "musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"),
    },
    "official": {
        "hotpotqa": ("hotpotqa", "hotpot_train_v1.1.json", "hotpot_dev_distractor_v1.json"),
        "2wikimultihopqa": ("2wikimultihopqa", "train.json", "dev.json"),
        "musique": ("musique", "musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"),
    },
}[config["data"]["source"]]
# IRCoT's corpora: HotpotQA = the 2017 Wikipedia abstracts; 2Wiki and MuSiQue = every paragraph of
# every split, test files included (they carry no answers, so they are read natively).
NATIVE_CORPUS_FILES = {
    "2wikimultihopqa": ["train.json", "dev.json", "test.json"],
    "musique": [f"musique_{kind}_v1.0_{split}.jsonl" for kind in ("ans", "full") for split in ("train", "dev", "test")],
}
WIKI_ABSTRACTS = "enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2"


def prepare_flags(wildcards, input):
    """Arguments of `steper data prepare` (a list: the rule quotes each word)."""
    fmt, train, dev = NATIVE[wildcards.dataset]
    flags = ["--format", fmt, "--input", f"{input.raw}/{train if wildcards.part == 'train' else dev}"]
    if wildcards.dataset == "2wikimultihopqa":
        flags += ["--aliases", f"{input.raw}/id_aliases.json"]
    if TOY:
        flags += ["--chains", f"{input.raw}/chains.jsonl"]
    return flags


def followups_file(wildcards):
    """The dataset's Self-Ask follow-ups file, if any; a relative path missing from the working
    directory is read from the repository, where steper ships its own (the schema's default)."""
    path = config["data"]["annotations"]["followups"].get(wildcards.dataset)
    if not path:
        return []
    shipped = os.path.join(workflow.basedir, path)
    return shipped if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(shipped) else path


def download_flags(wildcards):
    """Arguments of `steper data download` (a list): a mirror and its sums file, when the config names them."""
    download = config["data"]["download"]
    flags = ["--mirror", download["mirror"]] if download["mirror"] else []
    return flags + (["--sums", download["sha256"]] if download["sha256"] else [])


def corpus_sources(wildcards):
    if TOY:
        return {"records": expand(P("records_full", dataset=wildcards.dataset), part=["train", "dev"])}
    if wildcards.dataset == "hotpotqa":
        return {"wiki": P("raw", dataset="hotpotqa-wiki")}
    return {"raw": P("raw", dataset=wildcards.dataset)}


def corpus_flags(wildcards, input):
    """Arguments of `steper data corpus` (a list); the official corpora are checked against the paper's size."""
    if TOY:
        return ["--records", *input.records]
    if wildcards.dataset == "hotpotqa":
        return ["--wiki-abstracts", f"{input.wiki}/{WIKI_ABSTRACTS}", "--expect-count"]
    files = [f"{input.raw}/{name}" for name in NATIVE_CORPUS_FILES[wildcards.dataset]]
    return ["--native", NATIVE[wildcards.dataset][0], "--records", *files, "--expect-count"]


# Teacher stage (teacher.smk).
def teacher_settings(wildcards):
    return as_json(
        {
            "framework": framework_settings(config["teacher"]["framework"]),
            "generation": generation_settings("teacher", wildcards.model),
        }
    )


# Training stage (train.smk).
def train_data(wildcards):
    teacher = STUDENTS[wildcards.student]["teacher"]
    kinds = training_identity(wildcards.method)[0]
    return P("stepwise", framework=wildcards.framework, dataset=wildcards.dataset, teacher=teacher, stepwise_tag=STEPWISE_TAG, variant=kinds)


def match_data(wildcards):
    """The step-wise data of the method whose optimizer steps this one takes (none if it takes its own)."""
    other = METHODS[wildcards.method].get("match_steps_of")
    if other is None:
        return []
    teacher = STUDENTS[wildcards.student]["teacher"]
    kinds = training_identity(other)[0]
    return P("stepwise", framework=wildcards.framework, dataset=wildcards.dataset, teacher=teacher, stepwise_tag=STEPWISE_TAG, variant=kinds)


def match_flags(wildcards, input):
    """`--match-data` of `steper train run` (a list: the rule quotes each word)."""
    return ["--match-data", input.match] if input.match else []


def train_settings(wildcards):
    training = training_settings(SEED_OF_HPARAMS[wildcards.hparams])
    student = MODELS[wildcards.student]
    return as_json(
        {
            "method": dict(
                {key: METHODS[wildcards.method].get(key) for key in ("data", "loss", "weights")},
                match_steps_of=matched_method(wildcards.method),
            ),
            "training": training,
            "student": {"chat_template": student["chat_template"], "dtype": student["storage_dtype"]},
        }
    )


# Evaluation stage (evaluate.smk).
def evaluate_settings(section, model, shots=None):
    """Framework loop from `evaluation.framework`; generation and GPUs from `section` (teacher models keep theirs)."""
    return as_json(
        {
            "framework": framework_settings(config["evaluation"]["framework"], shots=shots),
            "generation": generation_settings(section, model),
        }
    )


def index_dir(wildcards):
    return P("index_dir", dataset=wildcards.dataset)


def baseline_section(model):
    """Teachers keep their own (large-model) generation settings and resources; student bases use the evaluation ones."""
    return "teacher" if model in TEACHERS else "evaluation"


# Paper stage (paper.smk): the manifest of the files it renders, its settings, the report captions.
def _eval(kind, f, d, system, **labels):
    """An evaluation's metrics and predictions (`kind`: eval, transfer or subq) with what it is."""
    predictions = "predictions" if kind == "eval" else f"{kind}_predictions"
    return {
        "path": P(kind, framework=f, dataset=d, system=system, **labels),
        "predictions": P(predictions, framework=f, dataset=d, system=system, **labels),
        "framework": f,
        "dataset": d,
        "system": system,
        **labels,
    }


def _bench(rule, **wildcards):
    """The benchmark file of one job of `rule` (its template from the rule itself) and its stage path."""
    path = str(getattr(rules, rule).benchmark).format(**wildcards)
    return {"path": path, "stage": path[len(BENCH_ROOT) : -len(BENCH_SUFFIX)]}


def models_in_use():
    """The models some job of this run reads (its cells' students and teachers, the baselines' models)
    and those they are made from. A model of the config that none of them is, like those an overlay
    of the paper config leaves in `models`, is never built: its cost row would fetch it."""
    used = {s for _, _, s, _ in CELLS} | {STUDENTS[s]["teacher"] for _, _, s, _ in CELLS}
    used |= {model for _, _, model in FEWSHOT_EVALS}
    todo = list(used)
    while todo:
        base = MODELS[todo.pop()].get("base")
        if base and base not in used:
            used.add(base)
            todo.append(base)
    return used


def _benchmarks():
    """Benchmark files of the jobs whose outputs the paper declares: the cost table's rows."""
    entries = [_bench("toy_world", dataset=d) for d in DATASETS] if TOY else []
    entries += [_bench("prepare", dataset=d, part=part) for d in DATASETS for part in ("train", "dev")]
    entries += [_bench("corpus", dataset=d) for d in DATASETS] + [_bench("split", dataset=d) for d in DATASETS]
    entries += [_bench("index", dataset=d, backend=b) for d in DATASETS for b in BACKENDS]
    entries += [_bench("retrieval_eval", dataset=d) for d in DATASETS]
    used = models_in_use()
    for source, rule_name in (("hub", "model_download"), ("gguf", "model_gguf"), ("prune", "model_prune"), ("random", "model_random")):
        entries += [_bench(rule_name, model=model) for model in models_from(source) if model in used]
    entries += [_bench(rule_name, model=m) for m in models_from("finetune") if m in used for rule_name in ("gold_traces", "model_finetune")]
    entries += [
        _bench("teacher_shard", framework=f, dataset=d, model=t, split="train", shard=i, n=config["teacher"]["shards"])
        for f, d, t in TRACED
        if traced_key(f, d, t) not in IMPORTED
        for i in range(config["teacher"]["shards"])
    ]
    entries += [_bench("teacher_import", traced=key) for key in IMPORTED]
    entries += [_bench("stepwise", framework=f, dataset=d, teacher=t) for f, d, t in TRACED]
    trained = sorted({(f, d, s, trained_method(m)) for f, d, s, m in CELLS})
    entries += [_bench("train", framework=f, dataset=d, student=s, method=m, hparams=hparams(SEED)) for f, d, s, m in trained]
    trained_extra = sorted({(f, d, s, trained_method(m), seed) for f, d, s, m, seed in EXTRA_SEEDS})
    entries += [_bench("train", framework=f, dataset=d, student=s, method=m, hparams=hparams(seed)) for f, d, s, m, seed in trained_extra]
    entries += [_bench("evaluate_student", framework=f, dataset=d, student=s, method=m) for f, d, s, m in CELLS]
    entries += [_bench("evaluate_student_seed", framework=f, dataset=d, student=s, method=m, seed=seed) for f, d, s, m, seed in EXTRA_SEEDS]
    entries += [_bench("evaluate_baseline", baseline=b, dataset=d, model=model) for b, d, model in FEWSHOT_EVALS]
    entries += [_bench("evaluate_transfer", framework=f, trained_on=t, dataset=d, student=s, method=m) for f, t, d, s, m in TRANSFER]
    entries += [_bench("subquestions", dataset=d) for d in sorted({d for _, d, _, _ in SUBQUESTIONS})]
    entries += [_bench("evaluate_subquestions", framework=f, dataset=d, student=s, method=m) for f, d, s, m in SUBQUESTIONS]
    return entries


def _seed_evals():
    """Every seed's evaluation of each cell trained with several seeds, labelled with its system and seed."""
    return [
        dict(_eval("eval", f, d, eval_system(s, m, seed)), system=layout.student_system(s, m), seed=str(seed))
        for f, d, s, m in MULTI_SEED
        for seed in CELL_SEEDS[(f, d, s, m)]
    ]


def paper_manifest():
    """Every file the paper is rendered from, with what it is (steper.paper.results.SECTIONS).

    `seeds` is there only when some cell has several seeds, so a one-seed run's manifest (and with
    it its paper) is what it was before seeds existed.
    """
    manifest = {
        "evals": [_eval("eval", f, d, layout.student_system(s, m)) for f, d, s, m in CELLS]
        + [_eval("eval", b, d, layout.fewshot_system(model)) for b, d, model in FEWSHOT_EVALS],
        "transfer": [_eval("transfer", f, d, layout.student_system(s, m), trained_on=t) for f, t, d, s, m in TRANSFER],
        "subquestions": [_eval("subq", f, d, layout.student_system(s, m)) for f, d, s, m in SUBQUESTIONS],
        "retrieval": [{"path": P("retrieval", dataset=d), "dataset": d} for d in DATASETS],
        "stepwise": [
            {"path": P("stepwise_stats", framework=f, dataset=d, teacher=t, stepwise_tag=STEPWISE_TAG), "framework": f, "dataset": d, "teacher": t}
            for f, d, t in TRACED
        ],
        "summaries": [
            {"path": P("traces_summary", framework=f, dataset=d, model=t, split="train"), "framework": f, "dataset": d, "model": t, "split": "train"}
            for f, d, t in TRACED
        ],
        "train_logs": [{"path": train_log(f, d, s, m), "framework": f, "dataset": d, "student": s, "method": m} for f, d, s, m in CELLS],
        "corpora": [{"path": P("corpus", dataset=d), "dataset": d} for d in DATASETS],
        "benchmarks": _benchmarks(),
        "benchmark_results": [{"path": str(path)} for path in sorted(Path("benchmarks/results").glob("*.json"))],
    }
    if MULTI_SEED:
        manifest["seeds"] = _seed_evals()
    return manifest


def paper_settings():
    return as_json(
        {
            "run": RUN,
            "datasets": DATASETS,
            "frameworks": FRAMEWORKS,
            "main_student": MAIN_STUDENT,
            "teacher": STUDENTS[MAIN_STUDENT]["teacher"],
            "students": list(STUDENTS),
            "methods": {
                name: {"data": spec["data"], "loss": spec["loss"], "label": spec.get("label") or name, "tables": spec["tables"]}
                | ({"match_steps_of": spec["match_steps_of"]} if spec.get("match_steps_of") else {})
                for name, spec in METHODS.items()
            },
            "baselines": BASELINES,
            "scaling_students": config["paper"]["scaling_students"],
            "scaling_teacher": STUDENTS[(config["paper"]["scaling_students"] or [MAIN_STUDENT])[0]]["teacher"],
            "bootstrap": config["paper"]["bootstrap"],
            "case_study": config["paper"]["case_study"],
        }
    )


def _report(path, caption):
    """A report() output whose caption is a label column: Snakemake's `caption=` takes an RST file path, not text."""
    return report(path, category=REPORT_CATEGORY, labels={"file": Path(path).name, "caption": caption})


def write_manifest(path, manifest, log):
    """Written to a temporary name and renamed, so a killed job leaves no half manifest."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    tmp.write_text(f"{manifest}\n", encoding="utf-8")
    tmp.replace(path)
    Path(log).write_text(f"wrote {path}\n", encoding="utf-8")


def results_dir(wildcards):
    return P("results")


wildcard_constraints:
    dataset=one_of(DATASETS),
    framework=one_of(FRAMEWORKS),
    backend=one_of(["pyserini", "bm25s"]),
    split="train|dev|test",
    variant=one_of(VARIANTS),
    method=one_of(METHODS),
    student=one_of(STUDENTS),


# Models stage (workflow/rules/models.smk, H7): the demo teacher (source finetune), the base model
# fine-tuned on gold IRCoT and Self-Ask chains of a toy world apart from the questions (steper/data/gold_traces.py).
GOLD_FRAMEWORKS = ["ircot", "selfask"]


def finetune_base(wildcards):
    return model_dir(MODELS[wildcards.model]["base"])


def gold_settings(wildcards):
    spec = MODELS[wildcards.model]
    toy = {key: config["data"]["toy"][key] for key in ("seed", "n_entities", "types")}
    gold = {key: value for key, value in spec["gold"].items() if key != "frameworks"}
    # chains of both frameworks are always made (cheap); `gold.frameworks` picks what is trained on
    return as_json(
        dict(
            gold,
            datasets=DATASETS,
            frameworks=GOLD_FRAMEWORKS,
            toy=toy,
            framework=framework_settings(config["teacher"]["framework"], shots=0),
        )
    )


def finetune_settings(wildcards):
    spec = MODELS[wildcards.model]
    training = {key: value for key, value in config["training"].items() if key != "resources"}
    training.update(spec["training"], seed=config["seed"], gpus=config["training"]["resources"]["gpus"])
    return as_json(
        {
            "method": {"data": "first-mid-final", "loss": "uniform"},
            "training": training,
            "student": {"chat_template": spec["chat_template"], "dtype": spec["storage_dtype"]},
        }
    )
