"""Students trained with several seeds: the seeds table, the seed-level claim evidence, and a one-seed
run rendering no seeds table and no seed-level evidence.

The fixture adds evaluations of extra seeds to tests/fixtures/results/run (their per-question rows
written by tests/fixtures/results/per_question.py: the first 2p questions right for p% Acc):

    IRCoT, hotpotqa  StepER      seed 0 (the fixture's) EM 28 F1 34 Acc 36; seed 1 26/32/33; seed 2 24/30/30
                     Vanilla-KD  seed 0 24/29/30; seed 1 24/30/31; seed 2 24/31/32
    IRCoT, musique   StepER      seed 0 12/16/17; seed 1 14/18/19 (Vanilla-KD: seed 0 only)

so StepER's Acc is 33.0 ± 3.0 over seeds, Vanilla-KD's 31.0 ± 1.0, and the per-seed Acc differences
+6, +2, -2 have mean +2.0 and sample sd 4.0, StepER higher in 2 of 3 seeds. Pooled per question over
the three seeds, StepER (right on q000 to q071, q065, q059 in seeds 0, 1, 2) and Vanilla-KD (q000 to
q059, q061, q063) differ only on q062..q071, never in Vanilla-KD's favour: 4 questions' worth of mean
Acc over 200, +2.0 points, with an interval above zero.
"""

import json
import re
from pathlib import Path

import pytest

from steper import layout
from steper.cli import main
from steper.paper.typeset import Spread, Table, to_latex, to_markdown

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "tests" / "fixtures" / "results" / "paper"
RUN = "tests/fixtures/results/run"
SEEDS = {("hotpotqa", "stu--steper"): [0, 1, 2], ("hotpotqa", "stu--vanilla_kd"): [0, 1, 2], ("musique", "stu--steper"): [0, 1]}


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _seed_entry(dataset: str, system: str, seed: int) -> dict:
    segment = system if seed == 0 else layout.seed_system(system, seed)
    return {
        "path": layout.path("eval", run="x", framework="ircot", dataset=dataset, system=segment).replace("results/x", RUN),
        "framework": "ircot",
        "dataset": dataset,
        "system": system,
        "seed": str(seed),
    }


def _manifest(tmp_path: Path, seeds: dict = SEEDS, edit=None) -> Path:
    manifest = json.loads((ROOT / RUN / "manifest.json").read_text())
    manifest["seeds"] = [_seed_entry(dataset, system, seed) for (dataset, system), numbers in seeds.items() for seed in numbers]
    if edit:
        edit(manifest)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def _render(manifest: Path, output: Path) -> int:
    settings = json.loads((COMMITTED / "steper_settings.json").read_text())["settings"]
    return main(["paper", "render", "--manifest", str(manifest), "--output-dir", str(output), "--settings", json.dumps(settings)])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert _render(_manifest(tmp), tmp / "paper") == 0
    return tmp / "paper"


def _rows(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_seeds_table_gives_mean_and_sd_over_seeds(rendered):
    rows = {(row[1], row[3]): row for row in _rows(rendered / "tables" / "table_seeds.md")}
    assert set(rows) == {("hotpotqa", "StepER"), ("hotpotqa", "Vanilla-KD"), ("musique", "StepER")}
    assert rows[("hotpotqa", "StepER")] == ["IRCoT", "hotpotqa", "stu", "StepER", "0, 1, 2", "3", "26.0 ± 2.0", "32.0 ± 2.0", "33.0 ± 3.0"]
    assert rows[("hotpotqa", "Vanilla-KD")][4:] == ["0, 1, 2", "3", "24.0 ± 0.0", "30.0 ± 1.0", "31.0 ± 1.0"]
    # two seeds: Acc 17 and 19, sample sd sqrt(2)
    assert rows[("musique", "StepER")][4:] == ["0, 1", "2", "13.0 ± 1.4", "17.0 ± 1.4", "18.0 ± 1.4"]


def test_the_other_tables_keep_the_run_seed_with_its_intervals(rendered):
    """Every table of the one-seed render is unchanged: the seed-0 cells and their bootstrap intervals."""
    for path in sorted((COMMITTED / "tables").iterdir()):
        assert (rendered / "tables" / path.name).read_text() == path.read_text(), path.name


def test_claim_evidence_adds_the_seed_level_difference(rendered):
    report = (rendered / "REPORT.md").read_text()
    hotpot = next(line for line in report.splitlines() if "| IRCoT, hotpotqa | acc |" in line)
    assert "**HOLDS**" in hotpot and "McNemar 12:0 discordant" in hotpot  # the run seed's comparison first
    assert hotpot.endswith(
        "; over 3 seeds pooled per question (the verdict's interval): Δ +2.0 [+0.8, +3.3] points; "
        "per seed Δ +2.0 ± 4.0 (mean ± sd), StepER higher in 2 of 3 |"
    )
    musique = next(line for line in report.splitlines() if "| IRCoT, musique | acc |" in line)
    assert "seeds" not in musique  # Vanilla-KD has one seed there: no seed-level result
    committed = (COMMITTED / "REPORT.md").read_text()
    totals = [line for line in report.splitlines() if line.startswith("Totals:")]
    assert totals == [line for line in committed.splitlines() if line.startswith("Totals:")]
    assert "### Training seeds" in report and "| IRCoT | hotpotqa | stu | StepER | 0, 1, 2 | 3 |" in report


def test_one_seed_per_system_renders_nothing_new(tmp_path):
    manifest = _manifest(tmp_path, seeds={key: [0] for key in SEEDS})
    assert _render(manifest, tmp_path / "paper") == 0
    assert not (tmp_path / "paper" / "tables" / "table_seeds.md").exists()
    report = (tmp_path / "paper" / "REPORT.md").read_text().replace(str(manifest), f"{RUN}/manifest.json")
    assert report == (COMMITTED / "REPORT.md").read_text()


def test_seeds_table_latex_is_balanced(rendered):
    tex = (rendered / "tables" / "table_seeds.tex").read_text()
    assert "26.0 $\\pm$ 2.0" in tex
    columns = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    assert all(line.count(" & ") == len(columns) - 1 for line in tex.splitlines() if line.endswith("\\\\"))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["seeds"][0].update(seed="one"), "seeds[0].seed"),
        (lambda m: m["seeds"].append(dict(m["seeds"][0])), "listed twice"),
        (lambda m: m["seeds"][1].update(system="stu--vanilla_kd"), "manifest says 'stu--vanilla_kd'"),
    ],
)
def test_a_bad_seeds_entry_is_named(tmp_path, capsys, edit, message):
    assert _render(_manifest(tmp_path, edit=edit), tmp_path / "paper") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "paper" / "REPORT.md").exists()


def test_seed_system_segments_round_trip():
    assert layout.seed_system("stu--steper", 2) == "stu--steper--seed2"
    assert layout.split_seed_system("stu--steper--seed2") == ("stu--steper", 2)
    for plain in ("stu--steper", "stu--fewshot", "seedling--steper", "stu--seedy"):
        assert layout.split_seed_system(plain) == (plain, None)


def test_spread_cells_render_as_mean_plus_minus_sd():
    table = Table("t", "c", ["Name"], ["Acc"], rows=[["a", Spread(33.0, 3.0)], ["b", None]], digits=1)
    assert "| a | 33.0 ± 3.0 |" in to_markdown(table) and "| b | – |" in to_markdown(table)
    assert "a & 33.0 $\\pm$ 3.0 \\\\" in to_latex(table)
