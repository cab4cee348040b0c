"""Supervisor routing tools: the embedding intent classifier, its exemplars and safety layer."""
