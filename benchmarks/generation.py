"""Benchmark: generation against the machine's peak and against transformers' generate() and llama.cpp.

One run measures, side by side on this machine:
- the fp32/bf16 matmul peak (GFLOP/s) that the other figures are fractions of;
- prefill throughput of the model body and its fraction of the fp32 peak (MFU);
- one decode step of steper's backend at batch 16 against one forward pass of the 16 new tokens;
- IRCoT-shaped questions (`ircot_prompts`: 3 steps, each prompt = demonstrations + passages so
  far + question + chain) generated greedily with the same prompts and new-token count by steper's
  backend (prefix reuse on and off), transformers' batched `generate()` and llama.cpp
  (`llama-cpp-python`, one prompt at a time, its own prefix reuse between consecutive prompts),
  and steper's backend as it ran before (bf16, no prefix reuse):
  tokens/s, seconds per question, prefilled tokens per question, and output agreement.
Nothing is asserted; wall times depend on what else runs, so CPU time and the load average are kept.

    python benchmarks/generation.py --model results/demo/models/smollm2-135m \
        --gguf SmolLM2-135M-Instruct.Q4_1.gguf --output benchmarks/results/generation.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import torch

from steper.io import setup_logging, write_json
from steper.models.backends import make_backend
from steper.models.generation import GenerationSettings
from steper.models.loading import load_causal_lm
from steper.models.precision import bf16_caps
from steper.models.prompting import encode
from steper.models.transformers_backend import shared_prefix_length

sys.path.insert(0, str(Path(__file__).parent))
from ircot_prompts import questions  # noqa: E402

log = logging.getLogger("benchmarks.generation")


def timed(function, *args, **kwargs):
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, {
        "seconds": round(time.perf_counter() - start, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def matmul_peak(dtype: torch.dtype, size: int, repeats: int) -> float:
    """Best GFLOP/s of an n x n matmul over `repeats` runs (after one warm-up)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def body_parameters(model) -> int:
    """Parameters a token's forward pass multiplies with, without the embedding table (a lookup)."""
    embedding = model.get_input_embeddings().weight.numel()
    return sum(p.numel() for p in model.model.parameters()) - embedding


def attention_flops(model, rows: int, length: int) -> float:
    """QK^T and AV of causal self-attention over `length` tokens (half the square), all layers."""
    config = model.config
    return rows * 2 * 2 * config.num_hidden_layers * config.hidden_size * length * length / 2


@torch.inference_mode()
def prefill(model_dir: str, rows: int, length: int, peak: float) -> dict:
    model, _ = load_causal_lm(model_dir, "float32")
    ids = torch.randint(100, 40000, (rows, length))
    model.model(input_ids=ids[:1, :32])
    best = min(_seconds(lambda: model.model(input_ids=ids, use_cache=False)) for _ in range(2))
    flops = 2 * body_parameters(model) * rows * length + attention_flops(model, rows, length)
    return {
        "rows": rows, "length": length, "seconds": round(best, 3),
        "tokens_per_second": round(rows * length / best, 1),
        "gflops": round(flops / best / 1e9, 1),
        "mfu_fp32": round(flops / best / 1e9 / peak, 3),
    }


@torch.inference_mode()
def decode_step(model_dir: str, prompts, batch: int, steps: int, peak: float) -> dict:
    """Seconds per decode step at `batch` rows vs one plain forward of the `batch` new tokens (no cache)."""
    backend = make_backend(model_dir, GenerationSettings(dtype="float32", batch_size=batch))
    backend.generate(prompts, 1, [])  # prefill and keep every prompt
    (_, first) = timed(backend.generate, prompts, 1, [])  # only each prompt's last token is prefilled
    before = backend.stats["decode_steps"]
    outputs, full = timed(backend.generate, prompts, steps + 1, [])
    decode_steps = backend.stats["decode_steps"] - before
    step = (full["seconds"] - first["seconds"]) / decode_steps
    model = backend.model
    ids = torch.randint(100, 40000, (batch, 1))
    model(input_ids=ids)
    forward = min(_seconds(lambda: model(input_ids=ids, use_cache=False)) for _ in range(3))
    context = sum(len(row) for row in encode(backend.tokenizer, prompts, False)) / len(prompts)
    flops = batch * 2 * (body_parameters(model) + model.get_output_embeddings().weight.numel())
    flops += batch * 2 * 2 * model.config.num_hidden_layers * model.config.hidden_size * context
    return {
        "batch": batch, "decode_steps": decode_steps, "mean_context_tokens": round(context),
        "rows_generating": [generation.completion_tokens for generation in outputs],
        "step_seconds": round(step, 4),
        "forward_of_new_tokens_seconds": round(forward, 4),
        "ratio": round(step / forward, 2),
        "tokens_per_second": round(batch / step, 1),
        "mfu_fp32": round(flops / step / 1e9 / peak, 3),
    }


