"""The fine-tuned teacher (model source `finetune`, the demo's): gold IRCoT and Self-Ask traces of a
toy world apart from the questions', which the training stage's `steper train run` teaches a base
model to write (workflow/rules/finetune.smk)."""
