"""Step-wise distillation: dataset builder (stepwise), losses (losses), student training (trainer).

Submodules are imported explicitly so that building step-wise datasets never pays for torch.
"""
