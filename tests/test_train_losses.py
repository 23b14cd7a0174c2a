"""The StepER objective on hand-computed batches: per-example reduction, mid terms summed per trace,
the 1/(3n) normalisation, its minibatch estimate, and the kind weightings on top of it."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from steper.train.losses import (
    DifficultyAwareWeighting,
    FixedWeighting,
    ObjectiveScale,
    UniformWeighting,
    VanillaWeighting,
    example_losses,
    kind_means,
    kind_terms,
    make_weighting,
    token_losses,
)

KINDS = ("first", "mid", "final")

# Two kept traces, every example's completion-token losses written out:
#   trace A (4 steps): first [1, 3] -> 2, mid [0.5] -> 0.5, mid [1, 2, 3] -> 2, final [4, 0] -> 2
#   trace B (2 steps): first [1] -> 1, final [2, 4] -> 3
TOKENS = [[1.0, 3.0], [0.5], [1.0, 2.0, 3.0], [4.0, 0.0], [1.0], [2.0, 4.0]]
KIND_IDS = torch.tensor([0, 1, 1, 2, 0, 2])
# By the paper's equation, n = 2: L = 1/(3*2) * [(2 + (0.5 + 2) + 2) + (1 + 3)] = 10.5 / 6
L_FIRST, L_MID, L_FINAL = (2 + 1) / 6, (0.5 + 2) / 6, (2 + 3) / 6
SCALE = ObjectiveScale(n_examples=6, n_traces=2, n_kinds=3)


def _flat(rows):
    values = [value for row in rows for value in TOKENS[row]]
    owners = [position for position, row in enumerate(rows) for _ in TOKENS[row]]
    return torch.tensor(values), torch.tensor(owners)


def _terms(rows):
    token_loss, owners = _flat(rows)
    return kind_terms(example_losses(token_loss, owners, len(rows)), KIND_IDS[rows], KINDS, SCALE)


def test_example_loss_is_the_token_mean_of_its_completion():
    token_loss, owners = _flat(range(6))
    assert example_losses(token_loss, owners, 6).tolist() == [2.0, 0.5, 2.0, 2.0, 1.0, 3.0]
    with pytest.raises(ValueError, match="no completion token"):
        example_losses(torch.tensor([1.0]), torch.tensor([0]), 2)


def test_whole_data_batch_is_the_papers_equation():
    assert SCALE.factor == pytest.approx(6 / (3 * 2))
    terms = _terms(list(range(6)))
    # mid: the two mid steps of trace A are summed (0.5 + 2), not averaged into one term (1.25),
    # nor pooled over tokens ((0.5 + 1 + 2 + 3) / 4)
    assert {k: v.item() for k, v in terms.items()} == pytest.approx({"first": L_FIRST, "mid": L_MID, "final": L_FINAL})
    assert sum(terms.values()).item() == pytest.approx(10.5 / 6)


def test_minibatch_estimates_average_to_the_full_objective():
    # B = 2: each batch estimates L_j as E/(K n) * (1/B) * sum over its kind-j examples; over the epoch the mean is exact
    batches = [[0, 5], [1, 4], [2, 3]]
    estimates = [_terms(rows) for rows in batches]
    assert estimates[0]["first"].item() == pytest.approx(1.0 * 2.0 / 2)  # factor 1, one first example with loss 2
    assert estimates[0]["mid"].item() == 0.0  # a kind absent from the batch estimates 0
    for kind, full in zip(KINDS, (L_FIRST, L_MID, L_FINAL)):
        assert sum(e[kind].item() for e in estimates) / len(batches) == pytest.approx(full)


def test_normalisation_is_one_over_kinds_times_traces():
    assert ObjectiveScale(n_examples=8, n_traces=2, n_kinds=3).factor == pytest.approx(8 / 6)
    # Vanilla-KD: one final example per trace, K = 1 -> factor 1, the mean final loss
    vanilla = ObjectiveScale(n_examples=2, n_traces=2, n_kinds=1)
    finals = torch.tensor([2.0, 3.0])
    assert kind_terms(finals, torch.tensor([0, 0]), ("final",), vanilla)["final"].item() == pytest.approx(2.5)
    with pytest.raises(ValueError):
        ObjectiveScale(n_examples=0, n_traces=0, n_kinds=3)


def test_difficulty_aware_on_the_terms():
    weighting = DifficultyAwareWeighting()
    s = [0.0, math.log(4.0), -1.0]
    with torch.no_grad():
        weighting.log_var.copy_(torch.tensor(s))
    total = weighting(_terms(list(range(6))))
    expected = sum(0.5 * math.exp(-sj) * lj + 0.5 * sj for sj, lj in zip(s, (L_FIRST, L_MID, L_FINAL)))
    assert total.item() == pytest.approx(expected, rel=1e-6)
    total.backward()
    for index, lj in enumerate((L_FIRST, L_MID, L_FINAL)):
        assert weighting.log_var.grad[index].item() == pytest.approx(0.5 - 0.5 * math.exp(-s[index]) * lj, rel=1e-6)
    # sigma^2 = exp(s); the weight of a kind is 1 / (2 sigma^2)
    assert weighting.sigmas()["mid"] == pytest.approx(2.0)
    assert weighting.effective_weights()["mid"] == pytest.approx(1 / 8)


def test_sigma_gradient_over_an_epoch_of_one_kind_batches_is_the_full_objectives():
    """Length-grouped batches often hold one kind: each batch's σ gradient is then far off, but over an
    epoch they average to the full-data gradient, because an absent kind still gets its log σ term."""
    s = torch.tensor([0.3, -1.0, -2.0])

    def sigma_gradient(rows):
        weighting = DifficultyAwareWeighting()
        with torch.no_grad():
            weighting.log_var.copy_(s)
        weighting(_terms(rows)).backward()
        return weighting.log_var.grad.clone()

    batches = [[0, 4], [1, 2], [3, 5]]  # first+first, mid+mid, final+final: every batch lacks two kinds
    epoch = torch.stack([sigma_gradient(rows) for rows in batches]).mean(dim=0)
    full = sigma_gradient(list(range(6)))
    expected = [0.5 - 0.5 * math.exp(-sj) * lj for sj, lj in zip(s.tolist(), (L_FIRST, L_MID, L_FINAL))]
    assert full.tolist() == pytest.approx(expected, rel=1e-6)
    assert epoch.tolist() == pytest.approx(full.tolist(), rel=1e-6)
    assert sigma_gradient([0, 4])[1:].tolist() == pytest.approx([0.5, 0.5])  # absent kinds: their log σ term alone


def test_sigma_starts_at_sigma_init():
    weighting = make_weighting("difficulty_aware", sigma_init=0.25)
    assert weighting.sigmas() == pytest.approx(dict.fromkeys(KINDS, 0.25))
    assert weighting.effective_weights() == pytest.approx(dict.fromkeys(KINDS, 8.0))  # 1 / (2 sigma^2)
    assert make_weighting("difficulty_aware").sigmas() == pytest.approx(dict.fromkeys(KINDS, 1.0))
    with pytest.raises(ValueError, match="positive"):
        DifficultyAwareWeighting(sigma_init=0.0)


def test_absent_kind_keeps_its_log_sigma_term():
    weighting = DifficultyAwareWeighting()
    terms = _terms([0, 5])  # no mid example: L_mid(batch) = 0
    weighting(terms).backward()
    assert weighting.log_var.grad[1].item() == pytest.approx(0.5)  # d/ds (0.5 s) with nothing to weigh


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


def test_token_losses_are_the_cross_entropy_of_the_head():
    torch.manual_seed(0)
    head = nn.Linear(4, 7, bias=False)
    hidden, targets = torch.randn(5, 4), torch.tensor([0, 3, 6, 2, 2])
    expected = F.cross_entropy(hidden @ head.weight.T, targets, reduction="none")
    assert torch.allclose(token_losses(hidden, head, targets), expected, atol=1e-6)


def test_kind_means_for_the_log():
    losses = torch.tensor([2.0, 0.5, 2.0, 2.0])
    assert kind_means(losses, torch.tensor([0, 1, 1, 2]), KINDS) == {"first": 2.0, "mid": 1.25, "final": 2.0}
    assert kind_means(losses[:1], torch.tensor([0]), KINDS) == {"first": 2.0}


def test_an_example_without_completion_tokens_is_an_error():
    with pytest.raises(ValueError) as error:
        example_losses(torch.tensor([1.0, 2.0]), torch.tensor([0, 0]), 2)
    assert str(error.value) == "an example has no completion token"


def test_each_method_keeps_the_kinds_it_was_given():
    kinds = ("first", "final")
    assert make_weighting("uniform", kinds=kinds).effective_weights() == {"first": 1.0, "final": 1.0}
    assert UniformWeighting(kinds).kinds == kinds
    # a kind the fixed weights leave out gets weight 0, not 1
    assert make_weighting("fixed", {"first": 2.0}, kinds=kinds).effective_weights() == {"first": 2.0, "final": 0.0}
    assert DifficultyAwareWeighting(kinds).sigmas() == pytest.approx({"first": 1.0, "final": 1.0})  # the default σ is 1


def test_bad_methods_and_batches_are_refused_with_their_exact_message():
    def message(call, *args, **kwargs) -> str:
        with pytest.raises(ValueError) as error:
            call(*args, **kwargs)
        return str(error.value)

    assert message(make_weighting, "fixed", None) == "loss 'fixed' needs weights, e.g. {'first': 1.5, 'mid': 1, 'final': 0.5}"
    assert message(make_weighting, "kendall") == "unknown loss 'kendall'; expected one of difficulty_aware, uniform, fixed, vanilla"
    uniform = UniformWeighting()
    assert message(uniform, {}) == "no kind has a loss in this batch"
    assert message(uniform, {"last": torch.tensor(1.0)}) == "unknown kinds ['last']; expected a subset of ('first', 'mid', 'final')"
    assert message(ObjectiveScale, 0, 1, 1).startswith("the objective needs examples, traces and kinds, got ObjectiveScale(")
    for sizes in ((0, 1, 1), (1, 0, 1), (1, 1, 0)):
        with pytest.raises(ValueError, match="the objective needs examples, traces and kinds"):
            ObjectiveScale(*sizes)
