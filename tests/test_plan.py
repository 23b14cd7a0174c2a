"""The workflow's plan (steper/plan/) on small hand-written configs: the grid, which methods are one
training job, the cross-reference checks, paths and stage settings, the paper manifest and the
tier overlays."""

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from steper.config_validation import ConfigError, validate_config
from steper.paper import contents
from steper.plan import paper, stages
from steper.plan.checks import reference_problems
from steper.plan.grid import Cell, cell_seeds, trained_methods, training_identity
from steper.plan.plan import Plan
from steper.plan.tiers import REPLACED, overlay, stated_config, tier_config

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

METHODS = {
    "vanilla_kd": {"data": "final", "loss": "vanilla", "eos": "every_step", "tables": ["main", "transfer"]},
    "steper": {"data": "first-mid-final", "loss": "difficulty_aware", "eos": "every_step", "tables": ["main", "subquestions"]},
    "uniform": {"data": "first-mid-final", "loss": "fixed", "weights": {"first": 1.0, "mid": 1.0, "final": 1.0}, "eos": "every_step", "tables": ["weighting"]},
    "plus_mid": {"data": "first-mid-final", "loss": "uniform", "eos": "every_step", "tables": ["ablation"]},
}


def small_config(**changes):
    """A schema-valid config of two datasets, one framework, a teacher and a student, defaults filled in."""
    config = {
        "run": "t",
        "datasets": ["hotpotqa", "musique"],
        "frameworks": ["ircot"],
        "data": {"source": "toy"},
        "retrieval": {"backend": "bm25s", "compare": ["bm25s"]},
        "models": {"big": {"source": "random"}, "small": {"source": "random"}},
        "students": {"small": {"teacher": "big"}},
        "methods": copy.deepcopy(METHODS),
        "experiments": [{"methods": ["vanilla_kd", "steper"]}],
        "teacher": {"shards": 2, "framework": {}, "generation": {}, "resources": {}},
        "evaluation": {"framework": {}, "generation": {}, "resources": {}},
        "training": {"deepspeed": None, "resources": {}},
    }
    config.update(copy.deepcopy(changes))
    validate(config, str(SCHEMA))
    return config


def test_grids_are_a_union_with_each_cells_seeds():
    config = small_config(experiments=[
        {"datasets": ["hotpotqa"], "methods": ["steper"], "seeds": [0, 2]},
        {"methods": ["steper", "vanilla_kd"], "seeds": [1, 0]},
    ])
    seeds = cell_seeds(config)
    assert list(seeds) == [
        Cell("ircot", "hotpotqa", "small", "steper"),
        Cell("ircot", "hotpotqa", "small", "vanilla_kd"),
        Cell("ircot", "musique", "small", "steper"),
        Cell("ircot", "musique", "small", "vanilla_kd"),
    ]
    assert seeds[Cell("ircot", "hotpotqa", "small", "steper")] == [0, 1, 2]
    assert seeds[Cell("ircot", "musique", "small", "vanilla_kd")] == [0, 1]


def test_no_grid_is_the_full_grid_with_the_runs_seed():
    config = small_config(experiments=None, seed=7)
    assert cell_seeds(config) == {Cell("ircot", d, "small", m): [7] for d in ("hotpotqa", "musique") for m in METHODS}


def test_methods_that_are_the_same_computation_share_the_first_ones_student():
    assert trained_methods(METHODS) == {"vanilla_kd": "vanilla_kd", "steper": "steper", "uniform": "uniform", "plus_mid": "uniform"}
    assert training_identity(METHODS, "vanilla_kd") == ("final", (1.0,), None, False)
    methods = {"m": {"data": "first-final", "loss": "fixed", "weights": {"first": 2.0}, "eos": "every_step"}}
    assert training_identity(methods, "m") == ("first-final", (2.0, 0.0), None, True)


def test_where_eos_goes_is_part_of_a_students_identity_unless_it_trains_on_final_steps_only():
    methods = dict(METHODS, steper_final_eos=dict(METHODS["steper"], eos="final_step"),
                   vanilla_final_eos=dict(METHODS["vanilla_kd"], eos="final_step"))
    shared = trained_methods(methods)
    assert shared["steper_final_eos"] == "steper_final_eos"
    assert shared["vanilla_final_eos"] == "vanilla_kd"


def test_a_budget_matched_method_is_its_own_student_and_reads_the_other_methods_data():
    methods = dict(METHODS, matched={"data": "final", "loss": "vanilla", "match_steps_of": "steper"})
    assert trained_methods(methods)["matched"] == "matched"
    assert training_identity(methods, "matched")[2] == (("data", "first-mid-final"), ("loss", "difficulty_aware"))


