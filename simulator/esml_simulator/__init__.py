"""A faithful Elasticsearch ML trained-model deployment simulator (a real HTTP server).

Python API::

    from esml_simulator import Simulator

    async with Simulator(port=0, fake_clock=True, allocation_delay=0, models=["my-model"]) as sim:
        sim.url          # http://127.0.0.1:<port>
        sim.control      # faults, node failures, out-of-band changes, request log, clock
"""

from esml_simulator.clock import Clock, FakeClock, SystemClock
from esml_simulator.config import SimulatorConfig
from esml_simulator.control.control import AdminError, Control
from esml_simulator.errors import EsError
from esml_simulator.server import Simulator
from esml_simulator.versions import DEFAULT_VERSION, EsVersion

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
