"""`steper paper render` on a hand-written results tree (tests/fixtures/results/run, its manifest.json).

The fixture's per-question rows follow the pattern of tests/fixtures/results/per_question.py: the
first k of 200 questions are right, so paired comparisons have discordant questions in one
direction only and McNemar's p-values are computed by hand below.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from steper.cli import main
from steper.io import OWNER_MARKER, InputError
from steper.paper.definitions import PaperSettings
from steper.paper.figures import sigma_points
from steper.paper.results import EvalResult
from steper.paper.tables import PassedOver, error_kind, passed_over
from steper.paper.typeset import Estimate, Table, to_latex, to_markdown
from steper.settings import parse_settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path("tests/fixtures/results/run")
MANIFEST = RESULTS / "manifest.json"


def method(data, loss, label, tables):
    return {"data": data, "loss": loss, "label": label, "tables": tables}


SETTINGS = {
    "run": "fixture",
    "datasets": ["hotpotqa", "musique"],
    "frameworks": ["ircot", "selfask"],
    "main_student": "stu",
    "teacher": "tch",
    "students": ["stu", "stu-s"],
    "methods": {
        "vanilla_kd": method("final", "vanilla", "Vanilla-KD", ["main", "ablation", "scaling", "transfer", "subquestions"]),
        "steper": method("first-mid-final", "difficulty_aware", "StepER", ["main", "weighting", "ablation", "scaling", "transfer", "subquestions"]),
        "steper_uniform": method("first-mid-final", "fixed", "Uniform weights (1:1:1)", ["weighting"]),
        "steper_first_heavy": method("first-mid-final", "fixed", "First-heavy weights (1.5:1:0.5)", ["weighting"]),
        "steper_last_heavy": method("first-mid-final", "fixed", "Last-heavy weights (0.5:1:1.5)", ["weighting"]),
        "final_plus_first": method("first-final", "uniform", "Final + first-step data", ["ablation"]),
        "final_plus_first_mid": method("first-mid-final", "uniform", "Final + first + mid-step data", ["ablation"]),
    },
    "baselines": ["direct", "cot", "rag", "ircot", "selfask"],
    "scaling_students": ["stu-s", "stu"],
    "scaling_teacher": "tch",
    "bootstrap": {"resamples": 2000, "level": 0.95, "seed": 0},
    "case_study": 2,
}
TABLES = [
    "table1_main", "table2_loss_weighting", "table3_selfask", "table4_subquestions", "table_ablation_steps", "table_errors", "table_transfer",
    "table_retrieval", "table_stepwise_stats", "table_teacher", "table_scaling", "table_latency", "table_published",
    "table_cost", "table_benchmarks",
]
FIGURES = ["fig1a_data_composition", "fig3_abilities", "fig4_scaling", "fig_sigma", "fig_latency", "fig_transfer"]
CELL = re.compile(r"^(-?\d+\.\d) \[(-?\d+\.\d), (-?\d+\.\d)\]$")


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Manifest paths are relative to the workflow's directory, the repository root."""
    monkeypatch.chdir(ROOT)


def _render(output: Path, settings=SETTINGS, manifest=MANIFEST) -> int:
    return main(["paper", "render", "--manifest", str(manifest), "--output-dir", str(output), "--settings", json.dumps(settings)])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    output = tmp_path_factory.mktemp("paper") / "fixture"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        assert _render(output) == 0
    return output