def test_a_shared_student_is_trained_once_under_the_first_methods_name():
    plan = Plan(small_config(experiments=[{"methods": ["plus_mid", "uniform"]}]))
    assert plan.student_dir("ircot", "hotpotqa", "small", "plus_mid") == plan.student_dir("ircot", "hotpotqa", "small", "uniform")
    assert "/small/uniform/" in plan.student_dir("ircot", "hotpotqa", "small", "plus_mid")
    assert plan.train_data("ircot", "hotpotqa", "small", "vanilla_kd").endswith("/final.jsonl")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"students": {"small": {"teacher": "huge"}}}, "students.small.teacher: 'huge' is not a key of models"),
        ({"students": {"tiny": {"teacher": "big"}}}, "students.tiny: not a key of models"),
        ({"models": {"big": {"source": "hub", "path": "a/b"}, "small": {"source": "random"}}}, "models.big.revision: required for source 'hub'"),
        ({"models": {"big": {"source": "random"}, "small": {"source": "prune", "base": "gone", "keep_layers": [0]}}}, "models.small.base: 'gone'"),
        ({"experiments": [{"methods": ["steper", "nope"]}]}, "experiments[0].methods: 'nope' is not configured in methods"),
        ({"experiments": [{"seeds": [1, 2]}]}, "experiments[0].seeds: must include the run's seed 0"),
        ({"retrieval": {"backend": "pyserini", "compare": ["bm25s"]}}, "retrieval.backend: 'pyserini' must be listed in retrieval.compare"),
        ({"paper": {"main_student": "big"}}, "paper.main_student: 'big' is not a key of students"),
        ({"evaluation": {"framework": {}, "generation": {}, "baseline_models": ["ghost"]}}, "evaluation.baseline_models: 'ghost' is not a key of models"),
        ({"models": {"big": {"source": "prune", "base": "small", "keep_layers": [0]}, "small": {"source": "finetune", "base": "big"}}},
         "models.big.base: a loop of bases (big -> small -> big)"),
    ],
)
def test_dangling_references_are_named_by_their_key(change, problem):
    config = small_config(**change)
    assert any(p.startswith(problem) for p in reference_problems(config)), reference_problems(config)
    with pytest.raises(ValueError, match=re.escape(problem)):
        Plan(config)


def test_a_valid_config_has_no_problems():
    assert reference_problems(small_config()) == []


def test_the_run_trains_the_methods_its_grids_name_in_config_order():
    plan = Plan(small_config(experiments=[{"methods": ["steper"]}, {"datasets": ["musique"], "methods": ["vanilla_kd"]}]))
    assert list(plan.methods) == ["vanilla_kd", "steper"]
    assert list(paper.settings(plan)["methods"]) == ["vanilla_kd", "steper"]


def test_transfer_and_subquestion_jobs_follow_the_methods_tables():
    plan = Plan(small_config(paper={"subquestions": {"datasets": ["musique", "2wikimultihopqa"]}}))
    assert plan.transfer == [("ircot", "hotpotqa", "musique", "small", "vanilla_kd"), ("ircot", "musique", "hotpotqa", "small", "vanilla_kd")]
    assert plan.subquestions == [Cell("ircot", "musique", "small", "steper")]


def test_paths_and_stages_of_a_seeded_student():
    plan = Plan(small_config(experiments=[{"methods": ["steper"], "seeds": [0, 3]}]))
    assert plan.extra_seeds == [("ircot", "hotpotqa", "small", "steper", 3), ("ircot", "musique", "small", "steper", 3)]
    assert plan.eval_system("small", "steper", 3) == "small--steper--seed3"
    assert plan.eval_system("small", "steper", 0) == "small--steper"
    assert plan.seed_of_hparams[plan.hparams(3)] == 3
    assert plan.log("train", framework="f") == "logs/t/train/f/{dataset}/{student}/{method}/chain-acc_tokens/{hparams}.log"
    assert plan.benchmark("evaluate_student_seed", seed=3) == "results/t/benchmarks/evaluate/{framework}/{dataset}/{student}--{method}--seed3.tsv"


def test_data_flags_name_each_datasets_native_files():
    toy = Plan(small_config(datasets=["2wikimultihopqa"]))
    assert toy.prepare_flags("2wikimultihopqa", "dev", "raw") == [
        "--format", "2wikimultihopqa", "--input", "raw/dev.json", "--aliases", "raw/id_aliases.json", "--chains", "raw/chains.jsonl",
    ]
    official = Plan(small_config(data={"source": "official"}))
    assert official.prepare_flags("hotpotqa", "train", "raw") == ["--format", "hotpotqa", "--input", "raw/hotpot_train_v1.1.json"]
    assert official.corpus_sources("hotpotqa") == {"wiki": "results/t/raw/hotpotqa-wiki"}
    assert official.corpus_flags("musique", {"raw": "r"})[:4] == ["--native", "musique", "--records", "r/musique_ans_v1.0_train.jsonl"]
    assert official.corpus_flags("musique", {"raw": "r"})[-1] == "--expect-count"


