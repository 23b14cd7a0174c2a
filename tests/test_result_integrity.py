"""One model, one record set and one writer per result file, and a trace's token counts.

Each test is a reproduction of a way the runner used to write a wrong or short result file: a
resume that mixed two models or two versions of the records, a stale partial that shrank a finished
output, two writers on one file, a partial that was a symbolic link, a resumed line without the
fields the summary needs, a merge of a shard nobody could vouch for. The process tests run the real
`steper teacher run` on a tiny random model.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from steper.cli import main
from steper.evaluate.aggregate import aggregate
from steper.frameworks.chain import LoopSettings, run_chains
from steper.frameworks.registry import make_strategy
from steper.frameworks.runner import FrameworkSettings, merge, run_framework, summarize
from steper.io import InputError
from steper.models.generation import Generation, GenerationSettings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "frameworks"


def write_records(path: Path, n: int, answer: str = "gold") -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Who is number {i}?", "answers": [f"{answer}{i}"]}) + "\n" for i in range(n)))
    return path


def model_dir(path: Path, weights: bytes) -> Path:
    """A model directory as the fingerprint sees it: a config and a weight file."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text('{"model_type": "llama"}\n')
    (path / "model.safetensors").write_bytes(weights)
    return path


class Killed(Exception):
    """What a killed job looks like to the runner: the generation never returns."""


class Oracle:
    """Answers `Who is number i?` with `<prefix>i`, so each line shows which model wrote it.

    After `fail_after` answered questions the next call raises, as a killed job would stop.
    """

    def __init__(self, prefix: str = "gold", fail_after: int | None = None, marker: str = ""):
        self.prefix, self.fail_after, self.calls, self.marker = prefix, fail_after, 0, marker

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        if self.fail_after is not None and self.calls + len(prompts) > self.fail_after:
            raise Killed
        self.calls += len(prompts)
        numbers = [re.findall(r"Who is number (\d+)\?", p.plain)[-1] for p in prompts]
        return [Generation(f" {self.marker}{self.prefix}{number}.", 1, 1) for number in numbers]


class Retriever:
    """An index that finds nothing: the prompt is the question alone."""

    def batch_search(self, queries, k):
        return [[] for _ in queries]


def run(tmp_path, output, backend, model=None, records="records.jsonl", shard=None, max_new_tokens=8):
    return run_framework(
        "direct", tmp_path / records, output, model or tmp_path / "model-a", "m", None,
        FrameworkSettings(shots=0, max_new_tokens=max_new_tokens), GenerationSettings(batch_size=1), shard=shard, backend=backend,
    )


def predictions(path: Path) -> list[str]:
    return [json.loads(line)["prediction"] for line in path.read_text().splitlines()]


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPER_CACHE_DIR", str(tmp_path / "cache"))
    write_records(tmp_path / "records.jsonl", 10)
    model_dir(tmp_path / "model-a", b"weights of model A")
    model_dir(tmp_path / "model-b", b"weights of model B")
    return tmp_path


def killed_run(tmp_path, output, **kwargs) -> None:
    """A run stopped after its first chunk (4 questions at batch size 1) is on disk."""
    with pytest.raises(Killed):
        run(tmp_path, output, Oracle(fail_after=4), **kwargs)
    assert len(Path(f"{output}.partial").read_text().splitlines()) == 4


# ------------------------------------------------------------------------------ resume identity


def test_a_resume_with_another_model_under_the_same_name_starts_over(world, caplog):
    output = world / "out.jsonl"
    killed_run(world, output)
    backend = Oracle("other")
    with caplog.at_level(logging.INFO):
        run(world, output, backend, model=world / "model-b")
    assert backend.calls == 10 and predictions(output) == [f"other{i}" for i in range(10)]
    assert "model" in caplog.text and "starting over" in caplog.text


def test_a_resume_after_the_model_weights_changed_in_place_starts_over(world, caplog):
    output = world / "out.jsonl"
    killed_run(world, output)
    (world / "model-a" / "model.safetensors").write_bytes(b"retrained weights of model A")
    backend = Oracle("other")
    with caplog.at_level(logging.INFO):
        run(world, output, backend)
    assert backend.calls == 10 and predictions(output) == [f"other{i}" for i in range(10)]
    assert "model.safetensors" in caplog.text


def test_a_resume_after_the_records_changed_starts_over(world, caplog):
    output = world / "out.jsonl"
    killed_run(world, output)
    write_records(world / "records.jsonl", 10, answer="new")  # same ids, other answers
    backend = Oracle()
    with caplog.at_level(logging.INFO):
        run(world, output, backend)
    assert backend.calls == 10
    assert [json.loads(line)["answers"] for line in output.read_text().splitlines()] == [[f"new{i}"] for i in range(10)]
    assert "records" in caplog.text and "starting over" in caplog.text


