"""Teacher traces made elsewhere, imported in place of running the teacher (`teacher.imports`).

The teacher is most of the paper tier's GPU time (two 70B models over every training question), so
a lab that has run it once, or a published set of traces, should not pay for it again. An import
names a (framework, dataset, teacher) of the run, a file or URL and its sha256. The workflow then
produces that trace file with `steper teacher import` instead of the teacher's shard and merge jobs,
and every stage after it reads the same file at the same path as if the teacher had run.

An imported file is accepted only as the file `steper teacher merge` of this very run would have
written, checked line by line against the run's records: its sha256 matches the configured one, it
holds exactly one line per record, in the records' order, each a whole trace line (the fields of
`runner.LINE_FIELDS`, of this framework and teacher name) whose question and answers are the
record's and whose scores are those of its prediction. The verified bytes are copied as they are,
so the output's sha256 is the configured one, and the summary beside it is the one merge writes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from steper.data.download import ChecksumError, fetch_to
from steper.frameworks.resume import clean_stale_temporaries, exclusive_writer
from steper.io import InputError, atomic_path, check_file, write_json
from steper.metrics import score

log = logging.getLogger(__name__)

URL_SCHEMES = ("http", "https", "file")
SHOWN_CHARS = 60
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class TraceImport:
    """One entry of `teacher.imports`: exactly one of `path` and `url` is set (the schema's rule)."""

    framework: str
    dataset: str
    teacher: str
    sha256: str
    path: str | None = None
    url: str | None = None

    @property
    def traced(self) -> tuple[str, str, str]:
        return self.framework, self.dataset, self.teacher


def traced_key(framework: str, dataset: str, teacher: str) -> str:
    """The value of the import rule's one `{traced}` wildcard for a (framework, dataset, teacher).

    Three wildcards could only be constrained one by one, which would also match the teacher runs
    of other combinations of the imported names; one wildcard spanning the three path segments
    matches exactly the imported files. Names hold no '/' (the schema's name pattern), so the key
    is unambiguous."""
    return f"{framework}/{dataset}/{teacher}"


def import_output(pattern: str) -> str:
    """`pattern` (a trace path of steper.layout, its run and split filled in) with its framework,
    dataset and model segments as the one `{traced}` wildcard of the import rule."""
    segments = "{framework}/{dataset}/{model}"
    if pattern.count(segments) != 1:
        raise ValueError(f"{pattern!r} does not hold {segments} once")
    return pattern.replace(segments, "{traced}")


def configured_imports(config: Mapping[str, Any]) -> list[TraceImport]:
    return [TraceImport(**entry) for entry in config["teacher"].get("imports") or []]


def import_problems(config: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say about `teacher.imports`: neither or both of path and url, a
    teacher that is no model of the config, and two imports of one (framework, dataset, teacher)."""
    problems = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, entry in enumerate(configured_imports(config)):
        if (entry.path is None) == (entry.url is None):
            given = "both" if entry.path is not None else "neither"
            problems.append(f"teacher.imports[{index}]: give exactly one of path and url (it gives {given})")
        if entry.teacher not in config["models"]:
            problems.append(f"teacher.imports[{index}].teacher: '{entry.teacher}' is not a key of models")
        if entry.traced in seen:
            problems.append(f"teacher.imports[{index}]: imports {traced_key(*entry.traced)} again (teacher.imports[{seen[entry.traced]}] does)")
        seen.setdefault(entry.traced, index)
    return problems


def imported(config: Mapping[str, Any], traced: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], TraceImport]:
    """The imports that replace a teacher run of this run, by the (framework, dataset, teacher) it traces."""
    wanted = set(traced)
    return {entry.traced: entry for entry in configured_imports(config) if entry.traced in wanted}


def unused_imports(config: Mapping[str, Any], traced: Iterable[tuple[str, str, str]]) -> list[str]:
    """Imports of combinations this run does not trace, one line each.

    Not an error: an overlay that narrows the grid (one cell, one dataset) keeps the imports of the
    config it overlays, and an import the run does not need costs nothing."""
    wanted = set(traced)
    return [
        f"teacher.imports[{index}]: {traced_key(*entry.traced)} is not traced by this run; not imported"
        for index, entry in enumerate(configured_imports(config))
        if entry.traced not in wanted
    ]


def import_source(entry: TraceImport, basedir: str | os.PathLike) -> str:
    """The `--input` of `steper teacher import`: the URL, or the path; a relative path missing from
    the working directory is read from the repository (`basedir`), where steper ships its fixtures."""
    if entry.path is None:
        return str(entry.url)
    shipped = os.path.join(basedir, entry.path)
    return shipped if not os.path.isabs(entry.path) and not os.path.exists(entry.path) and os.path.exists(shipped) else entry.path


def _is_url(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in URL_SCHEMES


def _copy(source: str, target: Path) -> str:
    """Copy `source` (a path, or a URL through steper's downloader: every announced byte, redirects
    only to the URL's own host) to `target`; return the sha256 of the bytes copied."""
    with open(target, "wb") as handle:
        if _is_url(source):
            return fetch_to(source, handle, label=Path(urllib.parse.urlsplit(source).path).name)
        check_file(source)
        digest = hashlib.sha256()
        with open(source, "rb") as stream:
            while chunk := stream.read(_COPY_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
        return digest.hexdigest()


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}...({len(text)} characters)"


def open_field(text: str) -> str | None:
    """The top-level key whose value a JSON object cut short ends in, or None when `text` is not
    cut short (whole, or malformed elsewhere)."""
    depth, in_string, escaped, start = 0, False, False, 0
    last_string: str | None = None
    key: str | None = None
    for position, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                last_string = text[start : position + 1]
            continue
        if char == '"':
            in_string, start = True, position
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == ":" and depth == 1 and last_string is not None:
            key = json.loads(last_string)
    if in_string or depth > 0:
        return key or "id"
    return None


def _scores_differ(recorded: Mapping[str, Any], actual: Mapping[str, float]) -> bool:
    return any(
        not isinstance(recorded.get(name), (int, float)) or not math.isclose(recorded[name], value, abs_tol=1e-9)
        for name, value in actual.items()
        if name in recorded or name in ("em", "f1", "acc")
    )


def check_traces(
    path: str | os.PathLike, records: list[dict[str, Any]], framework: str, model_name: str,
    shown: str, records_path: str | os.PathLike,
) -> int:
    """Check the trace file at `path` against `records` (see the module docstring); errors name
    `shown` (the import's own path or URL), the line and the field. Returns the number of lines."""
    from steper.frameworks.runner import line_check  # the run's modules load transformers: not at the workflow's parse

    check = line_check(framework, model_name)
    position = {record["id"]: index for index, record in enumerate(records)}
    seen: dict[str, int] = {}
    order: list[tuple[int, str]] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(tqdm(handle, desc="imported traces", unit="line", mininterval=5), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(shown, f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})", line=number) from None
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as error:
                cut = open_field(text.rstrip("\n"))
                if cut is not None:
                    raise InputError(shown, "is cut short: the line ends inside its value (a truncated file?)", line=number, field=cut) from None
                raise InputError(shown, f"malformed JSON ({error.msg}, column {error.colno})", line=number) from None
            if not isinstance(line, dict) or "id" not in line:
                raise InputError(shown, "is missing (every line is a JSON object naming its question)", line=number, field="id")
            qid = str(line["id"])
            if qid in seen:
                raise InputError(shown, f"question {qid} is also on line {seen[qid]}", line=number, field="id")
            if qid not in position:
                raise InputError(shown, f"question {qid} is not in the records {records_path}", line=number, field="id")
            seen[qid] = number
            order.append((number, qid))
            _check_line(line, records[position[qid]], check, shown, number)
    _check_coverage(order, records, shown, records_path)
    return len(order)


def _check_line(line: dict[str, Any], record: dict[str, Any], check, shown: str, number: int) -> None:
    """One line against its record: a whole trace line of this framework and teacher, the record's
    question and answers, the step count and scores that its steps and prediction give."""
    problem = check(line)
    if problem is not None:
        raise InputError(shown, problem[1], line=number, field=problem[0])
    for name in ("question", "answers"):
        if line[name] != record[name]:
            raise InputError(shown, f"is {_short(line[name])}, the record's is {_short(record[name])}", line=number, field=name)
    if line["n_steps"] != len(line["steps"]) or not all(isinstance(step, dict) for step in line["steps"]):
        raise InputError(shown, f"is {line['n_steps']}, but the line has {len(line['steps'])} steps (each a JSON object)", line=number, field="n_steps")
    actual = score(line["prediction"], line["answers"]).to_dict()
    if _scores_differ(line["correct"], actual):
        raise InputError(shown, f"is {_short(line['correct'])}, the prediction scores {_short(actual)} against the answers", line=number, field="correct")


def _check_coverage(order: list[tuple[int, str]], records: list[dict[str, Any]], shown: str, records_path: str | os.PathLike) -> None:
    """Every record has a line, and the lines follow the records' order (as merge writes them)."""
    present = {qid for _, qid in order}
    end = (order[-1][0] + 1) if order else 1
    for index, record in enumerate(records):
        if record["id"] in present:
            continue
        after = {r["id"] for r in records[index + 1 :]}
        later = [number for number, qid in order if qid in after]
        missing = sum(1 for r in records if r["id"] not in present)
        others = f" ({missing - 1} other records have none either)" if missing > 1 else ""
        where = f"; it belongs before line {later[0]}" if later else "; it belongs at the end"
        raise InputError(
            shown, f"has no line for question {record['id']} (record {index + 1} of {records_path}){others}{where}",
            line=later[0] if later else end, field="id",
        )
    for (number, qid), record in zip(order, records):
        if qid != record["id"]:
            raise InputError(
                shown, f"question {qid} comes where question {record['id']} belongs: the lines must follow the order of {records_path}",
                line=number, field="id",
            )


def import_traces(
    source: str, sha256: str, records_path: str | os.PathLike, framework: str, model_name: str, output_path: str | os.PathLike,
) -> dict[str, Any]:
    """Copy the trace file `source` (path or URL) to `output_path` once its sha256 and every line
    are checked, and write merge's summary beside it; return the summary. A refused import leaves
    whatever was at `output_path` as it was."""
    from steper.frameworks.runner import read_records, summarize, summary_path

    records = read_records(records_path, None)
    if not records:
        raise InputError(records_path, "holds no questions: there is nothing to import traces for")
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_writer(output):
        clean_stale_temporaries(output)
        with atomic_path(output) as tmp:
            log.info("importing %s -> %s", source, output)
            actual = _copy(source, tmp)
            if actual != sha256:
                raise ChecksumError(source, f"expected {sha256} (teacher.imports), got {actual}", field="sha256")
            lines = check_traces(tmp, records, framework, model_name, source, records_path)
            summary = summarize(tmp)
            summary.update({"framework": framework, "model": model_name})
        write_json(summary_path(output), summary)
    log.info(
        "%s: %d traces of %s by %s imported from %s (sha256 %s); accuracy %s",
        output, lines, framework, model_name, source, sha256, json.dumps(summary["accuracy"]),
    )
    return summary

