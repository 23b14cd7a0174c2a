"""`teacher.imports`: teacher traces made elsewhere replace the teacher's run, checked line by line
against the run's records and framework, and the DAG runs the import instead of the teacher."""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from steper.cli import main
from steper.config_validation import ConfigError, validate_config
from steper.frameworks.resume import identity_record, records_digest, resume_path
from steper.frameworks.runner import read_records
from steper.frameworks.trace_import import (
    TraceImport,
    import_problems,
    import_source,
    imported,
    open_field,
    traced_key,
    unused_imports,
)
from steper.plan import paper
from steper.plan.plan import Plan
from steper.plan.tiers import tier_config

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "config" / "smoke.yaml"

RECORDS = [
    {"id": "q1", "question": "Where was Ada Lovelace born?", "answers": ["London"], "contexts": [{"title": "Ada", "text": "..."}]},
    {"id": "q2", "question": "Who wrote Emma?", "answers": ["Jane Austen", "Austen"], "contexts": []},
    {"id": "q3", "question": "Is Rome older than Paris?", "answers": ["yes"], "contexts": []},
]
RIGHT = {"em": 1.0, "f1": 1.0, "acc": 1.0, "acc_tokens": 1.0}
WRONG = {"em": 0.0, "f1": 0.0, "acc": 0.0, "acc_tokens": 0.0}
PREDICTIONS = {"q1": ("London", RIGHT), "q2": ("Charlotte Bronte", WRONG), "q3": ("yes", RIGHT)}


def trace(record: dict, framework: str = "ircot", model: str = "big") -> dict:
    """A whole trace line of `record`, as `steper teacher run` writes it."""
    prediction, correct = PREDICTIONS[record["id"]]
    steps = [
        {"step": 1, "query": record["question"], "retrieved": ["p1", "p2"], "prompt_tokens": 100, "completion_tokens": 9, "output": "A first thought."},
        {"step": 2, "query": "A first thought.", "retrieved": ["p3"], "prompt_tokens": 120, "completion_tokens": 7,
         "output": f"So the answer is: {prediction}."},
    ]
    return {
        "id": record["id"], "question": record["question"], "answers": record["answers"], "framework": framework, "model": model,
        "steps": steps, "prediction": prediction, "correct": dict(correct), "n_steps": 2, "passage_words": 350,
        "prompt_cuts": {"prompts_cut": 0, "demos_dropped": 0, "passages_dropped": 0, "overflows": 0}, "seconds": 1.5,
    }


def write_lines(path: Path, lines: list[dict]) -> str:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return sha256_of(path)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in RECORDS), encoding="utf-8")
    return path


