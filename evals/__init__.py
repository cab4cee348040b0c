"""Evaluation datasets, metrics and the eval suite."""
