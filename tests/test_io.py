"""steper.io's readers and writers on hand-written files: the exact error each bad input gives
(file, line, column, what was expected) and the bytes each writer leaves on disk."""

from __future__ import annotations

import contextlib
import json
import locale
import logging
import shutil
from pathlib import Path

import pytest

from steper.io import (
    OWNER_MARKER,
    InputError,
    OwnedFiles,
    _listing,
    append_jsonl,
    atomic_dir,
    check_replaceable,
    owned_files,
    read_json,
    read_jsonl,
    read_ownership,
    same_path,
    setup_logging,
    write_json,
    write_jsonl,
)
from steper.layout import SETTINGS_FILE


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
    write_json(document, {"n": [1], "city": "Łódź"})  # the keys stay in their order
    assert document.read_bytes() == '{\n  "n": [\n    1\n  ],\n  "city": "Łódź"\n}\n'.encode()


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


@pytest.fixture
def ascii_locale():
    """A process whose locale encoding is ASCII: a reader or writer that relies on the locale fails on 'Łódź'."""
    previous = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


def owned_dir(path: Path, *names: str) -> None:
    """An output directory as `atomic_dir` leaves it, holding `names` besides the settings file."""
    with atomic_dir(path) as tmp:
        (tmp / SETTINGS_FILE).write_text("{}")
        for name in names:
            (tmp / name).write_text(name, encoding="utf-8")


def refusal(call, *args) -> str:
    with pytest.raises(InputError) as error:
        call(*args)
    return str(error.value)


def test_writers_and_markers_are_utf8_whatever_the_locale(tmp_path, ascii_locale):
    write_jsonl(tmp_path / "out.jsonl", [{"city": "Łódź"}])
    assert (tmp_path / "out.jsonl").read_bytes() == '{"city": "Łódź"}\n'.encode()
    write_json(tmp_path / "out.json", {"city": "Łódź"})
    assert (tmp_path / "out.json").read_bytes() == '{\n  "city": "Łódź"\n}\n'.encode()
    owned_dir(tmp_path / "index", "Łódź.txt")
    assert read_ownership(tmp_path / "index").files == {SETTINGS_FILE, "Łódź.txt"}
    settings = tmp_path / "shared" / SETTINGS_FILE
    settings.parent.mkdir()
    settings.write_text(json.dumps({"settings": {"city": "Łódź"}, "config_hash": "h", "git_revision": "r"}, ensure_ascii=False), encoding="utf-8")
    assert OwnedFiles(settings.parent).path(SETTINGS_FILE) == settings  # a settings record with non-ASCII text is still one


def test_the_marker_lists_every_file_as_written_utf8_with_indent_one(tmp_path):
    owned_dir(tmp_path / "out", "Łódź.txt")
    marker = (tmp_path / "out" / OWNER_MARKER).read_bytes().decode("utf-8")
    assert marker == json.dumps(
        {"made_for": (tmp_path / "out").as_posix(), "owns_directory": True, "files": sorted([SETTINGS_FILE, "Łódź.txt"])},
        ensure_ascii=False, indent=1,
    ) + "\n"


def test_a_symbolic_link_to_a_directory_is_listed_as_one_file(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / SETTINGS_FILE).write_text("{}")
        (tmp / "link").symlink_to(target, target_is_directory=True)
    assert read_ownership(tmp_path / "out").files == {SETTINGS_FILE, "link"}


def test_a_relative_marker_names_its_directory_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    owned_dir(Path("runs") / "out")
    assert read_ownership(Path("runs") / "out").made_for == "runs/out"
    check_replaceable(Path("runs") / "out")  # its own directory may be replaced
    shutil.copytree(Path("runs") / "out", Path("copy"))
    assert refusal(check_replaceable, Path("copy")) == "copy: was made by steper for runs/out, not for this path; refusing to replace it"


