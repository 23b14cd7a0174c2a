"""The resume contract of `steper teacher run` / `evaluate run` and `teacher merge`, probed with bad files."""

from __future__ import annotations

import json

import pytest

from steper.cli import main
from steper.frameworks.runner import FrameworkSettings, merge, run_framework
from steper.io import InputError
from steper.models.generation import Generation, GenerationSettings

QUESTIONS = [("q1", "Who is A?", "B"), ("q2", "Who is C?", "D"), ("q3", "Who is E?", "F")]


class Answers:
    """Answers every question with its gold answer, so accuracy shows what the output holds."""

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        self.calls += len(prompts)
        gold = {q: a for _, q, a in QUESTIONS}
        return [Generation(f" {gold[p.context.splitlines()[-2]]}.", 1, 1) for p in prompts]


def records(tmp_path, questions=QUESTIONS):
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"id": i, "question": q, "answers": [a]}) + "\n" for i, q, a in questions))
    return path


def run(tmp_path, output, backend=None, max_new_tokens=8, model_dir="unused", shard=None):
    return run_framework(
        "direct", tmp_path / "records.jsonl", output, model_dir, "m", None,
        FrameworkSettings(shots=0, max_new_tokens=max_new_tokens), GenerationSettings(), shard=shard, backend=backend,
    )


def finished(tmp_path):
    records(tmp_path)
    run(tmp_path, tmp_path / "full.jsonl", Answers())
    return (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)


def partial_from(tmp_path, lines):
    """A killed run's partial file made of `lines`, with the resume record of the same settings."""
    (tmp_path / "out.jsonl.partial").write_text("".join(lines))
    (tmp_path / "out.jsonl.resume.json").write_text((tmp_path / "full.jsonl.resume.json").read_text())


def test_a_clean_resume_runs_only_the_missing_question(tmp_path):
    lines = finished(tmp_path)
    partial_from(tmp_path, lines[:2])
    backend = Answers()
    summary = run(tmp_path, tmp_path / "out.jsonl", backend)
    assert backend.calls == 1 and summary["n"] == 3 and summary["accuracy"]["acc"] == 100.0


def test_a_duplicated_id_is_refused(tmp_path):
    lines = finished(tmp_path)
    partial_from(tmp_path, [lines[0], lines[1], lines[1]])
    with pytest.raises(InputError) as error:
        run(tmp_path, tmp_path / "out.jsonl", Answers())
    assert error.value.line == 3 and error.value.field == "id" and "twice" in str(error.value)
    assert not (tmp_path / "out.jsonl").exists()


def test_an_id_not_in_the_records_is_refused(tmp_path):
    lines = finished(tmp_path)
    stranger = json.loads(lines[0]) | {"id": "q9"}
    partial_from(tmp_path, [lines[0], json.dumps(stranger) + "\n"])
    with pytest.raises(InputError) as error:
        run(tmp_path, tmp_path / "out.jsonl", Answers())
    assert error.value.line == 2 and "q9" in str(error.value)


def test_lines_written_under_other_settings_are_discarded_and_lines_of_no_known_run_refused(tmp_path, caplog):
    lines = finished(tmp_path)
    partial_from(tmp_path, lines[:1])
    backend = Answers()
    run(tmp_path, tmp_path / "out.jsonl", backend, max_new_tokens=9)  # never merged with the other settings' line
    assert backend.calls == 3 and "settings (settings.max_new_tokens)" in caplog.text
    partial_from(tmp_path, lines[:1])
    (tmp_path / "out.jsonl.resume.json").unlink()  # a partial nobody can vouch for
    with pytest.raises(InputError, match="resume.json"):
        run(tmp_path, tmp_path / "out.jsonl", Answers())


def test_a_line_of_another_framework_is_refused(tmp_path):
    lines = finished(tmp_path)
    partial_from(tmp_path, [json.dumps(json.loads(lines[0]) | {"framework": "cot"}) + "\n"])
    with pytest.raises(InputError) as error:
        run(tmp_path, tmp_path / "out.jsonl", Answers())
    assert error.value.field == "framework"


