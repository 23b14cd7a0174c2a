"""steper.data.split's inputs and outputs: refused records named by file and line, the warnings
that say which split was short, and what split_files returns."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from steper.data.records import Record
from steper.data.split import SplitSettings, load_records, split_files, split_records
from steper.io import InputError


def records(prefix: str, n: int) -> list[Record]:
    return [Record(id=f"{prefix}{i}", dataset="toy", question=f"q{i}?", answers=[f"a{i}"]) for i in range(n)]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def error_of(call) -> str:
    with pytest.raises(InputError) as error:
        call()
    return str(error.value)


def test_bad_and_repeated_records_are_named(tmp_path):
    good = [r.to_dict() for r in records("d", 2)]
    repeated = write(tmp_path / "repeated.jsonl", [*good, good[0]])
    assert error_of(lambda: load_records(repeated)) == f"{repeated}, line 3: field 'id' duplicate question id 'd0'"
    bad = write(tmp_path / "bad.jsonl", [*good, {**good[0], "id": "d9", "answers": "a"}])
    assert error_of(lambda: load_records(bad)).startswith(f"{bad}, line 3: field 'answers'")


def test_only_a_short_split_is_warned_about_by_name(caplog):
    with caplog.at_level(logging.WARNING):
        splits = split_records(records("t", 4), records("d", 9), SplitSettings(n_train=4, n_dev=5, n_test=4, seed=0))
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [4, 5, 4]
    assert caplog.text == ""  # exactly enough questions is not a shortage
    with caplog.at_level(logging.WARNING):
        split_records(records("t", 2), records("d", 3), SplitSettings(n_train=5, n_dev=2, n_test=4, seed=0))
    assert "dev:" not in caplog.text
    assert "test: asked for 4 questions but only 1 are available; taking all" in caplog.text
    assert "train: asked for 5 questions but only 2 are available; taking all" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        split_records([], records("d", 3), SplitSettings(n_train=None, n_dev=4, n_test=1, seed=0))
    assert "dev: asked for 4 questions but only 3 are available; taking all" in caplog.text


def test_split_files_returns_the_sizes_and_refuses_an_empty_test_split(tmp_path):
    train = write(tmp_path / "train.jsonl", [r.to_dict() for r in records("t", 3)])
    dev = write(tmp_path / "dev.jsonl", [r.to_dict() for r in records("d", 5)])
    sizes = split_files(train, dev, tmp_path / "out", SplitSettings(n_train=2, n_dev=2, n_test=9, seed=0))
    assert sizes == {"train": 2, "dev": 2, "test": 3}
    assert error_of(lambda: split_files(train, dev, tmp_path / "none", SplitSettings(n_train=2, n_dev=5, n_test=9, seed=0))) == (
        f"{dev}: field 'n_dev' has no question left for the test split after drawing 5 dev questions"
    )
    assert not (tmp_path / "none").exists()
    empty = write(tmp_path / "empty.jsonl", [])
    assert error_of(lambda: split_files(empty, dev, tmp_path / "e", SplitSettings(n_dev=1, n_test=1))) == (
        f"{empty}: holds no records (pass --allow-empty to write empty splits)"
    )
    assert split_files(empty, dev, tmp_path / "e", SplitSettings(n_dev=1, n_test=1), allow_empty=True) == {"train": 0, "dev": 1, "test": 1}
