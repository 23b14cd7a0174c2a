"""`steper paper check|expected`: the reproduction harness against the hand-written results tree."""

from pathlib import Path

import pytest
import yaml

from steper.cli import main
from steper.paper.check import load_checks
from steper.paper.published import load_published

RESULTS = Path(__file__).parent / "fixtures" / "results" / "run"


def _expected(tmp_path: Path, checks: list[dict], **top) -> Path:
    path = tmp_path / "expected.yaml"
    path.write_text(yaml.safe_dump({**top, "checks": checks}))
    return path


def _check(expected: Path, *extra: str) -> int:
    return main(["paper", "check", "--results-dir", str(RESULTS), "--expected", str(expected), *extra])


def test_all_checks_pass(tmp_path, capsys):
    expected = _expected(tmp_path, [
        {"framework": "ircot", "dataset": "hotpotqa", "system": "stu--steper", "metric": "acc", "expected": 36.3},
        {"framework": "ircot", "dataset": "musique", "system": "stu--vanilla_kd", "metric": "em", "expected": 10.0, "tolerance": 0.0},
        {"framework": "ircot", "dataset": "hotpotqa", "system": "stu--steper", "metric": "abilities.initialization", "expected": 58.0, "tolerance": 2.0},
    ], tolerance=0.5)
    assert _check(expected) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("OK") and "expected 36.30 ± 0.50, got 36.00" in out[0]
    assert out[-1] == "3 OK, 0 FAIL"


def test_a_value_outside_tolerance_fails(tmp_path, capsys):
    expected = _expected(tmp_path, [
        {"framework": "ircot", "dataset": "hotpotqa", "system": "stu--steper", "metric": "acc", "expected": 36.0},
        {"framework": "ircot", "dataset": "hotpotqa", "system": "stu--vanilla_kd", "metric": "acc", "expected": 31.0},
    ], tolerance=0.5)
    assert _check(expected) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("OK") and out[1].startswith("FAIL") and "got 30.00" in out[1]
    # a wider tolerance given on the command line overrides the file
    assert _check(expected, "--tolerance", "1.0") == 0


def test_missing_result_fails_naming_the_file(tmp_path, capsys):
    expected = _expected(tmp_path, [{"framework": "selfask", "dataset": "musique", "system": "stu--steper", "metric": "acc", "expected": 1.0}])
    assert _check(expected) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and str(Path("eval") / "selfask" / "musique" / "stu--steper.json") in out


def test_missing_metric_fails(tmp_path, capsys):
    expected = _expected(tmp_path, [{"framework": "ircot", "dataset": "hotpotqa", "system": "stu--steper", "metric": "bleu", "expected": 1.0}])
    assert _check(expected) == 1
    assert "no 'bleu'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "checks, field",
    [
        ([{"framework": "ircot", "dataset": "hotpotqa", "system": "s", "metric": "acc"}], "checks[0].expected"),
        ([{"framework": "ircot", "dataset": "hotpotqa", "system": "s", "metric": "acc", "expected": 1, "tol": 1}], "checks[0].tol"),
    ],
)
def test_malformed_expected_file_names_the_field(tmp_path, capsys, checks, field):
    assert _check(_expected(tmp_path, checks)) == 2
    assert field in capsys.readouterr().err


def test_zero_checks_fail(tmp_path, capsys):
    """A check file that compares nothing must not pass."""
    assert _check(_expected(tmp_path, [])) == 2
    assert "lists no checks" in capsys.readouterr().err


def test_expected_from_published_numbers(tmp_path, capsys):
    output = tmp_path / "published.yaml"
    assert main(["paper", "expected", "--student", "stu", "--tolerance", "3", "--output", str(output)]) == 0
    checks = load_checks(output)
    assert {check.tolerance for check in checks} == {3.0}
    names = {(check.dataset, check.system, check.metric): check.expected for check in checks}
    assert names[("hotpotqa", "stu--steper", "acc")] == 61.0
    assert names[("musique", "stu--steper_uniform", "acc")] == 33.58
    assert len(checks) == len({(c.dataset, c.system, c.metric) for c in checks})
    # our fixture numbers are far from the paper's: the paper-tier check must fail, naming 2Wiki as missing
    assert _check(output) == 1
    out = capsys.readouterr().out
    assert "2wikimultihopqa" in out and "missing" in out


def test_published_numbers_ship_with_the_package():
    published = load_published()
    assert published.reliability == "secondary"
    assert published.rows("table1_main_ircot_llama8b", "steper")["hotpotqa"] == {"em": 51.0, "f1": 62.8, "acc": 61.0}
    assert len(published.claims) == 9 and all({"id", "text"} <= set(claim) for claim in published.claims)


def test_expected_from_a_finished_run_passes_on_that_run(tmp_path, capsys):
    output = tmp_path / "measured.yaml"
    assert main(["paper", "expected", "--results-dir", str(RESULTS), "--tolerance", "0", "--output", str(output)]) == 0
    checks = load_checks(output)
    # 21 evaluations of the run's seed and 5 of extra seeds (files '{system}--seed{seed}.json' naming '{system}' inside)
    assert len(checks) == 3 * 26
    seeded = {(check.dataset, check.system, check.metric): check.expected for check in checks if "--seed" in check.system}
    assert len(seeded) == 3 * 5 and seeded[("hotpotqa", "stu--steper--seed2", "acc")] == 30.0
    assert _check(output) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "78 OK, 0 FAIL"
