"""IRCoT's test protocol (processing_scripts/subsample_dataset_and_remap_paras.py).

IRCoT draws the dev and the test sample in two runs of one script, each starting with
`random.seed(13370)`: dev = sample(dev_file, 100); test = sample(dev_file minus those, 500).
We reseed before each draw in the same way, so with the official dev file and seed 13370 the
question ids match IRCoT's. Train questions are a seeded sample of the train file (or all of it).
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from steper.data.records import Record
from steper.data.source import iter_json_lines
from steper.io import InputError, write_jsonl
from steper.settings import from_schema

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class SplitSettings:
    n_train: int | None = from_schema("data.split.n_train")
    n_dev: int = from_schema("data.split.n_dev")
    n_test: int = from_schema("data.split.n_test")
    seed: int = from_schema("data.split.seed")


def load_records(path: str | os.PathLike) -> list[Record]:
    """Unified records of a JSON-lines file, validated; a repeated id is an error."""
    records = []
    seen: set[str] = set()
    for where, data in iter_json_lines(path):
        record = Record.from_dict(data, path, where.line)
        if record.id in seen:
            raise InputError(path, f"duplicate question id {record.id!r}", line=where.line, field="id")
        seen.add(record.id)
        records.append(record)
    return records


def _sample(rng: random.Random, population: list[T], n: int, name: str) -> list[T]:
    if n > len(population):
        log.warning("%s: asked for %d questions but only %d are available; taking all", name, n, len(population))
        n = len(population)
    return rng.sample(population, n)


def split_records(train: list[Record], dev: list[Record], settings: SplitSettings) -> dict[str, list[Record]]:
    """{'train', 'dev', 'test'} following IRCoT's order of operations (see module docstring)."""
    dev_sample = _sample(random.Random(settings.seed), dev, settings.n_dev, "dev")
    chosen = {record.id for record in dev_sample}
    rest = [record for record in dev if record.id not in chosen]
    test_sample = _sample(random.Random(settings.seed), rest, settings.n_test, "test")
    if settings.n_train is None:
        train_sample = list(train)
    else:
        train_sample = _sample(random.Random(settings.seed), train, settings.n_train, "train")
    return {"train": train_sample, "dev": dev_sample, "test": test_sample}


def split_files(
    train_path: str | os.PathLike,
    dev_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: SplitSettings,
    allow_empty: bool = False,
) -> dict[str, int]:
    """Write train/dev/test.jsonl; an empty input or an empty train or test split stops the run
    before any file is replaced, unless `allow_empty`."""
    train, dev = load_records(train_path), load_records(dev_path)
    splits = split_records(train, dev, settings)
    if not allow_empty:
        for path, records in ((train_path, train), (dev_path, dev)):
            if not records:
                raise InputError(path, "holds no records (pass --allow-empty to write empty splits)")
        if not splits["test"]:
            raise InputError(dev_path, f"has no question left for the test split after drawing {len(splits['dev'])} dev questions",
                             field="n_dev")
    output_dir = Path(output_dir)
    for name, records in splits.items():
        write_jsonl(output_dir / f"{name}.jsonl", (r.to_dict() for r in records))
    sizes = {name: len(records) for name, records in splits.items()}
    log.info("split %s + %s -> %s: %s", train_path, dev_path, output_dir, sizes)
    return sizes
