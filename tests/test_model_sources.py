"""Where a model's tokenizer comes from: a pruned or fine-tuned model keeps its base's, so a stage
that only counts tokens reads the model that brought the tokenizer, not the derived one."""

from __future__ import annotations

import pytest

from steper.model_sources import tokenizer_model

MODELS = {
    "gguf-base": {"source": "gguf"},
    "hub-base": {"source": "hub"},
    "local-base": {"source": "local"},
    "random-base": {"source": "random"},
    "pruned": {"source": "prune", "base": "hub-base"},
    "teacher": {"source": "finetune", "base": "gguf-base"},
    "pruned-teacher": {"source": "finetune", "base": "pruned"},
    "loop-a": {"source": "prune", "base": "loop-b"},
    "loop-b": {"source": "finetune", "base": "loop-a"},
}


@pytest.mark.parametrize("name", ["gguf-base", "hub-base", "local-base", "random-base"])
def test_a_model_of_its_own_source_has_its_own_tokenizer(name):
    assert tokenizer_model(MODELS, name) == name


@pytest.mark.parametrize(("name", "source"), [("pruned", "hub-base"), ("teacher", "gguf-base"), ("pruned-teacher", "hub-base")])
def test_a_derived_model_has_the_tokenizer_of_the_model_it_is_made_from(name, source):
    assert tokenizer_model(MODELS, name) == source


def test_a_base_loop_is_refused_naming_the_models():
    with pytest.raises(ValueError, match="loop-a -> loop-b -> loop-a"):
        tokenizer_model(MODELS, "loop-a")
