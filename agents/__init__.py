"""Agents: the supervisor router and one module per specialist (prompt, tools, subgraph)."""
