"""A faithful Elasticsearch ML trained-model deployment simulator (a real HTTP server).

Python API::

    from esml_operator.simulator import Simulator

    async with Simulator(port=0, fake_clock=True, allocation_delay=0, models=["my-model"]) as sim:
        sim.url          # http://127.0.0.1:<port>
        sim.control      # faults, node failures, out-of-band changes, request log, clock
"""

from .admin import AdminError, Control
from .clock import Clock, FakeClock, SystemClock
from .config import SimulatorConfig
from .errors import EsError
from .server import Simulator
from .versions import DEFAULT_VERSION, EsVersion

__all__ = [
    "DEFAULT_VERSION",
    "AdminError",
    "Clock",
    "Control",
    "EsError",
    "EsVersion",
    "FakeClock",
    "Simulator",
    "SimulatorConfig",
    "SystemClock",
]
