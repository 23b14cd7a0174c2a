"""Which floating-point type a stage computes in, chosen from what the hardware runs fast.

CPUs without native bf16 (AVX2-only x86, no AVX-512-BF16 or AMX) emulate bf16 matmuls: measured
on one such machine, a 1024² matmul runs at 34 GFLOP/s in fp32 and 0.9 in bf16. GPUs with bf16
support and CPUs with AVX-512-BF16/AMX run bf16 faster than fp32: on a 2-core EPYC with AVX-512-BF16,
bf16 autocast trained 1.7x faster and generated 1.6x faster than fp32 (benchmarks/README.md).
So "auto" means bf16 where it is native and fp32 elsewhere; any explicit name overrides it.
A CPU whose kernels are capped below bf16 (oneDNN's ONEDNN_MAX_CPU_ISA, ATen's ATEN_CPU_CAPABILITY)
emulates bf16 like one without the instructions (1.1 GFLOP/s vs 118 fp32 for a 1024² matmul on the
EPYC above capped at AVX2), so it counts as not native: the caps also make that CPU stand in for an
AVX2-only one in benchmarks.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from steper.io import InputError

log = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
CHOICES: tuple[str, ...] = ("auto", *DTYPES)
# /proc/cpuinfo flags that mean the CPU computes bf16 natively.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# Kernel caps (environment variable -> values below bf16): oneDNN runs the matmuls, ATen the rest.
CAPS_WITHOUT_BF16 = {
    "ONEDNN_MAX_CPU_ISA": ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"),
    "ATEN_CPU_CAPABILITY": ("DEFAULT", "AVX2"),
}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags Linux reports (empty where /proc/cpuinfo does not exist)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def bf16_caps(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel caps set in the environment that keep the CPU's bf16 instructions unused."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name, below in CAPS_WITHOUT_BF16.items() if environ.get(name, "").strip().upper() in below}


def native_bf16(device: str | torch.device = "cpu", flags: set[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `device` computes bf16 natively (so bf16 is not slower than fp32 there)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        flags = cpu_flags() if flags is None else flags
        return any(flag in flags for flag in NATIVE_BF16_FLAGS) and not bf16_caps(environ)
    return False


def resolve_dtype_name(name: str, device: str | torch.device = "cpu", flags: set[str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The dtype name a stage uses: `name` itself, or for "auto" bf16 where native and fp32 elsewhere."""
    if name not in CHOICES:
        raise InputError("--settings", f"unknown dtype {name!r} (known: {', '.join(CHOICES)})", field="dtype")
    if name != "auto":
        return name
    chosen = "bfloat16" if native_bf16(device, flags, environ) else "float32"
    caps = bf16_caps(environ) if torch.device(device).type == "cpu" else {}
    log.info("dtype auto -> %s on %s%s", chosen, torch.device(device).type, f" (kernels capped: {caps})" if caps else "")
    return chosen


def generation_device(backend: str) -> str:
    """Where a generation backend computes: vLLM on GPUs, transformers on a GPU when there is one."""
    return "cuda" if backend == "vllm" or torch.cuda.is_available() else "cpu"


def stored_dtype(model_dir: str | Path) -> str | None:
    """The dtype a model's weights are stored in, as its config.json says (None if it does not)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("dtype", config.get("torch_dtype"))
    return name if isinstance(name, str) else None


def precision_record(model_dir: str | Path, dtype: str, backend: str) -> dict[str, str | None]:
    """What a result file records of its precision: the model's storage dtype, the compute dtype
    setting and what it resolved to on this machine (`auto` differs between machines)."""
    return {
        "storage_dtype": stored_dtype(model_dir),
        "compute_dtype_setting": dtype,
        "compute_dtype": resolve_dtype_name(dtype, generation_device(backend)),
    }
