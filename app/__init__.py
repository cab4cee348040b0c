"""Composition root: settings, model providers, CLI and servers; the only place that wires parts."""
