"""End to end with the real components: a tiny random Llama, a bm25s index, the transformers backend.

The model is random, so only the plumbing is checked: every question gets a well-formed trace
line, retrieval ids resolve in the index, and the step-wise prompts rebuild from the trace.
"""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from steper import layout
from steper.cli import main
from steper.frameworks.runner import FrameworkSettings, run_framework
from steper.models.generation import GenerationSettings
from steper.models.tiny import RandomModelSettings, build_random_model
from steper.retrieval import build_index, open_retriever
from steper.stepwise.build import stepwise_prompts

FIXTURES = Path(__file__).parent / "fixtures" / "frameworks"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    corpus = FIXTURES / "corpus.jsonl"
    build_random_model([corpus], root / "model", RandomModelSettings(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64, vocab_size=400))
    build_index(corpus, root / "index" / "bm25s", "bm25s")
    return root


@pytest.mark.parametrize("framework", ["ircot", "selfask", "iter_retgen", "react"])
def test_run_framework_end_to_end(world, tmp_path, framework):
    output = tmp_path / "traces.jsonl"
    settings = FrameworkSettings(top_k=2, max_steps=3, max_passages=5, max_new_tokens=6, shots=2, retrieval_backend="bm25s")
    generation = GenerationSettings(dtype="float32", batch_size=2)
    if framework == "ircot":  # through the command line, as the Snakemake rule runs it
        code = main([
            "teacher", "run", "--framework", framework, "--records", str(FIXTURES / "records.jsonl"),
            "--index-dir", str(world / "index"), "--model", str(world / "model"), "--model-name", "tiny",
            "--output", str(output), "--demonstrations", str(FIXTURES / "demonstrations.jsonl"),
            "--settings", json.dumps({"framework": asdict(settings), "generation": asdict(generation)}),
        ])
        assert code == 0
        summary = json.loads(Path(layout.summary_sidecar(output)).read_text())
        saved = json.loads(Path(layout.settings_sidecar(output)).read_text())
        assert saved["settings"]["framework"]["top_k"] == 2
    else:
        summary = run_framework(
            framework, FIXTURES / "records.jsonl", output, world / "model", "tiny", world / "index",
            settings, generation, demonstrations_path=FIXTURES / "demonstrations.jsonl",
        )
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["e1", "e2", "e3"]
    assert summary["n"] == 3 and summary["prompt_tokens"] > 0
    retriever = open_retriever(world / "index" / "bm25s", "bm25s")
    for line in lines:
        assert 1 <= line["n_steps"] <= settings.max_steps and line["framework"] == framework
        # ITER-RETGEN replaces its passages each iteration; the others accumulate distinct ones
        groups = [step["retrieved"] for step in line["steps"]] if framework == "iter_retgen" else [[i for step in line["steps"] for i in step["retrieved"]]]
        assert all(len(ids) == len(set(ids)) <= settings.max_passages for ids in groups)
        assert line["prompt_cuts"]["overflows"] == 0
        if framework not in ("ircot", "selfask"):
            continue
        examples = stepwise_prompts(line, retriever.doc, framework)
        assert len(examples) == line["n_steps"]
        assert all("Wikipedia Title:" in prompt.context for _, prompt, _ in examples)
        assert not examples[0][1].plain.endswith(" ")
