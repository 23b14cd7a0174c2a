"""Benchmark: does the answer change when only the dtype changes (fp32 vs bf16)?

The same model and the same IRCoT-shaped prompts (`ircot_prompts`, the step whose chain already
names the work's creator, so the next sentence should give the birthplace) are generated greedily
in fp32 and in bf16. Per question, Acc (the gold answer inside the normalised output, as
`steper.metrics.accuracy` scores it) is compared with a paired bootstrap interval and the exact
McNemar test; identical outputs and seconds are recorded too.

    python benchmarks/dtype_agreement.py --model results/demo/models/smollm2-135m --questions 64 \
        --output benchmarks/results/dtype_agreement.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from steper.evaluate.bootstrap import BootstrapSettings, bootstrap_mean, mcnemar_exact, paired_difference
from steper.io import setup_logging, write_json
from steper.metrics import accuracy
from steper.models.backends import make_backend
from steper.models.generation import GenerationSettings
from steper.models.precision import resolve_dtype_name

sys.path.insert(0, str(Path(__file__).parent))
from ircot_prompts import questions  # noqa: E402


def generate(model: str, dtype: str, prompts, batch_size: int, new_tokens: int) -> tuple[list[str], float]:
    backend = make_backend(model, GenerationSettings(dtype=dtype, batch_size=batch_size))
    start = time.perf_counter()
    texts = [g.text for g in backend.generate(prompts, new_tokens, ["\n"])]
    return texts, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--step", type=int, default=2, help="which IRCoT step's prompt (1-3)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--output", default="benchmarks/results/dtype_agreement.json")
    args = parser.parse_args()
    setup_logging()
    qs = questions(args.questions)
    prompts = [q.steps[args.step - 1] for q in qs]
    outputs, seconds, scores = {}, {}, {}
    for dtype in ("float32", "bfloat16"):
        outputs[dtype], seconds[dtype] = generate(args.model, dtype, prompts, args.batch_size, args.new_tokens)
        scores[dtype] = [accuracy(text, q.answer) for text, q in zip(outputs[dtype], qs)]
    bootstrap = BootstrapSettings(resamples=10000, level=0.95, seed=0)
    figures = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "model": args.model, "questions": len(qs), "step": args.step, "new_tokens": args.new_tokens,
        "threads": torch.get_num_threads(), "auto_resolves_to": resolve_dtype_name("auto", "cpu"),
        "acc": {dtype: asdict(bootstrap_mean(scores[dtype], bootstrap)) for dtype in scores},
        "acc_difference_fp32_minus_bf16": asdict(paired_difference(scores["float32"], scores["bfloat16"], bootstrap)),
        "mcnemar": asdict(mcnemar_exact(scores["float32"], scores["bfloat16"])),
        "identical_outputs": round(sum(a == b for a, b in zip(outputs["float32"], outputs["bfloat16"])) / len(qs), 3),
        "seconds": {dtype: round(value, 2) for dtype, value in seconds.items()},
        "outputs": [{"answer": q.answer, **{dtype: outputs[dtype][i] for dtype in outputs}} for i, q in enumerate(qs)],
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, figures)
    print(json.dumps({k: v for k, v in figures.items() if k != "outputs"}, indent=2))


if __name__ == "__main__":
    main()
