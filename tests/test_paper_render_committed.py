"""The committed demo render (paper/demo) is what the committed config and results give.

The manifest `steper paper render` reads (results/demo/paper/manifest.json) is derived from the
config by steper/plan/paper.py and is not committed: a fresh clone has none, so `paper_manifest`
writes it from the config it runs with and no stale copy can be rendered. These tests compute it
from config/demo.yaml as the workflow does and render the committed results with it: the tables,
REPORT.md and case study must be the committed ones byte for byte (figure bytes depend on the
matplotlib and FreeType builds; the numbers behind them are in the tables), and the files rendered
must be those the paper rule declares.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steper.cli import main
from steper.config_validation import validate_config
from steper.plan import paper as paper_plan
from steper.plan.plan import Plan, as_json
from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("tables/*.md", "tables/*.tex", "REPORT.md", "case_study.md")
RENDERED = (*COMPARED, "figures/*.png", "figures/*.pdf")


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Manifest paths are relative to the workflow's directory, the repository root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def demo() -> Plan:
    config = tier_config(ROOT, [ROOT / "config" / "demo.yaml"])
    validate_config(config)
    return Plan(config, basedir=ROOT)


def _files(directory: Path, patterns=RENDERED) -> list[str]:
    return sorted(path.relative_to(directory).as_posix() for pattern in patterns for path in directory.glob(pattern))


def test_the_manifest_is_derived_from_the_config_not_committed(demo):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    manifest = demo.path("manifest")
    tracked = subprocess.run(["git", "ls-files", "--", manifest], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert tracked == "", f"{manifest} is committed: a fresh clone would render it whatever the config says"
    assert subprocess.run(["git", "check-ignore", "-q", manifest], cwd=ROOT).returncode == 0


def test_the_committed_demo_was_rendered_with_the_committed_configs_settings(demo):
    recorded = json.loads((ROOT / Path(demo.path("report")).parent / "steper_settings.json").read_text())
    assert recorded["settings"] == json.loads(as_json(paper_plan.settings(demo)))
    assert recorded["manifest"] == demo.path("manifest")


def test_the_committed_demo_re_renders_from_the_committed_config(demo, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(as_json(paper_plan.manifest(demo, paper_plan.benchmark_results(ROOT))))
    output = tmp_path / "paper"
    argv = ["paper", "render", "--manifest", str(manifest), "--output-dir", str(output), "--settings", as_json(paper_plan.settings(demo))]
    assert main(argv) == 0
    committed = ROOT / Path(demo.path("report")).parent
    declared = sorted(Path(path).relative_to(committed.relative_to(ROOT)).as_posix() for path in paper_plan.outputs(demo))
    assert _files(output) == declared
    assert _files(committed) == declared
    for relative in _files(committed, COMPARED):
        text = (output / relative).read_text().replace(str(manifest), demo.path("manifest"))
        assert text == (committed / relative).read_text(), f"{committed / relative} differs from a fresh render"


def test_the_workflow_writes_the_manifest_the_plan_computes(demo, tmp_path):
    """`paper_manifest` has no inputs: where no manifest exists (a fresh clone) it writes the one
    the plan computes from the config."""
    (tmp_path / "benchmarks").symlink_to(ROOT / "benchmarks")  # the manifest lists benchmarks/results/*.json
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
               demo.path("manifest"), "--cores", "1", "--configfile", str(ROOT / "config" / "demo.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / demo.path("manifest")).read_text())
    assert written == json.loads(as_json(paper_plan.manifest(demo, paper_plan.benchmark_results(ROOT))))
