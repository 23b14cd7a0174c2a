"""Losses of step-wise distillation: per-kind cross-entropy and the ways of weighting the kinds.

StepER trains on three kinds of step-wise examples (first / mid / final step) with one
cross-entropy per kind. How those per-kind losses are combined is the only thing that differs
between the methods compared in the paper, so every method is one `KindWeighting` module applied
to the same dict `kind -> scalar loss`:

- `DifficultyAwareWeighting` (StepER, Kendall et al. 2018 uncertainty weighting),
- `FixedWeighting` (Table 2 ablations such as first 1.5 / mid 1 / final 0.5),
- `UniformWeighting` (plain sum L_init + L_exp + L_agg),
- `VanillaWeighting` (Vanilla-KD: the final-step loss alone).

The dict only holds the kinds present in the current batch; a kind that is absent contributes
nothing (for difficulty-aware weighting neither its loss term nor its log-sigma term, so its
sigma receives no gradient from a batch that carries no evidence about it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from steper.distill.kinds import KINDS
from steper.distill.train_settings import LOSSES
IGNORE_INDEX = -100


def per_kind_losses(
    logits: torch.Tensor, labels: torch.Tensor, kind_ids: torch.Tensor, kinds: Sequence[str] = KINDS
) -> dict[str, torch.Tensor]:
    """Token-level mean cross-entropy of each kind present in the batch.

    `logits[b, t]` must already be aligned with `labels[b, t]` (the caller shifts for next-token
    prediction); labels equal to -100 (prompt and padding) carry no loss. The mean is over all
    completion tokens of a kind, not a mean of per-example means: that is the token-level CE the
    paper describes, it is what a kind's loss would be if the kind were trained alone with the usual
    HF/TRL reduction, and it does not up-weight the tokens of short completions.
    """
    vocab = logits.size(-1)
    token_loss = F.cross_entropy(
        logits.reshape(-1, vocab).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(labels.shape)
    mask = labels != IGNORE_INDEX
    losses: dict[str, torch.Tensor] = {}
    for index, kind in enumerate(kinds):
        kind_mask = mask & (kind_ids == index).unsqueeze(-1)
        count = kind_mask.sum()
        if count.item() > 0:
            losses[kind] = (token_loss * kind_mask).sum() / count
    return losses


class KindWeighting(nn.Module):
    """Combines the per-kind losses of one batch into the scalar that is back-propagated."""

    def __init__(self, kinds: Sequence[str] = KINDS):
        super().__init__()
        self.kinds = tuple(kinds)

    def _check(self, losses: Mapping[str, torch.Tensor]) -> None:
        if not losses:
            raise ValueError("no kind has a loss in this batch")
        unknown = set(losses) - set(self.kinds)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; expected a subset of {self.kinds}")

    def effective_weights(self) -> dict[str, float]:
        """The multiplier each kind's loss currently gets in the total."""
        raise NotImplementedError

    def sigmas(self) -> dict[str, float] | None:
        """Learned sigma per kind, or None for weightings that learn nothing."""
        return None


class FixedWeighting(KindWeighting):
    """Σ_j w_j · L_j with constant weights; a kind without a weight gets weight 0."""

    def __init__(self, weights: Mapping[str, float], kinds: Sequence[str] = KINDS):
        super().__init__(kinds)
        unknown = set(weights) - set(self.kinds)
        if unknown:
            raise ValueError(f"weights for unknown kinds {sorted(unknown)}; expected a subset of {self.kinds}")
        self.weights = {kind: float(weights.get(kind, 0.0)) for kind in self.kinds}

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self._check(losses)
        return sum(self.weights[kind] * loss for kind, loss in losses.items())

    def effective_weights(self) -> dict[str, float]:
        return dict(self.weights)


class UniformWeighting(FixedWeighting):
    """L_init + L_exp + L_agg: the multi-task loss without difficulty awareness."""

    def __init__(self, kinds: Sequence[str] = KINDS):
        super().__init__({kind: 1.0 for kind in kinds}, kinds)


class VanillaWeighting(FixedWeighting):
    """Vanilla-KD: only the final-step loss; other kinds are a data error, not something to ignore."""

    def __init__(self, kinds: Sequence[str] = KINDS):
        super().__init__({"final": 1.0}, kinds)

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        extra = set(losses) - {"final"}
        if extra:
            raise ValueError(f"vanilla KD trains on final-step examples only, got {sorted(extra)}")
        return super().forward(losses)


class DifficultyAwareWeighting(KindWeighting):
    """Σ_j 1/(2σ_j²)·L_j + log σ_j, parameterised by s_j = log σ_j² as Σ_j 0.5·e^(-s_j)·L_j + 0.5·s_j.

    Learning log σ² instead of σ keeps the weight positive and the optimisation unconstrained;
    s_j = 0 (σ = 1, weight 0.5) at the start.
    """

    def __init__(self, kinds: Sequence[str] = KINDS, init_log_var: float = 0.0):
        super().__init__(kinds)
        self.log_var = nn.Parameter(torch.full((len(self.kinds),), float(init_log_var)))

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self._check(losses)
        total = self.log_var.new_zeros(())
        for kind, loss in losses.items():
            s = self.log_var[self.kinds.index(kind)]
            total = total + 0.5 * torch.exp(-s) * loss + 0.5 * s
        return total

    def sigmas(self) -> dict[str, float]:
        values = torch.exp(0.5 * self.log_var.detach().float()).tolist()
        return dict(zip(self.kinds, values))

    def effective_weights(self) -> dict[str, float]:
        values = (0.5 * torch.exp(-self.log_var.detach().float())).tolist()
        return dict(zip(self.kinds, values))


def make_weighting(loss: str, weights: Mapping[str, float] | None = None, kinds: Sequence[str] = KINDS) -> KindWeighting:
    """The weighting module of a method name from the settings (`method.loss`)."""
    if loss == "difficulty_aware":
        return DifficultyAwareWeighting(kinds)
    if loss == "uniform":
        return UniformWeighting(kinds)
    if loss == "vanilla":
        return VanillaWeighting(kinds)
    if loss == "fixed":
        if not weights:
            raise ValueError("loss 'fixed' needs weights, e.g. {'first': 1.5, 'mid': 1, 'final': 0.5}")
        return FixedWeighting(weights, kinds)
    raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