def run_import(capsys, source, sha256: str, records: Path, output: Path, framework: str = "ircot", model: str = "big") -> tuple[int, str]:
    code = main(["teacher", "import", "--framework", framework, "--model-name", model, "--records", str(records),
                 "--input", str(source), "--sha256", sha256, "--output", str(output)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, "\n".join(line for line in err.splitlines() if line.startswith("error:"))


def test_an_import_lands_as_it_is_with_the_summary_merge_writes(tmp_path, records, capsys):
    source = tmp_path / "theirs.jsonl"
    sha256 = write_lines(source, [trace(r) for r in RECORDS])
    output = tmp_path / "traces" / "train.jsonl"
    assert run_import(capsys, source, sha256, records, output) == (0, "")
    assert output.read_bytes() == source.read_bytes()
    summary = json.loads(Path(f"{output}.summary.json").read_text())
    assert summary["n"] == 3 and summary["accuracy"] == {"em": 66.67, "f1": 66.67, "acc": 66.67}
    assert (summary["framework"], summary["model"], summary["mean_steps"], summary["prompt_tokens"]) == ("ircot", "big", 2.0, 660)


def test_the_imported_summary_is_byte_for_byte_the_one_the_teachers_merge_wrote(tmp_path, records, capsys):
    """A lab's merged file and its summary, imported into another run: the same summary."""
    shard = tmp_path / "lab" / "0-of-1.jsonl"
    shard.parent.mkdir()
    write_lines(shard, [trace(r) for r in RECORDS])
    identity = {"framework": "ircot", "model": "big", "records": records_digest(read_records(records, None)), "shard": None}
    resume_path(shard).write_text(json.dumps({"run": identity_record(identity), "output": identity_record(identity)}))
    merged = tmp_path / "lab" / "train.jsonl"
    assert main(["teacher", "merge", "--inputs", str(shard), "--records", str(records), "--output", str(merged)]) == 0
    output = tmp_path / "ours" / "train.jsonl"
    assert run_import(capsys, merged, sha256_of(merged), records, output) == (0, "")
    assert output.read_bytes() == merged.read_bytes()
    assert Path(f"{output}.summary.json").read_bytes() == Path(f"{merged}.summary.json").read_bytes()


def test_a_wrong_sha256_is_refused_and_the_earlier_output_kept(tmp_path, records, capsys):
    source = tmp_path / "theirs.jsonl"
    write_lines(source, [trace(r) for r in RECORDS])
    output = tmp_path / "train.jsonl"
    output.write_text("earlier\n")
    code, error = run_import(capsys, source, "0" * 64, records, output)
    assert code == 2
    assert error == f"error: {source}: field 'sha256' expected {'0' * 64} (teacher.imports), got {sha256_of(source)}"
    assert output.read_text() == "earlier\n" and not Path(f"{output}.summary.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def edited(lines: list[dict], index: int, **changes) -> list[dict]:
    lines = copy.deepcopy(lines)
    lines[index].update(changes)
    return lines


GOOD = [trace(r) for r in RECORDS]
BAD_LINES = {
    "a missing id": ([GOOD[0], GOOD[2]], 2, "id", "has no line for question q2 (record 2 of {records}); it belongs before line 2"),
    "a missing last id": (GOOD[:2], 3, "id", "has no line for question q3 (record 3 of {records}); it belongs at the end"),
    "an extra id": ([*GOOD, dict(GOOD[1], id="q9")], 4, "id", "question q9 is not in the records {records}"),
    "a repeated id": ([GOOD[0], GOOD[1], GOOD[1], GOOD[2]], 3, "id", "question q2 is also on line 2"),
    "lines out of the records' order": ([GOOD[1], GOOD[0], GOOD[2]], 1, "id",
                                        "question q2 comes where question q1 belongs: the lines must follow the order of {records}"),
    "a changed question": (edited(GOOD, 1, question="Who wrote Persuasion?"), 2, "question",
                           'is "Who wrote Persuasion?", the record\'s is "Who wrote Emma?"'),
    "changed answers": (edited(GOOD, 2, answers=["no"]), 3, "answers", 'is ["no"], the record\'s is ["yes"]'),
    "a wrong framework": ([trace(r, framework="selfask") for r in RECORDS], 1, "framework", "is 'selfask', this run is 'ircot'"),
    "a wrong teacher name": (edited(GOOD, 1, model="small"), 2, "model", "is 'small', this run is 'big'"),
    "a missing trace field": ([GOOD[0], {k: v for k, v in GOOD[1].items() if k != "prompt_cuts"}, GOOD[2]], 2, "prompt_cuts", "is missing"),
    "a field of the wrong type": (edited(GOOD, 0, steps="none"), 1, "steps", "is not a list"),
    "a step count that is not the steps'": (edited(GOOD, 0, n_steps=3), 1, "n_steps", "is 3, but the line has 2 steps (each a JSON object)"),
    "scores its prediction does not get": (edited(GOOD, 1, correct=RIGHT), 2, "correct",
                                           'is {"em": 1.0, "f1": 1.0, "acc": 1.0, "acc_tokens": 1.0}, the prediction scores'),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_bad_line_is_refused_naming_file_line_and_field(case, tmp_path, records, capsys):
    lines, number, field, message = BAD_LINES[case]
    source = tmp_path / "theirs.jsonl"
    sha256 = write_lines(source, lines)
    output = tmp_path / "train.jsonl"
    code, error = run_import(capsys, source, sha256, records, output)
    assert code == 2
    expected = message.replace("{records}", str(records))
    assert error.startswith(f"error: {source}, line {number}: field '{field}' {expected}"), error
    assert not output.exists() and not Path(f"{output}.summary.json").exists()


def test_a_truncated_line_is_refused_naming_the_field_it_ends_in(tmp_path, records, capsys):
    source = tmp_path / "theirs.jsonl"
    write_lines(source, GOOD)
    text = source.read_text(encoding="utf-8")
    cut = text.index('"query": "A first thought."', text.index('"id": "q3"'))
    source.write_text(text[:cut], encoding="utf-8")
    code, error = run_import(capsys, source, sha256_of(source), records, tmp_path / "train.jsonl")
    assert code == 2
    assert error == f"error: {source}, line 3: field 'steps' is cut short: the line ends inside its value (a truncated file?)"


def test_the_open_field_of_a_cut_line():
    assert open_field('{"id": "q1", "question": "Who') == "question"
    assert open_field('{"id": "q1", "steps": [{"output": "a \\" b"}, {"step": 2') == "steps"
    assert open_field('{"id"') == "id"
    assert open_field('{"id": "q1"}') is None
    assert open_field('{"id": "q1"}}') is None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A threaded http server on 127.0.0.1 serving tmp_path/site."""
    root = tmp_path / "site"
    root.mkdir()
    handler = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_url_is_fetched_by_the_downloader_and_checked_alike(tmp_path, records, server, capsys):
    url, root = server
    sha256 = write_lines(root / "traces.jsonl", GOOD)
    output = tmp_path / "train.jsonl"
    assert run_import(capsys, f"{url}/traces.jsonl", sha256, records, output) == (0, "")
    assert output.read_bytes() == (root / "traces.jsonl").read_bytes()
    code, error = run_import(capsys, f"{url}/traces.jsonl", "f" * 64, records, tmp_path / "other.jsonl")
    assert code == 2 and error.startswith(f"error: {url}/traces.jsonl: field 'sha256' expected {'f' * 64}")
    code, error = run_import(capsys, f"{url}/missing.jsonl", sha256, records, tmp_path / "other.jsonl")
    assert code == 2 and error == f"error: {url}/missing.jsonl: download failed (HTTP 404 File not found)"


# --- the config: which teacher runs an import replaces ------------------------------------------

def small_config(imports: list[dict]) -> dict:
    """A schema-valid config whose run traces (ircot, hotpotqa, big) and (ircot, musique, big)."""
    config = {
        "run": "t", "datasets": ["hotpotqa", "musique"], "frameworks": ["ircot"], "data": {"source": "toy"},
        "retrieval": {"backend": "bm25s", "compare": ["bm25s"]},
        "models": {"big": {"source": "random"}, "small": {"source": "random"}},
        "students": {"small": {"teacher": "big"}},
        "methods": {"steper": {"data": "first-mid-final", "loss": "difficulty_aware"}},
        "teacher": {"imports": imports},
    }
    validate_config(config)
    return config


TRACED = [("ircot", "hotpotqa", "big"), ("ircot", "musique", "big")]
SHA = "a" * 64


def test_imports_replace_only_the_teacher_runs_the_run_has():
    config = small_config([
        {"framework": "ircot", "dataset": "musique", "teacher": "big", "path": "traces/musique.jsonl", "sha256": SHA},
        {"framework": "selfask", "dataset": "hotpotqa", "teacher": "big", "url": "https://example.org/t.jsonl", "sha256": SHA},
    ])
    assert imported(config, TRACED) == {("ircot", "musique", "big"): TraceImport("ircot", "musique", "big", SHA, path="traces/musique.jsonl")}
    assert unused_imports(config, TRACED) == ["teacher.imports[1]: selfask/hotpotqa/big is not traced by this run; not imported"]
    assert import_problems(config) == []
    assert traced_key("ircot", "musique", "big") == "ircot/musique/big"


def test_an_import_of_no_model_twice_or_without_one_source_is_named_by_its_key():
    entry = {"framework": "ircot", "dataset": "musique", "teacher": "big", "path": "a.jsonl", "sha256": SHA}
    url = {k: v for k, v in entry.items() if k != "path"} | {"url": "https://x.org/a.jsonl"}
    neither = {k: v for k, v in entry.items() if k != "path"} | {"dataset": "hotpotqa"}
    config = small_config([entry, dict(entry, path="b.jsonl"), dict(entry, teacher="giant"), dict(url, path="c.jsonl", framework="selfask"), neither])
    assert import_problems(config) == [
        "teacher.imports[1]: imports ircot/musique/big again (teacher.imports[0] does)",
        "teacher.imports[2].teacher: 'giant' is not a key of models",
        "teacher.imports[3]: give exactly one of path and url (it gives both)",
        "teacher.imports[4]: give exactly one of path and url (it gives neither)",
    ]


ENTRY = {"framework": "ircot", "dataset": "musique", "teacher": "big", "path": "a.jsonl", "sha256": SHA}
SCHEMA_REFUSES = {
    "a sha256 that is no sha256": (dict(ENTRY, sha256="ABC"), "teacher.imports[0].sha256: 'ABC'", "does not match"),
    "a URL of another scheme": (dict(ENTRY, path=None, url="ftp://x.org/a.jsonl"), "teacher.imports[0].url: 'ftp://x.org/a.jsonl'", "does not match"),
    "a teacher name that climbs out": (dict(ENTRY, teacher="../big"), "teacher.imports[0].teacher: '../big'", "does not match"),
    "a framework the teacher does not run": (dict(ENTRY, framework="react"), "teacher.imports[0].framework: 'react'", "is not one of ircot, selfask"),
    "a split (imports are the training traces)": (dict(ENTRY, split="dev"), "teacher.imports[0]: unknown key 'split'", ""),
}


@pytest.mark.parametrize("case", list(SCHEMA_REFUSES))
def test_the_schema_refuses_a_malformed_import_naming_its_key(case):
    entry, key, message = SCHEMA_REFUSES[case]
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        small_config([entry])
    [line] = [line.strip() for line in str(error.value).splitlines()[1:]]
    assert line.startswith(key) and message in line, line


def test_a_relative_path_missing_from_the_working_directory_is_read_from_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = TraceImport("ircot", "2wikimultihopqa", "tiny", SHA, path="tests/fixtures/trace_import/smoke-ircot-2wikimultihopqa-tiny.jsonl")
    assert import_source(shipped, ROOT) == str(ROOT / shipped.path)
    (tmp_path / "local.jsonl").write_text("")
    assert import_source(TraceImport("ircot", "musique", "big", SHA, path="local.jsonl"), ROOT) == "local.jsonl"
    assert import_source(TraceImport("ircot", "musique", "big", SHA, url="https://x.org/t.jsonl"), ROOT) == "https://x.org/t.jsonl"


def test_the_plan_lists_the_import_not_the_teacher_shards_among_the_cost_rows():
    config = small_config([{"framework": "ircot", "dataset": "musique", "teacher": "big", "path": "m.jsonl", "sha256": SHA}])
    config["teacher"]["shards"] = 2
    plan = Plan(config)
    assert list(plan.imported) == ["ircot/musique/big"] and plan.unused_imports == []
    stages_of = [entry["stage"] for entry in paper.benchmarks(plan)]
    assert "teacher_import/ircot/musique/big/train" in stages_of
    assert [s for s in stages_of if s.startswith("teacher/")] == ["teacher/ircot/hotpotqa/big/train.0-of-2", "teacher/ircot/hotpotqa/big/train.1-of-2"]
    with pytest.raises(ConfigError, match=r"teacher.imports\[1\].teacher: 'giant' is not a key of models"):
        Plan(small_config([*config["teacher"]["imports"], {"framework": "ircot", "dataset": "hotpotqa", "teacher": "giant", "path": "h.jsonl", "sha256": SHA}]))


# --- the DAG: the import rule instead of the teacher's shard and merge jobs ----------------------

def dry_run(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "-n", "-p", "--configfile", str(path)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def jobs(output: str, rule: str) -> list[str]:
    return re.findall(rf"rule {rule}:.*?(?=\n\n)", output, re.S)


def test_the_smoke_tier_imports_its_fixture_instead_of_running_the_teacher(tmp_path):
    config = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    [entry] = config["teacher"]["imports"]
    fixture = ROOT / entry["path"]
    assert sha256_of(fixture) == entry["sha256"] and fixture.stat().st_size < 20_000
    trace = "results/smoke/traces/ircot/2wikimultihopqa/tiny/train.jsonl"
    planned = dry_run(tmp_path, config)
    [job] = jobs(planned, "teacher_import")
    assert f"output: {trace}, {trace}.summary.json" in job
    assert (f"steper teacher import --framework ircot --model-name tiny --records results/smoke/data/2wikimultihopqa/train.jsonl"
            f" --input {fixture} --sha256 {entry['sha256']} --output {trace}") in job
    teacher_outputs = " ".join(jobs(planned, "teacher_shard") + jobs(planned, "teacher_merge"))
    assert "ircot/2wikimultihopqa/tiny" not in teacher_outputs and len(jobs(planned, "teacher_merge")) == 3
    assert "results/smoke/benchmarks/teacher_import/ircot/2wikimultihopqa/tiny/train.tsv" in planned

    config["teacher"]["imports"] = []
    planned = dry_run(tmp_path, config)
    assert not jobs(planned, "teacher_import") and len(jobs(planned, "teacher_merge")) == 4
    assert trace in " ".join(jobs(planned, "teacher_merge"))


def job_counts(output: str) -> dict[str, int]:
    """The dry run's "Job stats" table: jobs planned per rule."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule != "total"}


def imports_of_every_trace(tmp_path: Path, tier: dict) -> list[dict]:
    """`teacher.imports` of every (framework, dataset, teacher) the tier traces, each naming the
    shipped fixture: a dry run reads no trace file."""
    (tmp_path / "tier.yaml").write_text(yaml.safe_dump(tier), encoding="utf-8")
    config = tier_config(ROOT, [tmp_path / "tier.yaml"])
    validate_config(config)
    fixture = "tests/fixtures/trace_import/smoke-ircot-2wikimultihopqa-tiny.jsonl"
    return [{"framework": f, "dataset": d, "teacher": t, "path": fixture, "sha256": SHA} for f, d, t in Plan(config).traced]


# The rules that make or run a teacher: a run whose every trace is imported plans none of them.
TEACHER_RULES = {"gold_traces", "gold_stepwise", "gold_examples", "model_finetune", "teacher_shard", "teacher_merge"}


def test_a_fine_tuned_teacher_whose_every_trace_is_imported_is_never_built(tmp_path):
    """The smoke tier with its fine-tuned teacher distilled: the step-wise stage counts tokens with
    the tokenizer of the teacher's base model, so no job fine-tunes or runs the teacher. A dry run
    reads no trace file: every import names the shipped fixture."""
    config = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    for student in config["students"].values():
        student["teacher"] = "tiny-teacher"
    config["evaluation"]["baseline_models"] = ["tiny"]
    config["teacher"]["imports"] = []
    built = job_counts(dry_run(tmp_path, config))
    assert {rule: built.get(rule) for rule in ("model_finetune", "teacher_merge")} == {"model_finetune": 1, "teacher_merge": 4}

    config["teacher"]["imports"] = imports_of_every_trace(tmp_path, config)
    planned = dry_run(tmp_path, config)
    counts = job_counts(planned)
    assert not TEACHER_RULES & set(counts), counts
    assert counts["teacher_import"] == 4 and counts["stepwise"] == 4 and counts["model_random"] == 1
    assert "results/smoke/models/tiny-teacher" not in planned
    assert all("--tokenizer results/smoke/models/tiny " in job for job in jobs(planned, "stepwise"))


def test_demo_full_with_its_teacher_traces_imported_plans_no_teacher_job(tmp_path):
    """How demo-full is assembled in parts: after the part that made the teacher's traces, the
    others import them and no job fine-tunes or runs the teacher again."""
    config = yaml.safe_load((ROOT / "config" / "demo-full.yaml").read_text(encoding="utf-8"))
    built = job_counts(dry_run(tmp_path, config))
    assert TEACHER_RULES <= set(built) and built["teacher_merge"] == 6

    config["teacher"]["imports"] = imports_of_every_trace(tmp_path, config)
    planned = dry_run(tmp_path, config)
    counts = job_counts(planned)
    assert not TEACHER_RULES & set(counts), counts
    assert counts["teacher_import"] == 6 and counts["stepwise"] == 6
    assert {rule: counts[rule] for rule in ("train", "evaluate_student", "evaluate_student_seed")} == {
        rule: built[rule] for rule in ("train", "evaluate_student", "evaluate_student_seed")
    }
    assert "results/demo-full/models/smollm2-135m-teacher" not in planned
    assert all("--tokenizer results/demo-full/models/smollm2-135m " in job for job in jobs(planned, "stepwise"))