def _markdown_rows(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _cell(text: str) -> tuple[float, float, float]:
    match = CELL.match(text)
    assert match, text
    value, low, high = map(float, match.groups())
    assert low <= value <= high, text
    return value, low, high


def _copy(tmp_path: Path) -> Path:
    """A copy of the fixture tree whose manifest points into the copy."""
    copy = tmp_path / "run"
    shutil.copytree(ROOT / RESULTS, copy)
    text = (copy / "manifest.json").read_text().replace(str(RESULTS), str(copy))
    (copy / "manifest.json").write_text(text)
    return copy


def test_every_table_and_figure_is_written(rendered):
    for name in TABLES:
        assert (rendered / "tables" / f"{name}.md").stat().st_size > 0
        assert (rendered / "tables" / f"{name}.tex").stat().st_size > 0
    for name in FIGURES:
        png = (rendered / "figures" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
        pdf = (rendered / "figures" / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"CreationDate" not in pdf
    assert (rendered / "REPORT.md").exists() and (rendered / "case_study.md").exists()
    assert json.loads((rendered / "steper_settings.json").read_text())["settings"]["main_student"] == "stu"


def test_every_metric_cell_carries_an_interval(rendered):
    rows = _markdown_rows(rendered / "tables" / "table1_main.md")
    steper = next(row for row in rows if row[1].startswith("StepER"))
    assert [_cell(cell)[0] for cell in steper[2:]] == [28.0, 34.0, 36.0, 12.0, 16.0, 17.0]
    # 72 of 200 right: the interval is about ±1.96·sqrt(.36·.64/200) = ±6.7 points
    value, low, high = _cell(steper[4])
    assert 5.5 < value - low < 8 and 5.5 < high - value < 8
    for name in ("table2_loss_weighting", "table3_selfask", "table_transfer", "table_scaling"):
        cells = [cell for row in _markdown_rows(rendered / "tables" / f"{name}.md") for cell in row if "[" in cell]
        assert cells, name
        for cell in cells:
            _cell(cell)
    assert "2000 resamples, seed 0" in (rendered / "tables" / "table1_main.md").read_text()


def test_table1_has_the_published_rows_marked_not_rerun(rendered):
    rows = _markdown_rows(rendered / "tables" / "table1_main.md")
    cited = [row[1] for row in rows if row[0] == "(published)"]
    assert cited == [
        "SAIL (KD, single-step RAG; not re-run)", "KARD (KD, single-step RAG; not re-run)",
        "Chain-of-Note (KD, single-step RAG; not re-run)", "Self-RAG (KD, multi-step RAG; not re-run)",
    ]
    assert "Asai et al. 2024" in (rendered / "tables" / "table1_main.md").read_text()
    assert ("stu (student base)", "No retrieval, few-shot") in [(row[0], row[1]) for row in rows]
    assert not any("CoT (no retrieval)" in row[1] for row in rows)  # cot was never run: no row


@pytest.mark.parametrize(
    "name, n_labels, expected_rows",
    [
        ("table2_loss_weighting", 1, ["StepER", "Uniform weights (1:1:1)", "First-heavy weights (1.5:1:0.5)", "Last-heavy weights (0.5:1:1.5)"]),
        ("table_ablation_steps", 1, ["Vanilla-KD", "Final + first-step data", "Final + first + mid-step data", "StepER"]),
        ("table3_selfask", 2, ["Self-Ask, few-shot", "Vanilla-KD (Self-Ask, zero-shot)", "StepER (Self-Ask, zero-shot)"]),
    ],
)
def test_method_tables_follow_the_config(rendered, name, n_labels, expected_rows):
    rows = _markdown_rows(rendered / "tables" / f"{name}.md")
    assert [row[n_labels - 1] for row in rows] == expected_rows


def test_table2_average_is_over_complete_rows(rendered):
    rows = {row[0]: row for row in _markdown_rows(rendered / "tables" / "table2_loss_weighting.md")}
    assert _cell(rows["StepER"][3])[0] == 26.5
    assert rows["Uniform weights (1:1:1)"][2:] == ["–", "–"]


def test_ablation_abilities_average_the_same_datasets_in_every_row(tmp_path):
    """Vanilla-KD and StepER ran on MuSiQue, the ablation methods on HotpotQA only: an ability column
    averaged over each row's own datasets would compare different questions."""
    copy = _copy(tmp_path)
    for system in ("stu--vanilla_kd", "stu--steper"):
        path = copy / "eval" / "ircot" / "musique" / f"{system}.json"
        data = json.loads(path.read_text())
        for row in data["per_question"]:
            row["initialization"] = 1.0
        data["abilities"] |= {"initialization": 100.0, "n_initialization": len(data["per_question"])}
        path.write_text(json.dumps(data))
    assert _render(tmp_path / "out", settings={**SETTINGS, "case_study": 0}, manifest=copy / "manifest.json") == 0
    table = tmp_path / "out" / "tables" / "table_ablation_steps.md"
    rows = {row[0]: row for row in _markdown_rows(table)}
    assert _cell(rows["Vanilla-KD"][3])[0] == 40.0 and _cell(rows["StepER"][3])[0] == 60.0  # HotpotQA's, not (40 + 100) / 2
    assert "(Init. hotpotqa; Exp. hotpotqa; Agg. hotpotqa; Sup. recall hotpotqa)" in table.read_text()


def test_wrong_answers_are_split_by_the_first_hop_their_chain_missed(rendered):
    rows = {(row[0], row[1], row[2]): row[3:] for row in _markdown_rows(rendered / "tables" / "table_errors.md")}
    # Vanilla-KD on HotpotQA: Acc 1 on q000..q059; initialization 1 on q000..q079; aggregation defined on q100..q199
    assert rows[("IRCoT", "hotpotqa", "Vanilla-KD")] == ["200", "140", "120", "20", "0", "0", "0"]
    # StepER: Acc on q000..q071, initialization on q000..q119, aggregation from q100: 20 found every hop,
    # and supporting recall is 1 on q000..q119, so those 20 retrieved all the evidence
    assert rows[("IRCoT", "hotpotqa", "StepER")] == ["200", "128", "80", "28", "0", "20", "0"]
    assert rows[("IRCoT", "musique", "StepER")] == ["200", "166", "0", "0", "0", "0", "166"]  # the fixture's MuSiQue has no ability scores


def test_the_traces_of_each_comparison_that_does_not_hold_are_broken_down(rendered):
    report = (rendered / "REPORT.md").read_text()
    section = report.split("### What the traces show where a comparison does not hold")[1].split("\n## ")[0]
    bullets = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(bullets) == 3 and all(line.startswith("- **INCONCLUSIVE**") for line in bullets)
    assert (
        "- **INCONCLUSIVE**, vs Last-heavy weights (0.5:1:1.5), hotpotqa (acc): StepER 128 wrong of 200 (80 / 28 / 0 / 20 / 0); "
        "Last-heavy weights (0.5:1:1.5) 132 wrong of 200 (96 / 32 / 0 / 4 / 0)."
    ) in bullets


@pytest.mark.parametrize(
    "row, kind",
    [
        ({"initialization": None, "aggregation": None, "supporting_recall": 1.0}, "unclassified"),
        ({"initialization": 0.0, "aggregation": None, "supporting_recall": 1.0}, "first hop missed"),
        ({"initialization": 1.0, "aggregation": None, "supporting_recall": 1.0}, "middle hop missed"),
        ({"initialization": 1.0, "aggregation": 0.0, "supporting_recall": 0.5}, "final hop wrong, evidence missing"),
        ({"initialization": 1.0, "aggregation": 0.0, "supporting_recall": 1.0}, "final hop wrong, evidence retrieved"),
        ({"initialization": 1.0, "aggregation": 0.0, "supporting_recall": None}, "unclassified"),
    ],
)
def test_error_kind(row, kind):
    assert error_kind(row) == kind


def _sub_eval(tmp_path: Path, acc: dict[str, float], traces: list[dict]) -> EvalResult:
    predictions = tmp_path / "sub.predictions.jsonl"
    predictions.write_text("".join(json.dumps(t) + "\n" for t in traces))
    rows = [{"id": qid, "acc": value} for qid, value in acc.items()]
    return EvalResult("ircot", "hotpotqa", "stu--steper", tmp_path / "sub.json", {"per_question": rows}, predictions)


def _trace(qid: str, answers: list[str], *outputs: tuple[int, str]) -> dict:
    steps = [{"step": step, "query": "", "retrieved": [], "output": output} for step, output in outputs]
    return {"id": qid, "question": "?", "answers": answers, "steps": steps, "prediction": ""}


def test_passed_over_counts_wrong_answers_a_step_before_the_last_had_found(tmp_path):
    result = _sub_eval(tmp_path, {"right": 1.0, "early": 0.0, "last": 0.0, "alias": 0.0, "part": 0.0}, [
        _trace("right", ["Rushaven"], (1, "born in Rushaven."), (2, "So the answer is: Morvath.")),
        _trace("early", ["Rushaven"], (1, "born in Rushaven."), (2, "Rushaven is in Morvath."), (3, "So the answer is: Morvath.")),
        _trace("last", ["Rushaven"], (1, "born in Tolby."), (2, "So the answer is: Rushaven town.")),
        # steps out of order: step 1's output comes before the last step, wherever it is listed
        _trace("alias", ["Rush", "Rushaven"], (2, "So the answer is: Morvath."), (1, "Rushaven it is.")),
        _trace("part", ["19"], (1, "in 1999."), (2, "So the answer is: 1999.")),
    ])
    assert passed_over(result) == PassedOver(wrong=4, passed_over=2)


def test_passed_over_needs_the_predictions_of_every_wrong_answer(tmp_path):
    result = _sub_eval(tmp_path, {"a": 0.0, "b": 0.0}, [_trace("a", ["x"], (1, "x"), (2, "y"))])
    with pytest.raises(InputError, match="no prediction for question 'b'"):
        passed_over(result)
    assert passed_over(EvalResult("ircot", "hotpotqa", "s", tmp_path / "s.json", {"per_question": []})) is None


def test_claims_are_decided_from_paired_intervals(rendered):
    report = (rendered / "REPORT.md").read_text()
    rows = {(cells[1].strip(), cells[2].strip()): cells for line in report.splitlines() if line.startswith("| ") and "**" in line
            for cells in [line.split("|")[1:]]}
    hotpot = rows[("IRCoT, hotpotqa", "acc")]
    assert hotpot[3].strip() == "**HOLDS**"
    # StepER right on q000..q071, Vanilla-KD on q000..q059: 12 : 0 discordant, p = 2 / 2^12
    assert "McNemar 12:0 discordant, exact p=0.000488" in hotpot[4] and "Δ +6.0" in hotpot[4]
    assert rows[("IRCoT, musique → hotpotqa", "acc")][3].strip() == "**INCONCLUSIVE**"
    assert rows[("IRCoT, hotpotqa: share with question and sub-questions right", "both right")][3].strip() == "**HOLDS**"
    assert rows[("Final + first-step data vs Vanilla-KD, hotpotqa", "initialization")][3].strip() == "**HOLDS**"
    assert "Totals: HOLDS" in report


def test_a_reversed_result_is_opposite_and_noise_is_inconclusive(tmp_path):
    copy = _copy(tmp_path)
    path = copy / "eval" / "ircot" / "musique" / "stu--steper.json"
    data = json.loads(path.read_text())
    # StepER now right on q000..q019 only (10%), Vanilla-KD on q000..q027 (14%)
    for row in data["per_question"]:
        row["acc"] = float(int(row["id"][1:]) < 20)
    data["metrics"]["acc"] = 10.0
    path.write_text(json.dumps(data))
    path = copy / "eval" / "ircot" / "hotpotqa" / "stu--steper.json"
    data = json.loads(path.read_text())
    for row in data["per_question"]:  # 61 right vs Vanilla-KD's 60: one discordant question
        row["acc"] = float(int(row["id"][1:]) < 61)
    data["metrics"]["acc"] = 30.5
    path.write_text(json.dumps(data))
    assert _render(tmp_path / "out", settings={**SETTINGS, "case_study": 0}, manifest=copy / "manifest.json") == 0
    report = (tmp_path / "out" / "REPORT.md").read_text()
    line = next(line for line in report.splitlines() if "| IRCoT, musique | acc |" in line)
    assert "**OPPOSITE**" in line and "McNemar 0:8" in line
    line = next(line for line in report.splitlines() if "| IRCoT, hotpotqa | acc |" in line)
    assert "**INCONCLUSIVE**" in line and "McNemar 1:0" in line


def test_only_declared_files_are_read(tmp_path):
    """A stale evaluation left in results/ (older hyper-parameters) never enters a table."""
    copy = _copy(tmp_path)
    stale = json.loads((copy / "eval" / "ircot" / "hotpotqa" / "stu--steper.json").read_text())
    stale.update(system="stu--steper_old")
    stale["metrics"]["acc"] = 99.0
    (copy / "eval" / "ircot" / "hotpotqa" / "stu--steper_old.json").write_text(json.dumps(stale))
    (copy / "students" / "ircot" / "hotpotqa" / "stu" / "steper" / "lr1e-03").mkdir(parents=True)
    (copy / "students" / "ircot" / "hotpotqa" / "stu" / "steper" / "lr1e-03" / "train_log.jsonl").write_text(
        json.dumps({"step": 1, "sigma": {"first": 42.0}}) + "\n"
    )
    settings = {**SETTINGS, "methods": {**SETTINGS["methods"], "steper_old": method("first-mid-final", "difficulty_aware", "Old", ["main"])}}
    assert _render(tmp_path / "out", settings=settings, manifest=copy / "manifest.json") == 0
    assert "99.0" not in (tmp_path / "out" / "tables" / "table1_main.md").read_text()
    assert "Old" not in (tmp_path / "out" / "tables" / "table1_main.md").read_text()


def test_per_question_rows_must_match_the_reported_metric(tmp_path, capsys):
    copy = _copy(tmp_path)
    path = copy / "eval" / "ircot" / "hotpotqa" / "stu--steper.json"
    data = json.loads(path.read_text())
    data["metrics"]["acc"] = 40.0
    path.write_text(json.dumps(data))
    assert _render(tmp_path / "out", manifest=copy / "manifest.json") == 2
    err = capsys.readouterr().err
    assert str(path) in err and "per_question" in err
    assert not (tmp_path / "out" / "REPORT.md").exists()


def test_no_evaluation_results_is_an_error(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"evals": []}))
    assert _render(tmp_path / "out", manifest=manifest) == 2
    assert "declares no evaluation results" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_manifest_entry_without_labels_names_the_field(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"evals": [{"path": "x.json", "framework": "ircot", "dataset": "hotpotqa"}]}))
    assert _render(tmp_path / "out", manifest=manifest) == 2
    assert "evals[0].system" in capsys.readouterr().err


