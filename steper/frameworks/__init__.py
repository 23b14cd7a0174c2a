"""Multi-step RAG frameworks (IRCoT, Self-Ask) and single-step baselines, with their prompts.

Heavy modules (the runner opens models and indexes) are imported by the callers, not here.
"""
