"""steper: reproduction package of StepER (EMNLP 2025, arXiv 2510.07923)."""

__version__ = "0.1.0"
