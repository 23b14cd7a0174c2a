"""Training that survives a kill: a SIGKILLed `steper train run`, rerun, ends with the weights of an
uninterrupted run bit for bit (fp32, one thread); interrupted checkpoint writes are ignored; a
checkpoint of other settings is refused; checkpoints are removed once the model is written."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from steper import layout
from steper.io import InputError
from steper.models.tiny import RandomModelSettings, build_random_model
from steper.train.checkpoints import MARKER, CheckpointSchedule, CheckpointStore

CORPUS = Path(__file__).parent / "fixtures" / "distill" / "corpus.jsonl"
COMPLETIONS = {
    "first": " The Hollow Orchard is a novel by Tamsin Everhart.",
    "mid": " Tamsin Everhart was born in Brackenford.",
    "final": " The Hollow Orchard is by Tamsin Everhart, born in Brackenford. So the answer is: Brackenford.",
}
N_QUESTIONS = 12  # 36 examples, batch 2: 18 steps per epoch, 36 in all


def _settings(**checkpoint):
    return {
        "method": {"data": "first-mid-final", "loss": "difficulty_aware"},
        "training": {"lr": 3e-3, "epochs": 2, "batch_size": 2, "dtype": "float32", "warmup_ratio": 0.1, "sigma_lr": 0.05,
                     "deepspeed": None, "gradient_checkpointing": False, "log_every": 3,
                     "checkpoint": {"every_steps": None, "every_minutes": None, **checkpoint}},
        "student": {"dtype": "float32"},
    }


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    build_random_model([CORPUS], root / "base", RandomModelSettings(hidden_size=32, intermediate_size=64, vocab_size=512))
    lines = []
    for i in range(N_QUESTIONS):
        context = f"Wikipedia Title: Tamsin Everhart\nTamsin Everhart was born in Brackenford {i}.\n\nQ: Where {i}?\nA:"
        for kind, completion in COMPLETIONS.items():
            continuation = "" if kind == "first" else COMPLETIONS["first"]
            lines.append({"id": f"q{i}", "kind": kind, "step": 1, "prompt": context + continuation, "completion": completion,
                          "context": context, "continuation": continuation})
    (root / "data.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return root


def _command(job: Path, output: Path, settings: dict) -> list[str]:
    return [sys.executable, "-m", "steper.cli", "train", "run", "--data", str(job / "data.jsonl"), "--model", str(job / "base"),
            "--output", str(output), "--threads", "1", "--settings", json.dumps(settings)]


def _run(job: Path, output: Path, settings: dict) -> subprocess.CompletedProcess:
    return subprocess.run(_command(job, output, settings), capture_output=True, text=True, timeout=600)


def _weights(directory: Path) -> dict:
    return load_file(directory / "model.safetensors")


def _log(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "train_log.jsonl").read_text().splitlines()]


def _kill_after_checkpoint(command: list[str], checkpoints: Path, after_step: int) -> int:
    """Start `command`, SIGKILL its process group once a checkpoint past `after_step` is complete; the step."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            steps = [int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"checkpoint-*/{MARKER}")]
            if any(step > after_step for step in steps):
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL, f"the training ended before the kill:\n{process.stderr.read().decode()[-3000:]}"
    return max(steps)


def test_killed_training_resumes_to_the_uninterrupted_weights(job, tmp_path):
    reference = tmp_path / "reference"
    result = _run(job, reference, _settings())
    assert result.returncode == 0, result.stderr[-3000:]
    assert not Path(layout.checkpoints_dir(str(reference))).exists()  # checkpointing off: nothing beside the student

    output = tmp_path / "student"
    checkpoints = Path(layout.checkpoints_dir(str(output)))
    killed_at = _kill_after_checkpoint(_command(job, output, _settings(every_steps=4, keep=2)), checkpoints, after_step=20)
    assert killed_at > 18  # in the second epoch: its permutation of the data must be restored too
    assert not output.exists()
    complete = sorted(int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"checkpoint-*/{MARKER}"))
    # `keep` complete checkpoints, one more if the kill fell between the newest one's marker and the rotation
    assert len(complete) <= 3 and complete[-1] == killed_at and all(step % 4 == 0 for step in complete)
    # an interrupted write (no marker) of a later step: never resumed
    torn = checkpoints / "checkpoint-30"
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"torn")

    # other settings: refused, with what differs named, and the checkpoints left as they were
    changed = _settings(every_steps=4)
    changed["training"]["lr"] = 1e-3
    refused = _run(job, output, changed)
    assert refused.returncode == 2 and "differing: settings" in refused.stderr, refused.stderr[-2000:]
    assert (checkpoints / f"checkpoint-{killed_at}" / MARKER).is_file() and not output.exists()

    # the same job (checkpoint interval aside, which changes no weight) resumes and ends where the uninterrupted run did
    resumed = _run(job, output, _settings(every_steps=5))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {checkpoints / f'checkpoint-{killed_at}'}" in resumed.stderr
    summary = json.loads((output / "steper_settings.json").read_text())["summary"]
    assert summary["resumed_from_step"] == killed_at and summary["steps"] == 36
    expected, actual = _weights(reference), _weights(output)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert expected[name].dtype == actual[name].dtype and bool((expected[name] == actual[name]).all()), name
    before, after = _log(reference), _log(output)
    assert [r["step"] for r in after] == [r["step"] for r in before]  # the log before the checkpoint came back with it
    assert [r["sigma"] for r in after] == [r["sigma"] for r in before]
    assert after[-1]["supervised_tokens"] == before[-1]["supervised_tokens"]
    reference_summary = json.loads((reference / "steper_settings.json").read_text())["summary"]
    assert summary["supervised_tokens"] == reference_summary["supervised_tokens"] and summary["sigma"] == reference_summary["sigma"]
    assert not checkpoints.exists()  # removed once the model is written
    assert not list(tmp_path.glob(".student.*"))  # the killed run's staging directory is gone too


