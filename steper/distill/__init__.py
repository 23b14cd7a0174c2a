"""Step-wise distillation: dataset builder, losses, student training.

stepwise (+ stepwise_cli): traces -> step-wise examples and statistics; kinds: first/mid/final and
variants; losses: per-kind CE and kind weightings; batching: tokenisation, kind-mixing sampler,
collation; train_settings, launch, trainer (+ cli): `steper train run`.
Submodules are imported explicitly so that building step-wise datasets never pays for the
training stack.
"""
