"""The versions a node runs, and what the pinned GPU stack (pyproject.toml's `gpu` extra) needs.

The gpu extra resolves to the CUDA 13.0 wheel family (torch 2.14.0 on nvidia-cuda-runtime 13.0,
cluster/gpu-constraints.txt). The wheels carry their own CUDA runtime; what the node must bring is a
kernel driver that runs CUDA 13.0 (Linux >= 580.65.06, the CUDA 13.0 release notes) and GPUs that
CUDA 13 still builds code for (compute capability 7.5 or newer: Turing and later, also vLLM's
floor). A node short of any of these fails here with the reason, not as a crashed teacher job.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

MIN_DRIVER = "580.65.06"
MIN_CUDA = "13.0"
MIN_COMPUTE_CAPABILITY = (7, 5)
INSTALL = "pip install -e '.[gpu,cluster]' -c cluster/gpu-constraints.txt"


@dataclass
class Gpu:
    name: str
    capability: tuple[int, int]
    memory_gb: float


@dataclass
class Stack:
    """What one node runs; None = not installed (packages) or not found (driver)."""

    torch: str | None
    cuda: str | None  # the CUDA runtime torch was built with; None for a CPU build
    driver: str | None  # the NVIDIA kernel driver
    transformers: str | None
    deepspeed: str | None
    vllm: str | None
    gpus: list[Gpu] = field(default_factory=list)

    def versions_line(self) -> str:
        def show(value: str | None) -> str:
            return value or "not installed"

        return (
            f"torch {show(self.torch)} (CUDA {self.cuda or 'none: a CPU build'}), driver {self.driver or 'none found'}, "
            f"vLLM {show(self.vllm)}, transformers {show(self.transformers)}, DeepSpeed {show(self.deepspeed)}"
        )


def pinned_versions() -> dict[str, str]:
    """The gpu extra's exact pins, read from the installed package's metadata (pyproject.toml)."""
    pins = {}
    for line in requires("steper") or []:
        req = Requirement(line)
        exact = [spec.version for spec in req.specifier if spec.operator == "=="]
        if req.marker and req.marker.evaluate({"extra": "gpu"}) and exact:
            pins[req.name] = exact[0]
    return pins


def release(text: str) -> Version:
    """A package version without its local build tag ("2.14.0+cu130" -> 2.14.0)."""
    return Version(Version(text).base_version)


def dotted(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def problems(stack: Stack, pins: dict[str, str]) -> list[str]:
    """Why this node cannot run the pinned stack's GPU jobs; empty when it can."""
    found = []
    if stack.vllm and "vllm" in pins and release(stack.vllm) < release(pins["vllm"]):
        found.append(f"vLLM {stack.vllm} is older than the pinned {pins['vllm']}: {INSTALL}")
    if stack.cuda and dotted(stack.cuda) < dotted(MIN_CUDA):
        found.append(f"torch {stack.torch} is built for CUDA {stack.cuda}; the pinned stack is CUDA {MIN_CUDA} (torch {pins.get('torch')}): {INSTALL}")
    if stack.driver and dotted(stack.driver) < dotted(MIN_DRIVER):
        found.append(f"NVIDIA driver {stack.driver} is older than CUDA {MIN_CUDA} needs (>= {MIN_DRIVER}): ask the site for a newer driver")
    for index, gpu in enumerate(stack.gpus):
        if gpu.capability < MIN_COMPUTE_CAPABILITY:
            have, need = (".".join(map(str, capability)) for capability in (gpu.capability, MIN_COMPUTE_CAPABILITY))
            found.append(f"GPU {index} ({gpu.name}) has compute capability {have}; CUDA {MIN_CUDA} and vLLM need {need} or newer")
    if stack.driver and stack.cuda and not stack.gpus:
        found.append(f"the driver ({stack.driver}) is there but torch {stack.torch} sees no CUDA device "
                     f"(CUDA_VISIBLE_DEVICES empty, or the driver too old for CUDA {stack.cuda})")
    return found


def notes(stack: Stack, pins: dict[str, str]) -> list[str]:
    """Installed versions that differ from the pins without being too old: they may work, untested."""
    out = []
    for name in ("torch", "transformers", "deepspeed", "vllm"):
        have = getattr(stack, name)
        if have and name in pins and release(have) != release(pins[name]):
            out.append(f"{name} {have} is not the tested {pins[name]}")
    return out


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def driver_version(proc_file: str | Path = "/proc/driver/nvidia/version") -> str | None:
    """The NVIDIA kernel driver's version: nvidia-smi's answer, else the kernel module's file."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=60
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.split()[0]
    except (FileNotFoundError, subprocess.TimeoutExpired):
        pass
    try:
        match = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+(?:\.\d+)+)", Path(proc_file).read_text())
    except OSError:
        return None
    return match.group(1) if match else None


def probe() -> Stack:
    """This process's stack (imports torch and initialises CUDA: run it in a worker process)."""
    import torch

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(Gpu(props.name, (props.major, props.minor), round(props.total_memory / 2**30, 1)))
    return Stack(
        torch=torch.__version__,
        cuda=torch.version.cuda,
        driver=driver_version(),
        transformers=package_version("transformers"),
        deepspeed=package_version("deepspeed"),
        vllm=package_version("vllm"),
        gpus=gpus,
    )