def test_a_resume_after_the_index_was_rebuilt_starts_over(world, caplog):
    index = world / "index" / "bm25s"
    index.mkdir(parents=True)
    (index / "vocab.json").write_text('{"a": 0}')

    def rag(backend):
        return run_framework(
            "rag", world / "records.jsonl", world / "out.jsonl", world / "model-a", "m", world / "index",
            FrameworkSettings(shots=0, retrieval_backend="bm25s"), GenerationSettings(batch_size=1), backend=backend, retriever=Retriever(),
        )

    with pytest.raises(Killed):
        rag(Oracle(fail_after=4, marker="So the answer is: "))
    (index / "vocab.json").write_text('{"b": 0}')  # rebuilt on another corpus
    backend = Oracle(marker="So the answer is: ")
    with caplog.at_level(logging.INFO):
        rag(backend)
    assert backend.calls == 10 and "index (vocab.json)" in caplog.text


def test_a_resume_under_other_settings_starts_over_naming_them(world, caplog):
    output = world / "out.jsonl"
    killed_run(world, output)
    backend = Oracle()
    with caplog.at_level(logging.INFO):
        run(world, output, backend, max_new_tokens=9)
    assert backend.calls == 10 and "settings" in caplog.text


def test_a_resume_of_the_same_run_continues(world):
    output = world / "out.jsonl"
    killed_run(world, output)
    backend = Oracle()
    run(world, output, backend)
    assert backend.calls == 6 and predictions(output) == [f"gold{i}" for i in range(10)]


def test_a_finished_output_of_another_model_stays_until_the_new_one_replaces_it(world):
    output = world / "out.jsonl"
    run(world, output, Oracle())
    before = output.read_bytes()
    with pytest.raises(Killed):
        run(world, output, Oracle("other", fail_after=4), model=world / "model-b")
    assert output.read_bytes() == before  # model A's finished file, untouched so far
    backend = Oracle("other")
    run(world, output, backend, model=world / "model-b")  # resumes model B's partial, never model A's lines
    assert backend.calls == 6 and predictions(output) == [f"other{i}" for i in range(10)]
    backend = Oracle()
    run(world, output, backend)  # back to model A: model B's output is not A's
    assert backend.calls == 10 and predictions(output) == [f"gold{i}" for i in range(10)]


# ------------------------------------------------------------------------------ partial vs output


def finished_of(tmp_path, n) -> list[str]:
    write_records(tmp_path / "records.jsonl", n)
    run(tmp_path, tmp_path / "full.jsonl", Oracle())
    return (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)


def test_a_stale_partial_never_shrinks_a_finished_output(world):
    lines = finished_of(world, 150)
    output = world / "out.jsonl"
    output.write_text("".join(lines[:100]))
    Path(f"{output}.partial").write_text("".join(lines[:20]))
    shutil.copy(world / "full.jsonl.resume.json", f"{output}.resume.json")
    backend = Oracle()
    run(world, output, backend)
    written = output.read_text().splitlines(keepends=True)
    assert len(written) == 150 and written[:100] == lines[:100] and backend.calls == 50


def test_a_partial_that_extends_the_output_resumes(world):
    lines = finished_of(world, 150)
    output = world / "out.jsonl"
    output.write_text("".join(lines[:100]))
    Path(f"{output}.partial").write_text("".join(lines[:120]))
    shutil.copy(world / "full.jsonl.resume.json", f"{output}.resume.json")
    backend = Oracle()
    run(world, output, backend)
    written = output.read_text().splitlines(keepends=True)
    assert len(written) == 150 and written[:120] == lines[:120] and backend.calls == 30


def test_a_partial_that_is_a_symbolic_link_is_not_followed(world):
    finished_of(world, 10)
    victim = world / "notes.txt"
    victim.write_text("my notes, no final newline")
    output = world / "out.jsonl"
    Path(f"{output}.partial").symlink_to(victim)
    shutil.copy(world / "full.jsonl.resume.json", f"{output}.resume.json")
    with pytest.raises(InputError) as error:
        run(world, output, Oracle())
    assert str(output) + ".partial" in str(error.value) and "symbolic link" in str(error.value)
    assert victim.read_text() == "my notes, no final newline" and not output.exists()


