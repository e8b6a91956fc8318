import pytest

from tests.faults.servers import PrivateRedis


@pytest.fixture
def private_redis():
    """A Redis server of this test's own (started now, removed after)."""
    server = PrivateRedis().start()
    yield server
    server.remove()