def test_manifest_lists_seeds_only_when_some_cell_has_several():
    one = Plan(small_config())
    assert "seeds" not in paper.manifest(one, [])
    assert "table_seeds" not in paper.tables(one)
    several = Plan(small_config(experiments=[{"methods": ["steper"], "seeds": [0, 1]}]))
    listed = paper.manifest(several, ["benchmarks/results/x.json"])
    assert [entry["seed"] for entry in listed["seeds"]] == ["0", "1", "0", "1"]
    assert {entry["system"] for entry in listed["seeds"]} == {"small--steper"}
    assert listed["benchmark_results"] == [{"path": "benchmarks/results/x.json"}]
    assert "table_seeds" in paper.tables(several)


def test_manifest_benchmarks_are_the_jobs_benchmark_files():
    plan = Plan(small_config())
    entries = paper.benchmarks(plan)
    assert all(entry["path"] == plan.path("benchmark", stage=entry["stage"]) for entry in entries)
    assert all("{" not in entry["path"] for entry in entries)
    stages_of = [entry["stage"] for entry in entries]
    assert "teacher/ircot/hotpotqa/big/train.1-of-2" in stages_of
    assert "models/random/big" in stages_of and "models/random/small" in stages_of


def test_paper_inputs_are_the_manifest_files_their_predictions_and_the_students():
    plan = Plan(small_config())
    listed = paper.manifest(plan, [])
    files = paper.result_files(plan, listed)
    assert plan.path("predictions", framework="ircot", dataset="musique", system="small--steper") in files
    assert plan.student_dir("ircot", "musique", "small", "steper") in files
    assert not any(path.endswith("train_log.jsonl") for path in files)


def test_stage_fields_are_checked():
    with pytest.raises(KeyError, match="no field model"):
        stages.stage("split", model="x")


def test_overlay_merges_mappings_and_replaces_model_sets_and_lists():
    base = {"models": {"a": {"source": "hub"}}, "students": {"a": {}}, "training": {"lr": 1, "epochs": 2}, "datasets": ["x", "y"], "methods": {"m": {"loss": "l"}}}
    top = {"models": {"b": {"source": "random"}}, "training": {"lr": 3}, "datasets": ["x"], "methods": {"m": {"tables": ["main"]}}}
    merged = overlay(base, top)
    assert merged["models"] == {"b": {"source": "random"}}
    assert merged["students"] == {"a": {}}
    assert merged["training"] == {"lr": 3, "epochs": 2}
    assert merged["datasets"] == ["x"]
    assert merged["methods"] == {"m": {"loss": "l", "tables": ["main"]}}
    assert base["training"] == {"lr": 1, "epochs": 2}


def test_tier_config_lays_files_then_overrides_over_the_paper_config(tmp_path):
    tier = tmp_path / "tier.yaml"
    tier.write_text("run: mine\ntraining: {lr: 0.5}\n")
    config = tier_config(ROOT, [tier], {"seed": 4})
    assert (config["run"], config["seed"], config["training"]["lr"]) == ("mine", 4, 0.5)
    assert config["training"]["epochs"] == tier_config(ROOT, [])["training"]["epochs"]


def test_the_paper_renders_the_tables_and_figures_its_rule_declares():
    from steper.paper.figures import FIGURES
    from steper.paper.tables import MAKERS

    assert list(MAKERS) == list(contents.TABLES)
    assert list(FIGURES) == list(contents.FIGURES)


def test_only_the_models_a_run_uses_are_built():
    plan = Plan(small_config(models={
        "big": {"source": "random"}, "small": {"source": "prune", "base": "root", "keep_layers": [0]},
        "root": {"source": "random"}, "unused": {"source": "random"},
    }))
    assert plan.models_in_use() == {"big", "small", "root"}
    stages_of = {entry["stage"] for entry in paper.benchmarks(plan)}
    assert {"models/random/root", "models/prune/small"} <= stages_of
    assert "models/random/unused" not in stages_of


def test_a_teachers_tokenizer_is_its_bases_and_a_teacher_whose_traces_are_all_imported_is_never_built():
    """The step-wise stage counts tokens with the teacher's tokenizer: read from the model that
    brought it, so importing the traces of a fine-tuned teacher never fine-tunes it."""
    config = small_config(
        models={"root": {"source": "random"}, "big": {"source": "finetune", "base": "root"}, "small": {"source": "prune", "base": "root", "keep_layers": [0]}},
        evaluation={"framework": {}, "generation": {}, "resources": {}, "baseline_models": ["small"]},
    )
    plan = Plan(config)
    assert plan.tokenizer_dir("big") == plan.model_dir("root") == "results/t/models/root"
    assert plan.models_in_use() == {"root", "big", "small"}
    config["teacher"]["imports"] = [
        {"framework": "ircot", "dataset": dataset, "teacher": "big", "path": f"{dataset}.jsonl", "sha256": "a" * 64} for dataset in ("hotpotqa", "musique")
    ]
    plan = Plan(config)
    assert plan.models_in_use() == {"root", "small"}
    assert not {entry["stage"] for entry in paper.benchmarks(plan)} & {"models/finetune/big", "models/gold/big"}
    config["teacher"]["imports"].pop()  # musique's traces are made by this run: its teacher is built
    assert Plan(config).models_in_use() == {"root", "big", "small"}


