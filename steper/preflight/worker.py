"""The preflight's components that touch a device, each run as its own process:

    python -m steper.preflight.worker <component> <workdir> [<gpus>]

A component that initialises CUDA keeps its context until its process ends, and vLLM refuses to
start when another process holds GPU memory: so the preflight itself never imports torch, and each
of these runs in a fresh process that reports one line, `PREFLIGHT {"status", "detail", ...}`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

MARK = "PREFLIGHT "
MAX_NEW_TOKENS = 16


def report(status: str, detail: str, **info: Any) -> dict[str, Any]:
    return {"status": status, "detail": detail, **info}


def stack(workdir: Path, gpus: int) -> dict[str, Any]:
    from steper.preflight.stack import MIN_DRIVER, notes, pinned_versions, probe, problems

    found = probe()
    pins = pinned_versions()
    info = {"stack": asdict(found), "versions": found.versions_line(), "gpus": len(found.gpus)}
    gpus = ", ".join(f"{gpu.name} (compute capability {gpu.capability[0]}.{gpu.capability[1]}, {gpu.memory_gb} GB)" for gpu in found.gpus)
    if failed := problems(found, pins):
        return report("FAIL", "; ".join(failed), **info)
    if not found.gpus:
        return report("SKIP", f"no CUDA device (torch {found.torch}, CUDA {found.cuda or 'none'}): driver and GPUs not checked", **info)
    untested = notes(found, pins)
    detail = f"{len(found.gpus)} GPU(s): {gpus}; driver {found.driver} >= {MIN_DRIVER}, CUDA {found.cuda}"
    return report("PASS", detail + (f"; untested versions: {', '.join(untested)}" if untested else ""), **info)


def model(workdir: Path, gpus: int) -> dict[str, Any]:
    from steper.models.tiny import build_random_model
    from steper.preflight.inputs import MODEL, write_corpus, write_examples

    start = time.monotonic()
    corpus = write_corpus(workdir / "corpus.jsonl")
    write_examples(workdir / "examples.jsonl")
    build_random_model([corpus], workdir / "model", MODEL)
    return report("PASS", f"tiny random Llama ({MODEL.layers} layers, hidden {MODEL.hidden_size}, {MODEL.heads} heads) and its "
                  f"tokenizer built from {corpus.name} in {time.monotonic() - start:.0f} s")


def _generate(workdir: Path, backend_name: str, tensor_parallel: int) -> dict[str, Any]:
    """Greedy generation through steper's backend, checked against the tokenizer the rules load."""
    from steper.models.backends import make_backend
    from steper.models.generation import GenerationSettings
    from steper.models.loading import load_tokenizer
    from steper.models.prompting import encode
    from steper.preflight.inputs import MAX_MODEL_LEN, prompts

    settings = GenerationSettings(backend=backend_name, batch_size=8, tensor_parallel_size=tensor_parallel, max_model_len=MAX_MODEL_LEN)
    start = time.monotonic()
    backend = make_backend(workdir / "model", settings)
    loaded = time.monotonic() - start
    batch = prompts()
    outputs = backend.generate(batch, MAX_NEW_TOKENS, stop=["\n"])
    seconds = time.monotonic() - start - loaded
    expected = [len(ids) for ids in encode(load_tokenizer(workdir / "model"), batch, chat_template=False)]
    got = [output.prompt_tokens for output in outputs]
    new = sum(output.completion_tokens for output in outputs)
    where = f"{len(batch)} prompts, {backend.dtype_name}, loaded in {loaded:.0f} s, {new} new tokens in {seconds:.1f} s"
    if len(outputs) != len(batch) or got != expected:
        return report("FAIL", f"{where}: prompt tokens {got} differ from the tokenizer's {expected}")
    if new == 0:
        return report("FAIL", f"{where}: nothing generated")
    return report("PASS", where, texts=[output.text for output in outputs])


def transformers(workdir: Path, gpus: int) -> dict[str, Any]:
    import torch

    result = _generate(workdir, "transformers", 1)
    result["detail"] = f"on {'cuda' if torch.cuda.is_available() else 'cpu'}: {result['detail']}"
    return result


def vllm(workdir: Path, gpus: int) -> dict[str, Any]:
    from steper.preflight.inputs import tensor_parallel_size

    size = tensor_parallel_size(gpus)
    result = _generate(workdir, "vllm", size)
    result["detail"] = f"tensor parallel over {size} of {gpus} GPU(s): {result['detail']}"
    return result


def probe(workdir: Path, gpus: int) -> dict[str, Any]:
    """What a Slurm job of the profile sees: its job id, the GPUs Slurm gave it, and CUDA's view."""
    import torch

    env = {key: os.environ.get(key) for key in ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES")}
    devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    given = env["SLURM_JOB_GPUS"] or env["CUDA_VISIBLE_DEVICES"] or "none"
    where = f"Slurm job {env['SLURM_JOB_ID']} on {socket.gethostname()} (partition {env['SLURM_JOB_PARTITION']}), GPU ids from Slurm: {given}"
    if not env["SLURM_JOB_ID"]:
        return report("FAIL", f"not run by Slurm ({where})", env=env)
    if devices < 1:
        return report("FAIL", f"{where}; torch {torch.__version__} sees no CUDA device in the job", env=env)
    return report("PASS", f"{where}; torch sees {devices} CUDA device(s)", env=env)


COMPONENTS = {"stack": stack, "model": model, "transformers": transformers, "vllm": vllm, "probe": probe}


def main(argv: list[str]) -> int:
    name, workdir, gpus = argv
    try:
        result = COMPONENTS[name](Path(workdir), int(gpus))
    except Exception as error:  # a component's failure is its result, reported like any other
        import traceback

        traceback.print_exc()
        result = report("FAIL", f"{type(error).__name__}: {error}")
    print(MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
