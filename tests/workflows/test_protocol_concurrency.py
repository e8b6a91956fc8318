"""Versioning under real concurrency: two editors asking for a new version at once get one draft."""

import threading

import pytest
from django.db import connection

from labcore.exceptions import ConflictError
from tests.workflows.factories import protocol_make, registry_make
from workflows.choices import ProtocolStatus
from workflows.models import Protocol
from workflows.services.protocols import protocol_new_version, protocol_publish


def race(function, count=2):
    """Run ``function`` in ``count`` threads released together; returns their outcomes."""
    barrier = threading.Barrier(count)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(function())
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_new_versions_make_one_draft(attempt):
    registry_make()
    published = protocol_make(2, published=True)
    outcomes = race(lambda: protocol_new_version(protocol=Protocol.objects.get(pk=published.pk)))
    drafts = [o for o in outcomes if isinstance(o, Protocol)]
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(drafts) == 1 and len(conflicts) == 1, outcomes
    assert Protocol.objects.filter(status=ProtocolStatus.DRAFT).count() == 1


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_publishes_publish_once(attempt):
    registry_make()
    draft = protocol_make(2)
    outcomes = race(lambda: protocol_publish(protocol=Protocol.objects.get(pk=draft.pk)))
    assert sum(isinstance(o, Protocol) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, ConflictError) for o in outcomes) == 1, outcomes
