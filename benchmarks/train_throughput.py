"""CPU training throughput of `steper train` with and without length-grouped batches (and bf16).

Synthesises step-wise examples of realistic IRCoT lengths (first steps ~200 prompt tokens, mid
~400, final ~600; completions 15-40 tokens), trains one epoch over the same examples per
configuration on SmolLM2-135M (optionally layer-pruned to keep the run short) and reports tokens/s
counting only real (non-pad) tokens, plus how many padded tokens each batching computed.

    python benchmarks/train_throughput.py --model results/demo/models/smollm2-135m --layers 8
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from steper.distill.batching import collate, encode_example, mixed_batches
from steper.distill.kinds import KINDS
from steper.distill.train_settings import parse_train_settings
from steper.distill.trainer import train
from steper.io import setup_logging, write_json
from steper.models.prune import prune_layers

log = logging.getLogger("train_throughput")

WORDS = ("river town novel author born director film singer album river valley market north south old new "
         "founded known written produced released village county province early career studied later moved").split()
PASSAGES_PER_KIND = {"first": 4, "mid": 8, "final": 12}


def passage(rng: random.Random) -> str:
    title = " ".join(w.capitalize() for w in rng.sample(WORDS, 2))
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 14))).capitalize() + "." for _ in range(rng.randint(2, 4))]
    return f"Wikipedia Title: {title}\n{' '.join(sentences)}\n\n"


def synthetic_examples(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        kind = KINDS[i % 3]
        steps = {"first": 0, "mid": rng.randint(1, 3), "final": rng.randint(2, 4)}[kind]
        context = "".join(passage(rng) for _ in range(PASSAGES_PER_KIND[kind] + rng.randint(-1, 1)))
        context += f"Q: Answer the following question by reasoning step-by-step.\n{' '.join(rng.choices(WORDS, k=10))}?\nA:"
        continuation = "".join(" " + " ".join(rng.choices(WORDS, k=12)).capitalize() + "." for _ in range(steps))
        completion = " " + " ".join(rng.choices(WORDS, k=rng.randint(10, 30))).capitalize() + "."
        if kind == "final":
            completion += " So the answer is: " + rng.choice(WORDS).capitalize() + "."
        examples.append({"id": f"b{i}", "kind": kind, "step": steps + 1, "prompt": context + continuation,
                         "completion": completion, "context": context, "continuation": continuation})
    return examples


def token_counts(tokenizer, examples: list[dict], batch_size: int, group_by_length: bool, seed: int, max_length: int) -> dict:
    """Real and padded tokens of one epoch, with the batches the trainer's sampler forms."""
    features = [encode_example(tokenizer, e, KINDS.index(e["kind"]), max_length, False) for e in examples]
    lengths = [len(f.input_ids) for f in features]
    batches = mixed_batches([f.kind for f in features], lengths, batch_size, seed, group_by_length)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return {"real_tokens": sum(lengths), "padded_tokens": padded, "completion_tokens": sum(f.n_completion for f in features),
            "mean_length": sum(lengths) / len(lengths), "min_length": min(lengths), "max_length": max(lengths)}


def logits_microbenchmark(model_dir: Path, tokenizer, examples: list[dict]) -> dict:
    """One forward+backward of a left-padded batch: logits of the completion positions only (what
    StepwiseModel does) versus logits of every position (the plain HF causal-LM loss path)."""
    student = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    features = [encode_example(tokenizer, e, KINDS.index(e["kind"]), 2048, False) for e in examples]
    batch = collate(features, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    first = int((batch["labels"] != -100).any(0).nonzero()[0])
    timings = {}
    for name, keep in (("completion_only", batch["input_ids"].size(1) - first + 1), ("all_positions", 0)):
        start, cpu_start = time.perf_counter(), time.process_time()
        out = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      position_ids=batch["position_ids"], logits_to_keep=keep)
        out.logits.float().logsumexp(-1).mean().backward()
        student.zero_grad()
        timings[name] = {"logit_positions": keep or batch["input_ids"].size(1),
                         "wall_s": round(time.perf_counter() - start, 2), "cpu_s": round(time.process_time() - cpu_start, 2)}
        log.info("logits %s: %s", name, timings[name])
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="results/demo/models/smollm2-135m", help="a converted model (snakemake --configfile config/demo.yaml results/demo/models/smollm2-135m)")
    parser.add_argument("--layers", type=int, default=8, help="keep this many evenly spaced layers (0 = all)")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", default="nogroup-fp32,group-fp32,group-bf16,nogroup-bf16")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "train_throughput.json"))
    args = parser.parse_args(argv)
    setup_logging()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    examples = synthetic_examples(args.examples, args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "examples.jsonl"
        data.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
        model_dir = Path(args.model)
        base_layers = json.loads((model_dir / "config.json").read_text())["num_hidden_layers"]
        if args.layers and args.layers < base_layers:
            keep = sorted({round(i * (base_layers - 1) / (args.layers - 1)) for i in range(args.layers)})
            prune_layers(model_dir, keep, tmp / "pruned")
            model_dir = tmp / "pruned"
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        for name in args.configs.split(","):
            grouping, precision = name.split("-")
            group = grouping == "group"
            settings = parse_train_settings({
                "method": {"loss": "difficulty_aware"},
                "training": {"lr": 5e-6, "epochs": 1, "batch_size": args.batch_size, "group_by_length": group,
                             "bf16": precision == "bf16", "seed": args.seed, "log_every": 1000, "max_length": 2048},
            })
            counts = token_counts(tokenizer, examples, args.batch_size, group, args.seed, 2048)
            start, cpu_start = time.perf_counter(), time.process_time()
            summary = train(data, model_dir, tmp / f"out-{name}", settings)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            runtime = summary["train_runtime"]
            results.append({
                "config": name, "group_by_length": group, "bf16": precision == "bf16", **counts,
                "steps": summary["steps"], "train_runtime_s": round(runtime, 2), "wall_s_incl_load_save": round(wall, 2),
                "tokens_per_s": round(counts["real_tokens"] / runtime, 1),
                "cpu_s_incl_load_save": round(cpu, 2),
                "tokens_per_cpu_s": round(counts["real_tokens"] / cpu, 1),
                "padding_overhead": round(counts["padded_tokens"] / counts["real_tokens"] - 1, 4),
                "train_loss": summary["train_loss"],
            })
            log.info("%s: %.1f real tokens/s, %.1f per CPU-s (%.1f%% padding)", name, results[-1]["tokens_per_s"],
                     results[-1]["tokens_per_cpu_s"], 100 * results[-1]["padding_overhead"])
        logits = logits_microbenchmark(model_dir, tokenizer, examples[: args.batch_size])
    write_json(args.output, {
        "command": " ".join([Path(sys.executable).name, "benchmarks/train_throughput.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": args.model, "layers": args.layers or base_layers, "examples": args.examples, "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "load_average_1min_at_end": os.getloadavg()[0], "results": results, "completion_logits_only": logits,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
