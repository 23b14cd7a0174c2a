"""Kind weightings and the per-kind, prompt-masked cross-entropy."""

import math

import pytest
import torch
import torch.nn.functional as F

from steper.distill.losses import (
    DifficultyAwareWeighting,
    FixedWeighting,
    UniformWeighting,
    VanillaWeighting,
    make_weighting,
    per_kind_losses,
)


def test_difficulty_aware_gradient_matches_closed_form():
    weighting = DifficultyAwareWeighting()
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor([0.3, -0.7, 1.1]))
    losses = {"first": torch.tensor(2.0), "mid": torch.tensor(0.4), "final": torch.tensor(3.5)}
    weighting(losses).backward()
    for index, kind in enumerate(weighting.kinds):
        s = weighting.log_var[index].item()
        expected = 0.5 - 0.5 * math.exp(-s) * losses[kind].item()
        assert weighting.log_var.grad[index].item() == pytest.approx(expected, rel=1e-6)


def test_difficulty_aware_value_and_reported_weights():
    weighting = DifficultyAwareWeighting()
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor([0.0, math.log(4.0), -1.0]))
    losses = {"first": torch.tensor(2.0), "mid": torch.tensor(4.0), "final": torch.tensor(1.0)}
    expected = sum(0.5 * math.exp(-s) * l + 0.5 * s for s, l in [(0.0, 2.0), (math.log(4.0), 4.0), (-1.0, 1.0)])
    assert weighting(losses).item() == pytest.approx(expected, rel=1e-6)
    # sigma^2 = exp(s); the weight of a kind is 1 / (2 sigma^2)
    assert weighting.sigmas()["mid"] == pytest.approx(2.0)
    assert weighting.effective_weights()["mid"] == pytest.approx(1 / 8)


def test_kind_missing_from_batch_contributes_nothing():
    weighting = DifficultyAwareWeighting()
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor([0.5, 0.5, 0.5]))
    both = weighting({"first": torch.tensor(1.0), "final": torch.tensor(2.0)})
    both.backward()
    assert weighting.log_var.grad[1].item() == 0.0
    assert weighting.log_var.grad[0].item() != 0.0
    only_first = weighting({"first": torch.tensor(1.0)}).item()
    only_final = weighting({"final": torch.tensor(2.0)}).item()
    assert both.item() == pytest.approx(only_first + only_final)


def test_fixed_uniform_vanilla():
    losses = {"first": torch.tensor(1.0), "mid": torch.tensor(2.0), "final": torch.tensor(4.0)}
    fixed = FixedWeighting({"first": 1.5, "mid": 1.0, "final": 0.5})
    assert fixed(losses).item() == pytest.approx(1.5 * 1 + 1.0 * 2 + 0.5 * 4)
    assert UniformWeighting()(losses).item() == pytest.approx(7.0)
    assert VanillaWeighting()({"final": torch.tensor(4.0)}).item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="final-step examples only"):
        VanillaWeighting()(losses)
    assert fixed.sigmas() is None and list(fixed.parameters()) == []


def test_make_weighting_rejects_bad_methods():
    with pytest.raises(ValueError, match="needs weights"):
        make_weighting("fixed", None)
    with pytest.raises(ValueError, match="unknown kinds"):
        make_weighting("fixed", {"last": 1.0})
    with pytest.raises(ValueError, match="unknown loss"):
        make_weighting("kendall")
    assert isinstance(make_weighting("difficulty_aware"), DifficultyAwareWeighting)


def _batch():
    torch.manual_seed(0)
    logits = torch.randn(3, 6, 11)
    labels = torch.tensor(
        [
            [-100, -100, 3, 4, 5, -100],
            [-100, -100, -100, -100, 7, 8],
            [-100, 1, 2, 3, 4, 5],
        ]
    )
    kind_ids = torch.tensor([0, 2, 0])
    return logits, labels, kind_ids


def test_per_kind_loss_is_token_level_mean_within_kind():
    logits, labels, kind_ids = _batch()
    losses = per_kind_losses(logits, labels, kind_ids)
    assert set(losses) == {"first", "final"}
    token = F.cross_entropy(logits.reshape(-1, 11), labels.reshape(-1), ignore_index=-100, reduction="none").view(3, 6)
    first_tokens = torch.cat([token[0, 2:5], token[2, 1:6]])
    assert losses["first"].item() == pytest.approx(first_tokens.mean().item(), rel=1e-6)
    assert losses["final"].item() == pytest.approx(token[1, 4:6].mean().item(), rel=1e-6)


def test_prompt_tokens_carry_no_loss():
    logits, labels, kind_ids = _batch()
    before = per_kind_losses(logits, labels, kind_ids)
    changed = logits.clone()
    changed[labels == -100] = torch.randn_like(changed[labels == -100]) * 10
    after = per_kind_losses(changed, labels, kind_ids)
    for kind in before:
        assert after[kind].item() == pytest.approx(before[kind].item(), rel=1e-6)
    logits.requires_grad_(True)
    sum(per_kind_losses(logits, labels, kind_ids).values()).backward()
    assert torch.all(logits.grad[labels == -100] == 0)
    assert torch.any(logits.grad[labels != -100] != 0)
