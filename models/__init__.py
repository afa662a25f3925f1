"""Registered models: one file each, registered with `@MODELS.register(...)` from bench.modeling."""
