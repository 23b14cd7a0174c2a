"""Config names that would reach the shell or escape results/ are refused before any job runs (issue 14 §1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def dry_run(tmp_path: Path, edit) -> subprocess.CompletedProcess:
    """`snakemake -n` on an altered copy of config/smoke.yaml, in an empty working directory."""
    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text(encoding="utf-8"))
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "-n", "-p", "--configfile", str(path)]
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
