"""steper never deletes what it did not create: a directory is replaced only when
`atomic_dir` made it for that output and it holds nothing but steper's files; a command that writes
files into a shared directory replaces only files steper wrote there; no output overwrites an input."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from steper.cli import STAGES, build_parser, main
from steper.cli_paths import OTHER_OPTIONS, PATH_OPTIONS
from steper.io import OWNER_MARKER, InputError, atomic_dir, owned_files, read_ownership
from steper.layout import SETTINGS_FILE

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "retrieval" / "corpus.jsonl"
RECORDS = FIXTURES / "retrieval" / "records.jsonl"
MUSIQUE = FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl"
SPLIT_SETTINGS = json.dumps({"n_dev": 2, "n_test": 3})


def steper(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, "\n".join(line for line in err.splitlines() if line.startswith("error:"))


def split(capsys, output_dir: Path, train: Path = RECORDS) -> tuple[int, str]:
    return steper(capsys, "data", "split", "--train", train, "--dev", RECORDS, "--output-dir", output_dir, "--settings", SPLIT_SETTINGS)


def index(capsys, output: Path, corpus: Path = CORPUS) -> tuple[int, str]:
    return steper(capsys, "retrieval", "index", "--corpus", corpus, "--backend", "bm25s", "--output", output)


def test_a_directory_split_wrote_into_is_not_replaced_by_an_index(tmp_path, capsys):
    """The issue's reproduction: split writes its settings file into the user's directory, which
    made the index take the directory for its own and delete thesis.tex."""
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    (mywork / "thesis.tex").write_text("draft", encoding="utf-8")
    assert split(capsys, mywork)[0] == 0
    code, error = index(capsys, mywork)
    assert code == 2
    assert error.startswith(f"error: {mywork}: is a non-empty directory steper did not make")
    assert (mywork / "thesis.tex").read_text(encoding="utf-8") == "draft"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mywork"]  # no temporary left behind


def test_a_settings_file_proves_nothing(tmp_path, capsys):
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    (mywork / "thesis.tex").write_text("draft", encoding="utf-8")
    (mywork / SETTINGS_FILE).write_text(json.dumps({"settings": {}, "config_hash": "0", "git_revision": None}), encoding="utf-8")
    code, error = index(capsys, mywork)
    assert code == 2 and str(mywork) in error
    assert (mywork / "thesis.tex").exists()


def test_a_users_file_inside_a_steper_directory_stops_the_rebuild(tmp_path, capsys):
    output = tmp_path / "bm25s"
    assert index(capsys, output)[0] == 0
    (output / "notes.txt").write_text("mine", encoding="utf-8")
    code, error = index(capsys, output)
    assert code == 2
    assert error == (
        f"error: {output}: holds 1 file(s) steper did not write: notes.txt; refusing to replace it (move them out, then rerun)"
    )
    assert (output / "notes.txt").read_text(encoding="utf-8") == "mine"
    (output / "notes.txt").unlink()
    assert index(capsys, output)[0] == 0  # its own files only: rebuilt


def test_a_copied_steper_directory_is_not_owned(tmp_path, capsys):
    original = tmp_path / "bm25s"
    assert index(capsys, original)[0] == 0
    copy = tmp_path / "mywork"
    shutil.copytree(original, copy)
    code, error = index(capsys, copy)
    assert code == 2
    assert error == f"error: {copy}: was made by steper for {original}, not for this path; refusing to replace it"


def test_the_marker_names_the_output_and_every_file(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "data.txt").write_text("x", encoding="utf-8")
        (tmp / SETTINGS_FILE).write_text("{}", encoding="utf-8")
    ownership = read_ownership(target)
    assert ownership is not None
    assert (ownership.made_for, ownership.owns_directory) == (str(target), True)
    assert ownership.files == {"sub/data.txt", SETTINGS_FILE}


def test_a_damaged_marker_is_named(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "x").write_text("x", encoding="utf-8")
    (target / OWNER_MARKER).write_text("{", encoding="utf-8")
    with pytest.raises(InputError) as error, atomic_dir(target) as tmp:
        (tmp / SETTINGS_FILE).write_text("{}", encoding="utf-8")
    assert str(error.value).startswith(f"{target / OWNER_MARKER}: is not a marker steper wrote")


# --- files written into a shared directory ----------------------------------------------------

def test_split_refuses_to_replace_a_file_steper_did_not_write(tmp_path, capsys):
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    (mywork / "train.jsonl").write_text("my own training data\n", encoding="utf-8")
    code, error = split(capsys, mywork)
    assert code == 2
    assert error.startswith(f"error: {mywork / 'train.jsonl'}: exists and steper did not write it")
    assert (mywork / "train.jsonl").read_text(encoding="utf-8") == "my own training data\n"
    assert sorted(p.name for p in mywork.iterdir()) == ["train.jsonl"]


def test_split_reruns_over_its_own_files_and_leaves_the_others(tmp_path, capsys):
    records = tmp_path / "data"
    records.mkdir()
    full = records / "full_train.jsonl"
    shutil.copy(RECORDS, full)
    assert split(capsys, records, train=full)[0] == 0
    assert split(capsys, records, train=full)[0] == 0
    ownership = read_ownership(records)
    assert ownership is not None and not ownership.owns_directory  # it held full_train.jsonl before
    assert ownership.files == {"train.jsonl", "dev.jsonl", "test.jsonl", SETTINGS_FILE}
    assert full.read_bytes() == RECORDS.read_bytes()
    code, error = index(capsys, records)  # written into, not made: never replaced
    assert code == 2 and "steper did not make" in error


def test_split_into_a_new_directory_makes_it_steper_s(tmp_path, capsys):
    output = tmp_path / "splits"
    assert split(capsys, output)[0] == 0
    ownership = read_ownership(output)
    assert ownership is not None and ownership.owns_directory


def test_split_does_not_overwrite_its_input(tmp_path, capsys):
    output = tmp_path / "splits"
    output.mkdir()
    train = output / "train.jsonl"
    shutil.copy(RECORDS, train)
    code, error = split(capsys, output, train=train)
    assert code == 2 and error.startswith(f"error: {train}: is also an input of this command")
    assert train.read_bytes() == RECORDS.read_bytes()


def test_files_already_written_are_recorded_when_the_command_fails(tmp_path):
    with pytest.raises(RuntimeError), owned_files(tmp_path / "out", ["a.txt", "b.txt"]) as files:
        files.path("a.txt").parent.mkdir()
        files.path("a.txt").write_text("a", encoding="utf-8")
        raise RuntimeError("killed before b.txt")
    assert read_ownership(tmp_path / "out").files == {"a.txt"}


def test_an_old_settings_record_may_be_replaced_but_not_a_users_file_of_that_name(tmp_path):
    """Directories written before markers existed hold steper's settings files without a marker."""
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"settings": {}, "config_hash": "0", "git_revision": None}), encoding="utf-8")
    with owned_files(tmp_path, [SETTINGS_FILE]):
        pass
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / SETTINGS_FILE).write_text("my notes", encoding="utf-8")
    with pytest.raises(InputError), owned_files(tmp_path / "other", [SETTINGS_FILE]):
        pass