def test_a_failed_model_load_leaves_the_finished_output_as_it_was(tmp_path):
    finished(tmp_path)
    output = tmp_path / "full.jsonl"
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("full.jsonl")}
    records(tmp_path, QUESTIONS + [("q4", "Who is G?", "H")])  # one more question: the model must load
    with pytest.raises(InputError, match="not a model directory"):
        run(tmp_path, output, backend=None, model_dir=tmp_path / "no-such-model")
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("full.jsonl")}
    assert after == before  # output, summary and resume record untouched, no partial left


def test_temporaries_of_a_killed_write_are_removed_and_others_kept(tmp_path):
    records(tmp_path)
    stale = [tmp_path / ".out.jsonl.a1b2c3d4.tmp", tmp_path / ".out.jsonl.partial.x_y-z123.tmp", tmp_path / ".out.jsonl.summary.json.abcdefgh.tmp"]
    kept = [tmp_path / ".other.jsonl.a1b2c3d4.tmp", tmp_path / ".out.jsonl.a1b2.tmp"]
    for path in stale + kept:
        path.write_text("x" * 100)
    run(tmp_path, tmp_path / "out.jsonl", Answers())
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)


def test_merge_refuses_a_question_in_two_shards(tmp_path):
    records(tmp_path)
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    for i, path in enumerate(shards):
        run(tmp_path, path, Answers(), shard=(i, 2))
    extra = shards[1].read_text() + shards[0].read_text().splitlines(keepends=True)[0]
    shards[1].write_text(extra)
    with pytest.raises(InputError) as error:
        merge(shards, tmp_path / "records.jsonl", tmp_path / "merged.jsonl")
    assert "q1" in str(error.value) and str(shards[0]) in str(error.value) and error.value.line == 2
    assert not (tmp_path / "merged.jsonl").exists()


def test_merge_refuses_shards_of_other_settings_and_stray_ids(tmp_path):
    records(tmp_path)
    shards = [tmp_path / f"s{i}.jsonl" for i in range(2)]
    run(tmp_path, shards[0], Answers(), shard=(0, 2))
    run(tmp_path, shards[1], Answers(), shard=(1, 2), max_new_tokens=9)
    with pytest.raises(InputError, match="different settings"):
        merge(shards, tmp_path / "records.jsonl", tmp_path / "merged.jsonl")
    stray = json.loads(shards[0].read_text().splitlines()[0]) | {"id": "q9"}
    shards[0].write_text(shards[0].read_text() + json.dumps(stray) + "\n")  # q9 is in a shard but not in the records
    with pytest.raises(InputError, match="q9"):
        merge(shards[:1], tmp_path / "records.jsonl", tmp_path / "merged.jsonl")


def test_merge_of_no_records_needs_a_flag(tmp_path, capsys):
    empty = tmp_path / "records.jsonl"
    empty.write_text("")
    shard = tmp_path / "s0.jsonl"
    run(tmp_path, shard, Answers())
    args = ["teacher", "merge", "--inputs", str(shard), "--records", str(empty), "--output", str(tmp_path / "merged.jsonl")]
    assert main(args) == 2 and "no questions" in capsys.readouterr().err
    assert not (tmp_path / "merged.jsonl").exists()
    assert main([*args, "--allow-empty"]) == 0 and (tmp_path / "merged.jsonl").read_text() == ""


def test_what_changed_names_each_kind_of_input_with_its_keys():
    from steper.frameworks.resume import what_changed

    assert what_changed(None, {"model": "a"}) == "unknown (no identity recorded)"
    assert what_changed({"model": "a"}, {"model": "a"}) == "unknown"
    before = {"model": "a", "records": "r1", "settings": {"k": 1, "same": 0}, "max_new_tokens": 16, "index_files": {"i": 1}}
    after = {"model": "b", "records": "r2", "settings": {"k": 2, "same": 0}, "max_new_tokens": 32, "index_files": {"i": 2}}
    assert what_changed(before, after) == "index (i); settings (max_new_tokens, settings.k); model; records"
    files = what_changed({"model_files": {"w.bin": "h1", "c.json": "x"}}, {"model_files": {"w.bin": "h2", "c.json": "x", "new": "y"}})
    assert files == "model (new, w.bin)"
    assert what_changed({"demonstrations": "d1"}, {"demonstrations": "d2", "extra": 1}) == "demonstrations; settings (extra)"
    assert what_changed({"settings": {"k": 1}}, {"settings": None}) == "settings"  # a mapping that became a value


