"""A reference device service speaking the http adapter's JSON contract (docs/adapters.md).

``python manage.py run_device_simulator`` runs it; tests start ``DeviceSimulator`` in a thread.
"""

from devices.simulator.server import DeviceSimulator
from devices.simulator.state import SimulatorState, parse_switches

__all__ = ["DeviceSimulator", "SimulatorState", "parse_switches"]
