"""The HTTP side of the device simulator: routes the contract in docs/adapters.md to its state.

Paths are taken relative to an optional prefix, so one process can stand for many devices:
``/actions`` and ``/incubator-1/actions`` both reach it, the prefix being counted as the device
id. ``/_simulator`` reads (GET) or changes (POST) the fault switches and counters.
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from devices.simulator.state import Reply, SimulatorState

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"  # a simulator is a local reference: it never listens on other interfaces
CONTROL_PATH = "_simulator"
MAX_BODY_BYTES = 1_000_000


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a requests Session expects
    server_version = "LabCoreDeviceSimulator/1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    @property
    def state(self) -> SimulatorState:
        return self.server.state

    def do_GET(self):
        parts = self._parts()
        if parts == [CONTROL_PATH]:
            return self._send(Reply(200, self.state.stats()))
        if parts and parts[-1] == "health":
            return self._send(self.state.health())
        if len(parts) >= 2 and parts[-2] == "operations":
            return self._send(self.state.operation(parts[-1]))
        return self._send(Reply(404, {"status": "failed", "message": f"no such path {self.path!r}"}))

    def do_POST(self):
        parts = self._parts()
        body = self._json_body()
        if body is None:
            return self._send(Reply(400, {"status": "failed", "message": "the body must be a JSON object"}))
        if parts == [CONTROL_PATH]:
            try:
                return self._send(Reply(200, self.state.configure(body)))
            except (TypeError, ValueError) as exc:
                return self._send(Reply(400, {"status": "failed", "message": f"bad switch: {exc}"}))
        if parts and parts[-1] == "actions":
            return self._send(self.state.run_action(body, device="/".join(parts[:-1])))
        return self._send(Reply(404, {"status": "failed", "message": f"no such path {self.path!r}"}))

    # -- plumbing --------------------------------------------------------------------------------

    def _parts(self) -> list[str]:
        return [unquote(part) for part in urlsplit(self.path).path.split("/") if part]

    def _json_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _send(self, reply: Reply) -> None:
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status, HTTPStatus(reply.status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout, for a hanging action): nothing left to tell it.
            self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002 - the name BaseHTTPRequestHandler uses
        logger.debug("%s %s", self.address_string(), format % args)


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: SimulatorState):
        self.state = state
        super().__init__((HOST, port), SimulatorRequestHandler)


class DeviceSimulator:
    """A simulator on 127.0.0.1: ``start()`` serves in a thread (port 0 picks a free one).

    ``with DeviceSimulator(action_types) as simulator: simulator.url`` is all a test needs.
    """

    def __init__(self, action_types, *, port: int = 0, **options):
        self.state = SimulatorState({action_type.name: action_type for action_type in action_types}, **options)
        self.server = SimulatorHTTPServer(port, self.state)
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.1)

    def start(self) -> DeviceSimulator:
        self._thread = threading.Thread(target=self.serve_forever, name=f"device-simulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()  # wakes hanging and sleeping handlers
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DeviceSimulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
