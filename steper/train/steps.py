"""How many optimizer steps a training takes, computed the way the HF Trainer computes it.

A budget-matched control (`methods.<name>.match_steps_of`) trains for the number of optimizer steps
another method takes on its own data, so that number has to be known before that method has run:
it follows from the example count alone. tests/test_match_steps.py checks it against the steps the
installed Trainer actually takes, so a transformers release that counts differently fails there.
"""

from __future__ import annotations

import math


def optimizer_steps(n_examples: int, batch_size: int, grad_accum: int, processes: int, epochs: float) -> int:
    """Optimizer steps of `epochs` passes over `n_examples` (per-device batch, accumulation, processes).

    The data loader yields ceil(n / batch) batches (the last one partial, never dropped); Accelerate
    gives each of `processes` ranks ceil(batches / processes) of them (even_batches pads the last
    round); an epoch's last accumulation group may be short but still steps; a fractional epoch
    count is rounded up to whole steps.
    """
    if min(n_examples, batch_size, grad_accum, processes) < 1 or not epochs > 0:
        raise ValueError(f"no training: {n_examples} examples, batch {batch_size}, accumulation {grad_accum}, {processes} processes, {epochs} epochs")
    batches = math.ceil(math.ceil(n_examples / batch_size) / processes)
    per_epoch = max(math.ceil(batches / grad_accum), 1)
    return math.ceil(epochs * per_epoch)