def test_malformed_stats_file_names_file_and_field(tmp_path, capsys):
    copy = _copy(tmp_path)
    stats = copy / "stepwise" / "ircot" / "hotpotqa" / "tch" / "stats.json"
    stats.write_text(json.dumps({"traces": 1}))
    assert _render(tmp_path / "out", manifest=copy / "manifest.json") == 2
    err = capsys.readouterr().err
    assert str(stats) in err and "field 'pass_rate'" in err


def test_bad_benchmark_file_is_named(tmp_path, capsys):
    copy = _copy(tmp_path)
    (copy / "benchmark_results" / "generation.json").write_text("[1, 2]")
    assert _render(tmp_path / "out", manifest=copy / "manifest.json") == 2
    assert "generation.json" in capsys.readouterr().err


def test_cost_and_benchmark_tables(rendered):
    cost = {row[0]: row for row in _markdown_rows(rendered / "tables" / "table_cost.md")}
    # teacher 600 s of 1200 s in total; two training jobs 300 + 240 s
    assert cost["teacher"][1:] == ["1", "10.00", "18.33", "2048.50", "50.00"]
    assert cost["train"][1:3] == ["2", "9.00"] and cost["total"][1:3] == ["4", "20.00"]
    bench = _markdown_rows(rendered / "tables" / "table_benchmarks.md")
    assert ["generation.json", "tokens_per_second.batch_8", "180.250"] in bench


