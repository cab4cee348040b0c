"""Guardrails for every model call: input and output guards built on guardrails-ai validators."""