def test_a_partial_that_is_a_fifo_is_refused_not_read(world):
    finished_of(world, 10)
    output = world / "out.jsonl"
    os.mkfifo(f"{output}.partial")
    shutil.copy(world / "full.jsonl.resume.json", f"{output}.resume.json")


    def hung(*_):
        raise TimeoutError("the runner waits for a writer of the FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with pytest.raises(InputError, match="not a regular file"):
            run(world, output, Oracle())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_resumed_line_missing_a_field_is_refused_before_the_rename(world):
    lines = finished_of(world, 10)
    output = world / "out.jsonl"
    broken = [json.dumps({key: value for key, value in json.loads(line).items() if key != "correct"}) + "\n" for line in lines[:3]]
    Path(f"{output}.partial").write_text("".join(broken))
    shutil.copy(world / "full.jsonl.resume.json", f"{output}.resume.json")
    with pytest.raises(InputError) as error:
        run(world, output, Oracle())
    assert error.value.line == 1 and error.value.field == "correct"
    assert not output.exists() and Path(f"{output}.partial").read_text() == "".join(broken)


# ------------------------------------------------------------------------------ merge


def shards_of(tmp_path, n=2) -> list[Path]:
    shards = [tmp_path / f"s{i}.jsonl" for i in range(n)]
    for i, path in enumerate(shards):
        run(tmp_path, path, Oracle(), shard=(i, n))
    return shards


def test_merge_refuses_a_shard_without_its_resume_identity(world):
    shards = shards_of(world)
    Path(f"{shards[1]}.resume.json").unlink()
    with pytest.raises(InputError) as error:
        merge(shards, world / "records.jsonl", world / "merged.jsonl")
    assert str(shards[1]) in str(error.value) and "resume.json" in str(error.value)
    assert not (world / "merged.jsonl").exists()


def test_merge_refuses_shards_run_on_other_records(world):
    shards = shards_of(world)
    write_records(world / "records.jsonl", 10, answer="new")  # same ids, other answers
    with pytest.raises(InputError, match="records"):
        merge(shards, world / "records.jsonl", world / "merged.jsonl")
    assert not (world / "merged.jsonl").exists()


def test_predictions_are_not_scored_against_another_version_of_their_records(world):
    from steper.evaluate.result import build_result

    output = world / "out.predictions.jsonl"
    run(world, output, Oracle())
    score = dict(system="m--fewshot", framework="direct", dataset="toy", predictions_path=output, records_path=world / "records.jsonl")
    assert build_result(**score)["metrics"]["acc"] == 100.0
    write_records(world / "records.jsonl", 10, answer="new")  # same ids, other answers
    with pytest.raises(InputError) as error:
        build_result(**score)
    assert error.value.field == "records" and str(output) in str(error.value)


def test_merge_into_an_output_another_process_writes_fails_at_once(world):
    from steper.frameworks.resume import exclusive_writer

    shards = shards_of(world)
    with exclusive_writer(world / "merged.jsonl"), pytest.raises(InputError, match="another steper process"):
        merge(shards, world / "records.jsonl", world / "merged.jsonl")
    assert not (world / "merged.jsonl").exists()


# ------------------------------------------------------------------------------ token counts


class TwoCalls:
    """A step that gives no answer (so the loop forces one), with distinct prompt/completion counts."""

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, max_new_tokens, stop, step_end=None):
        self.calls += 1
        if self.calls == 1:
            return [Generation("Mara Quill directed it.", 11, 3)]
        return [Generation(" Port Ellery.", 17, 2)]


def test_the_forced_answer_call_is_counted_apart_from_the_step(tmp_path):
    settings = LoopSettings(top_k=2, max_steps=1, max_passages=5, max_new_tokens=8, passage_order="retrieval", new_passages="deeper")
    [chain] = run_chains([("q1", "Where was the director born?")], make_strategy("ircot", None, "none"), None, TwoCalls(), settings)
    step = chain.steps[0]
    assert (step["prompt_tokens"], step["completion_tokens"]) == (11, 3)
    assert (step["answer_prompt_tokens"], step["answer_completion_tokens"]) == (17, 2)
    trace = tmp_path / "trace.jsonl"
    trace.write_text(json.dumps({"id": "q1", "correct": {"em": 0, "f1": 0, "acc": 0}, "steps": chain.steps}) + "\n")
    summary = summarize(trace)  # the cost of the question is both calls
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (28, 5)
    metrics = aggregate([{"id": "q1", "prediction": chain.answer, "steps": chain.steps}])
    assert (metrics.prompt_tokens, metrics.completion_tokens) == (28, 5)


# ------------------------------------------------------------------------------ model fingerprint