def test_transfer_and_subquestion_tables(rendered):
    transfer = {(row[1], row[2]): row for row in _markdown_rows(rendered / "tables" / "table_transfer.md")}
    assert _cell(transfer[("hotpotqa", "StepER")][4])[0] == 15.0  # hotpotqa-trained StepER on musique
    assert _cell(transfer[("hotpotqa", "StepER")][3])[0] == 36.0  # in-domain cell from the main evaluation
    sub = {row[2]: row for row in _markdown_rows(rendered / "tables" / "table4_subquestions.md")}
    # StepER: question right on q000..q049 (all 50), both hops right on q000..q039
    assert sub["StepER"][3] == "50"
    assert _cell(sub["StepER"][4])[0] == 80.0 and _cell(sub["StepER"][5])[0] == 20.0
    assert _cell(sub["Vanilla-KD"][4])[0] == 40.0


def test_case_study_shows_both_chains_with_retrieved_titles(rendered):
    case = (rendered / "case_study.md").read_text()
    assert "### hotpotqa — question q060" in case and "### hotpotqa — question q061" in case
    assert "retrieved: The Hollow Orchard; Orchard Lane" in case and "retrieved: Tamsin Everhart" in case
    assert "**Vanilla-KD** — prediction “Tamsin Everhart” (wrong)" in case
    assert case in (rendered / "REPORT.md").read_text()


