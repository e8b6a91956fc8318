"""The sila2 adapter: drives a SiLA 2 server (gRPC) with the sila2 package.

Device config: ``{"host", "port", "insecure": bool, "ca_cert": path, "commands": {...}}``.

Which SiLA call an ActionType makes (docs/adapters.md, "SiLA 2"):

- ``config["commands"][action type name]``: ``"Feature/Command"`` (or ``"Feature/Property"``), or
  ``{"call": "Feature/Command", "parameters": {"json_name": "SiLAParameter"}}`` to rename
  parameters (how the demo's ``incubate`` reaches ``IncubationControl/Incubate``);
- otherwise the name ``sila.<Feature>.<Command>`` that ``sila_import`` gives the types it creates.

An unobservable command or a property answers at once (``success`` with its responses by
identifier); an observable command is a long operation: ``dispatch`` returns ``pending`` with the
operation id ``<deadline epoch>:<Feature>/<Command>/<command execution UUID>``, and ``poll`` asks
the server for the execution info (status, progress, remaining time, recorded in the response)
and, once finished, for the responses. Every SiLA error becomes an ``error`` result naming its
kind (validation, defined execution, undefined execution, framework, connection) and message.

TLS is the default: the server is verified against ``ca_cert`` (a PEM file), or against the
system's trust store without one; plain gRPC only when the device config says ``"insecure":
true``. A call is sent again only for a type that is safe to repeat, after a connection error.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from pathlib import Path
from uuid import UUID

import grpc
from sila2.client import SilaClient
from sila2.client.utils import rpcerror_to_silaerror
from sila2.framework import (
    DefinedExecutionError,
    FrameworkError,
    SilaConnectionError,
    UndefinedExecutionError,
    ValidationError,
)
from sila2.framework.command.execution_info import CommandExecutionStatus, ExecutionInfo

from devices.adapters.base import Adapter, AdapterError, DispatchResult, DispatchStatus
from devices.adapters.contract import FAILED, RUNNING, action_request
from devices.sila.definitions import (
    ACTION_NAME_PREFIX,
    UnsupportedSilaType,
    feature_definition,
    split_target,
    to_json,
    to_native,
)

CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_SECONDS = 0.2
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
MIN_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 60.0
DEFAULT_POLL_SECONDS = 1.0

# The kinds of SiLA error, as recorded in a result's response and extra.
VALIDATION = "validation"
DEFINED_EXECUTION = "defined_execution"
UNDEFINED_EXECUTION = "undefined_execution"
FRAMEWORK = "framework"
CONNECTION = "connection"


class _Failure(Exception):
    """One failed exchange, already shaped: status, reason, SiLA error kind, and whether to retry."""

    def __init__(self, status: DispatchStatus, reason: str, *, kind: str, transient: bool = False, detail=None):
        super().__init__(reason)
        self.status, self.reason, self.kind, self.transient = status, reason, kind, transient
        self.detail = detail or {}
        self.attempts = 1

    @property
    def response(self) -> dict:
        return {"status": FAILED, "sila_error": {"kind": self.kind, "message": self.reason, **self.detail}}


def _sila_failure(exc: BaseException, where: str) -> _Failure:
    """A SiLA error (or anything the sila2 package raised) as a failure naming its kind."""
    if isinstance(exc, ValidationError):
        parameter = str(exc.parameter_fully_qualified_identifier or "")
        return _Failure(
            DispatchStatus.ERROR,
            f"SiLA validation error from {where}: {exc.message}",
            kind=VALIDATION,
            detail={"parameter": parameter} if parameter else None,
        )
    if isinstance(exc, DefinedExecutionError):
        return _Failure(
            DispatchStatus.ERROR,
            f"SiLA defined execution error from {where}: {exc.fully_qualified_identifier}: {exc.message}",
            kind=DEFINED_EXECUTION,
            detail={"identifier": str(exc.fully_qualified_identifier)},
        )
    if isinstance(exc, UndefinedExecutionError):
        return _Failure(
            DispatchStatus.ERROR,
            f"SiLA undefined execution error from {where}: {exc.message}",
            kind=UNDEFINED_EXECUTION,
        )
    if isinstance(exc, FrameworkError):
        return _Failure(
            DispatchStatus.ERROR,
            f"SiLA framework error from {where}: {exc.error_type.name}: {exc.message}",
            kind=FRAMEWORK,
        )
    if isinstance(exc, SilaConnectionError):
        return _Failure(
            DispatchStatus.ERROR, f"SiLA connection error with {where}: {exc}", kind=CONNECTION, transient=True
        )
    return _Failure(DispatchStatus.ERROR, f"SiLA call to {where} failed: {exc}", kind=CONNECTION, transient=True)


class Sila2Adapter(Adapter):
    """Talks to the SiLA 2 server at ``config["host"]:config["port"]``."""

    name = "sila2"
    sleep = staticmethod(time.sleep)

    def __init__(self, device):
        super().__init__(device)
        config = device.config if isinstance(device.config, dict) else {}
        self.host = str(config.get("host") or "")
        self.port = config.get("port")
        self.insecure = config.get("insecure") is True  # only an explicit true turns TLS off
        self.ca_cert = str(config.get("ca_cert") or "")
        self.commands = config.get("commands") if isinstance(config.get("commands"), dict) else {}
        self.retries = int(config.get("retries", DEFAULT_RETRIES))
        self.backoff_seconds = float(config.get("backoff_seconds", DEFAULT_BACKOFF_SECONDS))
        self.request_timeout = float(config.get("request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT_SECONDS))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- connection --------------------------------------------------------------------------------

    def _client(self) -> SilaClient:
        """A connected client (kept per thread and server); a clear _Failure when there is none."""
        if not self.host or not isinstance(self.port, int):
            raise _Failure(
                DispatchStatus.ERROR,
                f"device {self.device.pk} has no SiLA server configured (config host and port)",
                kind=CONNECTION,
            )
        key = (self.host, self.port, self.insecure, self.ca_cert)
        cache = _clients.__dict__.setdefault("by_key", {})
        client = cache.get(key)
        if client is not None:
            return client
        root_certs = None
        if not self.insecure and self.ca_cert:
            try:
                root_certs = Path(self.ca_cert).read_bytes()
            except OSError as exc:
                raise _Failure(
                    DispatchStatus.ERROR,
                    f"cannot read the CA certificate {self.ca_cert} of device {self.device.pk}: {exc.strerror}",
                    kind=CONNECTION,
                ) from None
        # A quick TCP probe: a server that is down answers "refused" now, not after gRPC's backoff.
        try:
            socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_SECONDS).close()
        except OSError as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
            raise _Failure(
                DispatchStatus.ERROR,
                f"SiLA connection error: could not connect to {self.address}: {reason}",
                kind=CONNECTION,
                transient=True,
            ) from None
        try:
            if self.insecure:
                client = SilaClient(self.host, self.port, insecure=True)
            elif root_certs is not None:
                client = SilaClient(self.host, self.port, root_certs=root_certs)
            else:
                client = SilaClient(self.host, self.port)
        except Exception as exc:  # handshake, certificate or protocol mismatch: all are connection faults
            mode = "plain gRPC (insecure)" if self.insecure else f"TLS (CA {self.ca_cert or 'system trust store'})"
            raise _Failure(
                DispatchStatus.ERROR,
                f"SiLA connection error: could not talk to {self.address} over {mode}: {_first_line(exc)} "
                "(check the device config: insecure, ca_cert)",
                kind=CONNECTION,
                transient=True,
            ) from None
        cache[key] = client
        return client

    def _reachable(self) -> bool:
        """Whether the server accepts a connection now (a plain TCP connect, no SiLA call)."""
        try:
            socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_SECONDS).close()
        except OSError:
            return False
        return True

    def _forget_client(self) -> None:
        cache = _clients.__dict__.setdefault("by_key", {})
        client = cache.pop((self.host, self.port, self.insecure, self.ca_cert), None)
        if client is not None:
            client.close()

    def _call(self, rpc, message, *, timeout: float, origin, where: str, client):
        """One unary gRPC call with a deadline; SiLA errors and timeouts become _Failure."""
        try:
            return rpc(message, timeout=max(0.001, timeout))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise _Failure(
                    DispatchStatus.TIMEOUT, f"no answer from {where} within {timeout:g} s", kind=CONNECTION
                ) from None
            allowed = [error.fully_qualified_identifier for error in getattr(origin, "defined_execution_errors", ())]
            failure = _sila_failure(rpcerror_to_silaerror(exc, allowed, client), where)
        if failure.kind == CONNECTION:
            self._forget_client()
        raise failure

    # -- mapping an ActionType to a SiLA call ------------------------------------------------------

    def _mapping(self, action_type) -> tuple[str, str, dict]:
        """``(feature, identifier, {json name: SiLA parameter})`` for an ActionType."""
        entry = self.commands.get(action_type.name)
        renames = {}
        if isinstance(entry, dict):
            target, renames = entry.get("call"), entry.get("parameters") or {}
        elif isinstance(entry, str):
            target = entry
        elif action_type.name.startswith(ACTION_NAME_PREFIX):
            feature, _, identifier = action_type.name[len(ACTION_NAME_PREFIX) :].partition(".")
            target = f"{feature}/{identifier}" if feature and identifier else None
        else:
            target = None
        parts = split_target(target) if target else None
        if parts is None:
            raise _Failure(
                DispatchStatus.ERROR,
                f"no SiLA call for action type {action_type.name} on device {self.device.pk}: map it in "
                f'the device config ("commands": {{"{action_type.name}": "Feature/Command"}}) '
                "or import it with sila_import",
                kind=FRAMEWORK,
            )
        return parts[0], parts[1], renames

    def _resolve(self, client: SilaClient, action_type):
        feature_id, identifier, renames = self._mapping(action_type)
        feature = client._features.get(feature_id)
        where = f"{self.address} {feature_id}/{identifier}"
        if feature is None:
            raise _Failure(
                DispatchStatus.ERROR,
                f"the SiLA server at {self.address} does not implement the feature {feature_id}",
                kind=FRAMEWORK,
            )
        for collection in (
            feature._unobservable_commands,
            feature._observable_commands,
            feature._unobservable_properties,
            feature._observable_properties,
        ):
            if identifier in collection:
                return feature, collection[identifier], renames, where
        raise _Failure(
            DispatchStatus.ERROR,
            f"the SiLA feature {feature_id} at {self.address} has no command or property {identifier}",
            kind=FRAMEWORK,
        )

    def _parameters_message(self, feature, command, parameters: dict, renames: dict, where: str):
        """The command's parameter message from the validated JSON parameters."""
        names = {renames.get(name, name): name for name in parameters}
        expected = {parameter._identifier: parameter for parameter in command.parameters.fields}
        unknown = sorted(name for sila_name, name in names.items() if sila_name not in expected)
        missing = sorted(set(expected) - set(names))
        if unknown or missing:
            problems = [f"unknown parameter(s) {', '.join(unknown)}"] if unknown else []
            problems += [f"missing SiLA parameter(s) {', '.join(missing)}"] if missing else []
            raise _Failure(DispatchStatus.ERROR, f"cannot call {where}: {'; '.join(problems)}", kind=VALIDATION)
        definition = _definition(feature)
        call = definition.call(command._identifier)
        nodes = {element.identifier: element.data_type for element in call.parameters}
        try:
            values = {
                sila_name: to_native(parameters[name], nodes[sila_name], definition)
                for sila_name, name in names.items()
            }
            return command.parameters.to_message(**values), values
        except ValidationError as exc:  # the package checks constraints before sending
            raise _sila_failure(exc, where) from None
        except (UnsupportedSilaType, TypeError, ValueError) as exc:
            raise _Failure(
                DispatchStatus.ERROR, f"cannot convert the parameters for {where}: {exc}", kind=VALIDATION
            ) from None

    # -- the Adapter interface -------------------------------------------------------------------

    def dispatch(self, *, action_type, parameters, context) -> DispatchResult:
        request = action_request(action_type=action_type, parameters=parameters, context=context)
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._dispatch_once(action_type, parameters or {}, request, started, attempts)
            except _Failure as failure:
                failure.attempts = attempts
                # Sent again only when the type says so and the call failed to reach the server.
                if action_type.safe_to_repeat and failure.transient and attempts <= self.retries:
                    self.sleep(self.backoff_seconds * 2 ** (attempts - 1))
                    continue
                return _failed(request, failure, started)

    def _dispatch_once(self, action_type, parameters, request, started, attempts) -> DispatchResult:
        client = self._client()
        feature, node, renames, where = self._resolve(client, action_type)
        stub = feature._grpc_stub
        timeout = float(action_type.timeout_seconds)
        extra = {"sila_call": f"{feature._identifier}/{node._identifier}", "sila_attempts": attempts}
        if node._identifier in feature._unobservable_properties or node._identifier in feature._observable_properties:
            value = self._read_property(client, feature, node, timeout=min(timeout, self.request_timeout), where=where)
            return DispatchResult(
                status=DispatchStatus.SUCCESS,
                request=request,
                response={node._identifier: to_json(value)},
                latency_ms=(time.monotonic() - started) * 1000,
                extra=extra,
            )
        message, values = self._parameters_message(feature, node, parameters, renames, where)
        extra["sila_parameters"] = to_json(values)
        if node._identifier in feature._unobservable_commands:
            response = self._call(
                getattr(stub, node._identifier), message, timeout=timeout, origin=node, where=where, client=client
            )
            return DispatchResult(
                status=DispatchStatus.SUCCESS,
                request=request,
                response=_responses_json(node.responses.to_native_type(response)),
                latency_ms=(time.monotonic() - started) * 1000,
                extra=extra,
            )
        # Observable: the server confirms with a command execution UUID at once.
        confirmation = self._call(
            getattr(stub, node._identifier),
            message,
            timeout=min(timeout, self.request_timeout),
            origin=node,
            where=where,
            client=client,
        )
        execution_uuid = confirmation.commandExecutionUUID.value
        # Our id carries the deadline and the call, so any worker can poll with a fresh adapter.
        deadline = time.time() + timeout
        operation_id = f"{deadline:.3f}:{feature._identifier}/{node._identifier}/{execution_uuid}"
        return DispatchResult(
            status=DispatchStatus.PENDING,
            request=request,
            response={"status": RUNNING, "command_execution_uuid": execution_uuid},
            latency_ms=(time.monotonic() - started) * 1000,
            operation_id=operation_id,
            poll_after_seconds=MIN_POLL_SECONDS,
            extra=extra,
        )

    def _read_property(self, client, feature, prop, *, timeout: float, where: str):
        stub = feature._grpc_stub
        if prop._identifier in feature._unobservable_properties:
            answer = self._call(
                getattr(stub, f"Get_{prop._identifier}"),
                prop.get_parameters_message(),
                timeout=timeout,
                origin=prop,
                where=where,
                client=client,
            )
            return prop.to_native_type(answer)
        # Observable property: its first value is the current one.
        stream = getattr(stub, f"Subscribe_{prop._identifier}")(prop.get_parameters_message(), timeout=timeout)
        try:
            return prop.to_native_type(next(stream))
        except grpc.RpcError as exc:
            raise _sila_failure(rpcerror_to_silaerror(exc, [], client), where) from None
        finally:
            stream.cancel()

    def poll(self, *, action_type, operation_id: str, context) -> DispatchResult:
        started = time.monotonic()
        request = {"operation_id": operation_id}
        deadline_text, _, call = operation_id.partition(":")
        feature_id, _, rest = call.partition("/")
        identifier, _, execution_uuid = rest.partition("/")
        try:
            deadline = float(deadline_text)
            UUID(execution_uuid)
        except ValueError:
            return DispatchResult(
                status=DispatchStatus.ERROR, request=request, error=f"malformed operation id {operation_id!r}"
            )
        if time.time() >= deadline:
            reachable = self._reachable()
            return DispatchResult(
                status=DispatchStatus.TIMEOUT,
                request=request,
                operation_id=operation_id,
                error=f"{action_type.name} did not complete within {float(action_type.timeout_seconds):g} s"
                + ("" if reachable else f"; {self.address} does not answer"),
                # The server took the command and is gone: the executor records the outcome as unknown.
                extra={} if reachable else {"poll_failed": True},
            )
        where = f"{self.address} {feature_id}/{identifier}"
        extra = {"sila_call": f"{feature_id}/{identifier}", "command_execution_uuid": execution_uuid}
        try:
            client = self._client()
            feature = client._features.get(feature_id)
            command = feature._observable_commands.get(identifier) if feature is not None else None
            if command is None:
                raise _Failure(
                    DispatchStatus.ERROR,
                    f"the SiLA server at {self.address} has no observable command {feature_id}/{identifier}",
                    kind=FRAMEWORK,
                )
            info = self._execution_info(client, feature, command, execution_uuid, where)
            progress = {
                "command_execution_uuid": execution_uuid,
                "sila_status": info.status.name,
                "progress": info.progress,
                "estimated_remaining_seconds": (
                    info.estimated_remaining_time.total_seconds() if info.estimated_remaining_time is not None else None
                ),
            }
            if info.status in (CommandExecutionStatus.waiting, CommandExecutionStatus.running):
                remaining = progress["estimated_remaining_seconds"]
                poll_after = DEFAULT_POLL_SECONDS if remaining is None else remaining
                return DispatchResult(
                    status=DispatchStatus.PENDING,
                    request=request,
                    response={"status": RUNNING, **progress},
                    latency_ms=(time.monotonic() - started) * 1000,
                    operation_id=operation_id,
                    poll_after_seconds=min(
                        MAX_POLL_SECONDS, max(MIN_POLL_SECONDS, poll_after), max(0.0, deadline - time.time())
                    ),
                    extra=extra,
                )
            uuid_message = feature._pb2_module.SiLAFramework__pb2.CommandExecutionUUID(value=execution_uuid)
            # A finished-with-error command answers its SiLA error here.
            result = self._call(
                getattr(feature._grpc_stub, f"{identifier}_Result"),
                uuid_message,
                timeout=self.request_timeout,
                origin=command,
                where=where,
                client=client,
            )
        except _Failure as failure:
            if failure.transient:
                # The server may still be working (or come back): keep the operation, look again later.
                return DispatchResult(
                    status=DispatchStatus.PENDING,
                    request=request,
                    latency_ms=(time.monotonic() - started) * 1000,
                    operation_id=operation_id,
                    poll_after_seconds=min(max(DEFAULT_POLL_SECONDS, self.backoff_seconds), deadline - time.time()),
                    error=failure.reason,
                    extra={**extra, "poll_failed": True, "sila_error_kind": failure.kind},
                )
            result = _failed(request, failure, started)
            result.operation_id = operation_id
            result.extra.update(extra)
            return result
        response = _responses_json(command.responses.to_native_type(result))
        return DispatchResult(
            status=DispatchStatus.SUCCESS,
            request=request,
            response=response,
            latency_ms=(time.monotonic() - started) * 1000,
            operation_id=operation_id,
            extra={**extra, "progress": 1.0},
        )

    def _execution_info(self, client, feature, command, execution_uuid: str, where: str):
        """The command's current execution info: the first message of its info subscription."""
        pb2 = feature._pb2_module.SiLAFramework__pb2
        stream = getattr(feature._grpc_stub, f"{command._identifier}_Info")(
            pb2.CommandExecutionUUID(value=execution_uuid), timeout=self.request_timeout
        )
        try:
            return ExecutionInfo(pb2).to_native_type(next(stream))
        except grpc.RpcError as exc:
            failure = _sila_failure(rpcerror_to_silaerror(exc, [], client), where)
            if failure.kind == CONNECTION:
                self._forget_client()
            raise failure from None
        except StopIteration:
            raise _Failure(
                DispatchStatus.ERROR, f"{where} sent no execution info", kind=CONNECTION, transient=True
            ) from None
        finally:
            stream.cancel()

    def server_description(self) -> dict:
        """For onboarding: the server's name, type, UUID and feature definitions (FDL XML).

        Raises AdapterError with the connection or SiLA failure, as ``sila_import`` reports it.
        """
        try:
            client = self._client()
            service = client.SiLAService
            return {
                "name": service.ServerName.get(),
                "type": service.ServerType.get(),
                "uuid": service.ServerUUID.get(),
                "features": [
                    feature._feature_definition
                    for identifier, feature in client._features.items()
                    if identifier != "SiLAService"
                ],
            }
        except _Failure as failure:
            raise AdapterError(failure.reason) from None
        except Exception as exc:
            self._forget_client()
            raise AdapterError(f"SiLA connection error with {self.address}: {_first_line(exc)}") from None

    def health(self) -> dict:
        try:
            client = self._client()
            name = client.SiLAService.ServerName.get()
        except _Failure as failure:
            return {"ok": False, "detail": failure.reason}
        except Exception as exc:
            self._forget_client()
            return {"ok": False, "detail": f"SiLA connection error with {self.address}: {_first_line(exc)}"}
        return {"ok": True, "detail": f"SiLA server {name!r} at {self.address}"}


_clients = threading.local()


def _definition(feature):
    """The parsed feature definition of a client feature (for the parameter types)."""
    return _parsed(feature._feature_definition)


@functools.lru_cache(maxsize=64)
def _parsed(xml: str):
    return feature_definition(xml)


def _responses_json(responses) -> dict:
    converted = to_json(responses)
    return converted if isinstance(converted, dict) else {"value": converted}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _failed(request, failure: _Failure, started: float) -> DispatchResult:
    return DispatchResult(
        status=failure.status,
        request=request,
        response=failure.response,
        latency_ms=(time.monotonic() - started) * 1000,
        error=failure.reason,
        extra={"sila_error_kind": failure.kind, "sila_attempts": failure.attempts},
    )
