"""`steper preflight run` on CPU, and the version rules it applies on a GPU node.

The run here is the preflight's CPU part for real: the tiny model is built, the transformers
backend generates, training is killed at a checkpoint and resumed (with DeepSpeed ZeRO-3 on its
CPU accelerator where DeepSpeed is installed, as in CI's pinned-stack step), and what needs CUDA,
vLLM or Slurm says SKIP with its reason. The version rules are checked on hand-written stacks.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from steper.preflight import training
from steper.preflight.inputs import tensor_parallel_size
from steper.preflight.processes import kill_tree, process_tree
from steper.preflight.slurm import SlurmOptions, slurm_probe
from steper.preflight.stack import MIN_DRIVER, Gpu, Stack, driver_version, notes, pinned_versions, problems
from steper.preflight.worker import MARK

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PINS = {"vllm": "0.33.0", "torch": "2.14.0", "transformers": "5.20.2", "deepspeed": "0.19.8"}
A100 = Gpu("NVIDIA A100-SXM4-80GB", (8, 0), 79.3)
GOOD = Stack(torch="2.14.0+cu130", cuda="13.0", driver="580.65.06", transformers="5.20.2", deepspeed="0.19.8", vllm="0.33.0", gpus=[A100] * 4)


def test_pins_are_the_gpu_extra_of_pyproject():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["gpu"]
    assert pinned_versions() == dict(line.split("==") for line in extra)


def test_the_pinned_stack_on_a_new_enough_node_has_no_problem():
    assert problems(GOOD, PINS) == [] and notes(GOOD, PINS) == []
    newer = replace(GOOD, driver="595.12", vllm="0.34.1", gpus=[Gpu("NVIDIA H100", (9, 0), 79.6)])
    assert problems(newer, PINS) == []
    assert notes(newer, PINS) == ["vllm 0.34.1 is not the tested 0.33.0"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vllm": "0.32.2"}, "vLLM 0.32.2 is older than the pinned 0.33.0: pip install"),
        ({"torch": "2.14.0+cu128", "cuda": "12.8"}, "torch 2.14.0+cu128 is built for CUDA 12.8; the pinned stack is CUDA 13.0"),
        ({"driver": "575.57.08"}, f"NVIDIA driver 575.57.08 is older than CUDA 13.0 needs (>= {MIN_DRIVER})"),
        ({"driver": "580.65.05"}, f"NVIDIA driver 580.65.05 is older than CUDA 13.0 needs (>= {MIN_DRIVER})"),
        ({"gpus": [A100, Gpu("Tesla V100-SXM2-32GB", (7, 0), 31.7)]}, "GPU 1 (Tesla V100-SXM2-32GB) has compute capability 7.0; CUDA 13.0 and vLLM need 7.5"),
        ({"gpus": []}, "the driver (580.65.06) is there but torch 2.14.0+cu130 sees no CUDA device"),
    ],
)
def test_what_is_older_than_the_pinned_stack_needs_fails_with_the_reason(change, message):
    (found,) = problems(replace(GOOD, **change), PINS)
    assert found.startswith(message)


def test_a_cpu_machine_has_no_gpu_problem_but_an_old_vllm_is_one():
    cpu = Stack(torch="2.13.0+cpu", cuda=None, driver=None, transformers="5.25.0", deepspeed=None, vllm=None)
    assert problems(cpu, PINS) == []
    assert problems(replace(cpu, vllm="0.30.0"), PINS) == ["vLLM 0.30.0 is older than the pinned 0.33.0: pip install -e '.[gpu,cluster]' -c cluster/gpu-constraints.txt"]


def test_driver_version_from_the_kernel_module_when_nvidia_smi_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    proc = tmp_path / "version"
    proc.write_text("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.82.07  Release Build  (dvs-builder@U16-I3-B03-4-3)  Wed Aug 27 2025\n"
                    "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    assert driver_version(proc) == "580.82.07"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.172.08  Tue Jul  8 2025\n")
    assert driver_version(proc) == "570.172.08"
    assert driver_version(tmp_path / "missing") is None


def test_vllm_shards_the_tiny_model_over_as_many_gpus_as_its_heads_divide():
    assert [tensor_parallel_size(gpus) for gpus in (0, 1, 2, 3, 4, 6, 8, 16)] == [1, 1, 2, 2, 4, 4, 8, 8]


def test_slurm_is_skipped_off_a_cluster_and_the_placeholder_account_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    status, detail = slurm_probe(tmp_path, SlurmOptions(ROOT / "profiles" / "slurm"), {})
    assert (status, detail) == ("SKIP", "not on a Slurm cluster (no sbatch on PATH)")
    from steper.preflight.slurm import _unset_account

    assert _unset_account(SlurmOptions(ROOT / "profiles" / "slurm"))
    assert not _unset_account(SlurmOptions(ROOT / "profiles" / "slurm", ["--default-resources", "slurm_account=abc123", "slurm_partition=gpu"]))


def test_a_training_run_that_left_checkpoints_or_steps_out_is_not_finished(tmp_path):
    output = tmp_path / "student"
    output.mkdir()
    (output / "config.json").write_text("{}")
    log = output / "train_log.jsonl"
    log.write_text("".join(json.dumps({"step": step, "loss": 7.0}) + "\n" for step in range(1, training.STEPS + 1)))
    run = training.TrainRun(output, tmp_path / "train.log", 0, 1.0)
    assert training.check_finished(run, "training") is None
    (tmp_path / "student.checkpoints" / "checkpoint-2").mkdir(parents=True)
    assert training.check_finished(run, "training") == "training: its checkpoints were not removed after the final model"
    shutil.rmtree(tmp_path / "student.checkpoints")
    log.write_text("".join(json.dumps({"step": step, "loss": 7.0}) + "\n" for step in range(3, training.STEPS + 1)))
    assert training.check_finished(run, "rerun").startswith("rerun: train_log.jsonl has steps [3, 4")
    assert training.check_finished(replace(run, code=None), "rerun").startswith("rerun: killed after")


def test_a_kill_reaches_children_in_sessions_of_their_own(tmp_path):
    """As torchrun's ranks: a SIGKILL to the launcher's process group alone would leave them running."""
    ready = tmp_path / "child.pid"
    launcher = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
        f"open({str(ready)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", launcher], start_new_session=True)
    for _ in range(600):
        if ready.exists() and ready.read_text():
            break
        time.sleep(0.05)
    child = int(ready.read_text())
    assert process_tree(process.pid) == [process.pid, child]
    kill_tree(process.pid)
    assert process.wait(timeout=10) == -signal.SIGKILL
    for _ in range(200):
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the launcher's child {child} survived")


def test_a_failing_worker_component_reports_fail_instead_of_crashing(tmp_path):
    result = subprocess.run([sys.executable, "-m", "steper.preflight.worker", "transformers", str(tmp_path), "0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0
    report = json.loads(result.stdout.splitlines()[-1][len(MARK):])
    assert report["status"] == "FAIL" and str(tmp_path / "model") in report["detail"]


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("preflight")
    # every component but slurm, which tests/test_cluster_slurm.py runs against a live Slurm
    result = subprocess.run([sys.executable, "-m", "steper.cli", "preflight", "run", "--workdir", str(workdir), "--threads", "2",
                             "--only", "stack", "model", "transformers", "vllm", "zero3", "resume"],
                            capture_output=True, text=True, timeout=1200, cwd=ROOT)
    report = json.loads((workdir / "preflight.json").read_text())
    return result, {r["component"]: r for r in report["results"]}, workdir


def test_the_cpu_part_passes_and_says_why_the_rest_is_skipped(cpu_run):
    result, components, workdir = cpu_run
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    status = {name: r["status"] for name, r in components.items()}
    has_deepspeed = _installed("deepspeed")
    assert status == {"stack": "SKIP", "model": "PASS", "transformers": "PASS", "vllm": "SKIP",
                      "zero3": "PASS" if has_deepspeed else "SKIP", "resume": "PASS"}
    assert components["stack"]["detail"].startswith("no CUDA device (torch ")
    assert components["vllm"]["detail"] == "no CUDA device (vLLM runs on GPUs only)"
    assert components["transformers"]["detail"].startswith("on cpu: 8 prompts")
    versions = next(line for line in result.stdout.splitlines() if line.startswith("versions: "))
    for name in ("torch", "CUDA", "driver", "vLLM", "transformers", "DeepSpeed"):
        assert f"{name} " in versions
    lines = [line.split()[0] for line in result.stdout.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")]
    assert lines == [status[name] for name in components]


def test_the_training_was_killed_at_a_checkpoint_and_resumed_from_it(cpu_run):
    _, components, workdir = cpu_run
    detail = components["resume"]["detail"]
    assert ("DeepSpeed ZeRO-3: killed (SIGKILL)" if _installed("deepspeed") else "no DeepSpeed: killed (SIGKILL)") in detail
    settings = json.loads((workdir / "train" / "resumed" / "steper_settings.json").read_text())
    assert settings["summary"]["resumed_from_step"] >= training.CHECKPOINT["every_steps"]
    assert settings["settings"]["training"]["deepspeed"] == ("zero3" if _installed("deepspeed") else None)
    assert not (workdir / "train" / "resumed.checkpoints").exists()


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None