# --- no output overwrites an input ------------------------------------------------------------

def test_prepare_output_equal_to_input_is_refused(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    shutil.copy(MUSIQUE, records)
    code, error = steper(capsys, "data", "prepare", "--format", "musique", "--dataset", "musique", "--input", records, "--output", records)
    assert code == 2
    assert error.startswith(f"error: {records}: is given as both --input and --output")
    assert records.read_bytes() == MUSIQUE.read_bytes()


def test_corpus_output_equal_to_a_records_file_through_a_symlink_is_refused(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    shutil.copy(RECORDS, records)
    alias = tmp_path / "alias.jsonl"
    alias.symlink_to(records)
    code, error = steper(capsys, "data", "corpus", "--dataset", "x", "--records", RECORDS, records, "--output", alias)
    assert code == 2 and "is given as both --output and --records" in error
    assert records.read_bytes() == RECORDS.read_bytes()


def test_teacher_merge_output_equal_to_a_shard_is_refused(tmp_path, capsys):
    shard = tmp_path / "0-of-1.jsonl"
    shard.write_text("", encoding="utf-8")
    code, error = steper(capsys, "teacher", "merge", "--inputs", shard, "--records", RECORDS, "--output", shard)
    assert code == 2 and "is given as both --inputs and --output" in error


def test_an_output_directory_holding_an_input_is_refused(tmp_path, capsys):
    output = tmp_path / "bm25s"
    assert index(capsys, output)[0] == 0
    corpus = output / "my_corpus.jsonl"
    shutil.copy(CORPUS, corpus)
    code, error = index(capsys, output, corpus=corpus)
    assert code == 2
    assert error.startswith(f"error: {output}: holds --corpus {corpus}, and an output directory is replaced as a whole")
    assert corpus.read_bytes() == CORPUS.read_bytes()


def test_every_option_of_every_command_is_classified():
    """An option added later must say whether it names a file, or the input/output check misses it."""
    unclassified = set()
    for stage in STAGES:
        parser = build_parser(stage)
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[stage]
        for command in next(a for a in commands._actions if isinstance(a, argparse._SubParsersAction)).choices.values():
            unclassified |= {a.dest for a in command._actions if a.dest != "help"} - PATH_OPTIONS - OTHER_OPTIONS
    assert not unclassified
    assert not PATH_OPTIONS & OTHER_OPTIONS


def test_paper_render_refuses_to_replace_a_users_report(tmp_path, monkeypatch, capsys):
    from test_paper_render import MANIFEST, ROOT, SETTINGS

    monkeypatch.chdir(ROOT)
    output = tmp_path / "paper"
    output.mkdir()
    (output / "REPORT.md").write_text("my own report", encoding="utf-8")
    code, error = steper(capsys, "paper", "render", "--manifest", MANIFEST, "--output-dir", output, "--settings", json.dumps(SETTINGS))
    assert code == 2 and error.startswith(f"error: {output / 'REPORT.md'}: exists and steper did not write it")
    assert sorted(p.name for p in output.iterdir()) == ["REPORT.md"]
    assert (output / "REPORT.md").read_text(encoding="utf-8") == "my own report"