def ircot_steper(model_dir: str, qs, settings: GenerationSettings, new_tokens: int) -> dict:
    backend = make_backend(model_dir, settings)
    backend.generate([qs[0].steps[0]], 2, [])  # warm-up (its prompt stays cached: only the demonstrations matter)
    backend.stats = dict.fromkeys(backend.stats, 0)

    def run():
        return [backend.generate([q.steps[step] for q in qs], new_tokens, []) for step in range(len(qs[0].steps))]

    steps, timing = timed(run)
    rows = [encode(backend.tokenizer, [q.steps[step] for q in qs], False) for step in range(len(qs[0].steps))]
    return _summary("steper", steps, timing, len(qs)) | {
        "settings": {"batch_size": settings.batch_size, "prefix_caching": settings.prefix_caching, "dtype": backend.dtype_name},
        "prefilled_tokens_per_question": round(backend.stats["prefill_tokens"] / len(qs), 1),
        "prefilled_tokens_per_question_batch_prefix_only": round(batch_prefix_only(rows, settings.batch_size) / len(qs), 1),
        "prompt_tokens_per_question": round(backend.stats["prompt_tokens"] / len(qs), 1),
    }


@torch.inference_mode()
def ircot_transformers(model_dir: str, qs, batch: int, new_tokens: int) -> dict:
    from steper.models.generation import Generation

    model, tokenizer = load_causal_lm(model_dir, "float32")

    def generate(prompts):
        out = []
        for start in range(0, len(prompts), batch):
            texts = [prompt.plain for prompt in prompts[start : start + batch]]
            inputs = tokenizer(texts, return_tensors="pt", padding=True)
            ids = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)[:, inputs["input_ids"].shape[1] :]
            for row, mask in zip(ids, inputs["attention_mask"]):
                tokens = [t for t in row.tolist() if t != tokenizer.pad_token_id]
                out.append(Generation(tokenizer.decode(tokens, skip_special_tokens=True), int(mask.sum()), len(tokens)))
        return out

    generate([qs[0].steps[0]])
    steps, timing = timed(lambda: [generate([q.steps[step] for q in qs]) for step in range(len(qs[0].steps))])
    prompt_tokens = sum(g.prompt_tokens for step in steps for g in step)
    return _summary("transformers generate()", steps, timing, len(qs)) | {
        "settings": {"batch_size": batch, "dtype": "float32", "attention": model.config._attn_implementation},
        "prefilled_tokens_per_question": round(sum(batch_padded(step, batch) for step in steps) / len(qs), 1),
        "prompt_tokens_per_question": round(prompt_tokens / len(qs), 1),
    }


def batch_prefix_only(steps: list[list[list[int]]], batch: int) -> int:
    """Positions the previous backend prefilled: a batch's common prefix once (kept while it stays the
    same), then every row's rest, padded to the batch's longest; nothing kept between a question's steps."""
    total, kept = 0, None
    for rows in steps:
        ordered = sorted(rows, key=len, reverse=True)
        for start in range(0, len(ordered), batch):
            part = ordered[start : start + batch]
            shared = shared_prefix_length(part)
            if kept != part[0][:shared]:
                total += shared
                kept = part[0][:shared]
            total += len(part) * max(len(row) - shared for row in part)
    return total


def batch_padded(generations, batch: int) -> int:
    """Positions a left-padded batched prefill computes: each batch is as wide as its longest prompt."""
    total = 0
    for start in range(0, len(generations), batch):
        part = generations[start : start + batch]
        total += len(part) * max(g.prompt_tokens for g in part)
    return total


def ircot_llama_cpp(gguf: str, model_dir: str, qs, new_tokens: int, threads: int) -> dict:
    from llama_cpp import Llama

    from steper.models.generation import Generation
    from steper.models.loading import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    rows = [[encode(tokenizer, [q.steps[step]], False)[0] for q in qs] for step in range(len(qs[0].steps))]
    longest = max(len(row) for step in rows for row in step)
    llm = Llama(model_path=gguf, n_ctx=longest + new_tokens + 8, n_threads=threads, n_batch=512, verbose=False)
    prefilled = 0

    def generate(ids):
        nonlocal prefilled
        kept = _common(llm._input_ids.tolist(), ids)
        prefilled += len(ids) - min(kept, len(ids) - 1)
        out = llm.create_completion(ids, max_tokens=new_tokens, temperature=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0)
        usage = out["usage"]
        return Generation(out["choices"][0]["text"], usage["prompt_tokens"], usage["completion_tokens"])

    generate(rows[0][0][:16])
    prefilled = 0
    steps, timing = timed(lambda: [[generate(ids) for ids in step] for step in rows])
    return _summary("llama.cpp", steps, timing, len(qs)) | {
        "settings": {"threads": threads, "weights": Path(gguf).name, "batch_size": 1},
        "prefilled_tokens_per_question": round(prefilled / len(qs), 1),
        "prompt_tokens_per_question": round(sum(len(r) for step in rows for r in step) / len(qs), 1),
    }


