"""Config names that would reach the shell or escape results/ are refused before any job runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from steper.cli import main
from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "tests" / "fixtures" / "retrieval" / "records.jsonl"


def dry_run(tmp_path: Path, edit) -> subprocess.CompletedProcess:
    """`snakemake -n` on an altered copy of config/smoke.yaml laid over the paper config, in an empty working directory."""
    config = tier_config(ROOT, [ROOT / "config" / "smoke.yaml"])
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "-n", "-p", "--cores", "64", "--configfile", str(path)]  # threads are capped at --cores
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=workdir)


def rename_model(config, new):
    config["models"][new] = config["models"].pop("tiny")
    config["students"] = {new: {"teacher": new}}


def add_hub_model(config, **spec):
    config["models"]["hubby"] = {"source": "hub", "path": "Org/Model", **spec}
    config["evaluation"]["baseline_models"] = ["hubby"]


CASES = {
    "model name with shell code": (lambda c: rename_model(c, "x;touch PWNED;"), "models", "x;touch PWNED;"),
    "run that climbs out of results/": (lambda c: c.update(run=".."), "run", ".."),
    "model name that climbs out": (lambda c: rename_model(c, "../../../x"), "models", "../../../x"),
    "method name that climbs out": (lambda c: c["methods"].update({"../../evil": c["methods"]["steper"]}), "methods", "../../evil"),
    "student name with a slash": (lambda c: c.update(students={"a/b": {"teacher": "tiny"}}), "students", "a/b"),
    "model name with the system separator": (lambda c: rename_model(c, "tiny--fewshot"), "models", "tiny--fewshot"),
    "experiment name with a space": (lambda c: c["experiments"][0].update(name="main run"), "name", "main run"),
    "hub revision that is a branch": (lambda c: add_hub_model(c, revision="main"), "revision", "main"),
    "toy world too small for the generator": (lambda c: c["data"]["toy"].update(n_entities=30), "n_entities", "30"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_config_is_refused_naming_the_key(case, tmp_path):
    edit, key, value = CASES[case]
    result = dry_run(tmp_path, edit)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert key in output and value in output, output[-2000:]
    assert "Shell command" not in output  # refused before any job was planned
    assert not list(tmp_path.rglob("PWNED"))


def test_hub_model_without_revision_is_refused(tmp_path):
    result = dry_run(tmp_path, add_hub_model)
    assert result.returncode != 0
    assert "models.hubby.revision: required for source 'hub'" in result.stdout + result.stderr


def test_pinned_hub_model_downloads_its_commit(tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    result = dry_run(tmp_path, lambda c: add_hub_model(c, revision=commit))
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert f"--repo-id Org/Model --revision {commit} --output results/smoke/models/hubby" in result.stdout


# --- one validator, nothing silently accepted -------------------------------------------------

def dry_run_text(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    """`snakemake -n` on a config file written as given (repeated keys and aliases survive)."""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "-n", "--configfile", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=workdir)


def set_key(config, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value


SILENT = {
    "run name with a final newline": ("run", "smoke\n", "run"),
    "model revision with a final newline": ("models.tiny.revision", "0123456789abcdef0123456789abcdef01234567\n", "models.tiny.revision"),
    "NaN learning rate": ("training.lr", float("nan"), "training.lr"),
    "infinite epochs": ("training.epochs", float("inf"), "training.epochs"),
    "NaN BM25 k1": ("retrieval.k1", float("nan"), "retrieval.k1"),
    "NaN question-type share": ("data.toy.types", {"hotpotqa": {"bridge": float("nan")}}, "data.toy.types.hotpotqa.bridge"),
    "a million teacher shards": ("teacher.shards", 1000000, "teacher.shards"),
    "a float where an integer belongs": ("training.batch_size", 4.0, "training.batch_size"),
    "a seed past numpy's range": ("seed", 2**40, "seed"),
    "no experiment grid at all": ("experiments", [], "experiments"),
}


@pytest.mark.parametrize("case", list(SILENT))
def test_value_the_schema_used_to_let_through_is_refused_naming_the_key(case, tmp_path):
    key, value, named = SILENT[case]
    start = time.monotonic()
    result = dry_run(tmp_path, lambda c: set_key(c, key, value))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert f"{named}:" in output, output[-2000:]
    assert "Building DAG" not in output  # refused before any job was planned
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("name", ["fewshot", "seed3"])
def test_method_named_like_another_systems_files_is_refused(name, tmp_path):
    result = dry_run(tmp_path, lambda c: c["methods"].update({name: {"data": "final", "loss": "vanilla"}}))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"methods.{name}: reserved name" in output, output[-2000:]
    assert "AmbiguousRuleException" not in output


def test_repeated_key_in_a_config_file_is_refused_naming_key_and_line(tmp_path):
    text = (ROOT / "config" / "smoke.yaml").read_text(encoding="utf-8") + "training:\n  lr: 0.5\n"
    result = dry_run_text(tmp_path, text)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    line = text.count("\n") - 1
    assert f"config.yaml, line {line}: field 'training' is given twice in one mapping" in output, output[-2000:]


def test_alias_bomb_under_an_unknown_key_is_refused_fast_with_a_short_message(tmp_path):
    bomb = ["bomb:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = (ROOT / "config" / "smoke.yaml").read_text(encoding="utf-8") + "\n".join(bomb) + "\n"
    start = time.monotonic()
    result = dry_run_text(tmp_path, text)
    elapsed = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "expands to more than 100000 values" in output, output[-2000:]
    assert elapsed < 60 and len(output) < 5000


def test_a_shared_spec_is_still_an_allowed_alias(tmp_path):
    """config/rehearsal.yaml gives seven models one spec through an alias: aliases stay allowed."""
    text = (ROOT / "config" / "smoke.yaml").read_text(encoding="utf-8")
    text = text.replace("random: {hidden_size", "random: &shape {hidden_size", 1).replace(
        "\nstudents:", "\n  tiny2: {source: random, random: *shape}\nstudents:", 1)
    assert "*shape" in text
    result = dry_run_text(tmp_path, text)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]


SET_FOR_NOTHING = {
    "random settings on a finetuned model": (lambda c: c["models"]["tiny-teacher"].update(random={"layers": 3}),
                                             "models.tiny-teacher.random: has no effect on a model of source 'finetune'"),
    "layers to keep of a random model": (lambda c: c["models"]["tiny"].update(keep_layers=[0]),
                                         "models.tiny.keep_layers: has no effect on a model of source 'random'"),
    "storage dtype of a hub model nothing is trained from": (
        lambda c: (add_hub_model(c, revision="0123456789abcdef0123456789abcdef01234567"), c["models"]["hubby"].update(storage_dtype="float32")),
        "models.hubby.storage_dtype: has no effect"),
    "annotation source of toy data": (lambda c: c["data"].update(annotations={"url": "http://example.org/{dataset}"}),
                                      "data.annotations: has no effect with data.source 'toy'"),
    "weights of a learned weighting": (lambda c: c["methods"]["steper"].update(weights={"first": 2.0}),
                                       "methods.steper.weights: has no effect with loss 'difficulty_aware'"),
    "step data of Vanilla-KD": (lambda c: c["methods"]["vanilla_kd"].update(data="first-final"),
                                "methods.vanilla_kd.data: has no effect"),
    "shots when only zero-shot students are evaluated": (lambda c: c["evaluation"].update(baselines=[]),
                                                         "evaluation.framework.shots: has no effect"),
}


@pytest.mark.parametrize("case", list(SET_FOR_NOTHING))
def test_a_setting_that_would_change_nothing_is_a_config_error(case, tmp_path):
    edit, message = SET_FOR_NOTHING[case]
    result = dry_run(tmp_path, edit)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output, output[-2000:]


def test_an_explicit_empty_baseline_model_list_runs_no_baseline(tmp_path):
    result = dry_run(tmp_path, lambda c: c["evaluation"].update(baseline_models=[]))
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "--fewshot" not in result.stdout  # [] used to mean every model


def test_teacher_baseline_gets_the_teacher_sections_threads(tmp_path):
    def edit(config):
        config["teacher"]["resources"]["threads"] = 3
        config["evaluation"]["baseline_models"] = ["tiny-teacher"]
        for student in config["students"].values():
            student["teacher"] = "tiny-teacher"

    result = dry_run(tmp_path, edit)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    baselines = [line for line in result.stdout.splitlines() if "--system tiny-teacher--fewshot" in line]
    assert baselines and all(line.startswith("Shell command: OMP_NUM_THREADS=3 ") for line in baselines)


# --- `steper ... --settings`: the same validator, one error line, exit 2 --------------------

def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def split_command(tmp_path: Path, settings: str) -> list[str]:
    dev = tmp_path / "dev.jsonl"
    dev.write_bytes(RECORDS.read_bytes())
    return ["data", "split", "--train", RECORDS, "--dev", dev, "--output-dir", tmp_path / "out", "--settings", settings]


BAD_SETTINGS = {
    "a string for an integer": ('{"n_dev": "x"}', "field 'n_dev' expected integer, got 'x' (as config key data.split.n_dev)"),
    "NaN for an integer": ('{"n_dev": NaN}', "field 'n_dev' expected integer, got nan"),
    "a float seed": ('{"seed": 1.5}', "field 'seed' expected integer, got 1.5"),
    "a boolean seed": ('{"seed": true}', "field 'seed' expected integer, got True"),
    "below the schema's minimum": ('{"n_test": 0}', "field 'n_test' 0 is less than the minimum of 1"),
    "a JSON list": ("[1]", "--settings: settings must be a mapping of SplitSettings's fields, got list"),
    "a repeated key": ('{"n_dev": 3, "n_dev": 4}', "field 'n_dev' is given twice in one JSON object"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_bad_settings_exit_2_naming_the_field(case, tmp_path, capsys):
    settings, message = BAD_SETTINGS[case]
    code, err = run_cli(capsys, *split_command(tmp_path, settings))
    assert code == 2, err
    assert message in err and err.count("\n") == 0, err
    assert not (tmp_path / "out").exists()


def test_settings_of_nested_sections_are_checked_against_their_schema_keys(tmp_path, capsys):
    settings = json.dumps({"method": {"data": "final", "loss": "vanilla"}, "training": {"lr": float("nan")}})
    code, err = run_cli(capsys, "train", "run", "--data", tmp_path / "x.jsonl", "--model", tmp_path / "m", "--output", tmp_path / "s",
                        "--settings", settings)
    assert code == 2
    assert "--settings.training: field 'lr' expected number (finite), got nan (as config key training.lr)" in err
    framework = json.dumps({"framework": {"top_k": "4"}})
    code, err = run_cli(capsys, "evaluate", "run", "--framework", "ircot", "--dataset", "d", "--system", "s", "--records", RECORDS,
                        "--index-dir", tmp_path / "index", "--model", tmp_path / "model", "--predictions", tmp_path / "p.jsonl", "--output", tmp_path / "e.json",
                        "--settings", framework)
    assert code == 2
    assert "--settings framework: field 'top_k' expected integer, got '4'" in err


SETTINGS_FILES = {
    "empty": (b"", "is empty"),
    "comments only": (b"# nothing\n", "is empty"),
    "not UTF-8": (b"n_dev: 3\nseed: \xff\n", "line 2: is not UTF-8 text"),
    "nested too deeply": (b'{"n_dev": ' + b"[" * 100000 + b"]" * 100000 + b"}", "is nested too deeply to read"),
    "a repeated YAML key": (b"n_dev: 3\nn_dev: 4\n", "line 2: field 'n_dev' is given twice in one mapping (first on line 1)"),
    "an alias bomb": (b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + b"".join(
        f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n".encode() for i in range(1, 7)), "expands to more than"),
}


@pytest.mark.parametrize("case", list(SETTINGS_FILES))
def test_bad_settings_file_exits_2_naming_it(case, tmp_path, capsys):
    content, message = SETTINGS_FILES[case]
    path = tmp_path / "settings.yaml"
    path.write_bytes(content)
    code, err = run_cli(capsys, *split_command(tmp_path, str(path)))
    assert code == 2, err
    assert err.startswith(f"error: {path}") and message in err, err
    assert len(err) < 500


# --- outputs: a directory where a file belongs, no room to write -----------------------------

MUSIQUE = ROOT / "tests" / "fixtures" / "musique" / "musique_ans_v1.0_dev.jsonl"
CORPUS = ROOT / "tests" / "fixtures" / "retrieval" / "corpus.jsonl"


def prepare_command(output) -> list:
    return ["data", "prepare", "--format", "musique", "--dataset", "musique", "--input", MUSIQUE, "--output", output]


@pytest.mark.parametrize("output", [".", "existing"])
def test_output_that_is_a_directory_exits_2_naming_the_output(output, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    code, err = run_cli(capsys, *prepare_command(output))
    assert code == 2
    assert err == f"error: {output}: is a directory; the output must be a file path"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["existing"]  # no temporary file left


def test_deeply_nested_record_exits_2_naming_file_and_line(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    records.write_text(RECORDS.read_text(encoding="utf-8") + '{"id": ' + "[" * 100000 + "]" * 100000 + "}\n", encoding="utf-8")
    line = records.read_text(encoding="utf-8").count("\n")
    code, err = run_cli(capsys, "data", "split", "--train", records, "--dev", RECORDS, "--output-dir", tmp_path / "out")
    assert code == 2
    assert err == f"error: {records}, line {line}: is nested too deeply to read"


def limited_run(args: list, cwd: Path, max_bytes: int) -> subprocess.CompletedProcess:
    """`steper ...` in a process whose files may not grow past `max_bytes` (RLIMIT_FSIZE): a write
    beyond it fails with EFBIG, as one on a full disk fails with ENOSPC."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    command = [sys.executable, "-m", "steper.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, preexec_fn=limit, timeout=300)


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_write_that_finds_no_room_exits_2_naming_the_output_and_keeps_the_old_one(kind, tmp_path):
    if kind == "file":
        output, args = tmp_path / "records.jsonl", prepare_command(tmp_path / "records.jsonl")
        output.write_text("the previous output\n", encoding="utf-8")
    else:
        output, args = tmp_path / "index", ["retrieval", "index", "--corpus", CORPUS, "--backend", "bm25s", "--output", tmp_path / "index"]
    before = sorted(path.name for path in tmp_path.iterdir())
    result = limited_run(args, tmp_path, 600)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert errors == [f"error: {output}: could not be written: file too large; nothing was replaced"]
    assert sorted(path.name for path in tmp_path.iterdir()) == before  # no temporary file or directory left
    if kind == "file":
        assert output.read_text(encoding="utf-8") == "the previous output\n"


def test_repeated_key_in_an_expected_results_file_is_refused(tmp_path, capsys):
    expected = tmp_path / "expected.yaml"
    expected.write_text("tolerance: 0.5\nchecks: []\ntolerance: 9\n", encoding="utf-8")
    code, err = run_cli(capsys, "paper", "check", "--results-dir", tmp_path, "--expected", expected)
    assert code == 2
    assert err == f"error: {expected}, line 3: field 'tolerance' is given twice in one mapping (first on line 1); YAML would silently keep the last"
