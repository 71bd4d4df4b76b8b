"""What the controller reports about its passes, for the metrics.

The controller defines this protocol and never imports the metrics;
:class:`esml_operator.metrics.prometheus.Metrics` implements it, and the
manager hands it to the :class:`~.runtime.Runtime` and the
:class:`~.reconciler.Reconciler` it builds.
"""

from __future__ import annotations

from typing import Protocol


class PassRecorder(Protocol):
    def observe_pass(self, outcome: str, seconds: float) -> None:
        """One pass ended with ``outcome`` after ``seconds``."""

    def observe_reaction(self, seconds: float) -> None:
        """The first pass that read a watch event needing action ended ``seconds`` after the event."""


class NoRecorder:
    """Records nothing (tests, and objects built without metrics)."""

    def observe_pass(self, outcome: str, seconds: float) -> None:
        pass

    def observe_reaction(self, seconds: float) -> None:
        pass
