"""Base models: loading, derivation (GGUF conversion, layer pruning, tiny random models, hub download)
and text generation behind one backend interface.

Heavy libraries (torch, transformers) are imported by the submodules, not here, so importing
`steper.models` for a dataclass stays cheap.
"""
