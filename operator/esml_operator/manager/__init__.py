"""The process: kopf registration, settings, wiring, logging and start-up checks."""
