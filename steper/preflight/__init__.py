"""`steper preflight run`: one GPU node's stack checked for real before the paper grid.

The paper tier is thousands of GPU-hours of vLLM teachers and DeepSpeed students; a wrong driver,
a vLLM that cannot shard, a ZeRO-3 launch that hangs or a resume that restarts from zero should
cost minutes, not a night of failed jobs. The preflight runs each of those pieces on tiny random
models it builds itself (no hub access), through the same code and commands the rules run, and
prints PASS, FAIL or SKIP (with the reason) per component.
"""
