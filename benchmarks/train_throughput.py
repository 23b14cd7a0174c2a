"""Training throughput of the student step, before and after, side by side on the same batches.

- before: the LM head on every position of the batch (the plain HF causal-LM loss path) under bf16
  autocast (what `training.bf16: true` did on a CPU; the earlier trainer cut the head to the batch's
  last max-completion-length positions, between this and "after");
- full head in fp32: the dtype change alone;
- after: the trainer's `StepwiseModel` (body once, LM head on the completion positions only) in fp32,
  the dtype `training.dtype: auto` picks on a CPU without native bf16;
- the same under bf16 autocast, what "auto" picks on a CPU with AVX-512-BF16 or AMX.

Each variant runs forward + backward + AdamW step on the same length-grouped batches of synthetic
step-wise examples of IRCoT-like lengths, interleaved batch by batch so that all see the same load
of a shared machine, and reports real (non-pad) tokens per wall and per CPU second and model-FLOP
utilisation against the fp32 matmul peak measured in the same run (the better of a measurement
before and after the steps). Model FLOPs count what the step
needs: 6 x body parameters per real token (+ attention), 6 x head parameters per completion token;
a wasteful variant therefore shows a low MFU. The bf16 variants, slow on CPUs without native bf16,
can be cut to fewer batches (`--before-batches`, `--bf16-batches`, no warm-up step): a rate does not
need the whole epoch.

    python benchmarks/train_throughput.py --model results/demo/models/smollm2-135m --layers 4 --examples 12 --batch-size 2
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from steper.io import setup_logging, write_json
from steper.models.precision import bf16_caps, cpu_flags, resolve_dtype_name
from steper.models.prune import prune_layers
from steper.stepwise.kinds import KINDS
from steper.train.batching import collate, encode_example, mixed_batches
from steper.train.losses import DifficultyAwareWeighting, ObjectiveScale
from steper.train.trainer import StepwiseModel

log = logging.getLogger("train_throughput")

WORDS = ("river town novel author born director film singer album river valley market north south old new "
         "founded known written produced released village county province early career studied later moved").split()
PASSAGES_PER_KIND = {"first": 2, "mid": 4, "final": 6}


def passage(rng: random.Random) -> str:
    title = " ".join(w.capitalize() for w in rng.sample(WORDS, 2))
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 14))).capitalize() + "." for _ in range(rng.randint(2, 3))]
    return f"Wikipedia Title: {title}\n{' '.join(sentences)}\n\n"


def synthetic_examples(n: int, seed: int) -> list[dict]:
    """Chain-target examples: the prompt is passages + question, the completion the chain so far."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        kind = KINDS[i % 3]
        steps = {"first": 1, "mid": rng.randint(2, 3), "final": rng.randint(3, 4)}[kind]
        context = "".join(passage(rng) for _ in range(PASSAGES_PER_KIND[kind] + rng.randint(-1, 1)))
        context += f"Q: Answer the following question by reasoning step-by-step.\n{' '.join(rng.choices(WORDS, k=10))}?\nA:"
        completion = "".join(" " + " ".join(rng.choices(WORDS, k=rng.randint(8, 14))).capitalize() + "." for _ in range(steps))
        if kind == "final":
            completion += " So the answer is: " + rng.choice(WORDS).capitalize() + "."
        examples.append({"id": f"b{i // 3}", "kind": kind, "step": steps, "prompt": context,
                         "completion": completion, "context": context, "continuation": ""})
    return examples


def matmul_peak(size: int, repeats: int) -> dict:
    """Best fp32 (and bf16) GFLOP/s of a size x size matmul on this process's threads."""
    peak = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        a @ b
        best = float("inf")
        for _ in range(repeats if dtype == torch.float32 else 1):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
        peak[f"{name}_gflops"] = round(2 * size**3 / best / 1e9, 1)
    return peak


def model_flops(config, real_tokens: int, completion_tokens: int, lengths: list[int], body_params: int, head_params: int) -> float:
    """What one training pass over the batches needs (fwd + bwd = 3 x fwd)."""
    # QK^T and AV: 2 x 2 x n^2 x d per layer forward, halved by the causal mask, x3 for backward
    attention = sum(6 * config.num_hidden_layers * config.hidden_size * n * n for n in lengths)
    return 6 * body_params * real_tokens + 6 * head_params * completion_tokens + attention


