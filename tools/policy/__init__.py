"""Policy as code: the policy corpus, rules, the deterministic evaluator and the gated actions."""
