"""A tier renders only the parts of the paper it ran and names the others in one line.

The fixture results (tests/fixtures/results/run) hold every part; a smaller tier is the same
manifest without its transfer and sub-question sections, rendered with settings of one framework
(IRCoT), no Self-Ask baseline and one student size, as the demo's.
"""

import json
from pathlib import Path

import pytest

from steper.cli import main
from steper.config_validation import validate_config
from steper.io import OWNER_MARKER
from steper.paper import contents
from steper.plan import paper as paper_plan
from steper.plan.plan import Plan
from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "tests" / "fixtures" / "results" / "run"
COMMITTED = ROOT / "tests" / "fixtures" / "results" / "paper"
NOT_RUN = "Not run in this tier: Table 3 (Self-Ask), transfer, sub-questions, Figure 4 (needs two student sizes)."
LEFT_OUT_TABLES = ["table3_selfask", "table4_subquestions", "table_transfer"]
LEFT_OUT_FIGURES = ["fig4_scaling", "fig_transfer"]


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Manifest paths are relative to the workflow's directory, the repository root."""
    monkeypatch.chdir(ROOT)


def _settings(**changes) -> dict:
    settings = json.loads((COMMITTED / "steper_settings.json").read_text())["settings"]
    return {**settings, **changes}


def _render(tmp_path: Path, settings: dict, drop: tuple[str, ...] = ()) -> Path:
    manifest = json.loads((RUN / "manifest.json").read_text())
    for section in drop:
        manifest[section] = []
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    output = tmp_path / "paper"
    argv = ["paper", "render", "--manifest", str(path), "--output-dir", str(output), "--settings", json.dumps(settings)]
    assert main(argv) == 0
    return output


@pytest.fixture(scope="module")
def small_tier(tmp_path_factory):
    settings = _settings(frameworks=["ircot"], baselines=["direct", "ircot"], students=["stu"], scaling_students=["stu"])
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        return _render(tmp_path_factory.mktemp("tier"), settings, drop=("transfer", "subquestions"))


def test_a_small_tier_renders_no_table_or_figure_of_what_it_did_not_run(small_tier):
    tables = {path.stem for path in (small_tier / "tables").glob("*.md")}
    figures = {path.stem for path in (small_tier / "figures").glob("*.png")}
    assert tables and not tables & set(LEFT_OUT_TABLES)
    assert figures and not figures & set(LEFT_OUT_FIGURES)
    assert {path.stem for path in (small_tier / "figures").glob("*.pdf")} == figures


def test_a_small_tier_names_what_it_did_not_run_in_one_line(small_tier):
    report = (small_tier / "REPORT.md").read_text()
    assert report.splitlines().count(NOT_RUN) == 1
    assert report.count("Not run in this tier") == 1
    assert "(no results)" not in report
    for name in LEFT_OUT_FIGURES:
        assert f"figures/{name}." not in report
    for caption in ("Table 3: the Self-Ask framework", "Table 4: rationale validity", "Cross-domain transfer"):
        assert caption not in report


def test_each_left_out_part_is_named_alone(tmp_path):
    settings = _settings(frameworks=["ircot"], baselines=["direct", "ircot", "selfask"])
    report = (_render(tmp_path, settings, drop=("subquestions",)) / "REPORT.md").read_text()
    assert "Not run in this tier: sub-questions." in report.splitlines()
    assert (tmp_path / "paper" / "tables" / "table3_selfask.md").is_file()
    assert not (tmp_path / "paper" / "tables" / "table4_subquestions.md").exists()


def test_a_tier_that_ran_every_part_has_no_not_run_line(tmp_path):
    output = _render(tmp_path, _settings())
    assert "Not run in this tier" not in (output / "REPORT.md").read_text()
    assert {path.stem for path in (output / "tables").glob("*.md")} >= set(LEFT_OUT_TABLES)
    assert {path.stem for path in (output / "figures").glob("*.png")} == set(contents.FIGURES)


def test_run_contents_names_what_each_part_needs():
    one = contents.run_contents(frameworks=["ircot"], baselines=[], size_study=["a"], transfer=False, subquestions=False, several_seeds=False)
    assert one.not_run == NOT_RUN
    assert not set(one.tables) & {*LEFT_OUT_TABLES, "table_seeds"} and not set(one.figures) & set(LEFT_OUT_FIGURES)
    full = contents.run_contents(frameworks=["ircot"], baselines=["selfask"], size_study=["a", "b"], transfer=True, subquestions=True, several_seeds=True)
    assert full.not_run == "" and full.tables == list(contents.TABLES) and full.figures == list(contents.FIGURES)


def test_a_rerender_removes_what_the_run_no_longer_renders_and_nothing_else(tmp_path):
    full = _render(tmp_path, _settings())
    (full / "tables" / "mine.md").write_text("kept\n")
    settings = _settings(frameworks=["ircot"], baselines=["direct", "ircot"], students=["stu"], scaling_students=["stu"])
    manifest = json.loads((RUN / "manifest.json").read_text()) | {"transfer": [], "subquestions": []}
    (tmp_path / "small.json").write_text(json.dumps(manifest))
    argv = ["paper", "render", "--manifest", str(tmp_path / "small.json"), "--output-dir", str(full), "--settings", json.dumps(settings)]
    assert main(argv) == 0
    for name in LEFT_OUT_TABLES:
        assert not (full / "tables" / f"{name}.md").exists()
    for name in LEFT_OUT_FIGURES:
        assert not (full / "figures" / f"{name}.png").exists()
    assert (full / "tables" / "mine.md").read_text() == "kept\n"
    owned = json.loads((full / OWNER_MARKER).read_text())["files"]
    assert not [name for name in owned if Path(name).stem in LEFT_OUT_TABLES + LEFT_OUT_FIGURES]
    assert "tables/table1_main.md" in owned


def test_a_configured_student_that_was_not_evaluated_is_no_second_size(tmp_path):
    settings = _settings(students=["stu", "not-trained"], scaling_students=[])
    output = _render(tmp_path, settings)
    assert not (output / "figures" / "fig4_scaling.png").exists()
    assert "Not run in this tier: Figure 4 (needs two student sizes)." in (output / "REPORT.md").read_text().splitlines()


@pytest.mark.parametrize(("tier", "sizes"), [("config/one-cell.yaml", False), ("config/demo-full.yaml", False), ("config/config.yaml", True), ("config/smoke.yaml", True)])
def test_the_workflow_declares_figure_4_only_for_two_trained_sizes(tier, sizes):
    """one-cell trains one of the paper config's students: its other students are no second size.
    demo-full trains one size (its pruned students learned nothing without healing); smoke prunes
    a second size from its tiny model."""
    config = tier_config(ROOT, [ROOT / tier])
    validate_config(config)
    assert ("fig4_scaling" in paper_plan.figures(Plan(config, basedir=ROOT))) is sizes


def test_demo_full_runs_every_part_of_the_paper_but_figure_4():
    config = tier_config(ROOT, [ROOT / "config" / "demo-full.yaml"])
    validate_config(config)
    run = paper_plan.run_contents(Plan(config, basedir=ROOT))
    assert run.parts == {"selfask", "transfer", "subquestions", "seeds"}
    assert run.not_run == "Not run in this tier: Figure 4 (needs two student sizes)."