class Variant:
    """One way of computing the training step: its own copy of the model and its own optimizer."""

    def __init__(self, name: str, student, autocast: torch.dtype | None, gathered: bool, scale: ObjectiveScale, batches: int):
        self.name, self.student, self.autocast, self.gathered, self.batches = name, student, autocast, gathered, batches
        self.model = StepwiseModel(student, DifficultyAwareWeighting(), scale)
        # fused, as the HF Trainer's default optimizer (adamw_torch_fused) is
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-6, fused=True)
        self.wall = self.cpu = 0.0

    def step(self, batch: dict) -> None:
        """Forward + backward + optimizer step."""
        context = torch.autocast("cpu", dtype=self.autocast) if self.autocast is not None else contextlib.nullcontext()
        with context:
            if self.gathered:
                loss = self.model(**batch)["loss"]
            else:
                inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids", "labels")}
                loss = self.student(**inputs, use_cache=False).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()

    def timed_step(self, batch: dict) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.step(batch)
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/demo/models/smollm2-135m",
                        help="a converted model (snakemake --configfile config/demo.yaml results/demo/models/smollm2-135m)")
    parser.add_argument("--layers", type=int, default=4, help="keep this many evenly spaced layers (0 = all)")
    parser.add_argument("--examples", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--before-batches", type=int, default=1, help="batches timed for the bf16 variant (slow on CPUs without native bf16)")
    parser.add_argument("--bf16-batches", type=int, default=None, help="batches timed for the completion-head bf16 variant (default: all; 0: skip it)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "train_throughput.json"))
    args = parser.parse_args(argv)
    caps = [f"{name}={value}" for name, value in bf16_caps().items()]  # the command re-runs only with them
    setup_logging()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    peak = matmul_peak(1024, 5)
    log.info("matmul peak: %s", peak)
    examples = synthetic_examples(args.examples, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model)
        base_layers = json.loads((model_dir / "config.json").read_text())["num_hidden_layers"]
        if args.layers and args.layers < base_layers:
            keep = sorted({round(i * (base_layers - 1) / (args.layers - 1)) for i in range(args.layers)})
            prune_layers(model_dir, keep, Path(tmp) / "pruned")
            model_dir = Path(tmp) / "pruned"
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    features = [encode_example(tokenizer, e, KINDS.index(e["kind"]), 2048, False) for e in examples]
    lengths = [len(f.input_ids) for f in features]
    order = mixed_batches([f.kind for f in features], lengths, args.batch_size, args.seed, group_by_length=True)
    batches = [collate([features[i] for i in rows], tokenizer.pad_token_id) for rows in order]
    scale = ObjectiveScale(len(features), len({e["id"] for e in examples}), len(KINDS))
    head_params = base.get_output_embeddings().weight.numel()
    body_params = sum(p.numel() for p in base.get_decoder().parameters()) - base.get_input_embeddings().weight.numel()
    variants = [
        Variant("before_full_head_bf16_autocast", copy.deepcopy(base), torch.bfloat16, False, scale, args.before_batches),
        Variant("full_head_fp32", copy.deepcopy(base), None, False, scale, len(batches)),
        Variant("after_completion_head_fp32", copy.deepcopy(base), None, True, scale, len(batches)),
    ]
    if args.bf16_batches != 0:
        variants.append(Variant("completion_head_bf16_autocast", copy.deepcopy(base), torch.bfloat16, True, scale, args.bf16_batches or len(batches)))
    # Warm-up, untimed, for the variants that run every batch (a bf16 variant cut to a few is too slow to afford one).
    for variant in variants:
        if variant.batches == len(batches) and variant.name != "before_full_head_bf16_autocast":
            variant.step(batches[0])
    # Interleaved batch by batch, so that every variant runs under the same load of a shared machine.
    for index, batch in enumerate(tqdm(batches, desc="batches")):
        for variant in variants:
            if index < variant.batches:
                variant.timed_step(batch)
    end_peak = matmul_peak(1024, 5)
    log.info("matmul peak at the end: %s", end_peak)
    peak = {key: max(peak[key], end_peak[key]) for key in peak}
    results = []
    for variant in variants:
        rows = [i for chunk in order[: variant.batches] for i in chunk]
        real = sum(lengths[i] for i in rows)
        completion = sum(features[i].n_completion for i in rows)
        flops = model_flops(base.config, real, completion, [lengths[i] for i in rows], body_params, head_params)
        results.append({
            "variant": variant.name, "compute_dtype": "bfloat16 autocast" if variant.autocast else "float32",
            "lm_head": "completion tokens" if variant.gathered else "every position",
            "batches": variant.batches, "real_tokens": real, "completion_tokens": completion,
            "padded_tokens": sum(int(b["input_ids"].numel()) for b in batches[: variant.batches]),
            "wall_s": round(variant.wall, 2), "cpu_s": round(variant.cpu, 2),
            "tokens_per_s": round(real / variant.wall, 1), "tokens_per_cpu_s": round(real / variant.cpu, 1),
            "model_gflops_per_s": round(flops / variant.wall / 1e9, 2),
            "mfu_vs_fp32_peak": round(flops / variant.wall / 1e9 / peak["fp32_gflops"], 3),
        })
        log.info("%s", results[-1])
    before, full_fp32, after, *after_bf16 = (result["tokens_per_s"] for result in results)
    write_json(args.output, {
        "command": " ".join([*caps, "python", "benchmarks/train_throughput.py", *(sys.argv[1:] if argv is None else argv)]),
        "model": args.model, "layers": args.layers or base_layers, "examples": args.examples, "batch_size": args.batch_size,
        "auto_dtype_here": resolve_dtype_name("auto", "cpu"), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "matmul_peak_1024": peak, "body_parameters": body_params, "head_parameters": head_params,
        "results": results, "speedup_after_vs_before": round(after / before, 1),
        "speedup_after_vs_full_head_fp32": round(after / full_fp32, 2),
        "speedup_fp32_vs_bf16_autocast": round(after / after_bf16[0], 2) if after_bf16 else None,
        "cpu_native_bf16_flags": sorted(cpu_flags() & {"avx512_bf16", "amx_bf16"}),
        "kernel_caps": bf16_caps(),
        "load_average_1min_at_end": os.getloadavg()[0],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
