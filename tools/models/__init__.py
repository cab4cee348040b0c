"""Local PyTorch models: the per-process registry and the models it loads."""
