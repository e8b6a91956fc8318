"""A simulated SiLA 2 server, built with the sila2 package from the feature files in the repo.

``python manage.py run_sila_simulator --kind incubator --port PORT`` runs it; tests start
``SilaSimulator`` in-process on a free port. Responses and latencies come from the same code as
the mock adapter and the HTTP simulator (``devices.adapters.responses``): each command has a
response template and a mock latency, rendered with the command's parameters. An observable
command runs for its ``Duration`` parameter (if it has one) or its mock latency, times the
latency scale, reporting progress and remaining time as it goes.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sila2.framework import DefinedExecutionError, UndefinedExecutionError
from sila2.framework.feature import Feature
from sila2.server import FeatureImplementationBase, SilaServer
from sila2.server.encryption import generate_self_signed_certificate

from devices.adapters.responses import canned_response, simulated_latency
from devices.sila.definitions import shipped_feature

HOST = "127.0.0.1"  # a simulator is a local reference: it never listens on other interfaces
PROGRESS_STEP_SECONDS = 0.05


@dataclass(frozen=True)
class Behaviour:
    """What a simulated command answers and how long it takes (the mock's ActionType fields)."""

    mock_response: dict
    mock_latency_seconds: float = 0.5
    mock_latency_jitter: float = 0.1
    device_kind: str = ""
    parameter_schema: dict = field(default_factory=dict)
    duration_parameter: str = ""  # an observable command lasting this parameter's seconds


# Per kind: the features served and, per command or property, its canned behaviour.
KINDS = {
    "incubator": {
        "features": ("TemperatureController", "IncubationControl"),
        "behaviours": {
            "SetTargetTemperature": Behaviour(
                {"TargetTemperature": "{TargetTemperature}", "Stable": True}, 1.0, device_kind="incubator"
            ),
            "CurrentTemperature": Behaviour({"CurrentTemperature": "{current_temperature}"}, 0.05),
            "Incubate": Behaviour(
                {"Completed": True, "IncubatedSeconds": "{Duration}"},
                2.0,
                device_kind="incubator",
                duration_parameter="Duration",
            ),
        },
    },
    "microscope": {
        "features": ("ImagingControl",),
        "behaviours": {
            "AcquireImages": Behaviour({"Images": 96, "Channels": "{Channels}"}, 1.0, device_kind="microscope"),
            "ObjectiveMagnification": Behaviour({"ObjectiveMagnification": "{magnification}"}, 0.05),
        },
    },
}


@dataclass
class SimulatorState:
    """Fault switches and counters a test (or the operator) may set while the server runs."""

    latency_scale: float = 1.0
    fail: set = field(default_factory=set)  # command identifiers answering an undefined execution error
    door_open: bool = False  # SetTargetTemperature answers the defined execution error DoorOpen
    target_temperature: float = 37.0
    magnification: int = 10
    executed: dict = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def count(self, identifier: str) -> None:
        self.executed[identifier] = self.executed.get(identifier, 0) + 1


class SimulatedFeature(FeatureImplementationBase):
    """Implements every command and property of one feature from its canned behaviours."""

    def __init__(
        self, parent_server, *, feature, sila_feature, behaviours: dict, state: SimulatorState, device_id: str
    ):
        super().__init__(parent_server)
        self.state, self.behaviours, self.device_id = state, behaviours, device_id
        self.errors = sila_feature.defined_execution_errors
        for call in feature.commands.values():
            names = [parameter.identifier for parameter in call.parameters]
            responses = [response.identifier for response in call.responses]
            if call.observable:
                setattr(self, call.identifier, self._observable(call.identifier, names, responses))
            else:
                setattr(self, call.identifier, self._unobservable(call.identifier, names, responses))
        for call in feature.properties.values():
            setattr(self, f"get_{call.identifier}", self._property(call.identifier))

    def stop(self) -> None:
        self.state.stopping.set()  # running observable commands end at once
        super().stop()

    # -- behaviours ------------------------------------------------------------------------------

    def _answer(self, identifier: str, parameters: dict, responses: list[str]):
        behaviour = self.behaviours[identifier]
        facts = {"current_temperature": self.state.target_temperature, "magnification": self.state.magnification}
        rendered = canned_response(behaviour, device_id=self.device_id, parameters={**facts, **parameters})
        values = {name: rendered.get(name) for name in responses}
        # One response goes back as the bare value; several as a mapping by identifier.
        return values[responses[0]] if len(responses) == 1 else values

    def _check_faults(self, identifier: str) -> None:
        if identifier in self.state.fail:
            raise UndefinedExecutionError(f"simulated device fault during {identifier}")
        if identifier == "SetTargetTemperature" and self.state.door_open:
            raise DefinedExecutionError(self.errors["DoorOpen"], "the incubator door is open")

    def _unobservable(self, identifier: str, names: list[str], responses: list[str]):
        def command(*params, metadata):
            parameters = dict(zip(names, params, strict=True))
            self._check_faults(identifier)
            latency = simulated_latency(self.behaviours[identifier], self.state.latency_scale)
            if self.state.stopping.wait(latency):
                raise UndefinedExecutionError(f"the server stopped during {identifier}")
            if identifier == "SetTargetTemperature":
                self.state.target_temperature = parameters["TargetTemperature"]
            self.state.count(identifier)
            return self._answer(identifier, parameters, responses)

        return command

    def _observable(self, identifier: str, names: list[str], responses: list[str]):
        def command(*params, metadata, instance):
            parameters = dict(zip(names, params, strict=True))
            behaviour = self.behaviours[identifier]
            self._check_faults(identifier)
            if behaviour.duration_parameter:
                duration = float(parameters[behaviour.duration_parameter]) * self.state.latency_scale
            else:
                duration = simulated_latency(behaviour, self.state.latency_scale)
            instance.begin_execution()
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < duration:
                instance.progress = min(1.0, elapsed / duration)
                instance.estimated_remaining_time = timedelta(seconds=max(0.0, duration - elapsed))
                if self.state.stopping.wait(min(PROGRESS_STEP_SECONDS, duration - elapsed)):
                    raise UndefinedExecutionError(f"the server stopped during {identifier}")
            instance.progress = 1.0
            instance.estimated_remaining_time = timedelta(0)
            self.state.count(identifier)
            return self._answer(identifier, parameters, responses)

        return command

    def _property(self, identifier: str):
        def read(*, metadata):
            self.state.count(identifier)
            return self._answer(identifier, {}, [identifier])

        return read


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class SilaSimulator:
    """A SiLA 2 server of one kind on 127.0.0.1.

    ``insecure=True`` serves plain gRPC; otherwise TLS with ``private_key``/``cert_chain`` (PEM)
    or, without them, a self-signed certificate generated at start-up (``ca_certificate`` holds
    it, for the client's ``ca_cert``). Discovery (mDNS) is off: the address is given.
    """

    def __init__(
        self,
        kind: str,
        *,
        port: int = 0,
        insecure: bool = False,
        latency_scale: float = 1.0,
        private_key: bytes | None = None,
        cert_chain: bytes | None = None,
        server_name: str = "",
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown simulator kind {kind!r}: one of {', '.join(sorted(KINDS))}")
        self.kind, self.insecure = kind, insecure
        self.port = port or free_port()
        self.state = SimulatorState(latency_scale=latency_scale)
        self.server_uuid = uuid.uuid4()
        self.server = SilaServer(
            server_name=server_name or f"LabCore simulated {kind}",
            server_type=f"LabCoreSimulated{kind.title()}",
            server_description=f"A simulated {kind} shipped with LabCore",
            server_version="1.0",
            server_vendor_url="https://github.com/labcore/labcore",
            server_uuid=self.server_uuid,
        )
        for identifier in KINDS[kind]["features"]:
            definition = shipped_feature(identifier)
            sila_feature = Feature(definition.xml)
            implementation = SimulatedFeature(
                self.server,
                feature=definition,
                sila_feature=sila_feature,
                behaviours=KINDS[kind]["behaviours"],
                state=self.state,
                device_id=f"sila-{kind}",
            )
            self.server.set_feature_implementation(sila_feature, implementation)
        self.private_key, self.ca_certificate = private_key, cert_chain
        if not insecure and (private_key is None or cert_chain is None):
            self.private_key, self.ca_certificate = generate_self_signed_certificate(self.server_uuid, HOST)
        self.running = False

    def start(self) -> SilaSimulator:
        if self.insecure:
            self.server.start_insecure(HOST, self.port, enable_discovery=False)
        else:
            self.server.start(
                HOST,
                self.port,
                private_key=self.private_key,
                cert_chain=self.ca_certificate,
                enable_discovery=False,
            )
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.server.stop(grace_period=0.5)

    def __enter__(self) -> SilaSimulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
