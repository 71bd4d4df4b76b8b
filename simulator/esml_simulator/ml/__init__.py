"""The simulated ML tier, independent of HTTP: nodes, models, deployments, planning, capacity, load."""
