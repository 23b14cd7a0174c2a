"""The committed fixture results re-render to the committed paper output (the demo: test_paper_render_committed).

The fixture's render directory, tests/fixtures/results/paper, records in steper_settings.json the
settings and the manifest it was rendered from. After a change of what a render shows, it is
written by rendering them again into a new directory and copying the compared files and the
settings record over (from the repository root; the figures are not committed):

    steper paper render --manifest tests/fixtures/results/run/manifest.json --output-dir /tmp/fixture-paper \
        --settings "$(jq -c .settings tests/fixtures/results/paper/steper_settings.json)"
    cp -r /tmp/fixture-paper/{tables,REPORT.md,case_study.md,steper_settings.json} tests/fixtures/results/paper/

Rendering them again must give the same tables, REPORT.md and case study byte for byte: every
number is computed from committed files with a seeded bootstrap. Figures are not compared as bytes
(PNG/PDF bytes depend on the matplotlib and FreeType builds, not on our results); the numbers behind
every figure are in the tables, which are compared, and the determinism of the figure files
themselves on one machine is tested in test_paper_render.
"""

import json
from pathlib import Path

import pytest

from steper.cli import main

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("tables/*.md", "tables/*.tex", "REPORT.md", "case_study.md")


def _rendered_dirs() -> list[Path]:
    return [ROOT / "tests" / "fixtures" / "results" / "paper"]


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

