"""The committed results re-render to the committed paper output.

Each committed render directory (the fixture's tests/fixtures/results/paper, and every paper/<run>/
whose results manifest is committed) records in steper_settings.json the settings and the manifest
it was rendered from. Rendering them again must give the same tables, REPORT.md and case study byte
for byte: every number is computed from committed files with a seeded bootstrap. Figures are not
compared as bytes (PNG/PDF bytes depend on the matplotlib and FreeType builds, not on our results);
the numbers behind every figure are in the tables, which are compared, and the determinism of the
figure files themselves on one machine is tested in test_paper_render.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steper.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("tables/*.md", "tables/*.tex", "REPORT.md", "case_study.md")


def _rendered_dirs() -> list[Path]:
    dirs = [ROOT / "tests" / "fixtures" / "results" / "paper"]
    for settings in sorted((ROOT / "paper").glob("*/steper_settings.json")):
        manifest = json.loads(settings.read_text()).get("manifest")
        if manifest and (ROOT / manifest).is_file():
            dirs.append(settings.parent)
    return dirs


@pytest.mark.parametrize("committed", _rendered_dirs(), ids=lambda path: str(path.relative_to(ROOT)))
def test_committed_results_render_to_the_committed_output(committed, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # manifest paths are relative to the repository root, where Snakemake runs
    recorded = json.loads((committed / "steper_settings.json").read_text())
    argv = ["paper", "render", "--manifest", recorded["manifest"], "--output-dir", str(tmp_path), "--settings", json.dumps(recorded["settings"])]
    assert main(argv) == 0
    expected = sorted(path.relative_to(committed) for pattern in COMPARED for path in committed.glob(pattern))
    assert expected, committed
    assert sorted(path.relative_to(tmp_path) for pattern in COMPARED for path in tmp_path.glob(pattern)) == expected
    for relative in expected:
        assert (tmp_path / relative).read_text() == (committed / relative).read_text(), f"{committed / relative} differs from a fresh render"


def test_committed_demo_manifest_is_what_the_workflow_writes(tmp_path):
    """`paper_manifest` has no inputs, so a fresh clone keeps the committed manifest even when the
    workflow would now list other files (a new benchmark JSON, say): it must be rewritten and
    committed with them."""
    (tmp_path / "benchmarks").symlink_to(ROOT / "benchmarks")  # the manifest lists benchmarks/results/*.json
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
               "results/demo/paper/manifest.json", "--cores", "1", "--configfile", str(ROOT / "config" / "demo.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "results" / "demo" / "paper" / "manifest.json").read_text())
    assert written == json.loads((ROOT / "results" / "demo" / "paper" / "manifest.json").read_text())
