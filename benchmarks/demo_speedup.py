"""How much faster the demo DAG runs than before the speed work, per stage and end to end.

The slow path (bf16 autocast with the LM head on every position for training; bf16 generation
without prefix reuse) would take hours on a CPU without native bf16, so it is not run end to end.
Instead each stage of a finished demo run keeps its measured wall time (Snakemake's benchmark files)
and is multiplied by the slow/fast ratio measured side by side, in one process, on the same batches
or prompts by the two benchmarks below; stages that the speed work did not touch keep ratio 1.

    python benchmarks/demo_speedup.py --run-dir results/demo \
        --train benchmarks/results/train_throughput_full.json \
        --generation benchmarks/results/generation.json --output benchmarks/results/demo_speedup.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

# benchmark-file directory (under results/{run}/benchmarks/) -> which measured ratio applies
TRAINING_STAGES = ("models/finetune", "train")
GENERATION_STAGES = ("teacher", "evaluate")


def stage_seconds(run_dir: Path) -> dict[str, float]:
    """Wall seconds per benchmark file of the run, keyed by its path under benchmarks/."""
    root = run_dir / "benchmarks"
    seconds = {}
    for path in sorted(root.rglob("*.tsv")):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            raise SystemExit(f"{path}: no benchmark row")
        seconds[path.relative_to(root).with_suffix("").as_posix()] = float(rows[0]["s"])
    if not seconds:
        raise SystemExit(f"{root}: no benchmark files (run the demo first)")
    return seconds


def ratios(train: dict, generation: dict) -> dict[str, float]:
    """Slow/fast time ratio of training and of generation, each from one side-by-side run."""
    by_variant = {row["variant"]: row for row in train["results"]}
    training = by_variant["after_completion_head_fp32"]["tokens_per_s"] / by_variant["before_full_head_bf16_autocast"]["tokens_per_s"]
    systems = generation["ircot"]["systems"]
    generating = systems["steper"]["questions_per_second"] / systems["steper_before"]["questions_per_second"]
    return {"training": training, "generation": generating}


def kind(stage: str) -> str:
    if stage.startswith(TRAINING_STAGES):
        return "training"
    if stage.startswith(GENERATION_STAGES):
        return "generation"
    return "unchanged"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("results/demo"))
    parser.add_argument("--train", type=Path, required=True, help="JSON of train_throughput.py --layers 0")
    parser.add_argument("--generation", type=Path, required=True, help="JSON of generation.py with the steper_before system")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "demo_speedup.json")
    args = parser.parse_args(argv)
    try:
        ratio = ratios(json.loads(args.train.read_text()), json.loads(args.generation.read_text())) | {"unchanged": 1.0}
    except (OSError, json.JSONDecodeError, KeyError) as error:
        raise SystemExit(f"{args.train} / {args.generation}: not the JSON of train_throughput.py and generation.py "
                         f"with the steper_before system ({type(error).__name__}: {error})") from None
    stages = []
    for stage, seconds in stage_seconds(args.run_dir).items():
        stages.append({"stage": stage, "kind": kind(stage), "seconds": seconds,
                       "ratio": round(ratio[kind(stage)], 2), "projected_before_seconds": round(seconds * ratio[kind(stage)], 1)})
    now = sum(s["seconds"] for s in stages)
    before = sum(s["projected_before_seconds"] for s in stages)
    result = {
        "command": " ".join(["python", "benchmarks/demo_speedup.py", *(argv if argv is not None else sys.argv[1:])]),
        "note": "sums of job wall times (serial work), not the DAG's wall time on several cores",
        "ratios": {k: round(v, 2) for k, v in ratio.items()},
        "seconds_now": round(now, 1), "seconds_before_projected": round(before, 1),
        "speedup": round(before / now, 2), "stages": stages,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "stages"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
