"""Benchmark: IRCoT-like generation, one question at a time vs batched with shared-prefix reuse.

Every prompt is [two few-shot demonstrations, identical for all questions] + [the question's own
passages] + [question] + "A:", and generation stops at the end of the first sentence, as one IRCoT
reasoning step does. The figures (tokens/s, seconds per question, speed-up, output agreement)
go to a JSON file; nothing here is asserted. Wall time depends on what else shares the machine, so
CPU time and the load average are recorded too.

    python benchmarks/generation.py results/demo/models/smollm2-135m --output benchmarks/results/generation.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import time
from pathlib import Path

import torch

from steper.io import setup_logging, write_json
from steper.models.generation import GenerationSettings, make_backend
from steper.models.prompting import Prompt

log = logging.getLogger("benchmarks.generation")

PEOPLE = [
    ("Tamsin Everhart", "Millbrook", "novelist"), ("Ravel Quinton", "Eastcliff", "film director"),
    ("Maren Ashdown", "Corriford", "singer"), ("Oswin Calloway", "Fernhollow", "painter"),
    ("Isolde Penrose", "Larkhaven", "poet"), ("Caspian Marlowe", "Westbury Cross", "composer"),
    ("Delia Thornfield", "Redwater", "playwright"), ("Jasper Wrenwood", "Kestrel Bay", "sculptor"),
    ("Rosalind Fairweather", "Ambervale", "novelist"), ("Gideon Halloway", "Stonemere", "film director"),
    ("Elowen Brightwater", "Harrowgate Mills", "singer"), ("Fenwick Ashcombe", "Duncliffe", "architect"),
    ("Marigold Keswick", "Tillbrook", "poet"), ("Lucian Pemberton", "Oakhurst", "composer"),
    ("Wilhelmina Crane", "Saltmarsh", "playwright"), ("Barnaby Thistlewood", "Glenmoor", "painter"),
]
WORKS = [
    "The Hollow Orchard", "Silver Lanterns", "Northern Tides", "A Garden of Clocks", "The Glass Meridian",
    "Winter at Kellan Hall", "The Copper Staircase", "Songs of the Low Country", "The Quiet Harbour",
    "Lanterns Over Ashby", "The Paper Orchestra", "Bright Water Ballads", "The Last Cartographer",
    "Evening in Marrow Street", "The Velvet Almanac", "Harvest of Small Hours",
]
DEMOS = [
    ("Cyrus Bellamy", "Pennick Hollow", "novelist", "The Amber Gate", "Orla Vance", "Dunmore", "The Salt Road"),
    ("Helena Moorcroft", "Ashgrove", "film director", "Midnight at Carrow", "Tobias Reed", "Fallowfield", "Paper Kites"),
]


def passage_work(work: str, person: str, role: str, year: int) -> str:
    kind = {"novelist": "a novel", "film director": "a film", "singer": "an album"}.get(role, "a work")
    return (
        f"Wikipedia Title: {work}\n{work} is {kind} released in {year}. It was created by the {role} {person} "
        f"and received wide praise from critics for its careful structure, its memorable characters and its "
        f"portrait of everyday life in a small coastal region during a period of rapid change."
    )


def passage_person(person: str, town: str, role: str, year: int) -> str:
    return (
        f"Wikipedia Title: {person}\n{person} (born {year}) is a {role} who was born in {town}. "
        f"After studying at a regional college, {person.split()[0]} moved to the capital, where the early "
        f"works that made the name known were written, performed and shown to the public."
    )


def demonstration(person, town, role, work, distractor, distractor_town, distractor_work) -> str:
    passages = [
        passage_work(work, person, role, 1951),
        passage_person(distractor, distractor_town, role, 1933),
        passage_person(person, town, role, 1920),
        passage_work(distractor_work, distractor, role, 1962),
    ]
    return (
        "\n\n".join(passages)
        + f"\n\nQ: Where was the {role} of {work} born?\nA: {work} was created by {person}. "
        f"{person} was born in {town}. So the answer is: {town}.\n\n\n"
    )


def question_prompts() -> list[Prompt]:
    prefix = "".join(demonstration(*demo) for demo in DEMOS)
    prompts = []
    for index, ((person, town, role), work) in enumerate(zip(PEOPLE, WORKS)):
        other, other_town, _ = PEOPLE[(index + 5) % len(PEOPLE)]
        passages = [passage_work(work, person, role, 1950 + index), passage_person(other, other_town, role, 1930 + index)]
        prompts.append(Prompt("\n\n".join(passages) + f"\n\nQ: Where was the {role} of {work} born?\nA:"))
    return [Prompt(prefix + prompt.context) for prompt in prompts]


def first_sentence(text: str) -> int | None:
    """End of the first complete sentence (the IRCoT step), once the next sentence has begun."""
    match = re.search(r"[.!?](?=\s+\S)", text)
    return match.end() if match else None


def run(model_dir: str, prompts: list[Prompt], settings: GenerationSettings, max_new_tokens: int) -> dict:
    backend = make_backend(model_dir, settings)
    backend.generate(prompts[:1], 4, ["\n"])  # warm-up: allocator, kernels
    backend.reset_prefix_cache()
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    generations = backend.generate(prompts, max_new_tokens, ["\n"], first_sentence)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    completion = sum(generation.completion_tokens for generation in generations)
    prompt_tokens = sum(generation.prompt_tokens for generation in generations)
    log.info("batch_size=%d prefix_caching=%s: %.1f s", settings.batch_size, settings.prefix_caching, seconds)
    return {
        "settings": {"batch_size": settings.batch_size, "prefix_caching": settings.prefix_caching, "dtype": settings.dtype},
        "seconds": round(seconds, 3),
        "seconds_per_question": round(seconds / len(prompts), 3),
        # CPU time of this process: less sensitive than wall time to other jobs sharing the cores.
        "cpu_seconds": round(cpu_seconds, 3),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "completion_tokens_per_second": round(completion / seconds, 2),
        "total_tokens_per_second": round((prompt_tokens + completion) / seconds, 2),
        "prefill_tokens_computed": backend.stats["prefill_tokens"],
        "outputs": [generation.text for generation in generations],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--output", default="benchmarks/results/generation.json")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    setup_logging()
    prompts = question_prompts()
    sequential = run(args.model_dir, prompts, GenerationSettings(dtype=args.dtype, batch_size=1, prefix_caching=False), args.max_new_tokens)
    batched = run(args.model_dir, prompts, GenerationSettings(dtype=args.dtype, batch_size=args.batch_size, prefix_caching=True), args.max_new_tokens)
    agreement = sum(a == b for a, b in zip(sequential["outputs"], batched["outputs"])) / len(prompts)
    figures = {
        "model": args.model_dir,
        "questions": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "stop": ["\n"],
        "step_end": "first sentence",
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "sequential": sequential,
        "batched": batched,
        "speedup": round(sequential["seconds"] / batched["seconds"], 2),
        "speedup_cpu_time": round(sequential["cpu_seconds"] / batched["cpu_seconds"], 2),
        "identical_outputs": agreement,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, figures)
    print(json.dumps({key: value for key, value in figures.items() if key not in ("sequential", "batched")}, indent=2))
    for name in ("sequential", "batched"):
        print(name, {key: value for key, value in figures[name].items() if key != "outputs"})


if __name__ == "__main__":
    main()
