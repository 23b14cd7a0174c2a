"""`steper data prepare`: native dataset file -> unified JSON lines, all or nothing."""

from __future__ import annotations

import json
import logging
import os

from tqdm import tqdm

from steper.data.readers import check_format, read_records
from steper.io import InputError, atomic_path

log = logging.getLogger(__name__)


def prepare(
    fmt: str,
    dataset: str,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    aliases: str | os.PathLike | None = None,
    chains: str | os.PathLike | None = None,
    allow_empty: bool = False,
) -> int:
    """Convert every record; any bad record, or none at all, stops the run before the output is
    replaced (an empty output only with `allow_empty`). Returns the count."""
    check_format(fmt, input_path)
    count = 0
    seen: set[str] = set()
    with atomic_path(output_path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        records = read_records(fmt, input_path, dataset, aliases=aliases, chains=chains)
        for record in tqdm(records, desc=f"prepare {dataset}", unit="q", disable=None):
            if record.id in seen:
                raise InputError(input_path, f"duplicate question id {record.id!r}", field="id")
            seen.add(record.id)
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            count += 1
        if not count and not allow_empty:
            raise InputError(input_path, "holds no records (pass --allow-empty to write an empty file)")
    log.info("prepared %d %s records from %s (format %s) -> %s", count, dataset, input_path, fmt, output_path)
    return count