def test_checkpoints_are_kept_after_finish_when_asked(job, tmp_path):
    output = tmp_path / "kept"
    result = _run(job, output, _settings(every_steps=10, keep=3, keep_after_finish=True))
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = Path(layout.checkpoints_dir(str(output)))
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-10", "checkpoint-20", "checkpoint-30"]  # never at the last step
    marker = json.loads((checkpoints / "checkpoint-30" / MARKER).read_text())
    assert marker["step"] == 30 and marker["identity"]["max_steps"] is None and "checkpoint" not in marker["identity"]["settings"]["training"]


def test_snakemake_deletes_the_student_but_not_its_checkpoints(tmp_path):
    """Snakemake removes a job's outputs when it fails and before it reruns; the checkpoints, beside
    the student's directory output (steper.layout), are what the rerun resumes from."""
    student = "students/s"
    checkpoints = layout.checkpoints_dir(student)
    assert not Path(checkpoints).is_relative_to(student)
    (tmp_path / "Snakefile").write_text(
        "rule train:\n"
        f"    output: directory({student!r})\n"
        f"    shell: 'mkdir -p {checkpoints}/checkpoint-2 {{output}} && touch {{output}}/partial && test -e go'\n"
    )

    def snakemake(*args):
        return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args], cwd=tmp_path, capture_output=True, text=True)

    assert snakemake().returncode != 0  # the "kill": the job fails mid-way
    assert not (tmp_path / student).exists() and (tmp_path / checkpoints / "checkpoint-2").is_dir()
    (tmp_path / "go").touch()
    assert snakemake().returncode == 0
    assert (tmp_path / student / "partial").exists() and (tmp_path / checkpoints / "checkpoint-2").is_dir()


def _store(root: Path, **identity) -> CheckpointStore:
    return CheckpointStore(root, {"settings": {"lr": 1}, "data": "d", **identity}, keep=2)


def test_store_resumes_the_latest_complete_checkpoint_only(tmp_path):
    store = _store(tmp_path)
    assert store.resumable(remove_incomplete=True) is None
    for step in (2, 4, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
        store.mark(tmp_path / f"checkpoint-{step}", step, {"supervised_tokens": {"final": step}})
    (tmp_path / "checkpoint-8").mkdir()  # a write that never finished
    (tmp_path / "checkpoint-10").mkdir()
    latest = store.resumable(remove_incomplete=False)
    assert latest.step == 6 and latest.marker["supervised_tokens"] == {"final": 6}
    assert (tmp_path / "checkpoint-8").exists()  # only the owning process removes
    store.resumable(remove_incomplete=True)
    assert not (tmp_path / "checkpoint-8").exists() and not (tmp_path / "checkpoint-10").exists()
    store.rotate()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4", "checkpoint-6"]
    with pytest.raises(InputError, match=r"differing: data\)"):
        _store(tmp_path, data="other").resumable(remove_incomplete=True)


def test_schedule_saves_by_steps_and_minutes_but_never_at_the_last_step():
    class State:
        max_steps = 10

    class Control:
        should_save = False

    class Args:
        device = "cpu"

    def due(schedule, step):
        state, control = State(), Control()
        state.global_step = step
        return schedule.on_step_end(Args(), state, control).should_save

    by_steps = CheckpointSchedule(every_steps=5, every_minutes=None)
    assert [step for step in range(1, 11) if due(by_steps, step)] == [5]
    by_clock = CheckpointSchedule(every_steps=None, every_minutes=1e-9)
    assert due(by_clock, 3) and not due(by_clock, 10)
    patient = CheckpointSchedule(every_steps=None, every_minutes=60)
    assert not any(due(patient, step) for step in range(1, 11))
