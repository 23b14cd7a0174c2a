"""The preflight's order, what each component needs, and its report.

This process imports neither torch nor vLLM: every component that touches a device runs in a
process of its own (steper.preflight.worker, `steper train run`, a Slurm job), so no CUDA context
is held here while vLLM or DeepSpeed want the GPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from steper.preflight import training
from steper.preflight.processes import kill_group, kill_tree
from steper.preflight.slurm import SlurmOptions, slurm_probe
from steper.preflight.stack import INSTALL
from steper.preflight.worker import MARK

COMPONENTS = ("stack", "model", "transformers", "vllm", "zero3", "resume", "slurm")
NEEDS_MODEL = {"transformers", "vllm", "zero3", "resume"}
WORKER_TIMEOUT = {"stack": 120, "model": 300, "transformers": 300, "vllm": 600}
STATUSES = ("PASS", "FAIL", "SKIP")


@dataclass
class Result:
    component: str
    status: str
    detail: str
    seconds: float


@dataclass
class Context:
    """What the components found out so far, and where they write."""

    workdir: Path
    slurm: SlurmOptions
    threads: int
    gpus: int = 0
    stack: dict[str, Any] = field(default_factory=dict)
    versions: str = ""
    results: dict[str, Result] = field(default_factory=dict)
    straight: training.TrainRun | None = None

    @property
    def env(self) -> dict[str, str]:
        """No hub access for anything the preflight starts: every model is built here."""
        return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                    OMP_NUM_THREADS=str(self.threads))

    def installed(self, package: str) -> bool:
        return bool(self.stack.get(package))

    def passed(self, component: str) -> bool:
        return component in self.results and self.results[component].status == "PASS"


def default_threads() -> int:
    """The CPUs this process may use, at most the paper config's 16 training threads."""
    return max(1, min(16, len(os.sched_getaffinity(0))))


def run_worker(context: Context, name: str) -> dict[str, Any]:
    """A worker component in its own process group (killed whole on timeout): its reported result."""
    log = context.workdir / f"{name}.log"
    command = [sys.executable, "-m", "steper.preflight.worker", name, str(context.workdir), str(context.gpus)]
    timeout = WORKER_TIMEOUT[name]
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=handle, text=True, env=context.env, start_new_session=True)
        try:
            out, _ = process.communicate(timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)
            out, _ = process.communicate()
            code = None
        handle.write(out)
    kill_group(process.pid)  # what the worker started and left (vLLM's engine processes)
    for line in reversed(out.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    ended = f"was killed after {timeout} s" if code is None else f"exited with code {code}"
    return {"status": "FAIL", "detail": f"the {name} worker {ended} without a result; see {log}"}


def _stack(context: Context) -> tuple[str, str]:
    result = run_worker(context, "stack")
    context.stack = result.get("stack", {})
    context.gpus = result.get("gpus", 0)
    context.versions = result.get("versions", "unknown (the stack worker failed)")
    return result["status"], result["detail"]


def _worker(name: str) -> Callable[[Context], tuple[str, str]]:
    def component(context: Context) -> tuple[str, str]:
        result = run_worker(context, name)
        return result["status"], result["detail"]

    return component


def _vllm(context: Context) -> tuple[str, str]:
    if not context.gpus:
        return "SKIP", "no CUDA device (vLLM runs on GPUs only)"
    if not context.installed("vllm"):
        return "FAIL", f"vLLM is not installed: {INSTALL}"
    return _worker("vllm")(context)


def _deepspeed(context: Context) -> bool | tuple[str, str]:
    """Whether training uses DeepSpeed as the paper tier does; a SKIP or FAIL when it cannot."""
    if context.installed("deepspeed"):
        return True
    if context.gpus:
        return "FAIL", f"DeepSpeed is not installed: {INSTALL}"
    return "SKIP", "DeepSpeed is not installed (the gpu extra): ZeRO-3 not tried"


def _zero3(context: Context) -> tuple[str, str]:
    deepspeed = _deepspeed(context)
    if deepspeed is not True:
        return deepspeed
    status, detail, context.straight = training.straight(context.workdir, context.gpus, True, context.threads, context.env)
    return status, detail


def _resume(context: Context) -> tuple[str, str]:
    """With DeepSpeed when the node has it, compared with the ZeRO-3 component's run (the same
    settings) or, without DeepSpeed, with a plain run made here."""
    deepspeed = context.installed("deepspeed")
    reference = context.straight if deepspeed else None
    if reference is None:
        status, detail, reference = training.straight(context.workdir, context.gpus, deepspeed, context.threads, context.env)
        if status != "PASS":
            return "FAIL", f"the uninterrupted run to compare with failed: {detail}"
    elif training.check_finished(reference, "the ZeRO-3 run"):
        return "SKIP", "the ZeRO-3 run it is compared with failed (see zero3)"
    status, detail = training.killed_and_resumed(context.workdir, context.gpus, deepspeed, context.threads, context.env, reference)
    return status, f"{'DeepSpeed ZeRO-3' if deepspeed else 'no DeepSpeed'}: {detail}"


def _slurm(context: Context) -> tuple[str, str]:
    return slurm_probe(context.workdir, context.slurm, context.env)


RUNNERS: dict[str, Callable[[Context], tuple[str, str]]] = {
    "stack": _stack, "model": _worker("model"), "transformers": _worker("transformers"), "vllm": _vllm,
    "zero3": _zero3, "resume": _resume, "slurm": _slurm,
}


def selected(only: list[str] | None) -> list[str]:
    """The components to run in order: `only` (all by default), the stack always, the model when one needs it."""
    wanted = set(only or COMPONENTS) | {"stack"}
    if wanted & NEEDS_MODEL:
        wanted.add("model")
    return [name for name in COMPONENTS if name in wanted]


def run_preflight(context: Context, only: list[str] | None = None, out=sys.stdout) -> list[Result]:
    context.workdir.mkdir(parents=True, exist_ok=True)
    print(f"steper preflight in {context.workdir} (each component's log is there)", file=out, flush=True)
    for name in selected(only):
        start = time.monotonic()
        if name in NEEDS_MODEL and not context.passed("model"):
            status, detail = "SKIP", "no model (the model component did not pass)"
        else:
            status, detail = RUNNERS[name](context)
        context.results[name] = result = Result(name, status, detail, time.monotonic() - start)
        if name == "stack":
            print(f"versions: {context.versions}", file=out, flush=True)
        print(f"{status:<4}  {name:<12} {detail} ({result.seconds:.0f} s)", file=out, flush=True)
    results = list(context.results.values())
    counts = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in STATUSES)
    print(f"preflight: {counts} in {sum(r.seconds for r in results):.0f} s", file=out, flush=True)
    report = {"versions": context.versions, "stack": context.stack, "results": [asdict(r) for r in results]}
    (context.workdir / "preflight.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return results
