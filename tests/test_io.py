"""steper.io's readers and writers on hand-written files: the exact error each bad input gives
(file, line, column, what was expected) and the bytes each writer leaves on disk."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import pytest

from steper.io import InputError, _listing, append_jsonl, read_json, read_jsonl, same_path, setup_logging, write_json, write_jsonl


def test_a_bad_byte_is_named_by_its_line_and_column(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(InputError) as error:
        list(read_jsonl(path))
    assert str(error.value) == f"{path}, line 2: is not UTF-8 text (byte 0xff at column 8)"


def test_a_json_document_nested_too_deeply_names_the_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError) as error:
        read_json(path)
    assert (error.value.path, str(error.value)) == (str(path), f"{path}: is nested too deeply to read")


def test_malformed_json_names_the_line_and_column_of_the_document(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{\n"a": }\n')
    with pytest.raises(InputError) as error:
        read_json(path)
    assert (error.value.line, str(error.value)) == (2, f"{path}, line 2: malformed JSON (Expecting value, column 6)")


def test_a_listing_shows_three_names_and_counts_the_rest():
    assert _listing(["a", "b", "c"]) == "a, b, c"
    assert _listing(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert _listing(["a"]) == "a"


def test_two_spellings_of_one_path_are_the_same_even_before_it_exists(tmp_path):
    assert same_path(tmp_path / "x" / ".." / "out.jsonl", tmp_path / "out.jsonl")
    assert not same_path(tmp_path / "a.jsonl", tmp_path / "b.jsonl")


def test_writers_count_records_and_keep_non_ascii_text_as_utf8(tmp_path):
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, [{"city": "Łódź"}, {}, {"n": 1}]) == 3
    assert path.read_bytes() == '{"city": "Łódź"}\n{}\n{"n": 1}\n'.encode()
    assert write_jsonl(path, []) == 0 and path.read_bytes() == b""
    document = tmp_path / "out.json"
    write_json(document, {"city": "Łódź", "n": [1]})
    assert document.read_bytes() == '{\n  "city": "Łódź",\n  "n": [\n    1\n  ]\n}\n'.encode()


def test_append_keeps_non_ascii_text_and_a_full_disk_names_the_file(tmp_path):
    path = tmp_path / "trace.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        append_jsonl(handle, {"city": "Łódź"})
    assert path.read_bytes() == '{"city": "Łódź"}\n'.encode()
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    full = open("/dev/full", "w", encoding="utf-8")
    try:
        with pytest.raises(InputError) as error:
            append_jsonl(full, {"a": 1})
    finally:
        with contextlib.suppress(OSError):  # the unwritten line is still buffered: closing fails too
            full.close()
    assert str(error.value) == "/dev/full: could not be written: no space left on device; nothing was replaced"


def test_setup_logging_sets_the_level_and_the_line_format():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        setup_logging(logging.DEBUG)
        assert root.level == logging.DEBUG
        formatter = root.handlers[0].formatter
        assert (formatter._fmt, formatter.datefmt) == ("%(asctime)s %(name)s %(levelname)s %(message)s", "%H:%M:%S")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_json_lines_records_read_back_as_written(tmp_path):
    path = tmp_path / "out.jsonl"
    records = [{"id": "q1", "answers": ["Łódź"]}, {"id": "q2", "answers": []}]
    write_jsonl(path, records)
    assert list(read_jsonl(path, required=["id"])) == records
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0]) == records[0]
