"""Fixtures of the samples tests."""

from tests.devices.conftest import contenders  # noqa: F401 - the shared pool of racing threads
