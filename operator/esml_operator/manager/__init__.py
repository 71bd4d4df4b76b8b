"""kopf wiring: fetch, decide, apply, report."""