def test_a_tier_answers_for_what_it_states_not_for_what_it_inherits(tmp_path):
    tier = tmp_path / "tier.yaml"
    tier.write_text("run: mine\nevaluation: {baselines: []}\n")
    assert tier_config(ROOT, [tier])["evaluation"]["framework"]["shots"] == 4  # the paper's, unused without baselines
    assert stated_config(ROOT, [tier]) == {"run": "mine", "evaluation": {"baselines": []}}
    assert stated_config(ROOT, []) == tier_config(ROOT, [])  # the paper tier states the paper config


def test_a_stated_setting_that_changes_nothing_stops_the_plan():
    config = small_config(evaluation={"framework": {"shots": 2}, "generation": {}, "resources": {}, "baselines": []})
    with pytest.raises(ConfigError, match=re.escape("evaluation.framework.shots: has no effect")):
        Plan(config, stated={"evaluation": {"framework": {"shots": 2}, "baselines": []}})
    Plan(config, stated={"evaluation": {"baselines": []}})


def test_a_repeated_key_in_a_tier_file_is_named(tmp_path):
    tier = tmp_path / "tier.yaml"
    tier.write_text("run: a\nrun: b\n")
    with pytest.raises(ConfigError, match="tier.yaml"):
        tier_config(ROOT, [tier])


def test_stage_settings_carry_the_retrieval_and_model_settings():
    plan = Plan(small_config(retrieval={"backend": "bm25s", "compare": ["bm25s"], "k1": 0.9}))
    teacher = json.loads(plan.teacher_settings("big"))
    assert teacher["framework"]["k1"] == 0.9 and teacher["framework"]["retrieval_backend"] == "bm25s"
    assert teacher["generation"]["tensor_parallel_size"] == 0  # the job's GPUs: none on CPU
    evaluation = json.loads(plan.evaluate_settings("evaluation", "small", shots=0))
    assert evaluation["framework"]["shots"] == 0
    train = json.loads(plan.train_settings("small", "uniform", plan.hparams(0)))
    assert train["method"] == {"data": "first-mid-final", "loss": "fixed", "weights": METHODS["uniform"]["weights"], "eos": "every_step", "match_steps_of": None}
    assert train["training"]["seed"] == 0 and "resources" not in train["training"]


def test_every_rule_takes_its_log_and_benchmark_from_the_stage_table():
    used = set()
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        used |= set(re.findall(r"(?:LOG|BENCH)\(\"(\w+)\"", path.read_text()))
    assert used == set(stages.STAGES)


def _leaves(data, prefix=()):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


@pytest.mark.parametrize("tier", ["smoke.yaml", "demo.yaml", "demo-full.yaml", "rehearsal.yaml"])
def test_a_tier_states_only_what_differs_from_the_paper(tier):
    paper = tier_config(ROOT, [])
    validate_config(paper)
    overlay_ = yaml.safe_load((ROOT / "config" / tier).read_text())
    same = []
    for path, value in _leaves({k: v for k, v in overlay_.items() if k not in REPLACED}):
        node = paper
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if node == value:
            same.append(".".join(path))
    assert not same, f"config/{tier} repeats the paper's {same}"
    validate_config(tier_config(ROOT, [ROOT / "config" / tier]))


def test_the_fine_tuned_teachers_data_and_loss_are_its_config():
    teacher = {"source": "finetune", "base": "small", "stepwise": {"filter": "none"}, "method": {"data": "first-final", "loss": "fixed"}}
    plan = Plan(small_config(models={"big": teacher, "small": {"source": "random"}}))
    assert json.loads(plan.gold_stepwise_settings("big")) == {"target": "step", "filter": "none", "variants": ["first-final"]}
    assert json.loads(plan.finetune_settings("big"))["method"] == {"data": "first-final", "loss": "fixed"}
    assert plan.gold_stepwise("big", "ircot") == "results/t/gold/big/stepwise/ircot/first-final.jsonl"


def test_every_dataset_has_its_native_files_and_its_toy_question_types():
    from steper.data.datasets import DATASETS as NATIVE
    from steper.data.toy import MIXES
    from steper.names import DATASETS

    assert list(NATIVE) == list(MIXES) == list(DATASETS)
