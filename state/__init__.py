"""State layer: graph state schema, checkpointers, audit trail and the error hierarchy."""
