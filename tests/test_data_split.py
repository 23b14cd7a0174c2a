"""IRCoT's dev/test subsampling and the train sample."""

from __future__ import annotations

import json
import random

from steper.cli import main
from steper.data.records import Record
from steper.data.split import SplitSettings, split_records


def steper(*args) -> int:
    """Run the CLI as the Snakemake rules do."""
    return main([str(a) for a in args])


def _records(prefix: str, n: int) -> list[Record]:
    return [Record(id=f"{prefix}{i}", dataset="toy", question=f"q{i}?", answers=[f"a{i}"]) for i in range(n)]


def test_follows_ircot_order_of_operations():
    dev = _records("d", 40)
    splits = split_records(_records("t", 30), dev, SplitSettings(n_train=10, n_dev=5, n_test=12, seed=13370))
    # IRCoT: random.seed(13370); sample 100 from dev; (new run) random.seed(13370); sample 500 from the rest
    random.seed(13370)
    expected_dev = random.sample(dev, 5)
    random.seed(13370)
    expected_test = random.sample([r for r in dev if r not in expected_dev], 12)
    assert [r.id for r in splits["dev"]] == [r.id for r in expected_dev]
    assert [r.id for r in splits["test"]] == [r.id for r in expected_test]
    assert not {r.id for r in splits["dev"]} & {r.id for r in splits["test"]}
    assert len(splits["train"]) == 10 and len({r.id for r in splits["train"]}) == 10


def test_deterministic_and_seed_dependent():
    train, dev = _records("t", 20), _records("d", 50)
    settings = SplitSettings(n_train=5, n_dev=10, n_test=20, seed=1)
    first = split_records(train, dev, settings)
    assert first == split_records(train, dev, settings)
    other = split_records(train, dev, SplitSettings(n_train=5, n_dev=10, n_test=20, seed=2))
    assert [r.id for r in other["test"]] != [r.id for r in first["test"]]


def test_takes_all_when_too_few_and_all_train_by_default(caplog):
    splits = split_records(_records("t", 7), _records("d", 30), SplitSettings(n_dev=10, n_test=500))
    assert len(splits["dev"]) == 10 and len(splits["test"]) == 20 and len(splits["train"]) == 7
    assert "only 20 are available" in caplog.text
    assert {r.id for r in splits["dev"]} | {r.id for r in splits["test"]} == {f"d{i}" for i in range(30)}


def test_cli_writes_three_files_and_settings(tmp_path):
    for name, prefix, n in (("train.jsonl", "t", 12), ("dev.jsonl", "d", 25)):
        (tmp_path / name).write_text(
            "".join(json.dumps(r.to_dict()) + "\n" for r in _records(prefix, n)), encoding="utf-8"
        )
    out = tmp_path / "data"
    settings = '{"n_train": 4, "n_dev": 5, "n_test": 8, "seed": 3}'
    paths = ["--train", tmp_path / "train.jsonl", "--dev", tmp_path / "dev.jsonl", "--output-dir", out]
    code = steper("data", "split", *paths, "--settings", settings)
    assert code == 0
    sizes = {name: len((out / f"{name}.jsonl").read_text().splitlines()) for name in ("train", "dev", "test")}
    assert sizes == {"train": 4, "dev": 5, "test": 8}
    assert json.loads((out / "steper_settings.json").read_text())["settings"]["seed"] == 3


def test_cli_rejects_unknown_setting_and_duplicate_ids(tmp_path, capsys):
    rows = _records("d", 3) + _records("d", 1)
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows), encoding="utf-8")
    args = [
        "data",
        "split",
        "--train",
        str(tmp_path / "dev.jsonl"),
        "--dev",
        str(tmp_path / "dev.jsonl"),
        "--output-dir",
        str(tmp_path / "o"),
    ]
    assert main(args + ["--settings", '{"n_tests": 3}']) == 2
    assert "n_tests" in capsys.readouterr().err
    assert main(args) == 2
    assert "line 4" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
