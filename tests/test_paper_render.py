"""`steper paper render` on a hand-written results tree (tests/fixtures/results/run)."""

import json
import re
import shutil
from pathlib import Path

import pytest

from steper.cli import main
from steper.paper.claims import evaluate_claims
from steper.paper.definitions import PaperSettings
from steper.paper.figures import sigma_points
from steper.paper.published import load_published
from steper.paper.results import load_results
from steper.paper.table import Table, to_latex, to_markdown
from steper.paper.tables import table1_main, table2_loss_weighting

RESULTS = Path(__file__).parent / "fixtures" / "results" / "run"
SETTINGS = {
    "run": "fixture",
    "datasets": ["hotpotqa", "musique"],
    "frameworks": ["ircot", "selfask"],
    "main_student": "stu",
    "teacher": "tch",
    "students": ["stu", "stu-s"],
    "methods": ["vanilla_kd", "steper", "steper_uniform", "steper_first_heavy", "steper_last_heavy", "final_plus_first", "final_plus_first_mid"],
    "baselines": ["direct", "cot", "rag", "ircot", "selfask"],
    "scaling_students": ["stu-s", "stu"],
}
TABLES = [
    "table1_main", "table2_loss_weighting", "table3_selfask", "table_ablation_steps", "table_retrieval",
    "table_stepwise_stats", "table_teacher", "table_scaling", "table_latency",
]
FIGURES = ["fig3_abilities", "fig4_scaling", "fig_sigma", "fig_latency"]


def _render(output: Path, settings=SETTINGS, results=RESULTS) -> int:
    return main(["paper", "render", "--results-dir", str(results), "--output-dir", str(output), "--settings", json.dumps(settings)])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    output = tmp_path_factory.mktemp("paper") / "fixture"
    assert _render(output) == 0
    return output


