"""Generation backends on a tiny random model: greedy equality across batching and prefix reuse,
stop strings and step ends, token counts, and the vLLM request (built without vLLM)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from steper.io import InputError
from steper.models.backends import make_backend
from steper.models.generation import Generation, GenerationSettings, cut_text, find_cut, token_budgets
from steper.models.precision import DTYPES, cpu_flags, resolve_dtype_name
from steper.models.prefix_cache import PrefixCache, Segment, common_length
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
    assert engine_kwargs("/models/llama-70b", settings, "bfloat16") == {
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


def ircot_steps(question: int, steps: int) -> list[str]:
    """Step s's prompt as IRCoT builds it: demonstrations, the passages of steps <= s, question, chain so far."""
    passages = [TEXTS[(question + step) % 4] for step in range(steps)]
    chain = ["Ravel Quinton directed Silver Lanterns.", "Ravel Quinton was born in Eastcliff."]
    return [
        DEMOS + "\n\n".join(passages[: step + 1]) + f"\n\nQ: Question {question}?\nA:" + "".join(" " + s for s in chain[:step])
        for step in range(steps)
    ]


def test_steps_of_a_question_reuse_the_previous_prompt(tiny):
    steps = [[Prompt(text) for text in ircot_steps(question, 3)] for question in range(3)]
    single = backend(tiny, batch_size=1, prefix_caching=False)
    expected = [[single.generate([prompt], 8, [])[0] for prompt in question] for question in steps]
    for batch_size in (1, 3):
        engine = backend(tiny, batch_size=batch_size)
        for step in range(3):
            before = dict(engine.stats)
            assert engine.generate([question[step] for question in steps], 8, []) == [question[step] for question in expected]
            if batch_size == 1 and step > 0:
                # Only what follows the longest prefix kept from the previous step is prefilled.
                rows = [engine.tokenizer(question[step].plain)["input_ids"] for question in steps]
                previous = [engine.tokenizer(question[step - 1].plain)["input_ids"] for question in steps]
                kept = [min(common_prefix_length([row, old]), len(row) - 1) for row, old in zip(rows, previous)]
                assert engine.stats["prefill_tokens"] - before["prefill_tokens"] == sum(len(row) - k for row, k in zip(rows, kept))
                assert min(kept) > len(engine.tokenizer(DEMOS)["input_ids"])  # more than the demonstrations were kept


def test_prefix_cache_budget_zero_keeps_nothing_and_changes_nothing(tiny, reference):
    engine = backend(tiny, batch_size=2, prefix_cache_mb=0)
    assert engine.generate(fewshot(), 12, []) == reference
    assert engine.generate(fewshot(), 12, []) == reference
    assert engine.cache.nbytes == 0 and not engine.cache.segments


def test_count_tokens_and_prompts_longer_than_the_model(tiny):
    engine = backend(tiny, batch_size=2, max_model_len=40)
    prompts = [Prompt(QUESTIONS[2]), Prompt(DEMOS + QUESTIONS[0]), Prompt(QUESTIONS[0])]
    counts = engine.count_tokens(prompts)
    assert counts[1] > 40 > counts[0] and engine.max_model_len == 40
    outputs = engine.generate(prompts, 12, [])
    assert [output.prompt_tokens for output in outputs] == counts
    assert outputs[1] == Generation("", counts[1], 0)
    assert outputs[0].completion_tokens == 12
    assert outputs[2].completion_tokens == min(12, 40 - counts[2])
    assert token_budgets([10, 35, 40, 50], 8, 40) == [8, 5, 0, 0]


def test_dtype_auto_is_resolved_and_exposed(tiny):
    engine = make_backend(tiny, GenerationSettings(dtype="auto"))
    assert engine.dtype_name == resolve_dtype_name("auto", "cpu")
    assert next(engine.model.parameters()).dtype == DTYPES[engine.dtype_name]
    assert GenerationSettings().dtype == "auto"


def test_precision_follows_the_cpu_flags():
    assert resolve_dtype_name("auto", "cpu", flags={"avx2", "fma"}) == "float32"
    assert resolve_dtype_name("auto", "cpu", flags={"avx512f", "avx512_bf16"}) == "bfloat16"
    assert resolve_dtype_name("auto", "cpu", flags={"amx_bf16"}) == "bfloat16"
    assert resolve_dtype_name("bfloat16", "cpu", flags=set()) == "bfloat16"
    capped = {"ONEDNN_MAX_CPU_ISA": "avx2"}  # the kernels cannot use the bf16 instructions
    assert resolve_dtype_name("auto", "cpu", flags={"avx512_bf16"}, environ=capped) == "float32"
    assert resolve_dtype_name("auto", "cpu", flags={"avx512_bf16"}, environ={"ATEN_CPU_CAPABILITY": "default"}) == "float32"
    assert resolve_dtype_name("auto", "cpu", flags={"avx512_bf16"}, environ={"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}) == "bfloat16"
    assert DTYPES[resolve_dtype_name("float32", "cpu")] == torch.float32
    with pytest.raises(InputError, match="dtype"):
        resolve_dtype_name("fp8", "cpu")


def test_cpuinfo_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


def _segment(tokens: list[int], start: int, parent=None, fill: float = 0.0) -> Segment:
    own = len(tokens) - start
    keys = [torch.arange(start, len(tokens), dtype=torch.float32).expand(2, own)[..., None].clone() + fill]
    return Segment(torch.tensor(tokens), start, keys, [k.clone() for k in keys], parent=parent)


def test_segment_ranges_borrow_from_the_parent():
    root = _segment([1, 2, 3], 0)
    child = _segment([1, 2, 3, 4, 5, 6], 3, parent=root)
    keys, _ = child.kv_range(0, 1, 5)
    assert keys[0, :, 0].tolist() == [1, 2, 3, 4]
    assert child.kv_range(0, 0, 2)[0][0, :, 0].tolist() == [0, 1]
    assert child.kv_range(0, 4, 6)[0][0, :, 0].tolist() == [4, 5]
    assert common_length(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4, 5])) == 2
    assert common_length(torch.tensor([1, 2]), torch.tensor([1, 2, 4])) == 2
    assert common_length(torch.tensor([], dtype=torch.long), torch.tensor([1])) == 0


def test_prefix_cache_replaces_evicts_and_pins():
    root = _segment([1, 2, 3], 0)
    step1 = _segment([1, 2, 3, 7, 8], 3, parent=root)
    size = root.nbytes + 2 * step1.nbytes  # a root and two 2-token segments
    cache = PrefixCache(size)
    assert cache.add(root) and cache.add(step1)
    assert cache.lookup(torch.tensor([1, 2, 3, 7, 9])) == (step1, 4)
    step2 = _segment([1, 2, 3, 7, 8, 9], 3, parent=root)
    assert cache.add(step2, replaces=step1)  # the question's previous step is superseded
    assert list(cache.segments.values()) == [root, step2] and cache.nbytes == root.nbytes + step2.nbytes
    other = _segment([1, 2, 3, 5, 6], 3, parent=root)
    assert cache.add(other)  # fits after evicting step2, the least recently used non-parent
    assert list(cache.segments.values()) == [root, other]
    cache.pin([other])
    longer = _segment([1, 2, 3, 4, 4, 4], 3, parent=root)
    assert not cache.add(longer)  # nothing may go: the call reuses `other`, and `root` is borrowed from
    cache.unpin()
    assert cache.add(longer) and list(cache.segments.values()) == [root, longer]
    assert not cache.add(_segment(list(range(100)), 0))  # larger than the whole budget
