"""The locking module refuses to lock outside a transaction and turns lock timeouts into 409."""

import threading

import pytest
from django.db import connection, transaction

from devices.models import Device
from labcore.exceptions import ConflictError
from labcore.locking import LockOutsideTransaction, advisory_lock, lock_row, lock_rows
from tests.factories import DeviceFactory


@pytest.mark.django_db(transaction=True)
def test_locking_outside_a_transaction_is_refused():
    DeviceFactory()
    with pytest.raises(LockOutsideTransaction):
        lock_rows(Device.objects.all())


@pytest.mark.django_db(transaction=True)
def test_a_lock_held_elsewhere_times_out_as_a_conflict():
    device = DeviceFactory()
    holder_has_lock, release_holder = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                lock_row(Device.objects.filter(pk=device.pk))
                holder_has_lock.set()
                release_holder.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holder_has_lock.wait(10)
    try:
        with pytest.raises(ConflictError, match="busy"), transaction.atomic():
            lock_row(Device.objects.filter(pk=device.pk), what=f"device {device.pk}", timeout_ms=200)
    finally:
        release_holder.set()
        holder.join()


@pytest.mark.django_db(transaction=True)
def test_advisory_lock_serialises_two_transactions():
    order = []
    first_in, release_first = threading.Event(), threading.Event()

    def first():
        try:
            with transaction.atomic():
                advisory_lock("test-chain")
                first_in.set()
                release_first.wait(10)
                order.append("first")
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    releaser = threading.Timer(0.3, release_first.set)
    releaser.start()
    with transaction.atomic():
        advisory_lock("test-chain")
        order.append("second")
    thread.join()
    assert order == ["first", "second"]