def test_finished_ids_refuse_each_bad_line_with_its_message_and_cut_a_torn_one(tmp_path):
    from steper.frameworks.resume import finished_ids

    path = tmp_path / "traces.jsonl"
    ok = lambda line: None  # noqa: E731

    def refusal(text: bytes, check=ok) -> str:
        path.write_bytes(b'{"id": "q1"}\n' + text)
        with pytest.raises(InputError) as error:
            finished_ids(path, {"q1", "q2"}, check)
        return str(error.value)

    end = "remove the file to start over"
    assert refusal(b"{nope\n") == f"{path}, line 2: malformed JSON in an earlier output; {end}"
    assert refusal(b'{"id": "\xff"}\n') == f"{path}, line 2: malformed JSON in an earlier output; {end}"
    assert refusal(b'["q2"]\n') == f"{path}, line 2: field 'id' is missing in an earlier output"
    assert refusal(b'{"qid": "q2"}\n') == f"{path}, line 2: field 'id' is missing in an earlier output"
    assert refusal(b'{"id": "q1"}\n') == f"{path}, line 2: field 'id' question q1 is written twice; {end}"
    assert refusal(b'{"id": "q3"}\n') == f"{path}, line 2: field 'id' question q3 is not in the records; {end}"
    wrong = lambda line: ("framework", "is 'selfask', expected 'ircot'")  # noqa: E731
    assert refusal(b"", wrong) == f"{path}, line 1: field 'framework' is 'selfask', expected 'ircot' in an earlier output; {end}"
    path.write_bytes(b'{"id": "q1"}\n{"id": "q2"}\n{"id": "q')
    assert finished_ids(path, {"q1", "q2"}, ok) == {"q1", "q2"}
    assert path.read_bytes() == b'{"id": "q1"}\n{"id": "q2"}\n'  # the torn line is cut off
    assert finished_ids(path, {"q1", "q2"}, ok) == {"q1", "q2"} and path.read_bytes() == b'{"id": "q1"}\n{"id": "q2"}\n'


def test_the_records_digest_is_the_sha256_of_the_sorted_json_lines():
    """Pinned by hand: an earlier output records this digest, and a resume must still match it."""
    import hashlib

    from steper.frameworks.resume import records_digest

    records = [{"id": "q1", "question": "Łódź?", "answers": ["x"]}, {"b": 1, "a": 2}]
    blob = '{"answers": ["x"], "id": "q1", "question": "Łódź?"}\n{"a": 2, "b": 1}'
    assert records_digest(records) == hashlib.sha256(blob.encode()).hexdigest()
    assert records_digest(records) == "5000776894f267444b248a72cf06227d2f3c95d251836a57725f671c2c9155df"
    assert records_digest([{"a": 2, "b": 1}]) == records_digest([{"b": 1, "a": 2}]) != records_digest([{"a": 3, "b": 1}])


# `plan_resume` and `Resume` on hand-made files: a record per line is all `finished_ids` needs.
OLD, NEW = {"model": "m", "settings": {"k": 1}}, {"model": "m", "settings": {"k": 2}}
IDS = {"q1", "q2", "q3"}
END = "(remove it to start over)"


def trace_lines(*ids: str) -> str:
    return "".join(json.dumps({"id": qid}) + "\n" for qid in ids)


def plan(tmp_path, identity=NEW, ids=IDS):
    from steper.frameworks.resume import plan_resume

    return plan_resume(tmp_path / "out.jsonl", identity, ids, lambda line: None)


def record(identity):
    from steper.frameworks.resume import identity_record

    return identity_record(identity)


def saved(tmp_path, content) -> None:
    (tmp_path / "out.jsonl.resume.json").write_text(json.dumps(content))


