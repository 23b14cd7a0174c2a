"""The three kinds of step-wise examples and the dataset variants built from them.

A trace of S steps gives one example per step: step 1 initialises the reasoning ("first"),
steps 1 < s < S expand it ("mid"), step S aggregates it into the answer ("final"). A one-step
trace has no first or mid step to learn from separately: its only step is the answer, so it is
a "final" example. A two-step trace gives "first" and "final".
"""

from __future__ import annotations

KINDS: tuple[str, ...] = ("first", "mid", "final")

VARIANTS: dict[str, tuple[str, ...]] = {
    "final": ("final",),
    "first-final": ("first", "final"),
    "first-mid-final": ("first", "mid", "final"),
}


def kind_of(position: int, n_steps: int) -> str:
    """Kind of the step at 1-based `position` in a trace of `n_steps` steps."""
    if not 1 <= position <= n_steps:
        raise ValueError(f"step position {position} outside 1..{n_steps}")
    if position == n_steps:
        return "final"
    return "first" if position == 1 else "mid"
