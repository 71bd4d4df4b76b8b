"""Leader election: one Lease, renewed by the leader, taken over when it lapses."""