def _markdown_rows(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _numbers(rows: list[list[str]], n_labels: int) -> list[float]:
    return [float(cell) for row in rows for cell in row[n_labels:] if cell not in ("–", "")]


def test_every_table_and_figure_is_written(rendered):
    for name in TABLES:
        assert (rendered / "tables" / f"{name}.md").stat().st_size > 0
        assert (rendered / "tables" / f"{name}.tex").stat().st_size > 0
    for name in FIGURES:
        png = (rendered / "figures" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
        pdf = (rendered / "figures" / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf
    assert (rendered / "REPORT.md").exists()
    assert json.loads((rendered / "steper_settings.json").read_text())["settings"]["main_student"] == "stu"


def test_table1_rows_and_numbers(rendered):
    rows = _markdown_rows(rendered / "tables" / "table1_main.md")
    methods = [(row[0], row[1]) for row in rows]
    # cot was never run, so it has no row; every other baseline that exists does
    assert ("stu (student base)", "No retrieval, few-shot") in methods
    assert ("tch (teacher)", "IRCoT, few-shot") in methods
    assert not any("CoT (no retrieval)" in method for _, method in methods)
    steper = next(row for row in rows if row[1].startswith("StepER"))
    assert steper[2:] == ["28.00", "34.00", "36.00", "12.00", "16.00", "17.00"]
    rag = next(row for row in rows if row[1].startswith("Vanilla RAG"))
    assert rag[5:] == ["–", "–", "–"]
    assert all(0 <= value <= 100 for value in _numbers(rows, 2))


@pytest.mark.parametrize(
    "name, n_labels, expected_rows",
    [
        ("table2_loss_weighting", 1, ["Uniform weights (1:1:1)", "First-heavy weights (1.5:1:0.5)", "Last-heavy weights (0.5:1:1.5)", "Difficulty-aware (StepER)"]),
        ("table_ablation_steps", 1, ["Vanilla-KD", "Final + first-step data", "Final + first + mid-step data", "StepER"]),
        ("table3_selfask", 2, ["Self-Ask, few-shot", "Vanilla-KD (Self-Ask, zero-shot)", "StepER (Self-Ask, zero-shot)"]),
    ],
)
def test_method_tables_have_a_row_per_method(rendered, name, n_labels, expected_rows):
    rows = _markdown_rows(rendered / "tables" / f"{name}.md")
    assert [row[n_labels - 1] for row in rows] == expected_rows
    assert all(0 <= value <= 100 for value in _numbers(rows, n_labels))


def test_table2_average_only_over_complete_rows(rendered):
    rows = {row[0]: row for row in _markdown_rows(rendered / "tables" / "table2_loss_weighting.md")}
    assert rows["Difficulty-aware (StepER)"][1:] == ["36.00", "17.00", "26.50"]
    assert rows["Uniform weights (1:1:1)"][1:] == ["33.00", "–", "–"]


def test_data_tables_come_from_their_files(rendered):
    retrieval = _markdown_rows(rendered / "tables" / "table_retrieval.md")
    assert retrieval[0] == ["hotpotqa", "pyserini", "40", "50.00", "75.00", "20.00", "55.00", "90.00"]
    assert [row[:2] for row in retrieval] == [["hotpotqa", "pyserini"], ["hotpotqa", "bm25s"], ["musique", "pyserini"], ["musique", "bm25s"]]
    assert "Agreement@10" in (rendered / "tables" / "table_retrieval.md").read_text()
    stats = _markdown_rows(rendered / "tables" / "table_stepwise_stats.md")
    assert stats[2] == ["ircot", "hotpotqa", "tch", "first-mid-final", "60", "25", "41.67", "25", "18", "25", "68", "307.35", "10.60"]
    assert stats[0][7:10] == ["–", "–", "25"]
    teacher = _markdown_rows(rendered / "tables" / "table_teacher.md")  # the shard summary is not a second row
    # per-question tokens: 96000 / 60 prompt and 2400 / 60 completion tokens
    assert teacher == [["ircot", "hotpotqa", "tch", "train", "60", "30.00", "38.00", "41.67", "2.80", "1600.00", "40.00", "11.67"]]


def test_malformed_stats_file_names_file_and_field(tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    stats = results / "stepwise" / "ircot" / "hotpotqa" / "tch" / "stats.json"
    stats.write_text(json.dumps({"traces": 1}))
    assert _render(tmp_path / "out", results=results) == 2
    err = capsys.readouterr().err
    assert str(stats) in err and "field 'pass_rate'" in err


def test_latex_is_balanced_booktabs(rendered):
    for name in TABLES + ["table_published"]:
        tex = (rendered / "tables" / f"{name}.tex").read_text()
        body = tex.replace("\\{", "").replace("\\}", "")
        assert body.count("{") == body.count("}"), name
        assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule"), name
        assert tex.count("\\begin{") == tex.count("\\end{"), name
        columns = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
        for line in tex.splitlines():
            if line.endswith("\\\\") and "multicolumn" not in line:
                assert line.count(" & ") == len(columns) - 1, (name, line)
        assert "_" not in re.sub(r"\\_|\\label\{[^}]*\}", "", body), name


def test_report_has_tables_figures_definitions_and_claims(rendered):
    report = (rendered / "REPORT.md").read_text()
    for name in FIGURES:
        assert f"figures/{name}.png" in report
    assert "Initialization:" in report and "Expansion:" in report and "Aggregation:" in report
    claims = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in report.splitlines() if line.startswith("| ") and "**" in line}
    assert claims["StepER beats Vanilla-KD on every dataset (average +9.5% accuracy, relative)"] == "**HOLDS**"
    assert claims["8B StepER student is comparable to the 70B teacher"] == "**DOES NOT HOLD**"  # mean gap -3.5 points
    assert claims["learned difficulty-aware weights beat every fixed weighting (Table 2)"] == "**HOLDS**"
    assert claims["StepER reasoning is more valid on SubQA sub-questions (Table 4)"] == "**NOT TESTED**"
    assert "reliability secondary" in report
    assert "| table1 | StepER | hotpotqa | Acc | 61.00 | 36.00 | -25.00 |" in report


def test_render_is_deterministic_and_keeps_other_files(rendered, tmp_path):
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "CHECK.txt").write_text("from the check rule\n")
    assert _render(tmp_path / "again") == 0
    for path in rendered.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "again" / path.relative_to(rendered)).read_bytes(), path
    assert (tmp_path / "again" / "CHECK.txt").read_text() == "from the check rule\n"
    assert not [p for p in (tmp_path / "again").iterdir() if p.name.startswith(".")]


def test_scaling_table_reads_sizes_from_the_eval_files(rendered):
    rows = _markdown_rows(rendered / "tables" / "table_scaling.md")
    assert ["stu-s", "StepER", "61.2", "26.0", "–"] in rows
    assert rows[0] == ["tch", "few-shot", "134.5", "40.0", "20.0"]


def test_empty_results_still_write_every_target(tmp_path):
    (tmp_path / "results").mkdir()
    assert _render(tmp_path / "out", results=tmp_path / "results") == 0
    for name in TABLES:
        assert "(no results)" in (tmp_path / "out" / "tables" / f"{name}.md").read_text()
    for name in FIGURES:
        assert (tmp_path / "out" / "figures" / f"{name}.png").stat().st_size > 0
    assert "NOT TESTED" in (tmp_path / "out" / "REPORT.md").read_text()


def test_claim_flips_when_results_flip(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    path = results / "eval" / "ircot" / "musique" / "stu--steper.json"
    data = json.loads(path.read_text())
    data["metrics"]["acc"] = 10.0
    path.write_text(json.dumps(data))
    verdicts = {v.claim_id: v for v in evaluate_claims(load_results(results), PaperSettings(**SETTINGS), load_published())}
    assert verdicts["steper_beats_vanilla"].verdict == "DOES NOT HOLD"
    assert "musique: StepER 10.00 vs Vanilla-KD 14.00" in verdicts["steper_beats_vanilla"].evidence
    assert verdicts["scaling"].verdict == "DOES NOT HOLD"


def test_unknown_settings_key_is_an_error(tmp_path, capsys):
    assert _render(tmp_path / "out", settings={**SETTINGS, "colour": "red"}) == 2
    assert "colour" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_method_no_table_is_about_joins_table1(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    data = json.loads((results / "eval" / "ircot" / "hotpotqa" / "stu--steper.json").read_text())
    data["system"] = "stu--steper_long"
    data["metrics"]["acc"] = 37.5
    (results / "eval" / "ircot" / "hotpotqa" / "stu--steper_long.json").write_text(json.dumps(data))
    settings = PaperSettings(**{**SETTINGS, "methods": ["vanilla_kd", "steper", "steper_long"]})
    loaded = load_results(results)
    rows = table1_main(loaded, settings).rows
    assert rows[-1][:2] == ["stu", "steper_long (IRCoT, zero-shot)"] and rows[-1][4] == 37.5
    assert table2_loss_weighting(loaded, settings).rows == [["Difficulty-aware (StepER)", 36.0, 17.0, 26.5]]


def test_unknown_framework_is_an_error(tmp_path, capsys):
    assert _render(tmp_path / "out", settings={**SETTINGS, "baselines": ["ircot", "react"]}) == 2
    assert "react" in capsys.readouterr().err


def test_results_loader_skips_side_files_and_reads_layout():
    results = load_results(RESULTS)
    assert ("ircot", "hotpotqa", "stu--steper") in results.evals
    assert not any(system.endswith(".settings") or system.endswith(".json") for _, _, system in results.evals)
    assert {(log.method, log.hparams) for log in results.train_logs} == {("steper", "lr5e-05"), ("vanilla_kd", "lr5e-05")}


def test_sigma_points_accepts_sigma_or_log_variance():
    assert sigma_points({"sigma": {"first": 0.9, "final": 1.1}}) == {"first": 0.9, "final": 1.1}
    assert sigma_points({"log_var": {"mid": 0.0}}) == {"mid": 1.0}
    assert sigma_points({"loss": 1.0}) == {}


def test_table_rendering_escapes_and_marks_missing():
    table = Table("t", "A & B_c 50%", ["Name"], ["x", "y"], rows=[["a_b", 1.234, None]])
    tex = to_latex(table)
    assert "A \\& B\\_c 50\\%" in tex and "a\\_b & 1.23 & --" in tex
    assert "| a_b | 1.23 | – |" in to_markdown(table)


def test_paper_settings_type_check():
    from steper.io import InputError

    with pytest.raises(InputError):
        PaperSettings(run="x", datasets="hotpotqa").validate()