def test_an_older_resume_record_with_one_hash_vouches_for_the_partial_and_the_output_alike(tmp_path, caplog):
    from steper.frameworks.resume import output_identity

    out, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"
    out.write_text(trace_lines("q1"))
    partial.write_text(trace_lines("q1", "q2"))
    saved(tmp_path, record(NEW))  # the older format: {"hash", "identity"} at the top
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done, resume.finished) == (True, True, {"q1", "q2"}, record(NEW))
    assert output_identity(out) == record(NEW) and caplog.text == ""
    saved(tmp_path, record(OLD))  # an older record of other settings: both files are another run's
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done, resume.finished) == (False, False, set(), record(OLD))
    changed = "was written by another run, changed: settings (settings.k)"
    assert caplog.records[-1].getMessage() == (
        f"{partial} (2 lines, discarded, never merged) {changed}; {out} (kept until this run replaces it) {changed}; starting over from zero"
    )


def test_a_resume_record_names_the_run_of_the_partial_and_that_of_the_output_apart(tmp_path, caplog):
    from steper.frameworks.resume import output_identity

    out, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"
    out.write_text(trace_lines("q1"))
    partial.write_text(trace_lines("q2"))
    saved(tmp_path, {"run": record(OLD), "output": record(NEW)})
    assert output_identity(out) == record(NEW)  # while a partial exists, `output` is the output's run
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done, resume.finished) == (False, True, {"q1"}, record(NEW))
    assert caplog.records[-1].getMessage() == (
        f"{partial} (1 lines, discarded, never merged) was written by another run, changed: settings (settings.k); "
        "starting over from the 1 finished questions of out.jsonl"
    )
    partial.unlink()
    saved(tmp_path, {"run": record(NEW), "output": record(OLD)})
    assert output_identity(out) == record(NEW)  # with no partial, `run` is the output's run
    resume = plan(tmp_path)
    assert (resume.keep_output, resume.complete, resume.done, resume.finished) == (True, True, {"q1"}, record(NEW))


def test_a_resume_record_without_a_hash_vouches_for_nothing(tmp_path, caplog):
    partial = tmp_path / "out.jsonl.partial"
    partial.write_text(trace_lines("q1"))
    saved(tmp_path, {"run": {"identity": NEW}, "output": None})
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done, resume.finished) == (False, False, set(), None)
    assert caplog.records[-1].getMessage() == (
        f"{partial} (1 lines, discarded, never merged) was written by another run, changed: unknown (no identity recorded); starting over from zero"
    )


def test_a_fresh_run_plans_from_zero_without_a_word(tmp_path, caplog):
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done, resume.finished) == (False, False, set(), None)
    assert caplog.text == ""


def test_a_resume_record_that_is_no_object_is_refused_with_its_path(tmp_path):
    saved(tmp_path, [record(NEW)])
    with pytest.raises(InputError) as error:
        plan(tmp_path)
    assert str(error.value) == f"{tmp_path / 'out.jsonl.resume.json'}: is not a resume record (a JSON object)"


def test_a_trace_file_that_no_run_vouches_for_is_refused_with_its_path(tmp_path):
    (tmp_path / "out.jsonl").write_text(trace_lines("q1"))
    with pytest.raises(InputError) as error:
        plan(tmp_path)
    assert str(error.value) == f"{tmp_path / 'out.jsonl'}: has no out.jsonl.resume.json saying which run wrote it; remove it to start over"


def test_a_link_or_special_file_where_a_trace_file_belongs_is_refused(tmp_path):
    import os

    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text(trace_lines("q1"))
    out, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"

    def refusal() -> str:
        with pytest.raises(InputError) as error:
            plan(tmp_path)
        return str(error.value)

    out.symlink_to(elsewhere)
    assert refusal() == f"{out}: is a symbolic link; refusing to follow it {END}"
    out.unlink()
    partial.symlink_to(elsewhere)
    assert refusal() == f"{partial}: is a symbolic link; refusing to follow it {END}"
    partial.unlink()
    os.mkfifo(partial)
    assert refusal() == f"{partial}: is not a regular file; refusing to open it {END}"
    partial.unlink()
    out.mkdir()
    assert refusal() == f"{out}: is not a regular file; refusing to open it {END}"
    assert elsewhere.read_text() == trace_lines("q1")