def test_json_lines_errors_name_the_line_and_what_was_expected(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": "q1"}\n[1, 2]\n')  # a list after an object: not the whole-document hint
    assert refusal(lambda: list(read_jsonl(path))) == f"{path}, line 2: expected a JSON object"
    path.write_text('{"id": "q1"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(InputError) as error:
        list(read_jsonl(path))
    assert (error.value.path, error.value.line, str(error.value)) == (str(path), 2, f"{path}, line 2: is nested too deeply to read")
    path.write_text('{"id": "q1"}\n{"question": "?"}\n')
    assert refusal(lambda: list(read_jsonl(path, required=["id"]))) == f"{path}, line 2: field 'id' is missing"


def test_a_listing_of_four_names_counts_one_more():
    assert _listing(["a", "b", "c", "d"]) == "a, b, c and 1 more"


def test_replacing_refuses_a_file_and_a_foreign_directory_with_their_messages(tmp_path):
    (tmp_path / "file").write_text("x")
    assert refusal(check_replaceable, tmp_path / "file") == f"{tmp_path / 'file'}: exists and is not a directory steper made; refusing to replace it"
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("x")
    assert refusal(check_replaceable, tmp_path / "foreign") == (
        f"{tmp_path / 'foreign'}: is a non-empty directory steper did not make (no {OWNER_MARKER} of its own); "
        "refusing to replace it (move it away or choose another output)"
    )


def test_owned_files_refuse_what_is_not_a_directory_or_not_steper_s(tmp_path):
    (tmp_path / "file").write_text("x")
    assert refusal(OwnedFiles, tmp_path / "file") == f"{tmp_path / 'file'}: exists and is not a directory; refusing to write into it"
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir", target_is_directory=True)
    assert refusal(OwnedFiles, tmp_path / "link") == f"{tmp_path / 'link'}: exists and is not a directory; refusing to write into it"
    (tmp_path / "dir" / "table.tex").mkdir()
    files = OwnedFiles(tmp_path / "dir")
    assert refusal(files.path, "table.tex") == f"{tmp_path / 'dir' / 'table.tex'}: is a directory where steper writes a file; refusing to replace it"
    (tmp_path / "dir" / "notes.txt").write_text("x")
    assert refusal(files.path, "notes.txt") == (
        f"{tmp_path / 'dir' / 'notes.txt'}: exists and steper did not write it (not listed in {tmp_path / 'dir' / OWNER_MARKER}); "
        "refusing to replace it (move it away or choose another output directory)"
    )
    # a JSON file named like the settings but without their fields is not a settings record
    (tmp_path / "dir" / SETTINGS_FILE).write_text('{"settings": {}}')
    assert refusal(files.path, SETTINGS_FILE).startswith(f"{tmp_path / 'dir' / SETTINGS_FILE}: exists and steper did not write it")


def test_two_commands_writing_into_one_directory_keep_both_lists_and_remove_only_their_own(tmp_path):
    directory = tmp_path / "paper"
    directory.mkdir()
    with owned_files(directory, ["table1.tex"]) as files:
        files.path("table1.tex").write_text("1")
    with owned_files(directory, ["table2.tex"]) as files:
        files.path("table2.tex").write_text("2")
    assert read_ownership(directory).files == {"table1.tex", "table2.tex"}
    (directory / "notes.txt").write_text("mine")
    with owned_files(directory) as files:
        files.remove("table1.tex")
        files.remove("notes.txt")  # not steper's: left alone
    assert sorted(path.name for path in directory.iterdir()) == [OWNER_MARKER, "notes.txt", "table2.tex"]
    assert read_ownership(directory).files == {"table2.tex"}
    with owned_files(directory) as files:
        files.remove("table1.tex")  # listed no more: nothing to do, no error
    (directory / "table2.tex").unlink()
    with owned_files(directory) as files:
        files.remove("table2.tex")  # listed but already gone: no error, listed no more
    assert read_ownership(directory).files == set()
    # a marker copied from elsewhere lists nothing of this directory
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    with owned_files(copy, ["table3.tex"]) as files:
        files.path("table3.tex").write_text("3")
    assert read_ownership(copy).files == {"table3.tex"}
