"""Fixtures of the devices tests."""

import pytest

from tests.devices.concurrency import Contenders


@pytest.fixture
def contenders():
    """``contenders(n)`` gives a pool of n threads, closed with their connections after the test."""
    pools = []

    def make(size: int) -> Contenders:
        pools.append(Contenders(size))
        return pools[-1]

    yield make
    for pool in pools:
        pool.close()