def test_an_earlier_output_is_never_read_through_a_symbolic_link(tmp_path):
    from steper.frameworks.resume import finished_ids

    elsewhere, link = tmp_path / "elsewhere.jsonl", tmp_path / "link.jsonl"
    elsewhere.write_text(trace_lines("q1") + '{"id": "q')  # a torn line it would cut
    link.symlink_to(elsewhere)
    with pytest.raises(InputError) as error:
        finished_ids(link, IDS, lambda line: None)
    assert str(error.value) == f"{link}: is a symbolic link; refusing to follow it {END}"
    assert elsewhere.read_text() == trace_lines("q1") + '{"id": "q'


def test_a_partial_continues_the_output_only_if_it_holds_every_question_the_output_has(tmp_path, caplog):
    out, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"
    out.write_text(trace_lines("q1", "q2"))
    saved(tmp_path, {"run": record(NEW), "output": record(NEW)})
    partial.write_text(trace_lines("q1"))  # stale: an extension killed before it copied the output
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done) == (False, True, {"q1", "q2"})
    assert "out.jsonl.partial is stale: it lacks 1 of the questions the finished out.jsonl has" in caplog.text
    partial.write_text(trace_lines("q2", "q1"))  # the output's questions, no more
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done) == (True, True, {"q1", "q2"})
    partial.write_text(trace_lines("q1", "q2", "q3"))
    resume = plan(tmp_path)
    assert (resume.keep_partial, resume.keep_output, resume.done) == (True, True, IDS)


def test_every_step_of_a_run_leaves_a_true_resume_record(tmp_path, monkeypatch):
    """Each record written, in order: the discarded partial disowned, the output alone, this run's
    partial, and after the rename this run's output."""
    from steper.frameworks import resume as module

    written = []

    def recording(path, content):
        written.append((str(path), json.loads(json.dumps(content))))
        module_write_json(path, content)

    module_write_json = module.write_json
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(module, "write_json", recording)
    out, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"
    out.write_text(trace_lines("q1"))
    partial.write_text(trace_lines("q2"))
    before = {"model": "m", "settings": {"k": 0}}
    saved(tmp_path, {"run": record(OLD), "output": record(before)})
    resume = plan(tmp_path)
    assert resume.start() == partial and partial.read_text() == ""
    partial.write_text(trace_lines("q3"))
    resume.finish()
    path = str(tmp_path / "out.jsonl.resume.json")
    old, new = record(before), record(NEW)
    assert written == [
        (path, {"run": None, "output": old}),
        (path, {"run": old, "output": old}),
        (path, {"run": new, "output": old}),
        (path, {"run": new, "output": new}),
    ]
    assert out.read_text() == trace_lines("q3") and not partial.exists()


def test_trace_files_a_run_makes_are_readable_by_all_and_executable_by_none(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        out = tmp_path / "out.jsonl"
        resume = plan(tmp_path)
        partial = resume.start()  # a new partial
        assert stat.S_IMODE(partial.stat().st_mode) == 0o644
        partial.write_text(trace_lines("q1"))
        resume.finish()
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        os.chmod(out, 0o600)
        resume = plan(tmp_path, ids=IDS | {"q4"})
        assert resume.keep_output and resume.start() == partial  # the output's copy, to extend
        assert stat.S_IMODE(partial.stat().st_mode) == 0o644 and partial.read_text() == trace_lines("q1")
    finally:
        os.umask(umask)


def test_a_copy_of_the_output_that_fails_leaves_a_temporary_the_next_run_removes(tmp_path):
    from steper.frameworks.resume import clean_stale_temporaries

    out = tmp_path / "out.jsonl"
    saved(tmp_path, {"run": record(NEW), "output": record(NEW)})
    out.write_text(trace_lines("q1"))
    resume = plan(tmp_path)
    out.unlink()
    out.mkdir()  # the output can no longer be read: the copy fails after its temporary was made
    with pytest.raises(IsADirectoryError):
        resume.start()
    left = [path for path in tmp_path.iterdir() if path.name.startswith(".")]
    assert len(left) == 1 and clean_stale_temporaries(out) == left
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.resume.json"]
