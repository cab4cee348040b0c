"""The embedded local LLM: cached GGUF weights, decoding engine, JSON-constrained decoding."""
