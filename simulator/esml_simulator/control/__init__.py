"""The test control API: :class:`~esml_simulator.control.control.Control` and its HTTP form under ``/_sim/``."""
