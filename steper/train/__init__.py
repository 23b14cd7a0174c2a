"""The `train` stage: a student fine-tuned on step-wise examples (StepER or a baseline loss).

settings: what `steper train run` accepts, free of torch; losses: per-kind CE and kind weightings;
batching: tokenisation, kind-mixing sampler, collation; steps: optimizer steps as the Trainer counts
them (budget matching); checkpoints, launch, trainer (+ cli).
"""