def test_teacher_and_stepwise_counts_in_the_report(rendered):
    teacher = _markdown_rows(rendered / "tables" / "table_teacher.md")
    assert teacher[0][:5] == ["ircot", "hotpotqa", "tch", "train", "60"]
    assert _cell(teacher[0][7])[0] == 41.7  # 25 of 60
    stats = _markdown_rows(rendered / "tables" / "table_stepwise_stats.md")
    assert stats[2] == ["ircot", "hotpotqa", "tch", "first-mid-final", "60", "25", "41.67", "25", "18", "25", "68", "307.35", "10.60"]


def test_latex_is_balanced_booktabs(rendered):
    for name in TABLES:
        tex = (rendered / "tables" / f"{name}.tex").read_text()
        body = tex.replace("\\{", "").replace("\\}", "")
        assert body.count("{") == body.count("}"), name
        assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule"), name
        columns = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
        for line in tex.splitlines():
            if line.endswith("\\\\") and "multicolumn" not in line:
                assert line.count(" & ") == len(columns) - 1, (name, line)
        assert "_" not in re.sub(r"\\_|\\label\{[^}]*\}", "", body), name


def test_render_is_deterministic_and_keeps_other_files(rendered, tmp_path):
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "CHECK.txt").write_text("from the check rule\n")
    assert _render(tmp_path / "again") == 0
    for path in rendered.rglob("*"):
        if path.is_file() and path.name != OWNER_MARKER:  # the marker names its own directory
            assert path.read_bytes() == (tmp_path / "again" / path.relative_to(rendered)).read_bytes(), path
    assert (tmp_path / "again" / "CHECK.txt").read_text() == "from the check rule\n"
    assert not [p for p in (tmp_path / "again").iterdir() if p.name.startswith(".") and p.name != OWNER_MARKER]


