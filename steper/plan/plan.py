"""The plan of one run: its names, the jobs its grid asks for, their paths and stage settings.

The Snakefile builds one `Plan` from the validated config; the rules declare their inputs,
outputs and `steper ...` commands from it and nothing else. Each stage gets its settings as one
JSON argument built here, so a changed hyper-parameter changes the rule's params and Snakemake
reruns exactly what depends on it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from steper import layout
from steper.config_checks import ignored_settings
from steper.config_validation import ConfigError
from steper.data.datasets import DATASETS as KNOWN_DATASETS
from steper.data.datasets import WIKI_ABSTRACTS, WIKI_ABSTRACTS_DOWNLOAD
from steper.frameworks.trace_import import imported, traced_key, unused_imports
from steper.model_sources import tokenizer_model
from steper.names import DISTILLED, VARIANTS
from steper.plan import stages
from steper.plan.checks import reference_problems
from steper.plan.grid import cell_seeds, in_order, kinds, matched_method, trained_methods

# Snakemake's conda environments of the jobs, relative to the rule files.
ENV_CPU = "../envs/steper.yaml"
ENV_GPU = "../envs/gpu.yaml"


def as_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


def one_of(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly the given names (or nothing)."""
    names = list(names)
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


class Plan:
    """What a validated config asks for, in the names the rules use."""

    def __init__(self, config: Mapping[str, Any], basedir: str | os.PathLike = ".", stated: Mapping[str, Any] | None = None):
        """`config`: validated, defaults filled in; `stated`: what the tier states (steper.plan.tiers),
        whose every key must change something."""
        problems = reference_problems(config)
        if problems:
            raise ConfigError("Invalid config:\n  " + "\n  ".join(problems))
        ignored = ignored_settings(stated, config) if stated is not None else []
        if ignored:
            raise ConfigError("Invalid config (settings that would change nothing):\n  " + "\n  ".join(ignored))
        self.config = config
        self.basedir = str(basedir)
        self.run: str = config["run"]
        self.seed: int = config["seed"]
        self.datasets: list[str] = config["datasets"]
        self.frameworks: list[str] = config["frameworks"]
        self.models: dict[str, Any] = config["models"]
        self.students: dict[str, Any] = config["students"]
        self.teachers = sorted({spec["teacher"] for spec in self.students.values()})
        self.baselines: list[str] = config["evaluation"]["baselines"]
        self.backends: list[str] = config["retrieval"]["compare"]
        self.main_student: str = config["paper"]["main_student"] or next(iter(self.students))
        # null = every teacher and every student's base model; an explicit [] = none
        baseline_models = config["evaluation"]["baseline_models"]
        self.baseline_models: list[str] = sorted(set(self.teachers) | set(self.students)) if baseline_models is None else baseline_models
        self.toy = config["data"]["source"] == "toy"
        self.stepwise_tag = f"{config['stepwise']['target']}-{config['stepwise']['filter']}"
        self.variants = list(VARIANTS)
        self.distilled = list(DISTILLED)
        self.downloads = [*KNOWN_DATASETS, WIKI_ABSTRACTS_DOWNLOAD]
        self.shards: int = config["teacher"]["shards"]

        self.cell_seeds = cell_seeds(config)
        self.cells = list(self.cell_seeds)
        # The methods this run trains (config order): a tier's grids pick them from the paper's.
        self.methods: dict[str, Any] = {m: config["methods"][m] for m in in_order(list(config["methods"]), {c.method for c in self.cells})}
        self.trained = trained_methods(config["methods"])
        # Students of the extra seeds (cells x seeds other than the run's) and the cells trained with several seeds.
        self.extra_seeds = [(*cell, seed) for cell, seeds in self.cell_seeds.items() for seed in seeds if seed != self.seed]
        self.multi_seed = [cell for cell, seeds in self.cell_seeds.items() if len(seeds) > 1]
        # hparams segment -> its seed: the train rule reads which seed to train with from its output path.
        self.seed_of_hparams = {self.hparams(seed): seed for seeds in self.cell_seeds.values() for seed in seeds}

        self.traced = sorted({(c.framework, c.dataset, self.students[c.student]["teacher"]) for c in self.cells})
        # Teacher traces made elsewhere (teacher.imports), by the `{traced}` wildcard of the rule that imports them.
        self.imported = {traced_key(*traced): entry for traced, entry in imported(config, self.traced).items()}
        self.unused_imports = unused_imports(config, self.traced)
        self.fewshot_evals = [(b, d, model) for b in self.baselines for d in self.datasets for model in self.baseline_models]
        # Cross-domain transfer: (framework, trained_on, dataset, student, method) of the main student's
        # `transfer` methods, every trained cell evaluated on every other dataset.
        self.transfer = [
            (c.framework, c.dataset, d, c.student, c.method)
            for c in self.cells
            if c.student == self.main_student and "transfer" in self.methods[c.method]["tables"]
            for d in self.datasets
            if d != c.dataset
        ]
        subquestions = config["paper"]["subquestions"]
        self.subquestion_datasets = [d for d in subquestions["datasets"] if d in self.datasets]
        self.subquestions = [
            c for c in self.cells
            if c.student == self.main_student and "subquestions" in self.methods[c.method]["tables"] and c.dataset in self.subquestion_datasets
        ]
        self.subqa: str | None = subquestions["subqa"]

    # Paths.
    def path(self, kind: str, **values: Any) -> str:
        """An artifact path of this run from steper/layout.py; the names not given stay wildcards."""
        return layout.path(kind, run=self.run, **values)

    def stage(self, rule: str, **values: Any) -> str:
        """The stage segment of `rule`'s log and benchmark, this run's step-wise tag filled in."""
        if "{stepwise_tag}" in stages.STAGES[rule]:
            values.setdefault("stepwise_tag", self.stepwise_tag)
        return stages.stage(rule, **values)

    def log(self, rule: str, **values: Any) -> str:
        return self.path("log", stage=self.stage(rule, **values))

    def benchmark(self, rule: str, **values: Any) -> str:
        return self.path("benchmark", stage=self.stage(rule, **values))

    def hparams(self, seed: int) -> str:
        """The student path segment of the training settings with `seed`."""
        return layout.hparams_tag(self.config["training"], seed)

    def trained_method(self, method: str) -> str:
        """The method whose student `method` shares (itself unless an earlier method is the same computation)."""
        return self.trained[method]

    def training_kinds(self, method: str) -> str:
        """The step-wise data variant a method's student is trained on."""
        return "-".join(kinds(self.config["methods"][method]))

    def model_dir(self, name: str) -> str:
        spec = self.models[name]
        return spec["path"] if spec["source"] == "local" else self.path("model", model=name)

    def models_from(self, source: str) -> list[str]:
        """Names of the models built from `source`."""
        return [name for name, spec in self.models.items() if spec["source"] == source]

    def tokenizer_dir(self, model: str) -> str:
        """The directory of the model whose tokenizer `model` has (steper.model_sources.tokenizer_model)."""
        return self.model_dir(tokenizer_model(self.models, model))

    def models_in_use(self) -> set[str]:
        """The models some job of this run reads (its cells' students, the teachers of the traces
        it makes, the models whose tokenizer its step-wise data is counted with, the baselines'
        models) and those they are made from. A model of the config that none of them is, like
        those of the paper config an overlay keeps, or a teacher whose every trace is imported,
        is never built: its cost row would build it."""
        used = {c.student for c in self.cells} | {tokenizer_model(self.models, teacher) for _, _, teacher in self.traced}
        used |= {teacher for framework, dataset, teacher in self.traced if traced_key(framework, dataset, teacher) not in self.imported}
        used |= {model for _, _, model in self.fewshot_evals}
        todo = list(used)
        while todo:
            base = self.models[todo.pop()].get("base")
            if base and base not in used:
                used.add(base)
                todo.append(base)
        return used

    def stepwise_dir(self, framework: str, dataset: str, teacher: str) -> str:
        return self.path("stepwise_dir", framework=framework, dataset=dataset, teacher=teacher, stepwise_tag=self.stepwise_tag)

    def student_dir(self, framework: str, dataset: str, student: str, method: str, seed: int | None = None) -> str:
        return self.path(
            "student", framework=framework, dataset=dataset, student=student, method=self.trained_method(method),
            stepwise_tag=self.stepwise_tag, hparams=self.hparams(self.seed if seed is None else seed),
        )

    def train_log(self, framework: str, dataset: str, student: str, method: str) -> str:
        return self.path(
            "train_log", framework=framework, dataset=dataset, student=student, method=self.trained_method(method),
            stepwise_tag=self.stepwise_tag, hparams=self.hparams(self.seed),
        )

    def train_data(self, framework: str, dataset: str, student: str, method: str) -> str:
        teacher = self.students[student]["teacher"]
        return self.path("stepwise", framework=framework, dataset=dataset, teacher=teacher, stepwise_tag=self.stepwise_tag, variant=self.training_kinds(method))

    def match_data(self, framework: str, dataset: str, student: str, method: str) -> str | list[str]:
        """The step-wise data of the method whose optimizer steps `method` takes (none if it takes its own)."""
        other = self.config["methods"][method].get("match_steps_of")
        return [] if other is None else self.train_data(framework, dataset, student, other)

    def eval_system(self, student: str, method: str, seed: int) -> str:
        """The `{system}` path segment of a student's evaluation: the extra seeds' carry their seed."""
        system = layout.student_system(student, method)
        return system if seed == self.seed else layout.seed_system(system, seed)

    def index_dir(self, dataset: str) -> str:
        return self.path("index_dir", dataset=dataset)

    def demonstrations(self, dataset: str) -> str:
        """Few-shot demonstrations: generated with the toy world, or converted from IRCoT's annotations."""
        return self.path("annotations", dataset=dataset)

    # Scheduler resources.
    def resources(self, section: str) -> dict[str, int]:
        """A job's scheduler resources; `<section>.resources.gpus` is the only place its GPU count is set."""
        res = self.config[section]["resources"]
        out = {"mem_mb": res["mem_mb"], "runtime": res["runtime"]}
        if res["gpus"]:
            out["gpu"] = res["gpus"]
        return out

    def baseline_section(self, model: str) -> str:
        """Teachers keep their own (large-model) generation settings and resources; student bases use the evaluation ones."""
        return "teacher" if model in self.teachers else "evaluation"

    # Stage settings (the rules' `--settings` JSON).
    def framework_settings(self, section_framework: Mapping[str, Any], shots: int | None = None) -> dict[str, Any]:
        settings = dict(section_framework)
        if shots is not None:
            settings["shots"] = shots
        retrieval = self.config["retrieval"]
        settings.update(retrieval_backend=retrieval["backend"], k1=retrieval["k1"], b=retrieval["b"])
        return settings

    def generation_settings(self, section: str, model: str) -> dict[str, Any]:
        """The generation settings of config section `section` (teacher, evaluation) for `model`: the
        section's compute dtype whatever the dtype the model is stored in (models.<name>.storage_dtype)."""
        return dict(
            self.config[section]["generation"],
            tensor_parallel_size=self.config[section]["resources"]["gpus"],
            chat_template=self.models[model]["chat_template"],
            seed=self.seed,
        )

    def toy_settings(self) -> str:
        return as_json(self.config["data"]["toy"])

    def split_settings(self) -> str:
        return as_json(self.config["data"]["split"])

    def index_settings(self) -> str:
        return as_json({key: self.config["retrieval"][key] for key in ("k1", "b", "threads")})

    def retrieval_eval_settings(self) -> str:
        return as_json({key: self.config["retrieval"][key] for key in ("eval_k", "k1", "b", "agreement_k")})

    def random_model_settings(self, model: str) -> str:
        return as_json(self.models[model]["random"])

    def teacher_settings(self, model: str) -> str:
        return as_json({
            "framework": self.framework_settings(self.config["teacher"]["framework"]),
            "generation": self.generation_settings("teacher", model),
        })

    def stepwise_settings(self) -> str:
        stepwise = self.config["stepwise"]
        return as_json({"target": stepwise["target"], "filter": stepwise["filter"], "variants": self.variants})

    def training_settings(self, seed: int) -> dict[str, Any]:
        """The training section as `steper train run` takes it: seed and GPUs (it runs max(1, gpus) processes) included."""
        training = {key: value for key, value in self.config["training"].items() if key != "resources"}
        return dict(training, seed=seed, gpus=self.config["training"]["resources"]["gpus"])

    def train_settings(self, student: str, method: str, hparams: str) -> str:
        spec = self.models[student]
        return as_json({
            "method": dict(
                {key: self.config["methods"][method].get(key) for key in ("data", "loss", "weights", "eos")},
                match_steps_of=matched_method(self.config["methods"], method),
            ),
            "training": self.training_settings(self.seed_of_hparams[hparams]),
            "student": {"chat_template": spec["chat_template"], "dtype": spec["storage_dtype"]},
        })

    def evaluate_settings(self, section: str, model: str, shots: int | None = None) -> str:
        """Framework loop from `evaluation.framework`; generation and GPUs from `section` (teacher models keep theirs)."""
        return as_json({
            "framework": self.framework_settings(self.config["evaluation"]["framework"], shots=shots),
            "generation": self.generation_settings(section, model),
        })

    # Data stage: the flags of `steper data ...`, each a list (the rule quotes each word).
    def download_flags(self) -> list[str]:
        """A mirror and its sums file, when the config names them."""
        mirror = self.config["data"]["download"]["mirror"]
        return (["--mirror", mirror] if mirror else []) + self.sums_flags()

    def sums_flags(self) -> list[str]:
        """A mirror's sums file, which also pins the annotations it serves (the rehearsal's stand-ins)."""
        sums = self.config["data"]["download"]["sha256"]
        return ["--sums", sums] if sums else []

    def prepare_flags(self, dataset: str, part: str, raw: str) -> list[str]:
        spec = KNOWN_DATASETS[dataset]
        train, dev = spec.toy if self.toy else spec.official
        flags = ["--format", spec.reader, "--input", f"{raw}/{train if part == 'train' else dev}"]
        if spec.aliases:
            flags += ["--aliases", f"{raw}/{spec.aliases}"]
        if self.toy:
            flags += ["--chains", f"{raw}/chains.jsonl"]
        return flags

    def corpus_sources(self, dataset: str) -> dict[str, Any]:
        if self.toy:
            return {"records": [self.path("records_full", dataset=dataset, part=part) for part in ("train", "dev")]}
        if not KNOWN_DATASETS[dataset].corpus:
            return {"wiki": self.path("raw", dataset=WIKI_ABSTRACTS_DOWNLOAD)}
        return {"raw": self.path("raw", dataset=dataset)}

    def corpus_flags(self, dataset: str, sources: Mapping[str, Any]) -> list[str]:
        """Arguments of `steper data corpus`; the official corpora are checked against the paper's size."""
        if self.toy:
            return ["--records", *sources["records"]]
        spec = KNOWN_DATASETS[dataset]
        if not spec.corpus:
            return ["--wiki-abstracts", f"{sources['wiki']}/{WIKI_ABSTRACTS}", "--expect-count"]
        return ["--native", spec.reader, "--records", *(f"{sources['raw']}/{name}" for name in spec.corpus), "--expect-count"]

    def followups_file(self, dataset: str) -> str | list[str]:
        """The dataset's Self-Ask follow-ups file, if any; a relative path missing from the working
        directory is read from the repository, where steper ships its own (the schema's default)."""
        path = self.config["data"]["annotations"]["followups"].get(dataset)
        if not path:
            return []
        shipped = os.path.join(self.basedir, path)
        return shipped if not os.path.isabs(path) and not os.path.exists(path) and os.path.exists(shipped) else path

    def annotations_url(self, dataset: str) -> str:
        return self.config["data"]["annotations"]["url"].format(dataset=dataset)

    # The fine-tuned teacher (source finetune).
    def base_model_dir(self, model: str) -> str:
        """The directory of the model a pruned or fine-tuned `model` is made from."""
        return self.model_dir(self.models[model]["base"])

    def gold_settings(self, model: str) -> str:
        """Gold chains of every distilled framework are made (cheap); `gold.frameworks` picks what is trained on."""
        spec = self.models[model]
        toy = {key: self.config["data"]["toy"][key] for key in ("seed", "n_entities", "types")}
        gold = {key: value for key, value in spec["gold"].items() if key != "frameworks"}
        return as_json(dict(
            gold, datasets=self.datasets, frameworks=self.distilled, toy=toy,
            framework=self.framework_settings(self.config["teacher"]["framework"], shots=0),
        ))

    def gold_stepwise(self, model: str, gold_framework: str) -> str:
        """The step-wise examples of one framework's gold traces that the teacher is trained on."""
        return self.path("gold_stepwise", model=model, gold_framework=gold_framework, variant=self.models[model]["method"]["data"])

    def gold_stepwise_settings(self, model: str) -> str:
        spec = self.models[model]
        return as_json({"target": spec["stepwise"]["target"], "filter": spec["stepwise"]["filter"], "variants": [spec["method"]["data"]]})

    def finetune_settings(self, model: str) -> str:
        spec = self.models[model]
        training = {key: value for key, value in self.config["training"].items() if key != "resources"}
        training.update(spec["training"], seed=self.seed, gpus=self.config["training"]["resources"]["gpus"])
        return as_json({
            "method": {"data": spec["method"]["data"], "loss": spec["method"]["loss"]},
            "training": training,
            "student": {"chat_template": spec["chat_template"], "dtype": spec["storage_dtype"]},
        })
