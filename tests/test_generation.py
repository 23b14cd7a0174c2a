"""Generation backends on a tiny random model: greedy equality across batching and prefix reuse,
stop strings and step ends, token counts, and the vLLM request (built without vLLM)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from steper.io import InputError
from steper.models.generation import Generation, GenerationSettings, cut_text, find_cut, make_backend
from steper.models.prompting import Prompt, render
from steper.models.tiny import RandomModelSettings, build_random_model
from steper.models.transformers_backend import common_prefix_length, shared_prefix_length
from steper.models.vllm_backend import build_requests, engine_kwargs, sampling_kwargs

TEXTS = [
    "Wikipedia Title: Tamsin Everhart\nTamsin Everhart was born in Millbrook, a small town by the river.",
    "Wikipedia Title: The Hollow Orchard\nThe Hollow Orchard is a novel written by Tamsin Everhart in 1921.",
    "Wikipedia Title: Silver Lanterns\nRavel Quinton directed the film Silver Lanterns, released in 1988.",
    "Wikipedia Title: Ravel Quinton\nRavel Quinton was born in Eastcliff and studied painting before film.",
    "Q: Where was the author of The Hollow Orchard born?\nA: The Hollow Orchard was written by Tamsin Everhart. So the answer is: Millbrook.",
]
DEMOS = TEXTS[1] + "\n\n" + TEXTS[0] + "\n\n" + TEXTS[4] + "\n\n\n"
QUESTIONS = [
    TEXTS[2] + "\n\nQ: Who directed Silver Lanterns?\nA:",
    TEXTS[3] + "\n\n" + TEXTS[2] + "\n\nQ: Where was the director of Silver Lanterns born?\nA:",
    "Q: Who?\nA:",
    TEXTS[0] + "\n\nQ: Where was Tamsin Everhart born?\nA:",
    TEXTS[1] + "\n\n" + TEXTS[3] + "\n\n" + TEXTS[0] + "\n\nQ: Which novel did Tamsin Everhart write in 1921?\nA:",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generation")
    (folder / "texts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    build_random_model([folder / "texts.txt"], folder / "tiny", RandomModelSettings(vocab_size=512))
    return folder / "tiny"


def backend(model_dir: Path, **settings):
    return make_backend(model_dir, GenerationSettings(dtype="float32", **settings))


@pytest.fixture(scope="module")
def reference(tiny) -> list[Generation]:
    """One prompt at a time, no prefix reuse: what every batched layout must reproduce."""
    single = backend(tiny, batch_size=1, prefix_caching=False)
    return [single.generate([Prompt(DEMOS + question)], 12, [])[0] for question in QUESTIONS]


def fewshot() -> list[Prompt]:
    return [Prompt(DEMOS + question) for question in QUESTIONS]


def test_reference_is_not_degenerate(reference):
    # The equalities below only mean something if the random model writes varied text.
    assert len({generation.text for generation in reference}) == len(reference)
    assert all(len(set(generation.text)) > 3 for generation in reference)


def test_reference_matches_transformers_generate(tiny, reference):
    single = backend(tiny, batch_size=1, prefix_caching=False)
    tokenizer = single.tokenizer
    for prompt, expected in zip(fewshot(), reference):
        inputs = tokenizer(prompt.plain, return_tensors="pt")
        output = single.model.generate(**inputs, max_new_tokens=12, do_sample=False)
        assert tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True) == expected.text


@pytest.mark.parametrize("batch_size, prefix_caching", [(5, False), (2, True), (1, True), (8, True)])
def test_batched_equals_one_by_one(tiny, reference, batch_size, prefix_caching):
    engine = backend(tiny, batch_size=batch_size, prefix_caching=prefix_caching)
    assert engine.generate(fewshot(), 12, []) == reference
    if prefix_caching:
        assert engine.stats["prefix_tokens_reused"] > 0


def test_prefix_kept_across_calls_and_replaced_when_it_changes(tiny, reference):
    engine = backend(tiny, batch_size=2, prefix_caching=True)
    prompts = fewshot()
    assert engine.generate(prompts[:2], 12, []) == reference[:2]
    computed = engine.stats["prefill_tokens"]
    assert engine.generate(prompts[2:4], 12, []) == reference[2:4]
    suffixes = engine.stats["prefill_tokens"] - computed
    assert suffixes < len(engine.tokenizer(DEMOS)["input_ids"])  # the demonstrations were not prefilled again
    other = [Prompt("Q: A different start. " + question) for question in QUESTIONS[:2]]
    expected = [backend(tiny, batch_size=1, prefix_caching=False).generate([prompt], 12, [])[0] for prompt in other]
    assert engine.generate(other, 12, []) == expected
    assert engine.generate(prompts[4:], 12, []) == reference[4:]


def test_mixed_prefixes_and_order_restored(tiny, reference):
    single = backend(tiny, batch_size=1, prefix_caching=False)
    mixed = [Prompt("Ravel"), *fewshot()[:2], Prompt("Tamsin Everhart was born in")]
    expected = [single.generate([prompt], 12, [])[0] for prompt in mixed]
    assert backend(tiny, batch_size=4).generate(mixed, 12, []) == expected
    assert expected[1:3] == reference[:2]


def test_token_counts(tiny, reference):
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    for prompt, generation in zip(fewshot(), reference):
        assert generation.prompt_tokens == len(tokenizer(prompt.plain)["input_ids"])
        assert generation.completion_tokens == 12
    assert backend(tiny).generate([], 12, []) == []


def test_chat_template_prompts(tiny):
    engine = backend(tiny, chat_template=True, batch_size=2)
    prompts = [Prompt(QUESTIONS[0], " Silver Lanterns was"), Prompt(QUESTIONS[2])]
    generations = engine.generate(prompts, 5, [])
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    for prompt, generation in zip(prompts, generations):
        rendered = render(tokenizer, prompt, chat_template=True)
        assert rendered.startswith("<|im_start|>user\n")
        assert generation.prompt_tokens == len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    single = backend(tiny, chat_template=True, batch_size=1, prefix_caching=False)
    assert generations == [single.generate([prompt], 5, [])[0] for prompt in prompts]


def _word_inside(text: str) -> tuple[str, int]:
    match = next(m for m in re.finditer(r"[A-Za-z]{2,}", text) if m.start() > 0)
    return match.group(), text.find(match.group())


def test_stop_strings_cut_and_stop_early(tiny):
    engine = backend(tiny, batch_size=3)
    prompts = fewshot()[:3]
    full = engine.generate(prompts, 24, [])
    stops = [_word_inside(generation.text) for generation in full]
    for prompt, generation, (stop, position) in zip(prompts, full, stops):
        cut = engine.generate([prompt], 24, [stop, "\x00never"])[0]
        assert cut.text == generation.text[:position]
        assert cut.completion_tokens < 24
    together = engine.generate(prompts, 24, [stop for stop, _ in stops])
    # Each row stops at its own point; a stop string meant for another row may cut it earlier.
    for generation, cut in zip(full, together):
        assert generation.text.startswith(cut.text) and cut.completion_tokens <= 24


def test_step_end_stops_each_row_at_its_own_step(tiny):
    engine = backend(tiny, batch_size=5)
    prompts = fewshot()
    full = engine.generate(prompts, 24, [])
    marks = [_word_inside(generation.text)[0] for generation in full]

    def step_end(text: str) -> int | None:
        hits = [text.find(mark) + len(mark) for mark in marks if mark in text]
        return min(hits) if hits else None

    steps = engine.generate(prompts, 24, [], step_end)
    for generation, step in zip(full, steps):
        assert step.text == cut_text(generation.text, [], step_end)
        assert step.text != generation.text and step.completion_tokens < 24
    assert step_end(steps[0].text) == len(steps[0].text)


def test_find_cut():
    first_sentence = lambda text: (match.end() if (match := re.search(r"\.(?=\s)", text)) else None)  # noqa: E731
    assert find_cut("one two", ["\n"]) is None
    assert cut_text("a b\nc\n", ["\n", "c"]) == "a b"
    assert cut_text("It is X. Then Y.", [], first_sentence) == "It is X."
    assert cut_text("It is X\nThen. Y", ["\n"], first_sentence) == "It is X"
    assert cut_text("A. B\n", ["B"], first_sentence) == "A."
    assert cut_text("No end yet", ["", "Q:"], first_sentence) == "No end yet"


def test_unknown_backend_and_missing_vllm(tiny):
    with pytest.raises(InputError, match="backend"):
        make_backend(tiny, GenerationSettings(backend="llama.cpp"))
    pytest.importorskip("steper.models.vllm_backend")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="steper\\[gpu\\]"):
            make_backend(tiny, GenerationSettings(backend="vllm"))


def test_vllm_request_matches_transformers_encoding(tiny):
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    prompts = [Prompt(QUESTIONS[0]), Prompt(QUESTIONS[1], " Ravel")]
    settings = GenerationSettings(backend="vllm", tensor_parallel_size=4, dtype="bfloat16", max_model_len=4096, seed=7)
    assert engine_kwargs("/models/llama-70b", settings) == {
        "model": "/models/llama-70b", "tensor_parallel_size": 4, "enable_prefix_caching": True,
        "dtype": "bfloat16", "max_model_len": 4096, "seed": 7, "trust_remote_code": False,
    }
    assert sampling_kwargs(64, ["\n", "Q:"]) == {"temperature": 0.0, "max_tokens": 64, "stop": ["\n", "Q:"], "include_stop_str_in_output": False}
    plain = build_requests(tokenizer, prompts, chat_template=False)
    assert plain == [{"prompt_token_ids": tokenizer(prompt.plain)["input_ids"]} for prompt in prompts]
    chat = build_requests(tokenizer, prompts, chat_template=True)
    assert tokenizer.decode(chat[1]["prompt_token_ids"]) == render(tokenizer, prompts[1], True)
    transformers_rows = [backend(tiny, chat_template=True).generate([prompt], 1, [])[0].prompt_tokens for prompt in prompts]
    assert transformers_rows == [len(request["prompt_token_ids"]) for request in chat]


def test_prefix_helpers():
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_length([[5, 6], [5, 6]]) == 2
    assert shared_prefix_length([[5, 6], [5, 6]]) == 1
    assert shared_prefix_length([[1, 2, 3], [7]]) == 0
