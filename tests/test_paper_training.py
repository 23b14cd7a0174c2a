"""What the report says about training: each method's budget, whether StepER's learned weights moved
away from uniform, and the budget-matched control decided beside the paper's comparison.

The matched system of the render test is the fixture's StepER evaluation under another name, so its
comparison with StepER is a difference of exactly zero: INCONCLUSIVE, whatever the bootstrap draws.
"""

import json
from pathlib import Path

import pytest

from steper.cli import main
from steper.paper.claims import MATCHED_TEXT
from steper.paper.definitions import PaperSettings
from steper.paper.report import weighting_statement
from steper.paper.results import Results, TrainLog
from steper.paper.training import budget, learned_weights

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "tests" / "fixtures" / "results" / "run"
COMMITTED = ROOT / "tests" / "fixtures" / "results" / "paper"
MATCHED = {"data": "final", "loss": "vanilla", "label": "Vanilla-KD (matched steps)", "tables": ["main"], "match_steps_of": "steper"}


def _log(rows: list[dict], method: str = "steper") -> TrainLog:
    return TrainLog("ircot", "hotpotqa", "stu", method, Path("train_log.jsonl"), rows)


def test_budget_and_weights_come_from_the_last_logged_step():
    rows = [{"step": 2, "sigma": {"first": 1.0, "mid": 1.0, "final": 1.0}, "supervised_tokens": {"first": 5, "mid": 7, "final": 9}},
            {"step": 4, "sigma": {"first": 0.5, "mid": 1.0, "final": 1.0}, "supervised_tokens": {"first": 10, "mid": 14, "final": 18}}]
    spent = budget(_log(rows))
    assert (spent.steps, spent.supervised_tokens) == (4, 42)
    weights = learned_weights(_log(rows))
    # weights 1/(2σ²) = 2, 0.5, 0.5: shares 2/3, 1/6, 1/6
    assert weights.step == 4 and weights.share == pytest.approx({"first": 2 / 3, "mid": 1 / 6, "final": 1 / 6})
    assert weights.ratio == pytest.approx(4.0) and weights.differs_from_uniform
    assert budget(_log([{"step": 3, "loss": 1.0}])).supervised_tokens is None  # a log from before tokens were counted
    assert learned_weights(_log([{"step": 3, "sigma": None}], "vanilla_kd")) is None


def test_the_report_says_whether_the_weights_moved():
    settings = PaperSettings(run="r", main_student="stu", teacher="t", students=["stu"], scaling_teacher="t",
                             methods={"steper": {"data": "first-mid-final", "loss": "difficulty_aware", "label": "StepER"}})
    moved = Results(source="m", train_logs=[_log([{"step": 76, "sigma": {"first": 0.1, "mid": 0.2, "final": 0.2}}])])
    still = Results(source="m", train_logs=[_log([{"step": 76, "sigma": {"first": 0.98, "mid": 0.98, "final": 0.981}}])])
    assert "StepER (ircot, hotpotqa, stu): the learned weights **differ from uniform** at step 76" in weighting_statement(moved, settings)
    text = weighting_statement(still, settings)
    assert "**stay uniform** within 1.25× at step 76" in text and "the difficulty-aware weighting did not act" in text


def test_the_matched_control_is_decided_beside_the_papers_comparison(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    steper_eval = json.loads((RUN / "eval" / "ircot" / "hotpotqa" / "stu--steper.json").read_text())
    matched_eval = tmp_path / "stu--vanilla_kd_matched.json"
    matched_eval.write_text(json.dumps(dict(steper_eval, system="stu--vanilla_kd_matched")))
    matched_log = tmp_path / "train_log.jsonl"
    matched_log.write_text(json.dumps({"step": 4, "sigma": None, "supervised_tokens": {"final": 100}}) + "\n")
    manifest = json.loads((RUN / "manifest.json").read_text())
    manifest["evals"].append({"path": str(matched_eval), "framework": "ircot", "dataset": "hotpotqa", "system": "stu--vanilla_kd_matched"})
    manifest["train_logs"].append({"path": str(matched_log), "framework": "ircot", "dataset": "hotpotqa", "student": "stu",
                                   "method": "vanilla_kd_matched"})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    settings = json.loads((COMMITTED / "steper_settings.json").read_text())["settings"]
    settings["methods"] = {"vanilla_kd_matched": MATCHED, **settings["methods"]}  # listed first: still not the paper's baseline
    argv = ["paper", "render", "--manifest", str(tmp_path / "manifest.json"), "--output-dir", str(tmp_path / "paper"), "--settings", json.dumps(settings)]
    assert main(argv) == 0
    lines = (tmp_path / "paper" / "REPORT.md").read_text().splitlines()
    committed = (COMMITTED / "REPORT.md").read_text().splitlines()
    paper = next(i for i, line in enumerate(lines) if line.startswith("| StepER beats Vanilla-KD") and "| IRCoT, hotpotqa |" in line)
    assert lines[paper] in committed  # the paper's comparison is unchanged, against the plain Vanilla-KD
    matched = lines[paper + 1]
    assert matched.startswith(f"| {MATCHED_TEXT} | IRCoT, hotpotqa | acc | **INCONCLUSIVE** | StepER 36.0 vs Vanilla-KD (matched steps) 36.0; Δ +0.0")
    assert matched.endswith("trained: StepER 4 optimizer steps; Vanilla-KD (matched steps) 4 optimizer steps, 100 supervised tokens |")
    assert sum(MATCHED_TEXT in line for line in lines) == 1  # musique has no matched system: no row for it
    table = (tmp_path / "paper" / "tables" / "table_training.md").read_text()
    assert "| ircot | hotpotqa | stu | Vanilla-KD (matched steps) | 4 | 100 | – | – | – | – | – | – |" in table