def test_a_large_weight_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    from steper.fingerprint import CACHED_SIZE, directory_fingerprint

    monkeypatch.setenv("STEPER_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "model" / "model.safetensors"
    model_dir(tmp_path / "model", b"a" * CACHED_SIZE)
    first = directory_fingerprint(tmp_path / "model")
    [entry] = list((tmp_path / "cache").rglob("*.json"))
    cached = json.loads(entry.read_text())
    assert cached["sha256"] == first["model.safetensors"]["sha256"]
    entry.write_text(json.dumps(cached | {"sha256": "f" * 64}))  # a second look must trust the cache, not read the file
    assert directory_fingerprint(tmp_path / "model")["model.safetensors"]["sha256"] == "f" * 64
    weights.write_bytes(b"b" * CACHED_SIZE)  # same size, new bytes: the cached sum no longer applies
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = directory_fingerprint(tmp_path / "model")["model.safetensors"]["sha256"]
    assert changed not in (first["model.safetensors"]["sha256"], "f" * 64)
    assert set(first) == {"config.json", "model.safetensors"} and first["model.safetensors"]["size"] == CACHED_SIZE


# ------------------------------------------------------------------------------ real processes


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from steper.models.tiny import RandomModelSettings, build_random_model

    root = tmp_path_factory.mktemp("tiny")
    build_random_model([FIXTURES / "corpus.jsonl"], root / "model",
                       RandomModelSettings(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64, vocab_size=400))
    records = [json.loads(line) for line in (FIXTURES / "records.jsonl").read_text().splitlines()]
    (root / "records.jsonl").write_text("".join(json.dumps(r | {"id": f"{r['id']}-{i}"}) + "\n" for i in range(12) for r in records))
    return root


def teacher(tiny, output, cache) -> subprocess.Popen:
    settings = {"framework": {"shots": 0, "max_new_tokens": 16}, "generation": {"dtype": "float32", "batch_size": 1}}
    command = [sys.executable, "-m", "steper.cli", "teacher", "run", "--framework", "direct", "--records", str(tiny / "records.jsonl"),
               "--model", str(tiny / "model"), "--model-name", "tiny", "--output", str(output), "--settings", json.dumps(settings)]
    env = dict(os.environ, STEPER_CACHE_DIR=str(cache), OMP_NUM_THREADS="1")
    # SIGINT as a terminal delivers it: a test run in the background (`cmd &`) starts with it ignored, inherited otherwise
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def without_timing(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in path.read_text().splitlines()]


def test_a_second_writer_of_one_output_fails_at_once(tiny, tmp_path):
    output = tmp_path / "out.jsonl"
    first = teacher(tiny, output, tmp_path / "cache")
    wait_for(lambda: Path(f"{output}.lock").exists(), first)
    first.send_signal(signal.SIGSTOP)  # the first writer holds its lock while it is stopped
    try:
        second = teacher(tiny, output, tmp_path / "cache")
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and str(output) in err and "another" in err, err
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    ids = [line["id"] for line in without_timing(output)]
    assert len(ids) == 36 and len(set(ids)) == 36
    assert not Path(f"{output}.lock").exists()


@pytest.fixture(scope="module")
def uninterrupted(tiny, tmp_path_factory) -> Path:
    reference = tmp_path_factory.mktemp("reference") / "reference.jsonl"
    whole = teacher(tiny, reference, reference.parent / "cache")
    assert whole.wait(timeout=300) == 0
    return reference


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda stop: stop.name)
def test_a_writer_stopped_mid_run_frees_the_output_and_the_rerun_matches_an_uninterrupted_run(tiny, uninterrupted, tmp_path, stop):
    output = tmp_path / "out.jsonl"
    stopped = teacher(tiny, output, tmp_path / "cache")
    partial = Path(f"{output}.partial")
    wait_for(lambda: partial.exists() and partial.read_text().count("\n") >= 4, stopped)
    stopped.send_signal(stop)
    assert stopped.wait(timeout=120) != 0
    assert not output.exists()
    rerun = teacher(tiny, output, tmp_path / "cache")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-2000:]
    done = int(err.split(" already done")[0].rsplit(" ", 1)[-1])
    assert done >= 4 and without_timing(output) == without_timing(uninterrupted)


def test_a_cli_rerun_with_another_model_file_starts_over(tiny, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("STEPER_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "model"
    shutil.copytree(tiny / "model", model)
    settings = json.dumps({"framework": {"shots": 0, "max_new_tokens": 4}, "generation": {"dtype": "float32"}})
    args = ["teacher", "run", "--framework", "direct", "--records", str(tiny / "records.jsonl"), "--model", str(model),
            "--model-name", "tiny", "--output", str(tmp_path / "out.jsonl"), "--settings", settings]
    assert main(args) == 0
    partial = tmp_path / "out.jsonl.partial"
    (tmp_path / "out.jsonl").rename(partial)  # as if killed just before the rename
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"rms_norm_eps": 1e-3}))
    with caplog.at_level(logging.INFO):
        assert main(args) == 0
    assert "config.json" in caplog.text and "starting over" in caplog.text