def test_labels_and_tables_come_from_the_config(tmp_path):
    """Renaming a label changes the row's text; a method in no table appears in none."""
    settings = json.loads(json.dumps(SETTINGS))
    settings["methods"]["steper"]["label"] = "Step-wise KD"
    settings["methods"]["steper_uniform"]["tables"] = []
    assert _render(tmp_path / "out", settings=settings) == 0
    table1 = (tmp_path / "out" / "tables" / "table1_main.md").read_text()
    assert "Step-wise KD (IRCoT, zero-shot)" in table1 and "StepER (IRCoT" not in table1
    assert "Uniform" not in (tmp_path / "out" / "tables" / "table2_loss_weighting.md").read_text()


def test_unknown_settings_key_or_framework_is_an_error(tmp_path, capsys):
    assert _render(tmp_path / "out", settings={**SETTINGS, "colour": "red"}) == 2
    assert "colour" in capsys.readouterr().err
    assert _render(tmp_path / "out", settings={**SETTINGS, "baselines": ["ircot", "fusion"]}) == 2
    assert "fusion" in capsys.readouterr().err
    bad = {**SETTINGS, "methods": {"x": method("final", "vanilla", "X", ["table9"])}}
    assert _render(tmp_path / "out", settings=bad) == 2
    assert "methods.x.tables" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sigma_points_accepts_sigma_or_log_variance():
    assert sigma_points({"sigma": {"first": 0.9, "final": 1.1}}) == {"first": 0.9, "final": 1.1}
    assert sigma_points({"log_var": {"mid": 0.0}}) == {"mid": 1.0}
    assert sigma_points({"loss": 1.0}) == {}


def test_table_rendering_escapes_and_marks_missing():
    table = Table("t", "A & B_c 50%", ["Name"], ["x", "y", "z"], rows=[["a_b", 1.234, None, Estimate(36.0, 29.5, 42.5)]])
    tex = to_latex(table)
    assert "A \\& B\\_c 50\\%" in tex and "a\\_b & 1.23 & -- & 36.00{\\scriptsize\\,[29.50, 42.50]}" in tex
    assert "| a_b | 1.23 | – | 36.00 [29.50, 42.50] |" in to_markdown(table)


def test_paper_settings_type_check():
    from steper.io import InputError

    with pytest.raises(InputError):
        PaperSettings(run="x", datasets="hotpotqa", main_student="s", teacher="t", students=["s"], methods={}, scaling_teacher="t").validate()
    with pytest.raises(InputError, match="field 'teacher'"):
        parse_settings({"run": "x", "main_student": "s", "students": ["s"], "methods": {}, "scaling_teacher": "t"}, PaperSettings)