def _common(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def _summary(name: str, steps, timing: dict, n_questions: int) -> dict:
    completion = sum(g.completion_tokens for step in steps for g in step)
    prompt = sum(g.prompt_tokens for step in steps for g in step)
    return {
        "system": name, **timing,
        "seconds_per_question": round(timing["seconds"] / n_questions, 3),
        "questions_per_second": round(n_questions / timing["seconds"], 4),
        "completion_tokens": completion,
        "completion_tokens_per_second": round(completion / timing["seconds"], 2),
        "total_tokens_per_second": round((prompt + completion) / timing["seconds"], 2),
        "outputs": [[g.text for g in step] for step in steps],
    }


def agreement(first: dict, second: dict) -> float:
    pairs = [(a, b) for sa, sb in zip(first["outputs"], second["outputs"]) for a, b in zip(sa, sb)]
    return round(sum(a == b for a, b in pairs) / len(pairs), 3)


# steper_before: the backend as it ran before precision-by-hardware and prefix reuse (bf16, no reuse)
SYSTEMS = ("steper", "steper_no_reuse", "steper_before", "transformers", "llama_cpp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="converted SmolLM2 directory (fp32/bf16 safetensors)")
    parser.add_argument("--gguf", help="the GGUF file the model was converted from (for llama.cpp)")
    parser.add_argument("--output", default="benchmarks/results/generation.json")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"subset of {','.join(SYSTEMS)}")
    parser.add_argument("--no-kernels", dest="kernels", action="store_false", help="skip the prefill and decode-step figures")
    args = parser.parse_args()
    setup_logging()
    threads = torch.get_num_threads()
    figures: dict = {
        "command": " ".join([*(f"{k}={v}" for k, v in bf16_caps().items()), Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": platform.processor() or platform.machine(), "kernel_caps": bf16_caps(), "threads": threads, "torch": torch.__version__,
        "model": args.model,
    }
    peak32 = max(matmul_peak(torch.float32, size, 3) for size in (1024, 2048))
    figures["matmul_peak_gflops"] = {"float32": round(peak32, 1), "bfloat16": round(matmul_peak(torch.bfloat16, 512, 2), 1)}
    log.info("matmul peak: %s", figures["matmul_peak_gflops"])
    qs = questions(args.questions)
    if args.kernels:
        figures["prefill"] = prefill(args.model, 4, 256, peak32)
        log.info("prefill: %s", figures["prefill"])
        figures["decode"] = decode_step(args.model, [q.steps[-1] for q in qs[: args.batch_size]], args.batch_size, 16, peak32)
        log.info("decode: %s", figures["decode"])
    systems = args.systems.split(",")
    runs = {}
    if "steper" in systems:
        runs["steper"] = ircot_steper(args.model, qs, GenerationSettings(dtype="float32", batch_size=args.batch_size), args.new_tokens)
    if "steper_no_reuse" in systems:
        settings = GenerationSettings(dtype="float32", batch_size=args.batch_size, prefix_caching=False)
        runs["steper_no_reuse"] = ircot_steper(args.model, qs, settings, args.new_tokens)
    if "steper_before" in systems:
        settings = GenerationSettings(dtype="bfloat16", batch_size=args.batch_size, prefix_caching=False)
        runs["steper_before"] = ircot_steper(args.model, qs, settings, args.new_tokens)
    if "transformers" in systems:
        runs["transformers"] = ircot_transformers(args.model, qs, args.batch_size, args.new_tokens)
    if "llama_cpp" in systems and args.gguf:
        try:
            runs["llama_cpp"] = ircot_llama_cpp(args.gguf, args.model, qs, args.new_tokens, threads)
        except ImportError as error:
            runs["llama_cpp"] = {"system": "llama.cpp", "error": f"llama_cpp not importable: {error}"}
    for name, run in runs.items():
        log.info("%s: %s", name, {k: v for k, v in run.items() if k != "outputs"})
    reference = runs.get("transformers")
    for name, run in runs.items():
        if reference is not None and name != "transformers" and "outputs" in run:
            run["identical_outputs_vs_transformers"] = agreement(run, reference)
    figures["ircot"] = {"questions": args.questions, "steps": len(qs[0].steps), "new_tokens": args.new_tokens, "systems": runs}
    if "steper" in runs and "outputs" in runs["steper"]:
        figures["ircot"]["steper_speedup"] = {
            name: round(runs["steper"]["questions_per_second"] / run["questions_per_second"], 2)
            for name, run in runs.items() if name != "steper" and "questions_per_second" in run
        }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, figures)
    printable = {k: v for k, v in figures.items() if k != "ircot"}
    printable["ircot"] = {name: {k: v for k, v in run.items() if k != "outputs"} for name, run in runs.items()}
    printable["steper_speedup"] = figures["ircot"].get("steper_speedup")
    print(json.dumps(printable, indent=2))


if __name__ == "__main__":
    main()
