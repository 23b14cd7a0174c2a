"""The StepER objective, its minibatch estimate, and the ways of weighting the kinds.

The paper's objective over n kept traces (trace i has S_i steps) is

    L = 1/(3n) Σ_i [ ℓ_first_i + Σ_{1<s<S_i} ℓ_mid_{i,s} + ℓ_final_i ] = L_first + L_mid + L_final,
    L_j = 1/(3n) Σ_{e of kind j} ℓ_e,

so the mid-step terms are summed per trace (a trace with three mid steps contributes three
terms), not averaged into one. ℓ_e, the loss of one example, is the mean token cross-entropy
over its completion tokens (prompt masked; the EOS closing the completion counts). The 3 is the
number of kinds in the bracket: a method trained on K kinds uses 1/(K·n), so Vanilla-KD (final
steps only, K = 1) minimises the plain mean of ℓ_final over its examples.

Minibatch estimate. With E examples of the trained kinds from n kept traces, and a batch of B of
them, the trainer back-propagates

    L_j(batch) = E/(K·n) · (1/B) Σ_{e in batch, kind j} ℓ_e            (0 if kind j is absent),

an unbiased estimate of L_j when the batch is a uniform sample of the examples, and exact summed
over an epoch that visits every example once in batches of B (the factor E/B is the number of
batches). Gradient accumulation averages these estimates, data parallelism averages them over ranks.

Each method is one `KindWeighting` applied to the dict `kind -> L_j(batch)`:

- `DifficultyAwareWeighting` (StepER): Σ_j 1/(2σ_j²)·L_j + log σ_j (Kendall et al. 2018),
  parameterised by s_j = log σ_j². Every trained kind's log σ_j term is in every batch (it does
  not depend on the data), so the sum stays an unbiased estimate of the full objective, and so
  does its gradient in s_j, 0.5 − 0.5·e^(−s_j)·L_j(batch), whatever kinds a batch holds: a batch
  without kind j lowers s_j (gradient 0.5), the batches with it raise s_j in proportion to their
  larger L_j(batch), and over an epoch the two balance exactly where σ_j² = L_j. Leaving an absent
  kind's terms out instead would give the expectation P(j in batch)·0.5 − 0.5·e^(−s_j)·L_j, whose
  zero σ_j² = L_j / P(j in batch) is too large for a kind that is rare in batches,
- `FixedWeighting` (Table 2 ablations such as first 1.5 / mid 1 / final 0.5),
- `UniformWeighting` (plain sum L_first + L_mid + L_final),
- `VanillaWeighting` (Vanilla-KD: the final-step loss alone).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from steper.stepwise.kinds import KINDS
from steper.train.settings import LOSSES

IGNORE_INDEX = -100


@dataclass(frozen=True)
class ObjectiveScale:
    """E/(K·n): turns a batch's mean per-example loss of one kind into that kind's L_j estimate."""

    n_examples: int  # E: examples of the trained kinds
    n_traces: int  # n: kept traces they come from
    n_kinds: int  # K: kinds trained

    def __post_init__(self) -> None:
        if min(self.n_examples, self.n_traces, self.n_kinds) < 1:
            raise ValueError(f"the objective needs examples, traces and kinds, got {self}")

    @property
    def factor(self) -> float:
        return self.n_examples / (self.n_kinds * self.n_traces)


def token_losses(hidden: torch.Tensor, head: nn.Module, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each completion token from its hidden state: [N, hidden] x [N] -> [N].

    Only the N completion positions go through the LM head, never the prompt's: with a tied
    576 x 49,152 head (SmolLM2) the head costs about as much per token as eight layers.
    """
    logits = head(hidden)
    return F.cross_entropy(logits.float(), targets, reduction="none")


def example_losses(token_loss: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """ℓ_e of each batch row: the mean of its completion tokens' losses (`rows[t]` = row of token t)."""
    sums = token_loss.new_zeros(n_rows).index_add(0, rows, token_loss)
    counts = torch.bincount(rows, minlength=n_rows)
    if bool((counts == 0).any()):
        raise ValueError("an example has no completion token")
    return sums / counts.to(sums.dtype)


def kind_terms(losses: torch.Tensor, kind_ids: torch.Tensor, kinds: Sequence[str], scale: ObjectiveScale) -> dict[str, torch.Tensor]:
    """L_j(batch) = E/(K·n) · (1/B) Σ_{e in batch, kind j} ℓ_e for every trained kind j (0 when absent)."""
    batch = losses.size(0)
    return {kind: scale.factor * (losses * (kind_ids == index)).sum() / batch for index, kind in enumerate(kinds)}


def kind_means(losses: torch.Tensor, kind_ids: torch.Tensor, kinds: Sequence[str]) -> dict[str, float]:
    """Mean ℓ_e per kind present in the batch: comparable across kinds and runs, for the training log."""
    return {kind: float(losses[kind_ids == index].mean()) for index, kind in enumerate(kinds) if bool((kind_ids == index).any())}


class KindWeighting(nn.Module):
    """Combines the per-kind terms L_j of one batch into the scalar that is back-propagated."""

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
    every s_j starts at 2·log(sigma_init) (σ = 1, weight 0.5 by default). The sum runs over every
    kind handed in: the trainer hands in every trained kind, with L_j = 0 for a kind absent from
    the batch (see the module docstring for why that keeps the σ gradient unbiased).
    """

    def __init__(self, kinds: Sequence[str] = KINDS, sigma_init: float = 1.0):
        super().__init__(kinds)
        if not sigma_init > 0:
            raise ValueError(f"sigma_init must be positive, got {sigma_init}")
        self.log_var = nn.Parameter(torch.full((len(self.kinds),), 2.0 * math.log(sigma_init)))

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


def make_weighting(
    loss: str, weights: Mapping[str, float] | None = None, kinds: Sequence[str] = KINDS, sigma_init: float = 1.0
) -> KindWeighting:
    """The weighting module of a method name from the settings (`method.loss`)."""
    if loss == "difficulty_aware":
        return DifficultyAwareWeighting(kinds, sigma_init)
    if loss == "uniform":
        return UniformWeighting(kinds)
    if loss == "vanilla":
        return VanillaWeighting(kinds)
    if loss == "fixed":
        if not weights:
            raise ValueError("loss 'fixed' needs weights, e.g. {'first': 1.5, 'mid': 1, 'final': 0.5}")
        return FixedWeighting(weights, kinds)
    raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
