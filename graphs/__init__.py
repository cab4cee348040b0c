"""Graph assembly: the supervisor graph and its guard, routing and specialist nodes."""
